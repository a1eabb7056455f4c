process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

// Idempotent creates on the source (issue 9, point 4, source side): a createDBSnapshot or
// copyDBSnapshot whose first attempt succeeded but whose response was lost (the twin's error fault
// with `after: true`: the call takes effect, then answers 500) is retried and meets
// Rds.DbSnapshotAlreadyExistsException. The run adopts the snapshot only when it carries this run's
// tags (run id, deployment); a snapshot of that name that is not this run's is never adopted, copied,
// shared or deleted: the run fails clearly and leaves it alone. Clean-up knows every name the run
// may have created, because the names are drawn before the first call.
import { CreateDBSnapshotCommand, type DBSnapshot } from '@aws-sdk/client-rds';
import { type ExecutionRecord, SOURCE_ACCOUNT, startTwin, type Twin } from '../../twin/src';
import { createSourceDatabase } from '../../twin/src/fixtures';
import {
  calmTwin,
  childOf,
  DEPLOYMENT_ID,
  deploySource,
  describeRun,
  holdClock,
  isChildOf,
  outcomeOf,
  retriesOf,
  type SourceStory,
  snapshotsOf,
  statesEntered,
  TAG,
  tableItems,
  tagsOf,
  takeMessages,
  takeNotices,
} from './helpers/source';

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

/** The next call of `api` takes effect, then its response is lost (HTTP 500 InternalFailure). */
async function loseResponseOf(api: 'CreateDBSnapshot' | 'CopyDBSnapshot'): Promise<void> {
  await twin.moto.control.addFault({
    kind: 'error',
    api,
    service: 'rds',
    code: 'InternalFailure',
    status: 500,
    message: 'We encountered an internal error. Please try again.',
    after: true,
    account: SOURCE_ACCOUNT,
  });
}

async function replicate(database: string, name: string): Promise<ExecutionRecord> {
  await createSourceDatabase(twin, { id: database });
  await takeMessages(story);
  await takeNotices(story);
  return twin.run('source', 'replicate', { databases: [database] }, name);
}

describe.each([
  { api: 'CreateDBSnapshot' as const, state: 'Create Source Snapshot', database: 'lost-create-db' },
  { api: 'CopyDBSnapshot' as const, state: 'Copy Snapshot With Shared Key', database: 'lost-copy-db' },
])('$api answers 500 after creating the snapshot', ({ api, state, database }) => {
  test('the retry meets AlreadyExists, adopts the run’s own snapshot and replicates; nothing is left over', async () => {
    await loseResponseOf(api);

    const run = await replicate(database, `${database}-run`);

    expect(describeRun(run)).toBe(`${database}-run: SUCCEEDED  `);
    const child = childOf(twin, run, database);
    expect(retriesOf(child, state)).toHaveLength(1);
    expect(statesEntered(child)).toContain(
      api === 'CreateDBSnapshot' ? 'Adopt The Existing Source Snapshot' : 'Adopt The Existing Shared Copy',
    );
    // Exactly one shared copy is left: the intermediate snapshot was found and deleted, no orphan.
    const left = await snapshotsOf(twin, database);
    expect(left.map((s) => s.DBSnapshotIdentifier)).toEqual([outcomeOf(run, database).sharedSnapshotId]);
    expect(tagsOf(left[0]!)).toMatchObject({ [TAG.runId]: run.name, [TAG.managedBy]: DEPLOYMENT_ID });
    expect((await takeMessages(story)).map((m) => m.message.runId)).toEqual([run.name]);
    expect(await takeNotices(story)).toEqual([]);
  });
});

/**
 * Runs `database` while someone else's snapshot (another run id) already bears the name the run drew
 * for its `which` snapshot: the test makes it as soon as the run has named its snapshots, while the
 * run's first lock write is throttled and waits to be retried (the clock is held meanwhile).
 */
