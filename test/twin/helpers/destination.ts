// Shared set-up and observations for the destination tests on the twin (destination.test.ts,
// destination-faults.test.ts, trigger.test.ts). Everything here reads what an operator could see
// in the destination account: instances and their tags, snapshots, the secret, executions and
// their history, the operations topic (through an SQS queue subscribed to it), the trigger's
// failure queue and the Lambda invocations and log lines.

import { type DBInstance, DescribeDBInstancesCommand, DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import contract from '../../../src/contracts/contract.json';
import { replicaNameCandidates, replicaPrefix } from '../../../src/contracts/names';
import type { DeployedStack, ExecutionRecord, Twin } from '../../../twin/src';
import { createDestinationNetwork, createSourceDatabase, seedSecret } from '../../../twin/src/fixtures';
import type { HistoryEvent } from '../../../twin/src/stepfunctions';

export const DATABASE = 'orders-db';
// The name the destination stack gives the secret it creates: `rds-replica/<stage>/<database>-`
// and the first part of the stack id, which in the twin is `twin` (twin/src/cfn.ts).
export const secretNameOf = (database: string, stage = 'dev') => `rds-replica/${stage}/${database}-twin`;
export const SECRET_NAME = secretNameOf(DATABASE);
export const DEPLOYMENT_ID = 'rds-replica-destination-dev';
export const TAG = contract.tagKeys;
export const ENDPOINT_KEYS: readonly string[] = contract.secret.endpointKeys;
export const DAY_MS = 24 * 3600 * 1000;
export const HOUR_MS = 3600 * 1000;

export interface Story {
  twin: Twin;
  source: DeployedStack;
  destination: DeployedStack;
  securityGroupId: string;
  subnetGroupName: string;
  /** The source account's replication topic the trigger is subscribed to. */
  sourceTopicArn: string;
  /** The source key every shared copy is encrypted with. */
  sourceKeyArn: string;
  operationsTopicArn: string;
  /** An SQS queue of the destination account subscribed to the operations topic. */
  noticesQueueUrl: string;
  failureQueueUrl: string;
  triggerFunction: string;
  /** The secret's ARN as the stack created it (what the state machines use). */
  secretArn: string;
}

/**
 * The realistic starting point: a PostgreSQL instance (encrypted with aws/rds, tagged team=orders)
 * in the source account, a VPC with subnet group and security group in the destination account,
 * both services deployed (destination with `params`), the database's secret seeded with the
 * application's credentials and a queue listening on the destination's operations topic.
 */
export async function setUpStory(
  twin: Twin,
  params: Record<string, string> = {},
  sourceParams: Record<string, string> = {},
): Promise<Story> {
  await createSourceDatabase(twin, { id: DATABASE, encryption: 'aws/rds' });
  const network = await createDestinationNetwork(twin);
  const source = await twin.deploy('source', { params: sourceParams });
  const destination = await twin.deploy('destination', {
    params: {
      vpcSecurityGroupIds: network.securityGroupId,
      sourceKmsKeyArn: source.outputs.KmsKeyArn!,
      ...params,
    },
  });
  await seedSecret(twin, SECRET_NAME);
  const { sqs, sns, secrets } = twin.aws('destination');
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: 'operations-notices' }));
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const operationsTopicArn = destination.outputs.OperationsTopicArn!;
  await sns.send(
    new SubscribeCommand({
      TopicArn: operationsTopicArn,
      Protocol: 'sqs',
      Endpoint: attributes.Attributes!.QueueArn,
    }),
  );
  const secret = await secrets.send(new GetSecretValueCommand({ SecretId: SECRET_NAME }));
  const trigger = Object.values(destination.functions).find((f) => f.name.endsWith('-trigger'));
  return {
    twin,
    source,
    destination,
    securityGroupId: network.securityGroupId,
    subnetGroupName: network.subnetGroupName,
    sourceTopicArn: source.outputs.ReplicationTopicArn!,
    sourceKeyArn: source.outputs.KmsKeyArn!,
    operationsTopicArn,
    noticesQueueUrl: queue.QueueUrl!,
    failureQueueUrl: destination.outputs.FailureQueueUrl!,
    triggerFunction: trigger!.name,
    secretArn: secret.ARN!,
  };
}

// ---- executions ---------------------------------------------------------------------------------

export function destinationExecutions(twin: Twin, machine: 'replicate' | 'rollback'): ExecutionRecord[] {
  const arn = twin.machineArn('destination', machine);
  return [...twin.sfn.executions.values()].filter((e) => e.stateMachineArn === arn);
}

