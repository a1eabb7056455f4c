process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

// The source service (serverless.source.yml, statemachines/source-replicate.asl.yml) on the twin:
// what an operator of the source account sees after replicating RDS instances (issue 3, item 6).
//
// One deployment serves the file (shared with two destination accounts); each test uses databases
// of its own, so snapshots, table items and messages of one test never meet another's. The
// schedule test, last, redeploys.
import { CreateKeyCommand, DescribeKeyCommand } from '@aws-sdk/client-kms';
import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  DescribeDBSnapshotsCommand,
} from '@aws-sdk/client-rds';
import { DESTINATION_ACCOUNT, type ExecutionRecord, startTwin, type Twin } from '../../twin/src';
import { createSourceDatabase, FIXTURE_PASSWORD } from '../../twin/src/fixtures';
import {
  CONTRACT_FIELDS,
  calmTwin,
  childInput,
  childOf,
  childrenOf,
  DEPLOYMENT_ID,
  type Delivery,
  deploySource,
  describeRun,
  EACH_DATABASE,
  eventsOf,
  holdClock,
  instanceKey,
  intermediatePrefix,
  isChildOf,
  manualSnapshots,
  type Notice,
  outcomeOf,
  outcomes,
  type ReplicationMessage,
  restoreAttribute,
  SECOND_DESTINATION_ACCOUNT,
  type SourceStory,
  schemaErrors,
  sharedPrefix,
  snapshotIdsOf,
  snapshotsOf,
  statesEntered,
  TAG,
  tableItems,
  tagsOf,
  takeMessages,
  takeNotices,
} from './helpers/source';

/** This file's deployment shares with two destination accounts. */
const DESTINATIONS = [DESTINATION_ACCOUNT, SECOND_DESTINATION_ACCOUNT].sort();

let twin: Twin;
let story: SourceStory;

/** A customer-managed key of the source account that one source instance is encrypted with. */
let instanceKeyArn: string;

beforeAll(async () => {
  twin = await startTwin();
  const created = await twin
    .aws('source')
    .kms.send(new CreateKeyCommand({ Description: 'storage of own-key-db' }));
  instanceKeyArn = created.KeyMetadata!.Arn!;
  // The role may use exactly the instance keys it is given (parameter sourceInstanceKmsKeyArns).
  story = await deploySource(twin, {
    destinationAccountIds: DESTINATIONS.join(','),
    sourceInstanceKmsKeyArns: instanceKeyArn,
  });
});

afterAll(async () => {
  await twin?.stop();
});

/** False once the schedule tests have redeployed (they come last). */
const onFirstDeployment = () => twin.stacks.source === story.stack;

beforeEach(async () => {
  if (!onFirstDeployment()) return;
  // Whatever an earlier test left on the topics is not this test's business.
  await takeMessages(story);
  await takeNotices(story);
});

afterEach(async () => {
  await twin.settle();
  await calmTwin(twin);
});

async function replicate(databases: unknown, name?: string): Promise<ExecutionRecord> {
  return twin.run('source', 'replicate', { databases }, name);
}

// ---------------------------------------------------------------------------------------------
// Replicating one database
// ---------------------------------------------------------------------------------------------

