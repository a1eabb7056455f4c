// The cluster modes of the destination Lambdas (issue 13): mergeSecret points the secret at an Aurora
// DB cluster (host = cluster writer endpoint, port, engine, dbClusterIdentifier; every other key kept
// byte for byte) only when the cluster is a managed replica, available, with an available writer;
// nameReplica finds a name free among clusters and instances; selectRetention lists cluster replicas.
import {
  type DBCluster,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import contract from '../../src/contracts/contract.json';
import { deploymentMarker } from '../../src/contracts/names';
import { mergeEndpoint } from '../../src/contracts/secret';
import { handler as mergeSecret } from '../../src/functions/merge-secret/handler';
import { handler as nameReplica } from '../../src/functions/name-replica/handler';
import { handler as selectRetention } from '../../src/functions/select-retention/handler';

const rds = mockClient(RDSClient);
const secrets = mockClient(SecretsManagerClient);

const DEPLOYMENT = 'rds-replica-destination-prod';
const DB = 'orders-aurora';
const NEW = 'orders-aurora-r1-20261123t192147';
const OLD = 'orders-aurora-r1-20261001t000000';
const PASSWORD = 'hunter2-p@ss"word';
const secretText =
  `{"engine":"postgres","host":"old.example","port":"5432","username":"app",` +
  `"password":${JSON.stringify(PASSWORD)},"dbInstanceIdentifier":"legacy-1","dbClusterIdentifier":"${OLD}","x":1.50}`;

const tags = (over: Record<string, string> = {}) =>
  Object.entries({
    [contract.tagKeys.managedBy]: DEPLOYMENT,
    [contract.tagKeys.kind]: contract.kinds.replica,
    [contract.tagKeys.sourceDatabase]: DB,
    [contract.tagKeys.snapshotTime]: '2026-11-23T19:21:47.123Z',
    ...over,
  }).map(([Key, Value]) => ({ Key, Value }));

const cluster = (over: Partial<DBCluster> = {}): DBCluster => ({
  DBClusterIdentifier: NEW,
  Status: 'available',
  Engine: 'aurora-postgresql',
  Endpoint: `${NEW}.cluster-abc.eu-west-1.rds.amazonaws.com`,
  Port: 5432,
  TagList: tags(),
  DBClusterMembers: [{ DBInstanceIdentifier: NEW, IsClusterWriter: true }],
  ...over,
});

beforeEach(() => {
  rds.reset();
  secrets.reset();
  process.env.DEPLOYMENT_ID = DEPLOYMENT;
  secrets.on(GetSecretValueCommand).resolves({ SecretString: secretText, VersionId: 'v1' });
  secrets.on(PutSecretValueCommand).resolves({});
  rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster()] });
  rds
    .on(DescribeDBInstancesCommand)
    .resolves({ DBInstances: [{ DBInstanceIdentifier: NEW, DBInstanceStatus: 'available' }] });
});

test('mergeEndpoint in cluster mode rewrites host, port (keeping its type), engine and dbClusterIdentifier only', () => {
  const merged = mergeEndpoint(secretText, {
    host: 'new.example',
    port: 3306,
    engine: 'aurora-mysql',
    dbClusterIdentifier: NEW,
  });
  expect(merged.previousDbInstanceIdentifier).toBe(OLD);
  expect(merged.secretString).toBe(
    secretText
      .replace('"postgres"', '"aurora-mysql"')
      .replace('"old.example"', '"new.example"')
      .replace('"5432"', '"3306"')
      .replace(`"${OLD}"`, `"${NEW}"`),
  );
});

test('mergeSecret (cluster mode) points the secret at the cluster endpoint and returns no secret data', async () => {
  const out = await mergeSecret({ secretId: 's', dbClusterIdentifier: NEW, database: DB, expectedLive: OLD });
  expect(out).toEqual({
    previousDbClusterIdentifier: OLD,
    dbClusterIdentifier: NEW,
    host: `${NEW}.cluster-abc.eu-west-1.rds.amazonaws.com`,
    port: 5432,
  });
  const written = JSON.parse(
    String(secrets.commandCalls(PutSecretValueCommand)[0]!.args[0].input.SecretString),
  );
  expect(written).toEqual({
    engine: 'aurora-postgresql',
    host: `${NEW}.cluster-abc.eu-west-1.rds.amazonaws.com`,
    port: '5432',
    username: 'app',
    password: PASSWORD,
    dbInstanceIdentifier: 'legacy-1',
    dbClusterIdentifier: NEW,
    x: 1.5,
  });
  expect(JSON.stringify(out)).not.toContain(PASSWORD);
});

test.each([
  [
    'not managed by this deployment',
    { TagList: tags({ [contract.tagKeys.managedBy]: 'someone-else' }) },
    'ReplicaNotManaged',
  ],
  ['still creating', { Status: 'creating' }, 'ReplicaNotReady'],
  ['without a writer', { DBClusterMembers: [] }, 'ReplicaNotReady'],
])('mergeSecret refuses a cluster %s and writes nothing', async (_what, over, error) => {
  rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster(over as Partial<DBCluster>)] });
  await expect(mergeSecret({ secretId: 's', dbClusterIdentifier: NEW, database: DB })).rejects.toMatchObject({
    name: error,
  });
  expect(secrets).not.toHaveReceivedCommand(PutSecretValueCommand);
});

