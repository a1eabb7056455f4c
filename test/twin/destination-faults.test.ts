// The destination service under faults and bad input, on the offline twin (issue 5, item 1
// destination part, and item 2 for the destination machines). Each scenario asserts the final
// status and Error, what exists afterwards, that the live secret and the live replica are
// untouched, that whatever the run created is gone and that the operations topic got a notice.
//
// One source replication makes the first live replica; every later run is started on demand
// (`sls invoke stepf --name replicate`) with a message for that same shared snapshot, or goes
// through the source topic where the trigger is under test. Deployed with maxWaitMinutes=30.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { CreateDBInstanceCommand, type DBInstance } from '@aws-sdk/client-rds';
import { DeleteSecretCommand } from '@aws-sdk/client-secrets-manager';
import { PublishCommand } from '@aws-sdk/client-sns';
import { type ExecutionRecord, startTwin, type Twin } from '../../twin/src';
import { FIXTURE_PASSWORD } from '../../twin/src/fixtures';
import { occurrences } from '../../twin/src/metrics';
import {
  DATABASE,
  DAY_MS,
  DEPLOYMENT_ID,
  destinationExecutions,
  destinationSnapshots,
  failureSummary,
  inputOf,
  instance,
  instances,
  invocationCounts,
  letTimePass,
  messageLike,
  type Notice,
  output,
  publishToSourceTopic,
  putSecret,
  replicaNameFor,
  replicateOnce,
  type SecretState,
  type Story,
  secretState,
  setUpStory,
  statesEntered,
  TAG,
  takeFailedTriggerEvents,
  takeNotices,
} from './helpers/destination';

let twin: Twin;
let story: Story;
/** The message the source published for the first replication (a real shared snapshot). */
let base: Record<string, unknown>;
let goodSecret: string;
let onDemandRuns = 0;
/** The replica the secret pointed at when it was last readable. */
let knownLive = '';

interface InstanceSummary {
  status: string | undefined;
  deletionProtection: boolean | undefined;
  endpoint: string;
  instanceClass: string | undefined;
  tags: Record<string, string>;
}

interface World {
  secret: SecretState;
  live: string;
  instances: Record<string, InstanceSummary>;
  snapshots: string[];
}

function summary(i: DBInstance): InstanceSummary {
  return {
    status: i.DBInstanceStatus,
    deletionProtection: i.DeletionProtection,
    endpoint: `${i.Endpoint?.Address}:${i.Endpoint?.Port}`,
    instanceClass: i.DBInstanceClass,
    tags: Object.fromEntries((i.TagList ?? []).map((t) => [t.Key!, t.Value!])),
  };
}

/** What an operator would look at in the destination account, once pending RDS phases are done. */
async function observe(): Promise<World> {
  await letTimePass(twin);
  const secret = await secretState(twin);
  if (typeof secret.value.dbInstanceIdentifier === 'string') knownLive = secret.value.dbInstanceIdentifier;
  const all = await instances(twin);
  return {
    secret,
    live: knownLive,
    instances: Object.fromEntries(all.map((i) => [i.DBInstanceIdentifier!, summary(i)])),
    snapshots: await destinationSnapshots(twin),
  };
}

/** The live secret (every byte, same version), every instance and every snapshot as before. */
async function expectNothingChanged(before: World) {
  const after = await observe();
  expect(after.secret.versionId).toBe(before.secret.versionId);
  expect(after.secret.raw).toBe(before.secret.raw);
  expect(after.instances[before.live]).toEqual(before.instances[before.live]);
  expect(after.instances[before.live]?.status).toBe('available');
  expect(after.instances).toEqual(before.instances);
  expect(after.snapshots).toEqual(before.snapshots);
}

/** A valid message for the first replication's shared snapshot, as if taken `n` days later. */
function nextMessage(): Record<string, unknown> {
  onDemandRuns++;
  const time = new Date(Date.parse(String(base.snapshotCreateTime)) + onDemandRuns * DAY_MS).toISOString();
  return messageLike(base, time, `on-demand-${onDemandRuns}`);
}

async function replicateOnDemand(message: unknown): Promise<ExecutionRecord> {
  return twin.run('destination', 'replicate', message);
}

