process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

// The source service under faults (issue 5, item 1, source part): RDS, KMS and SNS failing in the
// ways they do in production. Each scenario checks the execution's status and Error, what is left in
// the source account afterwards (no snapshot the run created, no lock, no record of a copy that is
// gone), and the notice on the operations topic.
//
// One deployment (the dev stage) serves the file, each test with databases of its own; the
// maximum-wait scenario, last, redeploys with maxWaitMinutes=30.
import type { ExecutionRecord, Twin } from '../../twin/src';
import { startTwin } from '../../twin/src';
import { createSourceDatabase } from '../../twin/src/fixtures';
import {
  calmTwin,
  DEPLOYMENT_ID,
  type Delivery,
  deploySource,
  describeRun,
  eventsOf,
  holdClock,
  manualSnapshots,
  type Notice,
  outcomeOf,
  type ReplicationMessage,
  restoreAttribute,
  retriesOf,
  type SourceStory,
  schemaErrors,
  secondsBetween,
  snapshotsOf,
  statesEntered,
  TAG,
  tableItems,
  tagsOf,
  takeMessages,
  takeNotices,
} from './helpers/source';

// The CommonJS fragment the state machine's wait loops are generated from (no type declarations).
const polling = require('../../statemachines/fragments/polling.js') as {
  schedule(maxSeconds: number): number[];
};

let twin: Twin;
let story: SourceStory;

beforeAll(async () => {
  twin = await startTwin();
  story = await deploySource(twin);
});

afterAll(async () => {
  await twin?.stop();
});

afterEach(async () => {
  await twin.settle();
  await calmTwin(twin);
});

/** Creates the instance, clears the topics, replicates it alone and collects what was published. */
async function replicateUnderFault(
  database: string,
): Promise<{ run: ExecutionRecord; messages: Delivery<ReplicationMessage>[]; notices: Delivery<Notice>[] }> {
  await createSourceDatabase(twin, { id: database });
  await takeMessages(story);
  await takeNotices(story);
  const run = await twin.run('source', 'replicate', { databases: [database] });
  return { run, messages: await takeMessages(story), notices: await takeNotices(story) };
}

/**
 * A database that failed and was cleaned up: the execution ends in ReplicationFailed naming it, the
 * database's outcome names the state and Error, no snapshot of the run is left, the lock is released,
 * no shared copy is recorded, nothing was announced and operations got exactly one notice without
 * clean-up errors. Returns the outcome's Cause.
 */
async function expectCleanFailure(
  result: { run: ExecutionRecord; messages: Delivery<ReplicationMessage>[]; notices: Delivery<Notice>[] },
  database: string,
  failedState: string,
  error: string,
): Promise<string> {
  const { run, messages, notices } = result;
  expect(run.status).toBe('FAILED');
  expect(run.error).toBe('ReplicationFailed');
  expect(run.cause).toMatch(new RegExp(`^replication failed for \\["${database}"\\]`));

  const outcome = outcomeOf(run, database);
  expect(outcome).toMatchObject({ status: 'FAILED', failedState, error });
  expect(outcome.cause).toEqual(expect.any(String));

  expect(await snapshotsOf(twin, database)).toEqual([]);
  expect((await manualSnapshots(twin)).filter((s) => tagsOf(s)[TAG.runId] === run.name)).toEqual([]);
  expect(await tableItems(story, database)).toEqual([]);
  expect(messages).toEqual([]);

  expect(notices).toHaveLength(1);
  const notice = notices[0]!;
  expect(notice.subject).toBe(`RDS replication of ${database} failed`);
  expect(notice.message).toMatchObject({
    database,
    failedState,
    error,
    cause: outcome.cause,
    runId: run.name,
    executionArn: run.executionArn,
  });
  for (const cleanupError of [
    'copyCleanupError',
    'recordCleanupError',
    'intermediateCleanupError',
    'lockCleanupError',
  ]) {
    expect(notice.message.details).not.toHaveProperty(cleanupError);
  }
  return outcome.cause!;
}

