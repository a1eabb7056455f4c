// The twin's executor: definitions run as Step Functions would run them, on the virtual clock.
import { CreateDBInstanceCommand } from '@aws-sdk/client-rds';
import { startTwin, type Twin } from '../../twin/src';
import type { AslDefinition } from '../../twin/src/stepfunctions';

let twin: Twin;
beforeAll(async () => {
  twin = await startTwin();
  // The machines here test the executor, not IAM: their role may do anything.
  twin.iam.registerRole({
    arn: 'arn:aws:iam::111111111111:role/x',
    account: '111111111111',
    origin: 'the executor tests',
    policies: [
      {
        name: 'all',
        policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
      },
    ],
  });
});
afterAll(async () => {
  await twin?.stop();
});

function register(name: string, definition: AslDefinition) {
  const account = twin.accounts.source;
  const arn = `arn:aws:states:${twin.region}:${account}:stateMachine:${name}`;
  twin.sfn.register({
    arn,
    name,
    account,
    region: twin.region,
    roleArn: 'arn:aws:iam::111111111111:role/x',
    definition,
  });
  return arn;
}

async function run(arn: string, input: unknown) {
  const exec = twin.sfn.startExecution(
    { account: twin.accounts.source },
    { stateMachineArn: arn, input: JSON.stringify(input) },
  );
  await exec.done;
  if (process.env.DEBUG_TWIN) console.log(exec.status, exec.error, exec.cause);
  return exec;
}

async function createInstance(id: string) {
  await twin.aws('source').rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: id,
      Engine: 'postgres',
      DBInstanceClass: 'db.t4g.micro',
      AllocatedStorage: 20,
      MasterUsername: 'app',
      MasterUserPassword: 'pw-pw-pw-pw',
    }),
  );
}

const snapshotMachine = (statusPath: string): AslDefinition => ({
  StartAt: 'Create Snapshot',
  States: {
    'Create Snapshot': {
      Type: 'Task',
      Resource: 'arn:aws:states:::aws-sdk:rds:createDBSnapshot',
      Parameters: { 'DbInstanceIdentifier.$': '$.db', 'DbSnapshotIdentifier.$': '$.snapshot' },
      ResultPath: null,
      Next: 'Wait For Snapshot',
    },
    'Wait For Snapshot': { Type: 'Wait', Seconds: 60, Next: 'Describe Snapshot' },
    'Describe Snapshot': {
      Type: 'Task',
      Resource: 'arn:aws:states:::aws-sdk:rds:describeDBSnapshots',
      Parameters: { 'DbSnapshotIdentifier.$': '$.snapshot' },
      ResultSelector: { 'status.$': statusPath, 'progress.$': '$.DbSnapshots[0].PercentProgress' },
      ResultPath: '$.described',
      Next: 'Is Snapshot Available?',
    },
    'Is Snapshot Available?': {
      Type: 'Choice',
      Choices: [{ Variable: '$.described.status', StringEquals: 'available', Next: 'Done' }],
      Default: 'Wait For Snapshot',
    },
    Done: { Type: 'Succeed' },
  },
});

test('a wait loop runs on the virtual clock: RDS phases of minutes take milliseconds', async () => {
  await twin.moto.control.setDurations({ snapshotCreate: 600 });
  await createInstance('clock-db');
  const arn = register('clock', snapshotMachine('$.DbSnapshots[0].Status'));
  const startedAt = twin.clock.now();
  const real = Date.now();
  const exec = await run(arn, { db: 'clock-db', snapshot: 'clock-db-snap' });
  expect(exec.status).toBe('SUCCEEDED');
  expect(twin.clock.now() - startedAt).toBe(600_000);
  expect(Date.now() - real).toBeLessThan(10_000);
  const polls = exec.history.filter((e) => e.type === 'StateExited' && e.state === 'Describe Snapshot');
  expect(polls).toHaveLength(10);
  const progress = polls.map((e) => (e.output as { described: { progress: number } }).described.progress);
  expect(progress[0]).toBeGreaterThan(0);
  expect(progress[progress.length - 1]).toBe(100);
  expect(progress).toEqual([...progress].sort((a, b) => a - b));
});

test('a ResultSelector reading $.DBSnapshots[0].Status fails with States.Runtime, as on AWS', async () => {
  await createInstance('runtime-db');
  const arn = register('runtime', snapshotMachine('$.DBSnapshots[0].Status'));
  const exec = await run(arn, { db: 'runtime-db', snapshot: 'runtime-db-snap' });
  expect(exec.status).toBe('FAILED');
  expect(exec.error).toBe('States.Runtime');
  expect(exec.cause).toContain('$.DBSnapshots[0].Status');
});

test('DBInstanceIdentifier in an aws-sdk:rds task is rejected with the Step Functions spelling', async () => {
  const def = snapshotMachine('$.DbSnapshots[0].Status');
  const create = def.States['Create Snapshot']!;
  create.Parameters = { 'DBInstanceIdentifier.$': '$.db', 'DbSnapshotIdentifier.$': '$.snapshot' };
  // At definition time, as CreateStateMachine does ...
  const { validateStaticParameters } = await import('../../twin/src/naming');
  expect(() => validateStaticParameters(String(create.Resource), create.Parameters)).toThrow(
    /DbInstanceIdentifier/,
  );
  // ... and at run time, should a definition slip through.
  await createInstance('naming-db');
  const exec = await run(register('naming', def), { db: 'naming-db', snapshot: 'naming-db-snap' });
  expect(exec.status).toBe('FAILED');
  expect(exec.cause).toMatch(/'DBInstanceIdentifier'.*'DbInstanceIdentifier'/);
});

