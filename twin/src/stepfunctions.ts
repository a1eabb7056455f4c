// The twin's AWS Step Functions: state machines read from the packaged templates, executions run
// by aws-local-stepfunctions on the virtual clock, every Task sent through the dispatcher.
// Implements the API calls the services and tests use (StartExecution with Standard-workflow
// idempotency, DescribeExecution, ListExecutions, StopExecution) and records each execution's
// history as Step Functions records it (see HistoryEvent), on virtual times.
import { type LibraryEventLogger, loadAsl, toLibraryRealm } from './asl-runtime';
import type { VirtualClock } from './clock';
import { executionNameProblem, failureProblem } from './limits';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/**
 * One event of an execution's history. `awsType` is the event as the Step Functions API names it
 * (`HistoryEventType`): ExecutionStarted, TaskStateEntered, TaskScheduled (with the resolved
 * `parameters`), TaskStarted, TaskSubmitted (`.sync`), TaskSucceeded (with the task's RAW `output`,
 * before ResultSelector/ResultPath/OutputPath), TaskFailed (`error`, `cause`), TaskStateExited (the
 * state's output after them), PassStateEntered, MapStateStarted, MapIterationSucceeded,
 * ExecutionFailed (`error`, `cause`), ... Every event Step Functions would record has one, and
 * nothing else does: `historyEventCount` counts them. Tasks use the optimised `lambda:invoke`
 * integration, which AWS records as Task* events (LambdaFunction* belong to a bare function ARN
 * as Resource, which these machines do not use).
 *
 * `type` is what tests filter on: the AWS name for task, Map/Parallel and execution events, and
 * the executor's generic lifecycle names for the rest: StateEntered/StateExited (AWS: `<Type>
 * StateEntered/Exited`, given in `awsType`), and StateFailed, StateRetried, StateCaught and
 * ParallelBranchStarted/Succeeded/Failed, twin-only markers that AWS does not record (no awsType).
 */
export interface HistoryEvent {
  type: string;
  awsType?: string;
  at: string;
  state?: string;
  stateType?: string;
  index?: number;
  input?: unknown;
  output?: unknown;
  error?: string;
  cause?: string;
  retryAttempt?: number;
  resource?: string;
  /** TaskScheduled: the effective Parameters the task was called with. */
  parameters?: unknown;
}

export interface StateMachineRecord {
  arn: string;
  name: string;
  account: string;
  region: string;
  roleArn: string;
  definition: AslDefinition;
  /** Task state name -> Resource, over the whole definition including Map/Parallel bodies. */
  tasks: Map<string, string>;
}

export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  account: string;
  region: string;
  input: string;
  status: ExecutionStatus;
  startDate: number;
  stopDate?: number;
  output?: string;
  error?: string;
  cause?: string;
  history: HistoryEvent[];
  done: Promise<void>;
  abort?: () => void;
  /** Executions a `startExecution.sync` task of this one started (stopped with it). */
  children: string[];
}

export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
  Comment?: string;
  TimeoutSeconds?: number;
}
export interface AslState {
  Type: string;
  Resource?: string;
  Parameters?: unknown;
  ItemProcessor?: AslDefinition;
  Iterator?: AslDefinition;
  Branches?: AslDefinition[];
  [k: string]: unknown;
}

/** Sends one Task to its service; errors carry the Step Functions error name in `.name`. */
export type TaskDispatch = (
  resource: string,
  params: unknown,
  caller: { account: string; region: string; execution: ExecutionRecord; state: string },
) => Promise<unknown>;

export class ServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = code;
  }
}

export interface Hold {
  /** Resolves with the execution once it sits at the state. */
  reached: Promise<ExecutionRecord>;
  release(): void;
  /** @internal */
  arrive(e: ExecutionRecord): void;
  /** @internal */
  released: Promise<void>;
}

const AWS_EXECUTION_EVENT: Record<string, string> = {
  ExecutionStarted: 'ExecutionStarted',
  ExecutionSucceeded: 'ExecutionSucceeded',
  ExecutionFailed: 'ExecutionFailed',
  ExecutionAborted: 'ExecutionAborted',
  ExecutionTimeout: 'ExecutionTimedOut',
  MapIterationStarted: 'MapIterationStarted',
  MapIterationSucceeded: 'MapIterationSucceeded',
  MapIterationFailed: 'MapIterationFailed',
  TaskScheduled: 'TaskScheduled',
  TaskStarted: 'TaskStarted',
  TaskSubmitted: 'TaskSubmitted',
  TaskSucceeded: 'TaskSucceeded',
  TaskFailed: 'TaskFailed',
};

