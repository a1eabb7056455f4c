/**
 * README: trigger (destination service). Subscribed to the source account's replication topic.
 * For each SNS record: checks the topic, validates the message (contracts/message.ts) and starts
 * the destination `replicate` state machine with a deterministic execution name, so a duplicate
 * delivery cannot start a second run. A rejected message is logged and dropped (retrying cannot fix
 * it); a failure to start (throttling, ...) throws so that Lambda retries the event.
 *
 * Event:  SNSEvent
 * Result: { started: string[], duplicates: string[], rejected: { messageId, reason }[] }
 *         (execution names; `duplicates` = ExecutionAlreadyExists, i.e. already delivered)
 * Environment:
 *   SOURCE_TOPIC_ARN   the only topic accepted (records from any other topic are rejected)
 *   SOURCE_ACCOUNT_ID  12-digit source account; messages and snapshot ARNs must be from it
 *   SOURCE_REGION      optional; when set, messages and snapshot ARNs must be from this Region
 *   DATABASES          comma-separated source DB instance identifiers this deployment replicates
 *                      (lower-cased, as RDS stores them; messages must name them in lower case)
 *   STATE_MACHINE_ARN  the destination `replicate` state machine (DB instances, message version 1)
 *   CLUSTERS           optional: comma-separated source DB cluster identifiers this deployment replicates
 *   CLUSTER_STATE_MACHINE_ARN  the destination `replicate-cluster` state machine (message version 2,
 *                      kind cluster); required when CLUSTERS lists any
 *   LOG_LEVEL          DEBUG | INFO (default) | WARN | ERROR
 */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Context, SNSEvent, SNSEventRecord } from 'aws-lambda';
import { databaseOf, type MessageExpectations, parseReplicationMessage } from '../../contracts/message';
import { executionName } from '../../contracts/names';
import { normalizeDbInstanceIdentifier } from '../../contracts/rds';
import { InvalidConfiguration } from '../../lib/errors';
import { env, optionalEnv } from '../../lib/input';
import { logger } from '../../lib/logger';

const sfn = new SFNClient({});

export interface TriggerResult {
  started: string[];
  duplicates: string[];
  rejected: { messageId: string; reason: string }[];
}

export interface TriggerConfig {
  topicArn: string;
  stateMachineArn: string;
  /** Where messages of kind cluster go (undefined when no cluster is configured). */
  clusterStateMachineArn?: string;
  expect: MessageExpectations;
}

export function readConfig(): TriggerConfig {
  const sourceAccountId = env('SOURCE_ACCOUNT_ID');
  if (!/^\d{12}$/.test(sourceAccountId)) {
    throw new InvalidConfiguration(
      `SOURCE_ACCOUNT_ID is '${sourceAccountId}'; it must be a 12-digit account id`,
    );
  }
  const databases = (optionalEnv('DATABASES') ?? '')
    .split(',')
    .map(normalizeDbInstanceIdentifier)
    .filter(Boolean);
  const topicArn = env('SOURCE_TOPIC_ARN');
  // The topic is in the source account, so in the partition of every snapshot it may announce.
  const partition = /^arn:([a-z-]+):sns:/.exec(topicArn)?.[1];
  if (!partition) {
    throw new InvalidConfiguration(`SOURCE_TOPIC_ARN is '${topicArn}'; it must be an SNS topic ARN`);
  }
  const clusters = (optionalEnv('CLUSTERS') ?? '')
    .split(',')
    .map(normalizeDbInstanceIdentifier)
    .filter(Boolean);
  if (databases.length === 0 && clusters.length === 0) {
    throw new InvalidConfiguration(
      'DATABASES and CLUSTERS list no database (expected e.g. DATABASES="orders-db,billing-db")',
    );
  }
  return {
    topicArn,
    stateMachineArn: env('STATE_MACHINE_ARN'),
    ...(clusters.length > 0 ? { clusterStateMachineArn: env('CLUSTER_STATE_MACHINE_ARN') } : {}),
    expect: { sourceAccountId, sourceRegion: optionalEnv('SOURCE_REGION'), partition, databases, clusters },
  };
}

type Verdict =
  | { ok: true; name: string; input: string; stateMachineArn: string }
  | { ok: false; reason: string };

/** Pure: what to do with one record. */
export function judgeRecord(record: SNSEventRecord, config: TriggerConfig): Verdict {
  const sns = record?.Sns;
  if (!sns || typeof sns !== 'object')
    return { ok: false, reason: 'record has no Sns field (not an SNS event)' };
  if (sns.TopicArn !== config.topicArn) {
    return {
      ok: false,
      reason: `topic '${String(sns.TopicArn)}' is not the configured source topic ${config.topicArn}`,
    };
  }
  const parsed = parseReplicationMessage(sns.Message, config.expect);
  if (!parsed.ok) return parsed;
  const m = parsed.message;
  const { kind, database } = databaseOf(m);
  // Routing by kind: a DB cluster has its own state machine (parseReplicationMessage has checked
  // that the cluster is configured, so clusterStateMachineArn is set).
  const stateMachineArn = kind === 'cluster' ? config.clusterStateMachineArn : config.stateMachineArn;
  if (!stateMachineArn) return { ok: false, reason: `no state machine is configured for kind ${kind}` };
  return {
    ok: true,
    name: executionName(database, m.snapshotCreateTime, m.sharedSnapshotArn),
    input: JSON.stringify(m),
    stateMachineArn,
  };
}

export const handler = async (event: SNSEvent, context?: Context): Promise<TriggerResult> => {
  const log = logger.child({ requestId: context?.awsRequestId });
  const config = readConfig();
  const result: TriggerResult = { started: [], duplicates: [], rejected: [] };
  const records = Array.isArray(event?.Records) ? event.Records : [];
  if (records.length === 0) log.warn('event has no Records: nothing to do');

  for (const record of records) {
    const messageId = String(record?.Sns?.MessageId ?? 'unknown');
    const topicArn = record?.Sns?.TopicArn;
    const verdict = judgeRecord(record, config);
    if (!verdict.ok) {
      // never log the whole message: the reason quotes only the offending field
      log.warn('rejected replication message', { messageId, topicArn, reason: verdict.reason });
      result.rejected.push({ messageId, reason: verdict.reason });
      continue;
    }
    try {
      const out = await sfn.send(
        new StartExecutionCommand({
          stateMachineArn: verdict.stateMachineArn,
          name: verdict.name,
          input: verdict.input,
        }),
      );
      log.info('started replication', {
        messageId,
        executionName: verdict.name,
        executionArn: out.executionArn,
      });
      result.started.push(verdict.name);
    } catch (error) {
      if ((error as Error)?.name === 'ExecutionAlreadyExists') {
        log.info('duplicate delivery: execution already exists', { messageId, executionName: verdict.name });
        result.duplicates.push(verdict.name);
        continue;
      }
      log.error('could not start replication; Lambda will retry the event', {
        messageId,
        executionName: verdict.name,
        error,
      });
      throw error;
    }
  }
  return result;
};
