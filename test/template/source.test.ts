// The source service as it would be deployed: `sls package` of serverless.source.yml (through
// twin/src/package.ts, which caches under dist/), then assertions on the CloudFormation template and
// the state machine definition it carries. The offline twin runs that definition; these tests check
// what the twin cannot see: schedule state, IAM, key and topic policies, parameter validation.
import { extract, type Located, principalsOf, render, type Statement } from '../../scripts/iam-table';
import { SCHEMAS } from '../../scripts/params-table';
import messageSchema from '../../src/contracts/replication-message.schema.json';
import {
  type CfnTemplate,
  type PackagedService,
  packageService,
  resourcesOfType,
} from '../../twin/src/package';
import { parameterError } from '../helpers/parameters';

type Json = Record<string, unknown>;

const DESTINATION = '222222222222';
const OTHER_DESTINATION = '333333333333';
const USE_ACTIONS = [
  'kms:Decrypt',
  'kms:DescribeKey',
  'kms:Encrypt',
  'kms:GenerateDataKey*',
  'kms:ReEncrypt*',
];
/** A value for each template parameter that turns on the optional statements and flips each condition. */
const EVERY_OPTION: Record<string, string> = {
  SharedKmsKeyArn: 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  NotificationEmail: 'dba-oncall@example.com',
  XRayTracing: 'true',
  ReadSourceInstanceKeys: 'true',
};

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Principals rendered by scripts/iam-table.ts (pseudo parameters stay symbolic: `<account>`). */
const principals = (s: Statement): string[] => principalsOf(s).map((p) => p.text);

/** Every policy statement of the template as deployed with its packaged parameter defaults. */
const statements = (template: CfnTemplate): Located[] => extract(template, 'source').located;

/** The same template deployed with other parameter values (they are its parameters' defaults). */
function withParameters(template: CfnTemplate, values: Record<string, string>): CfnTemplate {
  const parameters = (template.Parameters ?? {}) as Record<string, Json>;
  expect(Object.keys(parameters).sort()).toEqual(Object.keys(values).sort());
  return {
    ...template,
    Parameters: Object.fromEntries(
      Object.entries(parameters).map(([name, p]) => [name, { ...p, Default: values[name] }]),
    ),
  };
}

/**
 * Both branches of every optional statement: the statements with the packaged defaults and with
 * every option on (each template condition flipped).
 */
const everyBranch = (template: CfnTemplate): Located[] => [
  ...statements(template),
  ...statements(withParameters(template, EVERY_OPTION)),
];

/**
 * One state machine's definition with CloudFormation substitutions replaced: a variable that stands
 * for a partition-neutral ARN (`Fn::Sub` of `arn:${AWS::Partition}:...`, the Task resources) is
 * rendered as in the aws partition, every other one by the placeholder SUBSTITUTED.
 */
function parseDefinition(sm: Json): Json {
  const ds = (sm.Properties as Json).DefinitionString as string | { 'Fn::Sub': string | [string, Json] };
  const [body, vars = {}] =
    typeof ds === 'string' ? [ds] : (asArray(ds['Fn::Sub'] as unknown) as [string, Json?]);
  return JSON.parse(
    (body as string).replace(/\$\{([^}]+)\}/g, (_, name: string) => {
      const v = (vars as Json)[name] as { 'Fn::Sub'?: unknown } | undefined;
      return typeof v?.['Fn::Sub'] === 'string' && v['Fn::Sub'].startsWith(`arn:\${AWS::Partition}:`)
        ? render(v)
        : 'SUBSTITUTED';
    }),
  ) as Json;
}

/**
 * The states of both machines (`replicate` and its per-database child `replicate-database`) as
 * one definition: state names are unique across them.
 */
const INSTANCE_MACHINES = ['ReplicateDatabaseStateMachine', 'StateMachine'];
/** The Aurora DB cluster machines (`replicate-clusters`, `snapshot-cluster`), whose state names repeat those of the instance machines. */
const CLUSTER_MACHINES = ['ReplicateClustersStateMachine', 'SnapshotClusterStateMachine'];

