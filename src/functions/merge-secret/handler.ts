/**
 * README: mergeSecret (destination service). Points the database's secret at a replica: used by
 * `replicate` after the restore and by `rollback`. The secret value never passes through the state
 * machine: this function reads it, rewrites only the endpoint keys (contracts/secret.ts) and writes
 * a new version.
 *
 * Before touching the secret it checks the replica: it must exist, be `available` and carry this
 * deployment's replica tags for `database` (contracts/tags.ts), so a typo in a rollback cannot
 * point production at a foreign instance.
 *
 * Event:  { secretId, dbInstanceIdentifier, database, expectedLive? }
 *         expectedLive  optional (string or null): the instance the secret pointed at when the run
 *                       began (nameReplica's liveDbInstanceIdentifier). If the secret now points
 *                       elsewhere the merge fails with SecretChanged instead of overwriting
 *                       someone else's change.
 * Result: { previousDbInstanceIdentifier, dbInstanceIdentifier, host, port }
 * Cluster mode (an Aurora DB cluster's replica): Event { secretId, dbClusterIdentifier, database,
 *         expectedLive? }; the cluster must carry the replica tags, be `available` and have an
 *         `available` writer instance; the secret's `host` (cluster writer endpoint), `port`, `engine`
 *         and `dbClusterIdentifier` are rewritten, every other key (dbInstanceIdentifier too) kept.
 *         Result { previousDbClusterIdentifier, dbClusterIdentifier, host, port }.
 * Errors: InvalidInput, ReplicaNotFound, ReplicaNotReady, ReplicaNotManaged, InvalidSecret,
 *         SecretChanged; SDK errors pass through for Retry.
 * Idempotent: a retry after success finds the secret already merged and writes nothing; the
 * PutSecretValue ClientRequestToken is derived from the replica and the version it replaces, so an
 * SDK-level retry of the write cannot create a second version.
 * Environment:
 *   DEPLOYMENT_ID  this deployment's id, the value of tag rds-replicator:managed-by
 *   LOG_LEVEL      DEBUG | INFO (default) | WARN | ERROR
 */
import { createHash } from 'node:crypto';
import {
  type DBCluster,
  type DBInstance,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { sameDbInstance } from '../../contracts/rds';
import {
  checkSecret,
  liveDbClusterIdentifier,
  liveDbInstanceIdentifier,
  mergeEndpoint,
} from '../../contracts/secret';
import { describeUnmanagedReplica } from '../../contracts/tags';
import { ReplicaNotFound, ReplicaNotManaged, ReplicaNotReady, SecretChanged } from '../../lib/errors';
import * as v from '../../lib/input';
import { logger } from '../../lib/logger';
import { currentSecretString } from '../../lib/secrets';

const rds = new RDSClient({});
const secrets = new SecretsManagerClient({});

export interface MergeSecretInput {
  secretId: string;
  dbInstanceIdentifier: string;
  database: string;
  /** undefined: not checked; null: the secret must not point at any instance yet. */
  expectedLive?: string | null;
}

export interface MergeSecretResult {
  previousDbInstanceIdentifier: string | null;
  dbInstanceIdentifier: string;
  host: string;
  port: number;
}

const WHAT = 'mergeSecret';

export interface MergeClusterSecretInput {
  secretId: string;
  dbClusterIdentifier: string;
  database: string;
  expectedLive?: string | null;
}

export interface MergeClusterSecretResult {
  previousDbClusterIdentifier: string | null;
  dbClusterIdentifier: string;
  host: string;
  port: number;
}

export function parseClusterInput(event: unknown): MergeClusterSecretInput | undefined {
  const input = v.object(event, WHAT);
  if (!Object.hasOwn(input, 'dbClusterIdentifier')) return undefined;
  const parsed: MergeClusterSecretInput = {
    secretId: v.string(input, 'secretId', WHAT),
    dbClusterIdentifier: v.dbInstanceIdentifier(input, 'dbClusterIdentifier', WHAT),
    database: v.dbInstanceIdentifier(input, 'database', WHAT),
  };
  if (Object.hasOwn(input, 'expectedLive')) {
    parsed.expectedLive = v.optionalDbInstanceIdentifier(input, 'expectedLive', WHAT);
  }
  return parsed;
}

/** Pure: throws unless the instance or cluster is a replica of `database` this deployment manages, and available. */
function usableReplica(
  kind: 'instance' | 'cluster',
  id: string | undefined,
  tags: Parameters<typeof describeUnmanagedReplica>[0],
  status: string | undefined,
  deploymentId: string,
  database: string,
): void {
  const notManaged = describeUnmanagedReplica(tags, deploymentId, database);
  if (notManaged) {
    throw new ReplicaNotManaged(
      `${kind} ${id} is not a replica of ${database} managed by ${deploymentId}: ${notManaged} ` +
        '(point the secret only at replicas this deployment created)',
    );
  }
  if (status !== 'available') {
    throw new ReplicaNotReady(
      `${kind} ${id} is '${status}', not 'available' (wait until it is available, then retry)`,
    );
  }
}

/** Pure: the cluster replica's writer endpoint, or the reason it cannot be used. */
export function clusterEndpoint(
  cluster: DBCluster,
  writer: DBInstance | undefined,
  deploymentId: string,
  database: string,
): { host: string; port: number; engine: string } {
  const id = cluster.DBClusterIdentifier;
  usableReplica('cluster', id, cluster.TagList, cluster.Status, deploymentId, database);
  if (writer?.DBInstanceStatus !== 'available') {
    throw new ReplicaNotReady(
      `cluster ${id} has no available writer instance (${writer ? `${writer.DBInstanceIdentifier} is '${writer.DBInstanceStatus}'` : 'none'}; wait until it is available, then retry)`,
    );
  }
  const host = cluster.Endpoint;
  const port = cluster.Port;
  if (!host || typeof port !== 'number') {
    throw new ReplicaNotReady(`cluster ${id} has no endpoint yet (wait until it is available, then retry)`);
  }
  return { host, port, engine: cluster.Engine ?? '' };
}

async function describeCluster(id: string): Promise<{ cluster: DBCluster; writer: DBInstance | undefined }> {
  let cluster: DBCluster | undefined;
  try {
    const out = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }));
    cluster = out.DBClusters?.[0];
  } catch (error) {
    const name = (error as Error)?.name;
    if (name !== 'DBClusterNotFoundFault' && name !== 'DBClusterNotFound') throw error;
  }
  if (!cluster) {
    throw new ReplicaNotFound(`cluster ${id} does not exist (check the replica name)`);
  }
  const writerId = cluster.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier;
  let writer: DBInstance | undefined;
  if (writerId) {
    try {
      writer = await describeInstance(writerId);
    } catch (error) {
      if (!(error instanceof ReplicaNotFound)) throw error;
    }
  }
  return { cluster, writer };
}