test('service errors carry Step Functions error names and can be caught', async () => {
  const arn = register('errors', {
    StartAt: 'Describe Missing Snapshot',
    States: {
      'Describe Missing Snapshot': {
        Type: 'Task',
        Resource: 'arn:aws:states:::aws-sdk:rds:describeDBSnapshots',
        Parameters: { DbSnapshotIdentifier: 'does-not-exist' },
        Catch: [{ ErrorEquals: ['Rds.DbSnapshotNotFoundException'], ResultPath: '$.error', Next: 'Caught' }],
        End: true,
      },
      Caught: { Type: 'Pass', End: true },
    },
  });
  const exec = await run(arn, {});
  expect(exec.status).toBe('SUCCEEDED');
  expect(JSON.parse(exec.output!).error.Error).toBe('Rds.DbSnapshotNotFoundException');
});

test('retries wait on the virtual clock and are recorded in the history', async () => {
  await twin.moto.control.addFault({
    kind: 'error',
    api: 'DescribeDBInstances',
    code: 'Throttling',
    count: 2,
  });
  await createInstance('retry-db');
  const arn = register('retry', {
    StartAt: 'Describe Instance',
    States: {
      'Describe Instance': {
        Type: 'Task',
        Resource: 'arn:aws:states:::aws-sdk:rds:describeDBInstances',
        Parameters: { DbInstanceIdentifier: 'retry-db' },
        ResultSelector: { 'status.$': '$.DbInstances[0].DbInstanceStatus' },
        Retry: [{ ErrorEquals: ['Rds.RdsException'], IntervalSeconds: 5, BackoffRate: 2, MaxAttempts: 3 }],
        End: true,
      },
    },
  });
  const before = twin.clock.now();
  const exec = await run(arn, {});
  expect(exec.status).toBe('SUCCEEDED');
  expect(JSON.parse(exec.output!)).toEqual({ status: 'available' });
  expect(exec.history.filter((e) => e.type === 'StateRetried')).toHaveLength(2);
  expect(exec.history.filter((e) => e.type === 'StateFailed').map((e) => e.error)).toEqual([
    'Rds.RdsException',
    'Rds.RdsException',
  ]);
  expect(twin.clock.now() - before).toBe(15_000);
});

test('startExecution.sync:2 waits for the child on the virtual clock and returns its parsed output', async () => {
  const child = register('child', {
    StartAt: 'Wait An Hour',
    States: {
      'Wait An Hour': { Type: 'Wait', Seconds: 3600, Next: 'Decide' },
      Decide: {
        Type: 'Choice',
        Choices: [
          {
            And: [
              { Variable: '$.fail', IsPresent: true },
              { Variable: '$.fail', BooleanEquals: true },
            ],
            Next: 'Give Up',
          },
        ],
        Default: 'Answer',
      },
      'Give Up': { Type: 'Fail', Error: 'ChildFailed', Cause: 'asked to fail' },
      Answer: { Type: 'Pass', Parameters: { 'doubled.$': 'States.MathAdd($.n, $.n)' }, End: true },
    },
  });
  const parent = register('parent', {
    StartAt: 'Run Children',
    States: {
      'Run Children': {
        Type: 'Map',
        ItemsPath: '$.items',
        MaxConcurrency: 2,
        ItemProcessor: {
          StartAt: 'Run Child',
          States: {
            'Run Child': {
              Type: 'Task',
              Resource: 'arn:aws:states:::states:startExecution.sync:2',
              Parameters: { StateMachineArn: child, 'Input.$': '$' },
              ResultSelector: { 'output.$': '$.Output', 'status.$': '$.Status' },
              Catch: [{ ErrorEquals: ['States.TaskFailed'], ResultPath: '$.error', Next: 'Child Failed' }],
              End: true,
            },
            'Child Failed': { Type: 'Pass', Parameters: { 'error.$': '$.error.Error' }, End: true },
          },
        },
        End: true,
      },
    },
  });
  const before = twin.clock.now();
  const exec = await run(parent, { items: [{ n: 1 }, { n: 2, fail: true }, { n: 3 }] });
  expect(exec.status).toBe('SUCCEEDED');
  expect(JSON.parse(exec.output!)).toEqual([
    { output: { doubled: 2 }, status: 'SUCCEEDED' },
    { error: 'States.TaskFailed' },
    { output: { doubled: 6 }, status: 'SUCCEEDED' },
  ]);
  // Two children wait in parallel, the third after them: two hours, not three.
  expect(twin.clock.now() - before).toBe(2 * 3600_000);
  const children = [...twin.sfn.executions.values()].filter((e) => e.stateMachineArn === child);
  expect(children.map((c) => c.status).sort()).toEqual(['FAILED', 'SUCCEEDED', 'SUCCEEDED']);
});

test('nested payload templates are evaluated under Jest too (definitions handed to the library in its own realm)', async () => {
  const arn = register('nested', {
    StartAt: 'Nest',
    States: {
      Nest: {
        Type: 'Pass',
        Parameters: { outer: { 'inner.$': '$.value' } },
        ResultPath: '$.nested',
        End: true,
      },
    },
  });
  const exec = await run(arn, { value: 1 });
  expect(exec.status).toBe('SUCCEEDED');
  expect(JSON.parse(exec.output!)).toEqual({ value: 1, nested: { outer: { inner: 1 } } });
});