/** The source `replicate` for one database, then whatever it set off (SNS, trigger, destination). */
export async function replicateFromSource(
  twin: Twin,
): Promise<{ source: ExecutionRecord; destination: ExecutionRecord[] }> {
  const before = new Set(destinationExecutions(twin, 'replicate'));
  const source = await twin.run('source', 'replicate', { databases: [DATABASE] });
  const destination = destinationExecutions(twin, 'replicate').filter((e) => !before.has(e));
  return { source, destination };
}

/** The one destination run a source run set off, failing loudly with its Error and Cause otherwise. */
export async function replicateOnce(twin: Twin): Promise<ExecutionRecord> {
  const { source, destination } = await replicateFromSource(twin);
  if (source.status !== 'SUCCEEDED') {
    throw new Error(`source replicate ${source.status}: ${source.error}: ${source.cause}`);
  }
  if (destination.length !== 1) throw new Error(`expected 1 destination run, got ${destination.length}`);
  return destination[0]!;
}

export function output<T = Record<string, unknown>>(exec: ExecutionRecord): T {
  return JSON.parse(exec.output ?? 'null') as T;
}

export function inputOf<T = Record<string, unknown>>(exec: ExecutionRecord): T {
  return JSON.parse(exec.input) as T;
}

/** Names of the states entered, in order (Map iterations and Parallel branches included). */
export function statesEntered(exec: ExecutionRecord): string[] {
  return exec.history.filter((e) => e.type === 'StateEntered').map((e) => e.state!);
}

export function eventsOf(exec: ExecutionRecord, state: string, type = 'StateEntered'): HistoryEvent[] {
  return exec.history.filter((e) => e.state === state && e.type === type);
}

/** Index in the history of the first event matching `test` (-1 when none). */
export function indexOf(exec: ExecutionRecord, test: (e: HistoryEvent) => boolean): number {
  return exec.history.findIndex(test);
}

export function failureSummary(exec: ExecutionRecord): string {
  return `${exec.name}: ${exec.status} ${exec.error ?? ''} ${exec.cause ?? ''}`;
}

// ---- the destination account --------------------------------------------------------------------

export function tagsOf(instance: DBInstance): Record<string, string> {
  return Object.fromEntries((instance.TagList ?? []).map((t) => [t.Key!, t.Value!]));
}

export async function instances(twin: Twin): Promise<DBInstance[]> {
  const out = await twin.aws('destination').rds.send(new DescribeDBInstancesCommand({}));
  return out.DBInstances ?? [];
}

export async function instance(twin: Twin, id: string): Promise<DBInstance | undefined> {
  return (await instances(twin)).find((i) => i.DBInstanceIdentifier === id);
}

/** Instances tagged as replicas of the database by this deployment, oldest first by name. */
export async function managedReplicas(twin: Twin): Promise<DBInstance[]> {
  return (await instances(twin))
    .filter((i) => {
      const t = tagsOf(i);
      return (
        t[TAG.managedBy] === DEPLOYMENT_ID && t[TAG.kind] === 'replica' && t[TAG.sourceDatabase] === DATABASE
      );
    })
    .sort((a, b) => String(a.DBInstanceIdentifier).localeCompare(String(b.DBInstanceIdentifier)));
}

export async function replicaIds(twin: Twin): Promise<string[]> {
  return (await managedReplicas(twin)).map((i) => i.DBInstanceIdentifier!);
}

/** Manual snapshots owned by the destination account (shared snapshots of the source excluded). */
export async function destinationSnapshots(twin: Twin): Promise<string[]> {
  const out = await twin
    .aws('destination')
    .rds.send(new DescribeDBSnapshotsCommand({ SnapshotType: 'manual' }));
  return (out.DBSnapshots ?? [])
    .filter((s) => String(s.DBSnapshotArn).includes(`:${twin.accounts.destination}:`))
    .map((s) => s.DBSnapshotIdentifier!);
}

/** Lets virtual time pass so that RDS phases the run left behind (deletions) complete. */
export async function letTimePass(twin: Twin, ms = HOUR_MS): Promise<void> {
  await twin.clock.advance(ms);
  await twin.settle();
}

export interface SecretState {
  raw: string;
  versionId: string;
  value: Record<string, unknown>;
}

export async function secretState(twin: Twin, secretId = SECRET_NAME): Promise<SecretState> {
  const out = await twin.aws('destination').secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  let value: Record<string, unknown> = {};
  try {
    value = JSON.parse(out.SecretString ?? '') as Record<string, unknown>;
  } catch {
    // a deliberately broken secret
  }
  return { raw: out.SecretString ?? '', versionId: out.VersionId!, value };
}

