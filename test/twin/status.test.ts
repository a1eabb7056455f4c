// The operator's status commands on the twin (issue 15): `sls replicas` (destination) and
// `sls replication-status` (source) as tables and JSON, a failed run shown with its failing state,
// Error and Cause, a lock's holder, and `--watch` following a running replication with a progress
// bar per RDS phase. The plugin itself runs once as `npx sls replicas` in a shell that has only the
// operator's environment (endpoints and assumed-role credentials), as against AWS.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import { clientsFromEnvironment, type StatusClients } from '../../plugins/status/src/clients';
import type {
  DestinationDatabaseView,
  SourceDatabaseView,
  StatusReport,
} from '../../plugins/status/src/collect';
import { statusCommand } from '../../plugins/status/src/command';
import { type Deployment, findDeployment } from '../../plugins/status/src/deployment';
import { startTwin, type Twin } from '../../twin/src';
import { FIXTURE_PASSWORD } from '../../twin/src/fixtures';
import {
  DATABASE,
  DAY_MS,
  destinationExecutions,
  letTimePass,
  output,
  replicateOnce,
  type Story,
  setUpStory,
} from './helpers/destination';

let twin: Twin;
let story: Story;
const replicas: string[] = [];

function capture() {
  let text = '';
  const out = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  return { out, text: () => text };
}

let destinationClients: StatusClients;
let sourceClients: StatusClients;
let destination: Deployment;
let source: Deployment;

beforeAll(async () => {
  twin = await startTwin();
  await twin.moto.control.setDurations({ snapshotCopy: 9 * 60, restore: 20 * 60 });
  story = await setUpStory(twin);
  destinationClients = clientsFromEnvironment(await twin.operatorEnv('destination'));
  sourceClients = clientsFromEnvironment(await twin.operatorEnv('source'));
  destination = await findDeployment(destinationClients, {
    side: 'destination',
    stackName: story.destination.stackName,
    region: twin.region,
    databases: [DATABASE],
    secrets: [{ database: DATABASE, logicalId: 'DatabaseSecretOrdersDashdb' }],
    whereFunctionLogicalId: 'NameReplicaLambdaFunction',
  });
  source = await findDeployment(sourceClients, {
    side: 'source',
    stackName: story.source.stackName,
    region: twin.region,
    databases: [DATABASE],
  });
  for (let i = 0; i < 2; i++) {
    const run = await replicateOnce(twin);
    replicas.push(output<{ dbInstanceIdentifier: string }>(run).dbInstanceIdentifier);
    await letTimePass(twin, DAY_MS);
  }
  // A rollback to a replica that does not exist: refused, the secret stays where it is.
  const refused = await twin.run('destination', 'rollback', { database: DATABASE, to: 'orders-db-gone' });
  expect(refused.status).toBe('FAILED');
}, 240_000);

afterAll(async () => {
  await twin?.stop();
});

test('finds the deployment from its stack: every state machine, the state table, the secret, the function that reads it', () => {
  expect(destination.stateMachines.map((m) => m.key)).toEqual([
    'replicate',
    'replicate-cluster',
    'rollback',
    'rollback-cluster',
  ]);
  expect(destination.stateMachines.map((m) => m.arn)).toEqual([
    twin.machineArn('destination', 'replicate'),
    twin.machineArn('destination', 'replicateCluster'),
    twin.machineArn('destination', 'rollback'),
    twin.machineArn('destination', 'rollbackCluster'),
  ]);
  expect(destination.tableName).toBe(story.destination.outputs.StateTableName);
  expect(destination.secrets).toEqual({ [DATABASE]: story.secretArn });
  expect(destination.whereFunction).toBe('rds-replica-destination-dev-nameReplica');
  expect(source.stateMachines.map((m) => m.key)).toEqual([
    'replicate',
    'replicate-clusters',
    'replicate-database',
    'snapshot-cluster',
  ]);
  expect(source.tableName).toBe(story.source.outputs.TableName);
});

