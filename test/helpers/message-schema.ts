// The replication message's JSON schema, compiled with ajv, for the tests that check the code (the
// parser in src/contracts/message.ts, the message the source state machine builds) against it.
import Ajv2020 from 'ajv/dist/2020';
import schema from '../../src/contracts/replication-message.schema.json';

/**
 * RFC 3339 section 5.6 date-time written independently of src/contracts/time.ts (no leap seconds:
 * see time.ts): the regex checks the shape, a Date round trip checks the calendar.
 */
function rfc3339(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/.exec(
    text,
  );
  if (!m) return false;
  const [, y, mo, d, h, mi, s, , , oh, om] = m;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return false;
  if (oh !== undefined && (Number(oh) > 23 || Number(om) > 59)) return false;
  const date = new Date(`${y}-${mo}-${d}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === `${y}-${mo}-${d}`;
}

const ajv = new Ajv2020({ allErrors: true, strict: true });
ajv.addFormat('date-time', rfc3339);

/** The compiled schema: `validateMessage(x)` is its verdict, `.errors` its reasons. */
export const validateMessage = ajv.compile(schema);

/** The schema's verdict on a message: an empty list when it is valid. */
export function schemaErrors(message: unknown): string[] {
  if (validateMessage(message)) return [];
  return (validateMessage.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
}

export { schema };
