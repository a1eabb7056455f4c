// Transient errors on the destination (issue 17, point 2): every polling call and every call that
// creates or changes something in `replicate` and `rollback` is throttled twice; each state
// retries, the run succeeds, the secret points where it should and nothing is left behind. The
// retries are in the history (TaskFailed with the throttling Error, then the state's next attempt).
//
// RDS answers `Throttling` ("Rate exceeded", surfacing as Rds.RdsException), DynamoDB
// ProvisionedThroughputExceededException, the Lambda service TooManyRequestsException (the
// function does not run). Faults are scoped by identifier where a Lambda makes the same call
// (nameReplica and mergeSecret describe the new replica themselves): those are added once the
// run reaches the state concerned (`holdAt`).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { StopDBInstanceCommand } from '@aws-sdk/client-rds';
import { type ExecutionRecord, startTwin, type Twin } from '../../twin/src';
import type { ErrorFault } from '../../twin/src/moto';
import {
  DATABASE,
  DAY_MS,
  destinationSnapshots,
  endpointOf,
  failureSummary,
  inputOf,
  instance,
  instances,
  letTimePass,
  messageLike,
  output,
  replicaIds,
  replicaNameFor,
  replicateOnce,
  type Story,
  secretState,
  setUpStory,
  takeNotices,
} from './helpers/destination';

let twin: Twin;
let story: Story;
let base: Record<string, unknown>;
let first = '';
let second = '';
let third = '';

const RDS_THROTTLED = 'Rds.RdsException';
const DYNAMODB_THROTTLED = 'DynamoDB.ProvisionedThroughputExceededException';
const LAMBDA_THROTTLED = 'Lambda.TooManyRequestsException';
const COPY = `rds-replica-destination-dev-${DATABASE}-*`;

function messageFor(days: number, runId: string): Record<string, unknown> {
  const time = new Date(Date.parse(String(base.snapshotCreateTime)) + days * DAY_MS).toISOString();
  return messageLike(base, time, runId);
}

/** The next two calls of `api` in the destination account (matching `match`) are throttled. */
function throttle(api: string, match?: string, service = 'rds'): ErrorFault {
  const dynamodb = service === 'dynamodb';
  return {
    kind: 'error',
    api,
    service,
    code: dynamodb ? 'ProvisionedThroughputExceededException' : 'Throttling',
    message: dynamodb
      ? 'The level of configured provisioned throughput for the table was exceeded.'
      : 'Rate exceeded',
    count: 2,
    ...(match ? { match } : {}),
    account: twin.accounts.destination,
  };
}

/** The errors of the failed attempts of `state`, in order (TaskFailed events). */
function failedAttempts(exec: ExecutionRecord, state: string): string[] {
  return exec.history.filter((e) => e.awsType === 'TaskFailed' && e.state === state).map((e) => e.error!);
}

/** Throttles not (fully) used: every one must have hit its call twice. */
async function unusedThrottles(): Promise<unknown[]> {
  return (await twin.moto.control.faults()).filter((f) => (f.remaining ?? 0) > 0);
}

async function lockItem(): Promise<unknown> {
  const got = await twin.aws('destination').dynamodb.send(
    new GetItemCommand({
      TableName: story.destination.outputs.StateTableName!,
      Key: { pk: { S: `lock#${DATABASE}` } },
      ConsistentRead: true,
    }),
  );
  return got.Item;
}

/** Runs `machine` and, when it reaches `state`, adds `faults` before that state's call. */
async function runAddingFaultsAt(
  machine: 'replicate' | 'rollback',
  input: unknown,
  state: string,
  faults: ErrorFault[],
): Promise<ExecutionRecord> {
  const arn = twin.machineArn('destination', machine);
  const hold = twin.sfn.holdAt(state, (e) => e.stateMachineArn === arn);
  const exec = twin.start('destination', machine, input);
  await hold.reached;
  await twin.moto.control.addFault(faults);
  hold.release();
  await exec.done;
  await twin.settle();
  return exec;
}

beforeAll(async () => {
  twin = await startTwin();
  story = await setUpStory(twin);
  const initial = await replicateOnce(twin);
  if (initial.status !== 'SUCCEEDED') throw new Error(failureSummary(initial));
  base = inputOf(initial);
  first = output<{ dbInstanceIdentifier: string }>(initial).dbInstanceIdentifier;
  const next = await twin.run('destination', 'replicate', messageFor(1, 'before-throttling'));
  if (next.status !== 'SUCCEEDED') throw new Error(failureSummary(next));
  second = output<{ dbInstanceIdentifier: string }>(next).dbInstanceIdentifier;
  await letTimePass(twin);
  await takeNotices(story);
}, 120_000);

