// The twin records an execution's history as Step Functions does (issue 17, point 1): each Task
// attempt's TaskScheduled with its resolved parameters, TaskStarted, TaskSucceeded with the task's
// RAW result (before ResultSelector/ResultPath/OutputPath) or TaskFailed with Error and Cause, then
// TaskStateExited with the trimmed output; ExecutionFailed with Error and Cause. A secret a Lambda
// returned is therefore in the history even when the state's ResultSelector drops it, and the
// secret-leak scan (twin/src/metrics.ts `occurrences`) finds it there.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AdmZip from 'adm-zip';
import { type ExecutionRecord, startTwin, type Twin } from '../../twin/src';
import { FIXTURE_PASSWORD } from '../../twin/src/fixtures';
import { historyEventCount, occurrences } from '../../twin/src/metrics';
import type { HistoryEvent } from '../../twin/src/stepfunctions';
import {
  DATABASE,
  failureSummary,
  replicateOnce,
  type Story,
  secretState,
  setUpStory,
  statesEntered,
} from './helpers/destination';

let twin: Twin;
let story: Story;
let replication: ExecutionRecord;

/**
 * A test-only variant of the deployed mergeSecret: it does its job, then also returns the
 * secret's password in its payload. The state's ResultSelector keeps only the two identifiers, so
 * nothing after the state shows it; only the raw result does.
 */
function installLeakingMergeSecret(): void {
  const fn = twin.lambda.list().find((f) => f.name.endsWith('-mergeSecret'));
  if (!fn) throw new Error('no mergeSecret function deployed');
  const dot = fn.handler.lastIndexOf('.');
  const zip = new AdmZip(fn.zipPath);
  zip.addFile(
    'leaking.js',
    Buffer.from(`
const original = require('./${fn.handler.slice(0, dot)}');
const { SecretsManagerClient, GetSecretValueCommand } = require('@aws-sdk/client-secrets-manager');
exports.handler = async (event, context) => {
  const result = await original.${fn.handler.slice(dot + 1)}(event, context);
  const secret = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: event.secretId }));
  return { ...result, password: JSON.parse(secret.SecretString).password };
};
`),
  );
  const zipPath = join(mkdtempSync(join(tmpdir(), 'leaking-merge-secret-')), 'leaking.zip');
  writeFileSync(zipPath, zip.toBuffer());
  twin.lambda.register({ ...fn, zipPath, handler: 'leaking.handler' });
}

const eventsOfState = (exec: ExecutionRecord, state: string): HistoryEvent[] =>
  exec.history.filter((e) => e.state === state && e.awsType !== undefined);

beforeAll(async () => {
  twin = await startTwin();
  story = await setUpStory(twin);
  installLeakingMergeSecret();
  // One describe of the snapshot copy is throttled: a failed attempt and its retry are in the history.
  await twin.moto.control.addFault({
    kind: 'error',
    api: 'DescribeDBSnapshots',
    service: 'rds',
    code: 'Throttling',
    message: 'Rate exceeded',
    count: 1,
    match: `rds-replica-destination-dev-${DATABASE}-*`, // this run's copy
    account: twin.accounts.destination,
  });
  replication = await replicateOnce(twin);
  if (replication.status !== 'SUCCEEDED') throw new Error(failureSummary(replication));
}, 120_000);

afterAll(async () => {
  await twin?.stop();
});

test('a Lambda that returns the password is caught by the leak scan although ResultSelector drops it', async () => {
  // The leak really happened and the run still succeeded (the switch is done, the password kept).
  expect((await secretState(twin)).value.password).toBe(FIXTURE_PASSWORD);
  const executions = [...twin.sfn.executions.values()];

  const found = occurrences(executions, FIXTURE_PASSWORD);

  expect(found).toEqual([
    { execution: replication.name, where: 'TaskSucceeded Point The Secret At The Replica' },
  ]);
  // What the twin recorded before the raw results (states' inputs and outputs only) shows nothing:
  // the scan of those alone missed this leak.
  const statesOnly = replication.history.filter((e) => e.type === 'StateEntered' || e.type === 'StateExited');
  expect(JSON.stringify(statesOnly)).not.toContain(FIXTURE_PASSWORD);
  expect(replication.output).not.toContain(FIXTURE_PASSWORD);
});

