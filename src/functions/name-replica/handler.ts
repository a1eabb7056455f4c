/**
 * README: nameReplica (destination service). Runs before the restore.
 * Checks the database's secret (fails fast with InvalidSecret, before anything is restored), reads
 * which instance it points at today, and picks the new replica's name (contracts/names.ts): the
 * first of `<prefix>-<snapshot time>`, `...-2`, ... (after `after`, when given) that no DB instance
 * in this account uses, where the prefix carries the database and this deployment's marker.
 *
 * Event:  { database, snapshotCreateTime, secretId, prefix?, after?, mode? }
 *         database           source DB instance identifier
 *         snapshotCreateTime RFC 3339, from the replication message
 *         secretId           name or ARN of the database's secret in this account
 *         prefix             optional name template; overrides INSTANCE_NAME_PREFIX
 *         after              optional: a name a restore met taken; the next free one after it
 *         mode               'where': only read where the secret points (read-only; used after a
 *                            failed secret switch); the result is then { liveDbInstanceIdentifier }
 *         kind               optional 'instance' (default) or 'cluster': an Aurora DB cluster's replica
 *                            is a cluster and its writer instance of the same name, so the name must be
 *                            free among both; the live replica is the secret's `dbClusterIdentifier`
 * Result: { dbInstanceIdentifier, liveDbInstanceIdentifier }  (live is null on the first replication);
 *         kind cluster: { dbClusterIdentifier, liveDbClusterIdentifier }
 * Errors: InvalidInput, InvalidSecret, InvalidConfiguration, NoFreeReplicaName; SDK errors pass
 *         through for Retry.
 * Environment:
 *   INSTANCE_NAME_PREFIX  name template: `{database}` and `{deployment}` stand for the database and
 *                         this deployment's marker (default `{database}-{deployment}`)
 *   DEPLOYMENT_ID         this deployment's id (the marker is derived from it)
 *   LOG_LEVEL             DEBUG | INFO (default) | WARN | ERROR
 *
 * The secret value never leaves this function: neither in the result nor in a log line.
 */
import { DescribeDBClustersCommand, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { findReplicaName, replicaPrefix } from '../../contracts/names';
import { checkSecret, liveDbClusterIdentifier, liveDbInstanceIdentifier } from '../../contracts/secret';
import { InvalidConfiguration, InvalidInput, show } from '../../lib/errors';
import * as v from '../../lib/input';
import { logger } from '../../lib/logger';
import { currentSecretString } from '../../lib/secrets';

const rds = new RDSClient({});
const secrets = new SecretsManagerClient({});

export interface NameReplicaInput {
  database: string;
  snapshotCreateTime: string;
  secretId: string;
  prefix?: string;
  after?: string;
  mode?: 'name' | 'where';
  kind?: 'instance' | 'cluster';
}

export interface NameReplicaResult {
  dbInstanceIdentifier: string;
  liveDbInstanceIdentifier: string | null;
}

export interface WhereResult {
  liveDbInstanceIdentifier: string | null;
}

export interface ClusterNameResult {
  dbClusterIdentifier: string;
  liveDbClusterIdentifier: string | null;
}

export interface ClusterWhereResult {
  liveDbClusterIdentifier: string | null;
}

const WHAT = 'nameReplica';

export function parseInput(event: unknown): NameReplicaInput {
  const input = v.object(event, WHAT);
  const prefix =
    input.prefix === undefined || input.prefix === null ? undefined : v.string(input, 'prefix', WHAT, 255);
  const mode = input.mode === undefined || input.mode === null ? 'name' : input.mode;
  if (mode !== 'name' && mode !== 'where') {
    throw new InvalidInput(`${WHAT} input field 'mode' must be 'name' or 'where', got ${show(mode)}`);
  }
  const kind = input.kind === undefined || input.kind === null ? 'instance' : input.kind;
  if (kind !== 'instance' && kind !== 'cluster') {
    throw new InvalidInput(`${WHAT} input field 'kind' must be 'instance' or 'cluster', got ${show(kind)}`);
  }
  const after =
    input.after === undefined || input.after === null
      ? undefined
      : v.dbInstanceIdentifier(input, 'after', WHAT).toLowerCase();
  return {
    database: v.dbInstanceIdentifier(input, 'database', WHAT),
    snapshotCreateTime:
      mode === 'where' && input.snapshotCreateTime === undefined
        ? ''
        : v.dateTime(input, 'snapshotCreateTime', WHAT),
    secretId: v.string(input, 'secretId', WHAT),
    ...(prefix === undefined ? {} : { prefix }),
    ...(after === undefined ? {} : { after }),
    mode,
    kind,
  };
}

/** Pure: the name prefix for this database (template from the input, else the environment). */
export function namePrefix(
  database: string,
  inputTemplate: string | undefined,
  envTemplate: string | undefined,
  deploymentId: string,
): string {
  try {
    return replicaPrefix(inputTemplate ?? envTemplate, database, deploymentId);
  } catch (error) {
    throw new InvalidConfiguration(`${(error as Error).message} (fix the parameter instanceNamePrefix)`);
  }
}

export async function instanceExists(id: string): Promise<boolean> {
  try {
    await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
    return true;
  } catch (error) {
    const name = (error as Error)?.name;
    if (name === 'DBInstanceNotFoundFault' || name === 'DBInstanceNotFound') return false;
    throw error;
  }
}

export async function clusterExists(id: string): Promise<boolean> {
  try {
    await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }));
    return true;
  } catch (error) {
    const name = (error as Error)?.name;
    if (name === 'DBClusterNotFoundFault' || name === 'DBClusterNotFound') return false;
    throw error;
  }
}

/** A cluster replica's name is taken when a DB cluster or a DB instance (its writer's name) has it. */
const clusterNameTaken = async (id: string): Promise<boolean> =>
  (await clusterExists(id)) || (await instanceExists(id));

export const handler = async (
  event: unknown,
  context?: Context,
): Promise<NameReplicaResult | WhereResult | ClusterNameResult | ClusterWhereResult> => {
  const log = logger.child({ requestId: context?.awsRequestId });
  const input = parseInput(event);
  const got = await currentSecretString(secrets, input.secretId);
  const secret = checkSecret(input.secretId, got.secretString);
  const cluster = input.kind === 'cluster';
  const live = cluster ? liveDbClusterIdentifier(secret) : liveDbInstanceIdentifier(secret);
  const liveField = cluster ? 'liveDbClusterIdentifier' : 'liveDbInstanceIdentifier';
  if (input.mode === 'where') {
    log.info('secret points at', { secretId: input.secretId, [liveField]: live });
    return cluster ? { liveDbClusterIdentifier: live } : { liveDbInstanceIdentifier: live };
  }
  const prefix = namePrefix(
    input.database,
    input.prefix,
    v.optionalEnv('INSTANCE_NAME_PREFIX'),
    v.env('DEPLOYMENT_ID'),
  );
  const name = await findReplicaName(
    prefix,
    input.snapshotCreateTime,
    cluster ? clusterNameTaken : instanceExists,
    input.after,
  );
  log.info(cluster ? 'named cluster replica' : 'named replica', {
    database: input.database,
    secretId: input.secretId,
    [cluster ? 'dbClusterIdentifier' : 'dbInstanceIdentifier']: name,
    [liveField]: live,
    ...(input.after ? { after: input.after } : {}),
  });
  return cluster
    ? { dbClusterIdentifier: name, liveDbClusterIdentifier: live }
    : { dbInstanceIdentifier: name, liveDbInstanceIdentifier: live };
};