test('the source snapshot ends failed: SnapshotFailed, the failed snapshot is deleted, operations are told', async () => {
  await twin.moto.control.addFault({
    kind: 'snapshot-status',
    match: 'intermediate-failing-db-*',
    status: 'failed',
  });
  const result = await replicateUnderFault('failing-db');

  const cause = await expectCleanFailure(result, 'failing-db', 'Create Source Snapshot', 'SnapshotFailed');
  expect(cause).toMatch(/^snapshot intermediate-failing-db-\S+ of failing-db is failed, not available$/);
  // Given up at the first poll that saw it failed (the phase lasts 300 s), not after the maximum wait.
  const polled = secondsBetween(
    eventsOf(result.run, 'Start Polling Source Snapshot')[0]!,
    eventsOf(result.run, 'Explain Failed Source Snapshot')[0]!,
  );
  expect(polled).toBeGreaterThanOrEqual(300);
  expect(polled).toBeLessThanOrEqual(330);
  const states = statesEntered(result.run);
  expect(states).not.toContain('Copy Snapshot With Shared Key');
  expect(states).toContain('Delete Intermediate Snapshot After Failure');
});

test('the copy fails because the shared key cannot be used: Rds.KmsKeyNotAccessibleException, the intermediate snapshot is deleted', async () => {
  await twin.moto.control.addFault({ kind: 'kms-unusable', keyArn: story.keyArn });
  const result = await replicateUnderFault('locked-key-db');

  const cause = await expectCleanFailure(
    result,
    'locked-key-db',
    'Copy Snapshot With Shared Key',
    'Rds.KmsKeyNotAccessibleException',
  );
  expect(cause).toContain(story.keyArn);
  // A key that cannot be used does not heal by retrying the copy.
  expect(retriesOf(result.run, 'Copy Snapshot With Shared Key')).toEqual([]);
  expect(statesEntered(result.run)).not.toContain('Share Copy With Destination Accounts');
});

test('describe calls throttled three times, then answering: the run succeeds and the retries are in the history', async () => {
  const database = 'throttled-db';
  await twin.moto.control.addFault({
    kind: 'error',
    api: 'DescribeDBSnapshots',
    code: 'Throttling',
    message: 'Rate exceeded',
    count: 3,
    match: `intermediate-${database}-*`,
  });
  const { run, messages, notices } = await replicateUnderFault(database);

  expect(describeRun(run)).toBe(`${run.name}: SUCCEEDED  `);
  const failures = eventsOf(run, 'Describe Source Snapshot', 'StateFailed');
  expect(failures.map((e) => e.error)).toEqual(['Rds.RdsException', 'Rds.RdsException', 'Rds.RdsException']);
  const retries = retriesOf(run, 'Describe Source Snapshot');
  expect(retries.map((e) => e.retryAttempt)).toEqual([1, 2, 3]);
  // Each retry waited on the clock (jittered backoff), never longer than the policy's cap.
  for (const [i, retry] of retries.entries()) {
    const waited = secondsBetween(failures[i]!, retry);
    expect(waited).toBeGreaterThanOrEqual(0);
    expect(waited).toBeLessThanOrEqual(60);
  }
  // Replicated and announced as usual; nothing to report.
  const outcome = outcomeOf(run, database);
  expect(await snapshotsOf(twin, database)).toEqual([
    expect.objectContaining({ DBSnapshotIdentifier: outcome.sharedSnapshotId, Status: 'available' }),
  ]);
  expect(await restoreAttribute(twin, outcome.sharedSnapshotId!)).toEqual([twin.accounts.destination]);
  expect(messages).toHaveLength(1);
  expect(schemaErrors(messages[0]!.message)).toEqual([]);
  expect(notices).toEqual([]);
  expect(await tableItems(story, database)).toEqual([expect.objectContaining({ pk: `copy#${database}` })]);
});

test('describe calls throttled past the retry budget: the run fails with Rds.RdsException and cleans up', async () => {
  const database = 'overloaded-db';
  await twin.moto.control.addFault({
    kind: 'error',
    api: 'DescribeDBSnapshots',
    code: 'Throttling',
    message: 'Rate exceeded',
    count: 50,
    match: `intermediate-${database}-*`,
  });
  const result = await replicateUnderFault(database);

  const cause = await expectCleanFailure(result, database, 'Create Source Snapshot', 'Rds.RdsException');
  expect(cause).toContain('Rate exceeded');
  expect(retriesOf(result.run, 'Describe Source Snapshot')).toHaveLength(6);
});

