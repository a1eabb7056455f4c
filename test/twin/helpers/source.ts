// Shared set-up and observations for the source service's tests on the twin (source.test.ts,
// source-faults.test.ts). Everything here reads what an operator of the source account could see:
// the DB snapshots and their tags, sharing and keys, the service's DynamoDB table (locks and the
// shared copies it recorded), the replication and operations topics (through SQS queues subscribed
// to them) and each execution's status, output and history.
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  type DBSnapshot,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotAttributesCommand,
  DescribeDBSnapshotsCommand,
} from '@aws-sdk/client-rds';
import { SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import contract from '../../../src/contracts/contract.json';
import type { ReplicationMessage } from '../../../src/contracts/message';
import schema from '../../../src/contracts/replication-message.schema.json';
import type { DeployedStack, ExecutionRecord, Twin } from '../../../twin/src';
import { DEFAULT_MOTO_DURATIONS } from '../../../twin/src/moto';
import type { HistoryEvent } from '../../../twin/src/stepfunctions';

export const DEPLOYMENT_ID = 'rds-replica-source-dev';
export const TAG = contract.tagKeys;
export const SECOND_DESTINATION_ACCOUNT = '333333333333';
/** How this deployment's snapshots of `database` are named: `<prefix><run token>`. */
export const intermediatePrefix = (database: string) => `${DEPLOYMENT_ID}-intermediate-${database}-`;
export const sharedPrefix = (database: string) => `${DEPLOYMENT_ID}-shared-${database}-`;
/** The state of the source machine whose output lists each database's outcome. */
export const EACH_DATABASE = 'Replicate Each Database';

export interface SourceStory {
  twin: Twin;
  stack: DeployedStack;
  /** The stack's shared customer-managed key (output KmsKeyArn). */
  keyArn: string;
  replicationTopicArn: string;
  operationsTopicArn: string;
  tableName: string;
  /** SQS queue of the source account subscribed to the replication topic. */
  messagesQueueUrl: string;
  /** SQS queue of the source account subscribed to the operations topic. */
  noticesQueueUrl: string;
}

/** Deploys the source service (packaged with `params`) and listens on both of its topics. */
export async function deploySource(twin: Twin, params: Record<string, string> = {}): Promise<SourceStory> {
  const stack = await twin.deploy('source', { params });
  const replicationTopicArn = stack.outputs.ReplicationTopicArn!;
  const operationsTopicArn = stack.outputs.OperationsTopicArn!;
  return {
    twin,
    stack,
    keyArn: stack.outputs.KmsKeyArn!,
    replicationTopicArn,
    operationsTopicArn,
    tableName: stack.outputs.TableName!,
    messagesQueueUrl: await listen(twin, replicationTopicArn, 'replication-messages'),
    noticesQueueUrl: await listen(twin, operationsTopicArn, 'operations-notices'),
  };
}

async function listen(twin: Twin, topicArn: string, queueName: string): Promise<string> {
  const { sqs, sns } = twin.aws('source');
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: queueName }));
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  await sns.send(
    new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: attributes.Attributes!.QueueArn }),
  );
  return queue.QueueUrl!;
}

/** Back to the twin's defaults: no faults, standard RDS phase durations. */
export async function calmTwin(twin: Twin): Promise<void> {
  await twin.moto.control.clearFaults();
  await twin.moto.control.setDurations({ ...DEFAULT_MOTO_DURATIONS });
}

// ---- Jest and the twin's Step Functions library --------------------------------------------------
//
// ---- executions ----------------------------------------------------------------------------------

export interface Outcome {
  database: string;
  status: 'SUCCEEDED' | 'FAILED';
  sharedSnapshotArn?: string;
  sharedSnapshotId?: string;
  snapshotCreateTime?: string;
  engine?: string;
  engineVersion?: string;
  sourceStorageEncrypted?: boolean;
  messageId?: string;
  /** The snapshot the run started from (issue 12): its own, or an automated or AWS Backup one. */
  startedFrom?: {
    snapshotId: string;
    snapshotType: 'manual' | 'automated' | 'awsbackup';
    snapshotCreateTime: string;
    ageMinutes: number;
    copied: boolean;
  };
  retention?: Array<{ snapshotId: string; action: string; error?: string; cause?: string }>;
  warning?: string;
  failedState?: string;
  error?: string;
  cause?: string;
}