/** With `all`, the cluster machines too, their state names prefixed with the machine's id. */
function definition(template: CfnTemplate, all = false): Json {
  const machines = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
  expect(machines.map(([id]) => id).sort()).toEqual([...INSTANCE_MACHINES, ...CLUSTER_MACHINES].sort());
  const States: Json = {};
  for (const [id, sm] of machines) {
    const states = parseDefinition(sm as Json).States as Json;
    if (INSTANCE_MACHINES.includes(id)) Object.assign(States, states);
    else if (all) for (const [name, state] of Object.entries(states)) States[`${id}: ${name}`] = state;
  }
  return { States };
}

/** Every state, nested Map iterations included, as [name, state]. */
function allStates(states: Json): Array<[string, Json]> {
  return Object.entries(states).flatMap(([name, s]) => {
    const state = s as Json;
    const inner = (state.ItemProcessor ?? state.Iterator) as Json | undefined;
    return [[name, state] as [string, Json], ...(inner ? allStates(inner.States as Json) : [])];
  });
}

async function packagingError(params: Record<string, string>): Promise<string> {
  try {
    await packageService('source', 'dev', params);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`packaging with ${JSON.stringify(params)} succeeded but should have failed`);
}

let dev: PackagedService;
let scheduled: PackagedService;
let twoAccounts: PackagedService;

beforeAll(async () => {
  // One after the other: `sls package` stages its output in the service's .serverless/ folder before
  // moving it to --package, so two packagings of this directory at once overwrite each other.
  dev = await packageService('source', 'dev');
  scheduled = await packageService('source', 'dev', { scheduleEnabled: 'true' });
  twoAccounts = await packageService('source', 'dev', {
    destinationAccountIds: `${DESTINATION},${OTHER_DESTINATION}`,
  });
});

describe('schedule', () => {
  // One rule starts `replicate`, one `replicate-clusters`: both follow scheduleEnabled.
  const ruleState = (p: PackagedService) => {
    const rules = resourcesOfType(p.template, 'AWS::Events::Rule');
    expect(rules).toHaveLength(2);
    const states = rules.map(([, r]) => (r.Properties as Json).State);
    expect(states[1]).toBe(states[0]);
    return states[0];
  };

  it('is DISABLED by default', () => {
    expect(ruleState(dev)).toBe('DISABLED');
  });

  it('is ENABLED with scheduleEnabled=true', () => {
    expect(ruleState(scheduled)).toBe('ENABLED');
  });

  it('starts the state machine with {} so that the configured databases are replicated', () => {
    const [, rule] = resourcesOfType(dev.template, 'AWS::Events::Rule')[0]!;
    const target = ((rule.Properties as Json).Targets as Json[])[0]!;
    expect(target.Input).toBe('{}');
    expect(target.Arn).toEqual({ Ref: 'StateMachine' });
  });
});

