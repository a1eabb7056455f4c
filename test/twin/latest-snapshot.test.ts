process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

// Fewer RDS phases (issue 12): a run that starts from the newest automated or AWS Backup snapshot
// (snapshotSource `latest`) copies it once with the shared key instead of taking a snapshot and
// copying that; a run whose instance is already on the shared key shares its own snapshot without a
// copy. What an operator of the source account sees: which snapshots exist afterwards, their keys,
// tags and sharing, the message's data time, the run's output, notices and history.
//
// One twin for the file. The `dev` stage (snapshotSource new, whenNoRecentSnapshot new) serves most
// tests, `latest` being asked for in the run's input; a second stage (`strict`: snapshotSource
// latest, whenNoRecentSnapshot fail) shows the refusal. Each test uses databases of its own.
import { DescribeDBSnapshotsCommand, ModifyDBSnapshotAttributeCommand } from '@aws-sdk/client-rds';
import {
  DESTINATION_ACCOUNT,
  type DeployedStack,
  type ExecutionRecord,
  startTwin,
  type Twin,
} from '../../twin/src';
import { createSourceDatabase } from '../../twin/src/fixtures';
import type { BackupSnapshot } from '../../twin/src/moto';
import {
  calmTwin,
  childOf,
  DEPLOYMENT_ID,
  deploySource,
  describeRun,
  eventsOf,
  intermediatePrefix,
  outcomeOf,
  restoreAttribute,
  type SourceStory,
  sharedPrefix,
  snapshotsOf,
  statesEntered,
  TAG,
  tableItems,
  tagsOf,
  takeMessages,
  takeNotices,
} from './helpers/source';

const DATABASES = ['fresh-db', 'old-db', 'backup-db', 'onkey-db', 'gone-db'];
const HOUR = 3600;

let twin: Twin;
let story: SourceStory;
let strict: DeployedStack;

beforeAll(async () => {
  twin = await startTwin();
  story = await deploySource(twin, {
    databases: DATABASES.join(','),
    destinationCopyGraceMinutes: '0', // retention deletes beyond keepSharedSnapshots (2) at once
  });
  strict = await twin.deploy('source', {
    stage: 'strict',
    params: {
      destinationAccountIds: DESTINATION_ACCOUNT,
      databases: 'old-db,gone-db',
      snapshotSource: 'latest',
      whenNoRecentSnapshot: 'fail',
    },
  });
  // back to the dev stack for `story` and twin.stacks.source
  twin.stacks.source = story.stack;
  for (const id of [...DATABASES, 'unlisted-db']) {
    await createSourceDatabase(twin, {
      id,
      encryption: id === 'onkey-db' ? story.keyArn : id === 'fresh-db' ? 'aws/rds' : 'none',
    });
  }
});

afterAll(async () => {
  await twin?.stop();
});

afterEach(async () => {
  await twin.settle();
  await calmTwin(twin);
});

const backup = (
  dbInstanceIdentifier: string,
  type: 'automated' | 'awsbackup',
  ageSeconds: number,
  more = {},
) =>
  twin.moto.control.addBackupSnapshot({
    account: twin.accounts.source,
    dbInstanceIdentifier,
    type,
    ageSeconds,
    ...more,
  });

/** Snapshots of the instance RDS or AWS Backup took, still there. */
async function backupsOf(database: string): Promise<string[]> {
  const { rds } = twin.aws('source');
  const ids: string[] = [];
  for (const SnapshotType of ['automated', 'awsbackup']) {
    const out = await rds.send(
      new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: database, SnapshotType }),
    );
    ids.push(...(out.DBSnapshots ?? []).map((s) => s.DBSnapshotIdentifier!));
  }
  return ids.sort();
}

/** The RDS phases a child execution waited for: a snapshot it took, a copy it made. */
function phases(child: ExecutionRecord): string[] {
  const entered = statesEntered(child);
  return [
    ...(entered.includes('Create Source Snapshot') ? ['snapshot'] : []),
    ...(entered.includes('Copy Snapshot With Shared Key') ? ['copy'] : []),
  ];
}

