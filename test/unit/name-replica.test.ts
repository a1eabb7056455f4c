import { DBInstanceNotFoundFault, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { deploymentMarker } from '../../src/contracts/names';
import {
  handler as anyHandler,
  type NameReplicaResult,
  namePrefix,
} from '../../src/functions/name-replica/handler';
import { captureLogs } from './capture-logs';

const rds = mockClient(RDSClient);
const secrets = mockClient(SecretsManagerClient);
const logs = captureLogs();
const handler = (event: unknown) => anyHandler(event) as Promise<NameReplicaResult>;
const DEPLOYMENT = 'rds-replica-destination-dev';
const MARK = deploymentMarker(DEPLOYMENT);

const SECRET_ID = 'rds-replica/orders-db';
const PASSWORD = 'hunter2-very-secret';
const secretString = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    engine: 'postgres',
    username: 'app',
    password: PASSWORD,
    host: 'h',
    port: 5432,
    ...extra,
  });
const input = { database: 'orders-db', snapshotCreateTime: '2026-11-23T19:21:47.123Z', secretId: SECRET_ID };
const notFound = () => new DBInstanceNotFoundFault({ message: 'DBInstance not found', $metadata: {} });

/** Instances that exist in the account. */
function existing(...ids: string[]) {
  rds.on(DescribeDBInstancesCommand).callsFake((i: { DBInstanceIdentifier?: string }) => {
    if (ids.includes(i.DBInstanceIdentifier ?? ''))
      return { DBInstances: [{ DBInstanceIdentifier: i.DBInstanceIdentifier }] };
    throw notFound();
  });
}

beforeEach(() => {
  rds.reset();
  secrets.reset();
  delete process.env.INSTANCE_NAME_PREFIX;
  process.env.DEPLOYMENT_ID = DEPLOYMENT;
});

