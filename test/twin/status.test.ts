// The operator's status commands on the twin (issue 15): `sls replicas` (destination) and
// `sls replication-status` (source) as tables and JSON, a failed run shown with its failing state,
// Error and Cause, a lock's holder, and `--watch` following a running replication with a progress
// bar per RDS phase. The plugin itself runs once as `npx sls replicas` in a shell that has only the
// operator's environment (endpoints and assumed-role credentials), as against AWS. The deployment
// also replicates an Aurora DB cluster (the parameter set of aurora.test.ts, packaged once for
// both): the same commands show its replica clusters, switches and the cluster machines' runs.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { DescribeDBClusterSnapshotsCommand, DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import { clientsFromEnvironment, type StatusClients } from '../../plugins/status/src/clients';
import type {
  DestinationDatabaseView,
  SourceDatabaseView,
  StatusReport,
} from '../../plugins/status/src/collect';
import { statusCommand } from '../../plugins/status/src/command';
import { type Deployment, findDeployment } from '../../plugins/status/src/deployment';
import { startTwin, type Twin } from '../../twin/src';
import { createSourceCluster, FIXTURE_PASSWORD, seedSecret } from '../../twin/src/fixtures';
import {
  DATABASE,
  DAY_MS,
  destinationExecutions,
  letTimePass,
  output,
  replicateOnce,
  type Story,
  secretNameOf,
  setUpStory,
} from './helpers/destination';

// The clusters of aurora.test.ts's parameter set; only orders-aurora is replicated here.
const CLUSTER = 'orders-aurora';
const CLUSTERS = [CLUSTER, 'billing-aurora'];

/** Executions of a machine of the destination, oldest first. */
const executionsOf = (machine: string) =>
  [...twin.sfn.executions.values()].filter(
    (e) => e.stateMachineArn === twin.machineArn('destination', machine),
  );

let twin: Twin;
let story: Story;
const replicas: string[] = [];
const clusterReplicas: string[] = [];

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
  await createSourceCluster(twin, { id: CLUSTER, engine: 'aurora-postgresql' });
  story = await setUpStory(
    twin,
    { clusters: CLUSTERS.join(','), serverlessV2MinCapacity: '0.5', serverlessV2MaxCapacity: '4' },
    { clusters: `${CLUSTERS.join(',')},legacy-maz` },
  );
  await seedSecret(twin, secretNameOf(CLUSTER));
  destinationClients = clientsFromEnvironment(await twin.operatorEnv('destination'));
  sourceClients = clientsFromEnvironment(await twin.operatorEnv('source'));
  destination = await findDeployment(destinationClients, {
    side: 'destination',
    stackName: story.destination.stackName,
    region: twin.region,
    databases: [DATABASE],
    clusters: CLUSTERS,
    secrets: [
      { database: DATABASE, logicalId: 'DatabaseSecretOrdersDashdb' },
      { database: CLUSTER, logicalId: 'DatabaseSecretOrdersDashaurora' },
    ],
    whereFunctionLogicalId: 'NameReplicaLambdaFunction',
  });
  source = await findDeployment(sourceClients, {
    side: 'source',
    stackName: story.source.stackName,
    region: twin.region,
    databases: [DATABASE],
    clusters: CLUSTERS,
  });
  for (let i = 0; i < 2; i++) {
    const run = await replicateOnce(twin);
    replicas.push(output<{ dbInstanceIdentifier: string }>(run).dbInstanceIdentifier);
    await letTimePass(twin, DAY_MS);
  }
  // A rollback to a replica that does not exist: refused, the secret stays where it is.
  const refused = await twin.run('destination', 'rollback', { database: DATABASE, to: 'orders-db-gone' });
  expect(refused.status).toBe('FAILED');
  // The cluster: replicated twice a day apart, then a rollback to a cluster that does not exist.
  for (let i = 0; i < 2; i++) {
    const run = await twin.run('source', 'replicateClusters', { clusters: [CLUSTER] });
    expect(run.status).toBe('SUCCEEDED');
    const done = executionsOf('replicateCluster').at(-1)!;
    expect(done.status).toBe('SUCCEEDED');
    clusterReplicas.push(output<{ dbClusterIdentifier: string }>(done).dbClusterIdentifier);
    await letTimePass(twin, DAY_MS);
  }
  const refusedCluster = await twin.run('destination', 'rollbackCluster', {
    database: CLUSTER,
    to: 'orders-aurora-gone',
  });
  expect(refusedCluster.status).toBe('FAILED');
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
  expect(destination.secrets).toEqual({
    [DATABASE]: story.secretArn,
    [CLUSTER]: story.destination.outputs.DatabaseSecretOrdersDashauroraArn,
  });
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
  expect(db.kind).toBe('instance');
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
  // The cluster machines' runs are the cluster's, not the instance's.
  expect(db.runs.map((r) => r.machine).sort()).toEqual(['replicate', 'replicate', 'rollback']);
  expect(report.databases.map((d) => [d.database, d.kind])).toEqual([
    [DATABASE, 'instance'],
    [CLUSTER, 'cluster'],
    ['billing-aurora', 'cluster'],
  ]);
  expect(text()).not.toContain(FIXTURE_PASSWORD);
});