test('replicas --json: the live replica (where the secret points), every replica, the switches, the last runs with a failed one explained', async () => {
  const { out, text } = capture();
  await statusCommand(destination, { json: true, out }, destinationClients);
  const report = JSON.parse(text()) as StatusReport<DestinationDatabaseView>;
  expect(report.deployment).toBe('rds-replica-destination-dev');
  const db = report.databases[0]!;
  expect(db.database).toBe(DATABASE);
  expect(db.live).toEqual({ dbInstanceIdentifier: replicas[1] });
  expect(db.replicas.map((r) => [r.dbInstanceIdentifier, r.live, r.status])).toEqual([
    [replicas[1], true, 'available'],
    [replicas[0], false, 'available'],
  ]);
  for (const r of db.replicas) {
    expect(r.instanceClass).toBe('db.t4g.micro');
    expect(r.allocatedStorageGiB).toBeGreaterThan(0);
    expect(Date.parse(r.snapshotTime!)).toBeLessThan(Date.parse(r.createdAt!));
  }
  expect(db.switches.map((s) => [s.machine, s.from, s.to])).toEqual([
    ['replicate', replicas[0], replicas[1]],
    ['replicate', null, replicas[0]],
  ]);
  expect(db.recordedSwitch).toMatchObject({ to: replicas[1], from: replicas[0] });
  expect(db.lock).toBeUndefined();
  const rollback = destinationExecutions(twin, 'rollback')[0]!;
  const failed = db.runs.find((r) => r.machine === 'rollback')!;
  expect(failed).toMatchObject({
    outcome: 'FAILED',
    name: rollback.name,
    error: rollback.error,
    cause: rollback.cause,
  });
  expect(failed.error).toBe('InvalidInput');
  expect(failed.cause).toContain('orders-db-gone');
  // The failing state: the Task whose error the Catch handled; the run then ended in its Fail state.
  const taskFailed = rollback.history.filter((h) => h.type === 'TaskFailed').pop()!;
  const entered = rollback.history.filter((h) => h.type === 'StateEntered').map((h) => h.state);
  expect(failed.failedState).toBe('Describe The Target Replica');
  expect(failed.failedState).toBe(taskFailed.state);
  expect(failed.endedIn).toBe(entered[entered.length - 1]);
  expect(db.runs.filter((r) => r.machine === 'replicate').map((r) => r.outcome)).toEqual([
    'SUCCEEDED',
    'SUCCEEDED',
  ]);
  expect(text()).not.toContain(FIXTURE_PASSWORD);
});

test('replicas: the table marks the live replica and shows the failed rollback with its state, Error and Cause', async () => {
  const { out, text } = capture();
  await statusCommand(destination, { out }, destinationClients);
  const lines = text().split('\n');
  expect(lines).toContain(`  live: ${replicas[1]} (the secret points at it)`);
  expect(lines).toContain('  lock: free');
  const row = (id: string) => lines.find((l) => l.includes(` ${id} `) && l.includes(' available '))!;
  expect(row(replicas[1]!)).toMatch(
    /^ {2}★ {2}\S+ {2,}available {2,}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ .*db\.t4g\.micro {2}\d+ GiB$/,
  );
  expect(row(replicas[0]!)).toMatch(/^ {5}\S+ {2,}available /);
  expect(lines.some((l) => l.endsWith(`replicate ${replicas[0]} -> ${replicas[1]}`))).toBe(true);
  const rollback = destinationExecutions(twin, 'rollback')[0]!;
  const at = lines.findIndex((l) => /^ {2}rollback {2,}FAILED /.test(l));
  expect(at).toBeGreaterThan(0);
  expect(lines[at]).toContain(rollback.name);
  expect(lines[at + 1]).toBe('      failed in: Describe The Target Replica (ended in Fail The Rollback)');
  expect(lines[at + 2]).toBe(`      Error: ${rollback.error}`);
  expect(lines[at + 3]).toBe(`      Cause: ${rollback.cause}`);
  expect(text()).not.toContain(FIXTURE_PASSWORD);
});

test('replication-status: the last runs of both machines and the shared copies kept, as table and JSON', async () => {
  const { out, text } = capture();
  await statusCommand(source, { json: true, out }, sourceClients);
  const report = JSON.parse(text()) as StatusReport<SourceDatabaseView>;
  const db = report.databases[0]!;
  const kept = await twin
    .aws('source')
    .rds.send(new DescribeDBSnapshotsCommand({ SnapshotType: 'manual' }))
    .then((r) => (r.DBSnapshots ?? []).map((s) => s.DBSnapshotIdentifier!));
  expect(db.sharedCopies.length).toBeGreaterThan(0);
  for (const c of db.sharedCopies) expect(kept).toContain(c.snapshotId);
  expect(db.runs.map((r) => [r.machine, r.outcome])).toEqual([
    ['replicate', 'SUCCEEDED'],
    ['replicate', 'SUCCEEDED'],
    ['replicate-database', 'SUCCEEDED'],
    ['replicate-database', 'SUCCEEDED'],
  ]);
  expect(db.lock).toBeUndefined();
  const table = capture();
  await statusCommand(source, { out: table.out }, sourceClients);
  const lines = table.text().split('\n');
  expect(lines).toContain('  lock: free');
  for (const c of db.sharedCopies) expect(lines.some((l) => l.startsWith(`  ${c.snapshotId} `))).toBe(true);
  expect(lines.filter((l) => /^ {2}replicate-database {2,}SUCCEEDED /.test(l))).toHaveLength(2);
});