test('sharing fails: the copy is deleted and forgotten, nothing is announced, operations are told', async () => {
  const database = 'unshared-db';
  await twin.moto.control.addFault({
    kind: 'error',
    api: 'ModifyDBSnapshotAttribute',
    code: 'SharedSnapshotQuotaExceeded',
    message: 'You have exceeded the maximum number of accounts you can share a DB snapshot with.',
    count: 1,
  });
  const result = await replicateUnderFault(database);

  await expectCleanFailure(
    result,
    database,
    'Share Copy With Destination Accounts',
    'Rds.SharedSnapshotQuotaExceededException',
  );
  // The copy had been recorded before sharing; the record went with it.
  const states = statesEntered(result.run);
  expect(states).toContain('Record Shared Copy');
  expect(states).toContain('Delete Shared Copy After Failure');
  expect(states).toContain('Forget Shared Copy After Failure');
  expect(states).not.toContain('Publish Replication Message');
});

test('publishing the replication message fails: the copy nobody was told about is deleted', async () => {
  const database = 'unannounced-db';
  await twin.moto.control.addFault({
    kind: 'error',
    service: 'sns',
    api: 'Publish',
    code: 'KMSDisabled',
    match: '*-replication',
    count: 1,
  });
  const result = await replicateUnderFault(database);

  await expectCleanFailure(result, database, 'Publish Replication Message', 'SNS.KMSDisabledException');
  expect(statesEntered(result.run)).toContain('Delete Shared Copy After Failure');
});

test('deleting the intermediate snapshot keeps failing: replicated with a warning, the snapshot left tagged and reported', async () => {
  const database = 'sticky-db';
  await twin.moto.control.addFault({
    kind: 'error',
    api: 'DeleteDBSnapshot',
    code: 'InvalidDBSnapshotState',
    count: 50,
    match: `intermediate-${database}-*`,
  });
  const { run, messages, notices } = await replicateUnderFault(database);

  // The replication itself succeeded: shared and announced.
  expect(describeRun(run)).toBe(`${run.name}: SUCCEEDED  `);
  const outcome = outcomeOf(run, database);
  expect(outcome.warning).toBe('clean-up incomplete, reported to the operations topic');
  expect(messages.map((m) => m.message.sharedSnapshotArn)).toEqual([outcome.sharedSnapshotArn]);
  expect(retriesOf(run, 'Delete Intermediate Snapshot')).toHaveLength(4);

  // The intermediate snapshot is still there, recognisable as this run's leftover.
  const left = (await snapshotsOf(twin, database)).filter(
    (s) => s.DBSnapshotIdentifier !== outcome.sharedSnapshotId,
  );
  expect(left).toHaveLength(1);
  expect(tagsOf(left[0]!)).toMatchObject({
    [TAG.managedBy]: DEPLOYMENT_ID,
    [TAG.kind]: 'intermediate-snapshot',
    [TAG.sourceDatabase]: database,
    [TAG.runId]: run.name,
  });
  // ... and operations know which one and why.
  expect(notices).toHaveLength(1);
  expect(notices[0]!.subject).toBe(`RDS replication of ${database} needs attention`);
  expect(notices[0]!.message).toMatchObject({
    database,
    runId: run.name,
    executionArn: run.executionArn,
    sharedSnapshotArn: outcome.sharedSnapshotArn,
    details: {
      names: { intermediate: left[0]!.DBSnapshotIdentifier },
      intermediateCleanupError: { Error: 'Rds.InvalidDbSnapshotStateException' },
    },
  });
  // The lock is released all the same.
  expect((await tableItems(story, database)).map((i) => i.pk)).toEqual([`copy#${database}`]);
});

