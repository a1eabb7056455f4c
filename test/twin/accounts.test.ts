// Any number of accounts and Regions on the twin (issue 11, point 6): `deploy` takes an account and
// a Region per stack, so two destination accounts, two stages in one account and a destination in
// another Region than the source are ordinary set-ups. Each replicates end to end (source run ->
// SNS -> each trigger -> each destination run), with IAM evaluated, and each destination's secret
// ends up pointing at a replica of its own account, Region and deployment.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { CreateSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { replicaPrefix } from '../../src/contracts/names';
import { type DeployedStack, type ExecutionRecord, startTwin, type Twin } from '../../twin/src';
import { createDestinationNetwork, createSourceDatabase, seedSecret } from '../../twin/src/fixtures';
import { DATABASE, SECRET_NAME, TAG } from './helpers/destination';

let twin: Twin;
const SOURCE = '111111111111';
const SECOND = '222222222222';
const THIRD = '333333333333';

beforeAll(async () => {
  twin = await startTwin();
}, 120_000);

beforeEach(async () => {
  await twin.reset();
  await createSourceDatabase(twin, { id: DATABASE, encryption: 'aws/rds' });
});

afterAll(async () => {
  await twin?.stop();
});

/** The `replicate` executions of one destination stack. */
function runsOf(stack: DeployedStack): ExecutionRecord[] {
  const arn = twin.machineArn(stack, 'replicate');
  return [...twin.sfn.executions.values()].filter((e) => e.stateMachineArn === arn);
}

/** Where the stack's secret points, and that instance as its account sees it. */
async function liveReplicaOf(stack: DeployedStack, secretId = SECRET_NAME) {
  const clients = twin.aws(stack.account, stack.region);
  const secret = JSON.parse(
    (await clients.secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString!,
  ) as Record<string, string>;
  const id = secret.dbInstanceIdentifier!;
  const { DBInstances } = await clients.rds.send(
    new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }),
  );
  const instance = DBInstances![0]!;
  return {
    id,
    arn: instance.DBInstanceArn!,
    status: instance.DBInstanceStatus,
    managedBy: (instance.TagList ?? []).find((t) => t.Key === TAG.managedBy)?.Value,
    host: secret.host,
  };
}

async function replicate(): Promise<ExecutionRecord> {
  const source = await twin.run('source', 'replicate', { databases: [DATABASE] });
  expect([source.status, source.error, source.cause]).toEqual(['SUCCEEDED', undefined, undefined]);
  return source;
}

test('two destination accounts subscribed to one source: one source run replicates into both', async () => {
  const source = await twin.deploy('source', { params: { destinationAccountIds: `${SECOND},${THIRD}` } });
  const destinations: DeployedStack[] = [];
  for (const account of [SECOND, THIRD]) {
    const network = await createDestinationNetwork(twin, 'replica-subnets', { account });
    destinations.push(
      await twin.deploy('destination', {
        account,
        params: { sourceKmsKeyArn: source.outputs.KmsKeyArn!, vpcSecurityGroupIds: network.securityGroupId },
      }),
    );
    await seedSecret(twin, SECRET_NAME, {}, { account });
  }

  await replicate();

  expect(destinations.map((d) => d.account)).toEqual([SECOND, THIRD]);
  for (const stack of destinations) {
    const runs = runsOf(stack);
    expect(runs.map((r) => [r.status, r.account])).toEqual([['SUCCEEDED', stack.account]]);
    const live = await liveReplicaOf(stack);
    expect(live.arn).toBe(`arn:aws:rds:${twin.region}:${stack.account}:db:${live.id}`);
    expect(live.status).toBe('available');
    expect(live.managedBy).toBe('rds-replica-destination-dev');
  }
  expect(twin.iam.denials).toEqual([]);
});