describe.each([
  { encryption: 'none', database: 'plain-db', label: 'an unencrypted PostgreSQL instance' },
  {
    encryption: 'aws/rds',
    database: 'default-key-db',
    label: 'a PostgreSQL instance encrypted with aws/rds',
  },
  {
    encryption: 'its own key',
    database: 'own-key-db',
    label: 'a PostgreSQL instance encrypted with a customer-managed key of its own',
  },
])('$label', ({ encryption, database }) => {
  let run: ExecutionRecord;
  let messages: Delivery<ReplicationMessage>[];
  let notices: Delivery<Notice>[];
  /** The ARN of the key the instance is encrypted with: aws/rds's, or its own key's. */
  let storageKeyArn: string | undefined;

  beforeAll(async () => {
    const key = encryption === 'its own key' ? instanceKeyArn : encryption;
    await createSourceDatabase(twin, { id: database, encryption: key });
    if (encryption === 'aws/rds') {
      const awsRds = await twin.aws('source').kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/rds' }));
      storageKeyArn = awsRds.KeyMetadata!.Arn!;
    } else if (encryption !== 'none') {
      storageKeyArn = key;
    }
    await takeMessages(story);
    await takeNotices(story);
    run = await replicate([database]);
    messages = await takeMessages(story);
    notices = await takeNotices(story);
  });

  test('is replicated: the run succeeds and reports the shared copy', () => {
    expect(describeRun(run)).toBe(`${run.name}: SUCCEEDED  `);
    const outcome = outcomeOf(run, database);
    expect(outcome).toMatchObject({
      database,
      status: 'SUCCEEDED',
      engine: 'postgres',
      engineVersion: '16.4',
      sourceStorageEncrypted: encryption !== 'none',
    });
    expect(outcome.sharedSnapshotId).toMatch(new RegExp(`^${sharedPrefix(database)}`));
    expect(JSON.parse(run.output!)).toEqual({ databases: outcomes(run) });

    // The database ran in a child execution of its own, started by this run, whose output is the outcome.
    const child = childOf(twin, run, database);
    expect(childrenOf(twin, run)).toEqual([child]);
    expect(child.stateMachineArn).toBe(twin.machineArn('source', 'replicateDatabase'));
    // Its input names the run but no lock holder: the child holds the lock under its own ARN.
    expect(childInput(child)).toEqual({
      database,
      runId: run.name,
      runToken: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      snapshotSource: 'new',
      AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: run.executionArn,
    });
    expect(childInput(child)).not.toHaveProperty('executionId');
    expect(outcome.sharedSnapshotId).toBe(`${sharedPrefix(database)}${childInput(child).runToken}`);
    expect(describeRun(child)).toBe(`${child.name}: SUCCEEDED  `);
    expect(JSON.parse(child.output!)).toEqual(outcome);
    // The parent only started it: no per-database state, let alone a polling loop, is in its history.
    expect(statesEntered(run)).toContain('Replicate One Database');
    for (const state of [
      'Take Database Lock',
      'Start Polling Source Snapshot',
      'Wait For Source Snapshot',
      'Describe Source Snapshot',
      'Back Off Source Snapshot',
      'Start Polling Shared Copy',
      'Wait For Shared Copy',
      'Describe Shared Copy',
      'Back Off Shared Copy',
    ]) {
      expect(statesEntered(run)).not.toContain(state);
      expect(statesEntered(child)).toContain(state);
    }
    for (const state of [
      'Take Database Lock',
      'Create Source Snapshot',
      'Copy Snapshot With Shared Key',
      'Record Shared Copy',
      'Share Copy With Destination Accounts',
      'Publish Replication Message',
      'Delete Intermediate Snapshot',
      'Release Database Lock',
      'Report Success',
    ]) {
      expect(statesEntered(child)).toContain(state);
    }
    expect(statesEntered(child)).not.toContain('Notify Operations Of Failure');
    expect(statesEntered(child)).not.toContain('Notify Operations Of Housekeeping Problem');
  });

  test('the shared copy is the only snapshot left of it, encrypted with the stack key and tagged', async () => {
    const outcome = outcomeOf(run, database);
    const snapshots = await snapshotsOf(twin, database);
    expect(snapshots.map((s) => s.DBSnapshotIdentifier)).toEqual([outcome.sharedSnapshotId]);
    const copy = snapshots[0]!;
    expect(copy).toMatchObject({
      DBSnapshotArn: outcome.sharedSnapshotArn,
      Status: 'available',
      Encrypted: true,
      KmsKeyId: story.keyArn,
    });
    expect(tagsOf(copy)).toMatchObject({
      [TAG.managedBy]: DEPLOYMENT_ID,
      [TAG.kind]: 'shared-snapshot',
      [TAG.sourceDatabase]: database,
      [TAG.runId]: run.name,
    });
    // The intermediate snapshot (aws/rds or unencrypted, which could not be shared) is gone.
    expect(
      (await manualSnapshots(twin)).filter((s) =>
        s.DBSnapshotIdentifier!.startsWith(intermediatePrefix(database)),
      ),
    ).toEqual([]);
    if (encryption !== 'none') {
      // The copy really was re-keyed: the instance keeps its own key (aws/rds's or its CMK), which
      // is not the shared one.
      expect(storageKeyArn).toMatch(
        new RegExp(`^arn:aws:kms:${twin.region}:${twin.accounts.source}:key/[0-9a-f-]{36}$`),
      );
      expect(storageKeyArn).not.toBe(story.keyArn);
      expect(await instanceKey(twin, database)).toBe(storageKeyArn);
    }
  });

  test('the shared copy is shared with every destination account, and they can see it', async () => {
    const outcome = outcomeOf(run, database);
    expect(await restoreAttribute(twin, outcome.sharedSnapshotId!)).toEqual(DESTINATIONS);
    for (const account of DESTINATIONS) {
      const seen = await twin
        .aws(account)
        .rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: outcome.sharedSnapshotArn }));
      expect(seen.DBSnapshots?.[0]).toMatchObject({ Encrypted: true, KmsKeyId: story.keyArn });
    }
  });

  test('one replication message arrives with every contract field and validates against the schema', async () => {
    const outcome = outcomeOf(run, database);
    expect(messages).toHaveLength(1);
    const { message, messageId } = messages[0]!;
    expect(schemaErrors(message)).toEqual([]);
    expect(Object.keys(message).sort()).toEqual(CONTRACT_FIELDS);
    expect(message).toEqual({
      version: 1,
      sourceAccountId: twin.accounts.source,
      sourceRegion: twin.region,
      sourceDbInstanceIdentifier: database,
      engine: 'postgres',
      engineVersion: '16.4',
      sharedSnapshotArn: outcome.sharedSnapshotArn,
      snapshotCreateTime: outcome.snapshotCreateTime,
      runId: run.name,
    });
    // The snapshot was taken during this run.
    const taken = Date.parse(message.snapshotCreateTime);
    expect(taken).toBeGreaterThanOrEqual(run.startDate);
    expect(taken).toBeLessThanOrEqual(run.stopDate!);
    expect(messageId).toBe(outcome.messageId);
  });

  test('the lock is released, the copy is recorded, and operations hear nothing', async () => {
    const outcome = outcomeOf(run, database);
    const items = await tableItems(story, database);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      pk: `copy#${database}`,
      snapshotId: outcome.sharedSnapshotId,
      snapshotArn: outcome.sharedSnapshotArn,
      runId: run.name,
    });
    expect(notices).toEqual([]);
  });
});

