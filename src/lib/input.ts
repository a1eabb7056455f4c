/**
 * Compact validators for Lambda inputs and environment variables (no schema library in the
 * bundles). They throw InvalidInput / InvalidConfiguration with the field, the value and the fix.
 */
import { describeInvalidIdentifier } from '../contracts/rds';
import { parseDateTime } from '../contracts/time';
import { InvalidConfiguration, InvalidInput, show } from './errors';

export type Input = Record<string, unknown>;

/** The event must be a JSON object (the state machine's Payload). */
export function object(event: unknown, what: string): Input {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new InvalidInput(`${what} input must be a JSON object, got ${show(event)}`);
  }
  return event as Input;
}

export function string(input: Input, field: string, what: string, maxLength = 2048): string {
  const value = input[field];
  if (typeof value !== 'string' || value === '' || value.length > maxLength) {
    throw new InvalidInput(
      `${what} input field '${field}' must be a non-empty string of at most ${maxLength} characters, got ${show(value)}`,
    );
  }
  return value;
}

export function dbInstanceIdentifier(input: Input, field: string, what: string): string {
  const value = input[field];
  const problem = describeInvalidIdentifier(value);
  if (problem) throw new InvalidInput(`${what} input field '${field}': ${problem}`);
  return value as string;
}

/** An identifier, or null/absent. */
export function optionalDbInstanceIdentifier(input: Input, field: string, what: string): string | null {
  const value = input[field];
  if (value === undefined || value === null || value === '') return null;
  return dbInstanceIdentifier(input, field, what);
}

export function dateTime(input: Input, field: string, what: string): string {
  const value = input[field];
  if (parseDateTime(value) === undefined) {
    throw new InvalidInput(
      `${what} input field '${field}' must be an RFC 3339 date-time such as 2026-11-23T19:21:47.123Z, got ${show(value)}`,
    );
  }
  return value as string;
}

export function integer(input: Input, field: string, what: string, min: number, max: number): number {
  const raw = input[field];
  // the state machine may hand over a number from params as a string
  const value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidInput(
      `${what} input field '${field}' must be an integer from ${min} to ${max}, got ${show(raw)}`,
    );
  }
  return value;
}

/** A required environment variable. */
export function env(name: string): string {
  const value = process.env[name]?.trim();
  if (!value) {
    throw new InvalidConfiguration(
      `environment variable ${name} is not set (set it in the function's environment)`,
    );
  }
  return value;
}

export function optionalEnv(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value ? value : undefined;
}
