// The moto side of the offline twin: a real moto_server started by the launcher, with the project's
// extension (twin/moto/twin_moto.py). Accounts: source A, destination B, Region eu-west-1.

import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { CreateKeyCommand, DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CopyDBSnapshotCommand,
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  type DBInstance,
  type DBSnapshot,
  DeleteDBInstanceCommand,
  DeleteDBSnapshotCommand,
  DescribeAccountAttributesCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBInstanceCommand,
  ModifyDBSnapshotAttributeCommand,
  RDSClient,
  RestoreDBInstanceFromDBSnapshotCommand,
} from '@aws-sdk/client-rds';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import {
  DEFAULT_MOTO_DURATIONS,
  MOTO_INSTALL_COMMAND,
  type MotoServer,
  processAlive,
  startMoto,
} from '../../twin/src/moto';

const A = '111111111111';
const B = '222222222222';
const C = '333333333333';
const REGION = 'eu-west-1';
const ZERO = { snapshotCreate: 0, snapshotCopy: 0, restore: 0, modify: 0, start: 0, delete: 0 };

let moto: MotoServer;

// biome-ignore lint/suspicious/noExplicitAny: SDK client constructors differ only in their config type.
type ClientClass<T> = new (config: any) => T;
// biome-ignore lint/suspicious/noExplicitAny: any SDK v3 client.
type AnyClient = { middlewareStack: { add: (...a: any[]) => void } };

function client<T extends AnyClient>(Cls: ClientClass<T>, account: string): T {
  const c = new Cls({
    endpoint: moto.url,
    region: REGION,
    credentials: { accessKeyId: 'AKIATWINTEST00000000', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  c.middlewareStack.add(
    (next: (a: unknown) => Promise<unknown>) =>
      async (args: { request: { headers?: Record<string, string> } }) => {
        if (args.request.headers) args.request.headers['x-moto-account-id'] = account;
        return next(args);
      },
    { step: 'build', name: 'motoAccount' },
  );
  return c;
}

async function failure(p: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail, it succeeded');
}

const rdsA = () => client(RDSClient, A);
const rdsB = () => client(RDSClient, B);
const arnOf = (account: string, snapshot: string) => `arn:aws:rds:${REGION}:${account}:snapshot:${snapshot}`;

async function createInstance(
  rds: RDSClient,
  id: string,
  extra: Record<string, unknown> = {},
): Promise<DBInstance> {
  const out = await rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: id,
      DBInstanceClass: 'db.t3.micro',
      Engine: 'postgres',
      EngineVersion: '15.4',
      AllocatedStorage: 20,
      MasterUsername: 'app',
      MasterUserPassword: 'secret-password',
      ...extra,
    }),
  );
  return out.DBInstance!;
}

async function snapshot(rds: RDSClient, id: string): Promise<DBSnapshot> {
  const out = await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id }));
  return out.DBSnapshots![0]!;
}

async function instance(rds: RDSClient, id: string): Promise<DBInstance> {
  const out = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
  return out.DBInstances![0]!;
}

async function share(rds: RDSClient, id: string, accounts: string[]) {
  return rds.send(
    new ModifyDBSnapshotAttributeCommand({
      DBSnapshotIdentifier: id,
      AttributeName: 'restore',
      ValuesToAdd: accounts,
    }),
  );
}

async function createKey(account: string): Promise<string> {
  const out = await client(KMSClient, account).send(new CreateKeyCommand({ Description: 'replication key' }));
  return out.KeyMetadata!.Arn!;
}

/** A's instance `src` (optionally encrypted) and its manual snapshot `snap`, available. */
async function sourceSnapshot(extra: Record<string, unknown> = {}): Promise<DBSnapshot> {
  await createInstance(rdsA(), 'src', extra);
  await rdsA().send(
    new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'src', DBSnapshotIdentifier: 'snap' }),
  );
  return snapshot(rdsA(), 'snap');
}

