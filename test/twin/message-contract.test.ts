// One message contract (issue 9, points 2 and 7): the trigger's parser and the packaged destination
// `replicate` give the same verdict on every message of one table, run on the twin. A refused
// message ends in InvalidInput before anything is looked up, locked or created; an accepted one
// leaves validation for "Look Up The Database Settings" (and fails later for want of a password in
// the secret, which is beside the point here). Inputs that are not JSON objects end in InvalidInput
// in every state machine of both services. Packaging with `databases=Orders-DB` works on both sides.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import type { SNSEventRecord } from 'aws-lambda';
import { judgeRecord, readConfig, type TriggerConfig } from '../../src/functions/trigger/handler';
import { startTwin, type Twin } from '../../twin/src';
import { createDestinationNetwork } from '../../twin/src/fixtures';
import { instances, snsEvent, statesEntered } from './helpers/destination';

const SOURCE = '111111111111';
const REGION = 'eu-west-1';
const UUID = '6f1c2a5e-0b7d-4c1e-9a3f-2d8e4b6c1a90';
const SNAPSHOT = `rds-replica-source-dev-shared-orders-db-${UUID}`;
const ARN = `arn:aws:rds:${REGION}:${SOURCE}:snapshot:${SNAPSHOT}`;
const FIRST_STATE_AFTER_VALIDATION = 'Look Up The Database Settings';

const good = {
  version: 1,
  sourceAccountId: SOURCE,
  sourceRegion: REGION,
  sourceDbInstanceIdentifier: 'orders-db',
  engine: 'postgres',
  engineVersion: '16.4',
  sharedSnapshotArn: ARN,
  snapshotCreateTime: '2026-11-23T19:21:47.123Z',
  runId: UUID,
};
type Message = Record<string, unknown>;
const withField = (key: string, value: unknown): Message => ({ ...good, [key]: value });
const without = (key: string): Message => {
  const copy: Message = { ...good };
  delete copy[key];
  return copy;
};
const arn = (snapshot: string) => `arn:aws:rds:${REGION}:${SOURCE}:snapshot:${snapshot}`;
const big = (n: number) => 'x'.repeat(n);