/** Each database's outcome: the output of "Replicate Each Database" (kept in the history on failure). */
export function outcomes(exec: ExecutionRecord): Outcome[] {
  const exited = exec.history.filter((e) => e.type === 'StateExited' && e.state === EACH_DATABASE);
  if (exited.length !== 1) {
    throw new Error(`${exec.name} (${exec.status} ${exec.error ?? ''}) never finished ${EACH_DATABASE}`);
  }
  return exited[0]!.output as Outcome[];
}

export function outcomeOf(exec: ExecutionRecord, database: string): Outcome {
  const found = outcomes(exec).find((o) => o.database === database);
  if (!found) throw new Error(`${exec.name} has no outcome for ${database}`);
  return found;
}

// ---- the child execution of each database --------------------------------------------------------
//
// `replicate` runs each database in a child execution of `replicate-database`
// (states:startExecution.sync:2): the per-database states, their retries and failures are in the
// child's history; the parent's Map only collects each child's output (the database's outcome).

/** Name suffix of the source's per-database state machine. */
export const DATABASE_MACHINE_SUFFIX = '-replicate-database';

/**
 * What `replicate` passes to each child execution. No execution id: the child holds its database's
 * lock under its own execution ARN ($$.Execution.Id), so that a child stopped or timed out while its
 * parent goes on leaves a lock whose holder is recognisably no longer running.
 */
export interface ChildInput {
  database: string;
  runId: string;
  runToken: string;
  /** 'new' or 'latest': the run's input, or the snapshotSource parameter. */
  snapshotSource: string;
  AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: string;
}

export function childInput(child: ExecutionRecord): ChildInput {
  return JSON.parse(child.input) as ChildInput;
}

/** Every execution of `replicate-database` that `parent` started (its input names the parent). */
export function childrenOf(twin: Twin, parent: ExecutionRecord): ExecutionRecord[] {
  return [...twin.sfn.executions.values()]
    .filter((e) => e.stateMachineArn.endsWith(DATABASE_MACHINE_SUFFIX))
    .filter((e) => childInput(e).AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID === parent.executionArn)
    .sort((a, b) => a.startDate - b.startDate);
}

/** The one child execution of `parent` that replicated `database`. */
export function childOf(twin: Twin, parent: ExecutionRecord, database: string): ExecutionRecord {
  const found = childrenOf(twin, parent).filter((e) => childInput(e).database === database);
  if (found.length !== 1) {
    throw new Error(`${parent.name} started ${found.length} child executions for ${database}, expected 1`);
  }
  return found[0]!;
}

/** True when `exec` is a child execution `parent` started (for `twin.sfn.onEvent` hooks). */
export function isChildOf(exec: ExecutionRecord, parent: ExecutionRecord): boolean {
  return (
    exec.stateMachineArn.endsWith(DATABASE_MACHINE_SUFFIX) &&
    childInput(exec).AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID === parent.executionArn
  );
}

/** Names of the states entered, in order (Map iterations included). */
export function statesEntered(exec: ExecutionRecord): string[] {
  return exec.history.filter((e) => e.type === 'StateEntered').map((e) => e.state!);
}

export function eventsOf(exec: ExecutionRecord, state: string, type = 'StateEntered'): HistoryEvent[] {
  return exec.history.filter((e) => e.state === state && e.type === type);
}

export function retriesOf(exec: ExecutionRecord, state: string): HistoryEvent[] {
  return eventsOf(exec, state, 'StateRetried');
}

export function secondsBetween(from: HistoryEvent, to: HistoryEvent): number {
  return (Date.parse(to.at) - Date.parse(from.at)) / 1000;
}

export function describeRun(exec: ExecutionRecord): string {
  return `${exec.name}: ${exec.status} ${exec.error ?? ''} ${exec.cause ?? ''}`;
}

/**
 * Stops the virtual clock (no Wait or retry interval elapses) until the returned function is called:
 * what an operator sees "while the first run is still waiting for its snapshot".
 */
export function holdClock(twin: Twin): () => void {
  let release!: () => void;
  void twin.clock.track(new Promise<void>((resolve) => (release = resolve)));
  return release;
}

// ---- the source account -----------------------------------------------------------------------

