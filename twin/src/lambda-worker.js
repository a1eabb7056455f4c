// Runs one Lambda function's deployed bundle inside a worker thread: its own module instance and
// its own process.env, like a Lambda execution environment. Console output is captured and sent
// to the twin (tests scan it for secret values) instead of being printed.
const { parentPort, workerData } = require('node:worker_threads');
const { format } = require('node:util');

let current;
for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
  console[level] = (...args) =>
    parentPort.postMessage({ log: { level, line: format(...args), id: current } });
}

let handler;
function load() {
  const started = process.hrtime.bigint();
  const mod = require(workerData.file);
  const fn = mod[workerData.exportName];
  if (typeof fn !== 'function') {
    throw new Error(`${workerData.file} does not export a function '${workerData.exportName}'`);
  }
  handler = fn;
  return Number(process.hrtime.bigint() - started) / 1e6;
}

parentPort.on('message', async ({ id, event, context }) => {
  current = id;
  let initMs;
  try {
    if (!handler) initMs = load();
    const deadline = Date.now() + context.timeoutMs;
    const ctx = {
      ...context,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    const result = await handler(event, ctx);
    parentPort.postMessage({ id, ok: true, initMs, result: result === undefined ? null : result });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    parentPort.postMessage({
      id,
      ok: false,
      initMs,
      error: {
        errorType: e.name || 'Error',
        errorMessage: e.message,
        trace: String(e.stack || '').split('\n'),
      },
    });
  }
});