test('a Lambda task: TaskScheduled with the resolved parameters, the raw result in TaskSucceeded, the trimmed one in TaskStateExited', () => {
  const events = eventsOfState(replication, 'Name The Replica');
  expect(events.map((e) => e.awsType)).toEqual([
    'TaskStateEntered',
    'TaskScheduled',
    'TaskStarted',
    'TaskSucceeded',
    'TaskStateExited',
  ]);
  const [, scheduled, , succeeded, exited] = events as [
    HistoryEvent,
    HistoryEvent,
    HistoryEvent,
    HistoryEvent,
    HistoryEvent,
  ];
  expect(scheduled.resource).toBe('arn:aws:states:::lambda:invoke');
  expect(scheduled.parameters).toEqual({
    FunctionName: expect.stringMatching(/:function:rds-replica-destination-dev-nameReplica$/),
    Payload: {
      database: DATABASE,
      snapshotCreateTime: JSON.parse(replication.input).snapshotCreateTime,
      secretId: story.secretArn,
    },
  });
  const raw = succeeded.output as { Payload: Record<string, unknown>; StatusCode: number };
  expect(raw.StatusCode).toBe(200);
  expect(Object.keys(raw).sort()).toEqual([
    'ExecutedVersion',
    'Payload',
    'SdkHttpMetadata',
    'SdkResponseMetadata',
    'StatusCode',
  ]);
  const names = (exited.output as { names: Record<string, unknown> }).names;
  expect(names).toEqual(raw.Payload);
  expect(exited.output).not.toHaveProperty('StatusCode');
});

test('a throttled attempt: TaskFailed with Error and Cause, then the retry is scheduled again', () => {
  const events = eventsOfState(replication, 'Describe The Copy');
  const firstAttempt = events.slice(0, 4);
  expect(firstAttempt.map((e) => [e.awsType, e.error])).toEqual([
    ['TaskStateEntered', undefined],
    ['TaskScheduled', undefined],
    ['TaskStarted', undefined],
    ['TaskFailed', 'Rds.RdsException'],
  ]);
  expect(firstAttempt[3]!.cause).toMatch(/^Rate exceeded \(Service: Rds, Status Code: 400, Request ID: /);
  expect(events[4]!.awsType).toBe('TaskScheduled');
  // The executor's own marker for the retry is not an AWS event.
  const retried = replication.history.filter((e) => e.type === 'StateRetried');
  expect(retried.map((e) => [e.state, e.awsType])).toEqual([['Describe The Copy', undefined]]);
});

test('a failed execution: FailStateEntered, then ExecutionFailed with the Error and Cause', async () => {
  const exec = await twin.run('destination', 'rollback', {
    database: DATABASE,
    to: 'previous',
    dryRun: 'yes',
  });
  expect(exec.status).toBe('FAILED');
  const last = exec.history.filter((e) => e.awsType).slice(-2);
  expect(last.map((e) => [e.awsType, e.state, e.error])).toEqual([
    ['FailStateEntered', 'Reject The Field dryRun', undefined],
    ['ExecutionFailed', undefined, 'InvalidInput'],
  ]);
  expect(last[1]!.cause).toBe(exec.cause);
  expect(exec.cause).toContain("'dryRun'");
});

test('history events follow AWS rules: 2 per state, 3 per Task attempt, Map and Parallel start and end', () => {
  const h = replication.history;
  const aws = h.filter((e) => e.awsType);
  expect(historyEventCount(replication)).toBe(aws.length);
  const entered = h.filter((e) => e.type === 'StateEntered');
  const exited = h.filter((e) => e.type === 'StateExited');
  // Every state entered is exited (the run succeeded: no Fail state).
  expect(exited.length).toBe(entered.length);
  const taskAttempts =
    entered.filter((e) => e.stateType === 'Task').length +
    h.filter((e) => e.type === 'StateRetried' && e.stateType === 'Task').length;
  for (const t of ['TaskScheduled', 'TaskStarted']) {
    expect(aws.filter((e) => e.awsType === t)).toHaveLength(taskAttempts);
  }
  expect(aws.filter((e) => e.awsType === 'TaskSucceeded' || e.awsType === 'TaskFailed')).toHaveLength(
    taskAttempts,
  );
  const containers = entered.filter((e) => e.stateType === 'Map' || e.stateType === 'Parallel').length;
  expect(containers).toBeGreaterThanOrEqual(2);
  const iterations = aws.filter((e) => e.awsType === 'MapIterationStarted').length;
  expect(historyEventCount(replication)).toBe(
    2 + 2 * entered.length + 3 * taskAttempts + 2 * containers + 2 * iterations,
  );
  expect(statesEntered(replication)).toContain('Point The Secret At The Replica');
});
