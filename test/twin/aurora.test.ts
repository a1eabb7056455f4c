// Aurora DB clusters on the offline twin (issue 13), told as one story with one twin: a deployment
// that replicates one DB instance and two Aurora DB clusters (PostgreSQL, and MySQL Serverless v2).
// The source snapshots each cluster, copies it with the shared key and shares it; the destination
// copies it with its own key, restores the cluster and its writer, points the secret at the cluster
// endpoint (every other key kept), keeps keepReplicas clusters, cleans up after a failed restore;
// a Multi-AZ DB cluster (not Aurora) is refused, as AWS cannot copy its snapshots.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import {
  type DBCluster,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
} from '@aws-sdk/client-rds';
import { type ExecutionRecord, startTwin, type Twin } from '../../twin/src';
import { createSourceCluster, FIXTURE_PASSWORD, seedSecret } from '../../twin/src/fixtures';
import { occurrences } from '../../twin/src/metrics';
import {
  DATABASE,
  DAY_MS,
  DEPLOYMENT_ID,
  destinationExecutions,
  failureSummary,
  inputOf,
  invocationCounts,
  letTimePass,
  output,
  replicaIds,
  type Story,
  secretNameOf,
  secretState,
  setUpStory,
  statesEntered,
  TAG,
  takeNotices,
} from './helpers/destination';

/** The snapshot-cluster executions a replicate-clusters run started. */
function childrenOf(_twin: Twin, parent: ExecutionRecord): ExecutionRecord[] {
  return [...twin.sfn.executions.values()].filter(
    (e) =>
      e.stateMachineArn.endsWith('-snapshot-cluster') &&
      JSON.parse(e.input).AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID === parent.executionArn,
  );
}

const PG = 'orders-aurora';
const MYSQL = 'billing-aurora';
const MULTI_AZ = 'legacy-maz';

let twin: Twin;
let story: Story;

interface ClusterOutput {
  database: string;
  dbClusterIdentifier: string;
  previousDbClusterIdentifier: string | null;
  deleted: string[];
  retentionFailures: unknown[];
  snapshotCopy: { dbClusterSnapshotIdentifier: string; deleted: boolean };
}

const tagsOf = (c: { TagList?: { Key?: string; Value?: string }[] }) =>
  Object.fromEntries((c.TagList ?? []).map((t) => [t.Key!, t.Value!]));

async function destinationClusters(): Promise<DBCluster[]> {
  const out = await twin.aws('destination').rds.send(new DescribeDBClustersCommand({}));
  return out.DBClusters ?? [];
}

/** Clusters this deployment manages as replicas of `database`, oldest name first (names sort by time). */
async function managedClusters(database: string): Promise<DBCluster[]> {
  return (await destinationClusters())
    .filter((c) => {
      const t = tagsOf(c);
      return (
        t[TAG.managedBy] === DEPLOYMENT_ID && t[TAG.kind] === 'replica' && t[TAG.sourceDatabase] === database
      );
    })
    .sort((a, b) => String(a.DBClusterIdentifier).localeCompare(String(b.DBClusterIdentifier)));
}

async function destinationInstanceIds(): Promise<string[]> {
  const out = await twin.aws('destination').rds.send(new DescribeDBInstancesCommand({}));
  return (out.DBInstances ?? []).map((i) => i.DBInstanceIdentifier!).sort();
}

async function destinationClusterSnapshots(): Promise<string[]> {
  const out = await twin
    .aws('destination')
    .rds.send(new DescribeDBClusterSnapshotsCommand({ SnapshotType: 'manual' }));
  return (out.DBClusterSnapshots ?? []).map((s) => s.DBClusterSnapshotIdentifier!);
}

async function sourceClusterSnapshots(): Promise<string[]> {
  const out = await twin
    .aws('source')
    .rds.send(new DescribeDBClusterSnapshotsCommand({ SnapshotType: 'manual' }));
  return (out.DBClusterSnapshots ?? []).map((s) => s.DBClusterSnapshotIdentifier!).sort();
}

