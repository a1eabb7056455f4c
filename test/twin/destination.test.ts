// The destination service on the offline twin, told as one story (issue 4, item 7): a source
// replication reaches the destination through SNS and goes live; three replications a day apart
// keep two replicas; rollbacks to "previous", back, to a named replica and a dry run; retention
// after a rollback; a secret with keys the replicator does not own; duplicate and foreign
// messages; and the password never shows up in any execution or log.
//
// The tests run in order and build on each other, as an operator's week would.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { type DBInstance, StopDBInstanceCommand } from '@aws-sdk/client-rds';
import { CreateTopicCommand } from '@aws-sdk/client-sns';
import { startTwin, type Twin } from '../../twin/src';
import { FIXTURE_PASSWORD } from '../../twin/src/fixtures';
import { occurrences } from '../../twin/src/metrics';
import {
  DATABASE,
  DAY_MS,
  DEPLOYMENT_ID,
  destinationExecutions,
  destinationSnapshots,
  endpointOf,
  failureSummary,
  indexOf,
  inputOf,
  instance,
  invocationCounts,
  invokeTrigger,
  letTimePass,
  managedReplicas,
  type Notice,
  output,
  publishToSourceTopic,
  putSecret,
  replicaIds,
  replicaNameFor,
  replicateFromSource,
  replicateOnce,
  type SecretState,
  type Story,
  secretState,
  setUpStory,
  snsEvent,
  statesEntered,
  TAG,
  takeFailedTriggerEvents,
  takeNotices,
} from './helpers/destination';

let twin: Twin;
let story: Story;
let seeded: SecretState;
/** Every notice the operations topic received during the story. */
const notices: Notice[] = [];
/** Replica ids in the order they were created: replicas[0] is the first replication's. */
const replicas: string[] = [];

interface ReplicateOutput {
  database: string;
  dbInstanceIdentifier: string;
  previousDbInstanceIdentifier: string | null;
  deleted: string[];
  retentionFailures: unknown[];
  snapshotCopy: { dbSnapshotIdentifier: string; deleted: boolean };
}

interface RollbackOutput {
  database: string;
  from: string;
  to: string;
  dryRun: boolean;
  targetStatus?: string;
}

async function noticesNow(): Promise<Notice[]> {
  const got = await takeNotices(story);
  notices.push(...got);
  return got;
}

async function liveInstance(): Promise<DBInstance> {
  const secret = await secretState(twin);
  const live = await instance(twin, String(secret.value.dbInstanceIdentifier));
  if (!live)
    throw new Error(`the secret points at ${secret.value.dbInstanceIdentifier}, which does not exist`);
  return live;
}

/** The secret points at `id`: every endpoint field is that instance's, everything else as seeded. */
async function expectSecretPointsAt(id: string) {
  const replica = await instance(twin, id);
  expect(replica?.DBInstanceStatus).toBe('available');
  const secret = await secretState(twin);
  expect(secret.value).toEqual({
    username: seeded.value.username,
    password: seeded.value.password,
    dbname: seeded.value.dbname,
    ...endpointOf(replica!),
  });
  expect(secret.value.host).toMatch(new RegExp(`^${id}\\.`));
}

async function rollback(input: Record<string, unknown>) {
  const exec = await twin.run('destination', 'rollback', input);
  return exec;
}

beforeAll(async () => {
  twin = await startTwin();
  story = await setUpStory(twin);
  seeded = await secretState(twin);
}, 120_000);

afterAll(async () => {
  await twin?.stop();
});

