// A destination in another Region than the source (issue 14), on the twin: the source stack in
// eu-west-1, the destination stack in eu-central-1 (moto keeps the Regions apart). The destination's
// copy crosses account and Region in one copyDBSnapshot call; replicas, copies and the secret live
// in the destination's Region only; a rollback works there as anywhere. A source instance on a
// non-default option group is refused before anything is created unless the destination names an
// option group of its Region (optionGroupName), which the copy and the replica then get.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import {
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  CreateOptionGroupCommand,
  type DBInstance,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBSnapshotAttributeCommand,
} from '@aws-sdk/client-rds';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { type DeployedStack, type ExecutionRecord, startTwin, type Twin } from '../../twin/src';
import { createDestinationNetwork, createSourceDatabase, seedSecret } from '../../twin/src/fixtures';
import {
  DATABASE,
  DEPLOYMENT_ID,
  SECRET_NAME,
  secretNameOf,
  statesEntered,
  TAG,
} from './helpers/destination';

const SOURCE = '111111111111';
const DESTINATION = '222222222222';
const HERE = 'eu-central-1';

let twin: Twin;

beforeAll(async () => {
  twin = await startTwin();
}, 120_000);

afterAll(async () => {
  await twin?.stop();
});

/** Source in the twin's Region listing HERE in destinationRegions; destination (stage dev) in HERE. */
async function deployAcrossRegions(): Promise<{ source: DeployedStack; destination: DeployedStack }> {
  const source = await twin.deploy('source', { params: { destinationRegions: HERE } });
  await createDestinationNetwork(twin, 'replica-subnets', { region: HERE });
  return { source, destination: await deployDestination(source, 'dev') };
}

/** Another destination stage in HERE subscribes to the same source topic. */
async function deployDestination(
  source: DeployedStack,
  stage: string,
  params: Record<string, string> = {},
): Promise<DeployedStack> {
  const destination = await twin.deploy('destination', {
    region: HERE,
    stage,
    params: {
      region: HERE,
      sourceRegion: twin.region,
      sourceKmsKeyArn: source.outputs.KmsKeyArn!,
      ...(stage === 'dev'
        ? {}
        : {
            sourceAccountId: SOURCE,
            sourceTopicArn: source.outputs.ReplicationTopicArn!,
            databases: DATABASE,
            dbInstanceClass: 'db.t4g.micro',
            dbSubnetGroupName: 'replica-subnets',
            vpcSecurityGroupIds: 'sg-0123456789abcdef0',
          }),
      ...params,
    },
  });
  await seedSecret(twin, secretNameOf(DATABASE, stage), {}, { region: HERE });
  return destination;
}

function runsOf(stack: DeployedStack, machine: 'replicate' | 'rollback'): ExecutionRecord[] {
  const arn = twin.machineArn(stack, machine);
  return [...twin.sfn.executions.values()].filter((e) => e.stateMachineArn === arn);
}

/** One source run; the destination runs it set off. */
async function replicate(destination: DeployedStack): Promise<ExecutionRecord[]> {
  const before = new Set(runsOf(destination, 'replicate'));
  const source = await twin.run('source', 'replicate', { databases: [DATABASE] });
  expect([source.status, source.error, source.cause]).toEqual(['SUCCEEDED', undefined, undefined]);
  return runsOf(destination, 'replicate').filter((e) => !before.has(e));
}

async function secretIn(region: string, secretId = SECRET_NAME): Promise<Record<string, unknown>> {
  const out = await twin
    .aws('destination', region)
    .secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  return JSON.parse(out.SecretString ?? '{}') as Record<string, unknown>;
}

async function instancesIn(region: string): Promise<DBInstance[]> {
  const out = await twin.aws('destination', region).rds.send(new DescribeDBInstancesCommand({}));
  return out.DBInstances ?? [];
}

/** Manual snapshots the destination account owns in `region`. */
async function snapshotsIn(region: string): Promise<string[]> {
  const out = await twin
    .aws('destination', region)
    .rds.send(new DescribeDBSnapshotsCommand({ SnapshotType: 'manual' }));
  return (out.DBSnapshots ?? [])
    .filter((s) => String(s.DBSnapshotArn).includes(`:${DESTINATION}:`))
    .map((s) => s.DBSnapshotIdentifier!);
}

function copyCall(exec: ExecutionRecord): Record<string, unknown> {
  const scheduled = exec.history.find(
    (e) => e.awsType === 'TaskScheduled' && e.state === 'Copy The Shared Snapshot',
  );
  return (scheduled?.parameters ?? {}) as Record<string, unknown>;
}

