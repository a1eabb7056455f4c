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
  childOf,
  childrenOf,
  DEPLOYMENT_ID,
  type Delivery,
  deploySource,
  describeRun,
  eventsOf,
  holdClock,
  intermediatePrefix,
  isChildOf,
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

interface FaultResult {
  run: ExecutionRecord;
  /** The child execution that replicated the database: its history holds the per-database states. */
  child: ExecutionRecord;
  messages: Delivery<ReplicationMessage>[];
  notices: Delivery<Notice>[];
}

/** Creates the instance, clears the topics, replicates it alone and collects what was published. */
async function replicateUnderFault(database: string): Promise<FaultResult> {
  await createSourceDatabase(twin, { id: database });
  await takeMessages(story);
  await takeNotices(story);
  const run = await twin.run('source', 'replicate', { databases: [database] });
  return {
    run,
    child: childOf(twin, run, database),
    messages: await takeMessages(story),
    notices: await takeNotices(story),
  };
}

/**
 * A database that failed and was cleaned up: the execution ends in ReplicationFailed naming it, the
 * database's outcome names the state and Error, no snapshot of the run is left, the lock is released,
 * no shared copy is recorded, nothing was announced and operations got exactly one notice without
 * clean-up errors. Returns the outcome's Cause.
 */
async function expectCleanFailure(
  result: FaultResult,
  database: string,
  failedState: string,
  error: string,
): Promise<string> {
  const { run, messages, notices } = result;
  expect(run.status).toBe('FAILED');
  expect(run.error).toBe('ReplicationFailed');
  // The Cause names the database and its Error.
  const named = `replication failed for ["${database}"]: ["${error}"]; `;
  expect(run.cause?.slice(0, named.length)).toBe(named);

  const outcome = outcomeOf(run, database);
  expect(outcome).toMatchObject({ status: 'FAILED', failedState, error });
  expect(outcome.cause).toEqual(expect.any(String));
  // The child execution caught, cleaned up and reported the failure; its output is the outcome.
  expect(result.child.status).toBe('SUCCEEDED');
  expect(JSON.parse(result.child.output!)).toEqual(outcome);
  expect(statesEntered(result.child)).toContain('Notify Operations Of Failure');

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
    // The child execution that held the database's lock and failed there, not the parent run.
    executionArn: result.child.executionArn,
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
    match: `${intermediatePrefix('failing-db')}*`,
    status: 'failed',
  });
  const result = await replicateUnderFault('failing-db');

  const cause = await expectCleanFailure(result, 'failing-db', 'Create Source Snapshot', 'SnapshotFailed');
  expect(cause).toMatch(
    /^snapshot rds-replica-source-dev-intermediate-failing-db-\S+ of failing-db is failed, not available$/,
  );
  // Given up at the first poll that saw it failed (the phase lasts 300 s), not after the maximum wait.
  const polled = secondsBetween(
    eventsOf(result.child, 'Start Polling Source Snapshot')[0]!,
    eventsOf(result.child, 'Explain Failed Source Snapshot')[0]!,
  );
  expect(polled).toBeGreaterThanOrEqual(300);
  expect(polled).toBeLessThanOrEqual(330);
  const states = statesEntered(result.child);
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
  expect(eventsOf(result.child, 'Copy Snapshot With Shared Key')).toHaveLength(1);
  expect(retriesOf(result.child, 'Copy Snapshot With Shared Key')).toEqual([]);
  expect(statesEntered(result.child)).not.toContain('Share Copy With Destination Accounts');
});

test('describe calls throttled three times, then answering: the run succeeds and the retries are in the history', async () => {
  const database = 'throttled-db';
  await twin.moto.control.addFault({
    kind: 'error',
    api: 'DescribeDBSnapshots',
    code: 'Throttling',
    message: 'Rate exceeded',
    count: 3,
    match: `${intermediatePrefix(database)}*`,
  });
  const { run, child, messages, notices } = await replicateUnderFault(database);

  expect(describeRun(run)).toBe(`${run.name}: SUCCEEDED  `);
  const failures = eventsOf(child, 'Describe Source Snapshot', 'StateFailed');
  expect(failures.map((e) => e.error)).toEqual(['Rds.RdsException', 'Rds.RdsException', 'Rds.RdsException']);
  const retries = retriesOf(child, 'Describe Source Snapshot');
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
    match: `${intermediatePrefix(database)}*`,
  });
  const result = await replicateUnderFault(database);

  const cause = await expectCleanFailure(result, database, 'Create Source Snapshot', 'Rds.RdsException');
  expect(cause).toContain('Rate exceeded');
  expect(retriesOf(result.child, 'Describe Source Snapshot')).toHaveLength(6);
});

