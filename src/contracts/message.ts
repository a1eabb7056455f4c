/**
 * The replication message, source account -> destination account (version 1).
 *
 * The JSON schema `replication-message.schema.json` is the contract; this module reads its
 * `required`, `properties`, constants, enumerations and patterns at load time so that the two cannot
 * drift (it refuses to load if the schema starts using a keyword it does not implement), and adds
 * the checks a schema cannot express: the message must come from the configured source account
 * (and Region), the snapshot ARN must live in that account and Region, the database must be one
 * this deployment replicates, and the input must be small. The destination's `replicate` checks
 * the same rules, generated from the same schema (statemachines/fragments/message-rules.js);
 * test/twin/message-contract.test.ts runs one table of messages through both.
 *
 * Kept dependency-free on purpose (no ajv in a Lambda bundle); test/unit/message.test.ts proves it
 * gives ajv's verdict on a corpus of good and bad messages.
 */

import { show as quote } from '../lib/errors';
import contract from './contract.json';
import { normaliseDbInstanceIdentifier } from './db-identifier';
import schema from './replication-message.schema.json';
import { parseDateTime } from './time';

/** Version 1: one RDS DB instance. */
export interface ReplicationMessage {
  version: 1;
  sourceAccountId: string;
  sourceRegion: string;
  sourceDbInstanceIdentifier: string;
  engine: string;
  engineVersion: string;
  /** arn:aws:rds:<sourceRegion>:<sourceAccountId>:snapshot:<id>, shared with this account. */
  sharedSnapshotArn: string;
  /** RFC 3339 (see time.ts). */
  snapshotCreateTime: string;
  runId: string;
  /** The source instance's option group, only when it is not a `default:` one (issue 14). */
  optionGroupName?: string;
}

/** Version 2: a DB instance or an Aurora DB cluster, with its kind (clusters are published as version 2). */
export interface ReplicationMessageV2 {
  version: 2;
  kind: 'instance' | 'cluster';
  sourceAccountId: string;
  sourceRegion: string;
  /** The DB instance or DB cluster identifier, per kind. */
  sourceDbIdentifier: string;
  engine: string;
  engineVersion: string;
  /** ...:snapshot:<id> (kind instance) or ...:cluster-snapshot:<id> (kind cluster). */
  sharedSnapshotArn: string;
  snapshotCreateTime: string;
  runId: string;
}

export type AnyReplicationMessage = ReplicationMessage | ReplicationMessageV2;

/** What a message is about, whatever its version. */
export function databaseOf(m: AnyReplicationMessage): { kind: 'instance' | 'cluster'; database: string } {
  return m.version === 1
    ? { kind: 'instance', database: m.sourceDbInstanceIdentifier }
    : { kind: m.kind, database: m.sourceDbIdentifier };
}

export interface MessageExpectations {
  sourceAccountId: string;
  /** When set, the message's Region must match. */
  sourceRegion?: string;
  /**
   * When set, the snapshot ARN's partition must be this one (`aws`, `aws-cn`, `aws-us-gov`): the
   * deployment's own, as the state machine checks with `${AWS::Partition}`; snapshots are never
   * shared across partitions.
   */
  partition?: string;
  /** Source DB instance identifiers this deployment replicates (normalised to lower case, then compared exactly). */
  databases: readonly string[];
  /** Source DB cluster identifiers this deployment replicates (version 2, kind cluster). */
  clusters?: readonly string[];
}

export type ParseResult = { ok: true; message: AnyReplicationMessage } | { ok: false; reason: string };

/** Larger inputs are rejected before parsing (a valid message is well under 1 KiB). */
export const MAX_MESSAGE_BYTES = 16 * 1024;
/** The version the source publishes for DB instances, and every version the destination reads. */
export const MESSAGE_VERSION = schema.$defs.version1.properties.version.const;
export const CLUSTER_MESSAGE_VERSION = schema.$defs.version2.properties.version.const;

interface PropertyRule {
  const?: unknown;
  type?: 'string';
  enum?: readonly string[];
  /** Every one must match (`pattern` and the `pattern`s of `allOf`). */
  patterns: RegExp[];
  /** None may match (`allOf: [{not: {pattern}}]`). */
  forbidden: RegExp[];
  maxLength?: number;
  format?: 'date-time';
}

// The schema keywords this parser and the generated Choice rules (message-rules.js) both read.
const SUPPORTED = new Set<string>(contract.messageSchemaKeywords);

// JSON Schema patterns are ECMA-262 and unanchored; ajv compiles them with the `u` flag
const regex = (pattern: unknown, where: string): RegExp => {
  if (typeof pattern !== 'string')
    throw new Error(`replication-message.schema.json: ${where} is not a string`);
  return new RegExp(pattern, 'u');
};

