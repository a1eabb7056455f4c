/**
 * README: nameReplica (destination service). Runs before the restore.
 * Checks the database's secret (fails fast with InvalidSecret, before anything is restored), reads
 * which instance it points at today, and picks the new replica's name (contracts/names.ts): the
 * first of `<prefix>-<snapshot time>`, `...-2`, ... that no DB instance in this account uses.
 *
 * Event:  { database, snapshotCreateTime, secretId, prefix? }
 *         database           source DB instance identifier (the default name prefix)
 *         snapshotCreateTime RFC 3339, from the replication message
 *         secretId           name or ARN of the database's secret in this account
 *         prefix             optional per-database prefix; overrides INSTANCE_NAME_PREFIX
 * Result: { dbInstanceIdentifier, liveDbInstanceIdentifier }  (live is null on the first replication)
 * Errors: InvalidInput, InvalidSecret, NoFreeReplicaName; SDK errors pass through for Retry.
 * Environment:
 *   INSTANCE_NAME_PREFIX  optional prefix of replica names; `{database}` in it is replaced by the
 *                         database (e.g. `replica-{database}`); default: the database itself
 *   LOG_LEVEL             DEBUG | INFO (default) | WARN | ERROR
 *
 * The secret value never leaves this function: neither in the result nor in a log line.
 */
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { findReplicaName } from '../../contracts/names';
import { checkSecret, liveDbInstanceIdentifier } from '../../contracts/secret';
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
}

export interface NameReplicaResult {
  dbInstanceIdentifier: string;
  liveDbInstanceIdentifier: string | null;
}

const WHAT = 'nameReplica';

export function parseInput(event: unknown): NameReplicaInput {
  const input = v.object(event, WHAT);
  const prefix =
    input.prefix === undefined || input.prefix === null ? undefined : v.string(input, 'prefix', WHAT, 255);
  return {
    database: v.dbInstanceIdentifier(input, 'database', WHAT),
    snapshotCreateTime: v.dateTime(input, 'snapshotCreateTime', WHAT),
    secretId: v.string(input, 'secretId', WHAT),
    ...(prefix === undefined ? {} : { prefix }),
  };
}

/** Pure: the prefix to use for this database. */
export function namePrefix(
  database: string,
  inputPrefix: string | undefined,
  envPrefix: string | undefined,
): string {
  return (inputPrefix ?? envPrefix ?? database).replaceAll('{database}', database);
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

export const handler = async (event: unknown, context?: Context): Promise<NameReplicaResult> => {
  const log = logger.child({ requestId: context?.awsRequestId });
  const input = parseInput(event);
  const got = await currentSecretString(secrets, input.secretId);
  const secret = checkSecret(input.secretId, got.secretString);
  const live = liveDbInstanceIdentifier(secret);
  const prefix = namePrefix(input.database, input.prefix, v.optionalEnv('INSTANCE_NAME_PREFIX'));
  const dbInstanceIdentifier = await findReplicaName(prefix, input.snapshotCreateTime, instanceExists);
  log.info('named replica', {
    database: input.database,
    secretId: input.secretId,
    dbInstanceIdentifier,
    liveDbInstanceIdentifier: live,
  });
  return { dbInstanceIdentifier, liveDbInstanceIdentifier: live };
};
