// Data safety of the destination `replicate` on the offline twin (issue 9, points 1, 3, 4, 5):
// - the shared snapshot's provenance is checked before anything is created;
// - a secret switch whose reply was lost never deletes the replica the secret points at;
// - a create whose first attempt succeeded but whose response was lost is adopted, not orphaned;
// - a restore that meets a taken name goes on with the next free name.
// Every scenario asserts the execution's outcome, the secret, the instances and snapshots that
// exist afterwards, and the operations notice.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import {
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  type DBInstance,
  ModifyDBSnapshotAttributeCommand,
} from '@aws-sdk/client-rds';
import { type ExecutionRecord, startTwin, type Twin } from '../../twin/src';
import { createSourceDatabase, FIXTURE_PASSWORD } from '../../twin/src/fixtures';
import {
  DATABASE,
  DAY_MS,
  destinationSnapshots,
  failureSummary,
  inputOf,
  instances,
  letTimePass,
  messageLike,
  type Notice,
  replicaNameFor,
  replicateOnce,
  type SecretState,
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

interface World {
  secret: SecretState;
  instances: Record<string, { status?: string; tags: Record<string, string> }>;
  snapshots: string[];
}

const tagsOf = (i: DBInstance) => Object.fromEntries((i.TagList ?? []).map((t) => [t.Key!, t.Value!]));

async function observe(): Promise<World> {
  await letTimePass(twin);
  return {
    secret: await secretState(twin),
    instances: Object.fromEntries(
      (await instances(twin)).map((i) => [
        i.DBInstanceIdentifier!,
        { status: i.DBInstanceStatus, tags: tagsOf(i) },
      ]),
    ),
    snapshots: await destinationSnapshots(twin),
  };
}

/** A message for the first replication's shared snapshot, as if taken `runs` days later. */
function nextMessage(extra: Record<string, unknown> = {}): Record<string, unknown> {
  runs++;
  const time = new Date(Date.parse(String(base.snapshotCreateTime)) + runs * DAY_MS).toISOString();
  return { ...messageLike(base, time, `safety-${runs}`), ...extra };
}

/** A manual snapshot of a source database, encrypted with the shared key, shared (or not) with B. */
async function sourceSnapshot(database: string, name: string, share = true): Promise<string> {
  const { rds } = twin.aws('source');
  await rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: database, DBSnapshotIdentifier: name }));
  await letTimePass(twin);
  if (share) {
    await rds.send(
      new ModifyDBSnapshotAttributeCommand({
        DBSnapshotIdentifier: name,
        AttributeName: 'restore',
        ValuesToAdd: [twin.accounts.destination],
      }),
    );
  }
  return `arn:aws:rds:${twin.region}:${twin.accounts.source}:snapshot:${name}`;
}

function replicaOf(exec: ExecutionRecord): string | undefined {
  const out = exec.output ? (JSON.parse(exec.output) as { dbInstanceIdentifier?: string }) : undefined;
  return out?.dbInstanceIdentifier;
}

async function onlyNotice(
  exec: ExecutionRecord,
  subject: 'failed' | 'succeeded',
): Promise<Notice | undefined> {
  const notices = await takeNotices(story);
  expect(JSON.stringify(notices)).not.toContain(FIXTURE_PASSWORD);
  if (subject === 'succeeded') {
    expect(notices.filter((n) => /replication failed/.test(n.subject ?? ''))).toEqual([]);
    return undefined;
  }
  expect(notices).toHaveLength(1);
  expect(notices[0]!.message).toMatchObject({
    execution: exec.executionArn,
    error: exec.error,
    cause: exec.cause,
  });
  return notices[0];
}

/** Refused before anything was created: secret, instances and snapshots exactly as before. */
async function expectRefusedUntouched(exec: ExecutionRecord, before: World) {
  const after = await observe();
  expect(after.secret.versionId).toBe(before.secret.versionId);
  expect(after.secret.raw).toBe(before.secret.raw);
  expect(after.instances).toEqual(before.instances);
  expect(after.snapshots).toEqual(before.snapshots);
  expect(statesEntered(exec)).not.toContain('Copy The Shared Snapshot');
  expect(statesEntered(exec)).not.toContain('Take The Database Lock');
  const notice = await onlyNotice(exec, 'failed');
  expect(notice!.message.secret).toMatch(/not changed/);
}