/** What the run named before creating anything: its snapshot copy and its replica. */
function namesOf(exec: ExecutionRecord): { copy?: string; replica?: string } {
  const out = (state: string) =>
    exec.history.find((e) => e.type === 'StateExited' && e.state === state)?.output as
      | { copy?: { dbSnapshotIdentifier?: string }; names?: { dbInstanceIdentifier?: string } }
      | undefined;
  return {
    copy: out('Name The Snapshot Copy')?.copy?.dbSnapshotIdentifier,
    replica: out('Name The Replica')?.names?.dbInstanceIdentifier,
  };
}

/** Exactly one notice, about this execution's failure. */
async function expectFailureNotice(exec: ExecutionRecord): Promise<Notice> {
  const notices = await takeNotices(story);
  expect(notices).toHaveLength(1);
  const notice = notices[0]!;
  expect(notice.subject).toBe(`${DEPLOYMENT_ID}: replication failed`);
  expect(notice.message).toMatchObject({
    database: DATABASE,
    execution: exec.executionArn,
    error: exec.error,
    cause: exec.cause,
  });
  expect(JSON.stringify(notice)).not.toContain(FIXTURE_PASSWORD);
  return notice;
}

beforeAll(async () => {
  twin = await startTwin();
  story = await setUpStory(twin, { maxWaitMinutes: '30' });
  const first = await replicateOnce(twin);
  if (first.status !== 'SUCCEEDED') throw new Error(failureSummary(first));
  base = inputOf(first);
  goodSecret = (await observe()).secret.raw;
  await takeNotices(story);
}, 120_000);

afterAll(async () => {
  await twin?.stop();
});

beforeEach(async () => {
  await takeNotices(story); // a notice left by an earlier test is not this test's
});

afterEach(async () => {
  await twin.moto.control.clearFaults();
  await twin.settle();
});

// ---- RDS and Secrets Manager faults --------------------------------------------------------------

test('the copy fails because the source key is not shared with this account: Rds.KmsKeyNotAccessibleException, nothing created, notified', async () => {
  const before = await observe();
  await twin.moto.control.addFault({
    kind: 'kms-unusable',
    keyArn: story.sourceKeyArn,
    account: twin.accounts.destination,
  });
  const lambdasBefore = twin.lambda.invocations.length;

  const exec = await replicateOnDemand(nextMessage());

  expect(exec.status).toBe('FAILED');
  expect(exec.error).toBe('Rds.KmsKeyNotAccessibleException');
  expect(exec.cause).toContain(story.sourceKeyArn);
  expect(statesEntered(exec)).toContain('Copy The Shared Snapshot');
  expect(statesEntered(exec)).not.toContain('Restore The Replica');
  expect(invocationCounts(twin, lambdasBefore)).toEqual({ nameReplica: 1 });
  await expectFailureNotice(exec);
  await expectNothingChanged(before);
});

test('the restore ends incompatible-parameters: RestoreFailed, the replica and the copy are deleted, notified', async () => {
  const before = await observe();
  const message = nextMessage();
  const replica = replicaNameFor(String(message.snapshotCreateTime));
  await twin.moto.control.addFault({
    kind: 'instance-status',
    match: replica,
    status: 'incompatible-parameters',
    account: twin.accounts.destination,
  });

  const exec = await replicateOnDemand(message);

  expect(exec.status).toBe('FAILED');
  expect(exec.error).toBe('RestoreFailed');
  expect(exec.cause).toContain(replica);
  expect(exec.cause).toContain('incompatible-parameters');
  expect(namesOf(exec).replica).toBe(replica);
  expect(statesEntered(exec)).toContain('Delete The Abandoned Replica');
  expect(statesEntered(exec)).toContain('Delete The Abandoned Copy');
  expect(statesEntered(exec)).not.toContain('Point The Secret At The Replica');
  const notice = await expectFailureNotice(exec);
  expect(JSON.stringify(notice.message.cleanup)).toContain(replica);
  await expectNothingChanged(before);
});