async function mergeCluster(
  input: MergeClusterSecretInput,
  log: typeof logger,
): Promise<MergeClusterSecretResult> {
  const deploymentId = v.env('DEPLOYMENT_ID');
  const target = input.dbClusterIdentifier.toLowerCase();
  const { cluster, writer } = await describeCluster(target);
  const endpoint = clusterEndpoint(cluster, writer, deploymentId, input.database);

  const got = await currentSecretString(secrets, input.secretId);
  const secret = checkSecret(input.secretId, got.secretString);
  const current = liveDbClusterIdentifier(secret);
  const alreadyMerged = sameDbInstance(current, target);
  if (!alreadyMerged && input.expectedLive !== undefined && !sameLive(current, input.expectedLive)) {
    throw new SecretChanged(
      `secret ${input.secretId} points at cluster ${current ?? 'none'}, not at ${input.expectedLive ?? 'none'} ` +
        'as when this run began (another run or an operator changed it; check the secret, then re-run)',
    );
  }
  const merged = mergeEndpoint(
    got.secretString as string,
    { host: endpoint.host, port: endpoint.port, dbClusterIdentifier: target, engine: endpoint.engine },
    input.secretId,
  );
  if (!merged.unchanged) {
    await secrets.send(
      new PutSecretValueCommand({
        SecretId: input.secretId,
        SecretString: merged.secretString,
        ClientRequestToken: clientRequestToken(`cluster:${target}`, got.versionId),
      }),
    );
  }
  const previous = alreadyMerged
    ? input.expectedLive !== undefined
      ? input.expectedLive
      : null
    : merged.previousDbInstanceIdentifier;
  log.info(merged.unchanged ? 'secret already pointed at the cluster' : 'pointed secret at cluster', {
    secretId: input.secretId,
    dbClusterIdentifier: target,
    previousDbClusterIdentifier: previous,
    host: endpoint.host,
    port: endpoint.port,
  });
  return {
    previousDbClusterIdentifier: previous,
    dbClusterIdentifier: target,
    host: endpoint.host,
    port: endpoint.port,
  };
}

export function parseInput(event: unknown): MergeSecretInput {
  const input = v.object(event, WHAT);
  const parsed: MergeSecretInput = {
    secretId: v.string(input, 'secretId', WHAT),
    dbInstanceIdentifier: v.dbInstanceIdentifier(input, 'dbInstanceIdentifier', WHAT),
    database: v.dbInstanceIdentifier(input, 'database', WHAT),
  };
  if (Object.hasOwn(input, 'expectedLive')) {
    parsed.expectedLive = v.optionalDbInstanceIdentifier(input, 'expectedLive', WHAT);
  }
  return parsed;
}