test('a source replication reaches the destination through SNS and one replica goes live with the configured settings and only this deployment’s tags', async () => {
  const lambdasBefore = twin.lambda.invocations.length;
  const { source, destination } = await replicateFromSource(twin);

  expect(failureSummary(source)).toBe(`${source.name}: SUCCEEDED  `);
  // The message travelled over the source topic to the trigger, which started exactly one run.
  expect(twin.host.snsDeliveries).toEqual([
    expect.objectContaining({
      account: twin.accounts.destination,
      function: story.triggerFunction,
      topicArn: story.sourceTopicArn,
    }),
  ]);
  expect(destination).toHaveLength(1);
  const run = destination[0]!;
  expect(run.status).toBe('SUCCEEDED');
  expect(run.name).toMatch(/^orders-db-\d{8}t\d{6}-[0-9a-f]{8}$/);
  const message = inputOf<{ sharedSnapshotArn: string; snapshotCreateTime: string; runId: string }>(run);
  expect(message).toMatchObject({
    version: 1,
    sourceAccountId: twin.accounts.source,
    sourceDbInstanceIdentifier: DATABASE,
  });
  expect(message.sharedSnapshotArn).toMatch(
    new RegExp(`^arn:aws:rds:${twin.region}:${twin.accounts.source}:snapshot:`),
  );

  const id = replicaNameFor(message.snapshotCreateTime);
  expect(output<ReplicateOutput>(run)).toMatchObject({
    database: DATABASE,
    dbInstanceIdentifier: id,
    previousDbInstanceIdentifier: null,
    deleted: [],
    retentionFailures: [],
    snapshotCopy: { deleted: true },
  });
  replicas.push(id);

  // The replica: restored with the configured settings, from a copy under this account's key.
  const replica = await instance(twin, id);
  expect(replica).toMatchObject({
    DBInstanceStatus: 'available',
    DBInstanceClass: 'db.t4g.micro',
    DeletionProtection: true,
    MultiAZ: false,
    StorageEncrypted: true,
    KmsKeyId: story.destination.outputs.KmsKeyArn,
    Engine: 'postgres',
  });
  expect(replica!.PubliclyAccessible).not.toBe(true); // moto leaves it unset when false
  expect(replica!.DBSubnetGroup?.DBSubnetGroupName).toBe(story.subnetGroupName);
  expect(replica!.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId)).toEqual([story.securityGroupId]);
  const tags = Object.fromEntries((replica!.TagList ?? []).map((t) => [t.Key, t.Value]));
  expect(tags).toMatchObject({
    [TAG.managedBy]: DEPLOYMENT_ID,
    [TAG.kind]: 'replica',
    [TAG.sourceDatabase]: DATABASE,
    [TAG.sourceAccount]: twin.accounts.source,
    [TAG.snapshotTime]: message.snapshotCreateTime,
    [TAG.runId]: message.runId,
  });
  // The source instance is tagged team=orders; a restore would inherit that: it must not.
  expect(tags).not.toHaveProperty('team');
  expect(Object.keys(tags).every((k) => k.startsWith('rds-replicator:'))).toBe(true);

  // The secret now points at the replica; the credentials are as the operator seeded them.
  await expectSecretPointsAt(id);

  // Nothing left over: the intermediate copy is gone; nobody was warned.
  expect(await destinationSnapshots(twin)).toEqual([]);
  expect(await noticesNow()).toEqual([]);

  // One invocation of each of the four Lambdas for one replicated database.
  expect(invocationCounts(twin, lambdasBefore)).toEqual({
    trigger: 1,
    nameReplica: 1,
    mergeSecret: 1,
    selectRetention: 1,
  });
});