describe('the check of a requested instance meets RDS throttling (Rds.RdsException, as an identifier RDS rejects)', () => {
  // the source rds retry policy: the first attempt and 6 retries
  const ATTEMPTS = 7;
  const throttleDescribes = (count: number, match?: string) =>
    twin.moto.control.addFault({
      kind: 'error',
      api: 'DescribeDBInstances',
      code: 'Throttling',
      message: 'Rate exceeded',
      count,
      account: twin.accounts.source,
      ...(match ? { match } : {}),
    });

  test('past the retries of the describe and of the search: the run fails with RDS error, not InvalidInput, before anything is created', async () => {
    const database = 'throttled-check-db';
    await createSourceDatabase(twin, { id: database });
    const snapshotsBefore = (await manualSnapshots(twin)).map((s) => s.DBSnapshotIdentifier).sort();
    await throttleDescribes(2 * ATTEMPTS);

    const run = await twin.run('source', 'replicate', { databases: [database] });

    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('Rds.RdsException');
    expect(run.cause).toContain('Rate exceeded');
    expect(statesEntered(run)).toContain('Search For The Requested Instance');
    expect((await twin.moto.control.faults()).map((f) => f.remaining ?? 0)).toEqual([0]);
    expect(childrenOf(twin, run)).toEqual([]);
    expect((await manualSnapshots(twin)).map((s) => s.DBSnapshotIdentifier).sort()).toEqual(snapshotsBefore);
    expect(await takeMessages(story)).toEqual([]);
  });

  test('past the retries of the describe only: the search finds the instance and the run replicates it', async () => {
    const database = 'briefly-throttled-check-db';
    await throttleDescribes(ATTEMPTS, database);
    const { run, messages } = await replicateUnderFault(database);

    expect(describeRun(run)).toBe(`${run.name}: SUCCEEDED  `);
    expect(statesEntered(run)).toContain('Search For The Requested Instance');
    expect((await twin.moto.control.faults()).map((f) => f.remaining ?? 0)).toEqual([0]);
    expect(messages).toHaveLength(1);
  });
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
  const states = statesEntered(result.child);
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
  expect(statesEntered(result.child)).toContain('Delete Shared Copy After Failure');
});

test('deleting the intermediate snapshot keeps failing: replicated with a warning, the snapshot left tagged and reported', async () => {
  const database = 'sticky-db';
  await twin.moto.control.addFault({
    kind: 'error',
    api: 'DeleteDBSnapshot',
    code: 'InvalidDBSnapshotState',
    count: 50,
    match: `${intermediatePrefix(database)}*`,
  });
  const { run, child, messages, notices } = await replicateUnderFault(database);

  // The replication itself succeeded: shared and announced.
  expect(describeRun(run)).toBe(`${run.name}: SUCCEEDED  `);
  const outcome = outcomeOf(run, database);
  expect(outcome.warning).toBe('clean-up incomplete, reported to the operations topic');
  expect(messages.map((m) => m.message.sharedSnapshotArn)).toEqual([outcome.sharedSnapshotArn]);
  expect(retriesOf(child, 'Delete Intermediate Snapshot')).toHaveLength(4);

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
    executionArn: child.executionArn,
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
  let abortedChild: ExecutionRecord | undefined;
  twin.sfn.onEvent = (exec, event) => {
    previous?.(exec, event);
    if (
      !abortedChild &&
      isChildOf(exec, aborted) &&
      event.type === 'StateEntered' &&
      event.state === 'Wait For Source Snapshot'
    ) {
      // The operator stops the run while its database waits for the snapshot; Step Functions
      // stops the child execution its startExecution.sync task was waiting for too.
      abortedChild = exec;
      release = holdClock(twin);
      twin.sfn.stopExecution({ account: aborted.account }, aborted.executionArn);
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
  expect(abortedChild).toBe(childOf(twin, aborted, database));
  expect(abortedChild!.status).toBe('ABORTED');
  // An aborted execution runs no Catch: its lock stays (and its snapshot, tagged with its run id),
  // held by the aborted child execution, which is no longer running.
  expect(await tableItems(story, database)).toEqual([
    expect.objectContaining({
      pk: `lock#${database}`,
      holder: abortedChild!.executionArn,
      runId: 'abandoned-first',
    }),
  ]);

  const next = await twin.run('source', 'replicate', { databases: [database] }, 'abandoned-second');

  expect(describeRun(next)).toBe('abandoned-second: SUCCEEDED  ');
  const nextChild = childOf(twin, next, database);
  expect(eventsOf(nextChild, 'Take Over Stale Lock')).toHaveLength(1);
  // It took the lock over because it found the aborted child holding it, and that child ABORTED.
  const checked = eventsOf(nextChild, 'Check Lock Holder', 'StateExited');
  expect(checked).toHaveLength(1);
  expect(checked[0]!.output).toMatchObject({
    lockItem: { Item: { holder: { S: abortedChild!.executionArn } } },
    holderExecution: { status: 'ABORTED' },
  });
  expect(statesEntered(nextChild)).not.toContain('Refuse Concurrent Run');
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
    match: `${intermediatePrefix(database)}*`,
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
      `^snapshot ${intermediatePrefix(database)}\\S+ of ${database} is still creating after ${30 * 60} seconds; raise maxWaitMinutes`,
    ),
  );

  // Virtual time spent waiting: exactly the maximum (the schedule's last wait ends there; API calls
  // take no virtual time), in the child execution that polled.
  const child = childOf(twin, run, database);
  expect(polling.schedule(30 * 60).reduce((a, b) => a + b, 0)).toBe(30 * 60);
  const started = eventsOf(child, 'Start Polling Source Snapshot')[0]!;
  const gaveUp = eventsOf(child, 'Explain Slow Source Snapshot')[0]!;
  const waited = secondsBetween(started, gaveUp);
  expect(waited).toBe(30 * 60);
  // Nothing else in the run waits (no retry on this path), so the whole run took the maximum wait.
  expect((run.stopDate! - run.startDate) / 1000).toBe(30 * 60);
  expect(statesEntered(child)).not.toContain('Copy Snapshot With Shared Key');

  // The stuck snapshot was asked to go (the delete call succeeded); RDS removes it once it can.
  expect(eventsOf(child, 'Delete Intermediate Snapshot After Failure')).toHaveLength(1);
  expect(eventsOf(child, 'Delete Intermediate Snapshot After Failure', 'StateFailed')).toEqual([]);
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
    executionArn: child.executionArn,
  });
  expect(notices[0]!.message.details).not.toHaveProperty('intermediateCleanupError');
});
