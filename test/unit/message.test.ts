import {
  MAX_MESSAGE_BYTES,
  type MessageExpectations,
  parseReplicationMessage,
  type ReplicationMessage,
} from '../../src/contracts/message';
import { validateMessage } from '../helpers/message-schema';

const validate = validateMessage;

const SOURCE = '111111111111';
const REGION = 'eu-west-1';
const EXPECT: MessageExpectations = {
  sourceAccountId: SOURCE,
  sourceRegion: REGION,
  databases: ['orders-db', 'billing', 'b'],
};

const good: ReplicationMessage = {
  version: 1,
  sourceAccountId: SOURCE,
  sourceRegion: REGION,
  sourceDbInstanceIdentifier: 'orders-db',
  engine: 'postgres',
  engineVersion: '16.4',
  sharedSnapshotArn: `arn:aws:rds:${REGION}:${SOURCE}:snapshot:rds-replica-orders-db-20261123t192147`,
  snapshotCreateTime: '2026-11-23T19:21:47.123Z',
  runId: 'run-6f1c2a_01',
};

const without = (key: keyof ReplicationMessage) => {
  const copy: Record<string, unknown> = { ...good };
  delete copy[key];
  return copy;
};
const arn = (snapshot: string) => `arn:aws:rds:${REGION}:${SOURCE}:snapshot:${snapshot}`;

/** Messages whose verdict depends only on the schema (they agree with the deployment's expectations). */
const corpus: [string, unknown][] = [
  ['the reference message', good],
  ['offset time', { ...good, snapshotCreateTime: '2026-11-23T20:21:47+01:00' }],
  ['lower-case t and z', { ...good, snapshotCreateTime: '2026-11-23t19:21:47z' }],
  ['lower-case t', { ...good, snapshotCreateTime: '2026-11-23t19:21:47.123Z' }],
  ['nanoseconds', { ...good, snapshotCreateTime: '2026-11-23T19:21:47.123456789Z' }],
  ['29 February of a common year', { ...good, snapshotCreateTime: '2026-02-29T00:00:00Z' }],
  ['29 February of 2000', { ...good, snapshotCreateTime: '2000-02-29T00:00:00Z' }],
  ['an engine of 200 KB', { ...good, engine: 'e'.repeat(200 * 1024) }],
  ['engine mysql', { ...good, engine: 'mysql', engineVersion: '8.0.35' }],
  ['engine in capitals', { ...good, engine: 'Postgres' }],
  ['oracle release-update version', { ...good, engineVersion: '19.0.0.0.ru-2024-04.rur-2024-04.r1' }],
  ['engineVersion with a space', { ...good, engineVersion: '16 4' }],
  ['engineVersion starting with a letter', { ...good, engineVersion: 'v16' }],
  ['runId with a space', { ...good, runId: 'run 1' }],
  ['runId with non-ASCII', { ...good, runId: 'lauf-ä' }],
  ['wildcard snapshot', { ...good, sharedSnapshotArn: arn('*') }],
  ['snapshot ../..', { ...good, sharedSnapshotArn: arn('../..') }],
  ['snapshot in capitals', { ...good, sharedSnapshotArn: arn('Rds-Replica') }],
  ['snapshot identifier with --', { ...good, sharedSnapshotArn: arn('a--b') }],
  ['snapshot identifier ending with -', { ...good, sharedSnapshotArn: arn('a-') }],
  ['one-letter snapshot identifier', { ...good, sharedSnapshotArn: arn('a') }],
  [
    'unknown partition',
    { ...good, sharedSnapshotArn: good.sharedSnapshotArn.replace('arn:aws:', 'arn:awsx:') },
  ],
  ['no fraction', { ...good, snapshotCreateTime: '2026-11-23T19:21:47Z' }],
  ['upper-case database', { ...good, sourceDbInstanceIdentifier: 'Orders-DB' }],
  ['one-letter database', { ...good, sourceDbInstanceIdentifier: 'b' }],
  ['unicode engine within 64 code points', { ...good, engine: '😀'.repeat(64) }],
  ['65 code points of engine', { ...good, engine: '😀'.repeat(65) }],
  ['64-char engine', { ...good, engine: 'e'.repeat(64) }],
  ['65-char engine', { ...good, engine: 'e'.repeat(65) }],
  ['empty engine', { ...good, engine: '' }],
  ['empty engineVersion', { ...good, engineVersion: '' }],
  [
    'aws-cn partition',
    { ...good, sharedSnapshotArn: good.sharedSnapshotArn.replace('arn:aws:', 'arn:aws-cn:') },
  ],
  ['80-char runId', { ...good, runId: 'r'.repeat(80) }],
  ['81-char runId', { ...good, runId: 'r'.repeat(81) }],
  ['runId with a dot', { ...good, runId: 'run.1' }],
  ['empty runId', { ...good, runId: '' }],
  ['version 2', { ...good, version: 2 }],
  ['version "1"', { ...good, version: '1' }],
  ['version 1.0 written as 1.0', JSON.parse(JSON.stringify(good).replace('"version":1', '"version":1.0'))],
  ['no version', without('version')],
  ['no runId', without('runId')],
  ['no sharedSnapshotArn', without('sharedSnapshotArn')],
  ['no snapshotCreateTime', without('snapshotCreateTime')],
  ['unknown field', { ...good, extra: true }],
  ['__proto__ field', JSON.parse(JSON.stringify(good).replace('{', '{"__proto__":{"x":1},'))],
  ['numeric account', { ...good, sourceAccountId: 111111111111 }],
  ['11-digit account', { ...good, sourceAccountId: '11111111111' }],
  ['Region in capitals', { ...good, sourceRegion: 'EU-WEST-1' }],
  ['Region without number', { ...good, sourceRegion: 'eu-west' }],
  ['database with --', { ...good, sourceDbInstanceIdentifier: 'orders--db' }],
  ['database ending with -', { ...good, sourceDbInstanceIdentifier: 'orders-' }],
  ['database starting with digit', { ...good, sourceDbInstanceIdentifier: '1orders' }],
  ['64-char database', { ...good, sourceDbInstanceIdentifier: `o${'r'.repeat(63)}` }],
  ['database with newline at the end', { ...good, sourceDbInstanceIdentifier: 'orders-db\n' }],
  [
    'cluster snapshot ARN',
    { ...good, sharedSnapshotArn: good.sharedSnapshotArn.replace(':snapshot:', ':cluster-snapshot:') },
  ],
  ['ARN of an automated snapshot', { ...good, sharedSnapshotArn: arn('rds:orders-db-2026-11-23-19-21') }],
  ['not an ARN', { ...good, sharedSnapshotArn: 'rds-replica-orders' }],
  ['time without zone', { ...good, snapshotCreateTime: '2026-11-23T19:21:47' }],
  ['date only', { ...good, snapshotCreateTime: '2026-11-23' }],
  ['30 February', { ...good, snapshotCreateTime: '2026-02-30T00:00:00Z' }],
  ['hour 24', { ...good, snapshotCreateTime: '2026-11-23T24:00:00Z' }],
  ['epoch number as time', { ...good, snapshotCreateTime: 1795000000000 }],
  ['time longer than 40', { ...good, snapshotCreateTime: `2026-11-23T19:21:47.${'1'.repeat(30)}Z` }],
  ['time of exactly 40', { ...good, snapshotCreateTime: `2026-11-23T19:21:47.${'1'.repeat(19)}Z` }],
  ['null field', { ...good, engine: null }],
  ['array', [good]],
  ['null', null],
  ['string', 'hello'],
  ['number', 1],
  ['empty object', {}],
];