beforeAll(async () => {
  twin = await startTwin();
  story = await setUpStory(twin, { maxWaitMinutes: '30' });
  const first = await replicateOnce(twin);
  if (first.status !== 'SUCCEEDED') throw new Error(failureSummary(first));
  base = inputOf(first);
  await createSourceDatabase(twin, { id: 'billing-db', encryption: story.sourceKeyArn });
  await letTimePass(twin);
  await takeNotices(story);
}, 120_000);

afterAll(async () => {
  await twin?.stop();
});

afterEach(async () => {
  await twin.moto.control.clearFaults();
  twin.lambda.clearFaults();
  await twin.settle();
  await takeNotices(story);
});

// ---- 1. Snapshot provenance -------------------------------------------------------------------

describe('the shared snapshot must be a snapshot of the database the message names', () => {
  test('a shared snapshot of another database of the source account: SnapshotProvenanceMismatch, nothing created', async () => {
    const arn = await sourceSnapshot('billing-db', 'billing-db-manual-1');
    const before = await observe();
    const exec = await twin.run('destination', 'replicate', nextMessage({ sharedSnapshotArn: arn }));
    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('SnapshotProvenanceMismatch');
    expect(exec.cause).toContain(arn);
    expect(exec.cause).toContain('billing-db');
    expect(exec.cause).toContain(DATABASE);
    await expectRefusedUntouched(exec, before);
  });

  test('a snapshot of the database with another engine than the message says: SnapshotProvenanceMismatch', async () => {
    const before = await observe();
    const exec = await twin.run('destination', 'replicate', nextMessage({ engine: 'mysql' }));
    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('SnapshotProvenanceMismatch');
    expect(exec.cause).toContain('mysql');
    expect(exec.cause).toContain('postgres');
    await expectRefusedUntouched(exec, before);
  });

  test('a snapshot that is not shared with this account: SnapshotNotShared, nothing created', async () => {
    const arn = await sourceSnapshot(DATABASE, 'orders-db-private-1', false);
    const before = await observe();
    const exec = await twin.run('destination', 'replicate', nextMessage({ sharedSnapshotArn: arn }));
    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('SnapshotNotShared');
    expect(exec.cause).toContain(arn);
    await expectRefusedUntouched(exec, before);
  });
});

// ---- 3. A secret switch whose reply was lost ----------------------------------------------------