/** One source run of `replicate-clusters` and the destination runs it set off. */
async function replicateClusters(
  clusters: string[],
): Promise<{ source: ExecutionRecord; destination: ExecutionRecord[] }> {
  const before = new Set(destinationExecutions(twin, 'replicateCluster' as never));
  const source = await twin.run('source', 'replicateClusters', { clusters });
  const destination = destinationExecutions(twin, 'replicateCluster' as never).filter((e) => !before.has(e));
  return { source, destination };
}

/** The secret points at cluster `id`: host is its (writer) endpoint; every other key as seeded. */
async function expectSecretPointsAtCluster(database: string, id: string, seeded: Record<string, unknown>) {
  const cluster = (await destinationClusters()).find((c) => c.DBClusterIdentifier === id);
  expect(cluster?.Status).toBe('available');
  const secret = await secretState(twin, secretNameOf(database));
  expect(secret.value).toEqual({
    ...seeded,
    host: cluster!.Endpoint,
    port: cluster!.Port,
    engine: cluster!.Engine,
    dbClusterIdentifier: id,
  });
  expect(String(secret.value.host)).toMatch(new RegExp(`^${id}\\.cluster-`));
}

const seededSecrets: Record<string, Record<string, unknown>> = {};

beforeAll(async () => {
  twin = await startTwin();
  await createSourceCluster(twin, { id: PG, engine: 'aurora-postgresql' });
  await createSourceCluster(twin, { id: MYSQL, engine: 'aurora-mysql', serverlessV2: { min: 0.5, max: 8 } });
  story = await setUpStory(
    twin,
    {
      clusters: `${PG},${MYSQL}`,
      serverlessV2MinCapacity: '0.5',
      serverlessV2MaxCapacity: '4',
    },
    { clusters: `${PG},${MYSQL},${MULTI_AZ}` },
  );
  for (const db of [PG, MYSQL]) {
    seededSecrets[db] = await seedSecret(twin, secretNameOf(db), {
      engine: db === PG ? 'postgres' : 'mysql',
      note: 'kept byte for byte',
    });
  }
}, 180_000);

afterAll(async () => {
  await twin?.stop();
});

test('an Aurora PostgreSQL cluster: snapshot, shared copy, message version 2, cluster and writer restored, the secret points at the cluster endpoint', async () => {
  const lambdasBefore = twin.lambda.invocations.length;
  const { source, destination } = await replicateClusters([PG]);

  expect(failureSummary(source)).toBe(`${source.name}: SUCCEEDED  `);
  const [child] = childrenOf(twin, source);
  expect(child?.status).toBe('SUCCEEDED');
  expect(destination).toHaveLength(1);
  const run = destination[0]!;
  expect(failureSummary(run)).toBe(`${run.name}: SUCCEEDED  `);

  // The message: version 2, kind cluster, the shared cluster snapshot of the source account.
  const message = inputOf<Record<string, unknown>>(run);
  expect(message).toMatchObject({
    version: 2,
    kind: 'cluster',
    sourceAccountId: twin.accounts.source,
    sourceDbIdentifier: PG,
    engine: 'aurora-postgresql',
  });
  expect(String(message.sharedSnapshotArn)).toMatch(
    // a DB cluster snapshot identifier has at most 63 characters (src/contracts/cluster-snapshot-names.js)
    new RegExp(
      `^arn:aws:rds:${twin.region}:${twin.accounts.source}:cluster-snapshot:rr[0-9a-f]{6}-cs-s-[0-9a-f]{32}$`,
    ),
  );

  // The destination: one cluster of this deployment, its writer, the configured settings.
  const out = output<ClusterOutput>(run);
  const clusters = await managedClusters(PG);
  expect(clusters.map((c) => c.DBClusterIdentifier)).toEqual([out.dbClusterIdentifier]);
  const cluster = clusters[0]!;
  expect(cluster).toMatchObject({
    Status: 'available',
    Engine: 'aurora-postgresql',
    DeletionProtection: true,
    DBSubnetGroup: story.subnetGroupName,
    ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 },
  });
  expect(cluster.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId)).toEqual([story.securityGroupId]);
  expect(tagsOf(cluster)).toMatchObject({
    [TAG.managedBy]: DEPLOYMENT_ID,
    [TAG.kind]: 'replica',
    [TAG.sourceDatabase]: PG,
    [TAG.sourceAccount]: twin.accounts.source,
    [TAG.snapshotTime]: message.snapshotCreateTime,
  });
  expect(tagsOf(cluster).team).toBeUndefined(); // the source's tags are not carried over
  const writer = cluster.DBClusterMembers?.find((m) => m.IsClusterWriter);
  expect(writer?.DBInstanceIdentifier).toBe(out.dbClusterIdentifier);
  const writers = await twin
    .aws('destination')
    .rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: out.dbClusterIdentifier }));
  expect(writers.DBInstances?.[0]).toMatchObject({
    DBInstanceStatus: 'available',
    DBInstanceClass: 'db.serverless',
    DBClusterIdentifier: out.dbClusterIdentifier,
  });

  await expectSecretPointsAtCluster(PG, out.dbClusterIdentifier, seededSecrets[PG]!);
  expect(out.previousDbClusterIdentifier).toBeNull();

  // Nothing left behind: no cluster snapshot copy here, no intermediate snapshot in the source.
  await letTimePass(twin);
  expect(await destinationClusterSnapshots()).toEqual([]);
  // (a DB cluster snapshot identifier has at most 63 characters)
  expect(await sourceClusterSnapshots()).toEqual([
    expect.stringMatching(/^rr[0-9a-f]{6}-cs-s-[0-9a-f]{32}$/),
  ]);
  // At most 4 Lambda invocations for the database: trigger, name, merge, retention.
  expect(invocationCounts(twin, lambdasBefore)).toEqual({
    trigger: 1,
    nameReplica: 1,
    mergeSecret: 1,
    selectRetention: 1,
  });
  // The password never passes through an execution.
  expect(occurrences(twin.sfn.executions.values(), FIXTURE_PASSWORD)).toEqual([]);
});