describe('nameReplica', () => {
  it('names the first replica after the database and the deployment, and reports no live instance', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: secretString(), VersionId: 'v1' });
    existing();
    await expect(handler(input)).resolves.toEqual({
      dbInstanceIdentifier: `orders-db-${MARK}-20261123t192147`,
      liveDbInstanceIdentifier: null,
    });
    expect(secrets).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: SECRET_ID });
  });

  it('returns the live instance from the secret and skips taken names', async () => {
    secrets.on(GetSecretValueCommand).resolves({
      SecretString: secretString({ dbInstanceIdentifier: `orders-db-${MARK}-20261123t192147` }),
    });
    existing(`orders-db-${MARK}-20261123t192147`, `orders-db-${MARK}-20261123t192147-2`);
    await expect(handler(input)).resolves.toEqual({
      dbInstanceIdentifier: `orders-db-${MARK}-20261123t192147-3`,
      liveDbInstanceIdentifier: `orders-db-${MARK}-20261123t192147`,
    });
    expect(rds).toHaveReceivedCommandTimes(DescribeDBInstancesCommand, 3);
  });

  it('after a name a restore met taken, picks the next free name of the sequence', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: secretString() });
    existing(`orders-db-${MARK}-20261123t192147-3`);
    await expect(handler({ ...input, after: `ORDERS-DB-${MARK}-20261123t192147-2` })).resolves.toMatchObject({
      dbInstanceIdentifier: `orders-db-${MARK}-20261123t192147-4`,
    });
    expect(rds).toHaveReceivedCommandTimes(DescribeDBInstancesCommand, 2);
    await expect(handler({ ...input, after: 'a--b' })).rejects.toThrow(
      expect.objectContaining({ name: 'InvalidInput', message: expect.stringContaining("'after'") }),
    );
  });

  it("mode 'where' only reads where the secret points: no RDS call, no name, no secret data", async () => {
    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: secretString({ dbInstanceIdentifier: 'orders-db-live' }) });
    const out = await anyHandler({ database: 'orders-db', secretId: SECRET_ID, mode: 'where' });
    expect(out).toEqual({ liveDbInstanceIdentifier: 'orders-db-live' });
    expect(rds).not.toHaveReceivedCommand(DescribeDBInstancesCommand);
    expect(logs.text()).not.toContain(PASSWORD);
    await expect(anyHandler({ ...input, mode: 'delete' })).rejects.toThrow(
      expect.objectContaining({ name: 'InvalidInput', message: expect.stringContaining("'mode'") }),
    );
  });

  it('uses the template INSTANCE_NAME_PREFIX, and an input prefix before it; the database and marker are always in', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: secretString() });
    existing();
    process.env.INSTANCE_NAME_PREFIX = 'replica-{database}';
    expect((await handler(input)).dbInstanceIdentifier).toBe(`replica-orders-db-${MARK}-20261123t192147`);
    expect((await handler({ ...input, prefix: 'ord' })).dbInstanceIdentifier).toBe(
      `ord-orders-db-${MARK}-20261123t192147`,
    );
    expect(namePrefix('x', undefined, undefined, DEPLOYMENT)).toBe(`x-${MARK}`);
    expect(() => namePrefix('x', 'Bad_{database}', undefined, DEPLOYMENT)).toThrow(
      expect.objectContaining({
        name: 'InvalidConfiguration',
        message: expect.stringContaining('instanceNamePrefix'),
      }),
    );
  });

  it('fails with InvalidSecret before looking at RDS when the secret lacks a required key', async () => {
    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ username: 'app', host: 'h' }) });
    await expect(handler(input)).rejects.toThrow(
      expect.objectContaining({
        name: 'InvalidSecret',
        message: "secret rds-replica/orders-db has no key 'password' (expected the standard RDS secret JSON)",
      }),
    );
    expect(rds).not.toHaveReceivedCommand(DescribeDBInstancesCommand);
  });

  it('fails with InvalidSecret on a secret that is not JSON, without quoting it', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: `password=${PASSWORD}` });
    const error = await handler(input).catch((e: Error) => e);
    expect(error).toEqual(expect.objectContaining({ name: 'InvalidSecret' }));
    expect((error as Error).message).not.toContain(PASSWORD);
  });

  it.each([
    [{ ...input, database: 'orders--db' }, /'database'.*two consecutive hyphens/],
    [{ ...input, snapshotCreateTime: 'yesterday' }, /'snapshotCreateTime' must be an RFC 3339 date-time/],
    [{ ...input, secretId: '' }, /'secretId' must be a non-empty string/],
    ['not an object', /must be a JSON object/],
  ])('rejects bad input %# with InvalidInput naming the field', async (bad, message) => {
    await expect(handler(bad)).rejects.toThrow(
      expect.objectContaining({ name: 'InvalidInput', message: expect.stringMatching(message) }),
    );
    expect(secrets).not.toHaveReceivedCommand(GetSecretValueCommand);
  });

  it('reports a missing secret as InvalidSecret naming it, and lets RDS throttling through', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejects(new ResourceNotFoundException({ message: 'no such secret', $metadata: {} }));
    await expect(handler(input)).rejects.toThrow(
      expect.objectContaining({ name: 'InvalidSecret', message: expect.stringContaining(input.secretId) }),
    );
    secrets.on(GetSecretValueCommand).resolves({ SecretString: secretString() });
    rds.on(DescribeDBInstancesCommand).rejects(Object.assign(new Error('slow down'), { name: 'Throttling' }));
    await expect(handler(input)).rejects.toThrow('slow down');
  });

  it('never logs or returns the secret value', async () => {
    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: secretString({ dbInstanceIdentifier: 'orders-db-1' }) });
    existing();
    const result = await handler(input);
    expect(JSON.stringify(result)).not.toContain(PASSWORD);
    expect(logs.text()).toContain('named replica');
    expect(logs.text()).not.toContain(PASSWORD);
  });
});