/** [what, message, verdict the contract gives]. */
const table: Array<[string, unknown, 'accepted' | 'refused']> = [
  ['the reference message', good, 'accepted'],
  ['a time without fraction', withField('snapshotCreateTime', '2026-11-23T19:21:47Z'), 'accepted'],
  ['a time with nanoseconds', withField('snapshotCreateTime', '2026-11-23T19:21:47.123456789Z'), 'accepted'],
  ['29 February of a leap year', withField('snapshotCreateTime', '2028-02-29T00:00:00Z'), 'accepted'],
  ['29 February of 2000', withField('snapshotCreateTime', '2000-02-29T00:00:00Z'), 'accepted'],
  ['engine mysql 8.0.35', { ...good, engine: 'mysql', engineVersion: '8.0.35' }, 'accepted'],
  [
    'engine oracle-ee with a release-update version',
    { ...good, engine: 'oracle-ee', engineVersion: '19.0.0.0.ru-2024-04.rur-2024-04.r1' },
    'accepted',
  ],
  ['a one-letter snapshot identifier', withField('sharedSnapshotArn', arn('a')), 'accepted'],
  [
    'an ARN of another partition than the deployment (aws-cn)',
    withField('sharedSnapshotArn', ARN.replace('arn:aws:', 'arn:aws-cn:')),
    'refused',
  ],
  ['a runId with underscores', withField('runId', 'run_2026-11-23_A'), 'accepted'],
  // version
  ['version 2', withField('version', 2), 'refused'],
  ['version "1"', withField('version', '1'), 'refused'],
  ['no version', without('version'), 'refused'],
  ['version null', withField('version', null), 'refused'],
  // account, Region, database
  ['another source account', withField('sourceAccountId', '999999999999'), 'refused'],
  ['a numeric account', withField('sourceAccountId', 111111111111), 'refused'],
  ['another Region', withField('sourceRegion', 'us-east-1'), 'refused'],
  ['the Region in capitals', withField('sourceRegion', 'EU-WEST-1'), 'refused'],
  [
    'a database this deployment does not replicate',
    withField('sourceDbInstanceIdentifier', 'billing-db'),
    'refused',
  ],
  ['the database in capitals', withField('sourceDbInstanceIdentifier', 'Orders-DB'), 'refused'],
  ['the database with a trailing newline', withField('sourceDbInstanceIdentifier', 'orders-db\n'), 'refused'],
  // engine and version
  ['an engine of 200 KB', withField('engine', big(200 * 1024)), 'refused'],
  ['an empty engine', withField('engine', ''), 'refused'],
  ['an engine in capitals', withField('engine', 'Postgres'), 'refused'],
  ['an engine that RDS does not have', withField('engine', 'postgres ; drop'), 'refused'],
  ['an engine that is a list', withField('engine', ['postgres']), 'refused'],
  ['an empty engineVersion', withField('engineVersion', ''), 'refused'],
  ['an engineVersion with a space', withField('engineVersion', '16.4 beta'), 'refused'],
  ['an engineVersion with non-ASCII', withField('engineVersion', '16.4é'), 'refused'],
  ['an engineVersion starting with a letter', withField('engineVersion', 'v16'), 'refused'],
  // snapshot ARN
  ['a wildcard snapshot', withField('sharedSnapshotArn', arn('*')), 'refused'],
  ['a snapshot called ../..', withField('sharedSnapshotArn', arn('../..')), 'refused'],
  [
    'a snapshot of another account',
    withField('sharedSnapshotArn', ARN.replace(`:${SOURCE}:`, ':333333333333:')),
    'refused',
  ],
  [
    'a snapshot in another Region',
    withField('sharedSnapshotArn', ARN.replace(`:${REGION}:`, ':us-east-1:')),
    'refused',
  ],
  [
    'a cluster snapshot',
    withField('sharedSnapshotArn', ARN.replace(':snapshot:', ':cluster-snapshot:')),
    'refused',
  ],
  [
    'an automated snapshot name',
    withField('sharedSnapshotArn', arn('rds:orders-db-2026-11-23-19-21')),
    'refused',
  ],
  ['an empty snapshot identifier', withField('sharedSnapshotArn', arn('')), 'refused'],
  ['a snapshot identifier starting with a digit', withField('sharedSnapshotArn', arn('1abc')), 'refused'],
  ['a snapshot identifier with --', withField('sharedSnapshotArn', arn('a--b')), 'refused'],
  ['a snapshot identifier ending with -', withField('sharedSnapshotArn', arn('abc-')), 'refused'],
  ['a snapshot identifier in capitals', withField('sharedSnapshotArn', arn('Shared-Orders')), 'refused'],
  [
    'a partition that does not exist',
    withField('sharedSnapshotArn', ARN.replace('arn:aws:', 'arn:awsx:')),
    'refused',
  ],
  ['not an ARN', withField('sharedSnapshotArn', SNAPSHOT), 'refused'],
  // time
  ['a lower-case t', withField('snapshotCreateTime', '2026-11-23t19:21:47.123Z'), 'refused'],
  ['a lower-case z', withField('snapshotCreateTime', '2026-11-23T19:21:47.123z'), 'refused'],
  ['an offset instead of Z', withField('snapshotCreateTime', '2026-11-23T20:21:47.123+01:00'), 'refused'],
  ['a time without zone', withField('snapshotCreateTime', '2026-11-23T19:21:47'), 'refused'],
  ['a date only', withField('snapshotCreateTime', '2026-11-23'), 'refused'],
  ['30 February', withField('snapshotCreateTime', '2026-02-30T00:00:00Z'), 'refused'],
  ['29 February of a common year', withField('snapshotCreateTime', '2026-02-29T00:00:00Z'), 'refused'],
  ['29 February of 1900', withField('snapshotCreateTime', '1900-02-29T00:00:00Z'), 'refused'],
  ['31 April', withField('snapshotCreateTime', '2026-04-31T00:00:00Z'), 'refused'],
  ['hour 24', withField('snapshotCreateTime', '2026-11-23T24:00:00Z'), 'refused'],
  ['an epoch number as time', withField('snapshotCreateTime', 1795000000000), 'refused'],
  // runId
  ['a runId with a space', withField('runId', 'run 1'), 'refused'],
  ['a runId with non-ASCII', withField('runId', 'lauf-ä'), 'refused'],
  ['an empty runId', withField('runId', ''), 'refused'],
  ['a runId with a dot', withField('runId', 'run.1'), 'refused'],
  ['a runId that is a number', withField('runId', 7), 'refused'],
  // shape
  ['an unknown field', { ...good, instanceClass: 'db.r7g.16xlarge' }, 'refused'],
  // the optional option group of the source instance (issue 14)
  ['a non-default option group', withField('optionGroupName', 'orders-audit'), 'accepted'],
  ['a default option group', withField('optionGroupName', 'default:mysql-8-0'), 'refused'],
  ['an empty option group', withField('optionGroupName', ''), 'refused'],
  ['an option group and an unknown field', { ...good, optionGroupName: 'orders-audit', x: 1 }, 'refused'],
  ['a missing field and an unknown one', { ...without('runId'), runID: UUID }, 'refused'],
  ['an empty object', {}, 'refused'],
  ['null', null, 'refused'],
  ['an array', [good], 'refused'],
  ['a string', 'orders-db', 'refused'],
  ['a number', 1, 'refused'],
];

