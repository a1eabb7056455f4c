// Replica names never collide (issue 9, point 5), on the offline twin: two databases of one
// deployment replicated from snapshots of the same second, at the same time, with a name prefix that
// does not mention the database; and a 63-character database identifier with the default settings.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { randomUUID } from 'node:crypto';
import { CreateDBSnapshotCommand, ModifyDBSnapshotAttributeCommand } from '@aws-sdk/client-rds';
import { replicaNameCandidates, replicaPrefix } from '../../src/contracts/names';
import { startTwin, type Twin } from '../../twin/src';
import {
  createDestinationNetwork,
  createSourceDatabase,
  readSecret,
  seedSecret,
} from '../../twin/src/fixtures';
import {
  DEPLOYMENT_ID,
  failureSummary,
  instances,
  letTimePass,
  secretNameOf,
  TAG,
} from './helpers/destination';

const LONG_DB = `analytics-${'x'.repeat(48)}-db63`;
const SNAPSHOT_TIME = '2026-11-23T19:21:47.123Z';

let twin: Twin;

beforeAll(async () => {
  expect(LONG_DB).toHaveLength(63);
  twin = await startTwin();
}, 60_000);

afterAll(async () => {
  await twin?.stop();
});

/** Source stack, destination network and stack with `params`, and a secret per database. */
async function deploy(databases: string[], params: Record<string, string> = {}) {
  await twin.reset();
  const source = await twin.deploy('source');
  const network = await createDestinationNetwork(twin);
  await twin.deploy('destination', {
    params: {
      vpcSecurityGroupIds: network.securityGroupId,
      databases: databases.join(','),
      sourceKmsKeyArn: source.outputs.KmsKeyArn!,
      ...params,
    },
  });
  for (const db of databases) await seedSecret(twin, secretNameOf(db));
  return source.outputs.KmsKeyArn!;
}

/** A shared snapshot of a new source database and the message that announces it. */
async function sharedSnapshotOf(database: string, keyArn: string) {
  await createSourceDatabase(twin, { id: database, encryption: keyArn });
  await letTimePass(twin);
  const { rds } = twin.aws('source');
  const name = `manual-${database}`.slice(0, 200);
  await rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: database, DBSnapshotIdentifier: name }));
  await letTimePass(twin);
  await rds.send(
    new ModifyDBSnapshotAttributeCommand({
      DBSnapshotIdentifier: name,
      AttributeName: 'restore',
      ValuesToAdd: [twin.accounts.destination],
    }),
  );
  return {
    version: 1,
    sourceAccountId: twin.accounts.source,
    sourceRegion: twin.region,
    sourceDbInstanceIdentifier: database,
    engine: 'postgres',
    engineVersion: '16.4',
    sharedSnapshotArn: `arn:aws:rds:${twin.region}:${twin.accounts.source}:snapshot:${name}`,
    snapshotCreateTime: SNAPSHOT_TIME,
    runId: randomUUID(),
  };
}

test('two databases, snapshots of the same second, replicated at the same time, prefix without {database}: distinct replicas', async () => {
  const key = await deploy(['orders-db', 'billing-db'], { instanceNamePrefix: 'replica' });
  const orders = await sharedSnapshotOf('orders-db', key);
  const billing = await sharedSnapshotOf('billing-db', key);
  const a = twin.start('destination', 'replicate', orders);
  const b = twin.start('destination', 'replicate', billing);
  await twin.settle();
  expect([a.status, a.error, a.cause]).toEqual(['SUCCEEDED', undefined, undefined]);
  expect([b.status, b.error, b.cause]).toEqual(['SUCCEEDED', undefined, undefined]);
  const ordersLive = String((await readSecret(twin, secretNameOf('orders-db'))).dbInstanceIdentifier);
  const billingLive = String((await readSecret(twin, secretNameOf('billing-db'))).dbInstanceIdentifier);
  expect(ordersLive).not.toBe(billingLive);
  // Each is the first name of its database's own sequence (no `-2` needed: no collision at all).
  expect(ordersLive).toBe(
    replicaNameCandidates(replicaPrefix('replica', 'orders-db', DEPLOYMENT_ID), SNAPSHOT_TIME)[0],
  );
  expect(billingLive).toBe(
    replicaNameCandidates(replicaPrefix('replica', 'billing-db', DEPLOYMENT_ID), SNAPSHOT_TIME)[0],
  );
  const byId = new Map((await instances(twin)).map((i) => [i.DBInstanceIdentifier!, i]));
  for (const [db, live] of [
    ['orders-db', ordersLive],
    ['billing-db', billingLive],
  ]) {
    const tags = Object.fromEntries((byId.get(live!)?.TagList ?? []).map((t) => [t.Key, t.Value]));
    expect(tags[TAG.sourceDatabase]).toBe(db);
    expect(byId.get(live!)?.DBInstanceStatus).toBe('available');
  }
});

test('a 63-character database identifier replicates with the default settings', async () => {
  const key = await deploy(['orders-db', LONG_DB]);
  const exec = await twin.run('destination', 'replicate', await sharedSnapshotOf(LONG_DB, key));
  if (exec.status !== 'SUCCEEDED') throw new Error(failureSummary(exec));
  const live = String((await readSecret(twin, secretNameOf(LONG_DB))).dbInstanceIdentifier);
  expect(live.length).toBeLessThanOrEqual(63);
  expect(live).toMatch(/^analytics-x+-[0-9a-f]{6}-rr[0-9a-f]{6}-20261123t192147$/);
  const replica = (await instances(twin)).find((i) => i.DBInstanceIdentifier === live);
  expect(replica?.DBInstanceStatus).toBe('available');
});
