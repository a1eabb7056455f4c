/**
 * Which managed replicas to keep and which to delete. Pure: the select-retention Lambda lists
 * the replicas (only those carrying this deployment's tags) and calls these functions. (Which
 * replica a rollback to "previous" means is recorded by the state machines, not derived here.)
 *
 * Order: newest first by snapshot time (tag `rds-replicator:snapshot-time`), then by identifier
 * (descending, so that `x-...-2`, created after `x-...` for the same snapshot, counts as newer).
 * An unreadable time sorts as the oldest.
 */
import { InvalidInput, show } from '../lib/errors';
import { sameDbInstance } from './rds';
import { parseDateTime } from './time';

export interface RetentionCandidate {
  id: string;
  /** RFC 3339; may be empty when unknown. */
  snapshotTime: string;
  status: string;
  deletionProtection: boolean;
}

export interface RetentionDecision {
  /** Newest first; includes `live` when it is a candidate. */
  keep: string[];
  /** Oldest first, so that an interrupted clean-up removes the oldest first. */
  delete: { id: string; deletionProtection: boolean }[];
}

/** Statuses that mean "already going away": neither counted nor deleted again. */
export const IGNORED_STATUSES: readonly string[] = ['deleting'];

function timeOf(c: { snapshotTime: string }): number {
  return parseDateTime(c.snapshotTime) ?? Number.NEGATIVE_INFINITY;
}

/** Newest first (snapshot time, then identifier, both descending). */
export function newestFirst<T extends { id: string; snapshotTime: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => {
    const ta = timeOf(a);
    const tb = timeOf(b);
    if (ta !== tb) return tb > ta ? 1 : -1;
    return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
  });
}

/**
 * Keep the newest `keep` replicas in total, the live one always among them (even when older than
 * the others, e.g. after a rollback), then the one that was live before it (the target of a
 * rollback to `previous`, which may be older than others after an earlier rollback), then the
 * newest others; delete the rest. `live` or `previous` that is not a candidate (an instance this
 * deployment does not manage) takes no slot.
 */
export function selectRetention(
  candidates: readonly RetentionCandidate[],
  keep: number,
  live: string | null | undefined,
  previous?: string | null,
): RetentionDecision {
  if (!Number.isInteger(keep) || keep < 1) {
    throw new InvalidInput(
      `keep is ${show(keep)}; it must be an integer >= 1 (the live replica always stays)`,
    );
  }
  const seen = new Set<string>();
  const considered = candidates.filter((c) => {
    const id = c.id.toLowerCase();
    if (IGNORED_STATUSES.includes(c.status) || seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  const ordered = newestFirst(considered);
  const kept = new Set<RetentionCandidate>();
  for (const id of [live, previous]) {
    const one = ordered.find((c) => sameDbInstance(c.id, id));
    if (one && kept.size < keep) kept.add(one);
  }
  for (const c of ordered) {
    if (kept.size >= keep) break;
    kept.add(c);
  }
  return {
    keep: ordered.filter((c) => kept.has(c)).map((c) => c.id),
    delete: ordered
      .filter((c) => !kept.has(c))
      .reverse()
      .map((c) => ({ id: c.id, deletionProtection: c.deletionProtection })),
  };
}