test('three replications a day apart with keepReplicas=2 leave exactly two replicas, the newest live; the oldest loses its deletion protection first', async () => {
  expect(replicas).toHaveLength(1);
  const runs = [];
  for (let n = 2; n <= 3; n++) {
    await twin.clock.advance(DAY_MS);
    const lambdasBefore = twin.lambda.invocations.length;
    const run = await replicateOnce(twin);
    expect(run.status).toBe('SUCCEEDED');
    // at most 4 Lambda invocations per replicated database, however long RDS takes
    expect(twin.lambda.invocations.length - lambdasBefore).toBeLessThanOrEqual(4);
    replicas.push(output<ReplicateOutput>(run).dbInstanceIdentifier);
    runs.push(run);
  }
  const [first, second, third] = replicas as [string, string, string];
  expect(new Set(replicas).size).toBe(3);

  expect(output<ReplicateOutput>(runs[0]!)).toMatchObject({
    dbInstanceIdentifier: second,
    previousDbInstanceIdentifier: first,
    deleted: [],
    retentionFailures: [],
  });
  const last = runs[1]!;
  expect(output<ReplicateOutput>(last)).toMatchObject({
    dbInstanceIdentifier: third,
    previousDbInstanceIdentifier: second,
    deleted: [first],
    retentionFailures: [],
  });

  // The oldest was protected: protection went off before the delete call, both for that replica.
  const unprotect = indexOf(
    last,
    (e) =>
      e.type === 'StateEntered' &&
      e.state === 'Turn Off Deletion Protection' &&
      (e.input as { id?: string })?.id === first,
  );
  const deletion = indexOf(
    last,
    (e) =>
      e.type === 'StateEntered' &&
      e.state === 'Delete The Old Replica' &&
      (e.input as { id?: string })?.id === first,
  );
  expect(unprotect).toBeGreaterThanOrEqual(0);
  expect(deletion).toBeGreaterThan(unprotect);
  // and retention ran only after the secret had moved to the newest replica
  expect(statesEntered(last).indexOf('Point The Secret At The Replica')).toBeLessThan(
    statesEntered(last).indexOf('Select Replicas To Delete'),
  );

  await letTimePass(twin);
  const left = await managedReplicas(twin);
  expect(left.map((i) => i.DBInstanceIdentifier)).toEqual([second, third]);
  expect(left.map((i) => [i.DBInstanceStatus, i.DeletionProtection])).toEqual([
    ['available', true],
    ['available', true],
  ]);
  expect(await instance(twin, first)).toBeUndefined();
  await expectSecretPointsAt(third);
  expect(await destinationSnapshots(twin)).toEqual([]);
  expect(await noticesNow()).toEqual([]);
});

test('rolling back to "previous" points the secret at the replica that was live before and touches no instance', async () => {
  const [, second, third] = replicas as [string, string, string];
  const lambdasBefore = twin.lambda.invocations.length;
  const exec = await rollback({ database: DATABASE, to: 'previous', dryRun: false });

  expect(exec.status).toBe('SUCCEEDED');
  expect(output<RollbackOutput>(exec)).toEqual({
    database: DATABASE,
    from: third,
    to: second,
    dryRun: false,
  });
  await expectSecretPointsAt(second);
  expect(await replicaIds(twin)).toEqual([second, third]);
  expect((await managedReplicas(twin)).every((i) => i.DBInstanceStatus === 'available')).toBe(true);
  expect(invocationCounts(twin, lambdasBefore)).toEqual({ mergeSecret: 1 });
  expect(await noticesNow()).toEqual([]);
});

test('rolling back to "previous" a second time returns to where the story started', async () => {
  const [, second, third] = replicas as [string, string, string];
  const exec = await rollback({ database: DATABASE, to: 'previous' });

  expect(exec.status).toBe('SUCCEEDED');
  expect(output<RollbackOutput>(exec)).toEqual({
    database: DATABASE,
    from: second,
    to: third,
    dryRun: false,
  });
  await expectSecretPointsAt(third);
  expect(await replicaIds(twin)).toEqual([second, third]);
});

test('a rollback to a named replica points the secret at that replica', async () => {
  const [, second, third] = replicas as [string, string, string];
  const exec = await rollback({ database: DATABASE, to: second, dryRun: false });

  expect(exec.status).toBe('SUCCEEDED');
  expect(output<RollbackOutput>(exec)).toEqual({
    database: DATABASE,
    from: third,
    to: second,
    dryRun: false,
  });
  await expectSecretPointsAt(second);
  expect(await replicaIds(twin)).toEqual([second, third]);
});

