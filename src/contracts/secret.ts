/**
 * The database secret (in the destination account): the standard RDS secret JSON
 * (`engine`, `host`, `port`, `username`, `password`, `dbname`, `dbInstanceIdentifier`, ...).
 *
 * Replication rewrites only the endpoint keys (contract.json `secret.endpointKeys`) and preserves
 * every other key byte for byte: same order, same escapes, same number spelling, same whitespace.
 * That is why mergeEndpoint splices the original text instead of re-serialising a parsed object.
 *
 * Nothing here ever puts a secret value into an error message.
 */
import { InvalidSecret } from '../lib/errors';
import contract from './contract.json';

export const REQUIRED_KEYS: readonly string[] = contract.secret.requiredKeys;
export const ENDPOINT_KEYS: readonly string[] = contract.secret.endpointKeys;
/** What a DB cluster's replication rewrites: `host` is the cluster (writer) endpoint. */
export const CLUSTER_ENDPOINT_KEYS: readonly string[] = contract.secret.clusterEndpointKeys;

export type SecretObject = Record<string, unknown>;

const HINT = '(expected the standard RDS secret JSON)';

/** Parse and check a secret; throws InvalidSecret naming the secret and the key, never a value. */
export function checkSecret(secretId: string, secretString: string | undefined): SecretObject {
  if (typeof secretString !== 'string') {
    throw new InvalidSecret(
      `secret ${secretId} has no SecretString (binary secrets are not supported) ${HINT}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    // the parser's message would quote part of the secret: do not pass it on
    throw new InvalidSecret(`secret ${secretId} is not valid JSON ${HINT}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    const kind = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
    throw new InvalidSecret(`secret ${secretId} is ${kind}, not a JSON object ${HINT}`);
  }
  const secret = parsed as SecretObject;
  for (const key of REQUIRED_KEYS) {
    if (!Object.hasOwn(secret, key))
      throw new InvalidSecret(`secret ${secretId} has no key '${key}' ${HINT}`);
    const value = secret[key];
    if (typeof value !== 'string' || value === '') {
      throw new InvalidSecret(`secret ${secretId} key '${key}' must be a non-empty string ${HINT}`);
    }
  }
  for (const key of ['dbInstanceIdentifier', 'dbClusterIdentifier']) {
    const live = secret[key];
    if (live !== undefined && live !== null && typeof live !== 'string') {
      throw new InvalidSecret(`secret ${secretId} key '${key}' must be a string ${HINT}`);
    }
  }
  return secret;
}

/** The instance the secret points at today, or null (first replication into a fresh secret). */
export function liveDbInstanceIdentifier(secret: SecretObject): string | null {
  const live = secret.dbInstanceIdentifier;
  return typeof live === 'string' && live !== '' ? live : null;
}

/** The DB cluster the secret points at today, or null. */
export function liveDbClusterIdentifier(secret: SecretObject): string | null {
  const live = secret.dbClusterIdentifier;
  return typeof live === 'string' && live !== '' ? live : null;
}

export interface ClusterEndpoint {
  host: string;
  port: number;
  dbClusterIdentifier: string;
  engine: string;
}

export interface Endpoint {
  host: string;
  port: number;
  dbInstanceIdentifier: string;
  engine: string;
}

export interface MergeResult {
  secretString: string;
  previousDbInstanceIdentifier: string | null;
  /** True when the secret already held exactly these endpoint values (nothing to write). */
  unchanged: boolean;
}

/**
 * The new secret text: the endpoint keys rewritten in place (appended at the end when absent),
 * every other byte of the original kept. `port` keeps its JSON type (a string stays a string).
 * Throws InvalidSecret when `secretString` is not a JSON object.
 */
export function mergeEndpoint(
  secretString: string,
  endpoint: Endpoint | ClusterEndpoint,
  secretId = 'the secret',
): MergeResult {
  const current = checkObject(secretId, secretString);
  const cluster = 'dbClusterIdentifier' in endpoint;
  const previous = cluster ? liveDbClusterIdentifier(current) : liveDbInstanceIdentifier(current);
  const ENDPOINT_KEYS = cluster ? CLUSTER_ENDPOINT_KEYS : contract.secret.endpointKeys;
  const values: Record<string, unknown> = {
    host: endpoint.host,
    port: typeof current.port === 'string' ? String(endpoint.port) : endpoint.port,
    ...(cluster
      ? { dbClusterIdentifier: endpoint.dbClusterIdentifier }
      : { dbInstanceIdentifier: endpoint.dbInstanceIdentifier }),
    engine: endpoint.engine,
  };
  const members = scanTopLevel(secretString);
  let out = '';
  let cursor = 0;
  const written = new Set<string>();
  for (const m of members) {
    if (!ENDPOINT_KEYS.includes(m.key)) continue;
    out += secretString.slice(cursor, m.valueStart) + JSON.stringify(values[m.key]);
    cursor = m.valueEnd;
    written.add(m.key);
  }
  const missing = ENDPOINT_KEYS.filter((k) => !written.has(k));
  if (missing.length === 0) {
    out += secretString.slice(cursor);
  } else {
    const close = secretString.lastIndexOf('}');
    const last = members.at(-1);
    // imitate the layout of the last member (indentation, space after the colon)
    const lead = last ? secretString.slice(last.leadStart, last.keyStart) : '';
    const colon = last ? secretString.slice(last.keyEnd, last.valueStart) : ':';
    const insert = missing.map(
      (k, i) => `${i > 0 || last ? ',' : ''}${lead}${JSON.stringify(k)}${colon}${JSON.stringify(values[k])}`,
    );
    const end = last ? last.valueEnd : close;
    out += secretString.slice(cursor, end) + insert.join('') + secretString.slice(end);
  }
  // belt and braces: the result parses and says what we meant
  const check = JSON.parse(out) as SecretObject;
  for (const k of ENDPOINT_KEYS) {
    if (check[k] !== values[k]) throw new Error(`mergeEndpoint produced a wrong '${k}' (bug)`);
  }
  const unchanged = ENDPOINT_KEYS.every((k) => current[k] === values[k]);
  return { secretString: unchanged ? secretString : out, previousDbInstanceIdentifier: previous, unchanged };
}

function checkObject(secretId: string, secretString: string): SecretObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    throw new InvalidSecret(`secret ${secretId} is not valid JSON ${HINT}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidSecret(`secret ${secretId} is not a JSON object ${HINT}`);
  }
  return parsed as SecretObject;
}

interface Member {
  key: string;
  /** Where the whitespace before the key starts (just after `{` or `,`). */
  leadStart: number;
  keyStart: number;
  keyEnd: number;
  valueStart: number;
  valueEnd: number;
}

/** Spans of the top-level members of a JSON object text that JSON.parse has already accepted. */
function scanTopLevel(text: string): Member[] {
  const members: Member[] = [];
  let i = skipWs(text, 0);
  if (text[i] !== '{') throw new Error('not an object');
  i++;
  for (;;) {
    const leadStart = i;
    i = skipWs(text, i);
    if (text[i] === '}') return members;
    const keyStart = i;
    const keyEnd = skipString(text, i);
    const key = JSON.parse(text.slice(keyStart, keyEnd)) as string;
    i = skipWs(text, keyEnd);
    i++; // ':'
    const valueStart = skipWs(text, i);
    const valueEnd = skipValue(text, valueStart);
    members.push({ key, leadStart, keyStart, keyEnd, valueStart, valueEnd });
    i = skipWs(text, valueEnd);
    if (text[i] === ',') i++;
    else return members; // '}'
  }
}

function skipWs(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r'))
    i++;
  return i;
}

/** `text[i]` is `"`; returns the index after the closing quote. */
function skipString(text: string, i: number): number {
  i++;
  while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

function skipValue(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return skipString(text, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    while (i < text.length) {
      const ch = text[i];
      if (ch === '"') {
        i = skipString(text, i);
        continue;
      }
      if (ch === '{' || ch === '[') depth++;
      else if (ch === '}' || ch === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  // number, true, false, null
  while (i < text.length && !/[\s,}\]]/.test(text[i]!)) i++;
  return i;
}
