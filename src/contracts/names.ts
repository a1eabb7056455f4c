/**
 * Names this project gives to things, in one place.
 *
 * Replica instance names: `<prefix>-<yyyymmddthhmmss>` (snapshot creation time, UTC), with `-2`,
 * `-3`, ... appended when that name is taken (e.g. the same snapshot replicated again after a
 * rollback). Deterministic, valid RDS identifiers for any prefix, and sortable by snapshot time
 * for a given prefix (the timestamp has a fixed width and the prefix is cleaned the same way
 * whatever the suffix). No hostname is ever parsed: the snapshot time comes from the message.
 *
 * The prefix of a database (replicaPrefix) comes from the template `instanceNamePrefix`, default
 * `{database}-{deployment}`: `{database}` is the database identifier, `{deployment}` the deployment
 * marker `rr<6 hex of sha256(deployment id)>`. A template without either gets it appended, so that
 * every name carries both:
 * - the database: two databases of one deployment never compete for a name (with the check
 *   prefixesOverlap, which the configuration runs at package time, their name sets are disjoint);
 * - the marker: the names this deployment may restore, tag, modify and delete (its IAM resource
 *   patterns `db:<prefix>-*`) are names that only it creates, never an operator's `orders-db-legacy`.
 * A database identifier too long to fit (at most 63 characters, the prefix at most 44) is shortened
 * to its head, `-` and 6 hex of its sha256, so a 63-character identifier works with any template.
 * config/destination-params.js loads this very module at package time (no second copy of the rule).
 *
 * Step Functions execution names: at most 80 characters of [A-Za-z0-9-_] (AWS-FACTS.md), unique
 * per state machine for 90 days, which is what makes starting a run idempotent.
 */
import { createHash } from 'node:crypto';
import { NoFreeReplicaName } from '../lib/errors';
import { DB_INSTANCE_IDENTIFIER_MAX_LENGTH } from './rds';
import { compactUtc, parseDateTime } from './time';

/** Suffixes `-2` .. `-99` on collision. */
export const MAX_COLLISION_SUFFIX = 99;
const TIMESTAMP_LENGTH = 'yyyymmddthhmmss'.length;
const SUFFIX_ROOM = `-${MAX_COLLISION_SUFFIX}`.length;
/** The longest cleaned prefix: room for `-<timestamp>` and the longest suffix within 63 characters. */
export const MAX_PREFIX_LENGTH = DB_INSTANCE_IDENTIFIER_MAX_LENGTH - 1 - TIMESTAMP_LENGTH - SUFFIX_ROOM;
/** Used when a prefix would not start with a letter, or has nothing usable. */
export const FALLBACK_PREFIX = 'db';

/**
 * Any string -> a prefix that makes valid identifiers: lower-case, anything but [a-z0-9-] becomes
 * `-`, runs of `-` collapse, leading hyphens go, `db-` is put in front of a leading digit, cut to
 * MAX_PREFIX_LENGTH, no trailing hyphen.
 */
export function cleanPrefix(prefix: string): string {
  let p = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+/, '');
  if (p === '' || p === '-') p = FALLBACK_PREFIX;
  else if (!/^[a-z]/.test(p)) p = `${FALLBACK_PREFIX}-${p}`;
  return p.slice(0, MAX_PREFIX_LENGTH).replace(/-+$/, '');
}

/** The template when the parameter instanceNamePrefix is empty. */
export const DEFAULT_NAME_TEMPLATE = '{database}-{deployment}';
const DATABASE_PLACEHOLDER = '{database}';
const DEPLOYMENT_PLACEHOLDER = '{deployment}';
const HASH_LENGTH = 6;
/** The shortest room for a database part: a letter, `-` and the hash. */
const MIN_DATABASE_PART = 2 + HASH_LENGTH;

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/** `rr` and 6 hex characters of sha256(deployment id), e.g. `rr3f9a1c`: marks this deployment's names. */
export function deploymentMarker(deploymentId: string): string {
  return `rr${sha256Hex(deploymentId).slice(0, HASH_LENGTH)}`;
}

/** The template with both placeholders: a missing one is appended (`replica` -> `replica-{database}-{deployment}`). */
export function completeTemplate(template: string | undefined): string {
  let t = (template ?? '').trim() || DEFAULT_NAME_TEMPLATE;
  if (!t.includes(DATABASE_PLACEHOLDER)) t += `-${DATABASE_PLACEHOLDER}`;
  if (!t.includes(DEPLOYMENT_PLACEHOLDER)) t += `-${DEPLOYMENT_PLACEHOLDER}`;
  return t;
}

/** The database part of a prefix: the identifier, or its head + `-` + 6 hex of its sha256 when longer than `room`. */
export function databasePart(database: string, room: number): string {
  const db = database.toLowerCase();
  if (db.length <= room) return db;
  if (room < MIN_DATABASE_PART) {
    throw new RangeError(`no room for the database in the replica name prefix (${room} characters left)`);
  }
  const head = db.slice(0, room - HASH_LENGTH - 1).replace(/-+$/, '');
  return `${head}-${sha256Hex(db).slice(0, HASH_LENGTH)}`;
}