test('the restore never finishes within maxWaitMinutes=30: RestoreTimedOut after 30 minutes, the replica is deleted, notified', async () => {
  const before = await observe();
  const message = nextMessage();
  const replica = replicaNameFor(String(message.snapshotCreateTime));
  await twin.moto.control.addFault({
    kind: 'never-finishes',
    match: replica,
    resource: 'instance',
    account: twin.accounts.destination,
  });

  const exec = await replicateOnDemand(message);

  expect(exec.status).toBe('FAILED');
  expect(exec.error).toBe('RestoreTimedOut');
  expect(exec.cause).toContain(replica);
  const waited = Number(/after (\d+) seconds/.exec(exec.cause ?? '')?.[1]);
  expect(waited).toBeGreaterThanOrEqual(30 * 60);
  expect(waited).toBeLessThan(40 * 60);
  // The run gave up and asked RDS to delete what it restored (still held by the fault) ...
  expect(statesEntered(exec)).toContain('Delete The Abandoned Replica');
  expect((await instance(twin, replica))?.DBInstanceStatus).toBe('deleting');
  await expectFailureNotice(exec);
  // ... which completes once RDS moves again.
  await twin.moto.control.clearFaults();
  await expectNothingChanged(before);
});

test('writing the secret fails after the restore: the restored replica is deleted, the secret is unchanged, notified', async () => {
  const before = await observe();
  const message = nextMessage();
  const replica = replicaNameFor(String(message.snapshotCreateTime));
  await twin.moto.control.addFault({
    kind: 'error',
    api: 'PutSecretValue',
    service: 'secretsmanager',
    code: 'InternalServiceError',
    status: 500,
    count: 10,
    account: twin.accounts.destination,
  });

  const exec = await replicateOnDemand(message);

  expect(exec.status).toBe('FAILED');
  expect(exec.error).toBe('InternalServiceError');
  const entered = statesEntered(exec);
  expect(entered).toContain('Point The Secret At The Replica');
  // By then the replica was protected: protection goes off before the delete.
  expect(entered.indexOf('Unprotect The Abandoned Replica')).toBeGreaterThan(
    entered.indexOf('Point The Secret At The Replica'),
  );
  expect(entered.indexOf('Delete The Abandoned Replica')).toBeGreaterThan(
    entered.indexOf('Unprotect The Abandoned Replica'),
  );
  expect(entered).not.toContain('Record The Live Replica');
  expect(entered).not.toContain('Select Replicas To Delete');
  const notice = await expectFailureNotice(exec);
  expect(JSON.stringify(notice.message.cleanup)).toContain(replica);
  await expectNothingChanged(before);
});

test('the secret is not JSON: InvalidSecret before anything is copied or restored, notified', async () => {
  await putSecret(twin, `host=db.example.com password=${FIXTURE_PASSWORD}`);
  const before = await observe();
  const lambdasBefore = twin.lambda.invocations.length;

  const exec = await replicateOnDemand(nextMessage());

  expect(exec.status).toBe('FAILED');
  expect(exec.error).toBe('InvalidSecret');
  expect(exec.cause).toMatch(/not valid JSON/);
  expect(exec.cause).not.toContain(FIXTURE_PASSWORD);
  expect(occurrences([exec], FIXTURE_PASSWORD)).toEqual([]); // nor any event (raw results included)
  expect(statesEntered(exec)).not.toContain('Copy The Shared Snapshot');
  expect(statesEntered(exec)).not.toContain('Restore The Replica');
  expect(invocationCounts(twin, lambdasBefore)).toEqual({ nameReplica: 1 });
  await expectFailureNotice(exec);
  await expectNothingChanged(before);
  await putSecret(twin, goodSecret);
});

test('the secret lacks a required key: InvalidSecret naming the key, before anything is created, notified', async () => {
  const withoutPassword = JSON.parse(goodSecret) as Record<string, unknown>;
  delete withoutPassword.password;
  await putSecret(twin, JSON.stringify(withoutPassword));
  const before = await observe();

  const exec = await replicateOnDemand(nextMessage());

  expect(exec.status).toBe('FAILED');
  expect(exec.error).toBe('InvalidSecret');
  expect(exec.cause).toContain("'password'");
  expect(statesEntered(exec)).not.toContain('Copy The Shared Snapshot');
  expect(statesEntered(exec)).not.toContain('Restore The Replica');
  await expectFailureNotice(exec);
  await expectNothingChanged(before);
  await putSecret(twin, goodSecret);
});