test('one deployment with a DB instance and a DB cluster: the instance replicates through replicate, its secret untouched by the cluster', async () => {
  const clusterSecretBefore = await secretState(twin, secretNameOf(PG));
  const before = new Set(destinationExecutions(twin, 'replicate'));
  const source = await twin.run('source', 'replicate', { databases: [DATABASE] });
  const runs = destinationExecutions(twin, 'replicate').filter((e) => !before.has(e));

  expect(failureSummary(source)).toBe(`${source.name}: SUCCEEDED  `);
  expect(runs.map((r) => r.status)).toEqual(['SUCCEEDED']);
  expect(inputOf(runs[0]!)).toMatchObject({ version: 1, sourceDbInstanceIdentifier: DATABASE });
  const ids = await replicaIds(twin);
  expect(ids).toHaveLength(1);
  const secret = await secretState(twin, secretNameOf(DATABASE));
  expect(secret.value.dbInstanceIdentifier).toBe(ids[0]);
  expect(secret.value.dbClusterIdentifier).toBeUndefined();
  // The cluster's secret did not move.
  expect((await secretState(twin, secretNameOf(PG))).raw).toBe(clusterSecretBefore.raw);
});

test('an Aurora MySQL Serverless v2 cluster replicates: aurora-mysql, port 3306, db.serverless writer', async () => {
  const { source, destination } = await replicateClusters([MYSQL]);

  expect(failureSummary(source)).toBe(`${source.name}: SUCCEEDED  `);
  expect(destination.map((r) => failureSummary(r))).toEqual([`${destination[0]?.name}: SUCCEEDED  `]);
  const out = output<ClusterOutput>(destination[0]!);
  const [cluster] = await managedClusters(MYSQL);
  expect(cluster).toMatchObject({
    DBClusterIdentifier: out.dbClusterIdentifier,
    Engine: 'aurora-mysql',
    Port: 3306,
    ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 },
  });
  await expectSecretPointsAtCluster(MYSQL, out.dbClusterIdentifier, seededSecrets[MYSQL]!);
  const writer = await twin
    .aws('destination')
    .rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: out.dbClusterIdentifier }));
  expect(writer.DBInstances?.[0]?.DBInstanceClass).toBe('db.serverless');
});

