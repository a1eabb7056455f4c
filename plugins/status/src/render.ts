// Plain-text tables of a status report (pure: a report in, lines out). `--json` prints the report
// itself instead.
import {
  type DestinationDatabaseView,
  liveIdOf,
  type ReplicaView,
  type RunView,
  type SourceDatabaseView,
  type StatusReport,
} from './collect';

/** `2026-12-02T01:02:03.456Z` -> `2026-12-02 01:02:03Z`. */
export const time = (iso?: string) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z` : '-');

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0
    ? `${h}h${String(m).padStart(2, '0')}m`
    : m > 0
      ? `${m}m${String(sec).padStart(2, '0')}s`
      : `${sec}s`;
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][], indent = '  '): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function runLines(runs: RunView[]): string[] {
  if (runs.length === 0) return ['  no runs'];
  const rows = runs.map((r) => [
    r.machine,
    r.outcome === 'SUCCEEDED' && r.dryRun ? 'SUCCEEDED (dry run)' : r.outcome,
    time(r.startDate),
    r.stopDate ? duration(Date.parse(r.stopDate) - Date.parse(r.startDate)) : 'running',
    r.name,
  ]);
  const lines = table(['machine', 'outcome', 'started', 'took', 'execution'], rows);
  const out = [lines[0]!];
  runs.forEach((r, i) => {
    out.push(lines[i + 1]!);
    if (r.error !== undefined || r.failedState !== undefined) {
      out.push(
        `      failed in: ${r.failedState ?? '-'}${r.endedIn && r.endedIn !== r.failedState ? ` (ended in ${r.endedIn})` : ''}`,
      );
      out.push(`      Error: ${r.error ?? '-'}`);
      out.push(`      Cause: ${r.cause ?? '-'}`);
    }
  });
  return out;
}

function lockLine(lock?: { holder: string; holderStatus: string; since?: string }): string {
  if (!lock) return '  lock: free';
  const stale = lock.holderStatus === 'RUNNING' ? '' : ' (stale: the next run takes it over)';
  return `  lock: held by ${lock.holder.split(':').pop()} (${lock.holderStatus})${lock.since ? ` since ${time(lock.since)}` : ''}${stale}`;
}

/** A cluster's writer class; with Serverless v2 its capacity range: `db.serverless (0.5-4 ACUs)`. */
export function writerClass(r: ReplicaView): string {
  const v2 = r.serverlessV2;
  const range = v2 ? ` (${v2.minCapacity ?? '?'}-${v2.maxCapacity ?? '?'} ACUs)` : '';
  return `${r.instanceClass ?? '-'}${range}`;
}

function replicaLines(d: DestinationDatabaseView): string[] {
  if (d.replicas.length === 0) return ['  none'];
  if (d.kind === 'cluster') {
    return table(
      ['', 'replica cluster', 'status', 'data from', 'created', 'writer class', 'engine'],
      d.replicas.map((r) => [
        r.live ? '★' : ' ',
        r.dbClusterIdentifier ?? '-',
        r.status,
        time(r.snapshotTime),
        time(r.createdAt),
        writerClass(r),
        r.engine ?? '-',
      ]),
    );
  }
  return table(
    ['', 'replica', 'status', 'data from', 'created', 'class', 'size'],
    d.replicas.map((r) => [
      r.live ? '★' : ' ',
      r.dbInstanceIdentifier ?? '-',
      r.status,
      time(r.snapshotTime),
      time(r.createdAt),
      r.instanceClass ?? '-',
      r.allocatedStorageGiB !== undefined ? `${r.allocatedStorageGiB} GiB` : '-',
    ]),
  );
}

function switchLines(d: DestinationDatabaseView): string[] {
  const out: string[] = [];
  if (d.switches.length === 0 && !d.recordedSwitch) out.push('  none');
  for (const s of d.switches)
    out.push(`  ${time(s.at)}  ${s.machine.padEnd(9)} ${s.from ?? '(none)'} -> ${s.to}`);
  if (d.recordedSwitch) {
    out.push(
      `  recorded: ${d.recordedSwitch.from ?? '(none)'} -> ${d.recordedSwitch.to}` +
        `${d.recordedSwitch.by ? ` by ${d.recordedSwitch.by}` : ''} (rollback "previous" goes to ${d.recordedSwitch.from ?? 'nothing'})`,
    );
  }
  return out;
}

/** `database orders-db`, or `Aurora DB cluster orders-aurora` (a report of an older version has no kind). */
const heading = (d: { database: string; kind?: string }) =>
  d.kind === 'cluster' ? `Aurora DB cluster ${d.database}` : `database ${d.database}`;

export type DestinationSection = 'replicas' | 'switches' | 'runs';

export function renderDestination(
  report: StatusReport<DestinationDatabaseView>,
  sections: DestinationSection[] = ['replicas', 'switches', 'runs'],
): string[] {
  const out = [`${report.deployment} (${report.region}): state machines ${report.stateMachines.join(', ')}`];
  for (const d of report.databases) {
    out.push('', heading(d));
    const live = liveIdOf(d.live);
    out.push(
      live
        ? `  live: ${live} (the secret points at it)`
        : `  live: unknown${d.live.problem ? ` (${d.live.problem})` : ''}`,
    );
    out.push(lockLine(d.lock));
    if (sections.includes('replicas')) out.push('', '  replicas', ...replicaLines(d));
    if (sections.includes('switches')) out.push('', '  switches (newest first)', ...switchLines(d));
    if (sections.includes('runs')) out.push('', '  last runs', ...runLines(d.runs));
  }
  return out;
}

export function renderSource(report: StatusReport<SourceDatabaseView>): string[] {
  const out = [`${report.deployment} (${report.region}): state machines ${report.stateMachines.join(', ')}`];
  for (const d of report.databases) {
    out.push('', heading(d));
    out.push(lockLine(d.lock));
    out.push('', `  shared ${d.kind === 'cluster' ? 'cluster snapshots' : 'copies'} kept (newest first)`);
    if (d.sharedCopies.length === 0) out.push('  none');
    else
      out.push(
        ...table(
          ['snapshot', 'created', 'shared', 'run'],
          d.sharedCopies.map((c) => [c.snapshotId, time(c.createdAt), time(c.sharedAt), c.runId ?? '-']),
        ),
      );
    out.push('', '  last runs');
    out.push(...runLines(d.runs));
  }
  return out;
}