function compileSchema(def: 'version1' | 'version2'): {
  required: string[];
  rules: Map<string, PropertyRule>;
} {
  const s = schema.$defs[def] as unknown as {
    type: string;
    additionalProperties: boolean;
    required: string[];
    properties: Record<string, Record<string, unknown>>;
  };
  if (s.type !== 'object' || s.additionalProperties !== false) {
    throw new Error('replication-message.schema.json: message.ts expects a closed object schema');
  }
  const rules = new Map<string, PropertyRule>();
  for (const [name, prop] of Object.entries(s.properties)) {
    const rule: PropertyRule = { patterns: [], forbidden: [] };
    for (const [keyword, value] of Object.entries(prop)) {
      if (!SUPPORTED.has(keyword)) {
        throw new Error(
          `replication-message.schema.json: keyword '${keyword}' of '${name}' is not implemented`,
        );
      }
      if (keyword === 'type' && value !== 'string')
        throw new Error(`schema: type '${String(value)}' of '${name}'`);
      if (keyword === 'format' && value !== 'date-time') throw new Error(`schema: format '${String(value)}'`);
    }
    if ('const' in prop) rule.const = prop.const;
    if (prop.type === 'string') rule.type = 'string';
    if (Array.isArray(prop.enum)) rule.enum = prop.enum as string[];
    if (prop.pattern !== undefined) rule.patterns.push(regex(prop.pattern, `pattern of '${name}'`));
    for (const [i, part] of ((prop.allOf as Record<string, unknown>[] | undefined) ?? []).entries()) {
      const where = `allOf[${i}] of '${name}'`;
      const not = part.not as Record<string, unknown> | undefined;
      if (Object.keys(part).length !== 1 || !(part.pattern !== undefined || not?.pattern !== undefined)) {
        throw new Error(`replication-message.schema.json: ${where} must be {pattern} or {not: {pattern}}`);
      }
      if (not) rule.forbidden.push(regex(not.pattern, where));
      else rule.patterns.push(regex(part.pattern, where));
    }
    if (typeof prop.maxLength === 'number') rule.maxLength = prop.maxLength;
    if (prop.format === 'date-time') rule.format = 'date-time';
    rules.set(name, rule);
  }
  return { required: s.required, rules };
}

const VERSIONS = new Map([
  [MESSAGE_VERSION, compileSchema('version1')],
  [CLUSTER_MESSAGE_VERSION, compileSchema('version2')],
]);

/** `arn:<partition>:rds:<region>:<account>:snapshot|cluster-snapshot:<id>` (the schema has already checked the shape). */
const SNAPSHOT_ARN = /^arn:([^:]+):rds:([^:]+):([^:]+):(snapshot|cluster-snapshot):(.+)$/;

export function parseSnapshotArn(arn: string):
  | {
      partition: string;
      region: string;
      accountId: string;
      snapshotId: string;
      type: 'snapshot' | 'cluster-snapshot';
    }
  | undefined {
  const m = SNAPSHOT_ARN.exec(arn);
  return m
    ? {
        partition: m[1]!,
        region: m[2]!,
        accountId: m[3]!,
        type: m[4] as 'snapshot' | 'cluster-snapshot',
        snapshotId: m[5]!,
      }
    : undefined;
}

/**
 * Validate a message (the SNS `Message` string, or an already-parsed value) against the schema and
 * this deployment's expectations. Never throws. Reasons name the field and quote (a bounded part of)
 * the offending value.
 */
