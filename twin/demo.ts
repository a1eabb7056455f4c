// `npm run demo`: the whole story on the offline twin of two AWS accounts, in virtual time.
// One PostgreSQL database in the source account is replicated three times into the destination
// account (a day apart; retention keeps two replicas; the third run starts from the newest automated
// snapshot, snapshotSource `latest`), then rolled back to the previous replica; then an Aurora
// PostgreSQL DB cluster of the same deployment is replicated (cluster snapshot, cluster and writer
// restored, the secret on the cluster endpoint) and shown by the same status command.
// Exits non-zero with the failing state's Error and Cause if any execution fails.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { clientsFromEnvironment } from '../plugins/status/src/clients';
import { collectDestination, collectSource } from '../plugins/status/src/collect';
import { findDeployment } from '../plugins/status/src/deployment';
import { type DestinationSection, renderDestination, renderSource } from '../plugins/status/src/render';
import { type ExecutionRecord, startTwin, type Twin } from './src';
import {
  createDestinationNetwork,
  createSourceCluster,
  createSourceDatabase,
  FIXTURE_PASSWORD,
  readSecret,
  seedSecret,
} from './src/fixtures';
import { occurrences } from './src/metrics';
import type { HistoryEvent } from './src/stepfunctions';

const DATABASE = 'orders-db';
const CLUSTER = 'orders-aurora';

const t0 = Date.now();
let clockStart = 0;

function vtime(iso: string): string {
  const s = Math.round((Date.parse(iso) - clockStart) / 1000);
  const d = Math.floor(s / 86400);
  const hms = new Date((s % 86400) * 1000).toISOString().slice(11, 19);
  return d > 0 ? `day ${d + 1} ${hms}` : `       ${hms}`;
}

function say(line = '') {
  process.stdout.write(`${line}\n`);
}

/** One line per state that does something; polls print when the status changes or progress passes a quarter. */
function progressPrinter(twin: Twin) {
  const lastPoll = new Map<string, string>();
  return (exec: ExecutionRecord, ev: HistoryEvent) => {
    const side = exec.account === twin.accounts.source ? 'source     ' : 'destination';
    if (ev.type === 'ExecutionFailed') {
      say(`  ${vtime(ev.at)}  ${side}  ✗ ${exec.name}: ${ev.error}: ${ev.cause}`);
      return;
    }
    if (ev.type !== 'StateExited' || ev.stateType !== 'Task' || !ev.state) return;
    const resource = ev.resource ?? '';
    if (/:describe|:list|:getItem|:query/i.test(resource)) {
      const out = JSON.stringify(ev.output ?? {});
      const status = /"(?:Status|DbInstanceStatus|status)":"([a-z-]+)"/.exec(out)?.[1];
      const pct = /"(?:PercentProgress|progress|percent)":(\d+)/.exec(out)?.[1];
      if (!status) return;
      const key = `${exec.executionArn}/${ev.state}`;
      const bucket = `${status}${pct !== undefined ? ` ${Math.floor(Number(pct) / 25) * 25}` : ''}`;
      if (lastPoll.get(key) === bucket) return;
      lastPoll.set(key, bucket);
      say(`  ${vtime(ev.at)}  ${side}  · ${ev.state}: ${status}${pct !== undefined ? ` ${pct}%` : ''}`);
      return;
    }
    say(`  ${vtime(ev.at)}  ${side}  ✓ ${ev.state}`);
  };
}

function failed(twin: Twin): ExecutionRecord[] {
  return [...twin.sfn.executions.values()].filter((e) => e.status !== 'SUCCEEDED' && e.status !== 'RUNNING');
}

