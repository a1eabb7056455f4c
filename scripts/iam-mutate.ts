/**
 * Proof that the packaged IAM policies are exactly enough (issue 11, point 3).
 *
 *   npm run iam:mutate            run, print the table (exit 1 when a statement is neither needed
 *                                 nor listed below with the reason the twin cannot reach it)
 *   npm run iam:mutate -- --write also replace the table in README.md between its markers
 *
 * 1. Every scenario runs once on the twin with IAM evaluated, recording which Allow statements
 *    allowed each request (role policies, key policies, topic policies, Lambda permissions).
 * 2. Each Allow statement of each packaged variant is then removed in turn (from the role in the
 *    twin's IAM registry, or from the key or topic policy in moto, or from the function's
 *    permissions, right after the stack that declares it is deployed), and the scenarios that
 *    used it run again: the statement is needed when that run is refused at least once.
 * 3. A statement no scenario uses must be listed in UNREACHABLE with the reason.
 *
 * Not part of `npm test` (a few minutes on 2 cores).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, GetKeyPolicyCommand, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { StopDBInstanceCommand } from '@aws-sdk/client-rds';
import { GetTopicAttributesCommand, SetTopicAttributesCommand } from '@aws-sdk/client-sns';
import { replicaPrefix } from '../src/contracts/names';
import {
  DATABASE,
  DAY_MS,
  HOUR_MS,
  replicaIds,
  replicateOnce,
  secretNameOf,
  setUpStory,
} from '../test/twin/helpers/destination';
import { type DeployedStack, startTwin, type Twin } from '../twin/src';
import { createSourceCluster, createSourceDatabase, seedSecret } from '../twin/src/fixtures';
import { ROOT } from '../twin/src/package';

type Doc = { Version?: string; Statement: Array<Record<string, unknown>> | Record<string, unknown> };
const statementsOf = (d: Doc) => ([] as Array<Record<string, unknown>>).concat(d.Statement as never);

/** Allow statements the twin cannot exercise, and why. Keys: `<policy>/<Sid>` as in the table. */
const UNREACHABLE: Record<string, string> = {
  'StateMachineRole/replicate/DeliverLogs':
    'Step Functions delivers execution logs to CloudWatch Logs; the twin keeps the history itself and models no log delivery',
  'ReplicateRole/replicate/DeliverExecutionLogs': 'as DeliverLogs: no CloudWatch Logs delivery in the twin',
  'RollbackRole/rollback/DeliverExecutionLogs': 'as DeliverLogs: no CloudWatch Logs delivery in the twin',
  'TriggerRole/trigger/WriteItsLogs':
    "the twin captures a function's output itself; it models no CloudWatch Logs",
  'NameReplicaRole/name-replica/WriteItsLogs': 'as TriggerRole WriteItsLogs',
  'MergeSecretRole/merge-secret/WriteItsLogs': 'as TriggerRole WriteItsLogs',
  'SelectRetentionRole/select-retention/WriteItsLogs': 'as TriggerRole WriteItsLogs',
  'TriggerRole/trigger/SendFailedEventsToTheQueue':
    "Lambda sends a failed event to the on-failure queue with the function's role; the twin's Lambda sends it with its own client",
  'StateMachineRole/replicate/SendTraces': 'X-Ray tracing (tracingEnabled=true) is not modelled by the twin',
  'ClusterScheduleRole/start-replicate-clusters/StartTheScheduledClusterRun':
    'EventBridge starts `replicate-clusters` on the schedule with this role; the twin records the schedule but does not fire it',
  'ClusterStateMachineRole/replicate-clusters/DeliverLogs':
    'as DeliverLogs: no CloudWatch Logs delivery in the twin',
  'ReplicateClusterRole/replicate-cluster/DeliverExecutionLogs':
    'as DeliverLogs: no CloudWatch Logs delivery in the twin',
  'RollbackClusterRole/rollback-cluster/DeliverExecutionLogs':
    'as DeliverLogs: no CloudWatch Logs delivery in the twin',
  'ReplicateClusterRole/replicate-cluster/LetRdsCreateItsServiceLinkedRole':
    'as ReplicateRole LetRdsCreateItsServiceLinkedRole: moto models no service-linked roles',
  'ScheduleRole/start-replicate/StartTheScheduledRun':
    'EventBridge starts `replicate` on the schedule with this role; the twin records the schedule but does not fire it (tests start runs as `sls invoke stepf` does)',
  'ReplicateRole/replicate/LetRdsCreateItsServiceLinkedRole':
    "RDS creates AWSServiceRoleForRDS at an account's first RDS resource with the caller's permission; the twin's accounts behave as if the role existed (moto models no service-linked roles)",
  'resource policy/CloudWatchAlarmsOfThisAccountPublish':
    'CloudWatch alarms publishing to the encrypted operations topic: the twin models no CloudWatch alarms (the key policy statement is checked by the template tests)',
  'resource policy/CloudWatchAlarmsOfThisStackPublish':
    'CloudWatch alarms publishing to the operations topic: the twin models no CloudWatch alarms (the topic policy statement is checked by the template tests)',
  'resource policy/AccountAdministersTheKey':
    "the key policy's grant to its own account root: KMS needs it for every use by the account's roles (removing it refuses every use of the key; the twin evaluates that, but administration itself is done by no scenario)",
};