describe('snapshotSource latest with a fresh automated snapshot', () => {
  let run: ExecutionRecord;
  let fresh: BackupSnapshot;

  beforeAll(async () => {
    await backup('fresh-db', 'automated', 30 * HOUR, { replace: true });
    fresh = await backup('fresh-db', 'automated', 3 * HOUR);
    await backup('fresh-db', 'automated', 5 * HOUR);
    await backup('fresh-db', 'automated', 0, { status: 'creating' }); // newer, not available yet
    await takeMessages(story);
    // snapshotSource first: the input's field order does not matter
    run = await twin.run('source', 'replicate', { snapshotSource: 'latest', databases: ['fresh-db'] });
  });

  test('one RDS phase: the 3-hour-old automated snapshot is copied once with the shared key', async () => {
    expect(describeRun(run)).toBe(`${run.name}: SUCCEEDED  `);
    const child = childOf(twin, run, 'fresh-db');
    expect(phases(child)).toEqual(['copy']);
    expect(statesEntered(child)).toContain('Find The Newest Backup');
    expect(statesEntered(child)).not.toContain('Delete Intermediate Snapshot');
    const outcome = outcomeOf(run, 'fresh-db');
    expect(outcome.startedFrom).toEqual({
      snapshotId: fresh.id,
      snapshotType: 'automated',
      snapshotCreateTime: expect.any(String),
      ageMinutes: 180,
      copied: true,
    });
    // The shared copy is the only manual snapshot of the instance: on the stack key, tagged, shared.
    const manual = await snapshotsOf(twin, 'fresh-db');
    expect(manual.map((s) => s.DBSnapshotIdentifier)).toEqual([outcome.sharedSnapshotId]);
    expect(outcome.sharedSnapshotId).toMatch(new RegExp(`^${sharedPrefix('fresh-db')}`));
    expect(manual[0]!.KmsKeyId).toBe(story.keyArn);
    expect(tagsOf(manual[0]!)).toMatchObject({
      [TAG.managedBy]: DEPLOYMENT_ID,
      [TAG.kind]: 'shared-snapshot',
      [TAG.sourceDatabase]: 'fresh-db',
    });
    expect(await restoreAttribute(twin, outcome.sharedSnapshotId!)).toEqual([DESTINATION_ACCOUNT]);
    // The automated snapshots are RDS's: none was touched.
    expect((await backupsOf('fresh-db')).length).toBe(4); // the four added (replace removed RDS's first one)
    expect(await backupsOf('fresh-db')).toContain(fresh.id);
  });

  test("the data's time travels: the message carries the automated snapshot's creation time", async () => {
    const messages = await takeMessages(story);
    expect(messages).toHaveLength(1);
    const message = messages[0]!.message;
    expect(Date.parse(message.snapshotCreateTime)).toBe(Date.parse(fresh.snapshotCreateTime));
    const outcome = outcomeOf(run, 'fresh-db');
    expect(Date.parse(outcome.snapshotCreateTime!)).toBe(Date.parse(fresh.snapshotCreateTime));
    expect(message.sharedSnapshotArn).toBe(outcome.sharedSnapshotArn);
  });
});

describe('snapshotSource latest with an AWS Backup snapshot newer than the automated ones', () => {
  let run: ExecutionRecord;
  let recent: BackupSnapshot;

  beforeAll(async () => {
    await backup('backup-db', 'automated', 20 * HOUR, { replace: true });
    recent = await backup('backup-db', 'awsbackup', 2 * HOUR);
    run = await twin.run('source', 'replicate', { databases: ['backup-db'], snapshotSource: 'latest' });
  });

  test('the AWS Backup snapshot is copied into the shared copy and left in place', async () => {
    expect(describeRun(run)).toBe(`${run.name}: SUCCEEDED  `);
    expect(recent.id).toMatch(/^awsbackup:job-[0-9a-f-]{36}$/);
    const child = childOf(twin, run, 'backup-db');
    expect(phases(child)).toEqual(['copy']);
    const outcome = outcomeOf(run, 'backup-db');
    expect(outcome.startedFrom).toMatchObject({
      snapshotId: recent.id,
      snapshotType: 'awsbackup',
      ageMinutes: 120,
    });
    expect(Date.parse(outcome.snapshotCreateTime!)).toBe(Date.parse(recent.snapshotCreateTime));
    const manual = await snapshotsOf(twin, 'backup-db');
    expect(manual.map((s) => s.DBSnapshotIdentifier)).toEqual([outcome.sharedSnapshotId]);
    expect(manual[0]!.KmsKeyId).toBe(story.keyArn);
    expect(await backupsOf('backup-db')).toContain(recent.id);
  });

  test('the twin refuses to share automated and AWS Backup snapshots, as RDS does', async () => {
    const { rds } = twin.aws('source');
    const share = (id: string) =>
      rds.send(
        new ModifyDBSnapshotAttributeCommand({
          DBSnapshotIdentifier: id,
          AttributeName: 'restore',
          ValuesToAdd: [DESTINATION_ACCOUNT],
        }),
      );
    const automated = (await backupsOf('backup-db')).find((id) => id.startsWith('rds:'))!;
    await expect(share(automated)).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: expect.stringContaining('The parameter DBSnapshotIdentifier is not a valid identifier'),
    });
    await expect(share(recent.id)).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: `The parameter ${recent.id} is not a valid identifier.`,
    });
    expect(await restoreAttribute(twin, recent.id).catch(() => [])).toEqual([]);
  });
});