afterAll(async () => {
  await twin?.stop();
});

afterEach(async () => {
  await twin.moto.control.clearFaults();
  twin.lambda.clearFaults();
});

test('replicate: every describe, create, modify, delete, lock and Lambda call throttled twice; the run succeeds and leaves nothing behind', async () => {
  const message = messageFor(2, 'throttled');
  third = replicaNameFor(String(message.snapshotCreateTime));
  expect(await replicaIds(twin)).toEqual([first, second]);
  await twin.moto.control.addFault([
    throttle('PutItem', undefined, 'dynamodb'), // the lock
    throttle('CopyDBSnapshot'),
    throttle('DescribeDBSnapshots', COPY),
    throttle('RestoreDBInstanceFromDBSnapshot'),
    throttle('ModifyDBInstance', third), // deletion protection on
    throttle('ModifyDBInstance', first), // retention: deletion protection off
    throttle('DescribeDBInstances', first), // retention: waiting for protection to go
    throttle('DeleteDBInstance', first),
    throttle('DeleteDBSnapshot', COPY),
    throttle('DeleteItem', undefined, 'dynamodb'), // the lock's release
  ]);
  for (const fn of ['-nameReplica', '-mergeSecret', '-selectRetention'])
    twin.lambda.addFault({ function: `*${fn}`, failure: 'throttle', count: 2 });
  const refusedBefore = twin.lambda.refused.length;

  // nameReplica describes the new replica's name itself: its polls are throttled once it is restored.
  const exec = await runAddingFaultsAt('replicate', message, 'Describe The Replica', [
    throttle('DescribeDBInstances', third),
  ]);

  expect(failureSummary(exec)).toBe(`${exec.name}: SUCCEEDED  `);
  expect(output(exec)).toMatchObject({
    dbInstanceIdentifier: third,
    previousDbInstanceIdentifier: second,
    deleted: [first],
    retentionFailures: [],
  });
  const throttled: Array<[string, string]> = [
    ['Put The Lock Item', DYNAMODB_THROTTLED],
    ['Name The Replica', LAMBDA_THROTTLED],
    ['Copy The Shared Snapshot', RDS_THROTTLED],
    ['Describe The Copy', RDS_THROTTLED],
    ['Restore The Replica', RDS_THROTTLED],
    ['Describe The Replica', RDS_THROTTLED],
    ['Protect The Replica', RDS_THROTTLED],
    ['Point The Secret At The Replica', LAMBDA_THROTTLED],
    ['Select Replicas To Delete', LAMBDA_THROTTLED],
    ['Turn Off Deletion Protection', RDS_THROTTLED],
    ['Describe The Old Replica', RDS_THROTTLED],
    ['Delete The Old Replica', RDS_THROTTLED],
    ['Delete The Snapshot Copy', RDS_THROTTLED],
    ['Release The Database Lock', DYNAMODB_THROTTLED],
  ];
  expect(throttled.map(([state]) => [state, failedAttempts(exec, state)])).toEqual(
    throttled.map(([state, error]) => [state, [error, error]]),
  );
  expect(twin.lambda.refused.slice(refusedBefore).map((r) => r.code)).toEqual(
    Array(6).fill('TooManyRequestsException'),
  );
  expect(await unusedThrottles()).toEqual([]);

  await letTimePass(twin);
  const secret = await secretState(twin);
  const live = await instance(twin, third);
  expect(secret.value).toMatchObject(endpointOf(live!));
  expect([live?.DBInstanceStatus, live?.DeletionProtection]).toEqual(['available', true]);
  expect((await instances(twin)).map((i) => i.DBInstanceIdentifier).sort()).toEqual([second, third]);
  expect(await destinationSnapshots(twin)).toEqual([]);
  expect(await lockItem()).toBeUndefined();
  expect(await takeNotices(story)).toEqual([]);
});

