// IAM on the twin (issue 11): what AWS would refuse is refused here, at the state where AWS would
// refuse it, with the error AWS would give. A replication through both accounts is allowed call by
// call; a removed rds:AddTagsToResource, a key policy without kms:CreateGrant for the destination
// and a topic policy without the destination's sns:Subscribe each fail where they would on AWS;
// every conditional statement and every Deny of the packaged templates refuses a request that
// misses its condition and allows the same request that meets it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { CreateKeyCommand, GetKeyPolicyCommand, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import {
  AddTagsToResourceCommand,
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
} from '@aws-sdk/client-rds';
import {
  CreateTopicCommand,
  GetTopicAttributesCommand,
  PublishCommand,
  SetTopicAttributesCommand,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import { startTwin, type Twin } from '../../twin/src';
import { createDestinationNetwork } from '../../twin/src/fixtures';
import { AccessDeniedError, type Call } from '../../twin/src/iam';
import {
  DATABASE,
  DEPLOYMENT_ID,
  eventsOf,
  instances,
  replicaNameFor,
  replicateFromSource,
  replicateOnce,
  type Story,
  secretState,
  setUpStory,
  statesEntered,
  TAG,
  tagsOf,
} from './helpers/destination';

let twin: Twin;
let story: Story;

beforeAll(async () => {
  twin = await startTwin();
}, 120_000);

afterAll(async () => {
  await twin?.stop();
});

const roleArn = (side: 'source' | 'destination', logicalId: string) => {
  const stack = twin.stacks[side]!;
  return `arn:aws:iam::${stack.account}:role/${stack.stackName}-${logicalId}`;
};

type PolicyDoc = { Version: string; Statement: Array<Record<string, unknown>> };

/** Removes an action from every statement of a role (a statement left without actions goes). */
function withoutAction(role: string, action: string): () => void {
  const record = twin.iam.roles.get(role)!;
  const saved = record.policies;
  record.policies = saved.map((p) => {
    const statements = ([] as Array<Record<string, unknown>>).concat(p.policy.Statement as never);
    const kept = statements
      .map((s) => ({
        ...s,
        Action: ([] as string[]).concat(s.Action as string | string[]).filter((a) => a !== action),
      }))
      .filter((s) => (s.Action as string[]).length > 0);
    return { name: p.name, policy: { ...p.policy, Statement: kept } as never };
  });
  twin.iam.roles.set(role, { ...record });
  return () => {
    record.policies = saved;
    twin.iam.roles.set(role, record);
  };
}

describe('deploying the destination', () => {
  afterAll(async () => {
    await twin.reset();
  });

  test('a source topic policy without the destination account in sns:Subscribe: the destination deploy fails at its subscription with AuthorizationError', async () => {
    const source = await twin.deploy('source');
    const topicArn = source.outputs.ReplicationTopicArn!;
    const { sns } = twin.aws('source');
    const attributes = await sns.send(new GetTopicAttributesCommand({ TopicArn: topicArn }));
    const policy = JSON.parse(attributes.Attributes!.Policy!) as PolicyDoc;
    expect(policy.Statement.map((s) => s.Sid)).toContain('DestinationAccountsSubscribe');
    policy.Statement = policy.Statement.filter((s) => s.Sid !== 'DestinationAccountsSubscribe');
    await sns.send(
      new SetTopicAttributesCommand({
        TopicArn: topicArn,
        AttributeName: 'Policy',
        AttributeValue: JSON.stringify(policy),
      }),
    );
    const network = await createDestinationNetwork(twin);

    const deploying = twin.deploy('destination', {
      params: { vpcSecurityGroupIds: network.securityGroupId, sourceKmsKeyArn: source.outputs.KmsKeyArn! },
    });

    await expect(deploying).rejects.toThrow(
      /resource SourceTopicSubscription \(AWS::SNS::Subscription\) failed: AuthorizationError: User: arn:aws:iam::222222222222:role\/twin-deployer is not authorized to perform: sns:Subscribe on resource: arn:aws:sns:eu-west-1:111111111111:rds-replica-source-dev-replication because no resource-based policy allows the sns:Subscribe action/,
    );
    expect(twin.stacks.destination).toBeUndefined();
  });
});

describe('a replication through both accounts', () => {
  beforeAll(async () => {
    // A source instance key the operator lists in sourceInstanceKmsKeyArns: the source role's
    // GrantSourceKeysToRds and ReadSourceKeysThroughRds exist only for listed keys.
    probes.sourceInstanceKey = (
      await twin.aws('source').kms.send(new CreateKeyCommand({ Description: 'an instance key' }))
    ).KeyMetadata!.Arn!;
    probes.unlistedInstanceKey = (
      await twin.aws('source').kms.send(new CreateKeyCommand({ Description: 'an unlisted key' }))
    ).KeyMetadata!.Arn!;
    story = await setUpStory(twin, {}, { sourceInstanceKmsKeyArns: probes.sourceInstanceKey });
  }, 120_000);

  beforeEach(() => {
    twin.iam.denials.length = 0;
  });

  afterEach(async () => {
    await twin.settle();
  });

  test('every call of every principal is authorised and nothing is refused', async () => {
    twin.iam.grants = [];
    const exec = await replicateOnce(twin);
    const grants = twin.iam.grants;
    twin.iam.grants = undefined;

    expect(exec.status).toBe('SUCCEEDED');
    expect(twin.iam.denials).toEqual([]);
    const principals = new Set(grants.map((g) => g.principal));
    for (const [side, role] of [
      ['source', 'StateMachineRole'],
      ['destination', 'ReplicateRole'],
      ['destination', 'TriggerRole'],
      ['destination', 'NameReplicaRole'],
      ['destination', 'MergeSecretRole'],
      ['destination', 'SelectRetentionRole'],
    ] as const) {
      expect(principals).toContain(roleArn(side, role));
    }
    expect(principals).toContain('sns.amazonaws.com');
    // The cross-account use of the source key passed both the role's policy and the key policy.
    const sourceKeyUse = grants.filter(
      (g) => g.principal === roleArn('destination', 'ReplicateRole') && g.resource === story.sourceKeyArn,
    );
    expect(sourceKeyUse.map((g) => g.action).sort()).toEqual([
      'kms:CreateGrant',
      'kms:Decrypt',
      'kms:DescribeKey',
    ]);
    for (const g of sourceKeyUse) {
      expect(g.statements.some((s) => s.startsWith('ReplicateRole/'))).toBe(true);
      expect(g.statements.some((s) => s.startsWith('resource policy/Destination'))).toBe(true);
    }
  });

  test('without rds:AddTagsToResource the destination run fails at Copy The Shared Snapshot with AccessDenied; nothing is restored, the secret is untouched', async () => {
    const before = await secretState(twin);
    const instancesBefore = (await instances(twin)).map((i) => i.DBInstanceIdentifier);
    const restore = withoutAction(roleArn('destination', 'ReplicateRole'), 'rds:AddTagsToResource');
    let runs: Awaited<ReturnType<typeof replicateFromSource>>;
    try {
      runs = await replicateFromSource(twin);
    } finally {
      restore();
    }

    expect(runs.source.status).toBe('SUCCEEDED');
    expect(runs.destination).toHaveLength(1);
    const exec = runs.destination[0]!;
    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('Rds.RdsException');
    // Rds.RdsException is also what throttling surfaces as: the state's Retry tries again, as on AWS.
    const failed = eventsOf(exec, 'Copy The Shared Snapshot', 'StateFailed');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(new Set(failed.map((e) => e.error))).toEqual(new Set(['Rds.RdsException']));
    const withoutRequestId = (cause?: string) => cause?.replace(/Request ID: [\w-]+/, '');
    expect(new Set(failed.map((e) => withoutRequestId(e.cause)))).toEqual(
      new Set([withoutRequestId(failed[0]!.cause)]),
    );
    expect(failed[0]!.cause).toMatch(
      /^User: arn:aws:sts::222222222222:assumed-role\/rds-replica-destination-dev-ReplicateRole\/twin is not authorized to perform: rds:AddTagsToResource on resource: arn:aws:rds:eu-west-1:222222222222:snapshot:rds-replica-destination-dev-\S+ because no identity-based policy allows the rds:AddTagsToResource action/,
    );
    expect(failed[0]!.cause).toContain('RDS authorises the tags a create sets');
    expect(failed[0]!.cause).toContain('Status Code: 403');
    expect(statesEntered(exec)).not.toContain('Restore The Replica');
    expect((await instances(twin)).map((i) => i.DBInstanceIdentifier)).toEqual(instancesBefore);
    expect((await secretState(twin)).raw).toBe(before.raw);
    expect(new Set(twin.iam.denials.map((d) => d.action))).toEqual(new Set(['rds:AddTagsToResource']));
  });

  test("a source key policy without kms:CreateGrant for the destination: the copy fails at Copy The Shared Snapshot with RDS's KMSKeyNotAccessibleFault", async () => {
    const { kms } = twin.aws('source');
    const original = (
      await kms.send(new GetKeyPolicyCommand({ KeyId: story.sourceKeyArn, PolicyName: 'default' }))
    ).Policy!;
    const policy = JSON.parse(original) as PolicyDoc;
    expect(policy.Statement.map((s) => s.Sid)).toContain('DestinationAccountsGrantRdsOnly');
    policy.Statement = policy.Statement.filter((s) => s.Sid !== 'DestinationAccountsGrantRdsOnly');
    await kms.send(
      new PutKeyPolicyCommand({
        KeyId: story.sourceKeyArn,
        PolicyName: 'default',
        Policy: JSON.stringify(policy),
      }),
    );
    let runs: Awaited<ReturnType<typeof replicateFromSource>>;
    try {
      runs = await replicateFromSource(twin);
    } finally {
      await kms.send(
        new PutKeyPolicyCommand({ KeyId: story.sourceKeyArn, PolicyName: 'default', Policy: original }),
      );
    }

    const exec = runs.destination[0]!;
    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('Rds.KmsKeyNotAccessibleException');
    const failed = eventsOf(exec, 'Copy The Shared Snapshot', 'StateFailed');
    expect(failed[0]!.error).toBe('Rds.KmsKeyNotAccessibleException');
    expect(failed[0]!.cause).toContain(
      `The KMS key [${story.sourceKeyArn}] does not exist, is not enabled or you do not have permissions to access it.`,
    );
    expect(failed[0]!.cause).toContain(
      `refused: kms:CreateGrant on ${story.sourceKeyArn} because no resource-based policy allows the kms:CreateGrant action`,
    );
    expect(statesEntered(exec)).not.toContain('Restore The Replica');
    expect(new Set(twin.iam.denials.map((d) => d.action))).toEqual(new Set(['kms:CreateGrant']));
  });

  test('SNS may invoke the trigger only for the source topic: a message of another topic is refused by the Lambda permission and never reaches the trigger', async () => {
    const { sns } = twin.aws('source');
    const other = await sns.send(new CreateTopicCommand({ Name: 'someone-elses-topic' }));
    const fn = story.triggerFunction;
    await sns.send(
      new SubscribeCommand({
        TopicArn: other.TopicArn,
        Protocol: 'http',
        Endpoint: `${twin.host.url}/sns/${twin.accounts.destination}/${twin.region}/${fn}`,
      }),
    );
    const invocations = twin.lambda.invocations.length;
    const deliveries = twin.host.snsDeliveries.length;

    await sns.send(new PublishCommand({ TopicArn: other.TopicArn, Message: '{}' }));
    await twin.settle();

    const delivered = twin.host.snsDeliveries.slice(deliveries);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.denied).toMatch(
      /^User: sns.amazonaws.com is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:eu-west-1:222222222222:function:rds-replica-destination-dev-trigger because no resource-based policy allows/,
    );
    expect(delivered[0]!.denied).toMatch(/TriggerInvokePermission: condition ArnLike aws:SourceArn/i);
    expect(twin.lambda.invocations.length).toBe(invocations);
  });

  // ---- every condition and every Deny refuses what misses it ---------------------------------------

  const region = 'eu-west-1';
  const viaRds = { 'kms:ViaService': `rds.${region}.amazonaws.com` };
  const viaSns = { 'kms:ViaService': `sns.${region}.amazonaws.com` };
  const grantForRds = { 'kms:GrantIsForAWSResource': 'true' };
  const grantForSomeone = { 'kms:GrantIsForAWSResource': 'false' };
  const probes: Record<string, string> = {};

  /** One KMS request of `principal` on a key, against the key's current policy. */
  async function kmsUse(principal: string, action: string, keyArn: string, context: Record<string, string>) {
    const [, , , keyRegion, keyAccount] = keyArn.split(':') as [string, string, string, string, string];
    const key = await twin.iam
      .lookups({ account: keyAccount, region: keyRegion })
      .key(keyArn, keyAccount, keyRegion);
    await twin.iam.authorizeCheck(principal, {
      action,
      resource: key!.arn,
      resourceAccount: keyAccount,
      context: { 'kms:CallerAccount': principal.split(':')[4]!, ...context },
      resourcePolicy: key!.policy,
      denial: 'kms',
    });
  }

  const call = (
    side: 'source' | 'destination',
    service: string,
    operation: string,
    input: Record<string, unknown>,
  ): Call => ({
    service,
    operation,
    input,
    account: twin.accounts[side],
    region,
  });

  /** A role of the test's own, registered in an account (to isolate a resource policy's statement). */
  function probeRole(account: string, name: string, actions: string[]): string {
    const arn = `arn:aws:iam::${account}:role/probe-${name}`;
    twin.iam.registerRole({
      arn,
      account,
      origin: 'the test',
      policies: [
        {
          name: 'probe',
          policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }] },
        },
      ],
    });
    return arn;
  }

  interface ConditionCase {
    statement: string;
    /** Meets every condition: allowed. */
    allowed: () => Promise<void>;
    /** Misses the condition under test only: refused. */
    refused: () => Promise<void>;
    /** How the refusal reads. */
    because: RegExp;
  }

  const S = () => roleArn('source', 'StateMachineRole');
  const D = () => roleArn('destination', 'ReplicateRole');
  const R = () => roleArn('destination', 'RollbackRole');
  const sharedKey = () => story.sourceKeyArn;
  const replicaKey = () => story.destination.outputs.KmsKeyArn!;
  const topicKey = () => story.source.context.getAtt('TopicKey', 'Arn');
  const live = async () => String((await secretState(twin)).value.dbInstanceIdentifier);
  /** A name this deployment's replicas may take (database, marker, time): only the tag decides. */
  const futureReplica = () => replicaNameFor('2099-01-01T00:00:00Z');
  const machine = (side: 'source' | 'destination', name: string) =>
    `arn:aws:states:${region}:${twin.accounts[side]}:stateMachine:${twin.stacks[side]!.stackName}-${name}`;
  /** states.amazonaws.com assuming a role for a state machine, against the role's trust policy. */
  const assume = (role: string, context: Record<string, string>) =>
    twin.iam.authorizeCheck('states.amazonaws.com', {
      action: 'sts:AssumeRole',
      resource: role,
      resourceAccount: role.split(':')[4]!,
      context,
      resourcePolicy: twin.iam.roles.get(role)!.trust,
      denial: 'sts',
    });
  const subscribe = (protocol: string, endpoint: string) =>
    twin.iam.authorize(
      probes.destinationSubscriber!,
      call('source', 'sns', 'Subscribe', {
        TopicArn: story.sourceTopicArn,
        Protocol: protocol,
        Endpoint: endpoint,
      }),
    );
  const triggerArn = () =>
    `arn:aws:lambda:${region}:${twin.accounts.destination}:function:${story.triggerFunction}`;
  const restoreInput = (managedBy: string) => ({
    DBInstanceIdentifier: futureReplica(),
    DBSnapshotIdentifier: `${DEPLOYMENT_ID}-${DATABASE}-probe`,
    DBSubnetGroupName: story.subnetGroupName,
    Tags: [{ Key: TAG.managedBy, Value: managedBy }],
  });

  const cases: ConditionCase[] = [
    {
      statement: 'source StateMachineRole ShareAndDeleteOwnSnapshots (aws:ResourceTag managed-by)',
      allowed: () =>
        twin.iam.authorize(
          S(),
          call('source', 'rds', 'ModifyDBSnapshotAttribute', { DBSnapshotIdentifier: probes.tagged }),
        ),
      refused: () =>
        twin.iam.authorize(
          S(),
          call('source', 'rds', 'ModifyDBSnapshotAttribute', { DBSnapshotIdentifier: probes.untagged }),
        ),
      because:
        /ShareAndDeleteOwnSnapshots: condition StringEquals aws:ResourceTag\/rds-replicator:managed-by/,
    },
    {
      statement: 'source StateMachineRole EncryptCopiesWithSharedKey (kms:ViaService rds)',
      allowed: () => kmsUse(S(), 'kms:Encrypt', sharedKey(), viaRds),
      refused: () => kmsUse(S(), 'kms:Encrypt', sharedKey(), viaSns),
      because: /EncryptCopiesWithSharedKey: condition StringEquals kms:ViaService/,
    },
    {
      statement: 'source StateMachineRole GrantSharedKeyToRds (kms:GrantIsForAWSResource)',
      allowed: () => kmsUse(S(), 'kms:CreateGrant', sharedKey(), { ...viaSns, ...grantForRds }),
      refused: () => kmsUse(S(), 'kms:CreateGrant', sharedKey(), { ...viaSns, ...grantForSomeone }),
      because: /GrantSharedKeyToRds: condition Bool kms:GrantIsForAWSResource/,
    },
    {
      statement: 'source StateMachineRole GrantSourceKeysToRds (kms:ViaService rds)',
      allowed: () => kmsUse(S(), 'kms:CreateGrant', probes.sourceInstanceKey!, { ...viaRds, ...grantForRds }),
      refused: () => kmsUse(S(), 'kms:CreateGrant', probes.sourceInstanceKey!, { ...viaSns, ...grantForRds }),
      because: /GrantSourceKeysToRds: condition StringEquals kms:ViaService/,
    },
    {
      statement: 'source StateMachineRole ReadSourceKeysThroughRds (kms:ViaService rds)',
      allowed: () => kmsUse(S(), 'kms:Decrypt', probes.sourceInstanceKey!, viaRds),
      refused: () => kmsUse(S(), 'kms:Decrypt', probes.sourceInstanceKey!, viaSns),
      because: /ReadSourceKeysThroughRds: condition StringEquals kms:ViaService/,
    },
    {
      statement:
        'source StateMachineRole ReadSourceKeysThroughRds (only the keys in sourceInstanceKmsKeyArns)',
      allowed: () => kmsUse(S(), 'kms:Decrypt', probes.sourceInstanceKey!, viaRds),
      refused: () => kmsUse(S(), 'kms:Decrypt', probes.unlistedInstanceKey!, viaRds),
      because: /ReadSourceKeysThroughRds: resource does not match/,
    },
    {
      statement: 'source StateMachineRole EncryptTopicMessages (kms:ViaService sns)',
      allowed: () => kmsUse(S(), 'kms:GenerateDataKey', topicKey(), viaSns),
      refused: () => kmsUse(S(), 'kms:GenerateDataKey', topicKey(), viaRds),
      because: /EncryptTopicMessages: condition StringEquals kms:ViaService/,
    },
    {
      statement: 'source key policy DestinationAccountsGrantRdsOnly (kms:GrantIsForAWSResource)',
      allowed: () =>
        kmsUse(probes.destinationAdmin!, 'kms:CreateGrant', sharedKey(), { ...viaRds, ...grantForRds }),
      refused: () =>
        kmsUse(probes.destinationAdmin!, 'kms:CreateGrant', sharedKey(), { ...viaRds, ...grantForSomeone }),
      because:
        /because no resource-based policy allows the kms:CreateGrant action.*DestinationAccountsGrantRdsOnly: condition Bool kms:GrantIsForAWSResource/,
    },
    {
      statement:
        'source topic policy NobodyElsePublishes (Deny unless aws:PrincipalArn is the state machine role)',
      allowed: () =>
        twin.iam.authorize(
          probes.sourcePublisher,
          call('source', 'sns', 'Publish', { TopicArn: story.source.outputs.OperationsTopicArn }),
        ),
      refused: () =>
        twin.iam.authorize(
          probes.sourcePublisher,
          call('source', 'sns', 'Publish', { TopicArn: story.sourceTopicArn }),
        ),
      because:
        /is not authorized to perform: sns:Publish .* with an explicit deny in a resource-based policy.*NobodyElsePublishes: explicit Deny matched/,
    },
    {
      statement: 'source StateMachineRole trust policy (aws:SourceAccount)',
      allowed: () =>
        assume(S(), {
          'aws:SourceAccount': twin.accounts.source,
          'aws:SourceArn': machine('source', 'replicate'),
        }),
      refused: () =>
        assume(S(), { 'aws:SourceAccount': '333333333333', 'aws:SourceArn': machine('source', 'replicate') }),
      because: /condition StringEquals aws:SourceAccount \["111111111111"\] not met/,
    },
    {
      statement: 'source StateMachineRole trust policy (aws:SourceArn: its two state machines only)',
      allowed: () =>
        assume(S(), {
          'aws:SourceAccount': twin.accounts.source,
          'aws:SourceArn': machine('source', 'replicate-database'),
        }),
      refused: () =>
        assume(S(), {
          'aws:SourceAccount': twin.accounts.source,
          'aws:SourceArn': machine('source', 'someone-elses-machine'),
        }),
      because: /condition ArnLike aws:SourceArn .*stateMachine:rds-replica-source-dev-replicate.* not met/,
    },
    {
      statement: 'destination ReplicateRole trust policy (aws:SourceArn: the replicate state machine only)',
      allowed: () =>
        assume(D(), {
          'aws:SourceAccount': twin.accounts.destination,
          'aws:SourceArn': machine('destination', 'replicate'),
        }),
      refused: () =>
        assume(D(), {
          'aws:SourceAccount': twin.accounts.destination,
          'aws:SourceArn': machine('destination', 'rollback'),
        }),
      because:
        /condition ArnLike aws:SourceArn \["arn:aws:states:eu-west-1:222222222222:stateMachine:rds-replica-destination-dev-replicate"\] not met/,
    },
    {
      statement: 'destination RollbackRole trust policy (aws:SourceArn: the rollback state machine only)',
      allowed: () =>
        assume(R(), {
          'aws:SourceAccount': twin.accounts.destination,
          'aws:SourceArn': machine('destination', 'rollback'),
        }),
      refused: () =>
        assume(R(), {
          'aws:SourceAccount': twin.accounts.destination,
          'aws:SourceArn': machine('destination', 'replicate'),
        }),
      because:
        /condition ArnLike aws:SourceArn \["arn:aws:states:eu-west-1:222222222222:stateMachine:rds-replica-destination-dev-rollback"\] not met/,
    },
    {
      statement: 'source key policy DestinationAccountsUseTheKey (kms:ViaService rds)',
      allowed: () => kmsUse(probes.destinationAdmin!, 'kms:Decrypt', sharedKey(), viaRds),
      refused: () => kmsUse(probes.destinationAdmin!, 'kms:Decrypt', sharedKey(), viaSns),
      because:
        /because no resource-based policy allows the kms:Decrypt action.*DestinationAccountsUseTheKey: condition StringEquals kms:ViaService/,
    },
    {
      statement: 'source key policy DestinationAccountsGrantRdsOnly (kms:ViaService rds)',
      allowed: () =>
        kmsUse(probes.destinationAdmin!, 'kms:CreateGrant', sharedKey(), { ...viaRds, ...grantForRds }),
      refused: () =>
        kmsUse(probes.destinationAdmin!, 'kms:CreateGrant', sharedKey(), { ...viaSns, ...grantForRds }),
      because:
        /because no resource-based policy allows the kms:CreateGrant action.*DestinationAccountsGrantRdsOnly: condition StringEquals kms:ViaService/,
    },
    {
      statement: 'source topic policy DestinationAccountsSubscribe (sns:Protocol lambda)',
      allowed: () => subscribe('lambda', triggerArn()),
      refused: () => subscribe('https', triggerArn()),
      because:
        /because no resource-based policy allows the sns:Subscribe action.*DestinationAccountsSubscribe: condition StringEquals sns:Protocol/,
    },
    {
      statement:
        'destination ReplicateRole RestoreReplicasTaggedForThisDeployment (aws:RequestTag managed-by)',
      allowed: () =>
        twin.iam.authorize(
          D(),
          call('destination', 'rds', 'RestoreDBInstanceFromDBSnapshot', restoreInput(DEPLOYMENT_ID)),
        ),
      refused: () =>
        twin.iam.authorize(
          D(),
          call('destination', 'rds', 'RestoreDBInstanceFromDBSnapshot', restoreInput('someone-else')),
        ),
      because:
        /rds:RestoreDBInstanceFromDBSnapshot .*RestoreReplicasTaggedForThisDeployment: condition StringEquals aws:RequestTag\/rds-replicator:managed-by/,
    },
    {
      statement: 'destination ReplicateRole TagOnlyWithThisDeploymentsTag (aws:RequestTag managed-by)',
      allowed: () =>
        twin.iam.authorize(
          D(),
          call('destination', 'rds', 'AddTagsToResource', {
            ResourceName: `arn:aws:rds:${region}:${twin.accounts.destination}:db:${futureReplica()}`,
            Tags: [{ Key: TAG.managedBy, Value: DEPLOYMENT_ID }],
          }),
        ),
      refused: () =>
        twin.iam.authorize(
          D(),
          call('destination', 'rds', 'AddTagsToResource', {
            ResourceName: `arn:aws:rds:${region}:${twin.accounts.destination}:db:${futureReplica()}`,
            Tags: [{ Key: TAG.managedBy, Value: 'someone-else' }],
          }),
        ),
      because:
        /TagOnlyWithThisDeploymentsTag: condition StringEquals aws:RequestTag\/rds-replicator:managed-by/,
    },
    {
      statement:
        'destination ReplicateRole ProtectAndDeleteOnlyThisDeploymentsReplicas (rds:db-tag managed-by)',
      allowed: async () =>
        twin.iam.authorize(
          D(),
          call('destination', 'rds', 'DeleteDBInstance', { DBInstanceIdentifier: await live() }),
        ),
      refused: () =>
        twin.iam.authorize(
          D(),
          call('destination', 'rds', 'DeleteDBInstance', { DBInstanceIdentifier: probes.untaggedReplica }),
        ),
      because:
        /ProtectAndDeleteOnlyThisDeploymentsReplicas: condition StringEquals rds:db-tag\/rds-replicator:managed-by/,
    },
    {
      statement: 'destination ReplicateRole UseTheKeysThroughRds (kms:ViaService rds)',
      allowed: () => kmsUse(D(), 'kms:Decrypt', replicaKey(), viaRds),
      refused: () => kmsUse(D(), 'kms:Decrypt', replicaKey(), viaSns),
      because: /UseTheKeysThroughRds: condition StringEquals kms:ViaService/,
    },
    {
      statement: 'destination ReplicateRole LetRdsHoldGrantsOnTheKeys (kms:GrantIsForAWSResource)',
      allowed: () => kmsUse(D(), 'kms:CreateGrant', replicaKey(), { ...viaRds, ...grantForRds }),
      refused: () => kmsUse(D(), 'kms:CreateGrant', replicaKey(), { ...viaRds, ...grantForSomeone }),
      because: /LetRdsHoldGrantsOnTheKeys: condition Bool kms:GrantIsForAWSResource/,
    },
    {
      statement: 'destination RollbackRole StartOnlyThisDeploymentsReplicas (rds:db-tag managed-by)',
      allowed: async () =>
        twin.iam.authorize(
          R(),
          call('destination', 'rds', 'StartDBInstance', { DBInstanceIdentifier: await live() }),
        ),
      refused: () =>
        twin.iam.authorize(
          R(),
          call('destination', 'rds', 'StartDBInstance', { DBInstanceIdentifier: probes.untaggedReplica }),
        ),
      because:
        /StartOnlyThisDeploymentsReplicas: condition StringEquals rds:db-tag\/rds-replicator:managed-by/,
    },
    {
      statement: 'destination RollbackRole UseTheReplicaKeyThroughRds (kms:ViaService rds)',
      allowed: () => kmsUse(R(), 'kms:Decrypt', replicaKey(), viaRds),
      refused: () => kmsUse(R(), 'kms:Decrypt', replicaKey(), viaSns),
      because: /UseTheReplicaKeyThroughRds: condition StringEquals kms:ViaService/,
    },
    {
      statement: 'destination RollbackRole LetRdsHoldGrantsOnTheReplicaKey (kms:GrantIsForAWSResource)',
      allowed: () => kmsUse(R(), 'kms:CreateGrant', replicaKey(), { ...viaRds, ...grantForRds }),
      refused: () => kmsUse(R(), 'kms:CreateGrant', replicaKey(), { ...viaRds, ...grantForSomeone }),
      because: /LetRdsHoldGrantsOnTheReplicaKey: condition Bool kms:GrantIsForAWSResource/,
    },
  ];

  describe('every condition refuses the request that misses it', () => {
    beforeAll(async () => {
      const { rds } = twin.aws('source');
      probes.untagged = `${'rds-replica-source-dev'}-probe-untagged`;
      probes.tagged = `${'rds-replica-source-dev'}-probe-tagged`;
      await rds.send(
        new CreateDBSnapshotCommand({
          DBInstanceIdentifier: DATABASE,
          DBSnapshotIdentifier: probes.untagged,
        }),
      );
      await rds.send(
        new CreateDBSnapshotCommand({
          DBInstanceIdentifier: DATABASE,
          DBSnapshotIdentifier: probes.tagged,
          Tags: [{ Key: TAG.managedBy, Value: 'rds-replica-source-dev' }],
        }),
      );
      probes.destinationAdmin = probeRole(twin.accounts.destination, 'kms-admin', ['kms:*']);
      probes.sourcePublisher = probeRole(twin.accounts.source, 'publisher', [
        'sns:Publish',
        'kms:GenerateDataKey*',
        'kms:Decrypt',
      ]);
      // An instance named like this deployment's replicas (its marker) that it did not create (no
      // managed-by tag): only the tag condition tells it apart.
      probes.untaggedReplica = replicaNameFor('2000-01-01T00:00:00Z');
      probes.destinationSubscriber = probeRole(twin.accounts.destination, 'subscriber', ['sns:Subscribe']);
      await twin.aws('destination').rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: probes.untaggedReplica,
          Engine: 'postgres',
          DBInstanceClass: 'db.t4g.micro',
          AllocatedStorage: 20,
          MasterUsername: 'x',
          MasterUserPassword: 'not-a-real-password-1',
        }),
      );
      if (!(await instances(twin)).some((i) => tagsOf(i)[TAG.managedBy] === DEPLOYMENT_ID))
        await replicateOnce(twin);
      await twin.aws('source').rds.send(
        new AddTagsToResourceCommand({
          ResourceName: `arn:aws:rds:${region}:${twin.accounts.source}:snapshot:${probes.tagged}`,
          Tags: [{ Key: TAG.managedBy, Value: 'rds-replica-source-dev' }],
        }),
      );
    }, 120_000);

    afterAll(() => {
      twin.iam.denials.length = 0;
    });

    test.each(cases.map((c) => [c.statement, c] as const))('%s', async (_name, c) => {
      await expect(c.allowed()).resolves.toBeUndefined();
      const refusal = await c.refused().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refusal).toBeInstanceOf(AccessDeniedError);
      expect((refusal as Error).message).toMatch(c.because);
    });
  });
});