/** A MySQL source instance on an option group of its own (as with an audit plugin). */
async function createSourceDatabaseOnOptionGroup(optionGroup: string): Promise<void> {
  const { rds } = twin.aws('source');
  await rds.send(
    new CreateOptionGroupCommand({
      OptionGroupName: optionGroup,
      EngineName: 'mysql',
      MajorEngineVersion: '8.0',
      OptionGroupDescription: 'orders audit',
    }),
  );
  await rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: DATABASE,
      Engine: 'mysql',
      EngineVersion: '8.0.35',
      DBInstanceClass: 'db.t4g.medium',
      AllocatedStorage: 20,
      MasterUsername: 'app',
      MasterUserPassword: 'fixture-password-1',
      OptionGroupName: optionGroup,
      StorageEncrypted: true,
      CopyTagsToSnapshot: true,
    }),
  );
}

describe('a PostgreSQL source on its default option group', () => {
  let source: DeployedStack;
  let destination: DeployedStack;
  beforeAll(async () => {
    await twin.reset();
    await createSourceDatabase(twin, { id: DATABASE, encryption: 'aws/rds' });
    ({ source, destination } = await deployAcrossRegions());
  }, 120_000);

  test('replicates into another Region with one copy call per run and rolls back there', async () => {
    const first = await replicate(destination);
    const second = await replicate(destination);

    const runs = [...first, ...second];
    expect(runs.map((r) => [r.status, r.region, r.account])).toEqual([
      ['SUCCEEDED', HERE, DESTINATION],
      ['SUCCEEDED', HERE, DESTINATION],
    ]);
    for (const run of runs) {
      const copy = copyCall(run);
      // the source account's snapshot in the source Region, this account's key in this Region
      expect(copy.SourceDBSnapshotIdentifier).toMatch(
        new RegExp(`^arn:aws:rds:${twin.region}:${SOURCE}:snapshot:rds-replica-source-dev-`),
      );
      expect(copy.KmsKeyId).toMatch(new RegExp(`^arn:aws:kms:${HERE}:${DESTINATION}:key/`));
      expect(Object.keys(copy)).not.toEqual(expect.arrayContaining(['PreSignedUrl']));
      expect(Object.keys(copy)).not.toContain('SourceRegion');
      expect(Object.keys(copy)).not.toContain('OptionGroupName');
      expect(statesEntered(run).filter((s) => s === 'Copy The Shared Snapshot')).toHaveLength(1);
      // the shared snapshot cannot be read from here: its copy is checked instead, before the restore
      expect(statesEntered(run)).not.toContain('Check The Shared Snapshot');
      expect(statesEntered(run)).toContain('Is The Copy Of The Database?');
    }

    const replicas = (await instancesIn(HERE))
      .filter((i) => (i.TagList ?? []).some((t) => t.Key === TAG.managedBy && t.Value === DEPLOYMENT_ID))
      .map((i) => [i.DBInstanceIdentifier!, i.DBInstanceArn!.split(':')[3]])
      .sort();
    expect(replicas).toHaveLength(2);
    expect(replicas.every(([, region]) => region === HERE)).toBe(true);
    const [older, newer] = replicas.map(([id]) => id!);
    expect((await secretIn(HERE)).dbInstanceIdentifier).toBe(newer);
    // nothing of the destination in the source Region, no copy left behind in its own
    expect(await instancesIn(twin.region)).toEqual([]);
    expect(await snapshotsIn(twin.region)).toEqual([]);
    expect(await snapshotsIn(HERE)).toEqual([]);

    const rollback = await twin.run(destination, 'rollback', { database: DATABASE, to: 'previous' });
    expect([rollback.status, rollback.error, rollback.region]).toEqual(['SUCCEEDED', undefined, HERE]);
    expect(JSON.parse(rollback.output ?? 'null')).toMatchObject({ from: newer, to: older });
    const secret = await secretIn(HERE);
    expect(secret.dbInstanceIdentifier).toBe(older);
    expect(String(secret.host)).toMatch(new RegExp(`^${older}\\.`));
    expect(twin.iam.denials).toEqual([]);
  });

  test('a message naming the database with a snapshot of another one: the copy is checked, refused and deleted', async () => {
    const good = runsOf(destination, 'replicate').find((r) => r.status === 'SUCCEEDED');
    const secretBefore = await secretIn(HERE);
    const replicasBefore = (await instancesIn(HERE)).map((i) => i.DBInstanceIdentifier).sort();
    // a snapshot of billing-db, encrypted with the shared key and shared with the destination
    await createSourceDatabase(twin, { id: 'billing-db', encryption: source.outputs.KmsKeyArn! });
    const { rds } = twin.aws('source');
    await rds.send(
      new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'billing-db', DBSnapshotIdentifier: 'billing-1' }),
    );
    await twin.clock.advance(3600_000);
    await twin.settle();
    await rds.send(
      new ModifyDBSnapshotAttributeCommand({
        DBSnapshotIdentifier: 'billing-1',
        AttributeName: 'restore',
        ValuesToAdd: [DESTINATION],
      }),
    );
    const arn = `arn:aws:rds:${twin.region}:${SOURCE}:snapshot:billing-1`;
    const forged = {
      ...(JSON.parse(good!.input) as Record<string, unknown>),
      sharedSnapshotArn: arn,
      snapshotCreateTime: '2026-12-24T00:00:00.000Z',
      runId: 'forged-1',
    };

    const exec = await twin.run(destination, 'replicate', forged);

    expect([exec.status, exec.error]).toEqual(['FAILED', 'SnapshotProvenanceMismatch']);
    expect(exec.cause).toContain(arn);
    expect(exec.cause).toContain(DATABASE);
    const entered = statesEntered(exec);
    expect(entered).toContain('Copy The Shared Snapshot');
    expect(entered).toContain('Refuse A Copy Of Another Database');
    expect(entered).not.toContain('Restore The Replica');
    await twin.clock.advance(3600_000);
    await twin.settle();
    expect(await snapshotsIn(HERE)).toEqual([]);
    expect((await instancesIn(HERE)).map((i) => i.DBInstanceIdentifier).sort()).toEqual(replicasBefore);
    expect(await secretIn(HERE)).toEqual(secretBefore);
    expect(twin.iam.denials).toEqual([]);
  });
});

