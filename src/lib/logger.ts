/**
 * The one structured logger: one JSON object per line on stdout (CloudWatch Logs keeps it as is).
 *
 *   logger.info('started execution', { executionName });
 *   const log = logger.child({ requestId: context.awsRequestId });
 *
 * Level from env LOG_LEVEL (DEBUG, INFO, WARN, ERROR, SILENT; default INFO), read when the logger is
 * created. Service name from env POWERTOOLS_SERVICE_NAME or AWS_LAMBDA_FUNCTION_NAME.
 *
 * Secret values never reach the output: any key that names a secret value (password, secret,
 * SecretString, SecretBinary, token-like credentials, ...) is replaced by "[REDACTED]" at any depth,
 * in objects, arrays and Error properties alike. Keys that only *identify* a secret (secretId,
 * secretArn, secretName) are kept: operators need them.
 */

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
const RANK: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40, SILENT: 100 };

export const REDACTED = '[REDACTED]';
const MAX_DEPTH = 8;

/** Keys (lower-cased, without `_`/`-`) that identify a secret rather than hold one. */
const IDENTIFYING = new Set(['secretid', 'secretarn', 'secretname', 'secretids', 'clientrequesttoken']);

/** Whether the value under this key may be a secret value. */
export function isSensitiveKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[_\-\s.]/g, '');
  if (IDENTIFYING.has(k)) return false;
  return (
    k.includes('password') ||
    k.includes('passwd') ||
    k === 'pwd' ||
    k.includes('secret') ||
    k.includes('credential') ||
    k.includes('privatekey') ||
    k.includes('apikey') ||
    k === 'authorization' ||
    k.endsWith('token') ||
    k === 'sessiontoken'
  );
}

/** A deep copy of `value` that is safe to print: sensitive keys redacted, errors expanded, cycles cut. */
export function redact(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'string') return redactJsonText(value, depth, seen);
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'function' || typeof value === 'symbol') return undefined;
    return value;
  }
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  seen.add(value);
  try {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1, seen));
    if (value instanceof Map) return redact(Object.fromEntries(value), depth, seen);
    if (value instanceof Set) return redact([...value], depth, seen);
    const out: Record<string, unknown> = {};
    if (value instanceof Error) {
      out.name = value.name;
      out.message = value.message;
      if (value.stack) out.stack = value.stack;
    }
    for (const [key, item] of Object.entries(value)) {
      if (key === '$response') continue; // SDK v3 raw HTTP response: noise
      out[key] = isSensitiveKey(key) ? REDACTED : redact(item, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/** A string holding a JSON object (a SecretString logged under an innocent key) is redacted too. */
function redactJsonText(text: string, depth: number, seen: WeakSet<object>): string {
  const start = text.trimStart()[0];
  if ((start !== '{' && start !== '[') || text.length > 65536) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  if (parsed === null || typeof parsed !== 'object') return text;
  const safe = JSON.stringify(redact(parsed, depth, seen));
  return safe === JSON.stringify(parsed) ? text : safe;
}

export function parseLogLevel(raw: string | undefined): LogLevel {
  const level = (raw ?? '').trim().toUpperCase();
  if (level === 'WARNING') return 'WARN';
  if (level === 'CRITICAL' || level === 'FATAL') return 'ERROR';
  return level in RANK ? (level as LogLevel) : 'INFO';
}

export interface Logger {
  readonly level: LogLevel;
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger that adds these fields to every line (e.g. the Lambda request id). */
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  service?: string;
  /** Where lines go; defaults to stdout. Tests pass a collector. */
  sink?: (line: string) => void;
  fields?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? parseLogLevel(process.env.LOG_LEVEL);
  const service =
    options.service ??
    process.env.POWERTOOLS_SERVICE_NAME ??
    process.env.AWS_LAMBDA_FUNCTION_NAME ??
    'rds-replicator';
  const sink = options.sink ?? ((line: string) => process.stdout.write(`${line}\n`));
  const base = options.fields ?? {};

  const write = (
    lineLevel: Exclude<LogLevel, 'SILENT'>,
    message: string,
    fields?: Record<string, unknown>,
  ) => {
    if (RANK[lineLevel] < RANK[level]) return;
    const fixed = { level: lineLevel, timestamp: new Date().toISOString(), service, message };
    const entry = redact({ ...base, ...fields }) as Record<string, unknown>;
    // fixed keys first in the line, and a field can never overwrite them
    sink(JSON.stringify(Object.assign({ ...fixed }, entry, fixed)));
  };

  return {
    level,
    debug: (message, fields) => write('DEBUG', message, fields),
    info: (message, fields) => write('INFO', message, fields),
    warn: (message, fields) => write('WARN', message, fields),
    error: (message, fields) => write('ERROR', message, fields),
    child: (fields) => createLogger({ level, service, sink, fields: { ...base, ...fields } }),
  };
}

/** The logger every handler uses. */
export const logger: Logger = createLogger();