/** The status commands' own code (`sls replicas`, `sls replication-status`), with an operator's environment. */
async function statusOf(twin: Twin) {
  const destination = twin.stacks.destination!;
  const source = twin.stacks.source!;
  const clients = {
    destination: clientsFromEnvironment(await twin.operatorEnv('destination')),
    source: clientsFromEnvironment(await twin.operatorEnv('source')),
  };
  const deployments = {
    destination: await findDeployment(clients.destination, {
      side: 'destination',
      stackName: destination.stackName,
      region: twin.region,
      databases: [DATABASE],
      clusters: [CLUSTER],
      secrets: [
        { database: DATABASE, logicalId: 'DatabaseSecretOrdersDashdb' },
        { database: CLUSTER, logicalId: 'DatabaseSecretOrdersDashaurora' },
      ],
      whereFunctionLogicalId: 'NameReplicaLambdaFunction',
    }),
    source: await findDeployment(clients.source, {
      side: 'source',
      stackName: source.stackName,
      region: twin.region,
      databases: [DATABASE],
      clusters: [CLUSTER],
    }),
  };
  return {
    /** nameReplica invocations the status command made (it asks where the secret points). */
    invocations: 0,
    /** `sls replicas --database <database>` (a DB instance or an Aurora DB cluster). */
    async replicas(database: string, sections?: DestinationSection[]) {
      this.invocations++;
      const report = await collectDestination(clients.destination, deployments.destination, { database });
      for (const line of renderDestination(report, sections)) say(line ? `  ${line}` : '');
    },
    async source(database: string) {
      const report = await collectSource(clients.source, deployments.source, { database });
      for (const line of renderSource(report)) say(line ? `  ${line}` : '');
    },
  };
}

async function secretLine(twin: Twin, secretId: string) {
  const secret = await readSecret(twin, secretId);
  const shown = Object.fromEntries(
    Object.entries(secret).map(([k, v]) => [k, /password/i.test(k) ? '(not shown)' : v]),
  );
  say(`  secret ${secretId}: ${JSON.stringify(shown)}`);
}