describe('a MySQL source on an option group of its own', () => {
  let source: DeployedStack;
  let destination: DeployedStack;
  beforeAll(async () => {
    await twin.reset();
    await createSourceDatabaseOnOptionGroup('orders-audit');
    ({ source, destination } = await deployAcrossRegions());
  }, 120_000);

  test('without optionGroupName in the destination: refused before anything is created', async () => {
    const secretBefore = await secretIn(HERE);

    const [run, ...others] = await replicate(destination);

    expect(others).toEqual([]);
    expect(JSON.parse(run!.input)).toMatchObject({ engine: 'mysql', optionGroupName: 'orders-audit' });
    expect([run!.status, run!.error]).toEqual(['FAILED', 'OptionGroupRequired']);
    expect(run!.cause).toContain(`the source DB instance ${DATABASE} uses the option group orders-audit`);
    expect(run!.cause).toContain(`copies from ${twin.region} into ${HERE}`);
    expect(run!.cause).toContain('set optionGroupName');
    expect(run!.cause).toContain('Nothing was created');
    const entered = statesEntered(run!);
    expect(entered).toContain('Check The Source Option Group');
    for (const state of ['Take The Database Lock', 'Name The Replica', 'Copy The Shared Snapshot']) {
      expect(entered).not.toContain(state);
    }
    expect(await snapshotsIn(HERE)).toEqual([]);
    expect(await instancesIn(HERE)).toEqual([]);
    expect(await secretIn(HERE)).toEqual(secretBefore);
    expect(twin.iam.denials).toEqual([]);
  });

  test('with optionGroupName the copy and the replica get that option group of the destination Region', async () => {
    await twin.aws('destination', HERE).rds.send(
      new CreateOptionGroupCommand({
        OptionGroupName: 'orders-audit-replica',
        EngineName: 'mysql',
        MajorEngineVersion: '8.0',
        OptionGroupDescription: 'orders audit (replicas)',
      }),
    );
    // a second stage of the destination, with optionGroupName, beside the one without
    const withGroup = await deployDestination(source, 'og', { optionGroupName: 'orders-audit-replica' });

    const [run] = await replicate(withGroup);

    expect([run!.status, run!.error, run!.cause]).toEqual(['SUCCEEDED', undefined, undefined]);
    expect(copyCall(run!).OptionGroupName).toBe('orders-audit-replica');
    // the stage without it refused the same message again
    expect(runsOf(destination, 'replicate').map((r) => r.error)).toEqual([
      'OptionGroupRequired',
      'OptionGroupRequired',
    ]);
    const live = (await secretIn(HERE, secretNameOf(DATABASE, 'og'))).dbInstanceIdentifier;
    const replica = (await instancesIn(HERE)).find((i) => i.DBInstanceIdentifier === live)!;
    expect(replica.OptionGroupMemberships?.map((g) => g.OptionGroupName)).toEqual(['orders-audit-replica']);
    expect(twin.iam.denials).toEqual([]);
  });
});