/** Replication messages about one database (earlier deliveries of other tests are ignored). */
async function takeMessagesOf(database: string) {
  return (await takeMessages(story)).filter((m) => m.message.sourceDbInstanceIdentifier === database);
}

test('an empty input (what the schedule sends) replicates the configured databases', async () => {
  // The dev stage configures orders-db.
  await createSourceDatabase(twin, { id: 'orders-db' });
  const run = await twin.run('source', 'replicate', {});
  expect(describeRun(run)).toBe(`${run.name}: SUCCEEDED  `);
  expect(outcomes(run).map((o) => [o.database, o.status])).toEqual([['orders-db', 'SUCCEEDED']]);
  const messages = await takeMessages(story);
  expect(messages.map((m) => m.message.sourceDbInstanceIdentifier)).toEqual(['orders-db']);
  expect(await snapshotIdsOf(twin, 'orders-db')).toEqual([outcomeOf(run, 'orders-db').sharedSnapshotId]);
});

// ---------------------------------------------------------------------------------------------
// Retention
// ---------------------------------------------------------------------------------------------

test('after three daily runs exactly keepSharedSnapshots (2) copies remain: the oldest is deleted, nothing else', async () => {
  const database = 'kept-db';
  await createSourceDatabase(twin, { id: database });
  // An operator's own manual snapshot of the same instance: not this service's to delete.
  await twin.aws('source').rds.send(
    new CreateDBSnapshotCommand({
      DBInstanceIdentifier: database,
      DBSnapshotIdentifier: 'kept-db-by-hand',
    }),
  );

  const runs: ExecutionRecord[] = [];
  for (const name of ['kept-first', 'kept-second', 'kept-third']) {
    // A day apart, like the schedule: the first copy is past its grace (destinationCopyGraceMinutes,
    // 25 hours) when the third run's retention looks at it (snapshots.test.ts: closer runs).
    if (runs.length > 0) await twin.clock.advance(24 * 3600 * 1000);
    const run = await replicate([database], name);
    expect(describeRun(run)).toBe(`${name}: SUCCEEDED  `);
    runs.push(run);
  }
  const [first, second, third] = runs.map((r) => outcomeOf(r, database).sharedSnapshotId!);

  expect(await snapshotIdsOf(twin, database)).toEqual(['kept-db-by-hand', second, third].sort());
  const copies = (await tableItems(story, database)).filter((i) => i.pk === `copy#${database}`);
  expect(copies.map((i) => i.snapshotId).sort()).toEqual([second, third].sort());
  expect(await tableItems(story, database)).toHaveLength(2); // no lock left behind

  // The third run kept itself and the second, and deleted the first (the oldest).
  expect(outcomeOf(runs[2]!, database).retention).toEqual([
    { snapshotId: third, action: 'kept' },
    { snapshotId: second, action: 'kept' },
    { snapshotId: first, action: 'deleted' },
  ]);
  // The second run had nothing to delete yet.
  expect(outcomeOf(runs[1]!, database).retention?.map((r) => r.action)).toEqual(['kept', 'kept']);
  expect((await takeMessagesOf(database)).map((m) => m.message.runId)).toEqual([
    'kept-first',
    'kept-second',
    'kept-third',
  ]);
  // The copies the destinations can still use are still shared with them.
  expect(await restoreAttribute(twin, second!)).toEqual(DESTINATIONS);
  expect(await restoreAttribute(twin, third!)).toEqual(DESTINATIONS);
});