describe('parseReplicationMessage agrees with the JSON schema', () => {
  it.each(corpus)('%s', (_label, value) => {
    const schemaSays = validate(value) as boolean;
    const parser = parseReplicationMessage(JSON.stringify(value), EXPECT);
    expect({ valid: parser.ok, reason: parser.ok ? undefined : parser.reason }).toEqual(
      expect.objectContaining({ valid: schemaSays }),
    );
    // the already-parsed form gives the same verdict
    expect(parseReplicationMessage(value, EXPECT).ok).toBe(schemaSays);
  });

  it('covers both verdicts', () => {
    const verdicts = corpus.map(([, v]) => validate(v));
    expect(verdicts.filter(Boolean).length).toBeGreaterThanOrEqual(8);
    expect(verdicts.filter((v) => !v).length).toBeGreaterThanOrEqual(30);
  });
});

describe('parseReplicationMessage: what only this deployment knows', () => {
  const reject = (value: unknown, expect_ = EXPECT) => {
    const r = parseReplicationMessage(typeof value === 'string' ? value : JSON.stringify(value), expect_);
    if (r.ok) throw new Error('expected a rejection');
    return r.reason;
  };

  it('returns the message itself when it is accepted', () => {
    const r = parseReplicationMessage(JSON.stringify(good), EXPECT);
    expect(r).toEqual({ ok: true, message: good });
  });

  it('rejects another source account, naming the field and both accounts', () => {
    const other = {
      ...good,
      sourceAccountId: '999999999999',
      sharedSnapshotArn: good.sharedSnapshotArn.replace(SOURCE, '999999999999'),
    };
    expect(validate(other)).toBe(true);
    expect(reject(other)).toBe(
      "field 'sourceAccountId' is '999999999999', not the configured source account 111111111111",
    );
  });

  it('rejects a snapshot ARN of another partition than the deployment, naming both', () => {
    const cn = { ...good, sharedSnapshotArn: good.sharedSnapshotArn.replace('arn:aws:', 'arn:aws-cn:') };
    expect(validate(cn)).toBe(true);
    expect(reject(cn, { ...EXPECT, partition: 'aws' })).toBe(
      "field 'sharedSnapshotArn' is in partition 'aws-cn', not in this deployment's partition aws",
    );
    expect(parseReplicationMessage(JSON.stringify(good), { ...EXPECT, partition: 'aws' }).ok).toBe(true);
  });

  it('rejects a snapshot ARN in another account than the source', () => {
    const r = reject({ ...good, sharedSnapshotArn: good.sharedSnapshotArn.replace(SOURCE, '333333333333') });
    expect(r).toContain("field 'sharedSnapshotArn' is in account 333333333333");
  });

  it('rejects a snapshot ARN in another Region than the source', () => {
    const r = reject({ ...good, sharedSnapshotArn: good.sharedSnapshotArn.replace(REGION, 'us-east-1') });
    expect(r).toContain("field 'sharedSnapshotArn' is in Region us-east-1");
  });

  it('rejects another Region when one is configured, accepts any when not', () => {
    const elsewhere = {
      ...good,
      sourceRegion: 'us-east-1',
      sharedSnapshotArn: good.sharedSnapshotArn.replace(REGION, 'us-east-1'),
    };
    expect(reject(elsewhere)).toContain("field 'sourceRegion' is 'us-east-1'");
    const { sourceRegion: _ignored, ...anyRegion } = EXPECT;
    expect(parseReplicationMessage(JSON.stringify(elsewhere), anyRegion).ok).toBe(true);
  });

  it('rejects a database that is not configured; compares identifiers as RDS stores them (lower-case)', () => {
    expect(reject({ ...good, sourceDbInstanceIdentifier: 'payroll' })).toContain(
      "field 'sourceDbInstanceIdentifier' is 'payroll', not one of the configured databases [orders-db, billing, b]",
    );
    // the message carries the identifier as RDS stores it; an upper-case one breaks the schema
    expect(reject({ ...good, sourceDbInstanceIdentifier: 'BILLING' })).toContain(
      "field 'sourceDbInstanceIdentifier' 'BILLING' does not match",
    );
    // a configured list written in another case is normalised, then compared exactly
    const mixed = { ...EXPECT, databases: ['Orders-DB'] };
    expect(parseReplicationMessage({ ...good, sourceDbInstanceIdentifier: 'orders-db' }, mixed).ok).toBe(
      true,
    );
  });

  it('quotes at most about 100 characters of a bad value', () => {
    for (const bad of [
      { ...good, engine: 'x'.repeat(200 * 1024) },
      { ...good, runId: `${'x'.repeat(5000)} ` },
      { ...good, sharedSnapshotArn: arn('x'.repeat(5000)).toUpperCase() },
    ]) {
      const reason = reject(bad);
      expect(reason.length).toBeLessThan(300);
      expect(reason).not.toContain('x'.repeat(101));
    }
  });

  it('rejects oversized input before parsing it', () => {
    const padded = JSON.stringify(good).replace('{', `{${' '.repeat(MAX_MESSAGE_BYTES)}`);
    expect(JSON.parse(padded)).toEqual(good);
    expect(reject(padded)).toMatch(/^message is \d+ bytes, more than 16384$/);
    // counted in bytes, not characters
    const multiByte = JSON.stringify(good).replace('{', `{${'\u00a0'.repeat(MAX_MESSAGE_BYTES / 2 + 1)}`);
    expect(multiByte.length).toBeLessThan(MAX_MESSAGE_BYTES);
    expect(reject(multiByte)).toContain('more than 16384');
  });

  it('names the field and the value in schema rejections', () => {
    expect(reject({ ...good, version: 3 })).toBe(
      "field 'version' is 3, this destination understands versions 1 and 2",
    );
    expect(reject({ ...good, extra: 1 })).toBe("unknown field 'extra' (version 1 has no such field)");
    expect(reject(without('runId'))).toBe("missing field 'runId'");
    expect(reject({ ...good, snapshotCreateTime: '2026-02-30T00:00:00Z' })).toContain(
      "field 'snapshotCreateTime' '2026-02-30T00:00:00Z' is not an RFC 3339 date-time",
    );
    expect(reject('{not json')).toMatch(/^message is not JSON/);
    expect(reject('[]')).toBe('message must be a JSON object, got an array');
  });

  it('never throws, whatever it is given', () => {
    for (const value of [
      undefined,
      Symbol.iterator,
      () => 1,
      10n,
      {
        toJSON: () => {
          throw new Error('x');
        },
      },
    ]) {
      expect(parseReplicationMessage(value, EXPECT).ok).toBe(false);
    }
  });
});