test('a dry run of a rollback reports what it would do and changes nothing', async () => {
  const [, second, third] = replicas as [string, string, string];
  const before = await secretState(twin);
  const lambdasBefore = twin.lambda.invocations.length;

  const named = await rollback({ database: DATABASE, to: third, dryRun: true });
  expect(named.status).toBe('SUCCEEDED');
  expect(output<RollbackOutput>(named)).toEqual({
    database: DATABASE,
    from: second,
    to: third,
    dryRun: true,
    targetStatus: 'available',
  });
  expect(statesEntered(named)).not.toContain('Point The Secret At The Target');
  expect(statesEntered(named)).not.toContain('Record The Live Replica');

  // The recorded history did not move either: "previous" still means the same replica.
  const previous = await rollback({ database: DATABASE, to: 'previous', dryRun: true });
  expect(previous.status).toBe('SUCCEEDED');
  expect(output<RollbackOutput>(previous)).toMatchObject({ from: second, to: third, dryRun: true });

  const after = await secretState(twin);
  expect(after.versionId).toBe(before.versionId);
  expect(after.raw).toBe(before.raw);
  expect(twin.lambda.invocations.length).toBe(lambdasBefore);
  expect(await replicaIds(twin)).toEqual([second, third]);
});

test('a rollback to a stopped replica starts it, waits until it is available, then points the secret at it', async () => {
  const [, second, third] = replicas as [string, string, string];
  await twin.aws('destination').rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: third }));
  expect((await instance(twin, third))?.DBInstanceStatus).toBe('stopped');

  const exec = await rollback({ database: DATABASE, to: third });
  expect(exec.status).toBe('SUCCEEDED');
  expect(output<RollbackOutput>(exec)).toEqual({
    database: DATABASE,
    from: second,
    to: third,
    dryRun: false,
  });
  const entered = statesEntered(exec);
  expect(entered.indexOf('Start The Target Replica')).toBeGreaterThanOrEqual(0);
  expect(entered.indexOf('Point The Secret At The Target')).toBeGreaterThan(
    entered.indexOf('Describe The Starting Target'),
  );
  await expectSecretPointsAt(third);

  // back to the older replica for the rest of the story
  const back = await rollback({ database: DATABASE, to: 'previous' });
  expect(output<RollbackOutput>(back)).toMatchObject({ from: third, to: second });
  await expectSecretPointsAt(second);
});

test('after a rollback to the older replica, the next replication never deletes it: it stays, and "previous" finds it', async () => {
  const [, second, third] = replicas as [string, string, string];
  // The story so far: the operator rolled back from `third` to the older `second`.
  expect((await liveInstance()).DBInstanceIdentifier).toBe(second);

  await twin.clock.advance(DAY_MS);
  const lambdasBefore = twin.lambda.invocations.length;
  const run = await replicateOnce(twin);
  expect(run.status).toBe('SUCCEEDED');
  expect(twin.lambda.invocations.length - lambdasBefore).toBeLessThanOrEqual(4);
  const out = output<ReplicateOutput>(run);
  const fourth = out.dbInstanceIdentifier;
  replicas.push(fourth);
  expect(out.previousDbInstanceIdentifier).toBe(second);
  expect(out.retentionFailures).toEqual([]);
  await letTimePass(twin);
  await expectSecretPointsAt(fourth);
  const left = await replicaIds(twin);

  // What the operator does when the new replica is bad: roll back to "previous", which must land
  // on the replica that was live before this replication (the one they had rolled back to).
  const back = await rollback({ database: DATABASE, to: 'previous' });
  expect(failureSummary(back)).toBe(`${back.name}: SUCCEEDED  `);
  expect(output<RollbackOutput>(back)).toEqual({
    database: DATABASE,
    from: fourth,
    to: second,
    dryRun: false,
  });

  // So the replica that was live when the run began (older than `third`) is not deleted by it,
  // and keepReplicas=2 still holds: the new live one and that one stay.
  expect(out.deleted).not.toContain(second);
  expect(left).toContain(second);
  expect(left).toContain(fourth);
  expect(left).toHaveLength(2);
  expect(left).not.toContain(third);
  await expectSecretPointsAt(second);
});

