// The twin's Lambda faults: an invocation fails as a timeout, a crash or a Lambda service error,
// before the function runs or after it ran to completion (its effect happened, its reply is lost).
// Exercised with the destination's nameReplica, whose log line proves whether it ran.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { startTwin, type Twin } from '../../twin/src';
import { createDestinationNetwork, seedSecret } from '../../twin/src/fixtures';
import { SECRET_NAME } from './helpers/destination';

let twin: Twin;
let fn: string;
const SECRET = SECRET_NAME;
const EVENT = { database: 'orders-db', snapshotCreateTime: '2026-11-23T19:21:47Z', secretId: SECRET };

beforeAll(async () => {
  twin = await startTwin();
  const source = await twin.deploy('source');
  const network = await createDestinationNetwork(twin);
  const stack = await twin.deploy('destination', {
    params: { vpcSecurityGroupIds: network.securityGroupId, sourceKmsKeyArn: source.outputs.KmsKeyArn! },
  });
  await seedSecret(twin, SECRET);
  fn = Object.values(stack.functions).find((f) => f.name.endsWith('-nameReplica'))!.name;
}, 120_000);

afterAll(async () => {
  await twin?.stop();
});

afterEach(() => twin.lambda.clearFaults());

const caller = () => ({ account: twin.accounts.destination, region: twin.region });
const ranCount = () =>
  twin.lambda.logs.filter((l) => l.function === fn && l.line.includes('named replica')).length;

test('timeout after the effect: the function ran, the caller gets Sandbox.Timedout', async () => {
  twin.lambda.addFault({ function: '*-nameReplica', failure: 'timeout' });
  const before = ranCount();
  const r = await twin.lambda.invoke(fn, EVENT, caller());
  expect(r.functionError).toBe('Unhandled');
  expect(r.payload).toMatchObject({
    errorType: 'Sandbox.Timedout',
    errorMessage: expect.stringMatching(/Task timed out after \d+\.00 seconds/),
  });
  expect(ranCount()).toBe(before + 1);
  // count 1: the next invocation answers normally.
  const ok = await twin.lambda.invoke(fn, EVENT, caller());
  expect(ok.functionError).toBeUndefined();
  expect(ok.payload).toMatchObject({ dbInstanceIdentifier: expect.stringMatching(/^orders-db-/) });
});

test('crash before the effect: the function never ran', async () => {
  twin.lambda.addFault({ function: '*-nameReplica', failure: 'crash', after: false });
  const before = ranCount();
  const r = await twin.lambda.invoke(fn, EVENT, caller());
  expect(r.payload).toMatchObject({ errorType: 'Runtime.ExitError' });
  expect(ranCount()).toBe(before);
});

test('service error after the effect: Invoke answers HTTP 500 ServiceException, the function ran', async () => {
  twin.lambda.addFault({ function: '*-nameReplica', failure: 'service-error', count: 2 });
  const before = ranCount();
  const res = await fetch(`${twin.host.url}/2015-03-31/functions/${fn}/invocations`, {
    method: 'POST',
    headers: { 'x-moto-account-id': twin.accounts.destination },
    body: JSON.stringify(EVENT),
  });
  expect(res.status).toBe(500);
  expect(res.headers.get('x-amzn-errortype')).toBe('ServiceException');
  expect(ranCount()).toBe(before + 1);
  expect(twin.lambda.faults()[0]).toMatchObject({ remaining: 1, after: true });
  await expect(twin.lambda.invoke(fn, EVENT, caller())).rejects.toMatchObject({ name: 'ServiceException' });
  expect(twin.lambda.invocations.at(-1)).toMatchObject({
    function: fn,
    ok: false,
    errorType: 'ServiceException',
  });
});

test('skip: the first matching invocations answer normally, then the fault applies', async () => {
  twin.lambda.addFault({ function: '*-nameReplica', failure: 'timeout', skip: 1 });
  const first = await twin.lambda.invoke(fn, EVENT, caller());
  expect(first.functionError).toBeUndefined();
  const second = await twin.lambda.invoke(fn, EVENT, caller());
  expect(second.payload).toMatchObject({ errorType: 'Sandbox.Timedout' });
  expect(twin.lambda.faults()[0]).toMatchObject({ remaining: 0, skip: 0 });
});
