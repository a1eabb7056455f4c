// Least privilege, proven on the packaged templates (issue 5, item 3): every IAM statement of both
// services (role and trust policies, AWS::IAM::Policy / ManagedPolicy, key, topic, queue, bucket and
// secret policies, Lambda permissions), in the dev stage and with every optional feature on, checked
// against the rules in scripts/iam-table.ts. The same script prints the table in README.md.
//
// The checker is tested first on synthetic statements, so that a rule that stopped firing would fail
// here rather than pass silently.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Checked,
  check,
  checkVariant,
  countWrittenStatements,
  extract,
  type Finding,
  formatFinding,
  type Kind,
  markdown,
  type Rule,
  readmeTable,
  type Statement,
  VARIANTS,
} from '../../scripts/iam-table';
import { deploymentMarker } from '../../src/contracts/names';
import { type CfnTemplate, ROOT } from '../../twin/src/package';

type Json = Record<string, unknown>;

const OWN_ROOT = { 'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:root` };
const DESTINATION_ROOT = 'arn:aws:iam::222222222222:root';
const sub = (s: string) => ({ 'Fn::Sub': s });
const DB_ANY = sub(`arn:\${AWS::Partition}:rds:\${AWS::Region}:\${AWS::AccountId}:db:*`);

function template(
  resources: Record<string, { Type: string; Properties: Json; Condition?: string }>,
  extra = {},
) {
  return { Resources: resources, ...extra } as unknown as CfnTemplate;
}
const STATES_TRUST = {
  Effect: 'Allow',
  Principal: { Service: 'states.amazonaws.com' },
  Action: 'sts:AssumeRole',
  Condition: {
    StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
    ArnLike: {
      'aws:SourceArn': sub(`arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:stateMachine:m`),
    },
  },
};
const VIA_RDS = { StringEquals: { 'kms:ViaService': 'rds.eu-west-1.amazonaws.com' } };
const role = (...statements: unknown[]) => ({
  Type: 'AWS::IAM::Role',
  Properties: {
    AssumeRolePolicyDocument: { Statement: [STATES_TRUST] },
    Policies: [{ PolicyName: 'p', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
  },
});
const keyPolicy = (...statements: unknown[]) => ({
  Type: 'AWS::KMS::Key',
  Properties: { KeyPolicy: { Version: '2012-10-17', Statement: statements } },
});
const topicPolicy = (...statements: unknown[]) => ({
  Type: 'AWS::SNS::TopicPolicy',
  Properties: { Topics: [{ Ref: 'Topic' }], PolicyDocument: { Statement: statements } },
});
const allow = (Action: unknown, Resource: unknown, more: Partial<Statement> = {}) => ({
  Effect: 'Allow',
  Action,
  Resource,
  ...more,
});

/** Findings of the checker on a synthetic template, as [rule, message]. */
function findings(t: CfnTemplate, accounts: string[] = ['222222222222']): Finding[] {
  const { located, findings: unread } = extract(t, 'source');
  return [...unread, ...check(located, { accounts }, t)];
}
const rules = (fs: Finding[]): Rule[] => [...new Set(fs.map((f) => f.rule))].sort();

describe('the checker (synthetic statements)', () => {
  test('accepts a least-privilege template', () => {
    const t = template({
      Role: role(
        allow(['rds:DeleteDBInstance'], DB_ANY, {
          Condition: { StringEquals: { 'rds:db-tag/managed-by': 'me' } },
        }),
        allow('logs:CreateLogDelivery', '*'),
        allow('sns:Publish', { Ref: 'Topic' }),
      ),
      Key: keyPolicy(
        { Effect: 'Allow', Principal: { AWS: OWN_ROOT }, Action: 'kms:*', Resource: '*' },
        {
          Effect: 'Allow',
          Principal: { AWS: DESTINATION_ROOT },
          Action: ['kms:Decrypt', 'kms:ReEncrypt*'],
          Resource: '*',
          Condition: VIA_RDS,
        },
        {
          Effect: 'Allow',
          Principal: { AWS: DESTINATION_ROOT },
          Action: 'kms:CreateGrant',
          Resource: '*',
          Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
        },
      ),
      Policy: topicPolicy(
        {
          Effect: 'Allow',
          Principal: { AWS: DESTINATION_ROOT },
          Action: 'sns:Subscribe',
          Resource: { Ref: 'Topic' },
          Condition: {
            StringEquals: { 'sns:Protocol': 'lambda' },
            ArnLike: { 'sns:Endpoint': 'arn:aws:lambda:eu-west-1:222222222222:function:trigger' },
          },
        },
        {
          Effect: 'Allow',
          Principal: { AWS: { 'Fn::GetAtt': ['Role', 'Arn'] } },
          Action: 'sns:Publish',
          Resource: '*',
        },
        { Effect: 'Deny', Principal: '*', Action: '*', Resource: '*' },
      ),
      Permission: {
        Type: 'AWS::Lambda::Permission',
        Properties: {
          FunctionName: 'f',
          Action: 'lambda:InvokeFunction',
          Principal: 'sns.amazonaws.com',
          SourceArn: 'arn:aws:sns:eu-west-1:111111111111:t',
        },
      },
    });
    expect(findings(t).map(formatFinding)).toEqual([]);
  });

  test.each<[string, unknown, Rule]>([
    ['Action "*"', allow('*', { Ref: 'Topic' }), 'wildcard-action'],
    ['a service wildcard', allow('s3:*', 'arn:aws:s3:::bucket/*'), 'wildcard-action'],
    [
      'kms:* through RDS',
      allow('kms:*', { 'Fn::GetAtt': ['Key', 'Arn'] }, { Condition: VIA_RDS }),
      'wildcard-action',
    ],
    ['a mutating RDS action on "*"', allow('rds:DeleteDBInstance', '*'), 'star-resource'],
    ['a mutating KMS action on "*"', allow(['kms:Decrypt'], '*', { Condition: VIA_RDS }), 'star-resource'],
    [
      'a key used outside any service',
      allow('kms:Decrypt', { 'Fn::GetAtt': ['Key', 'Arn'] }),
      'kms-via-service',
    ],
    [
      'a grant for anything but an AWS resource, outside any service',
      allow('kms:CreateGrant', { 'Fn::GetAtt': ['Key', 'Arn'] }),
      'kms-via-service',
    ],
    [
      'any service-linked role',
      allow(
        'iam:CreateServiceLinkedRole',
        sub(`arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/aws-service-role/*`),
        {
          Condition: { StringEquals: { 'iam:AWSServiceName': 'rds.amazonaws.com' } },
        },
      ),
      'service-linked-role',
    ],
    [
      'a service-linked role for any service',
      allow(
        'iam:CreateServiceLinkedRole',
        sub(
          `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS`,
        ),
      ),
      'service-linked-role',
    ],
    ['reading a secret on "*"', allow('secretsmanager:GetSecretValue', '*'), 'star-resource'],
    ['a scopable read-only action on "*"', allow('rds:DescribeDBInstances', '*'), 'star-resource'],
    [
      'a service-wide ARN',
      allow('secretsmanager:PutSecretValue', 'arn:aws:secretsmanager:eu-west-1:1:*'),
      'star-resource',
    ],
    ['NotAction', { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }, 'not-element'],
    ['NotResource', { Effect: 'Allow', Action: 'rds:DeleteDBSnapshot', NotResource: 'x' }, 'not-element'],
  ])('flags %s in a role', (_label, statement, rule) => {
    expect(rules(findings(template({ Role: role(statement) })))).toEqual([rule]);
  });

  test.each<[string, unknown, Rule[]]>([
    [
      'kms:* for another account',
      { Effect: 'Allow', Principal: { AWS: DESTINATION_ROOT }, Action: 'kms:*', Resource: '*' },
      ['key-grant', 'kms-via-service', 'wildcard-action'],
    ],
    [
      'an administrative action for another account',
      {
        Effect: 'Allow',
        Principal: { AWS: DESTINATION_ROOT },
        Action: 'kms:ScheduleKeyDeletion',
        Resource: '*',
      },
      ['key-grant'],
    ],
    [
      'kms:CreateGrant for another account without kms:GrantIsForAWSResource',
      { Effect: 'Allow', Principal: { AWS: DESTINATION_ROOT }, Action: 'kms:CreateGrant', Resource: '*' },
      ['key-grant', 'kms-via-service'],
    ],
    [
      'use actions for an account that is not configured',
      {
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::999999999999:root' },
        Action: 'kms:Decrypt',
        Resource: '*',
        Condition: VIA_RDS,
      },
      ['open-policy'],
    ],
    ['everyone', { Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*' }, ['open-policy']],
    [
      'use actions for another account outside RDS (no kms:ViaService)',
      { Effect: 'Allow', Principal: { AWS: DESTINATION_ROOT }, Action: 'kms:Decrypt', Resource: '*' },
      ['kms-via-service'],
    ],
    [
      'a service (CloudWatch) limited to this account',
      {
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        Resource: '*',
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      },
      [],
    ],
  ])('flags %s in a key policy', (_label, statement, expected) => {
    expect(rules(findings(template({ Key: keyPolicy(statement) })))).toEqual(expected);
  });

  test.each<[string, unknown, Rule[]]>([
    [
      'everyone without a condition',
      { Effect: 'Allow', Principal: '*', Action: 'sns:Publish', Resource: 't' },
      ['open-policy'],
    ],
    [
      'everyone, limited to one source account',
      {
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: 'sns:Publish',
        Resource: 't',
        Condition: { StringEquals: { 'aws:SourceAccount': '111111111111' } },
      },
      [],
    ],
    [
      'an account that is not configured',
      { Effect: 'Allow', Principal: { AWS: '999999999999' }, Action: 'sns:Subscribe', Resource: 't' },
      ['open-policy', 'subscribe-lambda'],
    ],
    [
      'a configured account that may subscribe with any protocol',
      { Effect: 'Allow', Principal: { AWS: DESTINATION_ROOT }, Action: 'sns:Subscribe', Resource: 't' },
      ['subscribe-lambda'],
    ],
    [
      'a configured account that may subscribe an e-mail address',
      {
        Effect: 'Allow',
        Principal: { AWS: DESTINATION_ROOT },
        Action: 'sns:Subscribe',
        Resource: 't',
        Condition: {
          StringEquals: { 'sns:Protocol': ['lambda', 'email'] },
          StringLike: { 'sns:Endpoint': '*' },
        },
      },
      ['subscribe-lambda'],
    ],
    [
      'a configured account that may subscribe any Lambda endpoint (no sns:Endpoint)',
      {
        Effect: 'Allow',
        Principal: { AWS: DESTINATION_ROOT },
        Action: 'sns:Subscribe',
        Resource: 't',
        Condition: { StringEquals: { 'sns:Protocol': 'lambda' } },
      },
      ['subscribe-lambda'],
    ],
    [
      'a configured account that may publish',
      { Effect: 'Allow', Principal: { AWS: DESTINATION_ROOT }, Action: 'sns:Publish', Resource: 't' },
      ['open-policy'],
    ],
    [
      'a service without SourceArn',
      {
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: 't',
      },
      ['open-policy'],
    ],
  ])('topic policy: %s', (_label, statement, expected) => {
    expect(rules(findings(template({ Policy: topicPolicy(statement) })))).toEqual(expected);
  });

  test.each<[string, Record<string, unknown> | undefined, Rule[]]>([
    ['without any condition', undefined, ['confused-deputy']],
    [
      'with aws:SourceAccount only',
      { StringEquals: { 'aws:SourceAccount': '111111111111' } },
      ['confused-deputy'],
    ],
    [
      'with aws:SourceArn only',
      { ArnLike: { 'aws:SourceArn': 'arn:aws:states:eu-west-1:111111111111:stateMachine:m' } },
      ['confused-deputy'],
    ],
    ['with both', STATES_TRUST.Condition, []],
  ])('trust policy of a Step Functions or EventBridge role %s', (_label, condition, expected) => {
    for (const service of ['states.amazonaws.com', 'events.amazonaws.com']) {
      const t = template({
        Role: {
          Type: 'AWS::IAM::Role',
          Properties: {
            AssumeRolePolicyDocument: {
              Statement: [
                {
                  Effect: 'Allow',
                  Principal: { Service: service },
                  Action: 'sts:AssumeRole',
                  ...(condition ? { Condition: condition } : {}),
                },
              ],
            },
          },
        },
      });
      expect({ service, rules: rules(findings(t)) }).toEqual({ service, rules: expected });
    }
  });

  test('flags a Lambda permission without SourceArn', () => {
    const t = template({
      Permission: {
        Type: 'AWS::Lambda::Permission',
        Properties: { FunctionName: 'f', Action: 'lambda:InvokeFunction', Principal: 'sns.amazonaws.com' },
      },
    });
    expect(rules(findings(t))).toEqual(['lambda-permission']);
  });

  test('flags a tag condition that the same role can defeat by tagging', () => {
    const guarded = allow(['rds:ModifyDBInstance', 'rds:DeleteDBInstance'], DB_ANY, {
      Condition: { StringEquals: { 'rds:db-tag/managed-by': 'me' } },
    });
    const tagAnything = allow('rds:AddTagsToResource', DB_ANY, {
      Condition: { StringEquals: { 'aws:RequestTag/managed-by': 'me' } },
    });
    const tagNames = (pattern: string) =>
      allow(
        'rds:AddTagsToResource',
        sub(`arn:\${AWS::Partition}:rds:\${AWS::Region}:\${AWS::AccountId}:db:${pattern}`),
      );
    // Names that carry the deployment (its tag value or marker) are names only it creates.
    const tagOwnNames = tagNames(`orders-db-${deploymentMarker('me')}-*`);
    // `orders-db-*` also matches an operator's own `orders-db-legacy` (issue 10, point 5).
    const tagDatabaseNames = tagNames('orders-db-*');
    const tagTagged = allow('rds:AddTagsToResource', DB_ANY, {
      Condition: { StringEquals: { 'aws:ResourceTag/managed-by': 'me' } },
    });
    const flagged = findings(template({ Role: role(guarded, tagAnything) }));
    expect(rules(flagged)).toEqual(['tag-guard']);
    expect(flagged[0]!.message).toMatch(/rds:AddTagsToResource on arn:aws:rds:<region>:<account>:db:\*/);
    expect(rules(findings(template({ Role: role(guarded, allow('rds:*', '*')) })))).toContain('tag-guard');
    expect(findings(template({ Role: role(guarded, tagOwnNames) }))).toEqual([]);
    expect(findings(template({ Role: role(guarded, tagNames('me-*')) }))).toEqual([]);
    expect(findings(template({ Role: role(guarded, tagNames('orders-db-20261123t192147')) }))).toEqual([]);
    const foreign = findings(template({ Role: role(guarded, tagDatabaseNames) }));
    expect(rules(foreign)).toEqual(['tag-guard']);
    expect(foreign[0]!.message).toMatch(/db:orders-db-\*.*such a name/);
    expect(findings(template({ Role: role(guarded, tagTagged) }))).toEqual([]);
    // another role's tagging does not count
    expect(findings(template({ Role: role(guarded), Other: role(tagAnything) }))).toEqual([]);
  });

  test('reads every place a policy can live, and flags what it cannot read', () => {
    const bad = allow('*', '*');
    const t = template({
      Managed: {
        Type: 'AWS::IAM::ManagedPolicy',
        Properties: { Roles: [{ Ref: 'Role' }], PolicyDocument: { Statement: [bad] } },
      },
      Attached: {
        Type: 'AWS::IAM::Policy',
        Properties: { PolicyName: 'x', Roles: [{ Ref: 'Role' }], PolicyDocument: { Statement: bad } },
      },
      Queue: {
        Type: 'AWS::SQS::QueuePolicy',
        Properties: { PolicyDocument: { Statement: [{ ...bad, Principal: '*' }] } },
      },
      Bucket: {
        Type: 'AWS::S3::BucketPolicy',
        Properties: { PolicyDocument: { Statement: [{ ...bad, Principal: '*' }] } },
      },
      Secret: {
        Type: 'AWS::SecretsManager::ResourcePolicy',
        Properties: { ResourcePolicy: { Statement: [{ ...bad, Principal: '*' }] } },
      },
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Statement: [{ Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole' }],
          },
          ManagedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'],
        },
      },
      Bus: {
        Type: 'AWS::Events::EventBusPolicy',
        Properties: {
          StatementId: 's',
          Statement: { Effect: 'Allow', Principal: '*', Action: 'events:PutEvents' },
        },
      },
    });
    const all = findings(t);
    const where = (rule: Rule) => [
      ...new Set(all.filter((f) => f.rule === rule).map((f) => f.where.split(' ')[0])),
    ];
    expect(where('wildcard-action').sort()).toEqual(['Attached', 'Bucket', 'Managed', 'Queue', 'Secret']);
    expect(where('open-policy').sort()).toEqual(['Bucket', 'Queue', 'Role', 'Secret']);
    expect(where('unreviewed').sort()).toEqual(['Bus', 'Role']);
  });

  test('resolves Fn::If and resource conditions the way CloudFormation would', () => {
    const withCondition = (on: string) =>
      template(
        {
          Role: role({ 'Fn::If': ['On', allow('s3:*', 'x'), { Ref: 'AWS::NoValue' }] }),
          Key: {
            ...keyPolicy(allow('kms:*', '*', { Principal: { AWS: DESTINATION_ROOT }, Condition: VIA_RDS })),
            Condition: 'On',
          },
        },
        {
          Parameters: { Flag: { Type: 'String', Default: on } },
          Conditions: { On: { 'Fn::Equals': [{ Ref: 'Flag' }, 'true'] } },
        },
      );
    expect(findings(withCondition('false'))).toEqual([]);
    expect(rules(findings(withCondition('true')))).toEqual(['key-grant', 'wildcard-action']);
  });
});

describe('the packaged templates', () => {
  const checked = new Map<string, Checked>();
  const label = (i: number) => `${VARIANTS[i]!.side} (${VARIANTS[i]!.label})`;
  const cases = VARIANTS.map((_, i) => [label(i), i] as [string, number]);

  beforeAll(async () => {
    // one at a time: `sls package` of one service directory cannot run twice at once
    for (const [name, i] of cases) checked.set(name, await checkVariant(VARIANTS[i]!));
  }, 600_000);

  test.each(cases)('%s: the checker sees every statement of the template', (name, i) => {
    const { template, located } = checked.get(name)!;
    expect(located.filter((l) => l.kind !== 'permission')).toHaveLength(countWrittenStatements(template));
    // the key policies are there unless a key ARN is given (the source always has its topic key)
    const expected: Kind[] =
      VARIANTS[i]!.side === 'source'
        ? ['identity', 'trust', 'key', 'topic', 'bucket']
        : ['identity', 'trust', 'permission', 'bucket', 'key', 'topic']; // the operations topic always has its key and policy
    expect([...new Set(located.map((l) => l.kind))].sort()).toEqual(expected.sort());
  });

  test.each(cases)('%s: no statement breaks a least-privilege rule', (name) => {
    expect(checked.get(name)!.findings.map(formatFinding)).toEqual([]);
  });

  test('README.md carries the current table, with a reason for every statement', () => {
    const table = markdown(readmeTable([...checked.values()]));
    console.log(`IAM statements of both services (npx tsx scripts/iam-table.ts):\n${table}`);
    expect(table).not.toContain('no reason recorded');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const inReadme = readme.includes(table);
    expect({ inReadme, fix: 'run `npx tsx scripts/iam-table.ts --write`' }).toEqual({
      inReadme: true,
      fix: 'run `npx tsx scripts/iam-table.ts --write`',
    });
  });
});