test('a run aborted while waiting leaves its lock behind; the next run takes it over and replicates', async () => {
  const database = 'abandoned-db';
  await createSourceDatabase(twin, { id: database });
  await takeMessages(story);
  await takeNotices(story);

  const aborted = twin.start('source', 'replicate', { databases: [database] }, 'abandoned-first');
  let release: (() => void) | undefined;
  const previous = twin.sfn.onEvent;
  twin.sfn.onEvent = (exec, event) => {
    previous?.(exec, event);
    if (exec === aborted && event.type === 'StateEntered' && event.state === 'Wait For Source Snapshot') {
      release = holdClock(twin);
      twin.sfn.stopExecution({ account: exec.account }, exec.executionArn);
    }
  };
  try {
    await aborted.done;
  } finally {
    twin.sfn.onEvent = previous;
    release?.();
  }
  await twin.settle();
  expect(aborted.status).toBe('ABORTED');
  // An aborted execution runs no Catch: its lock stays (and its snapshot, tagged with its run id).
  expect(await tableItems(story, database)).toEqual([
    expect.objectContaining({ pk: `lock#${database}`, holder: aborted.executionArn }),
  ]);

  const next = await twin.run('source', 'replicate', { databases: [database] }, 'abandoned-second');

  expect(describeRun(next)).toBe('abandoned-second: SUCCEEDED  ');
  expect(eventsOf(next, 'Take Over Stale Lock')).toHaveLength(1);
  expect(statesEntered(next)).not.toContain('Refuse Concurrent Run');
  const outcome = outcomeOf(next, database);
  expect((await takeMessages(story)).map((m) => m.message.runId)).toEqual(['abandoned-second']);
  expect(await tableItems(story, database)).toEqual([
    expect.objectContaining({ pk: `copy#${database}`, snapshotId: outcome.sharedSnapshotId }),
  ]);
  // What the aborted run left is recognisable as its own.
  const leftovers = (await snapshotsOf(twin, database)).filter(
    (s) => s.DBSnapshotIdentifier !== outcome.sharedSnapshotId,
  );
  expect(leftovers.map((s) => tagsOf(s))).toEqual([
    expect.objectContaining({ [TAG.kind]: 'intermediate-snapshot', [TAG.runId]: 'abandoned-first' }),
  ]);
});

// Redeploys with maxWaitMinutes=30: keep last.
test('the maximum wait is exceeded (maxWaitMinutes=30): SnapshotTimedOut after about 30 minutes, the snapshot deleted', async () => {
  await twin.reset();
  story = await deploySource(twin, { maxWaitMinutes: '30' });
  const database = 'stuck-db';
  await twin.moto.control.addFault({
    kind: 'never-finishes',
    resource: 'snapshot',
    match: `intermediate-${database}-*`,
  });
  await createSourceDatabase(twin, { id: database });

  const run = await twin.run('source', 'replicate', { databases: [database] });

  expect(run.status).toBe('FAILED');
  expect(run.error).toBe('ReplicationFailed');
  expect(run.cause).toMatch(new RegExp(`^replication failed for \\["${database}"\\]`));
  const outcome = outcomeOf(run, database);
  expect(outcome).toMatchObject({
    status: 'FAILED',
    failedState: 'Create Source Snapshot',
    error: 'SnapshotTimedOut',
  });
  expect(outcome.cause).toMatch(
    new RegExp(
      `^snapshot intermediate-${database}-\\S+ of ${database} is still creating after \\d+ seconds; raise maxWaitMinutes`,
    ),
  );

  // Virtual time spent waiting: at least the maximum, at most the schedule's last wait beyond it.
  const waits = polling.schedule(30 * 60);
  const started = eventsOf(run, 'Start Polling Source Snapshot')[0]!;
  const gaveUp = eventsOf(run, 'Explain Slow Source Snapshot')[0]!;
  const waited = secondsBetween(started, gaveUp);
  expect(waited).toBeGreaterThanOrEqual(30 * 60);
  expect(waited).toBeLessThanOrEqual(30 * 60 + waits[waits.length - 1]!);
  expect((run.stopDate! - run.startDate) / 1000).toBeLessThanOrEqual(30 * 60 + waits[waits.length - 1]! + 60);
  expect(statesEntered(run)).not.toContain('Copy Snapshot With Shared Key');

  // The stuck snapshot was asked to go (the delete call succeeded); RDS removes it once it can.
  expect(eventsOf(run, 'Delete Intermediate Snapshot After Failure', 'StateFailed')).toEqual([]);
  expect((await snapshotsOf(twin, database)).map((s) => s.Status)).toEqual(['deleting']);
  await twin.moto.control.clearFaults();
  expect(await snapshotsOf(twin, database)).toEqual([]);

  expect(await tableItems(story, database)).toEqual([]);
  expect(await takeMessages(story)).toEqual([]);
  const notices = await takeNotices(story);
  expect(notices).toHaveLength(1);
  expect(notices[0]!.message).toMatchObject({
    database,
    failedState: 'Create Source Snapshot',
    error: 'SnapshotTimedOut',
    cause: outcome.cause,
    executionArn: run.executionArn,
  });
  expect(notices[0]!.message.details).not.toHaveProperty('intermediateCleanupError');
});
