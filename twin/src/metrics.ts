// Figures the benchmark and the tests read off recorded executions.
import type { ExecutionRecord, HistoryEvent } from './stepfunctions';

/**
 * The number of events the execution's history would hold on AWS (Standard workflows): each
 * state's Entered/Exited pair, three events per Task attempt (Scheduled, Started,
 * Succeeded/Failed), Map start/finish and per-iteration events, and the execution's own
 * Started and Succeeded/Failed.
 */
export function historyEventCount(exec: ExecutionRecord): number {
  let n = 0;
  for (const e of exec.history) {
    switch (e.type) {
      case 'ExecutionStarted':
      case 'ExecutionSucceeded':
      case 'ExecutionFailed':
      case 'ExecutionAborted':
      case 'ExecutionTimeout':
      case 'StateExited':
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed':
      case 'ParallelBranchStarted':
      case 'ParallelBranchSucceeded':
      case 'ParallelBranchFailed':
        n += 1;
        break;
      case 'StateEntered':
        n += 1;
        if (e.stateType === 'Task') n += 3;
        if (e.stateType === 'Map' || e.stateType === 'Parallel') n += 2;
        break;
      case 'StateRetried':
        n += 3;
        break;
    }
  }
  return n;
}

/** State transitions as Step Functions bills them: every state entered, retries included. */
export function stateTransitions(exec: ExecutionRecord): number {
  return exec.history.filter((e) => e.type === 'StateEntered' || e.type === 'StateRetried').length;
}

/** Polls: how often a wait loop asked RDS for a status (Wait states entered). */
export function polls(exec: ExecutionRecord): number {
  return exec.history.filter((e) => e.type === 'StateEntered' && e.stateType === 'Wait').length;
}

const MUTATING = /:(createDBSnapshot|copyDBSnapshot|restoreDBInstanceFromDBSnapshot)$/;
const READY = /"(?:Status|DbInstanceStatus|status)":"available"/;

export interface PhaseTiming {
  state: string;
  startedAt: number;
  detectedAt: number;
}

/**
 * For each RDS phase (snapshot, copy, restore) the time the call that started it returned and
 * the time the machine first saw it `available` and moved on.
 */
export function phaseTimings(exec: ExecutionRecord): PhaseTiming[] {
  const out: PhaseTiming[] = [];
  const open = new Map<number | undefined, PhaseTiming>();
  for (const e of exec.history) {
    if (e.type !== 'StateExited' || e.stateType !== 'Task') continue;
    const key = e.index;
    if (MUTATING.test(e.resource ?? '')) {
      open.set(key, { state: e.state!, startedAt: Date.parse(e.at), detectedAt: Number.NaN });
    } else if (/:describe/i.test(e.resource ?? '') && open.has(key) && READY.test(JSON.stringify(e.output ?? {}))) {
      const p = open.get(key)!;
      p.detectedAt = Date.parse(e.at);
      out.push(p);
      open.delete(key);
    }
  }
  return out;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Largest number of Map iterations running at once, from the iteration start/end events. */
export function maxConcurrentIterations(events: HistoryEvent[], mapState?: string): number {
  let running = 0;
  let max = 0;
  for (const e of events) {
    if (mapState && e.state !== mapState) continue;
    if (e.type === 'MapIterationStarted') max = Math.max(max, ++running);
    else if (e.type === 'MapIterationSucceeded' || e.type === 'MapIterationFailed') running--;
  }
  return max;
}