export async function putSecret(twin: Twin, raw: string, secretId = SECRET_NAME): Promise<void> {
  await twin
    .aws('destination')
    .secrets.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: raw }));
}

/** The secret's endpoint fields as they should be for this instance. */
export function endpointOf(i: DBInstance): Record<string, unknown> {
  return {
    host: i.Endpoint?.Address,
    port: i.Endpoint?.Port,
    dbInstanceIdentifier: i.DBInstanceIdentifier,
    engine: i.Engine,
  };
}

// ---- notices and queues ---------------------------------------------------------------------------

export interface Notice {
  subject: string | undefined;
  message: Record<string, unknown>;
}

async function drain(twin: Twin, queueUrl: string): Promise<string[]> {
  const { sqs } = twin.aws('destination');
  const bodies: string[] = [];
  for (;;) {
    const got = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const messages = got.Messages ?? [];
    if (messages.length === 0) return bodies;
    for (const m of messages) {
      bodies.push(m.Body ?? '');
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}

/** Notices published on the operations topic since the last call (SNS envelopes unpacked). */
export async function takeNotices(story: Story): Promise<Notice[]> {
  const bodies = await drain(story.twin, story.noticesQueueUrl);
  return bodies.map((b) => {
    const envelope = JSON.parse(b) as { Subject?: string; Message: string };
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(envelope.Message) as Record<string, unknown>;
    } catch {
      message = { text: envelope.Message };
    }
    return { subject: envelope.Subject, message };
  });
}

/** Events the trigger gave up on (after Lambda's retries), from its on-failure queue. */
export async function takeFailedTriggerEvents(story: Story): Promise<unknown[]> {
  return (await drain(story.twin, story.failureQueueUrl)).map((b) => JSON.parse(b));
}

// ---- the source topic and the trigger ------------------------------------------------------------

/** Publishes on the source account's replication topic, as the source service (or a forger) would. */
export async function publishToSourceTopic(
  story: Story,
  message: unknown,
  topicArn = story.sourceTopicArn,
): Promise<void> {
  await story.twin.aws('source').sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Message: typeof message === 'string' ? message : JSON.stringify(message),
    }),
  );
  await story.twin.settle();
}

/** The event Lambda receives from an SNS subscription, for a crafted delivery. */
export function snsEvent(topicArn: string, message: string, messageId = 'crafted-1') {
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: `${topicArn}:00000000-0000-0000-0000-000000000000`,
        Sns: {
          Type: 'Notification',
          MessageId: messageId,
          TopicArn: topicArn,
          Subject: null,
          Message: message,
          Timestamp: '2026-01-01T00:00:00.000Z',
          SignatureVersion: '1',
          Signature: 'EXAMPLE',
          SigningCertUrl: 'https://sns.eu-west-1.amazonaws.com/cert.pem',
          UnsubscribeUrl: 'https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe',
          MessageAttributes: {},
        },
      },
    ],
  };
}

export interface TriggerResult {
  started: string[];
  duplicates: string[];
  rejected: { messageId: string; reason: string }[];
}

/** Invokes the trigger synchronously (RequestResponse) and returns what it reports. */
export async function invokeTrigger(story: Story, event: unknown): Promise<TriggerResult> {
  const { twin } = story;
  const r = await twin.lambda.invoke(story.triggerFunction, event, {
    account: twin.accounts.destination,
    region: twin.region,
  });
  await twin.settle();
  if (r.functionError) throw new Error(`trigger failed: ${JSON.stringify(r.payload)}`);
  return r.payload as TriggerResult;
}

/** Lambda invocations recorded from index `from` on, counted by function key (trigger, nameReplica, ...). */
export function invocationCounts(twin: Twin, from = 0): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const i of twin.lambda.invocations.slice(from)) {
    const key = i.function.replace(`${DEPLOYMENT_ID}-`, '');
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** A valid version 1 message for the shared snapshot `like` names, with another time and run id. */
export function messageLike(
  like: Record<string, unknown>,
  snapshotCreateTime: string,
  runId: string,
): Record<string, unknown> {
  return { ...like, snapshotCreateTime, runId };
}

/** The first replica name for a snapshot time (`orders-db-rr<marker>-20260101t000000`), by the naming rule. */
export function replicaNameFor(
  snapshotCreateTime: string,
  prefix = replicaPrefix(undefined, DATABASE, DEPLOYMENT_ID),
): string {
  return replicaNameCandidates(prefix, snapshotCreateTime)[0]!;
}