describe('snapshotSource latest when only a too-old automated snapshot exists', () => {
  let old: BackupSnapshot;

  beforeAll(async () => {
    old = await backup('old-db', 'automated', 30 * HOUR, { replace: true });
    await backup('gone-db', 'automated', 0, { replace: true, status: 'creating' });
  });

  test('whenNoRecentSnapshot new (dev stage): the run takes a new snapshot and copies it', async () => {
    const run = await twin.run('source', 'replicate', { databases: ['old-db'], snapshotSource: 'latest' });
    expect(describeRun(run)).toBe(`${run.name}: SUCCEEDED  `);
    const child = childOf(twin, run, 'old-db');
    expect(phases(child)).toEqual(['snapshot', 'copy']);
    expect(statesEntered(child)).toContain('Find The Newest Backup');
    const outcome = outcomeOf(run, 'old-db');
    expect(outcome.startedFrom).toMatchObject({ snapshotType: 'manual', ageMinutes: 0, copied: true });
    expect(outcome.startedFrom!.snapshotId).toMatch(new RegExp(`^${intermediatePrefix('old-db')}`));
    // The intermediate snapshot is gone, the 30-hour-old automated snapshot is not.
    expect((await snapshotsOf(twin, 'old-db')).map((s) => s.DBSnapshotIdentifier)).toEqual([
      outcome.sharedSnapshotId,
    ]);
    expect(await backupsOf('old-db')).toContain(old.id);
  });

  test('whenNoRecentSnapshot fail (strict stage): NoRecentSnapshot, nothing created, lock released, operators told', async () => {
    const before = (await snapshotsOf(twin, 'old-db')).map((s) => s.DBSnapshotIdentifier).sort();
    await takeNotices(story);
    const run = await twin.run(strict, 'replicate', {});
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('ReplicationFailed');
    const outcome = outcomeOf(run, 'old-db');
    expect(outcome).toMatchObject({
      status: 'FAILED',
      error: 'NoRecentSnapshot',
      failedState: 'Find The Newest Backup',
    });
    expect(outcome.cause).toContain(
      `younger than 26 hours (maxSnapshotAgeHours): the newest, ${old.id} (automated)`,
    );
    // 30 hours old when added, plus the minutes the earlier runs of this file took on the virtual clock
    expect(outcome.cause).toMatch(/, 18[0-9]{2} minutes ago; nothing was created/);
    // gone-db has only a snapshot still being created: no available one at all.
    expect(outcomeOf(run, 'gone-db')).toMatchObject({ status: 'FAILED', error: 'NoRecentSnapshot' });
    expect(outcomeOf(run, 'gone-db').cause).toContain('has no available automated or AWS Backup snapshot;');
    expect((await snapshotsOf(twin, 'old-db')).map((s) => s.DBSnapshotIdentifier).sort()).toEqual(before);
    expect((await snapshotsOf(twin, 'gone-db')).length).toBe(0);
    expect(await backupsOf('old-db')).toContain(old.id);
    const child = childOf(twin, run, 'old-db');
    expect(statesEntered(child)).toContain('Release Lock After Failure');
    expect(statesEntered(child)).toContain('Notify Operations Of Failure');
    expect(phases(child)).toEqual([]);
    // The operations notice says why, naming the newest snapshot and its age.
    const [notice] = eventsOf(child, 'Notify Operations Of Failure', 'TaskScheduled');
    expect((notice!.parameters as { Message: Record<string, unknown> }).Message).toMatchObject({
      error: 'NoRecentSnapshot',
      failedState: 'Find The Newest Backup',
      cause: outcome.cause,
    });
  });
});