interface Scenario {
  name: string;
  /** Runs on a reset twin; throws when the run did not end as expected. */
  run(twin: Twin): Promise<void>;
}

/**
 * Allow statements another statement always covers in these variants, kept on purpose (AWS allows
 * a same-account request when either the identity or the resource policy allows it).
 */
const REDUNDANT: Record<string, string> = {
  'ClusterStateMachineRole/replicate-clusters/PublishNotices':
    "the replication topic's policy (StateMachinePublishes) allows the cluster role's publish in the same account too; the role's own statement is kept so that the role says by itself what it may do",
  'resource policy/StateMachinePublishes':
    "the role's own PublishNotices allows the same publish in the same account; the topic policy names its one publisher next to the Deny of everyone else",
  'StateMachineRole/replicate/GrantSharedKeyToRds':
    'GrantSourceKeysToRds (CreateGrant through RDS on every key of the account and Region) covers the shared key too; left for the rework that narrows that wildcard',
  'resource policy/AdministerTheKeyFromThisAccount':
    'no scenario administers the key; the one action the replication uses from it, kms:DescribeKey, LetIamPoliciesOfThisAccountUseTheKey grants too',
};

/** A lock item whose holder is an execution that no longer exists (a run that timed out). */
async function staleLock(twin: Twin, table: string, machine: string, database = DATABASE) {
  await twin.aws('destination').dynamodb.send(
    new PutItemCommand({
      TableName: table,
      Item: {
        pk: { S: `lock#${database}` },
        holder: {
          S: `arn:aws:states:${twin.region}:${twin.accounts.destination}:execution:rds-replica-destination-dev-${machine}:gone`,
        },
      },
    }),
  );
}