test('deleting one old replica fails: the run succeeds, the other old replica is deleted, the failure is reported and notified', async () => {
  // Two older replicas of this deployment beside the live one (as if from earlier runs).
  const { rds } = twin.aws('destination');
  // named by the naming rule, so within the names this deployment's role may modify and delete
  const old = [
    replicaNameFor('2025-12-01T00:00:00.000Z'),
    replicaNameFor('2025-12-02T00:00:00.000Z'),
  ] as const;
  for (const [n, id] of old.entries()) {
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: id,
        Engine: 'postgres',
        DBInstanceClass: 'db.t4g.micro',
        AllocatedStorage: 20,
        MasterUsername: 'app',
        MasterUserPassword: 'not-the-fixture-password',
        DeletionProtection: n === 0,
        Tags: [
          { Key: TAG.managedBy, Value: DEPLOYMENT_ID },
          { Key: TAG.kind, Value: 'replica' },
          { Key: TAG.sourceDatabase, Value: DATABASE },
          { Key: TAG.snapshotTime, Value: `2025-12-0${n + 1}T00:00:00.000Z` },
        ],
      }),
    );
  }
  const before = await observe();
  const [failing, deletable] = old;
  await twin.moto.control.addFault({
    kind: 'error',
    api: 'DeleteDBInstance',
    service: 'rds',
    code: 'AccessDenied',
    message: 'explicit deny in a service control policy',
    count: 5,
    match: failing,
    account: twin.accounts.destination,
  });

  const exec = await replicateOnDemand(nextMessage());

  expect(failureSummary(exec)).toBe(`${exec.name}: SUCCEEDED  `);
  const out = output<{
    dbInstanceIdentifier: string;
    previousDbInstanceIdentifier: string;
    deleted: string[];
    retentionFailures: Array<{
      dbInstanceIdentifier: string;
      deleted: boolean;
      error: string;
      cause: string;
    }>;
  }>(exec);
  expect(out.previousDbInstanceIdentifier).toBe(before.live);
  expect(out.deleted).toEqual([deletable]);
  expect(out.retentionFailures).toEqual([
    expect.objectContaining({ dbInstanceIdentifier: failing, deleted: false, error: 'Rds.RdsException' }),
  ]);
  expect(out.retentionFailures[0]!.cause).toContain('explicit deny in a service control policy');
  // protection of the failing one was turned off first; its delete was retried, then given up
  expect(
    exec.history.some(
      (e) =>
        e.type === 'StateEntered' &&
        e.state === 'Turn Off Deletion Protection' &&
        (e.input as { id?: string }).id === failing,
    ),
  ).toBe(true);
  expect(
    exec.history.filter((e) => e.type === 'StateRetried' && e.state === 'Delete The Old Replica').length,
  ).toBe(4);

  const notices = await takeNotices(story);
  expect(notices).toHaveLength(1);
  expect(notices[0]!.subject).toBe(`${DEPLOYMENT_ID}: replication succeeded, clean-up incomplete`);
  expect(notices[0]!.message).toMatchObject({
    database: DATABASE,
    execution: exec.executionArn,
    dbInstanceIdentifier: out.dbInstanceIdentifier,
    retentionFailures: [expect.objectContaining({ dbInstanceIdentifier: failing })],
  });

  const after = await observe();
  expect(after.live).toBe(out.dbInstanceIdentifier);
  expect(after.instances[failing]?.status).toBe('available');
  expect(after.instances[deletable]).toBeUndefined();
  expect(after.instances[before.live]).toEqual(before.instances[before.live]);
  expect(after.snapshots).toEqual([]);
});