let twin: Twin;
let trigger: TriggerConfig;

beforeAll(async () => {
  twin = await startTwin();
  const network = await createDestinationNetwork(twin);
  const source = await twin.deploy('source');
  const destination = await twin.deploy('destination', {
    params: { vpcSecurityGroupIds: network.securityGroupId, sourceKmsKeyArn: source.outputs.KmsKeyArn! },
  });
  const fn = Object.values(destination.functions).find((f) => f.name.endsWith('-trigger'))!;
  // the trigger's own configuration, read from the deployed function's environment
  const saved = process.env;
  process.env = { ...saved, ...fn.environment };
  try {
    trigger = readConfig();
  } finally {
    process.env = saved;
  }
}, 180_000);

afterAll(async () => {
  await twin?.stop();
});

function triggerVerdict(message: unknown): { verdict: 'accepted' | 'refused'; reason?: string } {
  const record = snsEvent(trigger.topicArn, JSON.stringify(message)).Records[0] as unknown as SNSEventRecord;
  const v = judgeRecord(record, trigger);
  return v.ok ? { verdict: 'accepted' } : { verdict: 'refused', reason: v.reason };
}

test('the table has at least 40 messages and both verdicts', () => {
  expect(table.length).toBeGreaterThanOrEqual(40);
  expect(table.filter(([, , v]) => v === 'accepted').length).toBeGreaterThanOrEqual(8);
  expect(table.filter(([, , v]) => v === 'refused').length).toBeGreaterThanOrEqual(30);
});