test('retention: a day apart, three replications keep the newest two clusters; the oldest goes with its writer, deletion protection turned off first', async () => {
  const first = (await managedClusters(PG)).map((c) => c.DBClusterIdentifier!);
  expect(first).toHaveLength(1);
  const outs: ClusterOutput[] = [];
  for (let i = 0; i < 2; i++) {
    await letTimePass(twin, DAY_MS);
    const { destination } = await replicateClusters([PG]);
    expect(destination.map((r) => r.status)).toEqual(['SUCCEEDED']);
    outs.push(output<ClusterOutput>(destination[0]!));
  }
  // Second run: nothing beyond keepReplicas (2). Third: the first cluster goes.
  expect(outs[0]!.deleted).toEqual([]);
  expect(outs[0]!.previousDbClusterIdentifier).toBe(first[0]);
  expect(outs[1]!.deleted).toEqual([first[0]]);
  expect(outs[1]!.retentionFailures).toEqual([]);
  const third = destinationExecutions(twin, 'replicateCluster' as never).at(-1)!;
  expect(statesEntered(third)).toEqual(
    expect.arrayContaining([
      'Turn Off Cluster Deletion Protection (old replica)',
      'Delete A Cluster Member (old replica)',
      'Delete The Replica Cluster (old replica)',
    ]),
  );
  await letTimePass(twin);
  const kept = (await managedClusters(PG)).map((c) => c.DBClusterIdentifier!);
  expect(kept).toEqual([outs[0]!.dbClusterIdentifier, outs[1]!.dbClusterIdentifier]);
  expect(await destinationInstanceIds()).not.toContain(first[0]);
  await expectSecretPointsAtCluster(PG, outs[1]!.dbClusterIdentifier, seededSecrets[PG]!);
  expect(await destinationClusterSnapshots()).toEqual([]);
});

test('the writer ends incompatible-parameters: RestoreFailed, the cluster, its writer and the copy are deleted, the secret and the live cluster untouched, operators notified', async () => {
  await takeNotices(story);
  const secretBefore = await secretState(twin, secretNameOf(PG));
  const clustersBefore = (await managedClusters(PG)).map((c) => c.DBClusterIdentifier!);
  await letTimePass(twin, DAY_MS);
  await twin.moto.control.addFault({
    kind: 'instance-status',
    match: `${PG}-*`,
    status: 'incompatible-parameters',
    account: twin.accounts.destination,
  });
  const { destination } = await replicateClusters([PG]);
  await twin.moto.control.clearFaults();

  expect(destination).toHaveLength(1);
  const run = destination[0]!;
  expect(run.status).toBe('FAILED');
  expect(run.error).toBe('RestoreFailed');
  expect(run.cause).toContain('incompatible-parameters');
  expect(statesEntered(run)).toContain('Delete The Replica Cluster (abandoned replica)');
  expect(statesEntered(run)).toContain('Delete The Abandoned Copy');
  expect(statesEntered(run)).not.toContain('Point The Secret At The Cluster');
  await letTimePass(twin);
  expect((await managedClusters(PG)).map((c) => c.DBClusterIdentifier)).toEqual(clustersBefore);
  expect(await destinationClusterSnapshots()).toEqual([]);
  expect((await secretState(twin, secretNameOf(PG))).raw).toBe(secretBefore.raw);
  const notices = await takeNotices(story);
  expect(notices.map((n) => n.message.error)).toContain('RestoreFailed');
});

test('a Multi-AZ DB cluster (engine postgres, not Aurora) is refused with ClusterNotReplicable (AWS cannot copy its snapshots); nothing is created', async () => {
  await createSourceCluster(twin, { id: MULTI_AZ, engine: 'postgres' });
  const snapshotsBefore = await sourceClusterSnapshots();
  const { source, destination } = await replicateClusters([MULTI_AZ]);

  expect(source.status).toBe('FAILED');
  expect(source.error).toBe('ReplicationFailed');
  const [child] = childrenOf(twin, source);
  expect(output(child!)).toMatchObject({
    database: MULTI_AZ,
    status: 'FAILED',
    error: 'ClusterNotReplicable',
  });
  expect(String((output(child!) as { cause: string }).cause)).toContain(
    'AWS cannot copy snapshots of Multi-AZ DB clusters',
  );
  expect(destination).toEqual([]);
  expect(await sourceClusterSnapshots()).toEqual(snapshotsBefore);
});