test('replicas --database <cluster> --json: the live replica cluster, every replica cluster with writer class, ACUs and engine, the switches, the cluster runs with a failed rollback explained', async () => {
  const { out, text } = capture();
  await statusCommand(destination, { json: true, database: CLUSTER, out }, destinationClients);
  const report = JSON.parse(text()) as StatusReport<DestinationDatabaseView>;
  expect(report.databases.map((d) => d.database)).toEqual([CLUSTER]);
  const db = report.databases[0]!;
  expect(db.kind).toBe('cluster');
  expect(db.live).toEqual({ dbClusterIdentifier: clusterReplicas[1] });
  expect(db.replicas.map((r) => [r.dbClusterIdentifier, r.live, r.status])).toEqual([
    [clusterReplicas[1], true, 'available'],
    [clusterReplicas[0], false, 'available'],
  ]);
  for (const r of db.replicas) {
    expect(r).toMatchObject({
      instanceClass: 'db.serverless',
      serverlessV2: { minCapacity: 0.5, maxCapacity: 4 },
      engine: 'aurora-postgresql',
    });
    expect(r.dbInstanceIdentifier).toBeUndefined();
    expect(r.endpoint).toMatch(new RegExp(`^${r.dbClusterIdentifier}\\.cluster-.*:5432$`));
    expect(Date.parse(r.snapshotTime!)).toBeLessThan(Date.parse(r.createdAt!));
  }
  expect(db.switches.map((s) => [s.machine, s.from, s.to])).toEqual([
    ['replicate-cluster', clusterReplicas[0], clusterReplicas[1]],
    ['replicate-cluster', null, clusterReplicas[0]],
  ]);
  expect(db.recordedSwitch).toMatchObject({ to: clusterReplicas[1], from: clusterReplicas[0] });
  expect(db.lock).toBeUndefined();
  const rollback = executionsOf('rollbackCluster')[0]!;
  const failed = db.runs.find((r) => r.machine === 'rollback-cluster')!;
  expect(failed).toMatchObject({
    outcome: 'FAILED',
    name: rollback.name,
    error: 'InvalidInput',
    cause: rollback.cause,
  });
  expect(failed.cause).toContain('orders-aurora-gone');
  const taskFailed = rollback.history.filter((h) => h.type === 'TaskFailed').pop()!;
  expect(failed.failedState).toBe(taskFailed.state);
  expect(db.runs.map((r) => [r.machine, r.outcome])).toEqual([
    ['replicate-cluster', 'SUCCEEDED'],
    ['replicate-cluster', 'SUCCEEDED'],
    ['rollback-cluster', 'FAILED'],
  ]);
  expect(text()).not.toContain(FIXTURE_PASSWORD);
});