test('a secret with keys the replicator does not own keeps them byte for byte while the endpoint moves', async () => {
  const live = await liveInstance();
  // Nested objects, unicode (raw and escaped), an unusual number spelling, escapes, null, booleans,
  // and a layout of its own: all of it must survive exactly, only the endpoint values change.
  const render = (e: Record<string, unknown>) =>
    [
      '{',
      `  "engine" : ${JSON.stringify(e.engine)},`,
      '  "username": "app",',
      `  "password": ${JSON.stringify(FIXTURE_PASSWORD)},`,
      '  "dbname": "orders",',
      `  "host": ${JSON.stringify(e.host)},`,
      `  "port": ${JSON.stringify(e.port)},`,
      `  "dbInstanceIdentifier": ${JSON.stringify(e.dbInstanceIdentifier)},`,
      '  "options": {"sslmode": "verify-full", "pool": {"min": 1, "max": 10.50, "tags": ["a", "b"]}},',
      '  "note": "Zürich \\u00e9t\\u00e9 – 東京 🐘",',
      '  "escaped": "line\\nbreak \\"quoted\\" \\/slash\\ttab",',
      '  "ratio": 1.0e2,',
      '  "nothing": null, "flag": true,',
      '  "empty": {}',
      '}',
    ].join('\n');
  const original = render(endpointOf(live));
  await putSecret(twin, original);
  expect((await secretState(twin)).raw).toBe(original);

  await twin.clock.advance(DAY_MS);
  const run = await replicateOnce(twin);
  expect(run.status).toBe('SUCCEEDED');
  const id = output<ReplicateOutput>(run).dbInstanceIdentifier;
  replicas.push(id);
  const replica = await instance(twin, id);

  const after = await secretState(twin);
  expect(after.raw).toBe(render(endpointOf(replica!)));
  expect(after.value.dbInstanceIdentifier).toBe(id);
  expect(after.value.note).toBe('Zürich été – 東京 🐘');
  await letTimePass(twin);
});

test('a duplicate delivery of a replication message starts no second execution; the trigger reports it as a duplicate', async () => {
  await letTimePass(twin);
  const last = destinationExecutions(twin, 'replicate').at(-1)!;
  const executionsBefore = twin.sfn.executions.size;
  const deliveriesBefore = twin.host.snsDeliveries.length;
  const invocationsBefore = twin.lambda.invocations.length;
  const logsBefore = twin.lambda.logs.length;
  const replicasBefore = await replicaIds(twin);

  // SNS delivers the same message again.
  await publishToSourceTopic(story, last.input);
  expect(twin.host.snsDeliveries.length).toBe(deliveriesBefore + 1);
  // ... and once more straight to the trigger, to read what it reports.
  const reported = await invokeTrigger(story, snsEvent(story.sourceTopicArn, last.input, 'redelivered'));
  expect(reported).toEqual({ started: [], duplicates: [last.name], rejected: [] });

  expect(twin.sfn.executions.size).toBe(executionsBefore);
  expect(destinationExecutions(twin, 'replicate').filter((e) => e.name === last.name)).toHaveLength(1);
  expect(
    twin.lambda.logs
      .slice(logsBefore)
      .filter((l) => l.function === story.triggerFunction && l.line.includes('duplicate delivery')),
  ).toHaveLength(2);
  const invocations = twin.lambda.invocations.slice(invocationsBefore);
  expect(invocations.map((i) => [i.function, i.ok, i.attempt])).toEqual([
    [story.triggerFunction, true, 1],
    [story.triggerFunction, true, 1],
  ]);
  await letTimePass(twin);
  expect(await replicaIds(twin)).toEqual(replicasBefore);
  expect(await takeFailedTriggerEvents(story)).toEqual([]);
});