test('rollback of a cluster: "previous" points the secret back at the cluster live before, then a named one; a dry run and an unmanaged target change nothing', async () => {
  const [older, newer] = (await managedClusters(PG)).map((c) => c.DBClusterIdentifier!);
  expect((await secretState(twin, secretNameOf(PG))).value.dbClusterIdentifier).toBe(newer);

  const dry = await twin.run('destination', 'rollbackCluster', {
    database: PG,
    to: 'previous',
    dryRun: true,
  });
  expect(failureSummary(dry)).toBe(`${dry.name}: SUCCEEDED  `);
  expect(output(dry)).toMatchObject({ database: PG, from: newer, to: older, dryRun: true });
  expect((await secretState(twin, secretNameOf(PG))).value.dbClusterIdentifier).toBe(newer);

  const back = await twin.run('destination', 'rollbackCluster', { database: PG, to: 'previous' });
  expect(failureSummary(back)).toBe(`${back.name}: SUCCEEDED  `);
  expect(output(back)).toEqual({ database: PG, from: newer, to: older, dryRun: false });
  await expectSecretPointsAtCluster(PG, older!, seededSecrets[PG]!);

  const named = await twin.run('destination', 'rollbackCluster', { database: PG, to: newer });
  expect(output(named)).toEqual({ database: PG, from: older, to: newer, dryRun: false });
  await expectSecretPointsAtCluster(PG, newer!, seededSecrets[PG]!);

  // The source cluster's name exists only in the source account; another database's cluster is not this one's.
  const [mysqlReplica] = (await managedClusters(MYSQL)).map((c) => c.DBClusterIdentifier!);
  const refused = await twin.run('destination', 'rollbackCluster', { database: PG, to: mysqlReplica });
  expect(refused.status).toBe('FAILED');
  expect(refused.error).toBe('InvalidInput');
  expect(refused.cause).toContain('is not a replica of orders-aurora managed by');
  await expectSecretPointsAtCluster(PG, newer!, seededSecrets[PG]!);
});

test('rollback of a cluster to an unknown or invalid name is InvalidInput; RDS throttling the describes past the retries is reported to operations instead', async () => {
  const live = (await secretState(twin, secretNameOf(PG))).value;
  await takeNotices(story);
  for (const to of ['orders-aurora-rr00000000-19990101t000000', 'Not A Cluster!']) {
    const refused = await twin.run('destination', 'rollbackCluster', { database: PG, to });
    expect(`${refused.error}: ${refused.cause}`).toMatch(
      /^InvalidInput: field 'to' names .*, which is not a DB cluster of this account/,
    );
  }

  // the first attempt and 4 retries of each of the two describes
  await twin.moto.control.addFault({
    kind: 'error',
    api: 'DescribeDBClusters',
    code: 'Throttling',
    message: 'Rate exceeded',
    count: 10,
    account: twin.accounts.destination,
  });
  const throttled = await twin.run('destination', 'rollbackCluster', { database: PG, to: 'previous' });
  const remaining = (await twin.moto.control.faults()).map((f) => f.remaining ?? 0);
  await twin.moto.control.clearFaults();

  expect(throttled.status).toBe('FAILED');
  expect(throttled.error).toBe('Rds.RdsException');
  expect(statesEntered(throttled)).toContain('Search For The Target Replica');
  expect(remaining).toEqual([0]);
  expect((await takeNotices(story)).map((n) => n.message)).toEqual([
    expect.objectContaining({
      outcome: 'rollback failed; the database secret was not changed',
      error: 'Rds.RdsException',
    }),
  ]);
  expect((await secretState(twin, secretNameOf(PG))).value).toEqual(live);
});

