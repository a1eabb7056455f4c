// The destination service as packaged by `sls package` (offline): the CloudFormation template that
// `sls deploy` would upload, checked for the wiring between the accounts, least privilege and the
// parameters. The definitions themselves are executed by the twin tests.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract, type Statement } from '../../scripts/iam-table';
import contract from '../../src/contracts/contract.json';
import { deploymentMarker, replicaPrefix } from '../../src/contracts/names';
import { type CfnTemplate, packageService, resourcesOfType } from '../../twin/src/package';
import { cfnLint, cfnLintAvailable } from '../helpers/cfn-lint';
import { parameterError } from '../helpers/parameters';
import { EVERYTHING, GIVEN_KEY, GIVEN_SECRET, SOURCE_KEY } from '../helpers/variants';

// partition-neutral: the template resolves it in the partition it is deployed to
const SOURCE_TOPIC = {
  'Fn::Sub': `arn:\${AWS::Partition}:sns:eu-west-1:111111111111:rds-replica-source-dev-replication`,
};
// the dev stage's source key (params.dev in serverless.destination.yml)
const DEV_SOURCE_KEY = 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const DEPLOYMENT = 'rds-replica-destination-dev';

type Json = Record<string, unknown>;

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const props = (t: CfnTemplate, id: string) => {
  const r = t.Resources[id];
  if (!r) throw new Error(`template has no resource ${id}`);
  return r.Properties as Json;
};

/** Every policy statement of the template (scripts/iam-table.ts reads them for the README table too). */
const statements = (t: CfnTemplate) => extract(t, 'destination').located;

/** Identity statements that apply to a role: its own policies and the AWS::IAM::Policy attached to it. */
function roleStatements(t: CfnTemplate, roleId: string): Statement[] {
  return statements(t)
    .filter((l) => l.kind === 'identity' && l.roles.includes(roleId))
    .map((l) => l.statement);
}

const actionsOf = (s: Statement) => asArray(s.Action as string | string[]);
const allows = (ss: Statement[], action: string) =>
  ss.filter(
    (s) => s.Effect === 'Allow' && actionsOf(s).some((a) => a.toLowerCase() === action.toLowerCase()),
  );

/** Read-only by name; everything else of these services counts as mutating. */
function isMutating(action: string): boolean {
  const [service, name = ''] = action.toLowerCase().split(':');
  if (!['rds', 'kms', 'secretsmanager'].includes(service!)) return false;
  return !/^(describe|list|get)/.test(name) || name === 'getsecretvalue';
}

function roleOfStateMachine(t: CfnTemplate, id: string): string {
  const roleArn = props(t, id).RoleArn as { 'Fn::GetAtt': [string, string] };
  return roleArn['Fn::GetAtt'][0];
}

interface AslState {
  Type: string;
  Resource?: string;
  Parameters?: Json;
  Retry?: unknown[];
  Default?: string;
  Branches?: { States: Record<string, AslState> }[];
  ItemProcessor?: { States: Record<string, AslState> };
  [k: string]: unknown;
}
interface Asl {
  Comment?: string;
  StartAt: string;
  States: Record<string, AslState>;
}

function definition(t: CfnTemplate, id: string): Asl {
  const d = props(t, id).DefinitionString as string | { 'Fn::Sub': string | [string, Json] };
  const text = typeof d === 'string' ? d : asArray(d['Fn::Sub'])[0];
  return JSON.parse(text as string) as Asl;
}

/** The `Fn::Sub` variables of a definition (what its `${...}` placeholders stand for). */
function subVariables(t: CfnTemplate, id: string): Json {
  const d = props(t, id).DefinitionString as { 'Fn::Sub': [string, Json] };
  return d['Fn::Sub'][1] ?? {};
}

/** Every state, nested ones (Parallel branches, Map processors) included. */
function allStates(states: Record<string, AslState>): [string, AslState][] {
  return Object.entries(states).flatMap(([name, s]) => [
    [name, s] as [string, AslState],
    ...(s.Branches ?? []).flatMap((b) => allStates(b.States)),
    ...(s.ItemProcessor ? allStates(s.ItemProcessor.States) : []),
  ]);
}