/** The Step Functions HistoryEventType of an event the executor reported, if AWS records it. */
function awsTypeOf(ev: HistoryEvent): string | undefined {
  if (ev.type === 'StateEntered') return `${ev.stateType}StateEntered`;
  // A Fail state has no exit of its own: ExecutionFailed follows.
  if (ev.type === 'StateExited') return ev.stateType === 'Fail' ? undefined : `${ev.stateType}StateExited`;
  return AWS_EXECUTION_EVENT[ev.type];
}

const SYNC = /^arn:aws[a-z-]*:states:::states:startExecution\.sync(:2)?$/;

export function collectTasks(def: AslDefinition, into = new Map<string, string>()): Map<string, string> {
  for (const [name, state] of Object.entries(def.States)) {
    if (state.Type === 'Task') {
      const prev = into.get(name);
      if (prev !== undefined && prev !== state.Resource) {
        throw new Error(
          `two Task states are named '${name}' with different resources; the twin keys tasks by name`,
        );
      }
      into.set(name, String(state.Resource));
    }
    const body = state.ItemProcessor ?? state.Iterator;
    if (body) collectTasks(body, into);
    for (const b of state.Branches ?? []) collectTasks(b, into);
  }
  return into;
}

export class StepFunctionsService {
  readonly machines = new Map<string, StateMachineRecord>();
  readonly executions = new Map<string, ExecutionRecord>();
  /** Called for every history event as it is recorded (the demo prints progress from it). */
  onEvent: ((exec: ExecutionRecord, event: HistoryEvent) => void) | undefined;

  constructor(
    private readonly clock: VirtualClock,
    private readonly dispatch: TaskDispatch,
  ) {}

  register(machine: Omit<StateMachineRecord, 'tasks'>): StateMachineRecord {
    const record = { ...machine, tasks: collectTasks(machine.definition) };
    this.machines.set(record.arn, record);
    return record;
  }

