// The pure parts of the status commands (plugins/status): which database a run is about, a failed
// run's failing state from its history, the RDS phases a run started, the tables, and bad input.
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { StatusClients } from '../../plugins/status/src/clients';
import {
  collectDestination,
  type DestinationDatabaseView,
  databasesOf,
  failureOf,
  machineKind,
  type SourceDatabaseView,
  type StatusReport,
} from '../../plugins/status/src/collect';
import {
  duration,
  renderDestination,
  renderSource,
  table,
  writerClass,
} from '../../plugins/status/src/render';
import { phasesOf } from '../../plugins/status/src/watch';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

test('a run is about the database its input names, in each contract; {} is every configured database', () => {
  expect(databasesOf({ database: 'orders-db', to: 'previous' })).toEqual(['orders-db']);
  expect(databasesOf({ version: 1, sourceDbInstanceIdentifier: 'orders-db' })).toEqual(['orders-db']);
  expect(databasesOf({ databases: ['a', 'b', 3] })).toEqual(['a', 'b']);
  expect(databasesOf({ version: 2, kind: 'cluster', sourceDbIdentifier: 'orders-aurora' })).toEqual([
    'orders-aurora',
  ]);
  expect(databasesOf({ clusters: ['orders-aurora'] })).toEqual(['orders-aurora']);
  expect(databasesOf({})).toBeUndefined();
  expect(databasesOf('not an object')).toBeUndefined();
});

test("a failed run's failing state is the last Task that failed; the run ended in its Fail state with its Error and Cause", () => {
  const events: HistoryEvent[] = [
    { id: 1, timestamp: at(0), type: 'ExecutionStarted' },
    {
      id: 2,
      timestamp: at(1),
      type: 'TaskStateEntered',
      stateEnteredEventDetails: { name: 'Describe The Copy' },
    },
    // a throttle that a retry absorbed, then the real failure of a later Task
    {
      id: 3,
      timestamp: at(2),
      type: 'TaskFailed',
      taskFailedEventDetails: {
        resourceType: 'aws-sdk:rds',
        resource: 'describeDBSnapshots',
        error: 'Rds.ThrottlingException',
        cause: 'slow down',
      },
    },
    {
      id: 4,
      timestamp: at(3),
      type: 'TaskStateEntered',
      stateEnteredEventDetails: { name: 'Restore The Replica' },
    },
    {
      id: 5,
      timestamp: at(4),
      type: 'TaskFailed',
      taskFailedEventDetails: {
        resourceType: 'aws-sdk:rds',
        resource: 'restoreDBInstanceFromDBSnapshot',
        error: 'Rds.InvalidParameterCombinationException',
        cause: 'no such class',
      },
    },
    {
      id: 6,
      timestamp: at(5),
      type: 'FailStateEntered',
      stateEnteredEventDetails: { name: 'Fail The Replication' },
    },
    {
      id: 7,
      timestamp: at(6),
      type: 'ExecutionFailed',
      executionFailedEventDetails: { error: 'RestoreFailed', cause: 'orders-db: no such class' },
    },
  ];
  expect(failureOf(events)).toEqual({
    failedState: 'Restore The Replica',
    endedIn: 'Fail The Replication',
    error: 'RestoreFailed',
    cause: 'orders-db: no such class',
  });
  // timed out without a failed Task: the state it was in
  expect(
    failureOf([
      {
        id: 1,
        timestamp: at(0),
        type: 'WaitStateEntered',
        stateEnteredEventDetails: { name: 'Wait For The Replica' },
      },
      {
        id: 2,
        timestamp: at(9),
        type: 'ExecutionTimedOut',
        executionTimedOutEventDetails: { error: 'States.Timeout' },
      },
    ]),
  ).toEqual({
    failedState: 'Wait For The Replica',
    endedIn: 'Wait For The Replica',
    error: 'States.Timeout',
    cause: undefined,
  });
});

test('the RDS phases of a run: the calls that start a snapshot, a copy or a restore, once each, in order', () => {
  const scheduled = (s: number, resource: string, parameters: object): HistoryEvent => ({
    id: s,
    timestamp: at(s),
    type: 'TaskScheduled',
    taskScheduledEventDetails: {
      resourceType: 'aws-sdk:rds',
      resource,
      region: 'eu-west-1',
      parameters: JSON.stringify(parameters),
    },
  });
  const phases = phasesOf([
    scheduled(1, 'copyDBSnapshot', {
      SourceDBSnapshotIdentifier: 'arn:shared',
      TargetDBSnapshotIdentifier: 'copy-1',
    }),
    scheduled(2, 'describeDBSnapshots', { DbSnapshotIdentifier: 'copy-1' }),
    scheduled(3, 'copyDBSnapshot', { TargetDBSnapshotIdentifier: 'copy-1' }), // a retry: same phase
    scheduled(4, 'restoreDBInstanceFromDBSnapshot', {
      DbInstanceIdentifier: 'orders-db-r-1',
      DbSnapshotIdentifier: 'copy-1',
    }),
    {
      id: 5,
      timestamp: at(5),
      type: 'TaskScheduled',
      taskScheduledEventDetails: {
        resourceType: 'lambda',
        resource: 'invoke',
        region: 'eu-west-1',
        parameters: '{}',
      },
    },
  ]);
  expect(phases).toEqual([
    { label: 'copy', kind: 'snapshot', id: 'copy-1', startedAt: at(1).getTime() },
    { label: 'restore', kind: 'instance', id: 'orders-db-r-1', startedAt: at(4).getTime() },
  ]);
});