describe('destination service, dev stage (no parameters given)', () => {
  let t: CfnTemplate;
  beforeAll(async () => {
    t = (await packageService('destination', 'dev')).template;
  });

  test('subscribes the trigger to the source topic derived from account, Region, service and stage', () => {
    const subs = resourcesOfType(t, 'AWS::SNS::Subscription').map(([, r]) => r.Properties as Json);
    const sub = subs.find((p) => p.Protocol === 'lambda');
    expect(sub).toMatchObject({
      TopicArn: SOURCE_TOPIC,
      Region: 'eu-west-1',
      Endpoint: { 'Fn::GetAtt': ['TriggerLambdaFunction', 'Arn'] },
    });
    const env = (props(t, 'TriggerLambdaFunction').Environment as { Variables: Json }).Variables;
    expect(env).toMatchObject({
      SOURCE_TOPIC_ARN: SOURCE_TOPIC,
      SOURCE_ACCOUNT_ID: '111111111111',
      SOURCE_REGION: 'eu-west-1',
      DATABASES: 'orders-db',
      STATE_MACHINE_ARN: { Ref: 'ReplicateStateMachine' },
    });
  });

  test('lets only SNS, from that one topic, invoke the trigger', () => {
    const perms = resourcesOfType(t, 'AWS::Lambda::Permission').map(([, r]) => r.Properties as Json);
    const sns = perms.filter((p) => p.Principal === 'sns.amazonaws.com');
    expect(sns).toHaveLength(1);
    expect(sns[0]).toMatchObject({
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': ['TriggerLambdaFunction', 'Arn'] },
      SourceArn: SOURCE_TOPIC,
    });
  });

  test('sends events the trigger could not process, after two retries, to an encrypted queue', () => {
    const configs = resourcesOfType(t, 'AWS::Lambda::EventInvokeConfig').map(([, r]) => r.Properties as Json);
    const trigger = configs.find(
      (p) => JSON.stringify(p.FunctionName) === JSON.stringify({ Ref: 'TriggerLambdaFunction' }),
    );
    expect(trigger).toBeDefined();
    expect(trigger!.MaximumRetryAttempts).toBe(2);
    const destination = (
      trigger!.DestinationConfig as { OnFailure: { Destination: { 'Fn::GetAtt': [string, string] } } }
    ).OnFailure.Destination;
    const queueId = destination['Fn::GetAtt'][0];
    expect(t.Resources[queueId]!.Type).toBe('AWS::SQS::Queue');
    const queue = props(t, queueId);
    expect(queue.SqsManagedSseEnabled === true || queue.KmsMasterKeyId !== undefined).toBe(true);
    // the trigger's own role must be allowed to write there (custom roles get nothing implicitly)
    const send = allows(roleStatements(t, 'TriggerRole'), 'sqs:SendMessage');
    expect(send.map((s) => s.Resource)).toContainEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
  });

  test('no IAM statement allows a wildcard action or uses NotAction / NotResource', () => {
    // (the framework's deployment bucket policy *denies* s3:* without TLS: a Deny may be broad)
    for (const { where, kind, statement } of statements(t).filter((l) => l.statement.Effect === 'Allow')) {
      for (const action of actionsOf(statement)) {
        // a key policy's administrator statement for the key's own account (AWS's default key policy)
        const ownKeyAdmin =
          kind === 'key' &&
          action === 'kms:*' &&
          JSON.stringify(statement.Principal) ===
            JSON.stringify({ AWS: { 'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:root` } });
        if (ownKeyAdmin) continue;
        expect({ where, action, wildcard: action === '*' || action.endsWith(':*') }).toEqual({
          where,
          action,
          wildcard: false,
        });
      }
      expect({ where, NotAction: statement.NotAction, NotResource: statement.NotResource }).toEqual({
        where,
      });
    }
  });

  test('no mutating RDS, KMS or Secrets Manager action is allowed on every resource', () => {
    const identity = statements(t).filter((l) => l.kind === 'identity');
    expect(identity.length).toBeGreaterThan(10);
    for (const { where, statement } of identity) {
      const star = asArray(statement.Resource).some((r) => r === '*');
      const mutating = actionsOf(statement).filter(isMutating);
      expect({ where, sid: statement.Sid, mutatingOnStar: star ? mutating : [] }).toEqual({
        where,
        sid: statement.Sid,
        mutatingOnStar: [],
      });
    }
  });

  test('the state machines never read secrets; only the two Lambdas that need the secret do', () => {
    for (const sm of ['ReplicateStateMachine', 'RollbackStateMachine']) {
      const role = roleOfStateMachine(t, sm);
      const secretActions = roleStatements(t, role)
        .flatMap(actionsOf)
        .filter((a) => a.toLowerCase().startsWith('secretsmanager:'));
      expect({ sm, secretActions }).toEqual({ sm, secretActions: [] });
    }
    const readers = Object.keys(t.Resources).filter(
      (id) =>
        t.Resources[id]!.Type === 'AWS::IAM::Role' &&
        allows(roleStatements(t, id), 'secretsmanager:GetSecretValue').length,
    );
    expect(readers.sort()).toEqual(['MergeSecretRole', 'NameReplicaRole']);
    expect(allows(roleStatements(t, 'MergeSecretRole'), 'secretsmanager:PutSecretValue')).toHaveLength(1);
    expect(allows(roleStatements(t, 'NameReplicaRole'), 'secretsmanager:PutSecretValue')).toHaveLength(0);
  });

  test('state machines invoke only their own Lambdas, never the trigger', () => {
    const invoked = (role: string) =>
      allows(roleStatements(t, role), 'lambda:InvokeFunction').flatMap((s) =>
        asArray(s.Resource).map((r) => (r as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]),
      );
    expect(invoked(roleOfStateMachine(t, 'ReplicateStateMachine')).sort()).toEqual([
      'MergeSecretLambdaFunction',
      'NameReplicaLambdaFunction',
      'SelectRetentionLambdaFunction',
    ]);
    expect(invoked(roleOfStateMachine(t, 'RollbackStateMachine'))).toEqual(['MergeSecretLambdaFunction']);
  });

  test('RDS writes on instances are confined to instances carrying this deployment tag', () => {
    const role = roleStatements(t, roleOfStateMachine(t, 'ReplicateStateMachine'));
    for (const action of ['rds:ModifyDBInstance', 'rds:DeleteDBInstance']) {
      for (const s of allows(role, action)) {
        expect(s.Condition).toEqual({
          StringEquals: { [`rds:db-tag/${contract.tagKeys.managedBy}`]: DEPLOYMENT },
        });
      }
    }
    for (const s of allows(role, 'rds:RestoreDBInstanceFromDBSnapshot')) {
      expect(s.Condition).toEqual({
        StringEquals: { [`aws:RequestTag/${contract.tagKeys.managedBy}`]: DEPLOYMENT },
      });
    }
    // snapshot copies are only ever deleted by their name prefix (the deployment id)
    expect(allows(role, 'rds:DeleteDBSnapshot').map((s) => s.Resource)).toEqual([
      { 'Fn::Sub': `arn:\${AWS::Partition}:rds:\${AWS::Region}:\${AWS::AccountId}:snapshot:${DEPLOYMENT}-*` },
    ]);
  });

  test('the copy may use the destination key and the shared source key, through RDS only', () => {
    const role = roleStatements(t, roleOfStateMachine(t, 'ReplicateStateMachine'));
    const grant = allows(role, 'kms:CreateGrant');
    expect(grant).toHaveLength(1);
    expect(grant[0]!.Resource).toEqual([{ 'Fn::GetAtt': ['ReplicaKey', 'Arn'] }, DEV_SOURCE_KEY]);
    expect(grant[0]!.Condition).toMatchObject({ Bool: { 'kms:GrantIsForAWSResource': 'true' } });
    expect(allows(role, 'kms:Decrypt')[0]!.Condition).toEqual({
      StringEquals: { 'kms:ViaService': [{ 'Fn::Sub': `rds.eu-west-1.\${AWS::URLSuffix}` }] },
    });
  });

  test('may create RDS service-linked role, and nothing else in IAM', () => {
    const iam = statements(t).filter(
      (l) => l.kind === 'identity' && actionsOf(l.statement).some((a) => a.startsWith('iam:')),
    );
    const linkedRole = {
      Sid: 'LetRdsCreateItsServiceLinkedRole',
      Effect: 'Allow',
      Action: 'iam:CreateServiceLinkedRole',
      Resource: {
        'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS`,
      },
      Condition: { StringEquals: { 'iam:AWSServiceName': 'rds.amazonaws.com' } },
    };
    // The two roles that restore: replicate (instances) and replicate-cluster (Aurora DB clusters).
    expect(iam.map((l) => [l.roles, l.statement])).toEqual([
      [['ReplicateRole'], linkedRole],
      [['ReplicateClusterRole'], linkedRole],
    ]);
  });

  test.each([
    ['ReplicateRole', 'replicate'],
    ['RollbackRole', 'rollback'],
    ['ReplicateClusterRole', 'replicate-cluster'],
    ['RollbackClusterRole', 'rollback-cluster'],
  ])('%s may be assumed only by its own state machine (confused deputy)', (roleId, machine) => {
    const trust = statements(t).filter((l) => l.kind === 'trust' && l.resource === roleId);
    expect(trust.map((l) => l.statement.Condition)).toEqual([
      {
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnLike: {
          'aws:SourceArn': {
            'Fn::Sub': `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:stateMachine:${DEPLOYMENT}-${machine}`,
          },
        },
      },
    ]);
    const id = machine
      .split('-')
      .map((w) => w[0]!.toUpperCase() + w.slice(1))
      .join('');
    expect(props(t, `${id}StateMachine`).StateMachineName).toBe(`${DEPLOYMENT}-${machine}`);
  });

  test('encrypts the operations topic with a key of its own that CloudWatch alarms may use', () => {
    expect(props(t, 'OperationsTopic').KmsMasterKeyId).toEqual({ Ref: 'OperationsTopicKey' });
    const key = statements(t).filter((l) => l.kind === 'key' && l.resource === 'OperationsTopicKey');
    const cloudwatch = key.find((l) => JSON.stringify(l.statement.Principal).includes('cloudwatch'));
    expect(cloudwatch!.statement).toMatchObject({
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
    // both state machines publish notices, so both may use the key (through SNS only)
    for (const role of ['ReplicateRole', 'RollbackRole']) {
      const use = roleStatements(t, role).filter((s) => s.Sid === 'EncryptNotices');
      expect(use.map((s) => [s.Resource, s.Condition])).toEqual([
        [
          { 'Fn::GetAtt': ['OperationsTopicKey', 'Arn'] },
          { StringEquals: { 'kms:ViaService': { 'Fn::Sub': `sns.\${AWS::Region}.\${AWS::URLSuffix}` } } },
        ],
      ]);
    }
  });

  test('keeps the state table on stack deletion, without a fixed name that a redeploy would meet', () => {
    const table = t.Resources.LockTable!;
    expect([table.DeletionPolicy, table.UpdateReplacePolicy]).toEqual(['Retain', 'Retain']);
    expect(props(t, 'LockTable').TableName).toBeUndefined();
  });

  test('the key policy grants nothing to another account or to everyone', () => {
    const keyStatements = statements(t).filter((l) => l.kind === 'key' && l.resource === 'ReplicaKey');
    expect(keyStatements.length).toBeGreaterThan(0);
    for (const { statement } of keyStatements) {
      const principals = asArray((statement.Principal as { AWS?: unknown }).AWS);
      expect(principals).toEqual([{ 'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:root` }]);
    }
    expect(JSON.stringify(props(t, 'ReplicaKey').KeyPolicy)).not.toMatch(/[0-9]{12}/);
    expect(props(t, 'ReplicaKey').EnableKeyRotation).toBe(true);
  });

  test('creates the database secret empty when no ARN is given, and keeps it on stack deletion', () => {
    const secrets = resourcesOfType(t, 'AWS::SecretsManager::Secret');
    expect(secrets).toHaveLength(1);
    const [id, secret] = secrets[0]!;
    expect(secret.DeletionPolicy).toBe('Retain');
    expect(secret.UpdateReplacePolicy).toBe('Retain');
    // no value CloudFormation could ever write again (issue 9, point 8)
    expect(secret.Properties).not.toHaveProperty('SecretString');
    expect(secret.Properties).not.toHaveProperty('GenerateSecretString');
    // the stage and the stack's own id in the name: a second stage, or a redeploy after `sls remove`
    // (a new stack id), never meets the retained secret's name
    expect((secret.Properties as Json).Name).toEqual({
      'Fn::Join': [
        '',
        [
          'rds-replica/dev/orders-db-',
          {
            'Fn::Select': [
              0,
              { 'Fn::Split': ['-', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }] },
            ],
          },
        ],
      ],
    });
    expect((t.Outputs![`${id}Arn`] as { Value: unknown }).Value).toEqual({ Ref: id });
  });

  test('creates the key, the operations topic, the state table and the outputs', () => {
    expect(
      resourcesOfType(t, 'AWS::KMS::Key')
        .map(([id]) => id)
        .sort(),
    ).toEqual(['OperationsTopicKey', 'ReplicaKey']);
    expect(resourcesOfType(t, 'AWS::SNS::Topic')).toHaveLength(1);
    expect(resourcesOfType(t, 'AWS::DynamoDB::Table')).toHaveLength(1);
    expect(Object.keys(t.Outputs ?? {})).toEqual(
      expect.arrayContaining([
        'ReplicateStateMachineArn',
        'RollbackStateMachineArn',
        'KmsKeyArn',
        'OperationsTopicArn',
        'FailureQueueUrl',
      ]),
    );
    // no e-mail address configured, no e-mail subscription
    const subs = resourcesOfType(t, 'AWS::SNS::Subscription').map(([, r]) => (r.Properties as Json).Protocol);
    expect(subs).toEqual(['lambda']);
  });

  test.each(['ReplicateStateMachine', 'RollbackStateMachine'])(
    '%s: JSONPath only, every Task retries, every Choice has a Default',
    (id) => {
      const asl = definition(t, id);
      expect(asl.Comment).toMatch(/Input/);
      const text = JSON.stringify(asl);
      for (const forbidden of ['JSONata', '"Assign"', '"Credentials"', 'waitForTaskToken', '"Arguments"']) {
        expect({ id, forbidden, found: text.includes(forbidden) }).toEqual({ id, forbidden, found: false });
      }
      for (const [name, s] of allStates(asl.States)) {
        if (s.Type === 'Task')
          expect({ name, retry: (s.Retry ?? []).length > 0 }).toEqual({ name, retry: true });
        if (s.Type === 'Choice')
          expect({ name, hasDefault: typeof s.Default }).toEqual({ name, hasDefault: 'string' });
        // Step Functions spells SDK fields DbInstanceIdentifier, never DBInstanceIdentifier (AWS-FACTS.md)
        if (s.Resource?.includes(':aws-sdk:')) {
          for (const key of Object.keys(s.Parameters ?? {}))
            expect({ name, key, ok: !/^DB[A-Z]/.test(key) }).toEqual({ name, key, ok: true });
        }
      }
    },
  );

  test('restores with exactly the configured settings and this deployment tags', () => {
    const asl = definition(t, 'ReplicateStateMachine');
    const restore = asl.States['Restore The Replica']!.Parameters!;
    expect(restore).toMatchObject({
      DbInstanceClass: 'db.t4g.micro',
      DbSubnetGroupName: 'replica-subnets',
      VpcSecurityGroupIds: ['sg-0123456789abcdef0'],
      MultiAZ: false,
      PubliclyAccessible: false,
      CopyTagsToSnapshot: true,
    });
    expect(restore).not.toHaveProperty('DbParameterGroupName');
    expect(restore).not.toHaveProperty('OptionGroupName');
    expect(restore.Tags).toContainEqual({ Key: contract.tagKeys.managedBy, Value: DEPLOYMENT });
    expect(restore.Tags).toContainEqual({ Key: contract.tagKeys.kind, Value: contract.kinds.replica });
    const copy = asl.States['Copy The Shared Snapshot']!.Parameters!;
    const placeholder = /^\$\{(\w+)\}$/.exec(copy.KmsKeyId as string)?.[1];
    expect(placeholder && subVariables(t, 'ReplicateStateMachine')[placeholder]).toEqual({
      'Fn::GetAtt': ['ReplicaKey', 'Arn'],
    });
    expect(
      asl.States['Delete Old Replicas']!.ItemProcessor!.States['Delete The Old Replica']!.Parameters,
    ).toMatchObject({
      SkipFinalSnapshot: true,
    });
  });
});

describe('destination service with every optional parameter set', () => {
  let t: CfnTemplate;
  beforeAll(async () => {
    t = (await packageService('destination', 'dev', EVERYTHING)).template;
  });

  test('creates no secret for a database whose secret ARN is given, and one for the other (and for the cluster)', () => {
    const names = resourcesOfType(t, 'AWS::SecretsManager::Secret').map(([, r]) =>
      JSON.stringify((r.Properties as Json).Name),
    );
    expect(names).toHaveLength(2);
    expect(names[0]).toContain('"rds-replica/dev/billing-db-"');
    expect(names[1]).toContain('"rds-replica/dev/orders-aurora-"');
    const lambdaSecretResources = allows(
      roleStatements(t, 'MergeSecretRole'),
      'secretsmanager:PutSecretValue',
    ).flatMap((s) => asArray(s.Resource));
    expect(lambdaSecretResources).toEqual(
      expect.arrayContaining([
        GIVEN_SECRET,
        `${GIVEN_SECRET}-??????`,
        { Ref: 'DatabaseSecretBillingDashdb' },
      ]),
    );
    expect(JSON.stringify(definition(t, 'ReplicateStateMachine'))).toContain(GIVEN_SECRET);
  });

  test('uses the given keys instead of creating one', () => {
    expect(resourcesOfType(t, 'AWS::KMS::Key').map(([id]) => id)).toEqual(['OperationsTopicKey']);
    expect((t.Outputs!.KmsKeyArn as { Value: unknown }).Value).toBe(GIVEN_KEY);
    const asl = definition(t, 'ReplicateStateMachine');
    expect(asl.States['Copy The Shared Snapshot']!.Parameters!.KmsKeyId).toBe(GIVEN_KEY);
    const grant = allows(
      roleStatements(t, roleOfStateMachine(t, 'ReplicateStateMachine')),
      'kms:CreateGrant',
    );
    expect(grant[0]!.Resource).toEqual([GIVEN_KEY, SOURCE_KEY]);
  });

  test('passes the optional restore settings and takes final snapshots', () => {
    const asl = definition(t, 'ReplicateStateMachine');
    expect(asl.States['Restore The Replica']!.Parameters).toMatchObject({
      DbParameterGroupName: 'replica-postgres16',
      OptionGroupName: 'replica-options',
    });
    expect(
      asl.States['Delete Old Replicas']!.ItemProcessor!.States['Delete The Old Replica']!.Parameters,
    ).toMatchObject({
      SkipFinalSnapshot: false,
      'FinalDBSnapshotIdentifier.$': expect.stringContaining('States.Format'),
    });
    const role = roleStatements(t, 'ReplicateRole');
    expect(allows(role, 'rds:CreateDBSnapshot').length).toBeGreaterThan(0);
  });

  test('subscribes the notification e-mail to the operations topic', () => {
    const email = resourcesOfType(t, 'AWS::SNS::Subscription')
      .map(([, r]) => r.Properties as Json)
      .find((p) => p.Protocol === 'email');
    expect(email).toEqual({
      TopicArn: { Ref: 'OperationsTopic' },
      Protocol: 'email',
      Endpoint: EVERYTHING.notificationEmail,
    });
  });
});

/** A stage without `params:` in serverless.destination.yml: every required parameter given here. */
const QA_STAGE = {
  sourceAccountId: '111111111111',
  sourceRegion: 'eu-west-1',
  databases: 'orders-db',
  dbInstanceClass: 'db.t4g.micro',
  dbSubnetGroupName: 'replica-subnets',
  vpcSecurityGroupIds: 'sg-0123456789abcdef0',
};

describe('deploys never rewrite a secret (issue 9, point 8)', () => {
  /** What CloudFormation would write into a secret, or rename it (a new name replaces the secret). */
  const valueBearing = (t: CfnTemplate) =>
    Object.fromEntries(
      resourcesOfType(t, 'AWS::SecretsManager::Secret').map(([id, r]) => {
        const p = r.Properties as Json;
        return [
          id,
          { Name: p.Name, SecretString: p.SecretString, GenerateSecretString: p.GenerateSecretString },
        ];
      }),
    );

  test('changing any parameter leaves every value-bearing property of the secrets as it was', async () => {
    const before = (await packageService('destination', 'dev')).template;
    const after = (
      await packageService('destination', 'dev', {
        secretUsername: 'admin',
        keepReplicas: '3',
        instanceNamePrefix: 'replica-{database}',
        dbInstanceClass: 'db.r7g.large',
        kmsKeyArn: GIVEN_KEY,
        notificationEmail: 'dba-oncall@example.com',
        multiAz: 'true',
      })
    ).template;
    expect(Object.keys(valueBearing(before))).toEqual(['DatabaseSecretOrdersDashdb']);
    expect(valueBearing(after)).toEqual(valueBearing(before));
    for (const v of Object.values(valueBearing(after))) {
      expect(v.SecretString).toBeUndefined();
      expect(v.GenerateSecretString).toBeUndefined();
    }
    // the user name only reaches the description, which is metadata
    expect(JSON.stringify(after.Resources.DatabaseSecretOrdersDashdb)).toContain('"username\\": \\"admin\\"');
  });

  test('a second stage in the same account creates its own secret under another name', async () => {
    const qa = (await packageService('destination', 'qa', { ...QA_STAGE, sourceKmsKeyArn: DEV_SOURCE_KEY }))
      .template;
    const dev = (await packageService('destination', 'dev')).template;
    const prefix = (t: CfnTemplate) =>
      ((valueBearing(t).DatabaseSecretOrdersDashdb!.Name as Json)['Fn::Join'] as [string, unknown[]])[1][0];
    expect([prefix(dev), prefix(qa)]).toEqual(['rds-replica/dev/orders-db-', 'rds-replica/qa/orders-db-']);
  });
});

describe('keys of the secrets and of the source', () => {
  test('given secrets on customer-managed keys: the Lambdas may use those keys, only through Secrets Manager', async () => {
    const secretKey = 'arn:aws:kms:eu-west-1:222222222222:key/0f1e2d3c-12ab-34cd-56ef-1234567890ab';
    const t = (
      await packageService('destination', 'dev', {
        secretArns: `orders-db=${GIVEN_SECRET}`,
        secretKmsKeyArns: secretKey,
      })
    ).template;
    const viaSecretsManager = {
      StringEquals: { 'kms:ViaService': { 'Fn::Sub': `secretsmanager.\${AWS::Region}.\${AWS::URLSuffix}` } },
    };
    const kms = (role: string) =>
      roleStatements(t, role)
        .filter((s) => actionsOf(s).some((a) => a.startsWith('kms:')))
        .map((s) => [actionsOf(s), s.Resource, s.Condition]);
    expect(kms('NameReplicaRole')).toEqual([[['kms:Decrypt'], [secretKey], viaSecretsManager]]);
    expect(kms('MergeSecretRole')).toEqual([
      [['kms:Decrypt'], [secretKey], viaSecretsManager],
      [['kms:GenerateDataKey'], [secretKey], viaSecretsManager],
    ]);
    // without secretKmsKeyArns no Lambda gets any KMS permission
    const dev = (await packageService('destination', 'dev')).template;
    for (const role of ['NameReplicaRole', 'MergeSecretRole'])
      expect(
        roleStatements(dev, role)
          .flatMap(actionsOf)
          .filter((a) => a.startsWith('kms:')),
      ).toEqual([]);
  });

  test('refuses a secret that RDS manages, naming the parameter and the fix', async () => {
    const managed = 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:rds!db-0a1b2c3d-4e5f-AbCdEf';
    expect(await parameterError('destination', 'dev', { secretArns: `orders-db=${managed}` })).toMatch(
      /parameter secretArns is 'orders-db=arn:aws:secretsmanager:.*rds!db-.*': expected a secret this service may write: orders-db's is managed by RDS/,
    );
  });

  test('requires the source key ARN, or the explicit opt-in to any key of the source account', async () => {
    await expect(packageService('destination', 'qa', QA_STAGE)).rejects.toThrow(
      /parameter sourceKmsKeyArn is empty: expected the ARN of the source stack's shared KMS key \(its output KmsKeyArn\), or allowAnySourceKey=true/,
    );
    const any = (await packageService('destination', 'qa', { ...QA_STAGE, allowAnySourceKey: 'true' }))
      .template;
    expect(allows(roleStatements(any, 'ReplicateRole'), 'kms:CreateGrant')[0]!.Resource).toEqual([
      { 'Fn::GetAtt': ['ReplicaKey', 'Arn'] },
      { 'Fn::Sub': `arn:\${AWS::Partition}:kms:eu-west-1:111111111111:key/*` },
    ]);
  });
});

describe('malformed parameters fail packaging and name the parameter', () => {
  test.each([
    ['sourceAccountId', '12345'],
    ['databases', 'Orders_DB'],
    ['vpcSecurityGroupIds', 'sg-xyz'],
    ['keepReplicas', '0'],
    ['kmsKeyArn', 'alias/replica'],
    ['secretArns', 'unknown-db=arn:aws:secretsmanager:eu-west-1:222222222222:secret:x-AbCdEf'],
    ['instanceNamePrefix', 'Replica_{database}'],
    ['instanceNamePrefix', `${'x'.repeat(40)}-{database}`],
  ])('%s=%s', async (name, value) => {
    expect(await parameterError('destination', 'dev', { [name]: value })).toMatch(
      new RegExp(`parameter ${name} is '${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'`),
    );
  });

  test('a destination in another GovCloud Region than the source (no pre-signed copy request)', async () => {
    expect(
      await parameterError('destination', 'dev', { region: 'us-gov-east-1', sourceRegion: 'us-gov-west-1' }),
    ).toMatch(/parameter region is 'us-gov-east-1': expected the Region of the source \(us-gov-west-1\)/);
  });

  test('DB clusters in a destination in another Region than the source (AWS cannot copy them there)', async () => {
    expect(
      await parameterError('destination', 'dev', { ...CROSS_REGION, clusters: 'orders-aurora' }),
    ).toMatch(
      /parameter clusters is 'orders-aurora': expected no DB clusters in a destination in another Region \(eu-central-1\) than sourceRegion \(eu-west-1\): AWS copies a shared DB cluster snapshot across accounts only within one Region/,
    );
  });

  test('a name template that would let two databases share replica names', async () => {
    expect(
      await parameterError('destination', 'dev', {
        databases: 'orders,orders-db',
        instanceNamePrefix: '{deployment}-{database}',
      }),
    ).toMatch(/parameter instanceNamePrefix .*gives orders and orders-db distinct name prefixes/);
  });
});

describe('snapshot provenance (issue 9 point 1)', () => {
  test('the shared snapshot is checked before the lock when it is in this Region, and its copy before every restore', async () => {
    const { template } = await packageService('destination', 'dev');
    const asl = definition(template, 'ReplicateStateMachine');
    expect(asl.States['Look Up The Database Settings']!.Next).toBe('Is The Shared Snapshot In This Region?');
    expect(asl.States['Is The Shared Snapshot In This Region?']).toMatchObject({
      Choices: [
        {
          Variable: '$.message.sourceRegion',
          StringEquals: `\${AWS::Region}`,
          Next: 'Check The Shared Snapshot',
        },
      ],
      Default: 'Check The Source Option Group',
    });
    // in the source's Region only: nothing to refuse about option groups
    expect(asl.States['Check The Source Option Group']).toMatchObject({
      Type: 'Parallel',
      Next: 'Start With No Name Taken',
      Branches: [{ States: { 'The Copy Can Take The Option Group': { Type: 'Succeed' } } }],
    });
    expect(asl.States['Check The Shared Snapshot']).toMatchObject({
      Type: 'Parallel',
      Next: 'Start With No Name Taken',
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Start The Clean-Up' }],
    });
    expect(asl.States['Start With No Name Taken']!.Next).toBe('Take The Database Lock');
    // Every way to "Record The Replica Name" (the restore) from the copy passes the copy's check.
    const intoRestore = allStates(asl.States)
      .filter(([, st]) => JSON.stringify(st).includes('"Record The Replica Name"'))
      .map(([name]) => name);
    expect(intoRestore.sort()).toEqual(['Is The Copy Of The Database?', 'Name The Replica Again']);
    expect((asl.States['Is The Copy Available?']!.Choices as { Next: string }[])[0]!.Next).toBe(
      'Is The Copy Of The Database?',
    );
  });
});

describe('a cluster snapshot of another Region (issue 14 point 4)', () => {
  test('replicate-cluster refuses it with CrossRegionClusterCopyUnsupported before the lock', async () => {
    const t = (await packageService('destination', 'dev', EVERYTHING)).template;
    const asl = definition(t, 'ReplicateClusterStateMachine');
    const choice = asl.States['Is The Shared Snapshot In This Region?']!;
    expect(choice.Default).toBe('Refuse A Cluster Snapshot Of Another Region');
    expect(asl.States[choice.Default as string]).toMatchObject({
      Type: 'Fail',
      Error: 'CrossRegionClusterCopyUnsupported',
    });
    expect(String(asl.States[choice.Default as string]!.Cause)).toMatch(/only within one Region/);
  });
});

describe('replica names (issue 9 point 5, issue 10 point 5)', () => {
  const MARK = deploymentMarker(DEPLOYMENT);

  test('a 63-character database packages with the default settings; every IAM name pattern carries the marker', async () => {
    const long = `analytics-${'x'.repeat(48)}-db63`;
    const { template } = await packageService('destination', 'dev', { databases: `orders-db,${long}` });
    const resources = (sid: string) =>
      roleStatements(template, 'ReplicateRole')
        .filter((s) => s.Sid === sid)
        .flatMap((s) => asArray(s.Resource as unknown[]))
        .map((r) => JSON.stringify(r));
    const prefixes = [
      replicaPrefix(undefined, 'orders-db', DEPLOYMENT),
      replicaPrefix(undefined, long, DEPLOYMENT),
    ];
    expect(prefixes[0]).toBe(`orders-db-${MARK}`);
    for (const sid of ['ProtectAndDeleteOnlyThisDeploymentsReplicas', 'TagOnlyWithThisDeploymentsTag']) {
      const db = resources(sid).filter((r) => r.includes(':db:'));
      expect(db).toHaveLength(2);
      for (const [i, prefix] of prefixes.entries()) expect(db[i]).toContain(`:db:${prefix}-*`);
      // an operator's own `orders-db-legacy` matches none of them
      expect(db.some((r) => r.includes(':db:orders-db-*'))).toBe(false);
    }
    const env = props(template, 'NameReplicaLambdaFunction').Environment as { Variables: Json };
    expect(env.Variables).toMatchObject({
      INSTANCE_NAME_PREFIX: '{database}-{deployment}',
      DEPLOYMENT_ID: DEPLOYMENT,
    });
  });
});

// A destination in eu-central-1 replicating from a source in eu-west-1 (issue 14).
const CROSS_REGION = {
  region: 'eu-central-1',
  sourceRegion: 'eu-west-1',
  sourceKmsKeyArn: DEV_SOURCE_KEY,
  optionGroupName: 'orders-audit-replica',
};

describe('destination in another Region than the source (issue 14)', () => {
  let t: CfnTemplate;
  let plain: CfnTemplate;
  beforeAll(async () => {
    t = (await packageService('destination', 'dev', CROSS_REGION)).template;
    const { optionGroupName: _, ...withoutOptionGroup } = CROSS_REGION;
    plain = (await packageService('destination', 'dev', withoutOptionGroup)).template;
  });

  test('subscribes to the topic in the source Region and lets that topic invoke the trigger', () => {
    expect(props(t, 'SourceTopicSubscription')).toEqual({
      TopicArn: SOURCE_TOPIC,
      Region: 'eu-west-1',
      Protocol: 'lambda',
      Endpoint: { 'Fn::GetAtt': ['TriggerLambdaFunction', 'Arn'] },
    });
    expect(props(t, 'TriggerInvokePermission')).toMatchObject({
      Principal: 'sns.amazonaws.com',
      SourceArn: SOURCE_TOPIC,
    });
  });

  test('copies the shared snapshots of the source Region and uses both keys only through RDS in both Regions', () => {
    const role = roleStatements(t, roleOfStateMachine(t, 'ReplicateStateMachine'));
    expect(asArray(allows(role, 'rds:CopyDBSnapshot')[0]!.Resource)).toContainEqual({
      'Fn::Sub': `arn:\${AWS::Partition}:rds:eu-west-1:111111111111:snapshot:*`,
    });
    const viaRds = [
      { 'Fn::Sub': `rds.eu-central-1.\${AWS::URLSuffix}` },
      { 'Fn::Sub': `rds.eu-west-1.\${AWS::URLSuffix}` },
    ];
    for (const action of ['kms:Decrypt', 'kms:CreateGrant']) {
      const [statement] = allows(role, action);
      expect(statement!.Resource).toEqual([{ 'Fn::GetAtt': ['ReplicaKey', 'Arn'] }, DEV_SOURCE_KEY]);
      expect((statement!.Condition as Json).StringEquals).toEqual({ 'kms:ViaService': viaRds });
    }
  });

  test('gives the copy the configured option group; without one refuses a source on a non-default group', () => {
    const copy = definition(t, 'ReplicateStateMachine').States['Copy The Shared Snapshot']!.Parameters!;
    expect(copy).toMatchObject({
      'SourceDBSnapshotIdentifier.$': '$.message.sharedSnapshotArn',
      OptionGroupName: 'orders-audit-replica',
      CopyTags: false,
    });
    expect(Object.keys(copy)).not.toContain('PreSignedUrl');
    expect(Object.keys(copy)).not.toContain('SourceRegion');

    const asl = definition(plain, 'ReplicateStateMachine');
    expect(asl.States['Copy The Shared Snapshot']!.Parameters).not.toHaveProperty('OptionGroupName');
    const branch = asl.States['Check The Source Option Group']!.Branches![0]!;
    expect(branch.States['Is The Source On A Non-Default Option Group?']).toMatchObject({
      Type: 'Choice',
      Choices: [
        { Variable: '$.message.optionGroupName', IsPresent: true, Next: 'Explain The Missing Option Group' },
      ],
      Default: 'The Copy Can Take The Option Group',
    });
    expect(JSON.stringify(branch.States['Explain The Missing Option Group'])).toContain(
      'OptionGroupRequired',
    );
  });

  test('passes cfn-lint in the destination Region: exit status 0, no output', async () => {
    if (!cfnLintAvailable()) {
      if (process.env.CI === 'true') throw new Error('cfn-lint is not installed, and CI=true requires it');
      return;
    }
    const { dir } = await packageService('destination', 'dev', CROSS_REGION);
    const template = join(dir, 'cloudformation-template-update-stack.json');
    expect(cfnLint(template, 'eu-central-1')).toEqual({ status: 0, lines: [] });
  });
});

describe('cfn-lint', () => {
  const available = cfnLintAvailable();
  const skip = (): boolean => {
    if (available) return false;
    if (process.env.CI === 'true') throw new Error('cfn-lint is not installed, and CI=true requires it');
    console.warn('cfn-lint is not installed: skipping the CloudFormation lint (CI runs it)');
    return true;
  };

  test.each<['source' | 'destination', string[]]>([
    ['source', ['SharedKey', 'Table', 'TopicKey', 'StateMachineLogGroup']],
    [
      'destination',
      ['LockTable', 'ReplicaKey', 'DatabaseSecretOrdersDashdb', 'OperationsTopicKey', 'StateMachineLogGroup'],
    ],
  ])(
    '%s: no hard-coded partition (I3042) and explicit deletion policies on stateful resources (I3011)',
    async (side, stateful) => {
      if (!available) {
        if (process.env.CI === 'true') throw new Error('cfn-lint is not installed, and CI=true requires it');
        return;
      }
      const { dir } = await packageService(side, 'dev');
      const template = join(dir, 'cloudformation-template-update-stack.json');
      const { lines } = cfnLint(template, 'eu-west-1', ['--include-checks', 'I']);
      // the dev template passes: no error or warning (this run also stands for the plain lint of the
      // dev templates, which npm test's cfn-lint step runs too), and no hard-coded partition
      expect(lines.filter((l) => /^[EW]\d/.test(l))).toEqual([]);
      expect(lines.filter((l) => l.startsWith('I3042'))).toEqual([]);
      // I3011 names no resource, only a line: find the resource that starts there
      const text = require('node:fs').readFileSync(template, 'utf8').split('\n') as string[];
      const flagged = lines
        .map((l, i) => (l.startsWith('I3011') ? lines[i + 1] : undefined))
        .filter((l): l is string => l !== undefined)
        .map((l) => /:(\d+):\d+$/.exec(l)?.[1])
        .map((n) => /^\s*"([^"]+)": \{/.exec(text[Number(n) - 1] ?? '')?.[1]);
      for (const id of stateful)
        expect({ id, flagged: flagged.includes(id) }).toEqual({ id, flagged: false });
    },
  );

  test.each([['every optional parameter', EVERYTHING]])(
    'passes on the %s template: exit status 0, no output',
    async (_label, params) => {
      if (skip()) return;
      const { dir } = await packageService('destination', 'dev', params as Record<string, string>);
      const template = join(dir, 'cloudformation-template-update-stack.json');
      expect(cfnLint(template)).toEqual({ status: 0, lines: [] });
    },
  );

  test('reports a finding in a broken copy: exit status 2, the rule and where', async () => {
    if (skip()) return;
    const { dir } = await packageService('destination', 'dev', {});
    const template = JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'));
    template.Resources.TriggerLambdaFunction.Properties.NotAProperty = 1;
    const broken = join(mkdtempSync(join(tmpdir(), 'cfn-lint-')), 'broken.json');
    writeFileSync(broken, JSON.stringify(template, null, 2));
    expect(cfnLint(broken)).toEqual({
      status: 2,
      lines: [
        "E3002 Additional properties are not allowed ('NotAProperty' was unexpected)",
        expect.stringMatching(/broken\.json:\d+:\d+$/),
      ],
    });
  });
});