test('rollback to a stopped replica: every call throttled twice; the secret points at it, it runs, nothing else changed', async () => {
  expect((await secretState(twin)).value.dbInstanceIdentifier).toBe(third);
  await twin.aws('destination').rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: second }));
  await letTimePass(twin);
  expect((await instance(twin, second))?.DBInstanceStatus).toBe('stopped');
  await twin.moto.control.addFault([
    throttle('PutItem', undefined, 'dynamodb'), // the lock
    throttle('GetItem', undefined, 'dynamodb'), // the live-replica history
    throttle('DescribeDBInstances', second), // the target's tags and status
    throttle('StartDBInstance', second),
  ]);
  twin.lambda.addFault({ function: '*-mergeSecret', failure: 'throttle', count: 2 });

  const exec = await runAddingFaultsAt(
    'rollback',
    { database: DATABASE, to: 'previous' },
    'Describe The Starting Target',
    [
      throttle('DescribeDBInstances', second), // polling the start
      throttle('PutItem', undefined, 'dynamodb'), // the live-replica record
      throttle('DeleteItem', undefined, 'dynamodb'), // the lock's release
    ],
  );

  expect(failureSummary(exec)).toBe(`${exec.name}: SUCCEEDED  `);
  expect(output(exec)).toEqual({ database: DATABASE, from: third, to: second, dryRun: false });
  const throttled: Array<[string, string]> = [
    ['Put The Lock Item', DYNAMODB_THROTTLED],
    ['Read The Live Replica History', DYNAMODB_THROTTLED],
    ['Describe The Target Replica', RDS_THROTTLED],
    ['Start The Target Replica', RDS_THROTTLED],
    ['Describe The Starting Target', RDS_THROTTLED],
    ['Point The Secret At The Target', LAMBDA_THROTTLED],
    ['Record The Live Replica', DYNAMODB_THROTTLED],
    ['Release The Database Lock', DYNAMODB_THROTTLED],
  ];
  expect(throttled.map(([state]) => [state, failedAttempts(exec, state)])).toEqual(
    throttled.map(([state, error]) => [state, [error, error]]),
  );
  expect(await unusedThrottles()).toEqual([]);

  await letTimePass(twin);
  const target = await instance(twin, second);
  expect(target?.DBInstanceStatus).toBe('available');
  expect((await secretState(twin)).value).toMatchObject(endpointOf(target!));
  expect((await instances(twin)).map((i) => i.DBInstanceIdentifier).sort()).toEqual([second, third]);
  expect((await instance(twin, third))?.DBInstanceStatus).toBe('available');
  expect(await destinationSnapshots(twin)).toEqual([]);
  expect(await lockItem()).toBeUndefined();
  expect(await takeNotices(story)).toEqual([]);
});

describe('rollback while RDS keeps throttling the describe of the target (past the retries)', () => {
  /** Every DescribeDBInstances in the destination account fails `count` times with Throttling. */
  const throttleDescribes = (count: number, match?: string): ErrorFault => ({
    ...throttle('DescribeDBInstances', match),
    count,
  });
  // rds retry policy: the first attempt and 4 retries
  const ATTEMPTS = 5;

  test('throughout: the run fails with RDS error and tells operations, not InvalidInput; nothing changed', async () => {
    const live = (await secretState(twin)).value;
    expect(live.dbInstanceIdentifier).toBe(second);
    await twin.moto.control.addFault(throttleDescribes(2 * ATTEMPTS));

    const exec = await twin.run('destination', 'rollback', { database: DATABASE, to: 'previous' });

    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe(RDS_THROTTLED);
    expect(exec.cause).toContain('Rate exceeded');
    expect(failedAttempts(exec, 'Describe The Target Replica')).toHaveLength(ATTEMPTS);
    expect(failedAttempts(exec, 'Search For The Target Replica')).toHaveLength(ATTEMPTS);
    expect(await unusedThrottles()).toEqual([]);
    const notices = await takeNotices(story);
    expect(notices).toHaveLength(1);
    expect(notices[0]!.message).toMatchObject({
      outcome: 'rollback failed; the database secret was not changed',
      database: DATABASE,
      error: RDS_THROTTLED,
    });
    expect((await secretState(twin)).value).toEqual(live);
    expect((await instances(twin)).map((i) => i.DBInstanceIdentifier).sort()).toEqual([second, third]);
    expect(await lockItem()).toBeUndefined();
  });

  test('until the search: the search finds the target and the rollback completes', async () => {
    await twin.moto.control.addFault(throttleDescribes(ATTEMPTS, third));

    const exec = await twin.run('destination', 'rollback', { database: DATABASE, to: 'previous' });

    expect(failureSummary(exec)).toBe(`${exec.name}: SUCCEEDED  `);
    expect(output(exec)).toEqual({ database: DATABASE, from: second, to: third, dryRun: false });
    expect(failedAttempts(exec, 'Describe The Target Replica')).toHaveLength(ATTEMPTS);
    expect(failedAttempts(exec, 'Search For The Target Replica')).toEqual([]);
    expect(await unusedThrottles()).toEqual([]);
    await letTimePass(twin);
    expect((await secretState(twin)).value).toMatchObject(endpointOf((await instance(twin, third))!));
    expect(await takeNotices(story)).toEqual([]);
    expect(await lockItem()).toBeUndefined();
  });
});