  startExecution(
    caller: { account: string },
    req: { stateMachineArn?: string; name?: string; input?: string },
  ): ExecutionRecord {
    const machine = req.stateMachineArn ? this.machines.get(req.stateMachineArn) : undefined;
    if (!machine || machine.account !== caller.account) {
      throw new ServiceError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${req.stateMachineArn}'`,
      );
    }
    const name = req.name ?? crypto.randomUUID();
    const nameProblem = executionNameProblem(name);
    if (nameProblem) {
      throw new ServiceError('InvalidName', `Invalid Name: '${name.slice(0, 100)}' (${nameProblem})`);
    }
    const input = req.input ?? '{}';
    let parsed: unknown;
    try {
      parsed = JSON.parse(input);
    } catch {
      throw new ServiceError('InvalidExecutionInput', 'Invalid execution input: not JSON');
    }
    if (Buffer.byteLength(input) > 256 * 1024) {
      throw new ServiceError('InvalidExecutionInput', 'Execution input exceeds the 256 KiB quota');
    }
    const executionArn = `arn:aws:states:${machine.region}:${machine.account}:execution:${machine.name}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      // Standard workflows: same name and input while running returns the running execution.
      if (existing.status === 'RUNNING' && existing.input === input) return existing;
      throw new ServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: machine.arn,
      name,
      account: machine.account,
      region: machine.region,
      input,
      status: 'RUNNING',
      startDate: this.clock.now(),
      history: [],
      done: Promise.resolve(),
      children: [],
    };
    this.executions.set(executionArn, record);
    record.done = this.run(machine, record, parsed);
    return record;
  }

  private async run(machine: StateMachineRecord, exec: ExecutionRecord, input: unknown): Promise<void> {
    const { StateMachine } = loadAsl();
    const handlers: Record<string, (input: unknown, log: LibraryEventLogger) => Promise<unknown>> = {};
    for (const [state, resource] of machine.tasks) {
      const caller = { account: machine.account, region: machine.region, execution: exec, state };
      const sync = SYNC.exec(resource);
      handlers[state] = async (params: unknown, log: LibraryEventLogger) => {
        // What Step Functions records around every attempt of a Task, in the execution's own event
        // stream (so that the order and a Map iteration's index are right).
        const event = (type: string, extra: Record<string, unknown>) =>
          log.dispatch({ type, timestamp: this.clock.now(), state: { name: state, type: 'Task' }, ...extra });
        event('TaskScheduled', { parameters: params });
        await this.hold(exec, state);
        event('TaskStarted', {});
        let result: unknown;
        try {
          result = sync
            ? await this.runChild(params, caller, sync[1] === ':2', (submitted) =>
                event('TaskSubmitted', { output: submitted }),
              )
            : await this.clock.track(() => this.dispatch(resource, params, caller));
        } catch (err) {
          const e = err as Error;
          event('TaskFailed', { Error: e.name, Cause: e.message });
          throw err;
        }
        event('TaskSucceeded', { output: result });
        return toLibraryRealm(result);
      };
    }
    const sm = new StateMachine(toLibraryRealm(machine.definition) as never, {
      validationOptions: { checkArn: false, checkPaths: false, noValidate: true },
    });
    const run = sm.run(toLibraryRealm(input) as never, {
      overrides: { taskResourceLocalHandlers: handlers as never },
      context: {
        Execution: {
          Id: exec.executionArn,
          Name: exec.name,
          StartTime: new Date(exec.startDate).toISOString(),
          RoleArn: machine.roleArn,
        },
        StateMachine: { Id: machine.arn, Name: machine.name },
      },
    });
    exec.abort = run.abort;
    const recording = this.record(exec, machine, run.eventLogs);
    try {
      const output = await run.result;
      exec.status = 'SUCCEEDED';
      exec.output = JSON.stringify(output);
    } catch (err) {
      const e = err as Error & { cause?: Error };
      if (e.name === 'ExecutionAbortedError') exec.status = 'ABORTED';
      else if (e.name === 'ExecutionTimeoutError') {
        exec.status = 'TIMED_OUT';
        exec.error = 'States.Timeout';
      } else {
        exec.status = 'FAILED';
        const inner = e.cause ?? e;
        exec.error = inner.name;
        exec.cause = inner.message;
        // Inferred: a failure whose Error or Cause exceeds Step Functions' bounds fails the run as States.Runtime.
        const tooLong = failureProblem(exec.error, exec.cause);
        if (tooLong) {
          exec.error = 'States.Runtime';
          exec.cause = `The execution failed with an error Step Functions cannot report: ${tooLong}.`;
        }
      }
    }
    exec.stopDate = this.clock.now();
    await recording;
  }

  private async record(exec: ExecutionRecord, machine: StateMachineRecord, events: AsyncGenerator<unknown>) {
    for await (const raw of events) {
      const e = raw as {
        type: string;
        timestamp: number;
        state?: { name: string; type: string; input?: unknown; output?: unknown };
        index?: number;
        Error?: string;
        Cause?: unknown;
        retry?: { attempt: number };
        input?: unknown;
        output?: unknown;
        parameters?: unknown;
        parentState?: { name: string; type: string };
      };
      const at = new Date(e.timestamp).toISOString();
      const ev: HistoryEvent = { type: e.type, at };
      const state = e.state ?? e.parentState;
      if (state) {
        ev.state = state.name;
        ev.stateType = state.type;
        if (state.type === 'Task') ev.resource = machine.tasks.get(state.name);
      }
      if (e.index !== undefined) ev.index = e.index;
      if (e.state?.input !== undefined) ev.input = e.state.input;
      if (e.state?.output !== undefined) ev.output = e.state.output;
      if (e.input !== undefined) ev.input = e.input;
      if (e.output !== undefined) ev.output = e.output;
      if (e.Error !== undefined) ev.error = e.Error;
      if (e.Cause !== undefined) ev.cause = typeof e.Cause === 'string' ? e.Cause : JSON.stringify(e.Cause);
      if (e.retry) ev.retryAttempt = e.retry.attempt;
      if (e.parameters !== undefined) ev.parameters = e.parameters;
      const awsType = awsTypeOf(ev);
      if (awsType) ev.awsType = awsType;
      // Map and Parallel states have a start and an end of their own on AWS.
      const container = ev.stateType === 'Map' || ev.stateType === 'Parallel' ? ev.stateType : undefined;
      const marker = (type: string) => {
        const m: HistoryEvent = { type, awsType: type, at, state: ev.state, stateType: ev.stateType };
        if (ev.index !== undefined) m.index = ev.index;
        this.push(exec, m);
      };
      if (container && e.type === 'StateExited') marker(`${container}StateSucceeded`);
      if (container && e.type === 'StateFailed') marker(`${container}StateFailed`);
      this.push(exec, ev);
      if (container && e.type === 'StateEntered') marker(`${container}StateStarted`);
    }
  }

  private push(exec: ExecutionRecord, ev: HistoryEvent): void {
    exec.history.push(ev);
    this.onEvent?.(exec, ev);
  }

  // ---- holding a Task (tests): "the run sits at this state while something else happens" -------

  private readonly holds: Array<{ state: string; match: (e: ExecutionRecord) => boolean; hold: Hold }> = [];

  /**
   * The next execution matching `match` that reaches Task `state` stops there, after TaskScheduled
   * and before its call, until `release()`. Meanwhile the virtual clock runs on for the others.
   */
  holdAt(state: string, match: (e: ExecutionRecord) => boolean = () => true): Hold {
    let reached!: (e: ExecutionRecord) => void;
    let release!: () => void;
    const hold: Hold = {
      reached: new Promise((r) => {
        reached = r;
      }),
      release: () => release(),
      arrive: (e) => reached(e),
      released: new Promise<void>((r) => {
        release = r;
      }),
    };
    this.holds.push({ state, match, hold });
    return hold;
  }

  private async hold(exec: ExecutionRecord, state: string): Promise<void> {
    const i = this.holds.findIndex((h) => h.state === state && h.match(exec));
    if (i < 0) return;
    const { hold } = this.holds.splice(i, 1)[0]!;
    hold.arrive(exec);
    await hold.released;
  }

  /**
   * `states:startExecution.sync` / `.sync:2`: Step Functions starts the child and waits for it to
   * end. The wait is not a call in flight (the child's own waits must let the clock move); the
   * result is DescribeExecution's, with `Output` parsed for `.sync:2`; a child that does not
   * succeed fails the task with `States.TaskFailed` and that description as the Cause.
   */
  private async runChild(
    params: unknown,
    caller: Parameters<TaskDispatch>[2],
    parseOutput: boolean,
    submitted: (startResult: unknown) => void,
  ) {
    const started = (await this.clock.track(() =>
      this.dispatch('arn:aws:states:::states:startExecution', params, caller),
    )) as { ExecutionArn: string };
    submitted(started);
    const child = this.describeExecution(caller, started.ExecutionArn);
    caller.execution.children.push(child.executionArn);
    await child.done;
    const description = {
      ExecutionArn: child.executionArn,
      StateMachineArn: child.stateMachineArn,
      Name: child.name,
      Status: child.status,
      StartDate: child.startDate,
      StopDate: child.stopDate,
      Input: parseOutput ? JSON.parse(child.input) : child.input,
      InputDetails: { Included: true },
      ...(child.output !== undefined
        ? { Output: parseOutput ? JSON.parse(child.output) : child.output, OutputDetails: { Included: true } }
        : {}),
      ...(child.error !== undefined ? { Error: child.error } : {}),
      ...(child.cause !== undefined ? { Cause: child.cause } : {}),
    };
    if (child.status !== 'SUCCEEDED')
      throw new ServiceError('States.TaskFailed', JSON.stringify(description));
    return description;
  }

  describeExecution(caller: { account: string }, executionArn: string): ExecutionRecord {
    const exec = this.executions.get(executionArn);
    if (!exec || exec.account !== caller.account) {
      throw new ServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    }
    return exec;
  }

  listExecutions(
    caller: { account: string },
    stateMachineArn: string,
    statusFilter?: string,
  ): ExecutionRecord[] {
    const machine = this.machines.get(stateMachineArn);
    if (!machine || machine.account !== caller.account) {
      throw new ServiceError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${stateMachineArn}'`,
      );
    }
    return [...this.executions.values()]
      .filter((e) => e.stateMachineArn === stateMachineArn && (!statusFilter || e.status === statusFilter))
      .sort((a, b) => b.startDate - a.startDate);
  }

  stopExecution(caller: { account: string }, executionArn: string): ExecutionRecord {
    const exec = this.describeExecution(caller, executionArn);
    if (exec.status === 'RUNNING') exec.abort?.();
    // Step Functions stops the child executions its .sync tasks were waiting for.
    for (const child of exec.children) this.stopExecution(caller, child);
    return exec;
  }

  /** Resolves once no execution is running (executions may start others through SNS). */
  async settled(): Promise<void> {
    for (;;) {
      const running = [...this.executions.values()].filter((e) => e.status === 'RUNNING');
      if (running.length === 0) return;
      await Promise.all(running.map((e) => e.done));
    }
  }
}
