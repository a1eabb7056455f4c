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

interface Switch {
  kind: 'instance' | 'cluster';
  secretId: string;
  /** The replica instance or cluster, lower case. */
  target: string;
  /** undefined: not checked; null: the secret must not point at any instance or cluster yet. */
  expectedLive?: string | null;
  endpoint: { host: string; port: number; engine: string };
  log: typeof logger;
}

const ID_FIELD = { instance: 'dbInstanceIdentifier', cluster: 'dbClusterIdentifier' } as const;

const hostAndPort = ({ host, port }: { host: string; port: number }) => ({ host, port });

/**
 * Points the secret at `target` (instance or cluster) and returns what it pointed at before: reads
 * the secret, refuses a change made since the run began (expectedLive), writes the endpoint keys
 * once (a retry finds them written) and leaves every other key as it was.
 */
async function switchSecret(sw: Switch): Promise<string | null> {
  const got = await currentSecretString(secrets, sw.secretId);
  const secret = checkSecret(sw.secretId, got.secretString);
  const current = sw.kind === 'cluster' ? liveDbClusterIdentifier(secret) : liveDbInstanceIdentifier(secret);
  const alreadyMerged = sameDbInstance(current, sw.target);
  if (!alreadyMerged && sw.expectedLive !== undefined && !sameLive(current, sw.expectedLive)) {
    const none = `no ${sw.kind}`;
    throw new SecretChanged(
      `secret ${sw.secretId} points at ${current ?? none}, not at ${sw.expectedLive ?? none} ` +
        'as when this run began (another run or an operator changed it; check the secret, then re-run)',
    );
  }

  const endpoint = { ...hostAndPort(sw.endpoint), engine: sw.endpoint.engine };
  const merged = mergeEndpoint(
    got.secretString as string,
    sw.kind === 'cluster'
      ? { ...endpoint, dbClusterIdentifier: sw.target }
      : { ...endpoint, dbInstanceIdentifier: sw.target },
    sw.secretId,
  );
  if (!merged.unchanged) {
    await secrets.send(
      new PutSecretValueCommand({
        SecretId: sw.secretId,
        SecretString: merged.secretString,
        // an instance and a cluster of the same name replace a version with different tokens
        ClientRequestToken: clientRequestToken(
          sw.kind === 'cluster' ? `cluster:${sw.target}` : sw.target,
          got.versionId,
        ),
      }),
    );
  }

  let previous = merged.previousDbInstanceIdentifier;
  if (alreadyMerged) {
    // a retry of a merge that succeeded: what was live before it
    previous =
      sw.expectedLive !== undefined
        ? sw.expectedLive
        : await previousFromHistory(sw.secretId, sw.target, ID_FIELD[sw.kind]);
  }
  // the log lines and fields as before the two flows became one (operators' log queries)
  const what = sw.kind === 'cluster' ? 'cluster' : 'replica';
  const previousField =
    sw.kind === 'cluster' ? 'previousDbClusterIdentifier' : 'previousDbInstanceIdentifier';
  sw.log.info(merged.unchanged ? `secret already pointed at the ${what}` : `pointed secret at ${what}`, {
    secretId: sw.secretId,
    [ID_FIELD[sw.kind]]: sw.target,
    [previousField]: previous,
    ...hostAndPort(sw.endpoint),
  });
  return previous;
}

/** The event in either mode: a cluster's when it names dbClusterIdentifier, else an instance's. */
export function parseInput(event: unknown): {
  kind: 'instance' | 'cluster';
  secretId: string;
  target: string;
  database: string;
  expectedLive?: string | null;
} {
  const input = v.object(event, WHAT);
  const kind = Object.hasOwn(input, 'dbClusterIdentifier') ? 'cluster' : 'instance';
  const parsed = {
    kind,
    secretId: v.string(input, 'secretId', WHAT),
    target: v.dbInstanceIdentifier(input, ID_FIELD[kind], WHAT),
    database: v.dbInstanceIdentifier(input, 'database', WHAT),
  } as const;
  return Object.hasOwn(input, 'expectedLive')
    ? { ...parsed, expectedLive: v.optionalDbInstanceIdentifier(input, 'expectedLive', WHAT) }
    : parsed;
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

/** What the AWSPREVIOUS version pointed at (its `field`): the answer for a retry of a merge that succeeded. */
async function previousFromHistory(secretId: string, target: string, field: string): Promise<string | null> {
  try {
    const prev = await secrets.send(
      new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSPREVIOUS' }),
    );
    const id = JSON.parse(prev.SecretString ?? '{}')?.[field];
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
  const input = parseInput(event);
  const target = input.target.toLowerCase();
  const deploymentId = v.env('DEPLOYMENT_ID');
  if (input.kind === 'cluster') {
    const { cluster, writer } = await describeCluster(target);
    const endpoint = clusterEndpoint(cluster, writer, deploymentId, input.database);
    const previous = await switchSecret({ ...input, target, endpoint, log });
    return { previousDbClusterIdentifier: previous, dbClusterIdentifier: target, ...hostAndPort(endpoint) };
  }
  const endpoint = replicaEndpoint(await describeInstance(target), deploymentId, input.database);
  const previous = await switchSecret({ ...input, target, endpoint, log });
  return { previousDbInstanceIdentifier: previous, dbInstanceIdentifier: target, ...hostAndPort(endpoint) };
}