test('the source cluster snapshot quota would be exceeded: SnapshotQuotaWouldBeExceeded before anything is created', async () => {
  const before = await sourceClusterSnapshots();
  // room for one more cluster snapshot; a run needs two (the intermediate snapshot and the shared copy)
  await twin.moto.control.setClusterSnapshotQuota(before.length + 1, { account: twin.accounts.source });
  const { source, destination } = await replicateClusters([PG]);
  await twin.moto.control.setClusterSnapshotQuota(100, { account: twin.accounts.source });

  expect(source.status).toBe('FAILED');
  expect(source.error).toBe('SnapshotQuotaWouldBeExceeded');
  expect(source.cause).toContain('(RDS quota ManualClusterSnapshots)');
  expect(source.cause).toContain(`${before.length} of ${before.length + 1} used, and this run needs 2 more`);
  expect(childrenOf(twin, source)).toEqual([]);
  expect(destination).toEqual([]);
  expect(await sourceClusterSnapshots()).toEqual(before);
});

test.each([
  ['CopyDBClusterSnapshot', 'Did This Run Make The Copy?'],
  ['RestoreDBClusterFromSnapshot', 'Did This Run Restore The Cluster?'],
  ['CreateDBInstance', 'Did This Run Create The Writer?'],
])(
  'a lost response of %s: the retry meets what the first attempt made, adopts it (this run’s tags) and goes live without an orphan',
  async (api, adoption) => {
    const clustersBefore = (await managedClusters(MYSQL)).map((c) => c.DBClusterIdentifier!);
    const instancesBefore = await destinationInstanceIds();
    await letTimePass(twin, DAY_MS);
    await twin.moto.control.addFault({
      kind: 'error',
      api,
      code: 'InternalFailure',
      status: 500,
      after: true,
      account: twin.accounts.destination,
    });
    const { destination } = await replicateClusters([MYSQL]);
    await twin.moto.control.clearFaults();

    expect(destination.map((r) => failureSummary(r))).toEqual([`${destination[0]?.name}: SUCCEEDED  `]);
    expect(statesEntered(destination[0]!)).toContain(adoption);
    const out = output<ClusterOutput>(destination[0]!);
    await letTimePass(twin);
    const clustersAfter = (await managedClusters(MYSQL)).map((c) => c.DBClusterIdentifier!);
    // exactly the new cluster was added (retention may have retired the oldest), no orphan writer or copy
    expect(clustersAfter.filter((c) => !clustersBefore.includes(c))).toEqual([out.dbClusterIdentifier]);
    expect((await destinationInstanceIds()).filter((i) => !instancesBefore.includes(i))).toEqual([
      out.dbClusterIdentifier,
    ]);
    expect(await destinationClusterSnapshots()).toEqual([]);
    await expectSecretPointsAtCluster(MYSQL, out.dbClusterIdentifier, seededSecrets[MYSQL]!);
  },
);

test('provenance: a message naming orders-aurora with the shared snapshot of another cluster is refused before anything is created', async () => {
  const mysqlRun = destinationExecutions(twin, 'replicateCluster' as never)
    .filter(
      (e) =>
        e.status === 'SUCCEEDED' && inputOf<{ sourceDbIdentifier: string }>(e).sourceDbIdentifier === MYSQL,
    )
    .at(-1)!;
  const forged = {
    ...inputOf<Record<string, unknown>>(mysqlRun),
    sourceDbIdentifier: PG,
    engine: 'aurora-postgresql',
    runId: 'forged-1',
  };
  const secretBefore = await secretState(twin, secretNameOf(PG));
  const clustersBefore = (await destinationClusters()).map((c) => c.DBClusterIdentifier).sort();

  const exec = await twin.run('destination', 'replicateCluster', forged);

  expect(exec.status).toBe('FAILED');
  expect(exec.error).toBe('SnapshotProvenanceMismatch');
  expect(exec.cause).toContain(`is a snapshot of the DB cluster ${MYSQL}, not of ${PG}`);
  expect(statesEntered(exec)).not.toContain('Copy The Shared Cluster Snapshot');
  expect((await destinationClusters()).map((c) => c.DBClusterIdentifier).sort()).toEqual(clustersBefore);
  expect(await destinationClusterSnapshots()).toEqual([]);
  expect((await secretState(twin, secretNameOf(PG))).raw).toBe(secretBefore.raw);
});
