// AWS limits on the twin (issue 11, point 4): what AWS refuses for its size or shape is refused
// here, with the error a state machine (or a Lambda's SDK) would see. The calls go through the
// twin exactly as the services' calls do: a state machine's Task through the dispatcher, a
// Lambda's SDK call through the proxy in front of moto.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import {
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { startTwin, type Twin } from '../../twin/src';
import { accountClient } from '../../twin/src/aws';
import type { AslDefinition, ExecutionRecord } from '../../twin/src/stepfunctions';

let twin: Twin;
const ACCOUNT = '111111111111';
const REGION = 'eu-west-1';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/limits-probe`;
let machines = 0;

beforeAll(async () => {
  twin = await startTwin();
  // A role allowed everything: only the limits can refuse its calls.
  twin.iam.registerRole({
    arn: ROLE,
    account: ACCOUNT,
    origin: 'the test',
    policies: [
      {
        name: 'all',
        policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
      },
    ],
  });
  await twin.aws(ACCOUNT).rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: 'limits-db',
      Engine: 'postgres',
      DBInstanceClass: 'db.t4g.micro',
      AllocatedStorage: 20,
      MasterUsername: 'app',
      MasterUserPassword: 'not-a-real-password-1',
    }),
  );
  await twin.clock.advance(3_600_000); // the instance becomes available
  await twin.settle();
  await twin.aws(ACCOUNT).rds.send(
    new CreateDBSnapshotCommand({
      DBInstanceIdentifier: 'limits-db',
      DBSnapshotIdentifier: 'limits-snapshot',
    }),
  );
  await twin.clock.advance(3_600_000); // and so does the snapshot
  await twin.settle();
}, 120_000);

afterAll(async () => {
  await twin?.stop();
});

/** Runs a one-Task state machine (no Retry, no Catch) as the probe role and returns the execution. */
async function runTask(resource: string, parameters: unknown, input: unknown = {}): Promise<ExecutionRecord> {
  const name = `limits-${++machines}`;
  const definition: AslDefinition = {
    StartAt: 'Call',
    States: { Call: { Type: 'Task', Resource: resource, Parameters: parameters, End: true } },
  };
  const machine = twin.sfn.register({
    arn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`,
    name,
    account: ACCOUNT,
    region: REGION,
    roleArn: ROLE,
    definition,
  });
  const exec = twin.sfn.startExecution(
    { account: ACCOUNT },
    { stateMachineArn: machine.arn, input: JSON.stringify(input) },
  );
  await exec.done;
  await twin.settle();
  return exec;
}