const scenarios: Scenario[] = [
  {
    name: 'a source snapshot that ends failed: the run cleans up and tells operations',
    async run(twin) {
      await createSourceDatabase(twin, { id: DATABASE, encryption: 'aws/rds' });
      await twin.deploy('source');
      await twin.moto.control.addFault({
        kind: 'snapshot-status',
        match: `rds-replica-source-dev-intermediate-${DATABASE}-*`,
        status: 'failed',
      });
      const exec = await twin.run('source', 'replicate', { databases: [DATABASE] });
      await twin.moto.control.clearFaults();
      if (exec.status !== 'FAILED' || exec.error !== 'ReplicationFailed')
        throw new Error(`replicate ${exec.status}: ${exec.error}: ${exec.cause}`);
    },
  },
  {
    name: 'a source instance on a customer-managed key, replicated',
    async run(twin) {
      const key = await twin.aws('source').kms.send(new CreateKeyCommand({ Description: 'instance key' }));
      await createSourceDatabase(twin, { id: DATABASE, encryption: key.KeyMetadata!.Arn! });
      // The operator lists the instance's key (the source role may use only listed keys).
      await twin.deploy('source', { params: { sourceInstanceKmsKeyArns: key.KeyMetadata!.Arn! } });
      const exec = await twin.run('source', 'replicate', { databases: [DATABASE] });
      if (exec.status !== 'SUCCEEDED')
        throw new Error(`replicate ${exec.status}: ${exec.error}: ${exec.cause}`);
    },
  },
  {
    name: 'snapshotSource latest: the newest automated snapshot is copied into the shared copy',
    async run(twin) {
      await createSourceDatabase(twin, { id: DATABASE, encryption: 'aws/rds' });
      await twin.deploy('source');
      await twin.moto.control.addBackupSnapshot({
        account: twin.accounts.source,
        dbInstanceIdentifier: DATABASE,
        type: 'automated',
        ageSeconds: 3600,
        replace: true,
      });
      const exec = await twin.run('source', 'replicate', { databases: [DATABASE], snapshotSource: 'latest' });
      if (exec.status !== 'SUCCEEDED')
        throw new Error(`replicate ${exec.status}: ${exec.error}: ${exec.cause}`);
    },
  },
  {
    name: 'replicate x3 (retention deletes the oldest), then roll back to a stopped replica',
    async run(twin) {
      await setUpStory(twin);
      for (let n = 0; n < 3; n++) {
        const exec = await replicateOnce(twin);
        if (exec.status !== 'SUCCEEDED')
          throw new Error(`replicate ${exec.status}: ${exec.error}: ${exec.cause}`);
        await twin.clock.advance(DAY_MS);
        await twin.settle();
      }
      const ids = await replicaIds(twin);
      const target = ids[0]!;
      await twin.aws('destination').rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: target }));
      await twin.clock.advance(HOUR_MS);
      const rollback = await twin.run('destination', 'rollback', { database: DATABASE, to: target });
      if (rollback.status !== 'SUCCEEDED')
        throw new Error(`rollback ${rollback.status}: ${rollback.error}: ${rollback.cause}`);
    },
  },
  {
    name: 'an Aurora PostgreSQL cluster on a customer-managed key replicated x3 (retention takes a final snapshot and deletes the oldest), then rolled back',
    async run(twin) {
      const cluster = 'orders-aurora';
      const key = await twin.aws('source').kms.send(new CreateKeyCommand({ Description: 'cluster key' }));
      await createSourceCluster(twin, {
        id: cluster,
        engine: 'aurora-postgresql',
        encryption: key.KeyMetadata!.Arn!,
      });
      await setUpStory(
        twin,
        { clusters: cluster, finalSnapshotOnDelete: 'true' },
        { clusters: cluster, sourceInstanceKmsKeyArns: key.KeyMetadata!.Arn! },
      );
      await seedSecret(twin, secretNameOf(cluster), { engine: 'postgres' });
      for (let n = 0; n < 3; n++) {
        const exec = await twin.run('source', 'replicateClusters', { clusters: [cluster] });
        await twin.settle();
        const runs = [...twin.sfn.executions.values()].filter((e) =>
          e.stateMachineArn.endsWith(':rds-replica-destination-dev-replicate-cluster'),
        );
        const last = runs[runs.length - 1];
        if (exec.status !== 'SUCCEEDED' || last?.status !== 'SUCCEEDED' || runs.length !== n + 1)
          throw new Error(
            `replicate-clusters ${exec.status}: ${exec.error}; replicate-cluster ${last?.status}: ${last?.error}: ${last?.cause}`,
          );
        await twin.clock.advance(DAY_MS);
        await twin.settle();
      }
      const rollback = await twin.run('destination', 'rollbackCluster', {
        database: cluster,
        to: 'previous',
      });
      if (rollback.status !== 'SUCCEEDED')
        throw new Error(`rollback-cluster ${rollback.status}: ${rollback.error}: ${rollback.cause}`);
    },
  },
  {
    name: 'an Aurora cluster: stale locks taken over; a failed restore tells operations; so does a rollback that RDS keeps throttling',
    async run(twin) {
      const cluster = 'orders-aurora';
      await createSourceCluster(twin, { id: cluster, engine: 'aurora-postgresql' });
      const story = await setUpStory(twin, { clusters: cluster }, { clusters: cluster });
      await seedSecret(twin, secretNameOf(cluster), { engine: 'postgres' });
      const table = story.destination.outputs.StateTableName!;
      await staleLock(twin, table, 'replicate-cluster', cluster);
      await twin.moto.control.addFault({
        kind: 'instance-status',
        match: `${cluster}-*`,
        status: 'incompatible-parameters',
        account: twin.accounts.destination,
      });
      await twin.run('source', 'replicateClusters', { clusters: [cluster] });
      await twin.settle();
      await twin.moto.control.clearFaults();
      const runs = [...twin.sfn.executions.values()].filter((e) =>
        e.stateMachineArn.endsWith(':rds-replica-destination-dev-replicate-cluster'),
      );
      if (runs.length !== 1 || runs[0]!.status !== 'FAILED')
        throw new Error(`replicate-cluster ${runs[0]?.status}: ${runs[0]?.error}: expected a failed restore`);
      // RDS throttles the rollback's describe and search of the target past their retries (after it
      // took over the stale lock, asking whether its holder still runs): it tells operations.
      await staleLock(twin, table, 'rollback-cluster', cluster);
      await twin.moto.control.addFault({
        kind: 'error',
        api: 'DescribeDBClusters',
        code: 'Throttling',
        message: 'Rate exceeded',
        count: 100,
        account: twin.accounts.destination,
      });
      const rollback = await twin.run('destination', 'rollbackCluster', {
        database: cluster,
        // a name of this deployment's replicas (the rollback refuses any other before asking RDS)
        to: `${replicaPrefix(undefined, cluster, 'rds-replica-destination-dev')}-20000101t000000`,
      });
      await twin.moto.control.clearFaults();
      if (rollback.status !== 'FAILED' || rollback.error !== 'Rds.RdsException')
        throw new Error(
          `rollback-cluster ${rollback.status}: ${rollback.error}: ${rollback.cause}: expected RDS's throttling`,
        );
    },
  },
  {
    name: 'stale locks taken over; a failed restore tells operations; a rollback to a missing replica is refused',
    async run(twin) {
      const story = await setUpStory(twin);
      const table = story.destination.outputs.StateTableName!;
      await staleLock(twin, table, 'replicate');
      await twin.moto.control.addFault({
        kind: 'instance-status',
        match: `${DATABASE}-*`,
        status: 'incompatible-parameters',
        account: twin.accounts.destination,
      });
      const exec = await replicateOnce(twin).catch((e: Error) => e);
      await twin.moto.control.clearFaults();
      if (!(exec instanceof Error) && exec.error !== 'RestoreFailed')
        throw new Error(`replicate ${exec.status}: ${exec.error}: ${exec.cause}`);
      await staleLock(twin, table, 'rollback');
      const rollback = await twin.run('destination', 'rollback', {
        database: DATABASE,
        to: `${DATABASE}-20000101t000000`,
      });
      if (rollback.status !== 'FAILED') throw new Error(`rollback ${rollback.status}: expected a refusal`);
    },
  },
  {
    name: 'a rollback whose stopped target cannot start: it tells operations',
    async run(twin) {
      await setUpStory(twin);
      for (let n = 0; n < 2; n++) {
        const exec = await replicateOnce(twin);
        if (exec.status !== 'SUCCEEDED')
          throw new Error(`replicate ${exec.status}: ${exec.error}: ${exec.cause}`);
        await twin.clock.advance(DAY_MS);
        await twin.settle();
      }
      const target = (await replicaIds(twin))[0]!;
      await twin.aws('destination').rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: target }));
      await twin.clock.advance(HOUR_MS);
      await twin.moto.control.addFault({
        kind: 'error',
        api: 'StartDBInstance',
        service: 'rds',
        code: 'InsufficientDBInstanceCapacity',
        account: twin.accounts.destination,
      });
      const rollback = await twin.run('destination', 'rollback', { database: DATABASE, to: target });
      await twin.moto.control.clearFaults();
      if (rollback.status !== 'FAILED' || !/InsufficientDbInstanceCapacity/.test(String(rollback.error)))
        throw new Error(`rollback ${rollback.status}: ${rollback.error}: ${rollback.cause}`);
    },
  },
  {
    name: 'finalSnapshotOnDelete=true: retention takes a final snapshot of each replica it deletes',
    async run(twin) {
      await setUpStory(twin, { finalSnapshotOnDelete: 'true' });
      for (let n = 0; n < 3; n++) {
        const exec = await replicateOnce(twin);
        if (exec.status !== 'SUCCEEDED')
          throw new Error(`replicate ${exec.status}: ${exec.error}: ${exec.cause}`);
        await twin.clock.advance(DAY_MS);
        await twin.settle();
      }
    },
  },
];

