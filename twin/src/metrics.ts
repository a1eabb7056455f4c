// Figures the benchmark and the tests read off recorded executions.
import type { ExecutionRecord, HistoryEvent } from './stepfunctions';

/**
 * The number of events the execution's history holds on AWS (Standard workflows): the events the
 * twin recorded under the name Step Functions gives them (`awsType`, see HistoryEvent): every
 * state's Entered and Exited (a Fail state: Entered only), per Task attempt Scheduled, Started
 * (Submitted for `.sync`) and Succeeded or Failed, Map/Parallel Started and Succeeded, each Map
 * iteration's Started and Succeeded, the execution's Started and Succeeded/Failed. The executor's
 * own markers (StateRetried, StateFailed, StateCaught, Parallel branches) are not AWS events.
 */
export function historyEventCount(exec: ExecutionRecord): number {
  return exec.history.filter((e) => e.awsType !== undefined).length;
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
/** A task that only asks for a status: an RDS describe call, or a status-check Lambda. */
const isPoll = (e: HistoryEvent) => /:describe/i.test(e.resource ?? '') || /^Check /.test(e.state ?? '');

export interface PhaseTiming {
  state: string;
  startedAt: number;
  detectedAt: number;
}

/**
 * For each RDS phase (snapshot, copy, restore): when the call that started it returned, and when
 * the machine moved on, i.e. entered the next state that is neither part of a wait loop (Wait,
 * Choice, Pass, a status poll) nor the end of the loop.
 */
export function phaseTimings(exec: ExecutionRecord): PhaseTiming[] {
  const out: PhaseTiming[] = [];
  const open = new Map<number | undefined, PhaseTiming>();
  for (const e of exec.history) {
    const key = e.index;
    const p = open.get(key);
    if (p && e.type === 'StateEntered') {
      const movesOn =
        (e.stateType === 'Task' && !isPoll(e)) || e.stateType === 'Succeed' || e.stateType === 'Fail';
      if (movesOn) {
        p.detectedAt = Date.parse(e.at);
        out.push(p);
        open.delete(key);
      }
    }
    if (e.type === 'StateExited' && e.stateType === 'Task' && MUTATING.test(e.resource ?? '')) {
      open.set(key, { state: e.state!, startedAt: Date.parse(e.at), detectedAt: Number.NaN });
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

/**
 * Largest number of iterations of a Map state doing work at once: an iteration counts from its
 * first recorded event to its last (its states carry the iteration index), within the Map's span.
 */
export function maxConcurrentIterations(events: HistoryEvent[], mapState: string): number {
  const begin = events.findIndex((e) => e.type === 'StateEntered' && e.state === mapState);
  if (begin < 0) return 0;
  const endAt = events.findIndex((e, i) => i > begin && e.type === 'StateExited' && e.state === mapState);
  const span = events.slice(begin + 1, endAt < 0 ? undefined : endAt);
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  span.forEach((e, i) => {
    if (e.index === undefined || e.type.startsWith('MapIteration')) return;
    if (!first.has(e.index)) first.set(e.index, i);
    last.set(e.index, i);
  });
  let max = 0;
  for (const [, start] of first) {
    let running = 0;
    for (const [index, s] of first) if (s <= start && last.get(index)! >= start) running++;
    max = Math.max(max, running);
  }
  return max;
}

export interface Occurrence {
  execution: string;
  /** `input`, `output`, `error`, `cause`, or the event (`TaskSucceeded Point The Secret At The Replica`). */
  where: string;
}

/**
 * Where `needle` (a secret value) occurs in what Step Functions keeps of these executions: their
 * input, output, Error and Cause, and every event of their histories: task parameters, raw task
 * results (TaskSucceeded, before ResultSelector trims them), failures' Error and Cause, and the
 * states' inputs and outputs. Every secret-leak scan reads through here.
 */
export function occurrences(executions: Iterable<ExecutionRecord>, needle: string): Occurrence[] {
  const found: Occurrence[] = [];
  for (const e of executions) {
    const fields: Array<[string, string | undefined]> = [
      ['input', e.input],
      ['output', e.output],
      ['error', e.error],
      ['cause', e.cause],
    ];
    for (const [where, value] of fields) {
      if (value?.includes(needle)) found.push({ execution: e.name, where });
    }
    for (const ev of e.history) {
      if (JSON.stringify(ev).includes(needle)) {
        found.push({ execution: e.name, where: `${ev.awsType ?? ev.type} ${ev.state ?? ''}`.trim() });
      }
    }
  }
  return found;
}