async function replicateWithForeignSnapshot(
  database: string,
  which: 'intermediate' | 'shared',
): Promise<{ run: ExecutionRecord; child: ExecutionRecord; foreign: DBSnapshot }> {
  await createSourceDatabase(twin, { id: database });
  await takeMessages(story);
  await takeNotices(story);
  await twin.moto.control.addFault({
    kind: 'error',
    api: 'PutItem',
    service: 'dynamodb',
    code: 'ProvisionedThroughputExceededException',
    status: 400,
    account: SOURCE_ACCOUNT,
  });
  const run = twin.start('source', 'replicate', { databases: [database] }, `${database}-run`);
  let release: (() => void) | undefined;
  let named: (name: string) => void = () => {};
  const name = new Promise<string>((resolve) => (named = resolve));
  const previous = twin.sfn.onEvent;
  twin.sfn.onEvent = (exec, event) => {
    previous?.(exec, event);
    if (
      !release &&
      isChildOf(exec, run) &&
      event.type === 'StateExited' &&
      event.state === 'Name The Snapshots Of This Run'
    ) {
      release = holdClock(twin);
      named((event.output as { names: Record<string, string> }).names[which]!);
    }
  };
  let foreign: DBSnapshot;
  try {
    const out = await twin.aws('source').rds.send(
      new CreateDBSnapshotCommand({
        DBInstanceIdentifier: database,
        DBSnapshotIdentifier: await name,
        Tags: [
          { Key: TAG.managedBy, Value: DEPLOYMENT_ID },
          { Key: TAG.runId, Value: 'someone-else' },
        ],
      }),
    );
    foreign = out.DBSnapshot!;
  } finally {
    twin.sfn.onEvent = previous;
    release?.();
  }
  await run.done;
  await twin.settle();
  return { run, child: childOf(twin, run, database), foreign };
}

test('a snapshot of the run’s intermediate name that is not the run’s own is not adopted: SnapshotNotCreatedByThisRun, left alone', async () => {
  const database = 'foreign-intermediate-db';

  const { run, child, foreign } = await replicateWithForeignSnapshot(database, 'intermediate');

  expect(run.status).toBe('FAILED');
  expect(outcomeOf(run, database)).toMatchObject({
    status: 'FAILED',
    failedState: 'Create Source Snapshot',
    error: 'SnapshotNotCreatedByThisRun',
  });
  const cause = outcomeOf(run, database).cause!;
  expect(cause).toContain(foreign.DBSnapshotIdentifier!);
  expect(cause).toContain('someone-else');
  // Never copied, never deleted: it is still there, untouched, and the run made nothing else.
  expect(statesEntered(child)).not.toContain('Copy Snapshot With Shared Key');
  expect(statesEntered(child)).not.toContain('Delete Intermediate Snapshot After Failure');
  expect((await snapshotsOf(twin, database)).map((s) => s.DBSnapshotIdentifier)).toEqual([
    foreign.DBSnapshotIdentifier,
  ]);
  expect(await tableItems(story, database)).toEqual([]); // lock released, nothing recorded
  expect(await takeMessages(story)).toEqual([]);
  const notices = await takeNotices(story);
  expect(notices.map((n) => n.message.error)).toEqual(['SnapshotNotCreatedByThisRun']);
});

test('a snapshot of the run’s shared-copy name that is not the run’s own is not adopted, shared or deleted; the run’s intermediate snapshot is cleaned up', async () => {
  const database = 'foreign-copy-db';

  const { run, child, foreign } = await replicateWithForeignSnapshot(database, 'shared');

  expect(run.status).toBe('FAILED');
  expect(outcomeOf(run, database)).toMatchObject({
    status: 'FAILED',
    failedState: 'Copy Snapshot With Shared Key',
    error: 'SnapshotNotCreatedByThisRun',
  });
  expect(statesEntered(child)).not.toContain('Share Copy With Destination Accounts');
  expect(statesEntered(child)).not.toContain('Delete Shared Copy After Failure');
  expect(statesEntered(child)).toContain('Delete Intermediate Snapshot After Failure');
  await twin.settle();
  expect((await snapshotsOf(twin, database)).map((s) => s.DBSnapshotIdentifier)).toEqual([
    foreign.DBSnapshotIdentifier,
  ]);
  expect(await tableItems(story, database)).toEqual([]);
  expect(await takeMessages(story)).toEqual([]);
  expect((await takeNotices(story)).map((n) => n.message.error)).toEqual(['SnapshotNotCreatedByThisRun']);
});