async function main() {
  say('Starting the offline twin (moto + local Lambda and Step Functions, virtual clock) ...');
  const twin = await startTwin();
  clockStart = twin.clock.now();
  let exitCode = 0;
  try {
    await twin.moto.control.setDurations({
      snapshotCreate: 14 * 60,
      snapshotCopy: 9 * 60,
      restore: 22 * 60,
      modify: 60,
      delete: 5 * 60,
    });
    say(
      `Source account ${twin.accounts.source}: PostgreSQL instance '${DATABASE}' (storage encrypted with aws/rds).`,
    );
    await createSourceDatabase(twin, { id: DATABASE, encryption: 'aws/rds' });
    say(`Source account: Aurora PostgreSQL DB cluster '${CLUSTER}' with its writer instance.`);
    await createSourceCluster(twin, { id: CLUSTER, engine: 'aurora-postgresql' });
    const network = await createDestinationNetwork(twin);
    say(
      `Destination account ${twin.accounts.destination}: DB subnet group '${network.subnetGroupName}', security group ${network.securityGroupId}.`,
    );
    say('Packaging and deploying both services (sls package, then the twin provisions the templates) ...');
    const source = await twin.deploy('source', { params: { clusters: CLUSTER } });
    const destination = await twin.deploy('destination', {
      params: {
        vpcSecurityGroupIds: network.securityGroupId,
        sourceKmsKeyArn: source.outputs.KmsKeyArn!,
        clusters: CLUSTER,
        serverlessV2MinCapacity: '0.5',
        serverlessV2MaxCapacity: '4',
      },
    });
    say(
      `  ${source.stackName}: ${Object.values(source.stateMachines)
        .map((m) => m.name)
        .join(', ')}`,
    );
    say(
      `  ${destination.stackName}: ${Object.values(destination.stateMachines)
        .map((m) => m.name)
        .join(', ')}`,
    );
    const secretId = destination.outputs.DatabaseSecretOrdersDashdbArn!; // created empty by the stack
    await seedSecret(twin, secretId, { note: 'keys the replicator does not own are kept as they are' });
    const clusterSecretId = destination.outputs.DatabaseSecretOrdersDashauroraArn!;
    await seedSecret(twin, clusterSecretId, { note: 'kept as it is' });

    const status = await statusOf(twin);
    twin.sfn.onEvent = progressPrinter(twin);
    for (let run = 1; run <= 3; run++) {
      // The third run starts from RDS's own nightly backup instead of a new snapshot (issue 12).
      const latest = run === 3;
      say();
      say(
        `Replication ${run} of 3 (source 'replicate' started on demand; the destination runs from the SNS message):`,
      );
      if (latest) {
        const backup = await twin.moto.control.addBackupSnapshot({
          account: twin.accounts.source,
          dbInstanceIdentifier: DATABASE,
          type: 'automated',
          ageSeconds: 5 * 3600,
          replace: true,
        });
        say(
          `  RDS took its automated snapshot ${backup.id} 5 hours ago; this run starts from it ({"snapshotSource": "latest"}):\n` +
            '  one copy with the shared key instead of a new snapshot plus a copy, and the replica carries the backup time.',
        );
      }
      const exec = await twin.run(
        'source',
        'replicate',
        latest ? { databases: [DATABASE], snapshotSource: 'latest' } : { databases: [DATABASE] },
      );
      const bad = failed(twin);
      if (bad.length) throw bad[0];
      const outcome = (JSON.parse(exec.output ?? '{}') as { databases?: Array<{ startedFrom?: unknown }> })
        .databases?.[0];
      say(`  started from: ${JSON.stringify(outcome?.startedFrom)}`);
      say();
      say(
        `\`npx sls replicas --config serverless.destination.yml --stage dev --database ${DATABASE}\` (the replicas):`,
      );
      await status.replicas(DATABASE, ['replicas']);
      await twin.clock.advance(24 * 3600 * 1000 - ((twin.clock.now() - clockStart) % (24 * 3600 * 1000)));
    }

    say();
    say("Rollback: point the secret back at the previous replica ('rollback' with to=previous):");
    const rollback = await twin.run('destination', 'rollback', {
      database: DATABASE,
      to: 'previous',
      dryRun: false,
    });
    if (rollback.status !== 'SUCCEEDED') throw rollback;
    say(`  output: ${rollback.output}`);
    await secretLine(twin, secretId);
    say();
    say(`\`npx sls replicas --config serverless.destination.yml --stage dev --database ${DATABASE}\`:`);
    await status.replicas(DATABASE);
    say();
    say(`\`npx sls replication-status --config serverless.source.yml --stage dev --database ${DATABASE}\`:`);
    await status.source(DATABASE);

    say();
    say(
      "Aurora cluster replication (source 'replicate-clusters'; the destination's 'replicate-cluster' runs from the SNS message):",
    );
    await twin.run('source', 'replicateClusters', { clusters: [CLUSTER] });
    const badCluster = failed(twin);
    if (badCluster.length) throw badCluster[0];
    await secretLine(twin, clusterSecretId);
    await twin.clock.advance(24 * 3600 * 1000 - ((twin.clock.now() - clockStart) % (24 * 3600 * 1000)));
    say();
    say(`\`npx sls replicas --config serverless.destination.yml --stage dev --database ${CLUSTER}\`:`);
    await status.replicas(CLUSTER);
    say();
    say(`\`npx sls replication-status --config serverless.source.yml --stage dev --database ${CLUSTER}\`:`);
    await status.source(CLUSTER);

    const executions = [...twin.sfn.executions.values()];
    const lambdas = twin.lambda.invocations.length - status.invocations;
    say();
    say('Summary');
    const byStatus = new Map<string, number>();
    for (const e of executions) byStatus.set(e.status, (byStatus.get(e.status) ?? 0) + 1);
    say(
      `  executions: ${executions.length} (${[...byStatus].map(([status, n]) => `${n} ${status}`).join(', ')}): ` +
        'per replication a source run, its per-database (or per-cluster) child, a destination run; and the rollback',
    );
    say(
      `  Lambda invocations: ${lambdas} for 4 replications (3 of the instance, 1 of the cluster) and 1 rollback ` +
        `(and ${status.invocations} by the status command, asking nameReplica where the secret points)`,
    );
    say(
      `  virtual time: ${vtime(twin.clock.iso()).trim()} since the start; real time ${(Date.now() - t0) / 1000}s`,
    );
    // Every history event: task parameters and raw results too, not only the states' outputs.
    const leaks = occurrences(executions, FIXTURE_PASSWORD);
    const leaked = leaks.length > 0;
    say(
      `  database password in any execution input, output or history event: ${
        leaked ? `YES (bug): ${leaks.map((l) => `${l.execution} ${l.where}`).join('; ')}` : 'no'
      }`,
    );
    if (leaked) exitCode = 1;
  } catch (err) {
    const e = err as ExecutionRecord & Error;
    if (e.executionArn) {
      const failedState = [...e.history]
        .reverse()
        .find((h) => h.type === 'StateFailed' || h.type === 'StateEntered');
      say(`\nFAILED: execution ${e.name} ended ${e.status} in state '${failedState?.state ?? '?'}'`);
      say(`  Error: ${e.error}`);
      say(`  Cause: ${e.cause}`);
    } else {
      say(`\nFAILED: ${e.stack ?? e}`);
    }
    exitCode = 1;
  } finally {
    twin.sfn.onEvent = undefined;
    await twin.stop();
  }
  process.exit(exitCode);
}

void main();