// ---------------------------------------------------------------------------------------------
// One database failing
// ---------------------------------------------------------------------------------------------

test('two databases in one run, one snapshot failing: the other is replicated, the failure is notified and cleaned up', async () => {
  await createSourceDatabase(twin, { id: 'good-db' });
  await createSourceDatabase(twin, { id: 'bad-db' });
  await twin.moto.control.addFault({
    kind: 'snapshot-status',
    match: `${intermediatePrefix('bad-db')}*`,
    status: 'failed',
  });

  const run = await replicate(['good-db', 'bad-db']);

  expect(run.status).toBe('FAILED');
  expect(run.error).toBe('ReplicationFailed');
  expect(run.cause).toContain('"bad-db"');
  expect(run.cause).not.toContain('good-db');
  // The Cause names the failing database's Error.
  expect(run.cause).toMatch(/^replication failed for \["bad-db"\]: \["SnapshotFailed"\]/);
  // Each database ran in a child execution of its own; a failure is caught there, not in the parent.
  const goodChild = childOf(twin, run, 'good-db');
  const badChild = childOf(twin, run, 'bad-db');
  expect(childrenOf(twin, run)).toHaveLength(2);
  expect([goodChild.status, badChild.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  expect(eventsOf(badChild, 'Explain Failed Source Snapshot')).toHaveLength(1);
  expect(statesEntered(run)).not.toContain('Report Child Failure');

  const good = outcomeOf(run, 'good-db');
  expect(good.status).toBe('SUCCEEDED');
  const bad = outcomeOf(run, 'bad-db');
  expect(bad).toMatchObject({
    status: 'FAILED',
    failedState: 'Create Source Snapshot',
    error: 'SnapshotFailed',
  });
  expect(bad.cause).toMatch(
    /^snapshot rds-replica-source-dev-intermediate-bad-db-\S+ of bad-db is failed, not available$/,
  );
  expect(JSON.parse(badChild.output!)).toEqual(bad);
  expect(JSON.parse(goodChild.output!)).toEqual(good);

  // good-db: shared and announced as usual.
  expect(await snapshotIdsOf(twin, 'good-db')).toEqual([good.sharedSnapshotId]);
  expect(await restoreAttribute(twin, good.sharedSnapshotId!)).toEqual(DESTINATIONS);
  const messages = await takeMessages(story);
  expect(messages.map((m) => m.message.sourceDbInstanceIdentifier)).toEqual(['good-db']);
  expect(schemaErrors(messages[0]!.message)).toEqual([]);

  // bad-db: its failed snapshot is gone, nothing recorded, no lock left, one notice.
  expect(await snapshotsOf(twin, 'bad-db')).toEqual([]);
  expect(await tableItems(story, 'bad-db')).toEqual([]);
  const notices = await takeNotices(story);
  expect(notices).toHaveLength(1);
  expect(notices[0]!.subject).toBe('RDS replication of bad-db failed');
  expect(notices[0]!.message).toMatchObject({
    database: 'bad-db',
    failedState: 'Create Source Snapshot',
    error: 'SnapshotFailed',
    cause: bad.cause,
    runId: run.name,
    // The child execution that held bad-db's lock and failed there, not the parent run.
    executionArn: badChild.executionArn,
  });
  expect(notices[0]!.message.details).not.toHaveProperty('intermediateCleanupError');
  expect(notices[0]!.message.details).not.toHaveProperty('lockCleanupError');
});

// ---------------------------------------------------------------------------------------------
// No two runs for the same database
// ---------------------------------------------------------------------------------------------

test('a second run for a database being replicated is refused; the first run and its snapshots are untouched', async () => {
  const database = 'busy-db';
  await createSourceDatabase(twin, { id: database });

  const first = twin.start('source', 'replicate', { databases: [database] }, 'busy-first');
  let second: ExecutionRecord | undefined;
  let release: (() => void) | undefined;
  const previous = twin.sfn.onEvent;
  // While the first run waits for its snapshot (the clock held there), the second one starts.
  twin.sfn.onEvent = (exec, event) => {
    previous?.(exec, event);
    if (
      !second &&
      isChildOf(exec, first) &&
      event.type === 'StateEntered' &&
      event.state === 'Wait For Source Snapshot'
    ) {
      release = holdClock(twin);
      second = twin.start('source', 'replicate', { databases: [database] }, 'busy-second');
    }
  };
  try {
    await waitFor(() => second !== undefined);
    await second!.done;

    // The moment the second run gave up: the first is still running, its child execution for the
    // database holding the lock (and running too), its snapshot underway.
    expect(first.status).toBe('RUNNING');
    const firstChild = childOf(twin, first, database);
    expect(firstChild.status).toBe('RUNNING');
    expect(await tableItems(story, database)).toEqual([
      expect.objectContaining({
        pk: `lock#${database}`,
        holder: firstChild.executionArn,
        runId: 'busy-first',
      }),
    ]);
    const underway = await snapshotsOf(twin, database);
    expect(underway.map((s) => [s.DBSnapshotIdentifier, s.Status])).toEqual([
      [expect.stringMatching(new RegExp(`^${intermediatePrefix(database)}`)), 'creating'],
    ]);
  } finally {
    twin.sfn.onEvent = previous;
    release?.();
  }
  await first.done;
  await twin.settle();

  // The second run: refused for that database, nothing created or deleted, operations told why.
  expect(second!.status).toBe('FAILED');
  expect(second!.error).toBe('ReplicationFailed');
  expect(second!.cause).toContain(`"${database}"`);
  const refused = outcomeOf(second!, database);
  expect(refused).toMatchObject({
    status: 'FAILED',
    failedState: 'Take Database Lock',
    error: 'ReplicationAlreadyRunning',
  });
  // The Cause names the lock holder: the first run's child execution for the database.
  expect(refused.cause).toContain(childOf(twin, first, database).executionArn);
  const secondChild = childOf(twin, second!, database);
  const secondStates = statesEntered(secondChild);
  expect(secondStates).toContain('Refuse Concurrent Run');
  for (const state of [
    'Create Source Snapshot',
    'Delete Intermediate Snapshot After Failure',
    'Release Lock After Failure',
    'Take Over Stale Lock',
  ]) {
    expect(secondStates).not.toContain(state);
  }
  const notices = await takeNotices(story);
  expect(notices).toHaveLength(1);
  expect(notices[0]!.message).toMatchObject({
    database,
    failedState: 'Take Database Lock',
    error: 'ReplicationAlreadyRunning',
    executionArn: secondChild.executionArn,
  });

  // The first run: succeeded as if alone.
  expect(describeRun(first)).toBe('busy-first: SUCCEEDED  ');
  const copy = outcomeOf(first, database);
  expect(await snapshotIdsOf(twin, database)).toEqual([copy.sharedSnapshotId]);
  expect(await restoreAttribute(twin, copy.sharedSnapshotId!)).toEqual(DESTINATIONS);
  expect((await takeMessagesOf(database)).map((m) => m.message.runId)).toEqual(['busy-first']);
  expect(await tableItems(story, database)).toEqual([
    expect.objectContaining({ pk: `copy#${database}`, snapshotId: copy.sharedSnapshotId }),
  ]);
});

async function waitFor(condition: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

// ---------------------------------------------------------------------------------------------
// Bad input: InvalidInput, a Cause naming the field, nothing created
// ---------------------------------------------------------------------------------------------

describe('bad input fails with InvalidInput before anything is created', () => {
  beforeAll(async () => {
    await createSourceDatabase(twin, { id: 'input-db' });
    // An Aurora cluster and its writer: snapshots of those are cluster snapshots, not this service's.
    const { rds } = twin.aws('source');
    await rds.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: 'input-cluster',
        Engine: 'aurora-postgresql',
        EngineVersion: '16.4',
        MasterUsername: 'app',
        MasterUserPassword: FIXTURE_PASSWORD,
      }),
    );
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: 'input-cluster-writer',
        DBClusterIdentifier: 'input-cluster',
        Engine: 'aurora-postgresql',
        DBInstanceClass: 'db.r6g.large',
      }),
    );
  });

  test.each([
    {
      what: 'an unknown field',
      input: { databases: ['input-db'], force: true },
      cause: /^input: unknown field .*optionally with "snapshotSource".*has no other field/,
    },
    {
      what: 'a misspelt field',
      input: { Databases: ['input-db'] },
      cause: /^input: unknown field .*optionally with "snapshotSource".*has no other field/,
    },
    {
      what: 'databases as a string, not a list',
      input: { databases: 'input-db' },
      cause: /^databases: expected a list/,
    },
    {
      what: 'databases as an object',
      input: { databases: { name: 'input-db' } },
      cause: /^databases: expected a list/,
    },
    { what: 'databases as a number', input: { databases: 7 }, cause: /^databases: expected a list/ },
    {
      what: 'a number instead of an identifier',
      input: { databases: [42] },
      cause: /^databases\[0\]: expected a DB instance identifier \(a string\)$/,
    },
    {
      what: 'the identifier Orders_DB',
      input: { databases: ['Orders_DB'] },
      cause: /^databases\[0\]: Orders_DB is not an RDS DB instance identifier/,
    },
    {
      what: 'the identifier a--b',
      input: { databases: ['a--b'] },
      cause: /^databases\[0\]: a--b is not an RDS DB instance identifier/,
    },
    {
      what: 'a valid database followed by an invalid one',
      input: { databases: ['input-db', 'input-db-'] },
      cause: /^databases\[1\]: input-db- is not an RDS DB instance identifier/,
    },
    {
      what: 'an instance that does not exist',
      input: { databases: ['ghost-db'] },
      cause: /^databases\[0\]: there is no DB instance ghost-db in account 111111111111, Region eu-west-1$/,
    },
    { what: 'an empty list', input: { databases: [] }, cause: /^databases: the list is empty/ },
    {
      what: 'the same database twice',
      input: { databases: ['input-db', 'input-db'] },
      cause: /^databases: a DB instance is listed more than once/,
    },
    {
      what: 'the same database twice in different case',
      input: { databases: ['input-db', 'INPUT-DB'] },
      cause: /^databases: a DB instance is listed more than once/,
    },
    {
      what: 'more than 50 databases',
      input: { databases: Array.from({ length: 51 }, (_, i) => `input-db-${i}`) },
      cause: /^databases: more than 50 entries/,
    },
    {
      what: 'a member of an Aurora cluster',
      input: { databases: ['input-cluster-writer'] },
      cause:
        /^databases\[0\]: input-cluster-writer \(engine aurora-postgresql\) belongs to a DB cluster; this service replicates stand-alone DB instances only$/,
    },
    {
      what: 'a list as the whole input',
      input: ['input-db'],
      cause: /^input: unknown field or not a JSON object/,
    },
  ])('$what', async ({ input, cause }) => {
    const snapshotsBefore = (await manualSnapshots(twin)).map((s) => s.DBSnapshotIdentifier).sort();
    const itemsBefore = await tableItems(story);

    const run = await twin.run('source', 'replicate', input);

    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('InvalidInput');
    expect(run.cause).toMatch(cause);
    // Nothing was locked, snapshotted or announced: the run never reached the replication.
    expect(statesEntered(run)).not.toContain(EACH_DATABASE);
    expect(eventsOf(run, 'Replicate One Database')).toEqual([]);
    expect(childrenOf(twin, run)).toEqual([]);
    expect((await manualSnapshots(twin)).map((s) => s.DBSnapshotIdentifier).sort()).toEqual(snapshotsBefore);
    expect(await tableItems(story)).toEqual(itemsBefore);
    expect(await takeMessages(story)).toEqual([]);
    expect(await takeNotices(story)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// The schedule (redeploys: keep last)
// ---------------------------------------------------------------------------------------------

test.each([
  { scheduleEnabled: 'true', state: 'ENABLED' },
  { scheduleEnabled: 'false', state: 'DISABLED' },
])(
  'deployed with scheduleEnabled=$scheduleEnabled the schedule is $state',
  async ({ scheduleEnabled, state }) => {
    await twin.reset();
    const stack = await twin.deploy('source', { params: { scheduleEnabled } });
    // one rule for `replicate`, one for the Aurora DB clusters' `replicate-clusters`
    expect(stack.schedules).toHaveLength(2);
    expect(stack.schedules).toEqual([
      expect.objectContaining({
        state,
        expression: 'cron(0 3 * * ? *)',
        target: twin.machineArn('source', 'replicate'),
      }),
      expect.objectContaining({
        state,
        expression: 'cron(0 3 * * ? *)',
        target: twin.machineArn('source', 'replicateClusters'),
      }),
    ]);
  },
);