test('a second run for the same database while one is running fails with ReplicationAlreadyRunning and creates nothing', async () => {
  const before = await observe();
  const first = twin.start('destination', 'replicate', nextMessage());
  const second = twin.start('destination', 'replicate', nextMessage());
  await Promise.all([first.done, second.done]);
  await twin.settle();

  const runs = [first, second];
  const winner = runs.find((e) => e.status === 'SUCCEEDED');
  const loser = runs.find((e) => e.status === 'FAILED');
  expect(winner).toBeDefined();
  expect(loser).toBeDefined();
  expect(loser!.error).toBe('ReplicationAlreadyRunning');
  expect(loser!.cause).toContain(winner!.executionArn);
  expect(loser!.cause).toContain(DATABASE);
  expect(statesEntered(loser!)).not.toContain('Name The Replica');
  expect(statesEntered(loser!)).not.toContain('Copy The Shared Snapshot');
  // the loser did not release the winner's lock: the winner released it itself
  expect(statesEntered(loser!)).not.toContain('Release The Lock After Failure');

  const notices = await takeNotices(story);
  expect(notices.map((n) => [n.subject, n.message.execution, n.message.error])).toEqual([
    [`${DEPLOYMENT_ID}: replication failed`, loser!.executionArn, 'ReplicationAlreadyRunning'],
  ]);
  const after = await observe();
  const loserRun = inputOf<{ runId: string }>(loser!).runId;
  expect(Object.values(after.instances).filter((i) => i.tags[TAG.runId] === loserRun)).toEqual([]);
  expect(after.live).toBe(output<{ dbInstanceIdentifier: string }>(winner!).dbInstanceIdentifier);
  expect(after.live).not.toBe(before.live);

  // and the lock is free again
  const next = await replicateOnDemand(nextMessage());
  expect(failureSummary(next)).toBe(`${next.name}: SUCCEEDED  `);
  await takeNotices(story);
});

// ---- the trigger: duplicates, forgeries and malformed messages ----------------------------------

test('the same message delivered twice starts one execution', async () => {
  const message = { ...nextMessage(), runId: 'delivered-twice' };
  const before = new Set(destinationExecutions(twin, 'replicate'));
  const invocationsBefore = twin.lambda.invocations.length;
  const { sns } = twin.aws('source');
  const publish = () =>
    sns.send(new PublishCommand({ TopicArn: story.sourceTopicArn, Message: JSON.stringify(message) }));
  await publish();
  await publish();
  await twin.settle();

  const started = destinationExecutions(twin, 'replicate').filter((e) => !before.has(e));
  expect(started).toHaveLength(1);
  expect(failureSummary(started[0]!)).toBe(`${started[0]!.name}: SUCCEEDED  `);
  const triggerCalls = twin.lambda.invocations
    .slice(invocationsBefore)
    .filter((i) => i.function === story.triggerFunction);
  expect(triggerCalls.map((i) => [i.ok, i.attempt])).toEqual([
    [true, 1],
    [true, 1],
  ]);
  await letTimePass(twin);
  const restored = (await instances(twin)).filter((i) =>
    i.TagList?.some((t) => t.Key === TAG.runId && t.Value === 'delivered-twice'),
  );
  expect(restored).toHaveLength(1);
  expect(await takeFailedTriggerEvents(story)).toEqual([]);
  await takeNotices(story);
});

