import {
  type DBInstance,
  DBInstanceNotFoundFault,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import contract from '../../src/contracts/contract.json';
import { clientRequestToken, handler } from '../../src/functions/merge-secret/handler';
import { captureLogs } from './capture-logs';

const rds = mockClient(RDSClient);
const secrets = mockClient(SecretsManagerClient);
const logs = captureLogs();

const DEPLOYMENT = 'rds-replica-destination-prod';
const SECRET_ID = 'rds-replica/orders-db';
const PASSWORD = 'hunter2-p@ss"word';
const NEW = 'orders-db-20261123t192147';
const OLD = 'orders-db-20261001t000000';
const HOST = `${NEW}.abcdefgh.eu-west-1.rds.amazonaws.com`;

const tags = (over: Record<string, string | undefined> = {}) =>
  Object.entries({
    [contract.tagKeys.managedBy]: DEPLOYMENT,
    [contract.tagKeys.kind]: contract.kinds.replica,
    [contract.tagKeys.sourceDatabase]: 'orders-db',
    [contract.tagKeys.snapshotTime]: '2026-11-23T19:21:47.123Z',
    ...over,
  })
    .filter(([, v]) => v !== undefined)
    .map(([Key, Value]) => ({ Key, Value }));

const instance = (over: Partial<DBInstance> = {}): DBInstance => ({
  DBInstanceIdentifier: NEW,
  DBInstanceStatus: 'available',
  Engine: 'postgres',
  Endpoint: { Address: HOST, Port: 5432 },
  TagList: tags(),
  ...over,
});

const oldSecret =
  `{\n  "engine": "postgres",\n  "host": "${OLD}.abcdefgh.eu-west-1.rds.amazonaws.com",\n  "port": 5432,\n` +
  `  "username": "app",\n  "password": ${JSON.stringify(PASSWORD)},\n  "dbname": "orders",\n` +
  `  "dbInstanceIdentifier": "${OLD}",\n  "notes": "caf\\u00e9 \\ud83d\\ude00"\n}`;

const input = { secretId: SECRET_ID, dbInstanceIdentifier: NEW, database: 'orders-db' };

beforeEach(() => {
  rds.reset();
  secrets.reset();
  process.env.DEPLOYMENT_ID = DEPLOYMENT;
  rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
  secrets.on(GetSecretValueCommand).resolves({ SecretString: oldSecret, VersionId: 'version-1' });
  secrets.on(PutSecretValueCommand).resolves({ VersionId: 'version-2' });
});

describe('mergeSecret', () => {
  it('points the secret at the replica, keeping every other byte, and returns only endpoint facts', async () => {
    const result = await handler({ ...input, expectedLive: OLD });
    expect(result).toEqual({
      previousDbInstanceIdentifier: OLD,
      dbInstanceIdentifier: NEW,
      host: HOST,
      port: 5432,
    });
    const put = secrets.commandCalls(PutSecretValueCommand)[0]!.args[0].input;
    expect(put.SecretId).toBe(SECRET_ID);
    expect(put.SecretString).toBe(oldSecret.replaceAll(OLD, NEW));
    expect(put.ClientRequestToken).toBe(clientRequestToken(NEW, 'version-1'));
    expect(put.ClientRequestToken).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(rds).toHaveReceivedCommandWith(DescribeDBInstancesCommand, { DBInstanceIdentifier: NEW });
  });

  it('never returns or logs the secret value', async () => {
    const result = await handler(input);
    expect(JSON.stringify(result)).not.toContain('hunter2');
    expect(logs.text()).toContain('pointed secret at replica');
    expect(logs.text()).not.toContain('hunter2');
  });

  it('derives the token from the replica and the replaced version', () => {
    expect(clientRequestToken(NEW, 'v1')).toBe(clientRequestToken(NEW.toUpperCase(), 'v1'));
    expect(clientRequestToken(NEW, 'v1')).not.toBe(clientRequestToken(NEW, 'v2'));
    expect(clientRequestToken(NEW, 'v1')).not.toBe(clientRequestToken(OLD, 'v1'));
  });

  it('is idempotent: a retry after success writes nothing and still reports the previous instance', async () => {
    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: oldSecret.replaceAll(OLD, NEW), VersionId: 'version-2' });
    const result = await handler({ ...input, expectedLive: OLD });
    expect(result.previousDbInstanceIdentifier).toBe(OLD);
    expect(secrets).not.toHaveReceivedCommand(PutSecretValueCommand);
  });

  it('without expectedLive, a retry reads the previous instance from the AWSPREVIOUS version', async () => {
    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: oldSecret.replaceAll(OLD, NEW), VersionId: 'version-2' })
      .on(GetSecretValueCommand, { SecretId: SECRET_ID, VersionStage: 'AWSPREVIOUS' })
      .resolves({ SecretString: oldSecret, VersionId: 'version-1' });
    const result = await handler(input);
    expect(result.previousDbInstanceIdentifier).toBe(OLD);
    expect(secrets).not.toHaveReceivedCommand(PutSecretValueCommand);
  });

  it('fails with SecretChanged, writing nothing, when the secret moved since the run began', async () => {
    await expect(handler({ ...input, expectedLive: 'orders-db-20260901t000000' })).rejects.toThrow(
      expect.objectContaining({
        name: 'SecretChanged',
        message: expect.stringContaining(`points at ${OLD}`),
      }),
    );
    await expect(handler({ ...input, expectedLive: null })).rejects.toThrow(
      expect.objectContaining({ name: 'SecretChanged' }),
    );
    expect(secrets).not.toHaveReceivedCommand(PutSecretValueCommand);
  });

  it('accepts expectedLive null on the first replication', async () => {
    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: '{"username":"app","password":"x"}', VersionId: 'v0' });
    const result = await handler({ ...input, expectedLive: null });
    expect(result.previousDbInstanceIdentifier).toBeNull();
    const written = JSON.parse(secrets.commandCalls(PutSecretValueCommand)[0]!.args[0].input.SecretString!);
    expect(written).toEqual({
      username: 'app',
      password: 'x',
      host: HOST,
      port: 5432,
      dbInstanceIdentifier: NEW,
      engine: 'postgres',
    });
  });

  const describes = (i: DBInstance) => () =>
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [i] });
  const otherDeployment = tags({ [contract.tagKeys.managedBy]: 'rds-replica-destination-dev' });
  const notFound = new DBInstanceNotFoundFault({ message: 'nope', $metadata: {} });
  it.each([
    ['missing', () => rds.on(DescribeDBInstancesCommand).rejects(notFound), 'ReplicaNotFound'],
    [
      'still creating',
      describes(instance({ DBInstanceStatus: 'creating', Endpoint: undefined })),
      'ReplicaNotReady',
    ],
    ['without endpoint', describes(instance({ Endpoint: undefined })), 'ReplicaNotReady'],
    ['managed by another deployment', describes(instance({ TagList: otherDeployment })), 'ReplicaNotManaged'],
    [
      'of another database',
      describes(instance({ TagList: tags({ [contract.tagKeys.sourceDatabase]: 'billing-db' }) })),
      'ReplicaNotManaged',
    ],
    [
      'not tagged as a replica',
      describes(instance({ TagList: tags({ [contract.tagKeys.kind]: undefined }) })),
      'ReplicaNotManaged',
    ],
    ['untagged', describes(instance({ TagList: [] })), 'ReplicaNotManaged'],
  ])('refuses an instance that is %s and leaves the secret alone', async (_label, arrange, name) => {
    arrange();
    await expect(handler(input)).rejects.toThrow(
      expect.objectContaining({ name, message: expect.stringContaining(NEW) }),
    );
    expect(secrets).not.toHaveReceivedCommand(PutSecretValueCommand);
  });

  it('fails with InvalidSecret when the secret is not the standard RDS JSON', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"user":"app"}', VersionId: 'v' });
    await expect(handler(input)).rejects.toThrow(expect.objectContaining({ name: 'InvalidSecret' }));
    expect(secrets).not.toHaveReceivedCommand(PutSecretValueCommand);
  });

  it('rejects bad input and missing configuration', async () => {
    await expect(handler({ ...input, dbInstanceIdentifier: 'Bad_Name' })).rejects.toThrow(
      expect.objectContaining({
        name: 'InvalidInput',
        message: expect.stringContaining("'dbInstanceIdentifier'"),
      }),
    );
    await expect(handler({ secretId: SECRET_ID, dbInstanceIdentifier: NEW })).rejects.toThrow(/'database'/);
    delete process.env.DEPLOYMENT_ID;
    await expect(handler(input)).rejects.toThrow(expect.objectContaining({ name: 'InvalidConfiguration' }));
  });
});