test('two stages of the destination in one account: each keeps its own replicas, names and secret', async () => {
  const source = await twin.deploy('source');
  const network = await createDestinationNetwork(twin);
  const sourceKmsKeyArn = source.outputs.KmsKeyArn!;
  const dev = await twin.deploy('destination', {
    params: { sourceKmsKeyArn, vpcSecurityGroupIds: network.securityGroupId },
  });
  await seedSecret(twin, SECRET_NAME);
  // The second stage cannot create rds-replica/orders-db again: it is given a secret of its own.
  const qaSecret = 'qa/orders-db';
  await twin.aws(SECOND).secrets.send(
    new CreateSecretCommand({
      Name: qaSecret,
      SecretString: JSON.stringify({ username: 'app', password: 'qa' }),
    }),
  );
  const qa = await twin.deploy('destination', {
    stage: 'qa',
    params: {
      sourceAccountId: SOURCE,
      sourceRegion: twin.region,
      // By default a stage follows the source stage of its own name (rds-replica-source-qa).
      sourceTopicArn: source.outputs.ReplicationTopicArn!,
      sourceKmsKeyArn,
      databases: DATABASE,
      dbInstanceClass: 'db.t4g.micro',
      dbSubnetGroupName: 'replica-subnets',
      vpcSecurityGroupIds: 'sg-0123456789abcdef0',
      instanceNamePrefix: 'qa-{database}',
      secretArns: `${DATABASE}=arn:aws:secretsmanager:${twin.region}:${SECOND}:secret:${qaSecret}`,
    },
  });

  await replicate();

  expect([dev.account, qa.account]).toEqual([SECOND, SECOND]);
  expect(runsOf(dev).map((r) => r.status)).toEqual(['SUCCEEDED']);
  expect(runsOf(qa).map((r) => r.status)).toEqual(['SUCCEEDED']);
  const devLive = await liveReplicaOf(dev);
  const qaLive = await liveReplicaOf(qa, qaSecret);
  // Each name carries its own deployment's marker (src/contracts/names.ts), so neither stage can
  // take the other's replicas for its own.
  const devPrefix = replicaPrefix(undefined, DATABASE, 'rds-replica-destination-dev');
  const qaPrefix = replicaPrefix('qa-{database}', DATABASE, 'rds-replica-destination-qa');
  expect(devPrefix).toMatch(/^orders-db-rr[0-9a-f]{6}$/);
  expect(qaPrefix).toMatch(/^qa-orders-db-rr[0-9a-f]{6}$/);
  expect(devLive.id).toMatch(new RegExp(`^${devPrefix}-\\d{8}t\\d{6}$`));
  expect(qaLive.id).toMatch(new RegExp(`^${qaPrefix}-\\d{8}t\\d{6}$`));
  expect(devLive.managedBy).toBe('rds-replica-destination-dev');
  expect(qaLive.managedBy).toBe('rds-replica-destination-qa');
  expect(twin.iam.denials).toEqual([]);
});

test('a destination in another Region than the source: the copy crosses account and Region in one call', async () => {
  const region = 'eu-central-1';
  // The source lists the Region the destination copies into: only there may a destination account
  // subscribe its trigger and use the shared key through RDS.
  const source = await twin.deploy('source', { params: { destinationRegions: region } });
  await createDestinationNetwork(twin, 'replica-subnets', { region });
  const destination = await twin.deploy('destination', {
    region,
    params: { region, sourceRegion: twin.region, sourceKmsKeyArn: source.outputs.KmsKeyArn! },
  });
  await seedSecret(twin, SECRET_NAME, {}, { region });

  await replicate();

  expect(destination.region).toBe(region);
  const runs = runsOf(destination);
  expect(runs.map((r) => [r.status, r.region])).toEqual([['SUCCEEDED', region]]);
  const copy = runs[0]!.history.find(
    (e) => e.type === 'StateEntered' && e.state === 'Copy The Shared Snapshot',
  );
  expect(JSON.stringify(copy?.input)).toContain(`arn:aws:rds:${twin.region}:${SOURCE}:snapshot:`);
  const live = await liveReplicaOf(destination);
  expect(live.arn).toBe(`arn:aws:rds:${region}:${SECOND}:db:${live.id}`);
  expect(live.status).toBe('available');
  expect(twin.iam.denials).toEqual([]);
});

test('a destination in a Region the source does not list in destinationRegions cannot subscribe its trigger', async () => {
  const region = 'eu-central-1';
  // destinationRegions empty: the destinations copy into the source's own Region only.
  const source = await twin.deploy('source');
  await createDestinationNetwork(twin, 'replica-subnets', { region });
  await expect(
    twin.deploy('destination', {
      region,
      params: { region, sourceRegion: twin.region, sourceKmsKeyArn: source.outputs.KmsKeyArn! },
    }),
  ).rejects.toThrow(
    /SourceTopicSubscription .*sns:Subscribe.*condition ArnLike sns:Endpoint \["arn:aws:lambda:eu-west-1:222222222222:function:rds-replica-destination-\*-trigger"\] not met/,
  );
  expect(twin.iam.denials.map((d) => d.action)).toContain('sns:Subscribe');
});