test('--watch follows a running replication: a bar per RDS phase from PercentProgress, then the outcome; the lock shows its holder meanwhile', async () => {
  const hold = twin.sfn.holdAt(
    'Describe The Copy',
    (e) => e.stateMachineArn === destination.stateMachines[0]!.arn,
  );
  const sourceRun = twin.start('source', 'replicate', { databases: [DATABASE] });
  const held = await hold.reached;

  // Meanwhile: the destination lock names the held run, which is RUNNING.
  const status = capture();
  await statusCommand(destination, { json: true, out: status.out }, destinationClients);
  const lock = (JSON.parse(status.text()) as StatusReport<DestinationDatabaseView>).databases[0]!.lock;
  expect(lock).toMatchObject({ holder: held.executionArn, holderStatus: 'RUNNING' });

  const { out, text } = capture();
  let sleeps = 0;
  const ended = await statusCommand(
    destination,
    {
      watch: true,
      out,
      now: () => twin.clock.now(),
      sleep: async () => {
        sleeps++;
        if (sleeps === 1) await twin.clock.advance(4 * 60 * 1000);
        else if (sleeps === 2) {
          hold.release();
          await sourceRun.done;
          await twin.settle();
        }
      },
    },
    destinationClients,
  );
  expect(ended).toBeUndefined();
  const frames = text()
    .split('\n\n')
    .filter((f) => f.includes(held.name));
  const copyBar = (frame: string) => frame.split('\n').find((l) => l.trimStart().startsWith('copy '));
  const percent = (frame: string) => Number(/\| +(\d+)% /.exec(copyBar(frame) ?? '')?.[1]);
  // First frame: the copy is under way; four virtual minutes later it has progressed; then done.
  expect(copyBar(frames[0]!)).toMatch(/ (copying|creating) \d+s$/);
  expect(percent(frames[0]!)).toBeLessThan(percent(frames[1]!));
  expect(percent(frames[1]!)).toBeGreaterThan(0);
  expect(percent(frames[1]!)).toBeLessThan(100);
  expect(frames[0]).toContain('at Describe The Copy');
  const last = frames[frames.length - 1]!;
  expect(percent(last)).toBe(100);
  // The copy (9 virtual minutes) ended when the restore started; the run deleted it afterwards.
  expect(copyBar(last)).toMatch(/\| 100% done \(since deleted\) 9m00s$/);
  expect(last).toMatch(new RegExp(`restore ${replicasNow().newest} +\\|█+\\| 100% available`));
  expect(last).toMatch(new RegExp(`replicate ${held.name} SUCCEEDED \\d`));
  expect(text()).toMatch(new RegExp(`replicate ${held.name}: SUCCEEDED \\(started `));
});

function replicasNow() {
  const runs = destinationExecutions(twin, 'replicate');
  return { newest: output<{ dbInstanceIdentifier: string }>(runs[runs.length - 1]!).dbInstanceIdentifier };
}

test('npx sls replicas: the plugin finds the deployment with only the operator environment and prints the report', async () => {
  const env = await twin.operatorEnv('destination');
  const { stdout } = await promisify(execFile)(
    'npx',
    ['--no-install', 'sls', 'replicas', '--config', 'serverless.destination.yml', '--stage', 'dev', '--json'],
    {
      cwd: `${__dirname}/../..`,
      env: {
        PATH: process.env.PATH!,
        HOME: process.env.HOME!,
        SLS_TELEMETRY_DISABLED: '1',
        SLS_NOTIFICATIONS_MODE: 'off',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...env,
      },
    },
  );
  const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as StatusReport<DestinationDatabaseView>;
  const db = report.databases[0]!;
  expect(db.live.dbInstanceIdentifier).toBe(replicasNow().newest);
  expect(db.replicas.find((r) => r.live)?.dbInstanceIdentifier).toBe(replicasNow().newest);
  expect(
    db.runs.some((r) => r.machine === 'rollback' && r.outcome === 'FAILED' && r.error === 'InvalidInput'),
  ).toBe(true);
  expect(stdout).not.toContain(FIXTURE_PASSWORD);
});