export function parseReplicationMessage(raw: string | unknown, expect: MessageExpectations): ParseResult {
  const fail = (reason: string): ParseResult => ({ ok: false, reason });
  let value: unknown = raw;
  if (typeof raw === 'string') {
    const bytes = Buffer.byteLength(raw, 'utf8');
    if (bytes > MAX_MESSAGE_BYTES) return fail(`message is ${bytes} bytes, more than ${MAX_MESSAGE_BYTES}`);
    try {
      value = JSON.parse(raw);
    } catch (e) {
      return fail(`message is not JSON (${clip((e as Error).message, 120)})`);
    }
  } else {
    let text: string | undefined;
    try {
      text = JSON.stringify(raw);
    } catch {
      return fail('message cannot be serialised to JSON');
    }
    if (text !== undefined && Buffer.byteLength(text, 'utf8') > MAX_MESSAGE_BYTES) {
      return fail(`message is more than ${MAX_MESSAGE_BYTES} bytes`);
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail(
      `message must be a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
    );
  }
  const obj = value as Record<string, unknown>;

  // --- what the schema says (the version picks the closed object of $defs)
  const compiled = VERSIONS.get(obj.version as number);
  if (!compiled) {
    return fail(
      `field 'version' is ${quote(obj.version)}, this destination understands versions ${[...VERSIONS.keys()].join(' and ')}`,
    );
  }
  const { required: REQUIRED, rules: RULES } = compiled;
  const version = obj.version as number;
  for (const key of Object.keys(obj)) {
    if (!RULES.has(key)) return fail(`unknown field ${quote(key)} (version ${version} has no such field)`);
  }
  for (const key of REQUIRED) {
    if (!Object.hasOwn(obj, key)) return fail(`missing field '${key}'`);
  }
  for (const [key, rule] of RULES) {
    if (!Object.hasOwn(obj, key)) continue;
    const problem = checkProperty(obj[key], rule);
    if (problem) return fail(`field '${key}' ${problem}`);
  }
  const message = obj as unknown as AnyReplicationMessage;
  const { kind, database } = databaseOf(message);
  const databaseField = message.version === 1 ? 'sourceDbInstanceIdentifier' : 'sourceDbIdentifier';

  // --- what only this deployment knows
  if (message.sourceAccountId !== expect.sourceAccountId) {
    return fail(
      `field 'sourceAccountId' is ${quote(message.sourceAccountId)}, not the configured source account ${expect.sourceAccountId}`,
    );
  }
  if (expect.sourceRegion !== undefined && message.sourceRegion !== expect.sourceRegion) {
    return fail(
      `field 'sourceRegion' is ${quote(message.sourceRegion)}, not the configured source Region ${expect.sourceRegion}`,
    );
  }
  const arn = parseSnapshotArn(message.sharedSnapshotArn);
  if (!arn)
    return fail(`field 'sharedSnapshotArn' ${quote(message.sharedSnapshotArn)} is not an RDS snapshot ARN`);
  if (expect.partition !== undefined && arn.partition !== expect.partition) {
    return fail(
      `field 'sharedSnapshotArn' is in partition ${quote(arn.partition)}, not in this deployment's partition ${expect.partition}`,
    );
  }
  if (arn.accountId !== message.sourceAccountId) {
    return fail(
      `field 'sharedSnapshotArn' is in account ${arn.accountId}, not in the source account ${message.sourceAccountId}`,
    );
  }
  if (arn.region !== message.sourceRegion) {
    return fail(
      `field 'sharedSnapshotArn' is in Region ${arn.region}, not in the source Region ${message.sourceRegion}`,
    );
  }
  const arnType = kind === 'cluster' ? 'cluster-snapshot' : 'snapshot';
  if (arn.type !== arnType) {
    return fail(
      `field 'sharedSnapshotArn' is a ${arn.type} ARN, but the message is about a DB ${kind} (expected ...:${arnType}:<id>)`,
    );
  }
  if (message.version === 2 && kind === 'instance') {
    // Inferred scope: the source publishes DB instances as version 1; a version 2 instance message
    // would need the instance state machine to read sourceDbIdentifier.
    return fail(
      "field 'kind' is 'instance': this destination reads DB instance messages as version 1 (version 2 is for kind 'cluster')",
    );
  }
  // Both sides hold identifiers as RDS stores them (db-identifier.js): compared exactly, as the
  // state machine's StringEquals does.
  const configured = kind === 'cluster' ? (expect.clusters ?? []) : expect.databases;
  if (!configured.some((d) => normaliseDbInstanceIdentifier(d) === database)) {
    return fail(
      `field '${databaseField}' is ${quote(database)}, not one of the configured ${kind === 'cluster' ? 'clusters' : 'databases'} [${configured.join(', ')}]`,
    );
  }
  return { ok: true, message };
}

function checkProperty(value: unknown, rule: PropertyRule): string | undefined {
  if ('const' in rule && value !== rule.const)
    return `must be ${JSON.stringify(rule.const)}, got ${quote(value)}`;
  if (rule.type === 'string') {
    if (typeof value !== 'string') return `must be a string, got ${quote(value)}`;
    if (rule.enum && !rule.enum.includes(value)) {
      return `is ${quote(value)}, not one of the ${rule.enum.length} values of replication-message.schema.json (e.g. ${rule.enum.filter((e) => !e.includes('-')).join(', ')})`;
    }
    // JSON Schema lengths count code points, not UTF-16 units
    if (rule.maxLength !== undefined && [...value].length > rule.maxLength) {
      return `is ${[...value].length} characters long, more than ${rule.maxLength}`;
    }
    for (const pattern of rule.patterns) {
      if (!pattern.test(value)) return `${quote(value)} does not match ${pattern.source}`;
    }
    for (const pattern of rule.forbidden) {
      if (pattern.test(value)) return `${quote(value)} must not match ${pattern.source}`;
    }
    if (rule.format === 'date-time' && parseDateTime(value) === undefined) {
      return `${quote(value)} is not an RFC 3339 date-time (e.g. 2026-11-23T19:21:47.123Z)`;
    }
  }
  return undefined;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