describe('mergeSecret wrote the secret, then its reply was lost', () => {
  test.each([
    ['times out once (retried: the merge is idempotent)', 'timeout' as const, 1],
    ['times out on every attempt', 'timeout' as const, 20],
    ['meets a Lambda service error on every attempt', 'service-error' as const, 20],
  ])('%s: the run keeps the replica the secret points at', async (_label, failure, count) => {
    const before = await observe();
    twin.lambda.addFault({ function: '*-mergeSecret', failure, count });
    const exec = await twin.run('destination', 'replicate', nextMessage());
    const after = await observe();
    const live = String(after.secret.value.dbInstanceIdentifier);
    expect(after.secret.value.password).toBe(FIXTURE_PASSWORD);
    // The secret points at an instance that exists, is available and is this run's replica.
    expect(after.instances[live]?.status).toBe('available');
    expect(after.instances[live]?.tags[TAG.runId]).toBe(inputOf(exec).runId);
    expect(live).not.toBe(before.secret.value.dbInstanceIdentifier);
    expect(exec.status).toBe('SUCCEEDED');
    expect(replicaOf(exec)).toBe(live);
    // Every attempt failing: the run read where the secret points and went on with the live replica.
    const checked = statesEntered(exec).includes('Note The Switch That Took Effect');
    expect([count, checked]).toEqual([count, count > 1]);
    await onlyNotice(exec, 'succeeded');
  });

  test('mergeSecret wrote then timed out on every attempt, and where the secret points cannot be read: the replica is kept, the notice says the secret is unknown', async () => {
    const before = await observe();
    twin.lambda.addFault([
      { function: '*-mergeSecret', failure: 'timeout', count: 20 },
      // the first nameReplica call (naming) answers; the read-only "where" calls crash
      { function: '*-nameReplica', failure: 'crash', after: false, skip: 1, count: 20 },
    ]);
    const exec = await twin.run('destination', 'replicate', nextMessage());
    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('Sandbox.Timedout');
    expect(statesEntered(exec)).toContain('Keep The Replica The Secret May Point At');
    expect(statesEntered(exec)).not.toContain('Delete The Abandoned Replica');
    const after = await observe();
    const live = String(after.secret.value.dbInstanceIdentifier);
    expect(live).not.toBe(before.secret.value.dbInstanceIdentifier);
    expect(after.instances[live]?.status).toBe('available');
    expect(after.snapshots).toEqual(before.snapshots); // the copy still went
    const notice = await onlyNotice(exec, 'failed');
    expect(notice!.message.secret).toBe(
      `unknown: it may point at ${live} (check the secret; if it does, the replica is live)`,
    );
    expect(String((notice!.message.cleanup as { replica: string }).replica)).toMatch(
      new RegExp(`^${live} was kept`),
    );
    // The next run finds the lock free and the secret as it is now.
    twin.lambda.clearFaults();
    const next = await twin.run('destination', 'replicate', nextMessage());
    expect(next.status).toBe('SUCCEEDED');
    await takeNotices(story);
  });

  test('mergeSecret crashes before writing, on every attempt: the replica goes, the notice says the secret did not change', async () => {
    const before = await observe();
    twin.lambda.addFault({ function: '*-mergeSecret', failure: 'crash', after: false, count: 20 });
    const exec = await twin.run('destination', 'replicate', nextMessage());
    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('Runtime.ExitError');
    expect(statesEntered(exec)).toEqual(
      expect.arrayContaining(['Find Where The Secret Points', 'Delete The Abandoned Replica']),
    );
    const after = await observe();
    expect(after.secret.raw).toBe(before.secret.raw);
    expect(after.instances).toEqual(before.instances);
    expect(after.snapshots).toEqual(before.snapshots);
    const notice = await onlyNotice(exec, 'failed');
    expect(notice!.message.secret).toMatch(/not changed/);
  });
});

// ---- 4. Creates whose response was lost ---------------------------------------------------------

describe('a create took effect but its response was lost; the retry meets AlreadyExists', () => {
  test.each([
    ['copyDBSnapshot', 'CopyDBSnapshot', 'Describe The Existing Copy'],
    ['restoreDBInstanceFromDBSnapshot', 'RestoreDBInstanceFromDBSnapshot', 'Describe The Existing Instance'],
  ])('%s: the run adopts what its first attempt created and succeeds', async (_label, api, adoption) => {
    const before = await observe();
    await twin.moto.control.addFault({
      kind: 'error',
      api,
      code: 'InternalFailure',
      status: 500,
      after: true,
      account: twin.accounts.destination,
    });
    const exec = await twin.run('destination', 'replicate', nextMessage());
    expect([exec.status, exec.error]).toEqual(['SUCCEEDED', undefined]);
    expect(statesEntered(exec)).toContain(adoption);
    const after = await observe();
    const live = String(after.secret.value.dbInstanceIdentifier);
    expect(replicaOf(exec)).toBe(live);
    expect(after.instances[live]?.status).toBe('available');
    // exactly one new instance (no orphan), and no snapshot copy left behind
    const added = Object.keys(after.instances).filter((id) => !(id in before.instances));
    expect(added).toEqual([live]);
    expect(after.snapshots).toEqual(before.snapshots.filter((s) => after.snapshots.includes(s)));
    expect(after.snapshots.filter((s) => !before.snapshots.includes(s))).toEqual([]);
    await onlyNotice(exec, 'succeeded');
  });
});