const sidOf = (s: Record<string, unknown>, n: number) => String(s.Sid ?? n);

async function withoutKeyStatement(twin: Twin, stack: DeployedStack, sid: string): Promise<boolean> {
  let removed = false;
  for (const [id, r] of Object.entries(stack.template.Resources)) {
    if (r.Type !== 'AWS::KMS::Key' || !stack.context.physical.has(id)) continue;
    const keyArn = stack.context.getAtt(id, 'Arn');
    const kms = twin.aws(stack.account, stack.region).kms;
    const doc = JSON.parse(
      (await kms.send(new GetKeyPolicyCommand({ KeyId: keyArn, PolicyName: 'default' }))).Policy!,
    ) as Doc;
    const kept = statementsOf(doc).filter((s, n) => sidOf(s, n) !== sid);
    if (kept.length === statementsOf(doc).length) continue;
    await kms.send(
      new PutKeyPolicyCommand({
        KeyId: keyArn,
        PolicyName: 'default',
        Policy: JSON.stringify({ ...doc, Statement: kept }),
      }),
    );
    removed = true;
  }
  return removed;
}

async function withoutTopicStatement(twin: Twin, stack: DeployedStack, sid: string): Promise<boolean> {
  let removed = false;
  for (const [id, r] of Object.entries(stack.template.Resources)) {
    if (r.Type !== 'AWS::SNS::Topic' || !stack.context.physical.has(id)) continue;
    const topicArn = stack.context.ref(id);
    const sns = twin.aws(stack.account, stack.region).sns;
    const policy = (await sns.send(new GetTopicAttributesCommand({ TopicArn: topicArn }))).Attributes?.Policy;
    if (!policy) continue;
    const doc = JSON.parse(policy) as Doc;
    const kept = statementsOf(doc).filter((s, n) => sidOf(s, n) !== sid);
    if (kept.length === statementsOf(doc).length) continue;
    await sns.send(
      new SetTopicAttributesCommand({
        TopicArn: topicArn,
        AttributeName: 'Policy',
        AttributeValue: JSON.stringify({ ...doc, Statement: kept }),
      }),
    );
    removed = true;
  }
  return removed;
}