/** Pure: the replica's endpoint, or the reason it cannot be used. */
export function replicaEndpoint(
  instance: DBInstance,
  deploymentId: string,
  database: string,
): { host: string; port: number; engine: string } {
  const id = instance.DBInstanceIdentifier;
  usableReplica('instance', id, instance.TagList, instance.DBInstanceStatus, deploymentId, database);
  const host = instance.Endpoint?.Address;
  const port = instance.Endpoint?.Port;
  if (!host || typeof port !== 'number') {
    throw new ReplicaNotReady(`instance ${id} has no endpoint yet (wait until it is available, then retry)`);
  }
  return { host, port, engine: instance.Engine ?? '' };
}

/** Deterministic per (replica, replaced version): a UUID-shaped token as Secrets Manager expects. */
export function clientRequestToken(
  dbInstanceIdentifier: string,
  previousVersionId: string | undefined,
): string {
  const h = createHash('sha256')
    .update(`${dbInstanceIdentifier.toLowerCase()}\n${previousVersionId ?? ''}`)
    .digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

async function describeInstance(id: string): Promise<DBInstance> {
  try {
    const out = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
    const instance = out.DBInstances?.[0];
    if (instance) return instance;
  } catch (error) {
    const name = (error as Error)?.name;
    if (name !== 'DBInstanceNotFoundFault' && name !== 'DBInstanceNotFound') throw error;
  }
  throw new ReplicaNotFound(
    `instance ${id} does not exist (check the replica name; list replicas with action 'list')`,
  );
}

/** The instance the AWSPREVIOUS version pointed at: the answer for a retry of a merge that succeeded. */
async function previousFromHistory(secretId: string, target: string): Promise<string | null> {
  try {
    const prev = await secrets.send(
      new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSPREVIOUS' }),
    );
    const id = JSON.parse(prev.SecretString ?? '{}')?.dbInstanceIdentifier;
    return typeof id === 'string' && id !== '' && !sameDbInstance(id, target) ? id : null;
  } catch {
    return null;
  }
}

function sameLive(a: string | null, b: string | null): boolean {
  return a === null || b === null ? a === b : sameDbInstance(a, b);
}

export async function handler(
  event: MergeClusterSecretInput,
  context?: Context,
): Promise<MergeClusterSecretResult>;
export async function handler(event: unknown, context?: Context): Promise<MergeSecretResult>;
export async function handler(
  event: unknown,
  context?: Context,
): Promise<MergeSecretResult | MergeClusterSecretResult> {
  const log = logger.child({ requestId: context?.awsRequestId });
  const clusterInput = parseClusterInput(event);
  if (clusterInput) return mergeCluster(clusterInput, log);
  const input = parseInput(event);
  const deploymentId = v.env('DEPLOYMENT_ID');
  const target = input.dbInstanceIdentifier.toLowerCase();

  const instance = await describeInstance(target);
  const endpoint = replicaEndpoint(instance, deploymentId, input.database);

  const got = await currentSecretString(secrets, input.secretId);
  const secret = checkSecret(input.secretId, got.secretString);
  const current = liveDbInstanceIdentifier(secret);
  const alreadyMerged = sameDbInstance(current, target);

  if (!alreadyMerged && input.expectedLive !== undefined && !sameLive(current, input.expectedLive)) {
    throw new SecretChanged(
      `secret ${input.secretId} points at ${current ?? 'no instance'}, not at ${input.expectedLive ?? 'no instance'} ` +
        'as when this run began (another run or an operator changed it; check the secret, then re-run)',
    );
  }

  const merged = mergeEndpoint(
    got.secretString as string,
    { host: endpoint.host, port: endpoint.port, dbInstanceIdentifier: target, engine: endpoint.engine },
    input.secretId,
  );
  if (!merged.unchanged) {
    await secrets.send(
      new PutSecretValueCommand({
        SecretId: input.secretId,
        SecretString: merged.secretString,
        ClientRequestToken: clientRequestToken(target, got.versionId),
      }),
    );
  }

  let previous = merged.previousDbInstanceIdentifier;
  if (alreadyMerged) {
    previous =
      input.expectedLive !== undefined
        ? input.expectedLive
        : await previousFromHistory(input.secretId, target);
  }
  log.info(merged.unchanged ? 'secret already pointed at the replica' : 'pointed secret at replica', {
    secretId: input.secretId,
    dbInstanceIdentifier: target,
    previousDbInstanceIdentifier: previous,
    host: endpoint.host,
    port: endpoint.port,
  });
  return {
    previousDbInstanceIdentifier: previous,
    dbInstanceIdentifier: target,
    host: endpoint.host,
    port: endpoint.port,
  };
}
