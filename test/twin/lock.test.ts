// The database lock is held through the secret switch (issue 17, point 3). A run is held at the
// switch ("Point The Secret At The Replica": its replica is restored, available and protected, the
// secret not yet moved) while a second replication and a rollback of the same database start:
// both are refused and the held run still goes live. A run whose final release finds the lock no
// longer its own (the lock was lost) says so: it notifies and ends in LockLost.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { DeleteItemCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { type ExecutionRecord, startTwin, type Twin } from '../../twin/src';
import {
  DATABASE,
  DAY_MS,
  DEPLOYMENT_ID,
  destinationSnapshots,
  failureSummary,
  inputOf,
  instance,
  instances,
  letTimePass,
  messageLike,
  output,
  replicaNameFor,
  replicateOnce,
  type Story,
  secretState,
  setUpStory,
  statesEntered,
  TAG,
  takeNotices,
} from './helpers/destination';

let twin: Twin;
let story: Story;
let base: Record<string, unknown>;
let runs = 0;

const SWITCH = 'Point The Secret At The Replica';
const INTRUDER =
  'arn:aws:states:eu-west-1:222222222222:execution:rds-replica-destination-dev-replicate:intruder';

function nextMessage(): Record<string, unknown> {
  runs++;
  const time = new Date(Date.parse(String(base.snapshotCreateTime)) + runs * DAY_MS).toISOString();
  return messageLike(base, time, `lock-test-${runs}`);
}

const lockKey = { pk: { S: `lock#${DATABASE}` } };
const table = () => story.destination.outputs.StateTableName!;

async function lockHolder(): Promise<string | undefined> {
  const got = await twin
    .aws('destination')
    .dynamodb.send(new GetItemCommand({ TableName: table(), Key: lockKey, ConsistentRead: true }));
  return got.Item?.holder?.S;
}

/** Starts a replication that stops at the secret switch; resolves once it sits there. */
async function replicationHeldAtTheSwitch(): Promise<{ first: ExecutionRecord; release: () => void }> {
  const replicate = twin.machineArn('destination', 'replicate');
  const hold = twin.sfn.holdAt(SWITCH, (e) => e.stateMachineArn === replicate);
  const first = twin.start('destination', 'replicate', nextMessage());
  const reached = await hold.reached;
  expect(reached).toBe(first);
  return { first, release: hold.release };
}

beforeAll(async () => {
  twin = await startTwin();
  story = await setUpStory(twin);
  const initial = await replicateOnce(twin);
  if (initial.status !== 'SUCCEEDED') throw new Error(failureSummary(initial));
  base = inputOf(initial);
  await letTimePass(twin);
  await takeNotices(story);
}, 120_000);

afterAll(async () => {
  await twin?.stop();
});

test('a replication and a rollback started while a run sits between "replica available" and the switch are refused; that run goes live', async () => {
  const liveBefore = (await secretState(twin)).value.dbInstanceIdentifier;
  const { first, release } = await replicationHeldAtTheSwitch();
  const replica = replicaNameFor(String(inputOf(first).snapshotCreateTime));
  // Where the first run sits: its replica is available and protected, the secret not yet moved.
  const restored = await instance(twin, replica);
  expect([restored?.DBInstanceStatus, restored?.DeletionProtection]).toEqual(['available', true]);
  expect((await secretState(twin)).value.dbInstanceIdentifier).toBe(liveBefore);
  expect(await lockHolder()).toBe(first.executionArn);

  const second = twin.start('destination', 'replicate', nextMessage());
  await second.done;
  const rollback = twin.start('destination', 'rollback', { database: DATABASE, to: 'previous' });
  await rollback.done;

  for (const refused of [second, rollback]) {
    expect(`${refused.status} ${refused.error}`).toBe('FAILED ReplicationAlreadyRunning');
    expect(refused.cause).toContain(first.executionArn);
    expect(refused.cause).toContain(DATABASE);
  }
  expect(statesEntered(second)).not.toContain('Name The Replica');
  expect(statesEntered(rollback)).not.toContain('Point The Secret At The Target');
  expect(first.status).toBe('RUNNING');
  expect(await lockHolder()).toBe(first.executionArn);

  release();
  await first.done;
  await twin.settle();
  expect(failureSummary(first)).toBe(`${first.name}: SUCCEEDED  `);
  expect(output<{ dbInstanceIdentifier: string }>(first).dbInstanceIdentifier).toBe(replica);
  const secret = await secretState(twin);
  expect(secret.value.dbInstanceIdentifier).toBe(replica);
  expect(secret.value.host).toBe((await instance(twin, replica))?.Endpoint?.Address);
  expect(await lockHolder()).toBeUndefined();
  // The refused replication created nothing; only the first run's snapshot copy existed, and it is gone.
  await letTimePass(twin);
  const secondRun = inputOf<{ runId: string }>(second).runId;
  expect((await instances(twin)).filter((i) => i.TagList?.some((t) => t.Value === secondRun))).toEqual([]);
  expect(await destinationSnapshots(twin)).toEqual([]);
  const notices = await takeNotices(story);
  expect(notices.map((n) => [n.subject, n.message.execution, n.message.error])).toEqual([
    [`${DEPLOYMENT_ID}: replication failed`, second.executionArn, 'ReplicationAlreadyRunning'],
    [`${DEPLOYMENT_ID}: rollback failed`, rollback.executionArn, 'ReplicationAlreadyRunning'],
  ]);
});

