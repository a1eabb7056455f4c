// `--watch`: follows the running executions of a deployment until they end. One line per
// execution (its current state and elapsed time) and one progress bar per RDS phase it started
// (snapshot, copy, restore), fed by the resource's PercentProgress as RDS reports it now (DB
// instances report none: their bar shows the status until `available`). Bars are drawn by
// cli-progress; without a terminal every poll prints one frame.
import {
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
} from '@aws-sdk/client-rds';
import { DescribeExecutionCommand, type HistoryEvent, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { MultiBar, type SingleBar } from 'cli-progress';
import type { StatusClients } from './clients';
import { databasesOf, describeRun, executionHistory, machineKind, type RunView } from './collect';
import type { Deployment } from './deployment';
import { duration, time } from './render';

type Kind = 'snapshot' | 'instance' | 'cluster-snapshot' | 'cluster';

/** The RDS calls that start a phase a run then waits for, and the field naming the resource. */
const PHASE_STARTS: Record<string, { kind: Kind; field: string; label: string }> = {
  createDBSnapshot: { kind: 'snapshot', field: 'DbSnapshotIdentifier', label: 'snapshot' },
  copyDBSnapshot: { kind: 'snapshot', field: 'TargetDBSnapshotIdentifier', label: 'copy' },
  restoreDBInstanceFromDBSnapshot: { kind: 'instance', field: 'DbInstanceIdentifier', label: 'restore' },
  createDBInstance: { kind: 'instance', field: 'DbInstanceIdentifier', label: 'instance' },
  createDBClusterSnapshot: {
    kind: 'cluster-snapshot',
    field: 'DbClusterSnapshotIdentifier',
    label: 'snapshot',
  },
  copyDBClusterSnapshot: {
    kind: 'cluster-snapshot',
    field: 'TargetDBClusterSnapshotIdentifier',
    label: 'copy',
  },
  restoreDBClusterFromSnapshot: { kind: 'cluster', field: 'DbClusterIdentifier', label: 'restore' },
};

export interface Phase {
  label: string;
  kind: Kind;
  id: string;
  startedAt: number;
}

/** The RDS phases an execution started, in order, from its history (TaskScheduled parameters). */
export function phasesOf(events: HistoryEvent[]): Phase[] {
  const phases: Phase[] = [];
  for (const e of events) {
    const d = e.taskScheduledEventDetails;
    if (d?.resourceType !== 'aws-sdk:rds') continue;
    const start = PHASE_STARTS[d.resource ?? ''];
    if (!start) continue;
    let params: Record<string, unknown> = {};
    try {
      params = JSON.parse(d.parameters ?? '{}');
    } catch {}
    const id = params[start.field];
    if (typeof id !== 'string' || phases.some((p) => p.id === id && p.kind === start.kind)) continue;
    phases.push({
      label: start.label,
      kind: start.kind,
      id,
      startedAt: new Date(e.timestamp ?? 0).getTime(),
    });
  }
  return phases;
}

/** The state an execution is in: the last state entered. */
function currentState(events: HistoryEvent[]): string | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const name = events[i]!.stateEnteredEventDetails?.name;
    if (name) return name;
  }
  return undefined;
}

async function progressOf(clients: StatusClients, p: Phase): Promise<{ status: string; percent?: number }> {
  try {
    switch (p.kind) {
      case 'snapshot': {
        const s = (await clients.rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: p.id })))
          .DBSnapshots?.[0];
        return { status: s?.Status ?? 'unknown', percent: s?.PercentProgress };
      }
      case 'cluster-snapshot': {
        const s = (
          await clients.rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: p.id }))
        ).DBClusterSnapshots?.[0];
        return { status: s?.Status ?? 'unknown', percent: s?.PercentProgress };
      }
      case 'instance': {
        const i = (await clients.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: p.id })))
          .DBInstances?.[0];
        return { status: i?.DBInstanceStatus ?? 'unknown' };
      }
      case 'cluster': {
        const c = (await clients.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: p.id })))
          .DBClusters?.[0];
        return { status: c?.Status ?? 'unknown' };
      }
    }
  } catch (e) {
    // An intermediate snapshot the run deleted once its copy was made.
    if (/NotFound/.test((e as Error).name)) return { status: 'deleted' };
    throw e;
  }
}