describe('IAM', () => {
  it('has no statement with a * action, and service wildcards only for the account that owns a key', () => {
    for (const p of [dev, twoAccounts]) {
      const located = everyBranch(p.template);
      // the optional X-Ray statement (only with tracing on) is among them
      expect(located.map((l) => l.statement.Sid)).toContain('SendTraces');
      for (const { where, kind, statement } of located) {
        const actions = asArray(statement.Action);
        expect({ where, actions }).toEqual({ where, actions: expect.not.arrayContaining(['*']) });
        if (statement.Effect !== 'Allow') continue;
        for (const action of actions.filter((a) => a.endsWith(':*'))) {
          // The key policy's administrator statement: the account itself, whose IAM then decides.
          expect({ where, action, kind, principals: principals(statement) }).toEqual({
            where,
            action: 'kms:*',
            kind: 'key',
            principals: ['arn:aws:iam::<account>:root'],
          });
        }
      }
    }
  });

  it('has no * resource on a mutating RDS, KMS, SNS or DynamoDB action', () => {
    const readOnly = /^(rds|kms|sns|dynamodb):(Describe|List|Get|Query|Scan|BatchGet)/;
    const located = everyBranch(dev.template);
    expect(located.map((l) => l.statement.Sid)).toContain('SendTraces');
    for (const { where, kind, statement } of located) {
      if (kind !== 'identity' || statement.Effect !== 'Allow') continue;
      if (!asArray(statement.Resource).includes('*')) continue;
      const mutating = asArray(statement.Action).filter(
        (a) => /^(rds|kms|sns|dynamodb):/.test(a) && !readOnly.test(a),
      );
      expect({ where, sid: statement.Sid, mutating }).toEqual({ where, sid: statement.Sid, mutating: [] });
    }
  });

  it('scopes every RDS action of the state machine role to this account and Region', () => {
    const rds = statements(dev.template).filter(
      (s) => s.kind === 'identity' && asArray(s.statement.Action).some((a) => a.startsWith('rds:')),
    );
    expect(rds.length).toBeGreaterThan(0);
    for (const { statement } of rds) {
      // The quota preflight's action has no resource-level permissions: "*" is the only resource.
      if (asArray(statement.Action).join() === 'rds:DescribeAccountAttributes') {
        expect(statement.Resource).toBe('*');
        continue;
      }
      // snapshotSource latest (issue 12): copying from the configured databases' automated snapshots
      // and from AWS Backup snapshots, nothing else on them (the copy itself is named after this deployment).
      if (statement.Sid === 'CopyTheInstancesBackups') {
        expect(asArray(statement.Action)).toEqual(['rds:CopyDBSnapshot']);
        expect(asArray(statement.Resource).map(render)).toEqual([
          'arn:aws:rds:<region>:<account>:snapshot:rds:orders-db-*',
          'arn:aws:rds:<region>:<account>:snapshot:awsbackup:*',
        ]);
        expect(statement.Condition).toBeUndefined();
        continue;
      }
      for (const resource of asArray(statement.Resource).map(render)) {
        // Reading spans the account; writing to snapshots only those named after this deployment.
        expect(resource).toMatch(
          /^arn:aws:rds:<region>:<account>:(db:\*|snapshot:\*|snapshot:rds-replica-source-dev-\*|cluster:\*|cluster-snapshot:\*|cluster-snapshot:rr[0-9a-f]{6}-cs-\*)$/,
        );
      }
    }
  });

  it('lets the role share and delete only snapshots tagged as this deployment', () => {
    const [own] = statements(dev.template).filter((s) =>
      asArray(s.statement.Action).includes('rds:DeleteDBSnapshot'),
    );
    expect(asArray(own!.statement.Action).sort()).toEqual([
      'rds:DeleteDBSnapshot',
      'rds:ModifyDBSnapshotAttribute',
    ]);
    expect(own!.statement.Condition).toEqual({
      StringEquals: { 'aws:ResourceTag/rds-replicator:managed-by': 'rds-replica-source-dev' },
    });
  });
});