test('tables pad every column but the last; durations read as an operator says them', () => {
  expect(table(['a', 'bb', 'c'], [['xxx', 'y', 'last column']])).toEqual([
    '  a    bb  c',
    '  xxx  y   last column',
  ]);
  expect([duration(9_000), duration(125_000), duration(3 * 3600_000 + 5 * 60_000)]).toEqual([
    '9s',
    '2m05s',
    '3h05m',
  ]);
});

test('--database that the deployment does not replicate: a clear error naming it and the fix, before any call', async () => {
  const noCalls = new Proxy(
    {},
    {
      get: () => {
        throw new Error('no AWS call expected');
      },
    },
  ) as StatusClients;
  const deployment = {
    side: 'destination' as const,
    stackName: 'rds-replica-destination-prod',
    region: 'eu-west-1',
    databases: ['orders-db'],
    clusters: ['orders-aurora'],
    stateMachines: [],
    secrets: {},
  };
  await expect(collectDestination(noCalls, deployment, { database: 'billing-db' })).rejects.toThrow(
    '--database billing-db is not a database or cluster of rds-replica-destination-prod (configured: orders-db, orders-aurora); name one of those, or omit --database',
  );
});

test('the cluster state machines are told apart by name; the instance machines are not mistaken for them', () => {
  expect(
    ['replicate-cluster', 'rollback-cluster', 'replicate-clusters', 'snapshot-cluster'].map(machineKind),
  ).toEqual(['cluster', 'cluster', 'cluster', 'cluster']);
  expect(['replicate', 'rollback', 'replicate-database'].map(machineKind)).toEqual([
    'instance',
    'instance',
    'instance',
  ]);
});

test('the RDS phases of a cluster run: cluster snapshot copy, cluster restore, its writer', () => {
  const scheduled = (s: number, resource: string, parameters: object): HistoryEvent => ({
    id: s,
    timestamp: at(s),
    type: 'TaskScheduled',
    taskScheduledEventDetails: {
      resourceType: 'aws-sdk:rds',
      resource,
      region: 'eu-west-1',
      parameters: JSON.stringify(parameters),
    },
  });
  expect(
    phasesOf([
      scheduled(1, 'copyDBClusterSnapshot', { TargetDBClusterSnapshotIdentifier: 'rr1-cs-d-1' }),
      scheduled(2, 'restoreDBClusterFromSnapshot', { DbClusterIdentifier: 'orders-aurora-r-1' }),
      scheduled(3, 'createDBInstance', {
        DbInstanceIdentifier: 'orders-aurora-r-1',
        DbClusterIdentifier: 'x',
      }),
      scheduled(4, 'describeDBClusters', { DbClusterIdentifier: 'orders-aurora-r-1' }),
    ]),
  ).toEqual([
    { label: 'copy', kind: 'cluster-snapshot', id: 'rr1-cs-d-1', startedAt: at(1).getTime() },
    { label: 'restore', kind: 'cluster', id: 'orders-aurora-r-1', startedAt: at(2).getTime() },
    { label: 'instance', kind: 'instance', id: 'orders-aurora-r-1', startedAt: at(3).getTime() },
  ]);
});