export interface WatchOptions {
  database?: string;
  stream?: NodeJS.WritableStream;
  /** Poll interval (default 15 s). */
  intervalMs?: number;
  /** Clock and sleep (the offline twin runs on a virtual clock). */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

interface Tracked {
  machine: string;
  arn: string;
  name: string;
  database: string;
  startedAt: number;
  line: SingleBar;
  bars: Map<string, { bar: SingleBar; done?: number }>;
  ended?: RunView;
}

const FORMAT = '  {label} |{bar}| {percentage}% {status} {elapsed}';
const LINE_FORMAT = '{label} {status} {elapsed}';

export async function watch(
  clients: StatusClients,
  deployment: Deployment,
  o: WatchOptions = {},
): Promise<RunView[]> {
  const stream = o.stream ?? process.stderr;
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const say = (line: string) => stream.write(`${line}\n`);
  const multibar = new MultiBar(
    {
      stream,
      format: FORMAT,
      barsize: 24,
      hideCursor: false,
      clearOnComplete: false,
      autopadding: true,
      noTTYOutput: true,
      // Without a terminal, frames are printed once per poll (below), not on a timer.
      notTTYSchedule: 2 ** 31 - 1,
      gracefulExit: true,
    },
    { barCompleteChar: '█', barIncompleteChar: '░', format: FORMAT },
  );
  const tracked = new Map<string, Tracked>();
  const findRunning = async () => {
    for (const m of deployment.stateMachines) {
      const listed = await clients.sfn.send(
        new ListExecutionsCommand({ stateMachineArn: m.arn, statusFilter: 'RUNNING', maxResults: 100 }),
      );
      for (const e of listed.executions ?? []) {
        if (!e.executionArn || tracked.has(e.executionArn)) continue;
        const d = await clients.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
        let input: unknown;
        try {
          input = JSON.parse(d.input ?? '{}');
        } catch {}
        const dbs =
          databasesOf(input) ??
          (machineKind(m.key) === 'cluster' ? deployment.clusters : deployment.databases);
        if (o.database && !dbs.includes(o.database)) continue;
        const label = `${m.key} ${d.name}`;
        tracked.set(e.executionArn, {
          machine: m.key,
          arn: e.executionArn,
          name: d.name ?? '',
          database: o.database ?? (dbs.length === 1 ? dbs[0]! : ''),
          startedAt: new Date(d.startDate ?? now()).getTime(),
          line: multibar.create(100, 0, { label, status: 'RUNNING', elapsed: '' }, { format: LINE_FORMAT }),
          bars: new Map(),
        });
      }
    }
  };
  await findRunning();
  if (tracked.size === 0) {
    multibar.stop();
    say(`nothing running in ${deployment.stackName}${o.database ? ` for ${o.database}` : ''}`);
    return [];
  }
  try {
    for (;;) {
      for (const t of tracked.values()) {
        if (t.ended) continue;
        const events = await executionHistory(clients, t.arn);
        const status = (await clients.sfn.send(new DescribeExecutionCommand({ executionArn: t.arn }))).status;
        const phases = phasesOf(events);
        const stopped = status && status !== 'RUNNING' ? now() : undefined;
        for (const [i, p] of phases.entries()) {
          const key = `${p.kind}/${p.id}`;
          let entry = t.bars.get(key);
          if (!entry) {
            entry = {
              bar: multibar.create(100, 0, { label: `${p.label} ${p.id}`, status: '', elapsed: '' }),
            };
            t.bars.set(key, entry);
          }
          if (entry.done !== undefined) continue;
          const { status: s, percent } = await progressOf(clients, p);
          if (s === 'available' || s === 'deleted' || s === 'failed') {
            // Seen finished at this poll; the run had moved on by its next phase at the latest.
            entry.done = Math.min(now(), phases[i + 1]?.startedAt ?? stopped ?? now());
          }
          entry.bar.update(s === 'available' || s === 'deleted' ? 100 : (percent ?? 0), {
            // An intermediate snapshot the run deleted after use: its phase is over.
            status: s === 'deleted' ? 'done (since deleted)' : s,
            elapsed: duration((entry.done ?? now()) - p.startedAt),
          });
        }
        if (status && status !== 'RUNNING') {
          t.ended = await describeRun(clients, t.machine, t.arn, t.database);
          const took = t.ended.stopDate ? Date.parse(t.ended.stopDate) - t.startedAt : now() - t.startedAt;
          t.line.update(100, { status: t.ended.outcome, elapsed: duration(took) });
        } else {
          t.line.update(0, {
            status: `at ${currentState(events) ?? '?'}`,
            elapsed: duration(now() - t.startedAt),
          });
        }
      }
      if ([...tracked.values()].every((t) => t.ended)) {
        await findRunning();
        // multibar.stop() draws the last frame
        if ([...tracked.values()].every((t) => t.ended)) break;
      }
      multibar.update();
      await sleep(o.intervalMs ?? 15_000);
    }
  } finally {
    multibar.stop();
  }
  const ended = [...tracked.values()].map((t) => t.ended!);
  for (const r of ended) {
    say(`${r.machine} ${r.name}: ${r.outcome} (started ${time(r.startDate)}, ended ${time(r.stopDate)})`);
    if (r.error !== undefined) {
      say(`  failed in: ${r.failedState ?? '-'}`);
      say(`  Error: ${r.error}`);
      say(`  Cause: ${r.cause ?? '-'}`);
    }
  }
  return ended;
}