describe('the shared key', () => {
  const keyPolicy = (p: PackagedService) => {
    const key = p.template.Resources.SharedKey!;
    expect(key.Type).toBe('AWS::KMS::Key');
    return statements(p.template).filter((s) => s.where === 'SharedKey key policy');
  };

  it.each([
    ['one destination account', () => dev, [DESTINATION]],
    ['two destination accounts', () => twoAccounts, [DESTINATION, OTHER_DESTINATION]],
  ])('grants %s exactly the use actions, and CreateGrant only for AWS resources', (_label, pkg, accounts) => {
    const expected = (accounts as string[]).map((a) => `arn:aws:iam::${a}:root`).sort();
    const toDestination = keyPolicy(pkg()).filter(({ statement }) =>
      principals(statement).some((p) => !p.includes('<account>')),
    );
    const granted = new Set<string>();
    for (const { statement } of toDestination) {
      expect(statement.Effect).toBe('Allow');
      expect(principals(statement).sort()).toEqual(expected);
      for (const action of asArray(statement.Action)) {
        granted.add(action);
        if (action === 'kms:CreateGrant') {
          expect(asArray(statement.Action)).toEqual(['kms:CreateGrant']);
          expect(statement.Condition?.Bool).toEqual({ 'kms:GrantIsForAWSResource': true });
        }
      }
      // only through RDS, in this Region (no destinationRegions given)
      expect(statement.Condition?.StringEquals).toEqual({
        'kms:ViaService': [{ 'Fn::Sub': `rds.eu-west-1.\${AWS::URLSuffix}` }],
      });
    }
    expect([...granted].sort()).toEqual([...USE_ACTIONS, 'kms:CreateGrant'].sort());
  });

  it('lets the destination accounts use the key through RDS in every Region they copy into', async () => {
    const p = await packageService('source', 'dev', { destinationRegions: 'eu-west-1,us-east-1' });
    const toDestination = keyPolicy(p).filter(({ statement }) =>
      principals(statement).some((x) => !x.includes('<account>')),
    );
    expect(toDestination).toHaveLength(2);
    for (const { statement } of toDestination) {
      const via = asArray((statement.Condition!.StringEquals as Json)['kms:ViaService'] as unknown[]);
      expect(via.map(render)).toEqual(['rds.eu-west-1.amazonaws.com', 'rds.us-east-1.amazonaws.com']);
    }
    // and may subscribe their trigger in each of those Regions (issue 14)
    const subscribe = statements(p.template).find(
      (s) => s.kind === 'topic' && s.statement.Sid === 'DestinationAccountsSubscribe',
    )!.statement;
    const endpoints = asArray((subscribe.Condition!.ArnLike as Json)['sns:Endpoint'] as unknown[]);
    expect(endpoints.map(render)).toEqual([
      'arn:aws:lambda:eu-west-1:222222222222:function:rds-replica-destination-*-trigger',
      'arn:aws:lambda:us-east-1:222222222222:function:rds-replica-destination-*-trigger',
    ]);
  });

  it('is retained when the stack is deleted or the key replaced, and so is the table', () => {
    for (const id of ['SharedKey', 'Table']) {
      const r = dev.template.Resources[id]!;
      expect({ id, d: r.DeletionPolicy, u: r.UpdateReplacePolicy }).toEqual({ id, d: 'Retain', u: 'Retain' });
    }
    // a retained table with a fixed name would make the next deploy fail
    expect((dev.template.Resources.Table!.Properties as Json).TableName).toBeUndefined();
  });

  it('is administered by its own account only, and the topic key is not shared at all', () => {
    const own = keyPolicy(dev).filter(({ statement }) =>
      principals(statement).includes('arn:aws:iam::<account>:root'),
    );
    expect(own).toHaveLength(1);
    const topicKey = statements(dev.template).filter((s) => s.where === 'TopicKey key policy');
    expect(topicKey.map(({ statement }) => principals(statement))).toEqual([
      ['arn:aws:iam::<account>:root'],
      ['cloudwatch.amazonaws.com'],
    ]);
    // CloudWatch alarms of this account (only) may publish to the encrypted operations topic
    const cloudwatch = topicKey[1]!.statement;
    expect(asArray(cloudwatch.Action).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
    expect(cloudwatch.Condition).toEqual({
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
    });
  });

  it('is the key the state machine copies with', () => {
    const copy = allStates(definition(dev.template).States as Json).find(
      ([n]) => n === 'Copy Snapshot With Shared Key',
    );
    const params = copy![1].Parameters as Json;
    expect(params.KmsKeyId).toBe('SUBSTITUTED'); // a CloudFormation reference to the key (Fn::If below)
    expect(params.CopyTags).toBe(false);
    const [, sm] = resourcesOfType(dev.template, 'AWS::StepFunctions::StateMachine').find(
      ([id]) => id === 'ReplicateDatabaseStateMachine',
    )!;
    const map = ((sm.Properties as Json).DefinitionString as { 'Fn::Sub': [string, Json] })['Fn::Sub'][1];
    // besides the partition-neutral Task resources, the one key
    expect(
      Object.values(map).filter(
        (v) => !String((v as Json)['Fn::Sub'] ?? '').startsWith(`arn:\${AWS::Partition}:states:::`),
      ),
    ).toEqual([
      { 'Fn::If': ['CreateSharedKey', { 'Fn::GetAtt': ['SharedKey', 'Arn'] }, { Ref: 'SharedKmsKeyArn' }] },
    ]);
  });
});

describe('the replication topic', () => {
  it('lets the destination accounts subscribe and only the state machine role publish', () => {
    for (const [p, accounts] of [
      [dev, [DESTINATION]],
      [twoAccounts, [DESTINATION, OTHER_DESTINATION]],
    ] as Array<[PackagedService, string[]]>) {
      const allows = statements(p.template).filter(
        (s) =>
          s.kind === 'topic' && s.resource === 'ReplicationTopicPolicy' && s.statement.Effect === 'Allow',
      );
      const byAction = new Map<string, string[]>();
      for (const { statement } of allows) {
        for (const action of asArray(statement.Action)) {
          byAction.set(action, [...(byAction.get(action) ?? []), ...principals(statement)].sort());
        }
      }
      expect(Object.fromEntries(byAction)).toEqual({
        'sns:Subscribe': accounts.map((a) => `arn:aws:iam::${a}:root`).sort(),
        'sns:Publish': ['ClusterStateMachineRole.Arn', 'StateMachineRole.Arn'],
      });
    }
  });

  it('lets a destination account subscribe only its trigger Lambda, never an e-mail address or HTTP endpoint', () => {
    const subscribe = statements(twoAccounts.template).filter(
      (s) => s.kind === 'topic' && s.statement.Sid === 'DestinationAccountsSubscribe',
    );
    expect(subscribe).toHaveLength(1);
    const condition = subscribe[0]!.statement.Condition!;
    expect(condition.StringEquals).toEqual({ 'sns:Protocol': 'lambda' });
    expect(asArray(condition.ArnLike!['sns:Endpoint'] as unknown[]).map(render)).toEqual([
      `arn:aws:lambda:eu-west-1:${DESTINATION}:function:rds-replica-destination-*-trigger`,
      `arn:aws:lambda:eu-west-1:${OTHER_DESTINATION}:function:rds-replica-destination-*-trigger`,
    ]);
  });

  it('denies publishing to every other principal', () => {
    const deny = statements(dev.template).find((s) => s.kind === 'topic' && s.statement.Effect === 'Deny');
    expect(deny?.statement.Action).toBe('sns:Publish');
    expect(deny?.statement.Condition).toEqual({
      ArnNotEquals: {
        'aws:PrincipalArn': [
          { 'Fn::GetAtt': ['StateMachineRole', 'Arn'] },
          { 'Fn::GetAtt': ['ClusterStateMachineRole', 'Arn'] },
        ],
      },
    });
  });

  it('is encrypted, and so is the operations topic', () => {
    for (const id of ['ReplicationTopic', 'OperationsTopic']) {
      expect((dev.template.Resources[id]!.Properties as Json).KmsMasterKeyId).toEqual({ Ref: 'TopicKey' });
    }
  });
});

describe('roles assumed by services (confused deputy)', () => {
  const trust = (p: PackagedService, role: string) =>
    statements(p.template).filter((l) => l.kind === 'trust' && l.resource === role);

  it('lets Step Functions assume the state machine role only for this stage’s two state machines', () => {
    const [t] = trust(dev, 'StateMachineRole');
    expect(t!.statement.Condition!.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    expect(asArray(t!.statement.Condition!.ArnLike!['aws:SourceArn'] as unknown[]).map(render)).toEqual([
      'arn:aws:states:<region>:<account>:stateMachine:rds-replica-source-dev-replicate',
      'arn:aws:states:<region>:<account>:stateMachine:rds-replica-source-dev-replicate-database',
    ]);
    const names = resourcesOfType(dev.template, 'AWS::StepFunctions::StateMachine').map(
      ([, r]) => (r.Properties as Json).StateMachineName,
    );
    expect(names.sort()).toEqual([
      'rds-replica-source-dev-replicate',
      'rds-replica-source-dev-replicate-clusters',
      'rds-replica-source-dev-replicate-database',
      'rds-replica-source-dev-snapshot-cluster',
    ]);
    // The cluster machines have a role of their own, assumable only for them.
    const [c] = trust(dev, 'ClusterStateMachineRole');
    expect(asArray(c!.statement.Condition!.ArnLike!['aws:SourceArn'] as unknown[]).map(render)).toEqual([
      'arn:aws:states:<region>:<account>:stateMachine:rds-replica-source-dev-replicate-clusters',
      'arn:aws:states:<region>:<account>:stateMachine:rds-replica-source-dev-snapshot-cluster',
    ]);
  });

  it('runs the schedule with a role of its own that only this stage’s rule may use, to start `replicate` only', () => {
    const [, rule] = resourcesOfType(scheduled.template, 'AWS::Events::Rule').find(
      ([, r]) => (r.Properties as Json).Name === 'rds-replica-source-dev-schedule',
    )!;
    const props = rule.Properties as Json;
    expect(props.Name).toBe('rds-replica-source-dev-schedule');
    expect((props.Targets as Json[])[0]!.RoleArn).toEqual({ 'Fn::GetAtt': ['ScheduleRole', 'Arn'] });
    const [t] = trust(scheduled, 'ScheduleRole');
    expect(principals(t!.statement)).toEqual(['events.amazonaws.com']);
    const conditions = t!.statement.Condition!.StringEquals!;
    expect(render(conditions['aws:SourceArn'])).toBe(
      'arn:aws:events:<region>:<account>:rule/rds-replica-source-dev-schedule',
    );
    expect(conditions['aws:SourceAccount']).toEqual({ Ref: 'AWS::AccountId' });
    const allowed = statements(scheduled.template).filter(
      (l) => l.kind === 'identity' && l.roles.includes('ScheduleRole'),
    );
    expect(allowed.map((l) => [l.statement.Action, render(l.statement.Resource)])).toEqual([
      [
        'states:StartExecution',
        'arn:aws:states:<region>:<account>:stateMachine:rds-replica-source-dev-replicate',
      ],
    ]);
    // the plugin's own role (without conditions) is not created
    expect(
      Object.keys(scheduled.template.Resources).filter((id) => /ScheduleToStepFunctions/.test(id)),
    ).toEqual([]);
  });
});

describe('keys of the source instances', () => {
  const sourceKeyStatements = (t: CfnTemplate) =>
    statements(t).filter((l) =>
      ['GrantSourceKeysToRds', 'ReadSourceKeysThroughRds'].includes(l.statement.Sid ?? ''),
    );

  it('are not usable at all by default (instances on aws/rds or unencrypted need nothing)', () => {
    expect(sourceKeyStatements(dev.template)).toEqual([]);
  });

  it('are the listed keys only, through RDS only', async () => {
    const key = 'arn:aws:kms:eu-west-1:111111111111:key/0f1e2d3c-12ab-34cd-56ef-1234567890ab';
    const p = await packageService('source', 'dev', { sourceInstanceKmsKeyArns: key });
    const found = sourceKeyStatements(p.template);
    expect(found).toHaveLength(4); // in StateMachineRole and ClusterStateMachineRole
    for (const { statement } of found) {
      expect(statement.Resource).toEqual([key]);
      expect(render((statement.Condition!.StringEquals as Json)['kms:ViaService'])).toBe(
        'rds.<region>.amazonaws.com',
      );
    }
  });

  it('are every key of the account and Region only with the explicit opt-in', async () => {
    const p = await packageService('source', 'dev', { allowAnySourceInstanceKey: 'true' });
    for (const { statement } of sourceKeyStatements(p.template)) {
      expect(asArray(statement.Resource).map(render)).toEqual(['arn:aws:kms:<region>:<account>:key/*']);
    }
    expect(sourceKeyStatements(p.template)).toHaveLength(4);
  });

  it('must be key ARNs of this Region (sls package fails, with the message of the validation in process)', async () => {
    const params = { sourceInstanceKmsKeyArns: 'alias/orders' };
    const message = /parameter sourceInstanceKmsKeyArns contains 'alias\/orders': expected key ARNs/;
    expect(await packagingError(params)).toMatch(message);
    expect(await parameterError('source', 'dev', params)).toMatch(message);
  });
});

describe('parameters', () => {
  it.each([
    ['destinationAccountIds', { destinationAccountIds: '12345' }, /destinationAccountIds contains '12345'/],
    [
      'destinationAccountIds',
      { destinationAccountIds: Array.from({ length: 21 }, (_, i) => String(100000000000 + i)).join(',') },
      /destinationAccountIds has 21 accounts/,
    ],
    [
      'keepSharedSnapshots',
      { keepSharedSnapshots: '0' },
      /keepSharedSnapshots is '0': expected a whole number from 1 to 20/,
    ],
    ['databases', { databases: 'Orders_DB' }, /databases contains 'orders_db'/],
    [
      'clusters',
      { clusters: 'orders-aurora,Orders-DB' },
      /parameter clusters contains 'orders-db', which databases lists too: list a DB instance in databases and an Aurora DB cluster in clusters/,
    ],
    [
      'destinationCopyGraceMinutes',
      { destinationCopyGraceMinutes: '-5' },
      /destinationCopyGraceMinutes is '-5': expected a whole number from 0 to 20160/,
    ],
  ])('a malformed %s fails packaging with a message naming it', async (_name, params, message) => {
    // the service's validation in this process (test/helpers/parameters.ts); "must be key ARNs of
    // this Region" above packages for real and sees sls fail with such a message
    expect(await parameterError('source', 'dev', params as Record<string, string>)).toMatch(message);
  });

  it('puts the stage values where they are used', () => {
    const def = definition(dev.template);
    const states = Object.fromEntries(allStates(def.States as Json));
    expect((states['Use Configured Databases']!.Parameters as Json).databases).toEqual(['orders-db']);
    expect((states['Share Copy With Destination Accounts']!.Parameters as Json).ValuesToAdd).toEqual([
      DESTINATION,
    ]);
    expect(states['Replicate Each Database']!.MaxConcurrency).toBe(5);
    const keep = (states['Is This Copy Beyond Retention?']!.Choices as Json[])[1]!;
    expect(keep.NumericGreaterThanEquals).toBe(2);
    // Retention grace: 1500 minutes from sharing; from creation, the longest copy wait (1440) more.
    expect((states['Date The Copy By Its Sharing']!.Parameters as Json).graceMinutes).toBe(1500);
    expect((states['Date The Copy By Its Creation']!.Parameters as Json).graceMinutes).toBe(2940);
  });

  it('takes a --param over the stage value, and the stage value over the default from the schema', () => {
    const states = (p: PackagedService) =>
      Object.fromEntries(allStates(definition(p.template).States as Json));
    const shareWith = (p: PackagedService) =>
      (states(p)['Share Copy With Destination Accounts']!.Parameters as Json).ValuesToAdd;
    // params.default (generated from the schema): maxConcurrency and keepSharedSnapshots
    expect(states(dev)['Replicate Each Database']!.MaxConcurrency).toBe(
      SCHEMAS.source.properties.maxConcurrency!.default,
    );
    expect(
      (states(dev)['Is This Copy Beyond Retention?']!.Choices as Json[])[1]!.NumericGreaterThanEquals,
    ).toBe(SCHEMAS.source.properties.keepSharedSnapshots!.default);
    // params.dev over the empty default
    expect((states(dev)['Use Configured Databases']!.Parameters as Json).databases).toEqual(['orders-db']);
    expect(shareWith(dev)).toEqual([DESTINATION]);
    // --param over params.dev
    expect(shareWith(twoAccounts)).toEqual([DESTINATION, OTHER_DESTINATION]);
  });

  it('exports what the destination service and operators need', () => {
    expect(Object.keys(dev.template.Outputs ?? {})).toEqual(
      expect.arrayContaining(['ReplicationTopicArn', 'KmsKeyArn', 'StateMachineArn', 'OperationsTopicArn']),
    );
  });
});

describe('the state machine definition', () => {
  const states = () => allStates(definition(dev.template, true).States as Json);

  it('uses Step Functions field names in every aws-sdk Task (structural check; the twin is strict)', () => {
    // A Step Functions field starts with a capital and has no leading run of capitals before a
    // lower-case letter (`DbSnapshotIdentifier`, never `DBSnapshotIdentifier`).
    const badField = (field: string) => !/^[A-Z]/.test(field) || /^[A-Z]{2,}[a-z]/.test(field);
    const attributeMaps = new Set(['ExpressionAttributeValues', 'ExpressionAttributeNames', 'Item', 'Key']);
    const problems: string[] = [];
    const walk = (where: string, value: unknown) => {
      if (Array.isArray(value)) {
        for (const [i, v] of value.entries()) walk(`${where}[${i}]`, v);
        return;
      }
      if (value === null || typeof value !== 'object') return;
      for (const [key, inner] of Object.entries(value)) {
        const field = key.replace(/\.\$$/, '');
        if (badField(field)) problems.push(`${where}.${key}`);
        if (!attributeMaps.has(field)) walk(`${where}.${field}`, inner);
      }
    };
    const sdkTasks = states().filter(
      ([, s]) => s.Type === 'Task' && String(s.Resource).includes(':aws-sdk:'),
    );
    expect(sdkTasks.length).toBeGreaterThan(10);
    for (const [name, s] of sdkTasks) {
      walk(`${name} Parameters`, s.Parameters);
      for (const [key, path] of Object.entries((s.ResultSelector ?? {}) as Record<string, string>)) {
        const segments = path
          .replace(/^\$\.?/, '')
          .split(/[.[\]]/)
          .filter((x) => x && !/^\d+$/.test(x));
        for (const seg of segments)
          if (badField(seg)) problems.push(`${name} ResultSelector.${key}: ${path}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('retries every Task with backoff and jitter and catches its failures; every Choice has a Default', () => {
    for (const [name, s] of states()) {
      if (s.Type === 'Task') {
        const retry = s.Retry as Json[] | undefined;
        expect({ name, retry: Array.isArray(retry) && retry.length > 0 }).toEqual({ name, retry: true });
        for (const r of retry!) {
          expect({ name, r }).toEqual({
            name,
            r: expect.objectContaining({
              BackoffRate: 2,
              JitterStrategy: 'FULL',
              MaxDelaySeconds: expect.any(Number),
            }),
          });
          expect(r.ErrorEquals).not.toContain('States.ALL');
        }
        expect({ name, catches: Array.isArray(s.Catch) && (s.Catch as Json[]).length > 0 }).toEqual({
          name,
          catches: true,
        });
      }
      if (s.Type === 'Choice')
        expect({ name, Default: typeof s.Default }).toEqual({ name, Default: 'string' });
    }
  });

  it('builds exactly the fields of the replication message schema', () => {
    const build = states().find(([n]) => n === 'Build Replication Message')![1];
    const fields = Object.keys(build.Parameters as Json).map((k) => k.replace(/\.\$$/, ''));
    const v1 = messageSchema.$defs.version1;
    expect(fields.sort()).toEqual([...v1.required].sort());
    expect((build.Parameters as Json).version).toBe(v1.properties.version.const);
    // the one optional field is added only for an instance on a non-default option group
    const optional = Object.keys(v1.properties).filter((k) => !v1.required.includes(k));
    expect(optional).toEqual(['optionGroupName']);
    expect(build.Next).toBe('Is The Instance On A Default Option Group?');
    const add = states().find(([n]) => n === 'Name The Option Group In The Message')![1];
    expect(add).toMatchObject({
      Type: 'Pass',
      InputPath: '$.instance.optionGroups[0].OptionGroupName',
      ResultPath: '$.message.optionGroupName',
      Next: 'Publish Replication Message',
    });
  });

  it('keeps every fact read from the source instance when a state rebuilds $.instance (only details is dropped)', () => {
    const all = states();
    const describe = all.find(([n]) => n === 'Describe Source Instance')![1];
    const read = Object.keys(describe.ResultSelector as Json)
      .map((k) => k.replace(/\.\$$/, ''))
      .filter((k) => k !== 'details');
    const rebuilt = all.filter(([, s]) => (s.Parameters as Json | undefined)?.instance !== undefined);
    expect(rebuilt.length).toBeGreaterThan(0);
    for (const [name, s] of rebuilt) {
      const kept = Object.keys((s.Parameters as Json).instance as Json).map((k) => k.replace(/\.\$$/, ''));
      expect({ name, kept: kept.sort() }).toEqual({ name, kept: [...read].sort() });
    }
  });

  it('is JSONPath only: no JSONata, no Assign, no Credentials, no callback or distributed Map', () => {
    const text = JSON.stringify(definition(dev.template, true));
    expect(text).not.toMatch(/"QueryLanguage":"JSONata"|\{%/);
    for (const [name, s] of states()) {
      expect({ name, keys: Object.keys(s) }).toEqual({
        name,
        keys: expect.not.arrayContaining(['Assign', 'Credentials', 'Arguments', 'Output']),
      });
      expect(String(s.Resource ?? '')).not.toMatch(/\.waitForTaskToken$/);
      const mode = ((s.ItemProcessor as Json | undefined)?.ProcessorConfig as Json | undefined)?.Mode;
      if (s.Type === 'Map') expect(mode).toBe('INLINE');
    }
  });
});

// cfn-lint of the source template: npm test's cfn-lint step (scripts/test.sh) and the informational
// run of test/template/destination.test.ts ("no hard-coded partition"), which lints both services.