const clusterView: DestinationDatabaseView = {
  database: 'orders-aurora',
  kind: 'cluster',
  live: { dbClusterIdentifier: 'orders-aurora-rr1-20260102t000000z' },
  replicas: [
    {
      dbClusterIdentifier: 'orders-aurora-rr1-20260102t000000z',
      live: true,
      status: 'available',
      snapshotTime: '2026-01-02T00:00:00.000Z',
      createdAt: '2026-01-02T00:40:00.000Z',
      instanceClass: 'db.serverless',
      serverlessV2: { minCapacity: 0.5, maxCapacity: 4 },
      engine: 'aurora-postgresql',
    },
    {
      dbClusterIdentifier: 'orders-aurora-rr1-20260101t000000z',
      live: false,
      status: 'available',
      snapshotTime: '2026-01-01T00:00:00.000Z',
      createdAt: '2026-01-01T00:40:00.000Z',
      instanceClass: 'db.r7g.large',
      engine: 'aurora-postgresql',
    },
  ],
  recordedSwitch: {
    to: 'orders-aurora-rr1-20260102t000000z',
    from: 'orders-aurora-rr1-20260101t000000z',
  },
  switches: [
    {
      at: '2026-01-02T00:45:00.000Z',
      machine: 'replicate-cluster',
      execution: 'r-2',
      from: 'orders-aurora-rr1-20260101t000000z',
      to: 'orders-aurora-rr1-20260102t000000z',
    },
  ],
  runs: [
    {
      machine: 'rollback-cluster',
      name: 'rb-1',
      executionArn: 'arn:aws:states:eu-west-1:222222222222:execution:x:rb-1',
      outcome: 'FAILED',
      startDate: '2026-01-02T01:00:00.000Z',
      stopDate: '2026-01-02T01:00:02.000Z',
      failedState: 'Describe The Target Replica',
      endedIn: 'Fail The Rollback',
      error: 'InvalidInput',
      cause: 'orders-aurora-gone is not a replica cluster',
    },
  ],
};

test('a cluster as the replicas table shows it: its heading, the live replica cluster marked, writer class with ACUs, engine, the failed rollback explained', () => {
  const report: StatusReport<DestinationDatabaseView> = {
    side: 'destination',
    deployment: 'rds-replica-destination-prod',
    region: 'eu-west-1',
    stateMachines: ['replicate-cluster', 'rollback-cluster'],
    databases: [clusterView],
  };
  expect(renderDestination(report)).toEqual([
    'rds-replica-destination-prod (eu-west-1): state machines replicate-cluster, rollback-cluster',
    '',
    'Aurora DB cluster orders-aurora',
    '  live: orders-aurora-rr1-20260102t000000z (the secret points at it)',
    '  lock: free',
    '',
    '  replicas',
    '     replica cluster                     status     data from             created               writer class                engine',
    '  ★  orders-aurora-rr1-20260102t000000z  available  2026-01-02 00:00:00Z  2026-01-02 00:40:00Z  db.serverless (0.5-4 ACUs)  aurora-postgresql',
    '     orders-aurora-rr1-20260101t000000z  available  2026-01-01 00:00:00Z  2026-01-01 00:40:00Z  db.r7g.large                aurora-postgresql',
    '',
    '  switches (newest first)',
    '  2026-01-02 00:45:00Z  replicate-cluster orders-aurora-rr1-20260101t000000z -> orders-aurora-rr1-20260102t000000z',
    '  recorded: orders-aurora-rr1-20260101t000000z -> orders-aurora-rr1-20260102t000000z (rollback "previous" goes to orders-aurora-rr1-20260101t000000z)',
    '',
    '  last runs',
    '  machine           outcome  started               took  execution',
    '  rollback-cluster  FAILED   2026-01-02 01:00:00Z  2s    rb-1',
    '      failed in: Describe The Target Replica (ended in Fail The Rollback)',
    '      Error: InvalidInput',
    '      Cause: orders-aurora-gone is not a replica cluster',
  ]);
  expect(writerClass({ live: false, status: 'available' })).toBe('-');
  // The secret could not be read: the problem, never a value.
  expect(
    renderDestination(
      {
        ...report,
        databases: [
          { ...clusterView, live: { dbClusterIdentifier: null, problem: 'no secret known' }, replicas: [] },
        ],
      },
      ['replicas'],
    ).slice(2, 8),
  ).toEqual([
    'Aurora DB cluster orders-aurora',
    '  live: unknown (no secret known)',
    '  lock: free',
    '',
    '  replicas',
    '  none',
  ]);
});

test('a cluster as replication-status shows it: its shared cluster snapshots and its runs', () => {
  const view: SourceDatabaseView = {
    database: 'orders-aurora',
    kind: 'cluster',
    sharedCopies: [{ snapshotId: 'rr1-cs-s-abc', createdAt: '2026-01-02T00:10:00.000Z', runId: 'run-2' }],
    runs: [],
    lock: { holder: 'arn:aws:states:eu-west-1:1:execution:snapshot-cluster:e-1', holderStatus: 'RUNNING' },
  };
  expect(
    renderSource({
      side: 'source',
      deployment: 'd',
      region: 'eu-west-1',
      stateMachines: [],
      databases: [view],
    }),
  ).toEqual([
    'd (eu-west-1): state machines ',
    '',
    'Aurora DB cluster orders-aurora',
    '  lock: held by e-1 (RUNNING)',
    '',
    '  shared cluster snapshots kept (newest first)',
    '  snapshot      created               shared  run',
    '  rr1-cs-s-abc  2026-01-02 00:10:00Z  -       run-2',
    '',
    '  last runs',
    '  no runs',
  ]);
});