test('the copy meets DbSnapshotAlreadyExists for a copy this run did not make: SnapshotCopyConflict, nothing deleted', async () => {
  const before = await observe();
  await twin.moto.control.addFault({
    kind: 'error',
    api: 'CopyDBSnapshot',
    code: 'DBSnapshotAlreadyExists',
    message: 'Cannot create the snapshot because a snapshot with the identifier already exists.',
    account: twin.accounts.destination,
  });
  const exec = await twin.run('destination', 'replicate', nextMessage());
  expect(exec.status).toBe('FAILED');
  expect(exec.error).toBe('SnapshotCopyConflict');
  expect(exec.cause).toMatch(/does not carry the tags of this run/);
  expect(statesEntered(exec)).toContain('Forget The Copy Of Another Run');
  expect(statesEntered(exec)).not.toContain('Delete The Abandoned Copy');
  expect(statesEntered(exec)).not.toContain('Restore The Replica');
  const after = await observe();
  expect(after.secret.raw).toBe(before.secret.raw);
  expect(after.instances).toEqual(before.instances);
  expect(after.snapshots).toEqual(before.snapshots);
  const notice = await onlyNotice(exec, 'failed');
  expect(notice!.message.secret).toMatch(/not changed/);
});

// ---- 5. A restore that meets a taken name goes on with the next free one -------------------------

test('the restore meets DbInstanceAlreadyExists for a name it did not create: the next free name is used', async () => {
  const before = await observe();
  await twin.moto.control.addFault({
    kind: 'error',
    api: 'RestoreDBInstanceFromDBSnapshot',
    code: 'DBInstanceAlreadyExists',
    message: 'DB instance already exists',
    account: twin.accounts.destination,
  });
  const exec = await twin.run('destination', 'replicate', nextMessage());
  expect([exec.status, exec.error, exec.cause]).toEqual(['SUCCEEDED', undefined, undefined]);
  const after = await observe();
  const live = String(after.secret.value.dbInstanceIdentifier);
  expect(live).toMatch(/-2$/);
  expect(statesEntered(exec)).toEqual(
    expect.arrayContaining(['Give Up The Taken Name', 'Name The Replica Again']),
  );
  expect(after.instances[live]?.status).toBe('available');
  expect(Object.keys(after.instances).filter((id) => !(id in before.instances))).toEqual([live]);
});

test('the restore meets the name held by an operator instance (no tags of this run): it is left alone, the next name is used', async () => {
  const message = nextMessage();
  const taken = replicaNameFor(String(message.snapshotCreateTime));
  await twin.aws('destination').rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: taken,
      Engine: 'postgres',
      DBInstanceClass: 'db.t4g.micro',
      AllocatedStorage: 20,
      MasterUsername: 'ops',
      MasterUserPassword: 'operator-owned-1',
      Tags: [{ Key: 'team', Value: 'operators' }],
    }),
  );
  const before = await observe();
  // nameReplica's check misses it (as if it appeared between naming and restoring).
  await twin.moto.control.addFault({
    kind: 'error',
    api: 'DescribeDBInstances',
    code: 'DBInstanceNotFound',
    status: 404,
    match: taken,
    account: twin.accounts.destination,
  });
  const exec = await twin.run('destination', 'replicate', message);
  expect([exec.status, exec.error, exec.cause]).toEqual(['SUCCEEDED', undefined, undefined]);
  expect(statesEntered(exec)).toEqual(
    expect.arrayContaining([
      'Describe The Existing Instance',
      'Give Up The Taken Name',
      'Name The Replica Again',
    ]),
  );
  const after = await observe();
  expect(String(after.secret.value.dbInstanceIdentifier)).toBe(`${taken}-2`);
  expect(after.instances[taken]).toEqual(before.instances[taken]);
  expect(after.instances[taken]).toEqual({ status: 'available', tags: { team: 'operators' } });
});
