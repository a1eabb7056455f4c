// The pure parts of the status commands (plugins/status): which database a run is about, a failed
// run's failing state from its history, the RDS phases a run started, the tables, and bad input.
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { StatusClients } from '../../plugins/status/src/clients';
import { collectDestination, databasesOf, failureOf } from '../../plugins/status/src/collect';
import { duration, table } from '../../plugins/status/src/render';
import { phasesOf } from '../../plugins/status/src/watch';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

test('a run is about the database its input names, in each contract; {} is every configured database', () => {
  expect(databasesOf({ database: 'orders-db', to: 'previous' })).toEqual(['orders-db']);
  expect(databasesOf({ version: 1, sourceDbInstanceIdentifier: 'orders-db' })).toEqual(['orders-db']);
  expect(databasesOf({ databases: ['a', 'b', 3] })).toEqual(['a', 'b']);
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