describe('an instance already on the shared key (snapshotSource new)', () => {
  let runs: ExecutionRecord[];

  beforeAll(async () => {
    runs = [];
    for (let i = 0; i < 3; i++) {
      runs.push(await twin.run('source', 'replicate', { databases: ['onkey-db'] }));
      await twin.clock.advance(HOUR * 1000);
    }
  });

  test('its snapshot is shared directly: one RDS phase, no copy, no intermediate snapshot', async () => {
    const run = runs[0]!;
    expect(describeRun(run)).toBe(`${run.name}: SUCCEEDED  `);
    const child = childOf(twin, run, 'onkey-db');
    expect(phases(child)).toEqual(['snapshot']);
    expect(statesEntered(child)).toContain('Snapshot Straight Into The Shared Copy');
    expect(statesEntered(child)).not.toContain('Delete Intermediate Snapshot');
    const outcome = outcomeOf(run, 'onkey-db');
    expect(outcome.startedFrom).toMatchObject({
      snapshotId: outcome.sharedSnapshotId,
      snapshotType: 'manual',
      copied: false,
    });
  });

  test('retention keeps the newest two of those snapshots and deletes the first, which it recorded', async () => {
    const shared = runs.map((r) => outcomeOf(r, 'onkey-db').sharedSnapshotId!);
    const left = await snapshotsOf(twin, 'onkey-db');
    expect(left.map((s) => s.DBSnapshotIdentifier).sort()).toEqual([shared[1], shared[2]].sort());
    for (const s of left) {
      expect(s.KmsKeyId).toBe(story.keyArn);
      expect(tagsOf(s)[TAG.kind]).toBe('shared-snapshot');
      expect(await restoreAttribute(twin, s.DBSnapshotIdentifier!)).toEqual([DESTINATION_ACCOUNT]);
    }
    expect(outcomeOf(runs[2]!, 'onkey-db').retention).toContainEqual({
      snapshotId: shared[0],
      action: 'deleted',
    });
    const records = (await tableItems(story, 'onkey-db')).filter((i) => i.pk === 'copy#onkey-db');
    expect(records.map((r) => r.snapshotId).sort()).toEqual([shared[1], shared[2]].sort());
  });

  test('a clean-up notice says which snapshot the run started from', async () => {
    // Retention cannot delete the oldest copy this time: the run succeeds and tells operations.
    await twin.moto.control.addFault({
      kind: 'error',
      api: 'DeleteDBSnapshot',
      code: 'InvalidDBSnapshotState',
      count: 10,
    });
    const run = await twin.run('source', 'replicate', { databases: ['onkey-db'] });
    const outcome = outcomeOf(run, 'onkey-db');
    expect(outcome).toMatchObject({ status: 'SUCCEEDED', warning: expect.any(String) });
    const [notice] = eventsOf(
      childOf(twin, run, 'onkey-db'),
      'Notify Operations Of Housekeeping Problem',
      'TaskScheduled',
    );
    expect((notice!.parameters as { Message: Record<string, unknown> }).Message.startedFrom).toMatchObject({
      snapshotId: outcome.sharedSnapshotId,
      snapshotType: 'manual',
      ageMinutes: 0,
      copy: false,
    });
  });
});

describe('the snapshotSource of a run is checked before anything is created', () => {
  test.each([
    [{ snapshotSource: 'oldest' }, 'snapshotSource: expected "new"'],
    [{ snapshotSource: 7, databases: ['fresh-db'] }, 'snapshotSource: expected "new"'],
    [{ snapshotSource: 'latest', extra: true }, 'input: unknown field'],
    [
      { databases: ['fresh-db', 'unlisted-db'], snapshotSource: 'latest' },
      'databases[1]: unlisted-db is not in the databases parameter ["fresh-db","old-db","backup-db","onkey-db","gone-db"]; snapshotSource latest',
    ],
  ])('%j fails with InvalidInput', async (input, cause) => {
    const before = (await snapshotsOf(twin, 'fresh-db')).length;
    const run = await twin.run('source', 'replicate', input);
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('InvalidInput');
    expect(run.cause).toContain(cause);
    expect(statesEntered(run)).not.toContain('Replicate Each Database');
    expect((await snapshotsOf(twin, 'fresh-db')).length).toBe(before);
  });
});