function withoutRoleStatement(twin: Twin, stack: DeployedStack, id: string): boolean {
  let removed = false;
  for (const role of twin.iam.roles.values()) {
    if (role.account !== stack.account) continue;
    role.policies = role.policies.map((p) => {
      const statements = statementsOf(p.policy as Doc);
      const kept = statements.filter((s, n) => `${p.name}/${sidOf(s, n)}` !== id);
      if (kept.length !== statements.length) removed = true;
      return { name: p.name, policy: { ...(p.policy as Doc), Statement: kept } as never };
    });
  }
  return removed;
}

function withoutLambdaPermission(twin: Twin, sid: string): boolean {
  const policies = (twin.iam as unknown as { lambdaPolicies: Map<string, Array<Record<string, unknown>>> })
    .lambdaPolicies;
  let removed = false;
  for (const [arn, statements] of policies) {
    const kept = statements.filter((s) => s.Sid !== sid);
    if (kept.length !== statements.length) {
      policies.set(arn, kept);
      removed = true;
    }
  }
  return removed;
}

async function remove(twin: Twin, stack: DeployedStack, id: string): Promise<boolean> {
  if (id.startsWith('resource policy/')) {
    const sid = id.slice('resource policy/'.length);
    return (
      (await withoutKeyStatement(twin, stack, sid)) ||
      (await withoutTopicStatement(twin, stack, sid)) ||
      withoutLambdaPermission(twin, sid)
    );
  }
  return withoutRoleStatement(twin, stack, id);
}

