// The database secret the destination stack creates, on the twin (issue 9, point 8): it is created
// empty, under a name carrying the stage and the stack id; a replication refuses it, creating
// nothing, until the operator puts the credentials in; then it goes live and keeps them. That no
// deploy can ever rewrite it, and that a second stage or a redeploy after `sls remove` gets a name of
// its own, is proven on the templates (test/template/destination.test.ts, "deploys never rewrite a
// secret"): the twin cannot remove a stack.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { DescribeSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { type DeployedStack, startTwin, type Twin } from '../../twin/src';
import {
  createDestinationNetwork,
  createSourceDatabase,
  FIXTURE_PASSWORD,
  readSecret,
  seedSecret,
} from '../../twin/src/fixtures';
import {
  DATABASE,
  destinationSnapshots,
  failureSummary,
  instances,
  letTimePass,
  replicateFromSource,
  SECRET_NAME,
  statesEntered,
} from './helpers/destination';

let twin: Twin;
let destination: DeployedStack;
let secretArn: string;

beforeAll(async () => {
  twin = await startTwin();
  await createSourceDatabase(twin, { id: DATABASE, encryption: 'aws/rds' });
  const network = await createDestinationNetwork(twin);
  const source = await twin.deploy('source');
  destination = await twin.deploy('destination', {
    params: { vpcSecurityGroupIds: network.securityGroupId, sourceKmsKeyArn: source.outputs.KmsKeyArn! },
  });
  secretArn = destination.outputs.DatabaseSecretOrdersDashdbArn!;
}, 120_000);

afterAll(async () => {
  await twin?.stop();
});

test('the stack creates the secret empty, named after the stage and the stack', async () => {
  const { secrets } = twin.aws('destination');
  const described = await secrets.send(new DescribeSecretCommand({ SecretId: secretArn }));
  expect(described.Name).toBe(SECRET_NAME);
  expect(SECRET_NAME).toBe('rds-replica/dev/orders-db-twin'); // the twin's stack id ends in `twin`
  await expect(secrets.send(new GetSecretValueCommand({ SecretId: secretArn }))).rejects.toMatchObject({
    name: 'ResourceNotFoundException',
  });
});

test('a replication refuses the empty secret with InvalidSecret naming it, and creates nothing', async () => {
  const { source, destination: runs } = await replicateFromSource(twin);
  expect(source.status).toBe('SUCCEEDED');
  expect(runs).toHaveLength(1);
  const run = runs[0]!;
  expect({ status: run.status, error: run.error }).toEqual({ status: 'FAILED', error: 'InvalidSecret' });
  expect(run.cause).toContain(secretArn);
  expect(statesEntered(run)).not.toContain('Copy The Shared Snapshot');
  expect(statesEntered(run)).not.toContain('Restore The Replica');
  await letTimePass(twin);
  expect(await instances(twin)).toEqual([]);
  expect(await destinationSnapshots(twin)).toEqual([]);
  // still empty: nothing wrote into it
  await expect(
    twin.aws('destination').secrets.send(new GetSecretValueCommand({ SecretId: secretArn })),
  ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
});

test('once the operator puts the credentials in, the next replication goes live and keeps them', async () => {
  await seedSecret(twin, secretArn);
  const { destination: runs } = await replicateFromSource(twin);
  expect(runs.map(failureSummary)).toEqual([expect.stringMatching(/ SUCCEEDED /)]);
  const value = await readSecret(twin, secretArn);
  expect(value.password).toBe(FIXTURE_PASSWORD);
  expect(value.username).toBe('app');
  const live = (await instances(twin)).map((i) => i.DBInstanceIdentifier);
  expect(live).toEqual([value.dbInstanceIdentifier]);
});
