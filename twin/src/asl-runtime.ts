// Loads aws-local-stepfunctions with a few small hooks so that it runs on the virtual clock and
// records what Step Functions records:
//  - its internal `sleep` (Wait states, Retry intervals) asks the clock instead of setTimeout;
//  - event timestamps and `$$.Execution.StartTime` read the virtual time;
//  - a Task override receives the execution's event logger as its second argument, so that the
//    twin can record TaskScheduled/TaskStarted/TaskSucceeded/TaskFailed in order with the state
//    events, and those events of a Map iteration carry the iteration's index like the others;
//  - `$$.State.Name` and `$$.State.EnteredTime` exist (the library has no `$$.State`; `RetryCount`
//    is always 0 here);
// and one fidelity fix: `States.StringSplit` splits as Step Functions does. Every character of the
// second argument is a delimiter and empty strings are dropped (`"This.is+a,test=string"` split on
// `".+,="` gives five words, `",,,,"` split on `","` gives `[]`: AWS-recorded results published in
// LocalStack's test_string_operations snapshot); the library calls JavaScript's `split`, which
// treats the argument as one separator and keeps empty strings.
// The library is otherwise unchanged. If a future version no longer has these exact lines the
// loader fails loudly instead of silently sleeping in real time.
import './polyfills';
import { readFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname } from 'node:path';
import { runInThisContext } from 'node:vm';
import type * as Asl from 'aws-local-stepfunctions';
import type { VirtualClock } from './clock';

interface Hooks {
  sleep?: (ms: number) => Promise<void> | undefined;
  now?: () => number;
}
// Handed to the compiled library as `module.__twin` rather than through globalThis: under Jest the
// test file and the library live in different realms with different globals.
const hooks: Hooks = {};

const PATCHES: Array<[string, string]> = [
  [
    'function sleep(ms, abortSignal) {',
    'function sleep(ms, abortSignal) {\n  if (module.__twin.sleep) return module.__twin.sleep(ms, abortSignal);',
  ],
  ['timestamp: Date.now()', 'timestamp: (module.__twin.now ? module.__twin.now() : Date.now())'],
  [
    'StartTime: (/* @__PURE__ */ new Date()).toISOString()',
    'StartTime: options.runOptions?.context?.Execution?.StartTime ?? (/* @__PURE__ */ new Date()).toISOString()',
  ],
  [
    'await taskStateAction.execute(input, context, { overrideFn, awsConfig });',
    'await taskStateAction.execute(input, context, { overrideFn: overrideFn && ((i) => overrideFn(i, options.eventLogger)), awsConfig });',
  ],
  [
    'case "StateCaught":\n        event.index = index;',
    'case "StateCaught":\n      case "TaskScheduled":\n      case "TaskStarted":\n      case "TaskSubmitted":\n      case "TaskSucceeded":\n      case "TaskFailed":\n        event.index = index;',
  ],
  [
    '  execute(str, separator) {\n    return str.split(separator);\n  }',
    '  execute(str, separator) {\n    const delimiters = new Set(Array.from(separator));\n' +
      "    const tokens = [];\n    let token = '';\n" +
      '    for (const c of str) {\n      if (delimiters.has(c)) {\n' +
      "        if (token !== '') tokens.push(token);\n        token = '';\n      } else token += c;\n    }\n" +
      "    if (token !== '') tokens.push(token);\n    return tokens;\n  }",
  ],
  [
    'options.eventLogger.dispatchStateEnteredEvent(currStateName, currState.Type, currInput);',
    'context.State = { Name: currStateName, EnteredTime: new Date(module.__twin.now ? module.__twin.now() : Date.now()).toISOString(), RetryCount: 0 };\n        options.eventLogger.dispatchStateEnteredEvent(currStateName, currState.Type, currInput);',
  ],
];

/** The library's event logger as a Task override receives it (see PATCHES). */
export interface LibraryEventLogger {
  dispatch(event: Record<string, unknown>): void;
}

const WITH_RESOLVERS = `if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function () {
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  };
}`;

let loaded: typeof Asl | undefined;

export function loadAsl(): typeof Asl {
  if (loaded) return loaded;
  const file = require.resolve('aws-local-stepfunctions');
  let src = readFileSync(file, 'utf8');
  for (const [from, to] of PATCHES) {
    if (!src.includes(from)) {
      throw new Error(
        `aws-local-stepfunctions at ${file} no longer contains '${from}'; the twin's hooks need updating`,
      );
    }
    src = src.split(from).join(to);
  }
  const m = new Module(file, module) as Module & {
    _compile(code: string, filename: string): void;
    paths: string[];
  };
  m.filename = file;
  m.paths = (Module as unknown as { _nodeModulePaths(p: string): string[] })._nodeModulePaths(dirname(file));
  (m as unknown as { __twin: Hooks }).__twin = hooks;
  // The library runs in Node's own realm, whose Promise may lack withResolvers (Node 20).
  m._compile(`${WITH_RESOLVERS}\n${src}`, file);
  loaded = m.exports as typeof Asl;
  return loaded;
}

/** Route the library's sleeps and timestamps to this clock (one twin per process). */
export function useClock(clock: VirtualClock | undefined): void {
  if (!clock) {
    hooks.sleep = undefined;
    hooks.now = undefined;
    return;
  }
  hooks.sleep = (ms: number) => (ms > 0 ? clock.sleep(ms) : undefined);
  hooks.now = () => clock.now();
}

// The library tells plain objects by `Object.getPrototypeOf(v) === Object.prototype`. Under Jest
// the definitions, inputs and task results come from the test's realm, whose Object.prototype is
// another one: nested payload templates would pass through unevaluated. Everything handed to the
// library is therefore re-created in Node's own realm, where the library lives.
const LibraryJSON = runInThisContext('JSON') as typeof JSON;

export function toLibraryRealm<T>(value: T): T {
  return value === undefined ? value : (LibraryJSON.parse(JSON.stringify(value)) as T);
}
