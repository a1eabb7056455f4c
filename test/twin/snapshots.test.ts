process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

// Snapshots, retention and quotas (README), on both services.
//
// The manual DB snapshot quota (issue 9, point 9; DESIGN.md safety invariant 5): a run that would
// take an account past its quota (AccountQuotaName ManualSnapshots, 100 per Region unless raised)
// stops before it creates anything, with an Error naming the quota, the numbers and the fix; the
// operations topic hears of it. The twin models the quota (twin/moto/twin_moto.py); its raw refusal
// (SnapshotQuotaExceeded, when nothing checks first) is covered in moto.test.ts.
//
// Source retention never deletes a shared copy a destination may still be copying (issue 9, point
// 6). RDS: deleting a source snapshot while a copy of it is still `copying` can make that copy fail
// (the twin makes it fail). The rule: a recorded copy beyond keepSharedSnapshots is deleted only once
// it was shared more than destinationCopyGraceMinutes ago (default 1500).
//
// One twin for the file: both services deployed (setUpStory; the source keeps a single shared
// copy), one source replication that succeeds (the destination's later runs reuse its message),
// then each side refused by its quota in turn, then the retention story, last (it moves the clock).
import { CreateDBSnapshotCommand, DescribeAccountAttributesCommand } from '@aws-sdk/client-rds';
import { SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { type ExecutionRecord, SOURCE_ACCOUNT, startTwin, type Twin } from '../../twin/src';
import {
  DATABASE,
  DAY_MS,
  DEPLOYMENT_ID as DESTINATION_DEPLOYMENT_ID,
  destinationExecutions,
  destinationSnapshots,
  statesEntered as destinationStatesEntered,
  failureSummary,
  HOUR_MS,
  inputOf,
  letTimePass,
  messageLike,
  replicaIds,
  replicateOnce,
  type SecretState,
  type Story,
  secretState,
  setUpStory,
  statesEntered,
  takeNotices,
} from './helpers/destination';
import {
  childOf,
  childrenOf,
  manualSnapshots,
  outcomeOf,
  type SourceStory,
  sharedPrefix,
  snapshotIdsOf,
  statesEntered as sourceStatesEntered,
  tableItems,
} from './helpers/source';

let twin: Twin;
let story: Story;
/** The message of the first (successful) replication. */
let base: Record<string, unknown>;

beforeAll(async () => {
  twin = await startTwin();
  story = await setUpStory(twin, {}, { keepSharedSnapshots: '1' });
  const first = await replicateOnce(twin);
  if (first.status !== 'SUCCEEDED') throw new Error(failureSummary(first));
  base = inputOf(first);
  await takeNotices(story);
}, 120_000);

afterAll(async () => {
  // A failed assertion may leave a slow destination run polling: let it end first.
  await twin?.moto.control.clearFaults();
  await twin?.settle();
  await twin?.stop();
});

afterEach(async () => {
  await twin.settle();
  await twin.moto.control.clearFaults();
  for (const account of [SOURCE_ACCOUNT, twin.accounts.destination]) {
    await twin.moto.control.setSnapshotQuota(100, { account });
  }
});

async function quotaOf(side: 'source' | 'destination') {
  const out = await twin.aws(side).rds.send(new DescribeAccountAttributesCommand({}));
  return out.AccountQuotas?.find((q) => q.AccountQuotaName === 'ManualSnapshots');
}

/** What tableItems needs to read the source service's table. */
const sourceTable = () => ({ twin, tableName: story.source.outputs.TableName! }) as SourceStory;

/** An SQS queue of the source account on the source's operations topic (set up once). */
let sourceNotices: string | undefined;
async function sourceNoticeQueue(): Promise<string> {
  if (sourceNotices) return sourceNotices;
  const { sqs, sns } = twin.aws('source');
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: 'source-operations-notices' }));
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  await sns.send(
    new SubscribeCommand({
      TopicArn: story.source.outputs.OperationsTopicArn!,
      Protocol: 'sqs',
      Endpoint: attributes.Attributes!.QueueArn,
    }),
  );
  sourceNotices = queue.QueueUrl!;
  return sourceNotices;
}