describe('the trigger and the packaged replicate give the same verdict', () => {
  test.each(table)('%s', async (_what, message, expected) => {
    const parser = triggerVerdict(message);
    const exec = await twin.run('destination', 'replicate', message);
    const entered = statesEntered(exec);
    const machine: 'accepted' | 'refused' = entered.includes(FIRST_STATE_AFTER_VALIDATION)
      ? 'accepted'
      : 'refused';

    expect({ parser: parser.verdict, machine }).toEqual({ parser: expected, machine: expected });
    if (expected === 'refused') {
      expect(exec.status).toBe('FAILED');
      expect(exec.error).toBe('InvalidInput');
      // the Cause says what is wrong and never quotes more than about 100 characters of a value
      expect(exec.cause).toMatch(/field '\w+'|JSON object|fields that version 1 does not define/);
      expect(exec.cause!.length).toBeLessThan(600);
      expect(exec.cause).not.toContain(big(101));
      expect(parser.reason!.length).toBeLessThan(300);
      expect(parser.reason).not.toContain(big(101));
      // a message with one defect: both name the same field
      const named = (text: string) => /^(?:missing )?field '(\w+)'/.exec(text)?.[1];
      if (named(parser.reason!) && named(exec.cause!) && !/unknown|an empty object/.test(_what)) {
        expect(named(exec.cause!)).toBe(named(parser.reason!));
      }
    }
  });

  test('nothing was created by any of them', async () => {
    expect(await instances(twin)).toEqual([]);
    const snapshots = await twin
      .aws('destination')
      .rds.send(new DescribeDBSnapshotsCommand({ SnapshotType: 'manual' }));
    expect(snapshots.DBSnapshots ?? []).toEqual([]);
  });
});

describe('inputs that are not JSON objects end in InvalidInput in every state machine', () => {
  const inputs: Array<[string, unknown]> = [
    ['null', null],
    ['an array', [{ database: 'orders-db' }]],
    ['a string', 'orders-db'],
    ['a number', 42],
    ['a boolean', true],
  ];

  const machines: Array<['source' | 'destination', string]> = [
    ['destination', 'replicate'],
    ['destination', 'rollback'],
    ['source', 'replicate'],
    ['source', 'replicateDatabase'],
  ];
  for (const [side, machine] of machines) {
    test.each(inputs)(`${side} ${machine}: %s`, async (_what, input) => {
      const exec = await twin.run(side, machine, input);
      expect(`${exec.status} ${exec.error}`).toBe('FAILED InvalidInput');
      expect(exec.cause).toMatch(/JSON object/);
    });
  }
});

describe('database identifiers are compared the way RDS stores them (lower-case) on both sides', () => {
  test('both services package with databases=Orders-DB and accept a message for orders-db', async () => {
    await twin.reset();
    const network = await createDestinationNetwork(twin);
    const source = await twin.deploy('source', { params: { databases: 'Orders-DB' } });
    // the configured list reaches the definition normalised
    expect(JSON.stringify(source.template)).toContain('orders-db');
    expect(JSON.stringify(source.template)).not.toContain('Orders-DB');
    const destination = await twin.deploy('destination', {
      params: { vpcSecurityGroupIds: network.securityGroupId, databases: 'Orders-DB' },
    });
    const fn = Object.values(destination.functions).find((f) => f.name.endsWith('-trigger'))!;
    expect(fn.environment.DATABASES).toBe('orders-db');
    const config: TriggerConfig = {
      ...trigger,
      expect: { ...trigger.expect, databases: fn.environment.DATABASES!.split(',') },
    };
    const record = snsEvent(config.topicArn, JSON.stringify(good)).Records[0] as unknown as SNSEventRecord;
    expect(judgeRecord(record, config).ok).toBe(true);
    const exec = await twin.run('destination', 'replicate', good);
    expect(statesEntered(exec)).toContain(FIRST_STATE_AFTER_VALIDATION);
    // the secret the stack created is named after the normalised identifier
    expect(JSON.stringify(destination.template)).toContain('rds-replica/dev/orders-db-');
    expect(JSON.stringify(destination.template)).not.toContain('Orders-DB');
  }, 240_000);

  test('a time with a lower-case t is refused by both', async () => {
    const message = withField('snapshotCreateTime', '2026-11-23t19:21:47.123Z');
    expect(triggerVerdict(message).verdict).toBe('refused');
    const exec = await twin.run('destination', 'replicate', message);
    expect(`${exec.status} ${exec.error}`).toBe('FAILED InvalidInput');
    expect(exec.cause).toContain("'snapshotCreateTime'");
  });
});
