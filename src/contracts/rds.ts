/**
 * RDS DB instance identifier rules, in one place (AWS-FACTS.md "Instance identifiers"):
 * 1-63 characters; ASCII letters, digits and hyphens; the first a letter; no two consecutive
 * hyphens; no trailing hyphen. RDS stores identifiers lower-case and compares them ignoring case.
 * The normalisation and the lower-case rule the configuration and the message use live in
 * db-identifier.js (plain JavaScript, shared with config/*.js); this module builds on it.
 */
import { MAX_DB_INSTANCE_IDENTIFIER_LENGTH, normaliseDbInstanceIdentifier } from './db-identifier';

export const DB_INSTANCE_IDENTIFIER_MAX_LENGTH = MAX_DB_INSTANCE_IDENTIFIER_LENGTH;

const RULES =
  'RDS instance identifiers are 1-63 letters, digits or hyphens, start with a letter, ' +
  "have no '--' and do not end with a hyphen";

/** Why `value` is not a valid DB instance identifier, or undefined when it is one. */
export function describeInvalidIdentifier(value: unknown): string | undefined {
  if (typeof value !== 'string') return `${describeType(value)} is not a string (${RULES})`;
  const quoted = value.length > 80 ? `'${value.slice(0, 80)}...'` : `'${value}'`;
  if (value.length === 0) return `'' is empty (${RULES})`;
  if (value.length > DB_INSTANCE_IDENTIFIER_MAX_LENGTH) {
    return `${quoted} is ${value.length} characters long, more than ${DB_INSTANCE_IDENTIFIER_MAX_LENGTH} (${RULES})`;
  }
  const bad = value.match(/[^A-Za-z0-9-]/);
  if (bad) return `${quoted} contains ${JSON.stringify(bad[0])} (${RULES})`;
  if (!/^[A-Za-z]/.test(value)) return `${quoted} does not start with a letter (${RULES})`;
  if (value.includes('--')) return `${quoted} contains two consecutive hyphens (${RULES})`;
  if (value.endsWith('-')) return `${quoted} ends with a hyphen (${RULES})`;
  return undefined;
}

export function isValidDbInstanceIdentifier(value: unknown): value is string {
  return describeInvalidIdentifier(value) === undefined;
}

/** How RDS stores (and compares) an identifier. */
export function normalizeDbInstanceIdentifier(value: string): string {
  return normaliseDbInstanceIdentifier(value);
}

/** Whether two identifiers name the same instance. */
export function sameDbInstance(a: string | null | undefined, b: string | null | undefined): boolean {
  return typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}