async function runDefinition(definition: AslDefinition, input: unknown): Promise<ExecutionRecord> {
  const name = `limits-${++machines}`;
  const machine = twin.sfn.register({
    arn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`,
    name,
    account: ACCOUNT,
    region: REGION,
    roleArn: ROLE,
    definition,
  });
  const exec = twin.sfn.startExecution(
    { account: ACCOUNT },
    { stateMachineArn: machine.arn, input: JSON.stringify(input) },
  );
  await exec.done;
  await twin.settle();
  return exec;
}

const invalidIdentifier = /is not a valid identifier: .* Identifiers must begin with a letter/;

describe('RDS identifiers', () => {
  const longest = (n: number) => `a${'b'.repeat(n - 1)}`;

  test.each([
    ['64 characters', longest(64), 'must contain from 1 to 63 characters'],
    ['a leading digit', '1replica', 'must begin with a letter'],
    ['two consecutive hyphens', 'orders--db', 'must not contain two consecutive hyphens'],
    ['a trailing hyphen', 'orders-db-', 'must not end with a hyphen'],
    ['an underscore', 'orders_db', 'must contain only ASCII letters, digits, and hyphens'],
  ])('an instance identifier with %s is refused before anything is restored', async (_what, id, problem) => {
    const exec = await runTask('arn:aws:states:::aws-sdk:rds:restoreDBInstanceFromDBSnapshot', {
      DbInstanceIdentifier: id,
      DbSnapshotIdentifier: 'limits-snapshot',
    });
    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('Rds.RdsException');
    expect(exec.cause).toMatch(invalidIdentifier);
    expect(exec.cause).toContain(problem);
    expect(exec.cause).toContain('Status Code: 400');
    const { DBInstances } = await twin.aws(ACCOUNT).rds.send(new DescribeDBInstancesCommand({}));
    expect(DBInstances!.map((i) => i.DBInstanceIdentifier)).toEqual(['limits-db']);
  });

  test('a 63-character instance identifier is accepted', async () => {
    const exec = await runTask('arn:aws:states:::aws-sdk:rds:restoreDBInstanceFromDBSnapshot', {
      DbInstanceIdentifier: longest(63),
      DbSnapshotIdentifier: 'limits-snapshot',
    });
    expect([exec.status, exec.error, exec.cause]).toEqual(['SUCCEEDED', undefined, undefined]);
  });

  test('a 256-character snapshot identifier is refused; 255 is accepted', async () => {
    const refused = await runTask('arn:aws:states:::aws-sdk:rds:createDBSnapshot', {
      DbInstanceIdentifier: 'limits-db',
      DbSnapshotIdentifier: longest(256),
    });
    expect(refused.error).toBe('Rds.RdsException');
    expect(refused.cause).toMatch(invalidIdentifier);
    expect(refused.cause).toContain('DBSnapshotIdentifier');
    expect(refused.cause).toContain('must contain from 1 to 255 characters');

    const copy = await runTask('arn:aws:states:::aws-sdk:rds:copyDBSnapshot', {
      SourceDBSnapshotIdentifier: 'limits-snapshot',
      TargetDBSnapshotIdentifier: 'copy--of-it',
    });
    expect(copy.error).toBe('Rds.RdsException');
    expect(copy.cause).toContain('The parameter TargetDBSnapshotIdentifier is not a valid identifier');

    const accepted = await runTask('arn:aws:states:::aws-sdk:rds:createDBSnapshot', {
      DbInstanceIdentifier: 'limits-db',
      DbSnapshotIdentifier: longest(255),
    });
    expect(accepted.status).toBe('SUCCEEDED');
  });
});

describe('tags', () => {
  const snapshotArn = `arn:aws:rds:${REGION}:${ACCOUNT}:snapshot:limits-snapshot`;
  const tag = (Key: string, Value = 'v') => ({ Key, Value });

  test.each([
    ['a key of 129 characters', [tag('k'.repeat(129))], 'tag keys must be 1 to 128 characters'],
    [
      'a value of 257 characters',
      [tag('team', 'v'.repeat(257))],
      'tag values must be at most 256 characters',
    ],
    [
      '51 tags',
      Array.from({ length: 51 }, (_, n) => tag(`key-${n}`)),
      'A resource can have at most 50 tags; this request would give it 51',
    ],
  ])('%s is refused', async (_what, tags, message) => {
    const exec = await runTask('arn:aws:states:::aws-sdk:rds:addTagsToResource', {
      ResourceName: snapshotArn,
      Tags: tags,
    });
    expect(exec.error).toBe('Rds.RdsException');
    expect(exec.cause).toContain(message);
  });

  test('tags already on the resource count towards the 50', async () => {
    const first = await runTask('arn:aws:states:::aws-sdk:rds:addTagsToResource', {
      ResourceName: snapshotArn,
      Tags: Array.from({ length: 50 }, (_, n) => tag(`key-${n}`)),
    });
    expect(first.status).toBe('SUCCEEDED');
    const again = await runTask('arn:aws:states:::aws-sdk:rds:addTagsToResource', {
      ResourceName: snapshotArn,
      Tags: [tag('key-0', 'changed')],
    });
    expect(again.status).toBe('SUCCEEDED');
    const more = await runTask('arn:aws:states:::aws-sdk:rds:addTagsToResource', {
      ResourceName: snapshotArn,
      Tags: [tag('one-more')],
    });
    expect(more.error).toBe('Rds.RdsException');
    expect(more.cause).toContain('this request would give it 51');
  });
});

test('sharing a snapshot with a 21st account fails with SharedSnapshotQuotaExceeded; 20 are accepted', async () => {
  const accounts = Array.from({ length: 21 }, (_, n) => String(300000000000 + n));
  const twenty = await runTask('arn:aws:states:::aws-sdk:rds:modifyDBSnapshotAttribute', {
    DbSnapshotIdentifier: 'limits-snapshot',
    AttributeName: 'restore',
    ValuesToAdd: accounts.slice(0, 20),
  });
  expect([twenty.status, twenty.error, twenty.cause]).toEqual(['SUCCEEDED', undefined, undefined]);
  const one = await runTask('arn:aws:states:::aws-sdk:rds:modifyDBSnapshotAttribute', {
    DbSnapshotIdentifier: 'limits-snapshot',
    AttributeName: 'restore',
    ValuesToAdd: accounts.slice(20),
  });
  expect(one.error).toBe('Rds.SharedSnapshotQuotaExceededException');
  expect(one.cause).toContain('would be shared with 21');
});

describe('Step Functions', () => {
  test.each([
    ['81 characters', 'n'.repeat(81), 'must be 1 to 80 characters (has 81)'],
    ['a space', 'my run', "must not contain ' '"],
    ['a slash', 'a/b', "must not contain '/'"],
    ['a control character', 'a\u0007b', 'must not contain control characters (U+0007)'],
  ])('an execution name with %s is refused with InvalidName', (_what, name, problem) => {
    const arn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:limits-names`;
    if (!twin.sfn.machines.has(arn)) {
      twin.sfn.register({
        arn,
        name: 'limits-names',
        account: ACCOUNT,
        region: REGION,
        roleArn: ROLE,
        definition: { StartAt: 'Done', States: { Done: { Type: 'Succeed' } } },
      });
    }
    expect(() => twin.sfn.startExecution({ account: ACCOUNT }, { stateMachineArn: arn, name })).toThrow(
      expect.objectContaining({ code: 'InvalidName', message: expect.stringContaining(problem) }),
    );
  });

  test('an execution name of 80 characters with dots and underscores is accepted', async () => {
    const arn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:limits-names`;
    const exec = twin.sfn.startExecution(
      { account: ACCOUNT },
      { stateMachineArn: arn, name: `run.1_${'x'.repeat(74)}` },
    );
    await exec.done;
    expect(exec.status).toBe('SUCCEEDED');
  });

  test('a task result over 256 KiB fails the execution with States.DataLimitExceeded, which States.ALL does not catch', async () => {
    const big = 'x'.repeat(140 * 1024);
    const exec = await runDefinition(
      {
        StartAt: 'Publish Twice',
        States: {
          'Publish Twice': {
            Type: 'Task',
            Resource: 'arn:aws:states:::sns:publish',
            Parameters: { 'TopicArn.$': '$.topic', 'Message.$': 'States.Array($.big, $.big)' },
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
            End: true,
          },
          Caught: { Type: 'Succeed' },
        },
      },
      { big, topic: `arn:aws:sns:${REGION}:${ACCOUNT}:nowhere` },
    );
    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('States.DataLimitExceeded');
    expect(exec.cause).toContain("'Publish Twice' received an input with a size exceeding the maximum");
  });

  test('a failure whose Cause exceeds 32,768 characters, or whose Error exceeds 256, fails the run with States.Runtime', async () => {
    const fail = (input: unknown) =>
      runDefinition(
        {
          StartAt: 'Give Up',
          States: { 'Give Up': { Type: 'Fail', ErrorPath: '$.error', CausePath: '$.cause' } },
        },
        input,
      );
    const longCause = await fail({ error: 'Broken', cause: 'c'.repeat(32_769) });
    expect(longCause.error).toBe('States.Runtime');
    expect(longCause.cause).toContain('the Cause of the failure is 32769 characters long (at most 32768)');
    const longError = await fail({ error: 'E'.repeat(257), cause: 'short' });
    expect(longError.error).toBe('States.Runtime');
    expect(longError.cause).toContain('the Error of the failure is 257 characters long (at most 256)');
    const fits = await fail({ error: 'E'.repeat(256), cause: 'c'.repeat(32_768) });
    expect(fits.error).toBe('E'.repeat(256));
  });
});

describe('calls a Lambda makes (through the proxy in front of moto)', () => {
  let credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

  beforeAll(async () => {
    const sts = accountClient(STSClient, { endpoint: twin.moto.url, account: ACCOUNT, region: REGION });
    const c = (await sts.send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 'limits' })))
      .Credentials!;
    credentials = {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken,
    };
    twin.iam.registerAccessKey(c.AccessKeyId!, ROLE);
  });

  const asRole = <C>(Client: new (config: never) => C): C =>
    new Client({ endpoint: twin.iamProxyUrl, region: REGION, credentials, maxAttempts: 1 } as never);

  test('an SNS message over 256 KiB is refused with InvalidParameter; 256 KiB is published', async () => {
    const topic = await twin.aws(ACCOUNT).sns.send(new CreateTopicCommand({ Name: 'limits-topic' }));
    const sns = asRole(SNSClient);
    await expect(
      sns.send(new PublishCommand({ TopicArn: topic.TopicArn, Message: 'm'.repeat(256 * 1024 + 1) })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: expect.stringContaining('Message too long'),
    });
    const ok = await sns.send(
      new PublishCommand({ TopicArn: topic.TopicArn, Message: 'm'.repeat(256 * 1024) }),
    );
    expect(ok.MessageId).toBeTruthy();
  });

  test('a secret value over 64 KB is refused with ValidationException and the secret keeps its value', async () => {
    await twin
      .aws(ACCOUNT)
      .secrets.send(new CreateSecretCommand({ Name: 'limits-secret', SecretString: '{"a":1}' }));
    const secrets = asRole(SecretsManagerClient);
    await expect(
      secrets.send(
        new PutSecretValueCommand({ SecretId: 'limits-secret', SecretString: 's'.repeat(65_537) }),
      ),
    ).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining('Member must have length less than or equal to 65536'),
    });
    const value = await twin
      .aws(ACCOUNT)
      .secrets.send(new GetSecretValueCommand({ SecretId: 'limits-secret' }));
    expect(value.SecretString).toBe('{"a":1}');
  });

  test('a snapshot with an invalid identifier is refused before moto sees it', async () => {
    const rds = asRole(RDSClient);
    await expect(
      rds.send(
        new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'limits-db', DBSnapshotIdentifier: 'bad--name' }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    const all = await twin.aws(ACCOUNT).rds.send(new DescribeDBSnapshotsCommand({}));
    expect(all.DBSnapshots!.map((s) => s.DBSnapshotIdentifier)).not.toContain('bad--name');
  });
});