test('forged and malformed messages on the source topic start nothing and are not retried', async () => {
  const fresh = () => ({ ...nextMessage(), runId: `forged-${onDemandRuns}` });
  const other = '333333333333';
  const withoutRunId = fresh() as Record<string, unknown>;
  delete withoutRunId.runId;
  const cases: Array<[string, unknown, RegExp]> = [
    [
      'from another account',
      {
        ...fresh(),
        sourceAccountId: other,
        sharedSnapshotArn: String(base.sharedSnapshotArn).replace(`:${twin.accounts.source}:`, `:${other}:`),
      },
      /sourceAccountId/,
    ],
    [
      'for an unknown database',
      { ...fresh(), sourceDbInstanceIdentifier: 'billing-db' },
      /sourceDbInstanceIdentifier/,
    ],
    [
      'with a snapshot of another account',
      {
        ...fresh(),
        sharedSnapshotArn: String(base.sharedSnapshotArn).replace(`:${twin.accounts.source}:`, `:${other}:`),
      },
      /sharedSnapshotArn.*333333333333/,
    ],
    [
      'from another Region',
      {
        ...fresh(),
        sourceRegion: 'us-east-1',
        sharedSnapshotArn: String(base.sharedSnapshotArn).replace(`:${twin.region}:`, ':us-east-1:'),
      },
      /sourceRegion/,
    ],
    ['with a field missing', withoutRunId, /runId/],
    ['of another version', { ...fresh(), version: 2 }, /version/],
    ['with a field of the wrong type', { ...fresh(), snapshotCreateTime: 1767225600 }, /snapshotCreateTime/],
    ['larger than 16 KiB', { ...fresh(), padding: 'x'.repeat(17 * 1024) }, /bytes, more than 16384/],
    ['that is not JSON', 'orders-db please replicate', /not JSON/],
  ];
  const executionsBefore = twin.sfn.executions.size;
  const invocationsBefore = twin.lambda.invocations.length;
  const logsBefore = twin.lambda.logs.length;
  const failuresBefore = twin.lambda.asyncFailures.length;

  for (const [, message] of cases) await publishToSourceTopic(story, message);
  await letTimePass(twin); // time for any retry Lambda would make (1 and 2 minutes later)

  expect(twin.sfn.executions.size).toBe(executionsBefore);
  const calls = twin.lambda.invocations.slice(invocationsBefore);
  expect(calls).toHaveLength(cases.length);
  expect(calls.every((c) => c.function === story.triggerFunction && c.ok && c.attempt === 1)).toBe(true);
  expect(twin.lambda.asyncFailures.length).toBe(failuresBefore);
  expect(await takeFailedTriggerEvents(story)).toEqual([]);

  const reasons = twin.lambda.logs
    .slice(logsBefore)
    .filter((l) => l.line.includes('rejected replication message'))
    .map((l) => (JSON.parse(l.line) as { reason: string }).reason);
  expect(reasons).toHaveLength(cases.length);
  for (const [i, [what, , reason]] of cases.entries()) {
    expect(`${what}: ${reasons[i]}`).toMatch(reason);
  }
  // a rejection quotes the offending field, never the whole message
  expect(reasons.join('\n')).not.toContain('x'.repeat(200));
  expect(await takeNotices(story)).toEqual([]);
});

// ---- bad execution input -----------------------------------------------------------------------

describe('bad input to replicate ends in InvalidInput naming the field and creates nothing', () => {
  const cases: Array<[string, () => unknown, string]> = [
    [
      'a missing field',
      () => {
        const m = nextMessage();
        delete m.sharedSnapshotArn;
        return m;
      },
      "'sharedSnapshotArn'",
    ],
    ['a missing version', () => ({ ...nextMessage(), version: undefined }), "'version'"],
    [
      'an extra field',
      () => ({ ...nextMessage(), instanceClass: 'db.r7g.16xlarge' }),
      'version 1 does not define',
    ],
    ['a version of the wrong type', () => ({ ...nextMessage(), version: '1' }), "'version'"],
    [
      'another source account',
      () => ({ ...nextMessage(), sourceAccountId: '333333333333' }),
      "'sourceAccountId'",
    ],
    [
      'a time of the wrong type',
      () => ({ ...nextMessage(), snapshotCreateTime: 1767225600 }),
      "'snapshotCreateTime'",
    ],
    ['an engine of the wrong type', () => ({ ...nextMessage(), engine: ['postgres'] }), "'engine'"],
    [
      'an invalid database identifier',
      () => ({ ...nextMessage(), sourceDbInstanceIdentifier: 'Orders_DB; drop' }),
      "'sourceDbInstanceIdentifier'",
    ],
    [
      'a snapshot ARN of another account',
      () => ({
        ...nextMessage(),
        sharedSnapshotArn: String(base.sharedSnapshotArn).replace(':111111111111:', ':333333333333:'),
      }),
      "'sharedSnapshotArn'",
    ],
    [
      'an invalid snapshot ARN',
      () => ({ ...nextMessage(), sharedSnapshotArn: 'shared-orders-db' }),
      "'sharedSnapshotArn'",
    ],
    ['a list instead of a message', () => [nextMessage()], 'must be a JSON object'],
  ];

  test.each(cases)('%s', async (_what, input, field) => {
    const before = await observe();
    const lambdasBefore = twin.lambda.invocations.length;
    const exec = await replicateOnDemand(input());
    expect(exec.status).toBe('FAILED');
    expect(`${exec.error}: ${exec.cause}`).toMatch(/^InvalidInput: /);
    expect(exec.cause).toContain(field);
    expect(statesEntered(exec)).not.toContain('Take The Database Lock');
    expect(twin.lambda.invocations.length).toBe(lambdasBefore);
    await expectNothingChanged(before);
  });
});