/** Every Allow statement the twin evaluates, of every stack deployed so far. */
function allowStatements(twin: Twin): Set<string> {
  const ids = new Set<string>();
  for (const role of twin.iam.roles.values()) {
    if (role.origin === 'the test') continue;
    for (const p of role.policies) {
      statementsOf(p.policy as Doc).forEach((s, n) => {
        if (s.Effect === 'Allow') ids.add(`${p.name}/${sidOf(s, n)}`);
      });
    }
  }
  for (const stack of twin.deployments) {
    for (const r of Object.values(stack.template.Resources)) {
      const props = (r.Properties ?? {}) as Record<string, unknown>;
      const doc = (
        r.Type === 'AWS::KMS::Key'
          ? props.KeyPolicy
          : r.Type === 'AWS::SNS::TopicPolicy'
            ? props.PolicyDocument
            : undefined
      ) as Doc | undefined;
      if (doc) {
        statementsOf(doc).forEach((s, n) => {
          if (s.Effect === 'Allow') ids.add(`resource policy/${sidOf(s, n)}`);
        });
      }
    }
    for (const [id, r] of Object.entries(stack.template.Resources)) {
      if (r.Type === 'AWS::Lambda::Permission') ids.add(`resource policy/${id}`);
    }
  }
  return ids;
}

async function runScenario(
  twin: Twin,
  scenario: Scenario,
  mutation?: string,
): Promise<{ grants: Map<string, string>; refused: string[]; error?: string; removed: boolean }> {
  await twin.reset();
  twin.iam.grants = [];
  let removed = false;
  const deploy = twin.deploy.bind(twin);
  twin.deploy = async (side, opts) => {
    const stack = await deploy(side, opts);
    if (mutation && (await remove(twin, stack, mutation))) removed = true;
    return stack;
  };
  let error: string | undefined;
  try {
    await scenario.run(twin);
  } catch (e) {
    error = (e as Error).message.slice(0, 300);
  } finally {
    twin.deploy = deploy;
  }
  await twin.settle().catch(() => undefined);
  const grants = new Map<string, string>();
  for (const g of twin.iam.grants ?? []) {
    for (const s of g.statements) if (!grants.has(s)) grants.set(s, `${g.action} on ${g.resource}`);
  }
  twin.iam.grants = undefined;
  const refused = twin.iam.denials.map((d) => `${d.action} on ${d.resource}`);
  return { grants, refused, error, removed };
}

