process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

// Source retention never deletes a shared copy a destination may still be copying (issue 9,
// point 6). RDS: deleting a source snapshot while a copy of it is still `copying` can make that copy
// fail (the twin makes it fail). The rule: a recorded copy beyond keepSharedSnapshots is deleted only
// once it was shared more than destinationCopyGraceMinutes ago (default 1500: the destinations'
// default maxWaitMinutes, 1440, plus an hour for sharing, delivery and the trigger's retries).
//
// Story, both services on one twin, the source keeping a single copy: a first source run shares
// copy 1 and the destination starts copying it, slowly (its copy never finishes while a fault
// holds it); a second source run shortly after shares copy 2, and its retention must leave copy 1
// alone; the destination copy then completes and the replica goes live. A third source run, once
// the grace has passed, deletes copy 1.
import { type ExecutionRecord, startTwin, type Twin } from '../../twin/src';
import {
  DATABASE,
  DEPLOYMENT_ID as DESTINATION_DEPLOYMENT_ID,
  destinationExecutions,
  statesEntered as destinationStatesEntered,
  failureSummary,
  HOUR_MS,
  inputOf,
  secretState,
  setUpStory,
} from './helpers/destination';
import { childOf, outcomeOf, sharedPrefix, snapshotIdsOf, statesEntered } from './helpers/source';

const GRACE_MINUTES = 1500;

let twin: Twin;

beforeAll(async () => {
  twin = await startTwin();
  await setUpStory(twin, {}, { keepSharedSnapshots: '1' });
}, 120_000);

afterAll(async () => {
  // A failed assertion may leave the slow destination run polling: let it end first.
  await twin?.moto.control.clearFaults();
  await twin?.settle();
  await twin?.stop();
});

/** Starts a source run and waits for it alone (not for the destination runs it sets off). */
async function sourceRun(name: string): Promise<ExecutionRecord> {
  const exec = twin.start('source', 'replicate', { databases: [DATABASE] }, name);
  await exec.done;
  if (exec.status !== 'SUCCEEDED') throw new Error(failureSummary(exec));
  return exec;
}

/** The destination run started for a source run's message. */
async function destinationRunFor(source: ExecutionRecord): Promise<ExecutionRecord> {
  for (let i = 0; i < 200; i++) {
    const found = destinationExecutions(twin, 'replicate').find((e) => inputOf(e).runId === source.name);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no destination run for ${source.name}`);
}

test('a copy a slow destination is still copying survives the next source run; a run after the grace deletes it', async () => {
  // The destination's copies stay `copying` until the fault is cleared.
  await twin.moto.control.addFault({
    kind: 'never-finishes',
    resource: 'snapshot',
    match: `${DESTINATION_DEPLOYMENT_ID}-*`,
    account: twin.accounts.destination,
  });

  const first = await sourceRun('close-first');
  const copy1 = outcomeOf(first, DATABASE).sharedSnapshotId!;
  const slow = await destinationRunFor(first);
  expect(slow.status).toBe('RUNNING');

  const second = await sourceRun('close-second');
  const copy2 = outcomeOf(second, DATABASE).sharedSnapshotId!;
  expect(copy1).toMatch(new RegExp(`^${sharedPrefix(DATABASE)}`));
  expect(copy2).not.toBe(copy1);
  // keepSharedSnapshots=1 makes copy 1 due, but it was shared minutes ago: it stays.
  expect(outcomeOf(second, DATABASE).retention).toEqual([
    { snapshotId: copy2, action: 'kept' },
    expect.objectContaining({ snapshotId: copy1, action: 'deferred', graceMinutes: GRACE_MINUTES }),
  ]);
  expect(statesEntered(childOf(twin, second, DATABASE))).not.toContain('Delete Old Shared Copy');
  expect(await snapshotIdsOf(twin, DATABASE)).toEqual([copy1, copy2].sort());

  // The slow copy completes: the destination run that was copying copy 1 goes live with it.
  await twin.moto.control.clearFaults();
  await twin.settle();
  expect(failureSummary(slow)).toBe(`${slow.name}: SUCCEEDED  `);
  expect(destinationStatesEntered(slow)).toContain('Point The Secret At The Replica');
  expect((await secretState(twin)).value.dbInstanceIdentifier).toBe(
    JSON.parse(slow.output!).dbInstanceIdentifier,
  );

  // Once the grace has passed, the next run deletes both copies beyond retention.
  await twin.clock.advance(GRACE_MINUTES * 60_000 + HOUR_MS);
  const third = await twin.run('source', 'replicate', { databases: [DATABASE] }, 'after-grace');
  expect(failureSummary(third)).toBe('after-grace: SUCCEEDED  ');
  const copy3 = outcomeOf(third, DATABASE).sharedSnapshotId!;
  expect(outcomeOf(third, DATABASE).retention).toEqual([
    { snapshotId: copy3, action: 'kept' },
    { snapshotId: copy2, action: 'deleted' },
    { snapshotId: copy1, action: 'deleted' },
  ]);
  await twin.settle();
  expect(await snapshotIdsOf(twin, DATABASE)).toEqual([copy3]);
});