export function tagsOf(snapshot: DBSnapshot): Record<string, string> {
  return Object.fromEntries((snapshot.TagList ?? []).map((t) => [t.Key!, t.Value!]));
}

/** Manual snapshots of the source account, including those still being created or deleted. */
export async function manualSnapshots(twin: Twin): Promise<DBSnapshot[]> {
  const out = await twin.aws('source').rds.send(new DescribeDBSnapshotsCommand({ SnapshotType: 'manual' }));
  return out.DBSnapshots ?? [];
}

/** Manual snapshots taken of `database` (the intermediate snapshot and the shared copies). */
export async function snapshotsOf(twin: Twin, database: string): Promise<DBSnapshot[]> {
  return (await manualSnapshots(twin)).filter((s) => s.DBInstanceIdentifier === database);
}

export async function snapshotIdsOf(twin: Twin, database: string): Promise<string[]> {
  return (await snapshotsOf(twin, database)).map((s) => s.DBSnapshotIdentifier!).sort();
}

/** Accounts that may restore (and copy) the snapshot: its `restore` attribute. */
export async function restoreAttribute(twin: Twin, snapshotId: string): Promise<string[]> {
  const out = await twin
    .aws('source')
    .rds.send(new DescribeDBSnapshotAttributesCommand({ DBSnapshotIdentifier: snapshotId }));
  const restore = out.DBSnapshotAttributesResult?.DBSnapshotAttributes?.find(
    (a) => a.AttributeName === 'restore',
  );
  return [...(restore?.AttributeValues ?? [])].sort();
}

/** The key of the source instance's storage (undefined when unencrypted). */
export async function instanceKey(twin: Twin, database: string): Promise<string | undefined> {
  const out = await twin
    .aws('source')
    .rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: database }));
  return out.DBInstances?.[0]?.KmsKeyId;
}

export type Item = Record<string, string>;

/** Every item of the service's table (string attributes), optionally only those of one database. */
export async function tableItems(story: SourceStory, database?: string): Promise<Item[]> {
  const out = await story.twin.aws('source').dynamodb.send(new ScanCommand({ TableName: story.tableName }));
  const items = (out.Items ?? []).map((raw: Record<string, AttributeValue>) =>
    Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v.S ?? JSON.stringify(v)])),
  );
  return database === undefined
    ? items
    : items.filter((i) => i.pk === `lock#${database}` || i.pk === `copy#${database}`);
}

// ---- topics ----------------------------------------------------------------------------------------

export interface Delivery<T = Record<string, unknown>> {
  messageId: string;
  subject: string | undefined;
  /** The SNS message, parsed from JSON. */
  message: T;
  /** The SNS message as published. */
  raw: string;
}

async function drain(twin: Twin, queueUrl: string): Promise<Delivery[]> {
  const { sqs } = twin.aws('source');
  const deliveries: Delivery[] = [];
  for (;;) {
    const got = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const messages = got.Messages ?? [];
    if (messages.length === 0) return deliveries;
    for (const m of messages) {
      const envelope = JSON.parse(m.Body ?? '{}') as { MessageId: string; Subject?: string; Message: string };
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(envelope.Message) as Record<string, unknown>;
      } catch {
        message = { text: envelope.Message };
      }
      deliveries.push({
        messageId: envelope.MessageId,
        subject: envelope.Subject,
        message,
        raw: envelope.Message,
      });
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}

export type { ReplicationMessage };

/** Replication messages published since the last call. */
export async function takeMessages(story: SourceStory): Promise<Delivery<ReplicationMessage>[]> {
  return (await drain(story.twin, story.messagesQueueUrl)) as unknown as Delivery<ReplicationMessage>[];
}

export interface Notice {
  notice: string;
  database: string;
  failedState?: string;
  error?: string;
  cause?: string;
  runId: string;
  executionArn: string;
  sharedSnapshotArn?: string;
  details?: Record<string, unknown>;
}

/** Operations notices published since the last call. */
export async function takeNotices(story: SourceStory): Promise<Delivery<Notice>[]> {
  return (await drain(story.twin, story.noticesQueueUrl)) as unknown as Delivery<Notice>[];
}

// ---- the message contract ------------------------------------------------------------------------

export { schemaErrors } from '../../helpers/message-schema';

export const CONTRACT_FIELDS: readonly string[] = [...schema.$defs.version1.required].sort();