test('messages from another account, from another topic or for an unknown database start nothing and are not retried', async () => {
  const last = inputOf<Record<string, string | number>>(destinationExecutions(twin, 'replicate').at(-1)!);
  // Otherwise valid messages for snapshots never seen before: only the forged part can stop them.
  const fresh = (n: number) => ({
    ...last,
    snapshotCreateTime: new Date(twin.clock.now() + n * 1000).toISOString(),
    runId: `forged-${n}`,
  });
  const otherAccount = '333333333333';
  const fromAnotherAccount = {
    ...fresh(1),
    sourceAccountId: otherAccount,
    sharedSnapshotArn: String(last.sharedSnapshotArn).replace(
      `:${twin.accounts.source}:`,
      `:${otherAccount}:`,
    ),
  };
  const forAnUnknownDatabase = { ...fresh(2), sourceDbInstanceIdentifier: 'billing-db' };
  const onAnotherTopic = fresh(3);
  const otherTopic = await twin
    .aws('source')
    .sns.send(new CreateTopicCommand({ Name: 'rds-replica-source-dev-replication-copy' }));

  const executionsBefore = twin.sfn.executions.size;
  const invocationsBefore = twin.lambda.invocations.length;
  const logsBefore = twin.lambda.logs.length;
  const failuresBefore = twin.lambda.asyncFailures.length;

  await publishToSourceTopic(story, fromAnotherAccount);
  await publishToSourceTopic(story, forAnUnknownDatabase);
  // A topic the trigger is not meant to hear from: delivered as SNS would (asynchronously).
  twin.lambda.invokeAsync(
    story.triggerFunction,
    snsEvent(otherTopic.TopicArn!, JSON.stringify(onAnotherTopic), 'other-topic'),
    { account: twin.accounts.destination, region: twin.region },
  );
  await twin.settle();
  await letTimePass(twin);

  expect(twin.sfn.executions.size).toBe(executionsBefore);
  // Three deliveries, three invocations, each the first and only attempt; nothing given up on.
  const invocations = twin.lambda.invocations.slice(invocationsBefore);
  expect(invocations.map((i) => [i.function, i.type, i.ok, i.attempt])).toEqual([
    [story.triggerFunction, 'Event', true, 1],
    [story.triggerFunction, 'Event', true, 1],
    [story.triggerFunction, 'Event', true, 1],
  ]);
  expect(twin.lambda.asyncFailures.length).toBe(failuresBefore);
  expect(await takeFailedTriggerEvents(story)).toEqual([]);

  // Each rejection is logged with the reason (naming the field), never the whole message.
  const rejections = twin.lambda.logs
    .slice(logsBefore)
    .filter((l) => l.line.includes('rejected replication message'))
    .map((l) => JSON.parse(l.line) as { reason: string });
  expect(rejections).toHaveLength(3);
  expect(rejections[0]!.reason).toMatch(/sourceAccountId/);
  expect(rejections[1]!.reason).toMatch(/sourceDbInstanceIdentifier/);
  expect(rejections[2]!.reason).toMatch(/topic/);
  expect(rejections[2]!.reason).toContain(otherTopic.TopicArn);
  expect(await noticesNow()).toEqual([]);
});

test('the database password appears in no execution input, output or history, no Lambda log line and no notice', async () => {
  const executions = [...twin.sfn.executions.values()];
  // the whole story: 5 source runs, their destination runs and the rollbacks
  expect(executions.length).toBeGreaterThanOrEqual(14);
  // Every event, raw task results (TaskSucceeded) and parameters (TaskScheduled) included.
  expect(occurrences(executions, FIXTURE_PASSWORD)).toEqual([]);
  const mergeResults = executions.flatMap((e) =>
    e.history.filter((h) => h.awsType === 'TaskSucceeded' && h.state?.startsWith('Point The Secret At')),
  );
  expect(mergeResults.length).toBeGreaterThanOrEqual(7); // the scan saw what mergeSecret returned
  expect(twin.lambda.logs.length).toBeGreaterThan(0);
  const leaking = twin.lambda.logs.filter((l) => l.line.includes(FIXTURE_PASSWORD));
  expect(leaking).toEqual([]);
  notices.push(...(await takeNotices(story)));
  expect(JSON.stringify(notices)).not.toContain(FIXTURE_PASSWORD);
  // The secret itself still holds it: the value was kept, only never shown.
  expect((await secretState(twin)).value.password).toBe(FIXTURE_PASSWORD);
});