beforeAll(async () => {
  moto = await startMoto();
});

afterAll(async () => {
  await moto?.stop();
});

beforeEach(async () => {
  await moto.control.reset();
});

describe('control API', () => {
  test('reset restores the default durations and clears faults; bad faults are refused', async () => {
    await moto.control.setDurations({ restore: 1 });
    await moto.control.addFault({ kind: 'never-finishes', match: '*' });
    await moto.control.reset({ now: 1_700_000_000 });
    expect(await moto.control.durations()).toEqual(DEFAULT_MOTO_DURATIONS);
    expect(await moto.control.faults()).toEqual([]);
    expect(await moto.control.now()).toBe(1_700_000_000);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately invalid.
    await expect(moto.control.addFault({ kind: 'nope' } as any)).rejects.toThrow(/HTTP 400/);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately invalid.
    await expect(moto.control.setDurations({ restroe: 5 } as any)).rejects.toThrow(/HTTP 400/);
  });
});

describe('cross-account shared snapshots', () => {
  beforeEach(async () => {
    await moto.control.setDurations(ZERO);
  });

  test('an unshared snapshot ARN is not found in the other account; once shared it can be restored', async () => {
    await sourceSnapshot();
    const arn = arnOf(A, 'snap');
    const copy = new CopyDBSnapshotCommand({
      SourceDBSnapshotIdentifier: arn,
      TargetDBSnapshotIdentifier: 'c1',
    });
    const restore = new RestoreDBInstanceFromDBSnapshotCommand({
      DBSnapshotIdentifier: arn,
      DBInstanceIdentifier: 'r1',
    });

    expect((await failure(rdsB().send(copy))).name).toBe('DBSnapshotNotFoundFault');
    expect((await failure(rdsB().send(restore))).name).toBe('DBSnapshotNotFoundFault');

    await share(rdsA(), 'snap', [C]); // shared with someone else: still invisible to B
    expect((await failure(rdsB().send(copy))).name).toBe('DBSnapshotNotFoundFault');

    await share(rdsA(), 'snap', [B]);
    const restored = (await rdsB().send(restore)).DBInstance!;
    expect(restored.DBInstanceIdentifier).toBe('r1');
    expect(restored.DBInstanceArn).toContain(`:${B}:db:r1`);
    expect(restored.StorageEncrypted).toBe(false);
    const copied = (await rdsB().send(copy)).DBSnapshot!;
    expect(copied.DBSnapshotArn).toBe(arnOf(B, 'c1'));
    expect(copied.SourceDBSnapshotIdentifier).toBe(arn);
    // and B can describe the shared snapshot by its ARN, or list it with IncludeShared
    const described = await rdsB().send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: arn }));
    expect(described.DBSnapshots?.[0]?.DBSnapshotArn).toBe(arn);
    const manualArns = async (includeShared: boolean) =>
      (await rdsB().send(new DescribeDBSnapshotsCommand({ IncludeShared: includeShared })))
        .DBSnapshots!.filter((s) => s.SnapshotType !== 'automated')
        .map((s) => s.DBSnapshotArn)
        .sort();
    expect(await manualArns(false)).toEqual([arnOf(B, 'c1')]);
    expect(await manualArns(true)).toEqual([arn, arnOf(B, 'c1')].sort());
  });

  test('an encrypted shared snapshot: copy needs KmsKeyId, the copy uses that key, direct restore fails', async () => {
    const keyA = await createKey(A);
    const snap = await sourceSnapshot({ StorageEncrypted: true, KmsKeyId: keyA });
    expect(snap.Encrypted).toBe(true);
    expect(snap.KmsKeyId).toBe(keyA);
    await share(rdsA(), 'snap', [B]);
    const arn = arnOf(A, 'snap');

    const noKey = await failure(
      rdsB().send(
        new CopyDBSnapshotCommand({ SourceDBSnapshotIdentifier: arn, TargetDBSnapshotIdentifier: 'c1' }),
      ),
    );
    expect(noKey.name).toBe('InvalidParameterValue');
    expect(noKey.message).toMatch(/KmsKeyId/);

    const direct = await failure(
      rdsB().send(
        new RestoreDBInstanceFromDBSnapshotCommand({ DBSnapshotIdentifier: arn, DBInstanceIdentifier: 'r0' }),
      ),
    );
    expect(direct.name).toBe('InvalidParameterValue');

    const keyB = await createKey(B);
    const copied = (
      await rdsB().send(
        new CopyDBSnapshotCommand({
          SourceDBSnapshotIdentifier: arn,
          TargetDBSnapshotIdentifier: 'c1',
          KmsKeyId: keyB,
        }),
      )
    ).DBSnapshot!;
    expect(copied.KmsKeyId).toBe(keyB);
    expect(copied.Encrypted).toBe(true);

    const restored = (
      await rdsB().send(
        new RestoreDBInstanceFromDBSnapshotCommand({
          DBSnapshotIdentifier: 'c1',
          DBInstanceIdentifier: 'r1',
        }),
      )
    ).DBInstance!;
    expect(restored.StorageEncrypted).toBe(true);
    expect(restored.KmsKeyId).toBe(keyB);
  });

  test('an instance encrypted without a key gets aws/rds; such snapshots cannot be shared until re-keyed', async () => {
    const src = await createInstance(rdsA(), 'src', { StorageEncrypted: true });
    const awsRds = await client(KMSClient, A).send(new DescribeKeyCommand({ KeyId: 'alias/aws/rds' }));
    expect(src.KmsKeyId).toBe(awsRds.KeyMetadata?.Arn);
    expect(src.KmsKeyId).toMatch(new RegExp(`^arn:aws:kms:${REGION}:${A}:key/`));
    await rdsA().send(
      new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'src', DBSnapshotIdentifier: 'snap' }),
    );

    const refused = await failure(share(rdsA(), 'snap', [B]));
    expect(refused.name).toBe('InvalidParameterValue');

    const cmk = await createKey(A);
    const rekeyed = await rdsA().send(
      new CopyDBSnapshotCommand({
        SourceDBSnapshotIdentifier: 'snap',
        TargetDBSnapshotIdentifier: 'snap-cmk',
        KmsKeyId: cmk,
      }),
    );
    expect(rekeyed.DBSnapshot?.KmsKeyId).toBe(cmk);
    await share(rdsA(), 'snap-cmk', [B]);
  });

  test('at most 20 accounts in the restore attribute', async () => {
    await sourceSnapshot();
    const twenty = Array.from({ length: 20 }, (_, i) => String(400000000000 + i));
    await share(rdsA(), 'snap', twenty);
    const tooMany = await failure(share(rdsA(), 'snap', ['499999999999']));
    expect(tooMany.name).toBe('SharedSnapshotQuotaExceededFault');
  });

  test('STS assumed-role credentials act in the role account', async () => {
    await sourceSnapshot();
    await share(rdsA(), 'snap', [B]);
    const assumed = await client(STSClient, A).send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${B}:role/replicator`, RoleSessionName: 'twin' }),
    );
    const creds = assumed.Credentials!;
    const asB = new RDSClient({
      endpoint: moto.url,
      region: REGION,
      maxAttempts: 1,
      credentials: {
        accessKeyId: creds.AccessKeyId!,
        secretAccessKey: creds.SecretAccessKey!,
        sessionToken: creds.SessionToken,
      },
    });
    await asB.send(
      new CopyDBSnapshotCommand({
        SourceDBSnapshotIdentifier: arnOf(A, 'snap'),
        TargetDBSnapshotIdentifier: 'via-sts',
      }),
    );
    expect((await snapshot(rdsB(), 'via-sts')).DBSnapshotArn).toBe(arnOf(B, 'via-sts'));
    expect((await failure(snapshot(rdsA(), 'via-sts'))).name).toBe('DBSnapshotNotFoundFault');
  });
});

describe('virtual clock', () => {
  test('snapshots are creating/copying until their time, with PercentProgress', async () => {
    await createInstance(rdsA(), 'src');
    const t0 = await moto.control.now();
    const created = await rdsA().send(
      new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'src', DBSnapshotIdentifier: 'snap' }),
    );
    expect(created.DBSnapshot?.Status).toBe('creating');
    expect(created.DBSnapshot?.SnapshotCreateTime?.getTime()).toBe(t0 * 1000);
    expect((await snapshot(rdsA(), 'snap')).PercentProgress).toBe(0);

    await moto.control.setNow(t0 + 150);
    let snap = await snapshot(rdsA(), 'snap');
    expect([snap.Status, snap.PercentProgress]).toEqual(['creating', 50]);
    const [phase] = await moto.control.pending();
    expect(phase).toMatchObject({ resource: 'snapshot', account: A, id: 'snap', readyAt: t0 + 300 });

    await moto.control.setNow(t0 + 299);
    expect((await snapshot(rdsA(), 'snap')).Status).toBe('creating');
    await moto.control.setNow(t0 + 300);
    snap = await snapshot(rdsA(), 'snap');
    expect([snap.Status, snap.PercentProgress]).toEqual(['available', 100]);

    const copy = await rdsA().send(
      new CopyDBSnapshotCommand({ SourceDBSnapshotIdentifier: 'snap', TargetDBSnapshotIdentifier: 'copy' }),
    );
    expect(copy.DBSnapshot?.Status).toBe('copying');
    // a snapshot that is not available cannot be copied
    const early = await failure(
      rdsA().send(
        new CopyDBSnapshotCommand({ SourceDBSnapshotIdentifier: 'copy', TargetDBSnapshotIdentifier: 'x' }),
      ),
    );
    expect(early.name).toBe('InvalidDBSnapshotStateFault');
    await moto.control.advance(DEFAULT_MOTO_DURATIONS.snapshotCopy);
    expect((await snapshot(rdsA(), 'copy')).Status).toBe('available');
    expect(await moto.control.pending()).toEqual([]);
  });

  test('restore, modify and delete pass through creating, modifying and deleting; then the instance is gone', async () => {
    await moto.control.setDurations({ snapshotCreate: 0 });
    await sourceSnapshot();
    const t0 = await moto.control.now();
    const restored = await rdsA().send(
      new RestoreDBInstanceFromDBSnapshotCommand({
        DBSnapshotIdentifier: 'snap',
        DBInstanceIdentifier: 'replica',
      }),
    );
    expect(restored.DBInstance?.DBInstanceStatus).toBe('creating');
    expect(restored.DBInstance?.InstanceCreateTime?.getTime()).toBe(t0 * 1000);
    const busy = await failure(
      rdsA().send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'replica', DeletionProtection: true })),
    );
    expect(busy.name).toBe('InvalidDBInstanceStateFault');
    await moto.control.setNow(t0 + 599);
    expect((await instance(rdsA(), 'replica')).DBInstanceStatus).toBe('creating');
    await moto.control.setNow(t0 + 600);
    expect((await instance(rdsA(), 'replica')).DBInstanceStatus).toBe('available');

    await rdsA().send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: 'replica',
        DeletionProtection: true,
        ApplyImmediately: true,
      }),
    );
    let db = await instance(rdsA(), 'replica');
    expect([db.DBInstanceStatus, db.DeletionProtection]).toEqual(['modifying', true]);
    await moto.control.advance(30);
    expect((await instance(rdsA(), 'replica')).DBInstanceStatus).toBe('available');

    const protectedDelete = await failure(
      rdsA().send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'replica', SkipFinalSnapshot: true })),
    );
    expect(protectedDelete.name).toBe('InvalidParameterCombination');
    await rdsA().send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: 'replica',
        DeletionProtection: false,
        ApplyImmediately: true,
      }),
    );
    await moto.control.advance(30);
    const deleting = await rdsA().send(
      new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'replica', SkipFinalSnapshot: true }),
    );
    expect(deleting.DBInstance?.DBInstanceStatus).toBe('deleting');
    await moto.control.advance(60);
    db = await instance(rdsA(), 'replica');
    expect(db.DBInstanceStatus).toBe('deleting');
    await moto.control.advance(60);
    expect((await failure(instance(rdsA(), 'replica'))).name).toBe('DBInstanceNotFoundFault');
  });

  test('deleting a snapshot while another account is still copying it makes that copy fail', async () => {
    await moto.control.setDurations({ ...ZERO, snapshotCopy: 600 });
    const keyB = await createKey(B);
    await sourceSnapshot();
    await share(rdsA(), 'snap', [B]);
    await rdsB().send(
      new CopyDBSnapshotCommand({
        SourceDBSnapshotIdentifier: arnOf(A, 'snap'),
        TargetDBSnapshotIdentifier: 'in-b',
        KmsKeyId: keyB,
      }),
    );
    await rdsB().send(
      new CopyDBSnapshotCommand({
        SourceDBSnapshotIdentifier: arnOf(A, 'snap'),
        TargetDBSnapshotIdentifier: 'also-in-b',
        KmsKeyId: keyB,
      }),
    );
    await moto.control.advance(300);
    expect((await snapshot(rdsB(), 'in-b')).Status).toBe('copying');
    await rdsA().send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: 'snap' }));
    await moto.control.advance(300);
    expect((await snapshot(rdsB(), 'in-b')).Status).toBe('failed');
    expect((await snapshot(rdsB(), 'also-in-b')).Status).toBe('failed');
  });

  test('a duration of 0 is instant', async () => {
    await moto.control.setDurations({ snapshotCreate: 0 });
    const snap = await sourceSnapshot();
    expect([snap.Status, snap.PercentProgress]).toEqual(['available', 100]);
  });
});

describe('faults', () => {
  test('snapshot-status: a matching snapshot ends failed', async () => {
    await moto.control.addFault({ kind: 'snapshot-status', match: 'bad-*', status: 'failed' });
    await createInstance(rdsA(), 'src');
    const t0 = await moto.control.now();
    for (const id of ['bad-1', 'good-1']) {
      await rdsA().send(
        new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'src', DBSnapshotIdentifier: id }),
      );
    }
    await moto.control.setNow(t0 + 300);
    expect((await snapshot(rdsA(), 'bad-1')).Status).toBe('failed');
    expect((await snapshot(rdsA(), 'good-1')).Status).toBe('available');
  });

  test('instance-status: a matching restore ends incompatible-parameters (only in the given account)', async () => {
    await moto.control.setDurations({ snapshotCreate: 0, restore: 10 });
    await moto.control.addFault({
      kind: 'instance-status',
      match: 'broken-*',
      status: 'incompatible-parameters',
      account: B,
    });
    await sourceSnapshot();
    await share(rdsA(), 'snap', [B]);
    const restore = (client: RDSClient, id: string, from: string) =>
      client.send(
        new RestoreDBInstanceFromDBSnapshotCommand({ DBSnapshotIdentifier: from, DBInstanceIdentifier: id }),
      );
    await restore(rdsB(), 'broken-1', arnOf(A, 'snap'));
    await restore(rdsA(), 'broken-2', 'snap');
    await moto.control.advance(10);
    expect((await instance(rdsB(), 'broken-1')).DBInstanceStatus).toBe('incompatible-parameters');
    expect((await instance(rdsA(), 'broken-2')).DBInstanceStatus).toBe('available');
  });

  test('never-finishes: the phase lasts while the fault is present', async () => {
    await moto.control.addFault({ kind: 'never-finishes', match: 'stuck' });
    await createInstance(rdsA(), 'src');
    await rdsA().send(
      new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'src', DBSnapshotIdentifier: 'stuck' }),
    );
    await moto.control.advance(100_000);
    const snap = await snapshot(rdsA(), 'stuck');
    expect(snap.Status).toBe('creating');
    expect(snap.PercentProgress).toBeLessThan(100);
    expect((await moto.control.pending())[0]?.blocked).toBe(true);
    await moto.control.clearFaults();
    expect((await snapshot(rdsA(), 'stuck')).Status).toBe('available');
  });

  test('error: the next `count` calls of the API fail with the code, in the given account only', async () => {
    await moto.control.addFault({
      kind: 'error',
      api: 'DescribeDBSnapshots',
      code: 'Throttling',
      status: 400,
      count: 2,
      message: 'Rate exceeded',
      account: B,
    });
    await rdsA().send(new DescribeDBSnapshotsCommand({})); // other account: unaffected
    for (let i = 0; i < 2; i++) {
      const err = await failure(rdsB().send(new DescribeDBSnapshotsCommand({})));
      expect(err).toEqual({ name: 'Throttling', message: 'Rate exceeded', status: 400 });
    }
    await rdsB().send(new DescribeDBSnapshotsCommand({}));
    expect((await moto.control.faults())[0]?.remaining).toBe(0);
  });

  test('error: works for JSON services and can match a request parameter', async () => {
    const key = await createKey(A);
    await moto.control.addFault({
      kind: 'error',
      api: 'DescribeKey',
      code: 'KMSInternalException',
      status: 500,
      match: '*alias/broken',
    });
    const kms = client(KMSClient, A);
    await kms.send(new DescribeKeyCommand({ KeyId: key }));
    const err = await failure(kms.send(new DescribeKeyCommand({ KeyId: 'alias/broken' })));
    expect([err.name, err.status]).toEqual(['KMSInternalException', 500]);
  });

  test('error after: the request takes effect, its response is lost; the retry meets AlreadyExists', async () => {
    await moto.control.setDurations(ZERO);
    await createInstance(rdsA(), 'src');
    await moto.control.addFault({
      kind: 'error',
      api: 'CreateDBSnapshot',
      code: 'InternalFailure',
      status: 500,
      after: true,
      match: 'lost-reply',
    });
    const req = { DBInstanceIdentifier: 'src', DBSnapshotIdentifier: 'lost-reply' };
    const err = await failure(rdsA().send(new CreateDBSnapshotCommand(req)));
    expect([err.name, err.status]).toEqual(['InternalFailure', 500]);
    expect((await snapshot(rdsA(), 'lost-reply')).Status).toBe('available');
    const retry = await failure(rdsA().send(new CreateDBSnapshotCommand(req)));
    expect(retry.name).toBe('DBSnapshotAlreadyExistsFault');
  });

  test('kms-unusable: copy and restore needing the key fail with KMSKeyNotAccessibleFault', async () => {
    await moto.control.setDurations(ZERO);
    const keyA = await createKey(A);
    const keyB = await createKey(B);
    await sourceSnapshot({ StorageEncrypted: true, KmsKeyId: keyA });
    await share(rdsA(), 'snap', [B]);
    await moto.control.addFault({ kind: 'kms-unusable', keyArn: keyA, account: B });

    const copyInB = new CopyDBSnapshotCommand({
      SourceDBSnapshotIdentifier: arnOf(A, 'snap'),
      TargetDBSnapshotIdentifier: 'c1',
      KmsKeyId: keyB,
    });
    expect((await failure(rdsB().send(copyInB))).name).toBe('KMSKeyNotAccessibleFault');
    // A itself may still use its key
    await rdsA().send(
      new CopyDBSnapshotCommand({ SourceDBSnapshotIdentifier: 'snap', TargetDBSnapshotIdentifier: 'a2' }),
    );

    await moto.control.clearFaults();
    await moto.control.addFault({ kind: 'kms-unusable', keyArn: keyA });
    const restoreInA = new RestoreDBInstanceFromDBSnapshotCommand({
      DBSnapshotIdentifier: 'snap',
      DBInstanceIdentifier: 'r',
    });
    expect((await failure(rdsA().send(restoreInA))).name).toBe('KMSKeyNotAccessibleFault');
    await moto.control.clearFaults();
    await rdsB().send(copyInB);
  });
});

describe('manual snapshot quota', () => {
  const manualSnapshots = async (rds: RDSClient) =>
    (await rds.send(new DescribeAccountAttributesCommand({}))).AccountQuotas?.find(
      (q) => q.AccountQuotaName === 'ManualSnapshots',
    );

  test('describeAccountAttributes reports ManualSnapshots Used and Max (100 unless set)', async () => {
    await moto.control.setDurations(ZERO);
    expect(await manualSnapshots(rdsA())).toEqual({ AccountQuotaName: 'ManualSnapshots', Used: 0, Max: 100 });
    await sourceSnapshot();
    await rdsA().send(
      new CopyDBSnapshotCommand({ SourceDBSnapshotIdentifier: 'snap', TargetDBSnapshotIdentifier: 'snap-2' }),
    );
    expect(await manualSnapshots(rdsA())).toEqual({ AccountQuotaName: 'ManualSnapshots', Used: 2, Max: 100 });
    // Per account: B has none, and its quota is its own.
    await moto.control.setSnapshotQuota(7, { account: B });
    expect(await manualSnapshots(rdsB())).toEqual({ AccountQuotaName: 'ManualSnapshots', Used: 0, Max: 7 });
    expect((await manualSnapshots(rdsA()))?.Max).toBe(100);
    await moto.control.reset();
    expect((await manualSnapshots(rdsB()))?.Max).toBe(100);
  });

  test('createDBSnapshot and copyDBSnapshot beyond the quota fail with SnapshotQuotaExceeded', async () => {
    await moto.control.setDurations(ZERO);
    await moto.control.setSnapshotQuota(3, { account: A, region: REGION });
    await sourceSnapshot(); // 1 of 3
    for (const id of ['snap-2', 'snap-3']) {
      await rdsA().send(
        new CopyDBSnapshotCommand({ SourceDBSnapshotIdentifier: 'snap', TargetDBSnapshotIdentifier: id }),
      );
    }
    const copy = await failure(
      rdsA().send(
        new CopyDBSnapshotCommand({
          SourceDBSnapshotIdentifier: 'snap',
          TargetDBSnapshotIdentifier: 'snap-4',
        }),
      ),
    );
    // Wire code SnapshotQuotaExceeded; the SDK names the modelled shape.
    expect(copy).toEqual({
      name: 'SnapshotQuotaExceededFault',
      message: 'Cannot create more than 3 manual snapshots',
      status: 400,
    });
    const create = await failure(
      rdsA().send(
        new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'src', DBSnapshotIdentifier: 'snap-4' }),
      ),
    );
    expect(create.name).toBe('SnapshotQuotaExceededFault');
    // An existing name is still reported as such, not as the quota.
    const again = await failure(
      rdsA().send(
        new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'src', DBSnapshotIdentifier: 'snap-2' }),
      ),
    );
    expect(again.name).toBe('DBSnapshotAlreadyExistsFault');
    expect(
      (await rdsA().send(new DescribeDBSnapshotsCommand({ SnapshotType: 'manual' }))).DBSnapshots,
    ).toHaveLength(3);
    // Deleting one makes room again.
    await rdsA().send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: 'snap-3' }));
    await rdsA().send(
      new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'src', DBSnapshotIdentifier: 'snap-4' }),
    );
    expect(await manualSnapshots(rdsA())).toEqual({ AccountQuotaName: 'ManualSnapshots', Used: 3, Max: 3 });
  });

  test('bad quota settings are refused', async () => {
    await expect(moto.control.setSnapshotQuota(-1)).rejects.toThrow(
      /HTTP 400.*manualSnapshots must be a whole number/,
    );
    await expect(moto.control.setSnapshotQuota(5, { account: 'A' })).rejects.toThrow(/12-digit/);
    expect(await moto.control.quotas()).toEqual({
      manualSnapshots: { default: 100 },
      manualClusterSnapshots: { default: 100 },
    });
  });
});

describe('missing moto', () => {
  test('--check without a Python that has moto prints the install command and exits 1', async () => {
    const root = resolve(__dirname, '..', '..');
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: dirname(process.execPath), TWIN_NO_VENV: '1' };
    delete env.TWIN_PYTHON;
    const result = await new Promise<{ code: number | null; out: string }>((done) => {
      const child = spawn('npx', ['tsx', 'twin/src/moto.ts', '--check'], { cwd: root, env });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.stderr.on('data', (d) => {
        out += d;
      });
      child.on('close', (code) => done({ code, out }));
    });
    expect(result.code).toBe(1);
    expect(result.out.split('\n')).toContain(MOTO_INSTALL_COMMAND);
    expect(MOTO_INSTALL_COMMAND).toBe("pip install 'moto[server]==5.2.1'");
    expect(result.out).toMatch(/TWIN_NO_VENV=1/);
  });
});

describe('a server shared by the twins one process starts one after another (each test file of a Jest worker)', () => {
  const alive = (pid: number | undefined) => pid !== undefined && processAlive(pid);
  const rdsAt = (url: string) =>
    new RDSClient({
      endpoint: url,
      region: REGION,
      credentials: { accessKeyId: 'AKIATWINTEST00000000', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
  const instancesAt = async (url: string) =>
    ((await rdsAt(url).send(new DescribeDBInstancesCommand({}))).DBInstances ?? []).map(
      (i) => i.DBInstanceIdentifier,
    );

  test('the next one reuses it with nothing left of the previous one; one started meanwhile gets its own', async () => {
    const first = await startMoto({ shared: true });
    await rdsAt(first.url).send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: 'left-behind',
        DBInstanceClass: 'db.t3.micro',
        Engine: 'postgres',
        AllocatedStorage: 20,
        MasterUsername: 'app',
        MasterUserPassword: 'not-a-secret-1',
      }),
    );
    await first.control.addFault({ kind: 'never-finishes', match: '*' });
    await first.control.setDurations({ restore: 99 });
    expect(await instancesAt(first.url)).toEqual(['left-behind']);

    // while the first is in use, another twin of this process gets a server of its own
    const meanwhile = await startMoto({ shared: true });
    expect(meanwhile.url).not.toBe(first.url);
    expect(await instancesAt(meanwhile.url)).toEqual([]);
    await meanwhile.stop();
    expect(alive(meanwhile.pid)).toBe(false);

    await first.stop();
    expect(alive(first.pid)).toBe(true);
    const next = await startMoto({ shared: true });
    expect(next.url).toBe(first.url);
    expect(next.pid).toBe(first.pid);
    expect(await instancesAt(next.url)).toEqual([]);
    expect(await next.control.faults()).toEqual([]);
    expect(await next.control.durations()).toEqual(DEFAULT_MOTO_DURATIONS);
    await next.stop();
  });

  test('it ends with the process that started it, however that process ends', async () => {
    const root = resolve(__dirname, '..', '..');
    const script =
      "require('./twin/src/moto').startMoto({ shared: true }).then((m) => { console.log(m.pid); process.kill(process.pid, 'SIGKILL'); })";
    const pid = await new Promise<number>((done, fail) => {
      const child = spawn('npx', ['tsx', '-e', script], { cwd: root });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.on('close', () => (/^\d+/.test(out.trim()) ? done(Number(out.trim())) : fail(new Error(out))));
    });
    // killed (no exit handler ran): the server notices its stdin close and exits
    const deadline = Date.now() + 5000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(alive(pid)).toBe(false);
  });
});
