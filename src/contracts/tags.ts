/**
 * Replica tags (contract.json `tagKeys`, `kinds`). Retention and rollback act only on instances
 * that carry this deployment's tags: managed-by = the deployment id, kind = replica, source-db =
 * the database. Database names are compared ignoring case, like RDS identifiers.
 */
import contract from './contract.json';

export const TAG_KEYS = contract.tagKeys;
export const KINDS = contract.kinds;

export interface Tag {
  Key?: string;
  Value?: string;
}

export function tagValue(tags: readonly Tag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}

/** What is wrong with these tags for a replica of `database` managed by `deploymentId`, if anything. */
export function describeUnmanagedReplica(
  tags: readonly Tag[] | undefined,
  deploymentId: string,
  database: string,
): string | undefined {
  const expected: [string, string][] = [
    [TAG_KEYS.managedBy, deploymentId],
    [TAG_KEYS.kind, KINDS.replica],
    [TAG_KEYS.sourceDatabase, database],
  ];
  for (const [key, want] of expected) {
    const got = tagValue(tags, key);
    const same = key === TAG_KEYS.sourceDatabase ? got?.toLowerCase() === want.toLowerCase() : got === want;
    if (!same) return `tag ${key} is ${got === undefined ? 'absent' : `'${got}'`}, expected '${want}'`;
  }
  return undefined;
}

export function isManagedReplica(
  tags: readonly Tag[] | undefined,
  deploymentId: string,
  database: string,
): boolean {
  return describeUnmanagedReplica(tags, deploymentId, database) === undefined;
}