/**
 * The replica name prefix of `database` in deployment `deploymentId` (see the header): at most
 * MAX_PREFIX_LENGTH characters. Throws RangeError when the template leaves the database no room or
 * does not make a valid identifier (the configuration refuses such a template at package time).
 */
export function replicaPrefix(template: string | undefined, database: string, deploymentId: string): string {
  const t = completeTemplate(template).replaceAll(DEPLOYMENT_PLACEHOLDER, deploymentMarker(deploymentId));
  const occurrences = t.split(DATABASE_PLACEHOLDER).length - 1;
  const fixed = t.replaceAll(DATABASE_PLACEHOLDER, '').length;
  const room = Math.floor((MAX_PREFIX_LENGTH - fixed) / occurrences);
  const prefix = t.replaceAll(DATABASE_PLACEHOLDER, databasePart(database, room));
  if (prefix.length > MAX_PREFIX_LENGTH || !/^[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*$/.test(prefix)) {
    throw new RangeError(
      `replica name prefix '${prefix.slice(0, 100)}' (from '${template}') is not a valid start of an RDS identifier ` +
        `of at most ${MAX_PREFIX_LENGTH} characters: lower-case letters, digits and single hyphens, a letter first`,
    );
  }
  return prefix;
}

/**
 * Two prefixes whose name sets could meet: equal, or one followed by `-` starts the other (names are
 * `<prefix>-<fixed-width time>[-n]`, so otherwise no name of one is a name of the other).
 */
export function prefixesOverlap(a: string, b: string): boolean {
  return a === b || b.startsWith(`${a}-`) || a.startsWith(`${b}-`);
}

/** The names to try, in order: the base name, then `-2` .. `-99`. */
export function replicaNameCandidates(prefix: string, snapshotCreateTime: string | Date): string[] {
  const millis =
    snapshotCreateTime instanceof Date ? snapshotCreateTime.getTime() : parseDateTime(snapshotCreateTime);
  if (millis === undefined || Number.isNaN(millis)) {
    throw new RangeError(`snapshot time ${String(snapshotCreateTime)} is not an RFC 3339 date-time`);
  }
  const base = `${cleanPrefix(prefix)}-${compactUtc(millis)}`;
  const names = [base];
  for (let n = 2; n <= MAX_COLLISION_SUFFIX; n++) names.push(`${base}-${n}`);
  return names;
}

export type Taken = ReadonlySet<string> | ((id: string) => boolean);

/** The first free candidate. A Set is matched ignoring case (RDS stores identifiers lower-case). */
export function replicaName(prefix: string, snapshotCreateTime: string | Date, taken: Taken): string {
  const isTaken = typeof taken === 'function' ? taken : lowerCaseSet(taken);
  const candidates = replicaNameCandidates(prefix, snapshotCreateTime);
  const free = candidates.find((id) => !isTaken(id));
  if (free === undefined) throw noFreeName(candidates);
  return free;
}

/** replicaName with an asynchronous check (one RDS call per candidate, usually just one), optionally after a given name. */
export async function findReplicaName(
  prefix: string,
  snapshotCreateTime: string | Date,
  taken: (id: string) => Promise<boolean>,
  after?: string,
): Promise<string> {
  const all = replicaNameCandidates(prefix, snapshotCreateTime);
  // `after`: a name a restore met taken; only later names of the sequence are tried.
  const candidates = all.slice(after === undefined ? 0 : all.indexOf(after.toLowerCase()) + 1);
  for (const id of candidates) if (!(await taken(id))) return id;
  throw noFreeName(candidates);
}

function noFreeName(candidates: string[]): NoFreeReplicaName {
  return new NoFreeReplicaName(
    `replica names ${candidates[0]} to ${candidates.at(-1)} are all taken ` +
      '(delete old replicas of this snapshot, or use another instance name prefix)',
  );
}

function lowerCaseSet(set: ReadonlySet<string>): (id: string) => boolean {
  const lower = new Set([...set].map((s) => s.toLowerCase()));
  return (id) => lower.has(id);
}

export const EXECUTION_NAME_MAX_LENGTH = 80;
const EXECUTION_HASH_LENGTH = 8;

/**
 * `<database>-<snapshot time>-<8 hex of sha256(snapshot ARN)>`, e.g.
 * `orders-db-20261123t192147-1a2b3c4d`: the same message always gives the same name (so a
 * duplicate SNS delivery cannot start a second run), and a different snapshot a different one.
 */
export function executionName(
  database: string,
  snapshotCreateTime: string,
  sharedSnapshotArn: string,
): string {
  const millis = parseDateTime(snapshotCreateTime);
  if (millis === undefined)
    throw new RangeError(`snapshot time ${snapshotCreateTime} is not an RFC 3339 date-time`);
  const hash = createHash('sha256').update(sharedSnapshotArn).digest('hex').slice(0, EXECUTION_HASH_LENGTH);
  const tail = `-${compactUtc(millis)}-${hash}`;
  const db = database
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '-')
    .slice(0, EXECUTION_NAME_MAX_LENGTH - tail.length);
  return `${db || FALLBACK_PREFIX}${tail}`;
}

export function isValidExecutionName(name: string): boolean {
  return name.length >= 1 && name.length <= EXECUTION_NAME_MAX_LENGTH && /^[A-Za-z0-9_-]+$/.test(name);
}