test('replicas: the cluster table marks the live replica cluster (writer class with ACUs, engine) and shows the failed cluster rollback with its state, Error and Cause', async () => {
  const { out, text } = capture();
  await statusCommand(destination, { out }, destinationClients);
  const all = text().split('\n');
  const from = all.indexOf(`Aurora DB cluster ${CLUSTER}`);
  expect(from).toBeGreaterThan(0);
  const lines = all.slice(from, all.indexOf('Aurora DB cluster billing-aurora'));
  expect(lines[1]).toBe(`  live: ${clusterReplicas[1]} (the secret points at it)`);
  expect(lines).toContain('  lock: free');
  const row = (id: string) => lines.find((l) => l.includes(` ${id} `) && l.includes(' available '))!;
  const date = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ';
  expect(row(clusterReplicas[1]!)).toMatch(
    new RegExp(
      `^ {2}★ {2}${clusterReplicas[1]} {2,}available {2,}${date} {2}${date} {2}db\\.serverless \\(0\\.5-4 ACUs\\) {2}aurora-postgresql$`,
    ),
  );
  expect(row(clusterReplicas[0]!)).toMatch(/^ {5}\S+ {2,}available /);
  expect(
    lines.some((l) => l.endsWith(`replicate-cluster ${clusterReplicas[0]} -> ${clusterReplicas[1]}`)),
  ).toBe(true);
  const rollback = executionsOf('rollbackCluster')[0]!;
  const at = lines.findIndex((l) => /^ {2}rollback-cluster {2,}FAILED /.test(l));
  expect(at).toBeGreaterThan(0);
  expect(lines[at]).toContain(rollback.name);
  expect(lines[at + 1]).toMatch(/^ {6}failed in: \S/);
  expect(lines[at + 2]).toBe(`      Error: ${rollback.error}`);
  expect(lines[at + 3]).toBe(`      Cause: ${rollback.cause}`);
  // The instance's section lists no cluster run; the cluster's no instance run.
  expect(lines.some((l) => /^ {2}(replicate|rollback) {2,}/.test(l))).toBe(false);
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

test('replication-status --database <cluster>: the cluster runs of replicate-clusters and snapshot-cluster, the shared cluster snapshots kept, as table and JSON', async () => {
  const { out, text } = capture();
  await statusCommand(source, { json: true, database: CLUSTER, out }, sourceClients);
  const report = JSON.parse(text()) as StatusReport<SourceDatabaseView>;
  expect(report.databases.map((d) => [d.database, d.kind])).toEqual([[CLUSTER, 'cluster']]);
  const db = report.databases[0]!;
  const kept = await twin
    .aws('source')
    .rds.send(new DescribeDBClusterSnapshotsCommand({ SnapshotType: 'manual' }))
    .then((r) => (r.DBClusterSnapshots ?? []).map((s) => s.DBClusterSnapshotIdentifier!));
  expect(db.sharedCopies.map((c) => c.snapshotId).sort()).toEqual(kept.sort());
  expect(db.sharedCopies).toHaveLength(2);
  expect(db.runs.map((r) => [r.machine, r.outcome])).toEqual([
    ['replicate-clusters', 'SUCCEEDED'],
    ['replicate-clusters', 'SUCCEEDED'],
    ['snapshot-cluster', 'SUCCEEDED'],
    ['snapshot-cluster', 'SUCCEEDED'],
  ]);
  expect(db.lock).toBeUndefined();
  const table = capture();
  await statusCommand(source, { database: CLUSTER, out: table.out }, sourceClients);
  const lines = table.text().split('\n');
  expect(lines).toContain(`Aurora DB cluster ${CLUSTER}`);
  expect(lines).toContain('  shared cluster snapshots kept (newest first)');
  for (const c of db.sharedCopies) expect(lines.some((l) => l.startsWith(`  ${c.snapshotId} `))).toBe(true);
  expect(lines.filter((l) => /^ {2}snapshot-cluster {2,}SUCCEEDED /.test(l))).toHaveLength(2);
  expect(lines.some((l) => /^ {2}replicate-database /.test(l))).toBe(false);
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
    [
      '--no-install',
      'sls',
      'replicas',
      '--config',
      'serverless.destination.yml',
      '--stage',
      'dev',
      // the parameters this deployment was made with (dev's defaults list no clusters)
      `--param=clusters=${CLUSTERS.join(',')}`,
      '--param=serverlessV2MinCapacity=0.5',
      '--param=serverlessV2MaxCapacity=4',
      '--json',
    ],
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
  // The cluster and its secret, as the plugin reads them from the resolved parameters.
  const cluster = report.databases.find((d) => d.database === CLUSTER)!;
  expect(cluster.kind).toBe('cluster');
  expect(cluster.live.dbClusterIdentifier).toBe(cluster.replicas.find((r) => r.live)?.dbClusterIdentifier);
  expect(cluster.live.dbClusterIdentifier).toBe(clusterReplicas[1]);
  expect(stdout).not.toContain(FIXTURE_PASSWORD);
});

test('--watch --database <cluster> follows a running cluster replication: bars for the cluster snapshot copy, the cluster restore and its writer, then the outcome', async () => {
  const machine = twin.machineArn('destination', 'replicateCluster');
  const hold = twin.sfn.holdAt('Describe The Cluster', (e) => e.stateMachineArn === machine);
  const sourceRun = twin.start('source', 'replicateClusters', { clusters: [CLUSTER] });
  const held = await hold.reached;
  const { out, text } = capture();
  let sleeps = 0;
  await statusCommand(
    destination,
    {
      watch: true,
      database: CLUSTER,
      out,
      now: () => twin.clock.now(),
      sleep: async () => {
        if (++sleeps === 1) {
          hold.release();
          await sourceRun.done;
          await twin.settle();
        }
      },
    },
    destinationClients,
  );
  const frames = text()
    .split('\n\n')
    .filter((f) => f.includes(held.name));
  const bar = (frame: string, label: string) =>
    frame.split('\n').find((l) => l.trimStart().startsWith(`${label} `));
  const newest = output<{ dbClusterIdentifier: string }>(executionsOf('replicateCluster').at(-1)!);
  expect(frames[0]).toContain('at Describe The Cluster');
  expect(bar(frames[0]!, 'copy')).toMatch(/^ {2}copy \S+-cs-\S+ +\|█+\| 100% available \d/);
  expect(bar(frames[0]!, 'restore')).toMatch(
    new RegExp(`^ {2}restore ${newest.dbClusterIdentifier} +\\|.*\\| +\\d+% (creating|available) `),
  );
  const last = frames[frames.length - 1]!;
  expect(bar(last, 'restore')).toMatch(
    new RegExp(`^ {2}restore ${newest.dbClusterIdentifier} +\\|█+\\| 100% available `),
  );
  expect(bar(last, 'instance')).toMatch(
    new RegExp(`^ {2}instance ${newest.dbClusterIdentifier} +\\|█+\\| 100% available `),
  );
  expect(last).toMatch(new RegExp(`replicate-cluster ${held.name} SUCCEEDED \\d`));
  expect(text()).toMatch(new RegExp(`replicate-cluster ${held.name}: SUCCEEDED \\(started `));
  // Only the cluster's runs are followed with --database <cluster>.
  expect(text()).not.toMatch(/^replicate /m);
});
