// The destination's trigger Lambda on the offline twin, where the replication message meets the
// destination account: SNS invokes it asynchronously, so Lambda retries a failed invocation twice
// (a minute, then two minutes later) and then hands the event to the on-failure queue
// (FailureQueueUrl). A message the trigger rejects must not be retried; a failure to start the
// execution must be, and a retry must not start a second execution.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { startTwin, type Twin } from '../../twin/src';
import { FIXTURE_PASSWORD } from '../../twin/src/fixtures';
import { ServiceError } from '../../twin/src/stepfunctions';
import {
  DATABASE,
  DAY_MS,
  destinationExecutions,
  failureSummary,
  inputOf,
  instances,
  letTimePass,
  messageLike,
  output,
  publishToSourceTopic,
  replicateOnce,
  type Story,
  setUpStory,
  TAG,
  takeFailedTriggerEvents,
  takeNotices,
} from './helpers/destination';

let twin: Twin;
let story: Story;
let base: Record<string, unknown>;
let messages = 0;

/** A valid message for the first replication's shared snapshot, as if taken later. */
function nextMessage(): Record<string, unknown> {
  messages++;
  const time = new Date(Date.parse(String(base.snapshotCreateTime)) + messages * DAY_MS).toISOString();
  return messageLike(base, time, `trigger-test-${messages}`);
}

/** Makes the twin's Step Functions refuse StartExecution `times` times (Infinity: until restored). */
function throttleStartExecution(times: number): () => void {
  const original = twin.sfn.startExecution.bind(twin.sfn);
  let refused = 0;
  twin.sfn.startExecution = (caller, req) => {
    if (refused < times) {
      refused++;
      throw new ServiceError('ThrottlingException', 'Rate exceeded');
    }
    return original(caller, req);
  };
  return () => {
    twin.sfn.startExecution = original;
  };
}

beforeAll(async () => {
  twin = await startTwin();
  story = await setUpStory(twin);
  const first = await replicateOnce(twin);
  if (first.status !== 'SUCCEEDED') throw new Error(failureSummary(first));
  base = inputOf(first);
  await takeNotices(story);
}, 120_000);

afterAll(async () => {
  await twin?.stop();
});

test('a message that cannot be started at first is retried by Lambda a minute later and replicates exactly once', async () => {
  const message = nextMessage();
  const before = new Set(destinationExecutions(twin, 'replicate'));
  const invocationsBefore = twin.lambda.invocations.length;
  const logsBefore = twin.lambda.logs.length;
  // The SDK inside the trigger tries 3 times: the whole first invocation is throttled.
  const restore = throttleStartExecution(3);
  try {
    await publishToSourceTopic(story, message);
  } finally {
    restore();
  }

  const calls = twin.lambda.invocations
    .slice(invocationsBefore)
    .filter((i) => i.function === story.triggerFunction);
  expect(calls.map((c) => [c.ok, c.attempt])).toEqual([
    [false, 1],
    [true, 2],
  ]);
  expect(Date.parse(calls[1]!.at) - Date.parse(calls[0]!.at)).toBe(60_000);
  expect(
    twin.lambda.logs
      .slice(logsBefore)
      .some((l) => l.line.includes('could not start replication; Lambda will retry the event')),
  ).toBe(true);

  const started = destinationExecutions(twin, 'replicate').filter((e) => !before.has(e));
  expect(started).toHaveLength(1);
  expect(failureSummary(started[0]!)).toBe(`${started[0]!.name}: SUCCEEDED  `);
  expect(inputOf(started[0]!)).toEqual(message);
  await letTimePass(twin);
  const replica = output<{ dbInstanceIdentifier: string }>(started[0]!).dbInstanceIdentifier;
  const restored = (await instances(twin)).filter((i) =>
    i.TagList?.some((t) => t.Key === TAG.runId && t.Value === message.runId),
  );
  expect(restored.map((i) => i.DBInstanceIdentifier)).toEqual([replica]);
  expect(await takeFailedTriggerEvents(story)).toEqual([]);
});

test('a message that can never be started ends in the failure queue after two retries, with the event, and starts nothing', async () => {
  const message = nextMessage();
  const executionsBefore = twin.sfn.executions.size;
  const invocationsBefore = twin.lambda.invocations.length;
  const failuresBefore = twin.lambda.asyncFailures.length;
  const restore = throttleStartExecution(Number.POSITIVE_INFINITY);
  try {
    await publishToSourceTopic(story, message);
  } finally {
    restore();
  }

  expect(twin.sfn.executions.size).toBe(executionsBefore);
  const calls = twin.lambda.invocations.slice(invocationsBefore);
  expect(calls.map((c) => [c.function, c.ok, c.attempt])).toEqual([
    [story.triggerFunction, false, 1],
    [story.triggerFunction, false, 2],
    [story.triggerFunction, false, 3],
  ]);
  expect(twin.lambda.asyncFailures.slice(failuresBefore)).toEqual([
    expect.objectContaining({ function: story.triggerFunction, errorType: 'ThrottlingException' }),
  ]);

  const failed = (await takeFailedTriggerEvents(story)) as Array<{
    requestContext: { condition: string; approximateInvokeCount: number };
    requestPayload: { Records: Array<{ Sns: { TopicArn: string; Message: string } }> };
  }>;
  expect(failed).toHaveLength(1);
  expect(failed[0]!.requestContext).toMatchObject({
    condition: 'RetriesExhausted',
    approximateInvokeCount: 3,
  });
  const record = failed[0]!.requestPayload.Records[0]!.Sns;
  expect(record.TopicArn).toBe(story.sourceTopicArn);
  // the operator can start the run from the queue: the message is there as it was sent
  expect(JSON.parse(record.Message)).toEqual(message);

  // ... and starting it by hand later (sls invoke stepf with the queued message) works
  const replay = await twin.run('destination', 'replicate', message);
  expect(failureSummary(replay)).toBe(`${replay.name}: SUCCEEDED  `);
  await letTimePass(twin);
});

test('the trigger starts a replication under a name derived from the database and the snapshot, so a redelivery is a duplicate', async () => {
  const message = nextMessage();
  await publishToSourceTopic(story, message);
  const first = destinationExecutions(twin, 'replicate').at(-1)!;
  expect(inputOf(first)).toEqual(message);
  const time = String(message.snapshotCreateTime)
    .replace(/[-:]|\.\d{3}Z$/g, '')
    .toLowerCase();
  expect(first.name).toMatch(new RegExp(`^${DATABASE}-${time}-[0-9a-f]{8}$`));

  // a new run id for the same snapshot is the same replication: nothing new starts
  const executionsBefore = twin.sfn.executions.size;
  await publishToSourceTopic(story, { ...message, runId: 'republished' });
  expect(twin.sfn.executions.size).toBe(executionsBefore);
  await letTimePass(twin);
});

test('nothing the trigger logged holds the database password or a whole message', () => {
  const lines = twin.lambda.logs.filter((l) => l.function === story.triggerFunction);
  expect(lines.length).toBeGreaterThan(0);
  expect(lines.filter((l) => l.line.includes(FIXTURE_PASSWORD))).toEqual([]);
  expect(lines.filter((l) => l.line.includes('"sharedSnapshotArn"'))).toEqual([]);
});