async function main() {
  const write = process.argv.includes('--write');
  // --only=<id>,<id>: recheck these statements only (the others are reported as not rechecked).
  const only = process.argv
    .find((a) => a.startsWith('--only='))
    ?.slice('--only='.length)
    .split(',');
  const twin = await startTwin();
  const started = Date.now();
  try {
    // 1. Who needs what, with every statement in place.
    const usedBy = new Map<string, { scenario: Scenario; request: string }[]>();
    const statements = new Set<string>();
    for (const scenario of scenarios) {
      const r = await runScenario(twin, scenario);
      if (r.error || r.refused.length) {
        throw new Error(
          `scenario "${scenario.name}" fails with every statement in place: ${r.error ?? r.refused.join('; ')}`,
        );
      }
      for (const s of allowStatements(twin)) statements.add(s);
      for (const [s, request] of r.grants) {
        usedBy.set(s, [...(usedBy.get(s) ?? []), { scenario, request }]);
      }
      console.error(`baseline: ${scenario.name}: ${r.grants.size} statements used`);
    }

    // 2. Remove each used statement in turn.
    const rows: Array<{ statement: string; verdict: string; detail: string }> = [];
    let problems = 0;
    for (const statement of [...statements].sort()) {
      const users = usedBy.get(statement) ?? [];
      if (only && !only.includes(statement)) {
        rows.push({ statement, verdict: 'not rechecked', detail: `used by ${users.length} scenario(s)` });
        continue;
      }
      if (users.length === 0) {
        const reason = UNREACHABLE[statement];
        if (!reason) problems++;
        rows.push({
          statement,
          verdict: reason ? 'unreachable in the twin' : '**not needed by any scenario**',
          detail: reason ?? 'no scenario uses it',
        });
        continue;
      }
      let needed: { scenario: string; refused: string } | undefined;
      for (const { scenario } of users) {
        const r = await runScenario(twin, scenario, statement);
        if (r.refused.length) {
          needed = { scenario: scenario.name, refused: r.refused[0]! };
          break;
        }
      }
      console.error(
        `${statement}: ${needed ? `needed by "${needed.scenario}" (${needed.refused})` : 'not needed'}`,
      );
      if (needed) {
        rows.push({
          statement,
          verdict: 'needed',
          detail: `${needed.scenario}: without it, ${needed.refused} is refused`,
        });
      } else {
        const reason = REDUNDANT[statement];
        if (!reason) problems++;
        rows.push({
          statement,
          verdict: reason ? 'redundant (kept)' : '**redundant**',
          detail: reason ?? `used by ${users[0]!.request}, but another statement allows it too`,
        });
      }
    }

    const table = [
      '| statement | verdict | scenario that needed it (the first request refused without it) |',
      '|---|---|---|',
      ...rows.map((r) => `| \`${r.statement}\` | ${r.verdict} | ${r.detail.replace(/\|/g, '\\|')} |`),
    ].join('\n');
    console.log(table);
    console.log(
      `\n${rows.length} Allow statements, ${rows.filter((r) => r.verdict === 'needed').length} needed, ` +
        `${rows.filter((r) => r.verdict.startsWith('unreachable')).length} unreachable in the twin, ` +
        `${rows.filter((r) => r.verdict.startsWith('redundant')).length} redundant, ${problems} problems; ` +
        `${Math.round((Date.now() - started) / 1000)} s`,
    );
    if (write) {
      const readme = join(ROOT, 'README.md');
      const text = readFileSync(readme, 'utf8');
      const begin = '<!-- iam-mutate:begin (npm run iam:mutate -- --write) -->';
      const end = '<!-- iam-mutate:end -->';
      const i = text.indexOf(begin);
      const j = text.indexOf(end);
      if (i < 0 || j < i) throw new Error(`README.md has no ${begin} ... ${end} markers`);
      writeFileSync(readme, `${text.slice(0, i + begin.length)}\n${table}\n${text.slice(j)}`);
    }
    process.exitCode = problems ? 1 : 0;
  } finally {
    await twin.stop();
  }
}

void main();