test('a replication whose lock was taken from it before the end: the switch stands, LockLost, operators notified', async () => {
  const { first, release } = await replicationHeldAtTheSwitch();
  const replica = replicaNameFor(String(inputOf(first).snapshotCreateTime));
  // Someone overwrites the lock item while the run holds it.
  await twin.aws('destination').dynamodb.send(
    new PutItemCommand({
      TableName: table(),
      Item: { ...lockKey, holder: { S: INTRUDER }, database: { S: DATABASE } },
    }),
  );
  release();
  await first.done;
  await twin.settle();

  expect(first.status).toBe('FAILED');
  expect(first.error).toBe('LockLost');
  expect(first.cause).toContain(`the replica ${replica} is live`);
  expect(first.cause).toContain(`lock#${DATABASE}`);
  // The switch happened and stands: the secret points at the new replica.
  expect((await secretState(twin)).value.dbInstanceIdentifier).toBe(replica);
  expect((await instance(twin, replica))?.DBInstanceStatus).toBe('available');
  // The lock is not ours: it was left as found.
  expect(await lockHolder()).toBe(INTRUDER);
  const notices = await takeNotices(story);
  expect(notices).toHaveLength(1);
  expect(notices[0]!.subject).toBe(`${DEPLOYMENT_ID}: replication done, but its lock was lost`);
  expect(notices[0]!.message).toMatchObject({
    database: DATABASE,
    execution: first.executionArn,
    dbInstanceIdentifier: replica,
    error: 'LockLost',
    cause: first.cause,
  });
  expect(
    (await instances(twin)).filter((i) =>
      i.TagList?.some((t) => t.Key === TAG.runId && t.Value === inputOf<{ runId: string }>(first).runId),
    ),
  ).toHaveLength(1);
  await twin.aws('destination').dynamodb.send(new DeleteItemCommand({ TableName: table(), Key: lockKey }));
});

test('a rollback whose lock was taken from it before the end: LockLost, operators notified', async () => {
  const live = String((await secretState(twin)).value.dbInstanceIdentifier);
  const rollbackArn = twin.machineArn('destination', 'rollback');
  const hold = twin.sfn.holdAt('Point The Secret At The Target', (e) => e.stateMachineArn === rollbackArn);
  const rollback = twin.start('destination', 'rollback', { database: DATABASE, to: 'previous' });
  await hold.reached;
  await twin.aws('destination').dynamodb.send(new DeleteItemCommand({ TableName: table(), Key: lockKey }));
  hold.release();
  await rollback.done;
  await twin.settle();

  expect(`${rollback.status} ${rollback.error}`).toBe('FAILED LockLost');
  expect(rollback.cause).toContain(`from ${live} to `);
  const target = (await secretState(twin)).value.dbInstanceIdentifier;
  expect(target).not.toBe(live);
  expect(rollback.cause).toContain(`to ${target}`);
  const notices = await takeNotices(story);
  expect(notices.map((n) => [n.subject, n.message.error])).toEqual([
    [`${DEPLOYMENT_ID}: rollback done, but its lock was lost`, 'LockLost'],
  ]);
  expect(await lockHolder()).toBeUndefined();
});