test('source: quota 3 with 2 snapshots used, a run that needs 2 more is refused before anything is created', async () => {
  const { rds, sqs } = twin.aws('source');
  const noticeQueue = await sourceNoticeQueue();
  // 2 used: the shared copy the first replication keeps, and an operator's own manual snapshot.
  await rds.send(
    new CreateDBSnapshotCommand({ DBInstanceIdentifier: DATABASE, DBSnapshotIdentifier: 'by-hand' }),
  );
  await letTimePass(twin);
  const before = (await manualSnapshots(twin)).map((s) => s.DBSnapshotIdentifier).sort();
  const used = before.length;
  expect(used).toBe(2);
  await twin.moto.control.setSnapshotQuota(3, { account: SOURCE_ACCOUNT });
  expect(await quotaOf('source')).toEqual({ AccountQuotaName: 'ManualSnapshots', Used: 2, Max: 3 });
  const items = await tableItems(sourceTable());

  const run: ExecutionRecord = await twin.run('source', 'replicate', { databases: [DATABASE] });

  expect(run.status).toBe('FAILED');
  expect(run.error).toBe('SnapshotQuotaWouldBeExceeded');
  expect(run.cause).toContain('ManualSnapshots');
  expect(run.cause).toContain('2 of 3 used');
  expect(run.cause).toContain('needs 2');
  expect(run.cause).toContain(SOURCE_ACCOUNT);
  expect(run.cause).toMatch(/delete manual snapshots .*or request a quota increase .*Service Quotas/i);
  // Nothing started, nothing created, no lock or record written.
  expect(childrenOf(twin, run)).toEqual([]);
  expect(statesEntered(run)).not.toContain('Replicate Each Database');
  expect((await manualSnapshots(twin)).map((s) => s.DBSnapshotIdentifier).sort()).toEqual(before);
  expect(await tableItems(sourceTable())).toEqual(items);
  // The operators are told (a scheduled run has nobody watching it).
  const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: noticeQueue, MaxNumberOfMessages: 10 }));
  const notices = (got.Messages ?? []).map((m) => JSON.parse(JSON.parse(m.Body!).Message));
  expect(notices).toEqual([
    expect.objectContaining({ error: 'SnapshotQuotaWouldBeExceeded', cause: run.cause }),
  ]);

  // With room for the run it goes ahead.
  await twin.moto.control.setSnapshotQuota(4, { account: SOURCE_ACCOUNT });
  const next = await twin.run('source', 'replicate', { databases: [DATABASE] });
  expect(failureSummary(next)).toBe(`${next.name}: SUCCEEDED  `);
});

test('destination: a run that would exceed the quota fails before the copy, lock released, secret untouched, notified', async () => {
  await letTimePass(twin);
  const before: { secret: SecretState; replicas: string[]; snapshots: string[] } = {
    secret: await secretState(twin),
    replicas: await replicaIds(twin),
    snapshots: await destinationSnapshots(twin),
  };
  const used = before.snapshots.length;
  await twin.moto.control.setSnapshotQuota(used, { account: twin.accounts.destination });
  await takeNotices(story);
  const time = new Date(Date.parse(String(base.snapshotCreateTime)) + DAY_MS).toISOString();

  const exec = await twin.run('destination', 'replicate', messageLike(base, time, 'over-quota'));

  expect(exec.status).toBe('FAILED');
  expect(exec.error).toBe('SnapshotQuotaWouldBeExceeded');
  expect(exec.cause).toContain('ManualSnapshots');
  expect(exec.cause).toContain(`${used} of ${used} used`);
  expect(exec.cause).toContain('needs 1');
  expect(exec.cause).toContain(twin.accounts.destination);
  expect(exec.cause).toMatch(/Service Quotas/);
  const entered = statesEntered(exec);
  expect(entered).toContain('Take The Database Lock');
  expect(entered).not.toContain('Copy The Shared Snapshot');
  expect(entered).not.toContain('Name The Replica');
  expect(entered).toContain('Release The Lock After Failure');
  await letTimePass(twin);
  expect(await secretState(twin)).toEqual(before.secret);
  expect(await replicaIds(twin)).toEqual(before.replicas);
  expect(await destinationSnapshots(twin)).toEqual(before.snapshots);
  const notices = await takeNotices(story);
  expect(notices).toHaveLength(1);
  expect(notices[0]!.message).toMatchObject({ error: 'SnapshotQuotaWouldBeExceeded', cause: exec.cause });

  // The lock was released: with room again the next run replicates.
  await twin.moto.control.setSnapshotQuota(used + 1, { account: twin.accounts.destination });
  const later = new Date(Date.parse(time) + DAY_MS).toISOString();
  const ok = await twin.run('destination', 'replicate', messageLike(base, later, 'within-quota'));
  expect(failureSummary(ok)).toBe(`${ok.name}: SUCCEEDED  `);
});