test('mergeSecret refuses with SecretChanged when the secret moved since the run began', async () => {
  await expect(
    mergeSecret({ secretId: 's', dbClusterIdentifier: NEW, database: DB, expectedLive: 'someone-else-1' }),
  ).rejects.toMatchObject({ name: 'SecretChanged' });
  expect(secrets).not.toHaveReceivedCommand(PutSecretValueCommand);
});

test('mergeSecret (cluster mode), retried after it succeeded: writes nothing and reads the previous cluster from AWSPREVIOUS when not told', async () => {
  const merged = mergeEndpoint(secretText, {
    host: `${NEW}.cluster-abc.eu-west-1.rds.amazonaws.com`,
    port: 5432,
    engine: 'aurora-postgresql',
    dbClusterIdentifier: NEW,
  }).secretString;
  secrets
    .on(GetSecretValueCommand)
    .resolves({ SecretString: merged, VersionId: 'v2' })
    .on(GetSecretValueCommand, { SecretId: 's', VersionStage: 'AWSPREVIOUS' })
    .resolves({ SecretString: secretText, VersionId: 'v1' });

  const told = await mergeSecret({
    secretId: 's',
    dbClusterIdentifier: NEW,
    database: DB,
    expectedLive: OLD,
  });
  const untold = await mergeSecret({ secretId: 's', dbClusterIdentifier: NEW, database: DB });

  expect(told.previousDbClusterIdentifier).toBe(OLD);
  // the previous version's dbClusterIdentifier, not its dbInstanceIdentifier (legacy-1)
  expect(untold.previousDbClusterIdentifier).toBe(OLD);
  expect(secrets).not.toHaveReceivedCommand(PutSecretValueCommand);
});

test('nameReplica (cluster mode) reads the live cluster and skips a name a cluster or an instance holds', async () => {
  process.env.INSTANCE_NAME_PREFIX = '{database}-{deployment}';
  rds.on(DescribeDBClustersCommand).callsFake((input: { DBClusterIdentifier: string }) => {
    if (input.DBClusterIdentifier.endsWith('t192147')) return { DBClusters: [cluster()] };
    throw Object.assign(new Error('not found'), { name: 'DBClusterNotFoundFault' });
  });
  rds.on(DescribeDBInstancesCommand).callsFake((input: { DBInstanceIdentifier: string }) => {
    if (input.DBInstanceIdentifier.endsWith('t192147-2')) return { DBInstances: [{}] };
    throw Object.assign(new Error('not found'), { name: 'DBInstanceNotFoundFault' });
  });
  const out = (await nameReplica({
    kind: 'cluster',
    database: DB,
    snapshotCreateTime: '2026-11-23T19:21:47.123Z',
    secretId: 's',
  })) as { dbClusterIdentifier: string; liveDbClusterIdentifier: string };
  expect(out.liveDbClusterIdentifier).toBe(OLD);
  expect(out.dbClusterIdentifier).toMatch(/^orders-aurora-.*-20261123t192147-3$/);
});

test('selectRetention (cluster mode) keeps live and previous, deletes the oldest managed cluster with its members', async () => {
  const at = (id: string, time: string, over: Partial<DBCluster> = {}) =>
    cluster({
      DBClusterIdentifier: id,
      TagList: tags({ [contract.tagKeys.snapshotTime]: time }),
      DBClusterMembers: [{ DBInstanceIdentifier: id, IsClusterWriter: true }],
      ...over,
    });
  rds.on(DescribeDBClustersCommand).resolves({
    DBClusters: [
      at('c1', '2026-11-20T00:00:00Z', { DeletionProtection: true }),
      at('c2', '2026-11-21T00:00:00Z'),
      at('c3', '2026-11-22T00:00:00Z'),
      at('foreign', '2026-11-19T00:00:00Z', { TagList: tags({ [contract.tagKeys.managedBy]: 'other' }) }),
    ],
  });
  const out = await selectRetention({ kind: 'cluster', database: DB, keep: 2, live: 'c3', previous: 'c2' });
  expect(out).toEqual({
    keep: ['c3', 'c2'],
    delete: [{ id: 'c1', deletionProtection: true, members: ['c1'] }],
  });
});

test('cluster snapshot names start with the deployment marker of names.ts and fit 63 characters', () => {
  const { clusterSnapshotPrefix, MAX_CLUSTER_SNAPSHOT_IDENTIFIER_LENGTH } =
    require('../../src/contracts/cluster-snapshot-names.js') as {
      clusterSnapshotPrefix(id: string): string;
      MAX_CLUSTER_SNAPSHOT_IDENTIFIER_LENGTH: number;
    };
  // the longest deployment id: a 20-character stage
  for (const id of ['rds-replica-source-dev', `rds-replica-destination-${'s'.repeat(20)}`]) {
    const prefix = clusterSnapshotPrefix(id);
    expect(prefix).toBe(`${deploymentMarker(id)}-cs`);
    expect(`${prefix}-c-${'0'.repeat(36)}`.length).toBeLessThanOrEqual(
      MAX_CLUSTER_SNAPSHOT_IDENTIFIER_LENGTH,
    );
    expect(`${prefix}-s-${'0'.repeat(32)}`.length).toBeLessThanOrEqual(
      MAX_CLUSTER_SNAPSHOT_IDENTIFIER_LENGTH,
    );
  }
});
