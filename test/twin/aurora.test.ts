// Aurora DB clusters on the offline twin (issue 13), told as one story with one twin: a deployment
// that replicates one DB instance and two Aurora DB clusters (PostgreSQL, and MySQL Serverless v2).
// The source snapshots each cluster, copies it with the shared key and shares it; the destination
// copies it with its own key, restores the cluster and its writer, points the secret at the cluster
// endpoint (every other key kept), keeps keepReplicas clusters, cleans up after a failed restore;
// a Multi-AZ DB cluster (not Aurora) is refused, as AWS cannot share its snapshots.
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
    new RegExp(
      `^arn:aws:rds:${twin.region}:${twin.accounts.source}:cluster-snapshot:rds-replica-source-dev-shared-${PG}-`,
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
  expect(await sourceClusterSnapshots()).toEqual([expect.stringMatching(/-shared-orders-aurora-/)]);
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