// ---- retention grace (last: it moves the clock past the grace) --------------------------------

const GRACE_MINUTES = 1500;

/** Starts a source run and waits for it alone (not for the destination runs it sets off). */
async function sourceRun(name: string): Promise<ExecutionRecord> {
  const exec = twin.start('source', 'replicate', { databases: [DATABASE] }, name);
  await exec.done;
  if (exec.status !== 'SUCCEEDED') throw new Error(failureSummary(exec));
  return exec;
}

/** The destination run started for a source run's message. */
async function destinationRunFor(source: ExecutionRecord): Promise<ExecutionRecord> {
  for (let i = 0; i < 200; i++) {
    const found = destinationExecutions(twin, 'replicate').find((e) => inputOf(e).runId === source.name);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no destination run for ${source.name}`);
}

test('retention: a copy a slow destination is still copying survives the next source run; a run after the grace deletes it', async () => {
  // The destination's copies stay `copying` until the fault is cleared.
  await twin.moto.control.addFault({
    kind: 'never-finishes',
    resource: 'snapshot',
    match: `${DESTINATION_DEPLOYMENT_ID}-*`,
    account: twin.accounts.destination,
  });

  const notShared = async () =>
    (await snapshotIdsOf(twin, DATABASE)).filter((id) => !id.startsWith(sharedPrefix(DATABASE)));
  const othersBefore = await notShared();

  const first = await sourceRun('close-first');
  const copy1 = outcomeOf(first, DATABASE).sharedSnapshotId!;
  const slow = await destinationRunFor(first);
  expect(slow.status).toBe('RUNNING');

  const second = await sourceRun('close-second');
  const copy2 = outcomeOf(second, DATABASE).sharedSnapshotId!;
  expect(copy1).toMatch(new RegExp(`^${sharedPrefix(DATABASE)}`));
  expect(copy2).not.toBe(copy1);
  // keepSharedSnapshots=1 makes copy 1 due, but it was shared minutes ago: it stays.
  // (Copies of the earlier tests of this file are within the grace too.)
  const retention = outcomeOf(second, DATABASE).retention!;
  expect(retention[0]).toEqual({ snapshotId: copy2, action: 'kept' });
  expect(retention.find((r) => r.snapshotId === copy1)).toEqual({
    snapshotId: copy1,
    action: 'deferred',
    sharedAt: expect.any(String),
    graceMinutes: GRACE_MINUTES,
  });
  expect(retention.slice(1).map((r) => r.action)).toEqual(retention.slice(1).map(() => 'deferred'));
  expect(sourceStatesEntered(childOf(twin, second, DATABASE))).not.toContain('Delete Old Shared Copy');
  expect(await snapshotIdsOf(twin, DATABASE)).toEqual(expect.arrayContaining([copy1, copy2]));

  // The slow copy completes: the destination run that was copying copy 1 goes live with it.
  await twin.moto.control.clearFaults();
  await twin.settle();
  expect(failureSummary(slow)).toBe(`${slow.name}: SUCCEEDED  `);
  expect(destinationStatesEntered(slow)).toContain('Point The Secret At The Replica');
  expect((await secretState(twin)).value.dbInstanceIdentifier).toBe(
    JSON.parse(slow.output!).dbInstanceIdentifier,
  );

  // Once the grace has passed, the next run deletes both copies beyond retention.
  await twin.clock.advance(GRACE_MINUTES * 60_000 + HOUR_MS);
  const third = await twin.run('source', 'replicate', { databases: [DATABASE] }, 'after-grace');
  expect(failureSummary(third)).toBe('after-grace: SUCCEEDED  ');
  const copy3 = outcomeOf(third, DATABASE).sharedSnapshotId!;
  const after = outcomeOf(third, DATABASE).retention!;
  expect(after[0]).toEqual({ snapshotId: copy3, action: 'kept' });
  expect(after.slice(1, 3)).toEqual([
    { snapshotId: copy2, action: 'deleted' },
    { snapshotId: copy1, action: 'deleted' },
  ]);
  expect(after.slice(1).map((r) => r.action)).toEqual(after.slice(1).map(() => 'deleted'));
  await twin.settle();
  // Only the newest copy is left; snapshots that are not the service's are untouched.
  expect((await snapshotIdsOf(twin, DATABASE)).filter((id) => id.startsWith(sharedPrefix(DATABASE)))).toEqual(
    [copy3],
  );
  expect(await notShared()).toEqual(othersBefore);
});