describe('bad input to rollback ends in InvalidInput naming the field and changes nothing', () => {
  const unmanaged = 'legacy-orders-db';
  beforeAll(async () => {
    // An instance in the account that this deployment does not manage.
    await twin.aws('destination').rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: unmanaged,
        Engine: 'postgres',
        DBInstanceClass: 'db.t4g.micro',
        AllocatedStorage: 20,
        MasterUsername: 'app',
        MasterUserPassword: 'not-the-fixture-password',
        Tags: [{ Key: TAG.sourceDatabase, Value: DATABASE }],
      }),
    );
  });

  const cases: Array<[string, unknown, string]> = [
    ['a missing database', { to: 'previous' }, "'database'"],
    ['a database of the wrong type', { database: 7, to: 'previous' }, "'database'"],
    ['an unknown database', { database: 'billing-db', to: 'previous' }, "'database'"],
    ['an invalid database identifier', { database: 'Orders DB!', to: 'previous' }, "'database'"],
    ['a missing target', { database: DATABASE }, "'to'"],
    ['an empty target', { database: DATABASE, to: '' }, "'to'"],
    ['a target of the wrong type', { database: DATABASE, to: 3 }, "'to'"],
    ['dryRun of the wrong type', { database: DATABASE, to: 'previous', dryRun: 'yes' }, "'dryRun'"],
    ['an extra field', { database: DATABASE, to: 'previous', force: true }, 'database, to and dryRun'],
    [
      'an unknown target replica',
      { database: DATABASE, to: replicaNameFor('1999-01-01T00:00:00.000Z') },
      "'to'",
    ],
    ['an invalid target identifier', { database: DATABASE, to: 'Not An Instance!' }, "'to'"],
    ['a target this deployment does not manage', { database: DATABASE, to: unmanaged }, "'to'"],
  ];

  test.each(cases)('%s', async (_what, input, field) => {
    const before = await observe();
    const lambdasBefore = twin.lambda.invocations.length;
    const exec = await twin.run('destination', 'rollback', input);
    expect(exec.status).toBe('FAILED');
    expect(`${exec.error}: ${exec.cause}`).toMatch(/^InvalidInput: /);
    expect(exec.cause).toContain(field);
    expect(twin.lambda.invocations.length).toBe(lambdasBefore);
    await expectNothingChanged(before);
  });
});

// ---- last: a missing secret cannot be put back under the same ARN ------------------------------

test('the secret is missing: the run fails before anything is copied or restored, notified', async () => {
  await twin
    .aws('destination')
    .secrets.send(new DeleteSecretCommand({ SecretId: story.secretArn, ForceDeleteWithoutRecovery: true }));
  const before = await observe().catch(() => undefined);
  expect(before).toBeUndefined(); // the secret is really gone
  const instancesBefore = (await instances(twin)).map((i) => i.DBInstanceIdentifier).sort();
  const snapshotsBefore = await destinationSnapshots(twin);

  const exec = await replicateOnDemand(nextMessage());

  expect(exec.status).toBe('FAILED');
  // A clear Error and Cause: which secret is missing (not only the SDK's "can't find the specified secret").
  expect(exec.error).toBe('InvalidSecret');
  expect(exec.cause).toContain(story.secretArn);
  expect(statesEntered(exec)).not.toContain('Copy The Shared Snapshot');
  expect(statesEntered(exec)).not.toContain('Restore The Replica');
  await expectFailureNotice(exec);
  await letTimePass(twin);
  expect((await instances(twin)).map((i) => i.DBInstanceIdentifier).sort()).toEqual(instancesBefore);
  expect(await destinationSnapshots(twin)).toEqual(snapshotsBefore);
});
