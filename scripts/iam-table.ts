/**
 * Least privilege, checked on the packaged templates: every IAM statement of both services (role
 * policies, trust policies, AWS::IAM::Policy / ManagedPolicy, KMS key policies, SNS topic, SQS queue,
 * S3 bucket and Secrets Manager resource policies, Lambda permissions), the rules they must obey, and
 * the table README.md shows ("Least privilege").
 *
 *   npx tsx scripts/iam-table.ts           print the table and any finding (exit 1 on a finding)
 *   npx tsx scripts/iam-table.ts --write   also replace the table in README.md between its markers
 *
 * test/template/least-privilege.test.ts runs the same checker on the same packaged templates.
 *
 * The rules (each finding names one of them):
 *   wildcard-action  an Allow with Action "*", or "<service>:*"; the one exception is "kms:*" in a
 *                    key policy for the key's own account root (AWS's default key policy: the
 *                    account's IAM policies then decide who may do what)
 *   not-element      an Allow with NotAction, NotResource or NotPrincipal (a wildcard in disguise)
 *   star-resource    an identity Allow with Resource "*" on any action that supports resource-level
 *                    permissions: every mutating action (not Describe*, List*, Get*;
 *                    secretsmanager:GetSecretValue counts as mutating) and every read-only one; "*"
 *                    is accepted only for actions in NO_RESOURCE_LEVEL
 *   key-grant        a key policy Allow to another account beyond the use actions (Decrypt,
 *                    Encrypt, ReEncrypt*, GenerateDataKey*, DescribeKey, and CreateGrant only with
 *                    kms:GrantIsForAWSResource true)
 *   open-policy      a resource or trust policy Allow to everyone without a SourceArn/SourceAccount
 *                    (or PrincipalAccount/PrincipalOrgID) condition, to an account that is not
 *                    configured, to a service without SourceArn/SourceAccount (key, topic, queue,
 *                    bucket and secret policies), or a configured account allowed more on the
 *                    topic than sns:Subscribe
 *   lambda-permission  an AWS::Lambda::Permission without SourceArn, or for everyone
 *   confused-deputy  a trust policy letting a service that names its caller (Step Functions,
 *                    EventBridge) assume the role without both aws:SourceArn and aws:SourceAccount
 *   kms-via-service  KMS use actions (Decrypt, Encrypt, ReEncrypt*, GenerateDataKey*; CreateGrant
 *                    without kms:GrantIsForAWSResource) in a role policy, or for another account in
 *                    a key policy, without a kms:ViaService condition: the key would be usable
 *                    directly, outside the service that needs it
 *   subscribe-lambda another account may sns:Subscribe without sns:Protocol = lambda and an
 *                    sns:Endpoint condition: it could subscribe an e-mail address or HTTP endpoint
 *   service-linked-role  iam:CreateServiceLinkedRole without an iam:AWSServiceName condition or on
 *                    a resource outside role/aws-service-role/
 *   tag-guard        a role whose mutating action is limited by a resource-tag condition, but
 *                    which may add tags to every resource of that type in the account, or to a
 *                    name pattern that does not carry the deployment (the tag value, or its
 *                    marker from src/contracts/names.ts): it could put the tag on a resource
 *                    someone else named (`db:orders-db-*` matches `orders-db-legacy`) first, so
 *                    the condition protects nothing
 *   unreviewed       a policy the checker cannot read (a managed policy ARN from outside the
 *                    template, a policy-bearing resource type it does not know)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deploymentMarker } from '../src/contracts/names';
import { EVERYTHING } from '../test/helpers/variants';
import { type CfnTemplate, packageService, ROOT, type Side } from '../twin/src/package';

type Json = Record<string, unknown>;

export interface Statement {
  Sid?: string;
  Effect: string;
  Principal?: unknown;
  NotPrincipal?: unknown;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

export type Kind = 'identity' | 'trust' | 'key' | 'topic' | 'queue' | 'bucket' | 'secret' | 'permission';

export interface Located {
  side: Side;
  /** Logical id of the resource that carries the statement. */
  resource: string;
  /** For people: `StateMachineRole / replicate`, `SharedKey key policy`. */
  where: string;
  kind: Kind;
  /** Identity statements: the roles (logical ids) they apply to. */
  roles: string[];
  statement: Statement;
}

export type Rule =
  | 'wildcard-action'
  | 'not-element'
  | 'star-resource'
  | 'key-grant'
  | 'open-policy'
  | 'lambda-permission'
  | 'confused-deputy'
  | 'kms-via-service'
  | 'subscribe-lambda'
  | 'service-linked-role'
  | 'tag-guard'
  | 'unreviewed';

export interface Finding {
  rule: Rule;
  side: Side;
  where: string;
  sid?: string;
  message: string;
}

export interface CheckOptions {
  /** Accounts other than the template's own that key and topic policies may name. */
  accounts: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Facts the rules rely on

/** The key-use actions another account may get on a shared key (AWS-FACTS.md, "RDS"). */
export const KEY_USE_ACTIONS = [
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:ReEncrypt*',
  'kms:GenerateDataKey*',
  'kms:DescribeKey',
];

/**
 * Actions without resource-level permissions (AWS Service Authorization Reference; the Step Functions
 * developer guide prescribes Resource "*" for the log delivery actions): the only ones that may
 * have Resource "*".
 */
export const NO_RESOURCE_LEVEL = new Set(
  [
    'logs:CreateLogDelivery',
    'logs:GetLogDelivery',
    'logs:UpdateLogDelivery',
    'logs:DeleteLogDelivery',
    'logs:ListLogDeliveries',
    'logs:PutResourcePolicy',
    'logs:DescribeResourcePolicies',
    'logs:DescribeLogGroups',
    'xray:PutTraceSegments',
    'xray:PutTelemetryRecords',
    'xray:GetSamplingRules',
    'xray:GetSamplingTargets',
    // No resource type in the Service Authorization Reference (account-wide quotas and usage).
    'rds:DescribeAccountAttributes',
  ].map((a) => a.toLowerCase()),
);

/** Condition keys that tie a grant to everyone to one source or account. */
const SCOPING_KEYS = [
  'aws:sourcearn',
  'aws:sourceaccount',
  'aws:sourceowner',
  'aws:principalaccount',
  'aws:principalorgid',
];
/** Services that pass aws:SourceArn / aws:SourceAccount when they assume a role. */
const SOURCE_NAMING_SERVICES = ['states.amazonaws.com', 'events.amazonaws.com', 'scheduler.amazonaws.com'];
/** KMS actions that use key material (a kms:ViaService condition confines them to one service). */
const KMS_USE_ACTIONS = [
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:ReEncrypt*',
  'kms:GenerateDataKey*',
  'kms:CreateGrant',
];
const TAGGING_ACTIONS = ['AddTagsToResource', 'TagResource', 'CreateTags'];
const RESOURCE_TAG_KEY = /^(?:aws:resourcetag|[a-z0-9-]+:[a-z-]+-tag)\/(.+)$/i;

const asArray = <T>(v: T | T[] | undefined | null): T[] =>
  v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
const lower = (s: string) => s.toLowerCase();

/** Read-only by name: Describe*, List*, Get*, except reading a secret's value. */
export function isReadOnly(action: string): boolean {
  const a = lower(action);
  if (a === 'secretsmanager:getsecretvalue') return false;
  const name = a.split(':')[1] ?? '';
  return /^(describe|list|get)/.test(name);
}

/** Whether an IAM action pattern (with * and ?) matches an action. */
function actionMatches(pattern: string, action: string): boolean {
  const re = new RegExp(
    `^${lower(pattern)
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(lower(action));
}

// ---------------------------------------------------------------------------------------------
// Reading the template: conditions resolved the way CloudFormation would with the packaged defaults

const NO_VALUE = Symbol('AWS::NoValue');

function resolver(template: CfnTemplate) {
  const parameters = (template.Parameters ?? {}) as Record<string, { Default?: unknown }>;
  const conditions = (template.Conditions ?? {}) as Record<string, unknown>;
  const memo = new Map<string, boolean>();

  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve).filter((v) => v !== NO_VALUE);
    if (value === null || typeof value !== 'object') return value;
    const v = value as Json;
    if (Array.isArray(v['Fn::If'])) {
      const [name, whenTrue, whenFalse] = v['Fn::If'] as [string, unknown, unknown];
      return resolve(isOn(name) ? whenTrue : whenFalse);
    }
    if (v.Ref === 'AWS::NoValue') return NO_VALUE;
    if (typeof v.Ref === 'string' && Object.hasOwn(parameters, v.Ref)) {
      return parameters[v.Ref]?.Default ?? '';
    }
    const out: Json = {};
    for (const [k, inner] of Object.entries(v)) {
      const r = resolve(inner);
      if (r !== NO_VALUE) out[k] = r;
    }
    return out;
  };

  const evaluate = (expr: unknown): boolean => {
    const e = expr as Json;
    if (Array.isArray(e['Fn::Equals'])) {
      const [a, b] = (e['Fn::Equals'] as unknown[]).map((x) => JSON.stringify(resolve(x)));
      return a === b;
    }
    if (Array.isArray(e['Fn::Not'])) return !evaluate((e['Fn::Not'] as unknown[])[0]);
    if (Array.isArray(e['Fn::And'])) return (e['Fn::And'] as unknown[]).every(evaluate);
    if (Array.isArray(e['Fn::Or'])) return (e['Fn::Or'] as unknown[]).some(evaluate);
    if (typeof e.Condition === 'string') return isOn(e.Condition);
    throw new Error(`cannot evaluate the condition ${JSON.stringify(expr)}`);
  };

  const isOn = (name: unknown): boolean => {
    if (name === undefined) return true;
    const key = String(name);
    if (!memo.has(key)) {
      if (!Object.hasOwn(conditions, key)) throw new Error(`template has no condition ${key}`);
      memo.set(key, evaluate(conditions[key]));
    }
    return memo.get(key)!;
  };

  return { resolve, isOn };
}

const refId = (v: unknown): string | undefined => {
  const o = v as Json | undefined;
  if (o && typeof o.Ref === 'string') return o.Ref;
  if (o && Array.isArray(o['Fn::GetAtt'])) return String((o['Fn::GetAtt'] as unknown[])[0]);
  return undefined;
};

/** Every policy statement of the template (resources whose Condition is false are left out). */
export function extract(template: CfnTemplate, side: Side): { located: Located[]; findings: Finding[] } {
  const { resolve, isOn } = resolver(template);
  const located: Located[] = [];
  const findings: Finding[] = [];
  const resources = Object.entries(template.Resources).filter(([, r]) => isOn(r.Condition));

  // Roles that attach a managed policy of this template by reference.
  const managedBy = new Map<string, string[]>();
  for (const [id, r] of resources) {
    if (r.Type !== 'AWS::IAM::Role') continue;
    for (const arn of asArray(resolve(r.Properties?.ManagedPolicyArns) as unknown[])) {
      const target = refId(arn);
      if (target && template.Resources[target]?.Type === 'AWS::IAM::ManagedPolicy') {
        managedBy.set(target, [...(managedBy.get(target) ?? []), id]);
      } else {
        findings.push({
          rule: 'unreviewed',
          side,
          where: id,
          message: `attaches the managed policy ${render(arn)}, whose statements this template does not show`,
        });
      }
    }
  }

  for (const [id, r] of resources) {
    const p = resolve(r.Properties ?? {}) as Json;
    const add = (doc: unknown, where: string, kind: Kind, roles: string[] = []) => {
      for (const statement of asArray((doc as Json | undefined)?.Statement as Statement[])) {
        located.push({ side, resource: id, where, kind, roles, statement });
      }
    };
    const roleIds = (v: unknown) => asArray(v as unknown[]).map((x) => refId(x) ?? render(x));
    switch (r.Type) {
      case 'AWS::IAM::Role':
        add(p.AssumeRolePolicyDocument, `${id} trust policy`, 'trust', [id]);
        for (const policy of asArray(p.Policies as Json[])) {
          add(policy.PolicyDocument, `${id} / ${String(policy.PolicyName)}`, 'identity', [id]);
        }
        break;
      case 'AWS::IAM::User':
      case 'AWS::IAM::Group':
        for (const policy of asArray(p.Policies as Json[])) {
          add(policy.PolicyDocument, `${id} / ${String(policy.PolicyName)}`, 'identity', [id]);
        }
        break;
      case 'AWS::IAM::Policy': {
        const roles = roleIds(p.Roles);
        add(p.PolicyDocument, `${id} (on ${roles.join(', ')})`, 'identity', roles);
        break;
      }
      case 'AWS::IAM::ManagedPolicy': {
        const roles = [...roleIds(p.Roles), ...(managedBy.get(id) ?? [])];
        add(p.PolicyDocument, `${id} (on ${roles.join(', ')})`, 'identity', roles);
        break;
      }
      case 'AWS::KMS::Key':
        add(p.KeyPolicy, `${id} key policy`, 'key');
        break;
      case 'AWS::SNS::TopicPolicy':
        add(p.PolicyDocument, `${id} topic policy`, 'topic');
        break;
      case 'AWS::SQS::QueuePolicy':
        add(p.PolicyDocument, `${id} queue policy`, 'queue');
        break;
      case 'AWS::S3::BucketPolicy':
        add(p.PolicyDocument, `${id} bucket policy`, 'bucket');
        break;
      case 'AWS::SecretsManager::ResourcePolicy':
        add(p.ResourcePolicy, `${id} secret policy`, 'secret');
        break;
      case 'AWS::Lambda::Permission': {
        const principal = render(p.Principal);
        const condition: Statement['Condition'] = {};
        if (p.SourceArn !== undefined) condition.ArnLike = { 'AWS:SourceArn': p.SourceArn };
        if (p.SourceAccount !== undefined) condition.StringEquals = { 'AWS:SourceAccount': p.SourceAccount };
        located.push({
          side,
          resource: id,
          where: `${id} (Lambda permission)`,
          kind: 'permission',
          roles: [],
          statement: {
            Effect: 'Allow',
            Principal:
              principal === '*'
                ? '*'
                : principal.endsWith('.amazonaws.com')
                  ? { Service: principal }
                  : { AWS: principal },
            Action: String(p.Action),
            Resource: p.FunctionName,
            ...(Object.keys(condition).length ? { Condition: condition } : {}),
          },
        });
        break;
      }
      default:
        if (/"(Statement|PolicyDocument|KeyPolicy)"/.test(JSON.stringify(p))) {
          findings.push({
            rule: 'unreviewed',
            side,
            where: id,
            message: `${r.Type} carries a policy that the checker does not read (teach extract() about it)`,
          });
        }
    }
  }
  return { located, findings };
}

/** Statements written anywhere in the enabled resources: what extract() must have found. */
export function countWrittenStatements(template: CfnTemplate): number {
  const { resolve, isOn } = resolver(template);
  let n = 0;
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Json;
      if (typeof o.Effect === 'string' && ('Action' in o || 'NotAction' in o)) n++;
      Object.values(o).forEach(walk);
    }
  };
  for (const r of Object.values(template.Resources)) {
    if (isOn(r.Condition) && r.Type !== 'AWS::Lambda::Permission') walk(resolve(r.Properties ?? {}));
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Rendering CloudFormation values (dev stage: pseudo parameters stay symbolic)

const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::AccountId': '<account>',
  'AWS::Region': '<region>',
  'AWS::StackName': '<stack>',
  'AWS::URLSuffix': 'amazonaws.com',
};

export function render(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const v = value as Json;
  if (typeof v?.Ref === 'string') return PSEUDO[v.Ref] ?? v.Ref;
  if (Array.isArray(v?.['Fn::GetAtt'])) return (v['Fn::GetAtt'] as string[]).join('.');
  if (Array.isArray(v?.['Fn::Join'])) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return asArray(parts).map(render).join(sep);
  }
  if (v?.['Fn::Sub'] !== undefined) {
    const [text, vars] = (Array.isArray(v['Fn::Sub']) ? v['Fn::Sub'] : [v['Fn::Sub'], {}]) as [string, Json];
    return text.replace(/\$\{([^}!]+)\}/g, (_m, name: string) => {
      if (Object.hasOwn(vars ?? {}, name)) return render(vars[name]);
      return PSEUDO[name] ?? name;
    });
  }
  return JSON.stringify(value);
}

type PrincipalClass = 'everyone' | 'service' | 'own' | 'account' | 'unknown';

export interface Principal {
  text: string;
  class: PrincipalClass;
  account?: string;
}

export function principalsOf(s: Statement, template?: CfnTemplate): Principal[] {
  const p = s.Principal as Json | string | undefined;
  if (p === undefined) return [];
  if (p === '*') return [{ text: '*', class: 'everyone' }];
  const out: Principal[] = [];
  for (const [type, values] of Object.entries(typeof p === 'string' ? { AWS: p } : p)) {
    for (const raw of asArray(values as unknown[])) {
      const text = render(raw);
      if (text === '*') out.push({ text, class: 'everyone' });
      else if (type === 'Service') out.push({ text, class: 'service' });
      else if (type !== 'AWS') out.push({ text: `${type}:${text}`, class: 'unknown' });
      else if (text.includes('<account>')) out.push({ text, class: 'own' });
      else if (refId(raw) && (!template || template.Resources[refId(raw)!])) out.push({ text, class: 'own' });
      else {
        const m = /^(?:arn:aws[a-z-]*:(?:iam|sts)::)?([0-9]{12})(?::|$)/.exec(text);
        out.push(m ? { text, class: 'account', account: m[1] } : { text, class: 'unknown' });
      }
    }
  }
  return out;
}

const conditionKeys = (s: Statement): string[] =>
  Object.values(s.Condition ?? {}).flatMap((block) => Object.keys(block ?? {}).map(lower));

function conditionValue(s: Statement, key: string): unknown[] {
  return Object.values(s.Condition ?? {}).flatMap((block) =>
    Object.entries(block ?? {})
      .filter(([k]) => lower(k) === lower(key))
      .flatMap(([, v]) => asArray(v as unknown)),
  );
}

const isOwnRoot = (p: Principal) => p.class === 'own' && /^arn:aws[a-z-]*:iam::<account>:root$/.test(p.text);

// ---------------------------------------------------------------------------------------------
// The rules

interface ArnParts {
  service: string;
  type: string;
  name: string;
}

/** `arn:<p>:<service>:<region>:<account>:<type>:<name>` or `.../<type>/<name>`; "*" is every type. */
function arnParts(resource: string): ArnParts | 'everything' | undefined {
  if (resource === '*') return 'everything';
  const m = /^arn:[^:]*:([^:]*):[^:]*:[^:]*:(.*)$/.exec(resource);
  if (!m) return undefined;
  const rest = m[2]!;
  if (rest === '*' || rest === '') return 'everything';
  const sep = rest.search(/[:/]/);
  return sep < 0
    ? { service: m[1]!, type: rest, name: '' }
    : { service: m[1]!, type: rest.slice(0, sep), name: rest.slice(sep + 1) };
}

export function check(located: readonly Located[], options: CheckOptions, template?: CfnTemplate): Finding[] {
  const findings: Finding[] = [];
  const configured = new Set(options.accounts);
  const flag = (l: Located, rule: Rule, message: string) =>
    findings.push({ rule, side: l.side, where: l.where, sid: l.statement.Sid, message });

  for (const l of located) {
    const s = l.statement;
    if (s.Effect !== 'Allow') continue; // a Deny only ever narrows access
    const actions = asArray(s.Action);
    const resources = asArray(s.Resource).map(render);
    const principals = principalsOf(s, template);

    for (const element of ['NotAction', 'NotResource', 'NotPrincipal'] as const) {
      if (s[element] !== undefined) flag(l, 'not-element', `Allow with ${element} grants everything else`);
    }

    // wildcard-action
    for (const action of actions) {
      if (action === '*') flag(l, 'wildcard-action', 'Action "*"');
      else if (/^[^:]+:\*$/.test(action)) {
        const ownRootKeyAdmin =
          l.kind === 'key' &&
          lower(action) === 'kms:*' &&
          principals.length > 0 &&
          principals.every(isOwnRoot);
        if (!ownRootKeyAdmin) {
          flag(
            l,
            'wildcard-action',
            `Action "${action}" (only "kms:*" for the key's own account root is accepted, in a key policy)`,
          );
        }
      }
    }

    // star-resource (identity policies; in a key policy "*" means the key itself)
    if (l.kind === 'identity' && resources.some((r) => arnParts(r) === 'everything')) {
      for (const action of actions) {
        if (NO_RESOURCE_LEVEL.has(lower(action))) continue;
        const service = lower(action.split(':')[0] ?? '');
        const guarded = ['rds', 'kms', 'secretsmanager'].includes(service) && !isReadOnly(action);
        flag(
          l,
          'star-resource',
          guarded
            ? `mutating ${action} on Resource "*"`
            : `${action} on Resource "*", although it supports resource-level permissions`,
        );
      }
    }

    // key-grant and open-policy (resource and trust policies)
    if (l.kind !== 'identity' && l.kind !== 'permission') {
      const scoped = conditionKeys(s).some((k) => SCOPING_KEYS.includes(k));
      for (const p of principals) {
        if (p.class === 'everyone' && (!scoped || l.kind === 'key' || l.kind === 'trust')) {
          flag(
            l,
            'open-policy',
            `Principal "*"${scoped ? '' : ' without a SourceArn/SourceAccount condition'}`,
          );
        } else if (p.class === 'service' && !scoped && l.kind !== 'trust') {
          flag(l, 'open-policy', `service ${p.text} without a SourceArn/SourceAccount condition`);
        } else if (p.class === 'unknown') {
          flag(
            l,
            'open-policy',
            `principal ${p.text} is neither this account, a service nor a configured account`,
          );
        } else if (p.class === 'account') {
          if (!configured.has(p.account!) || l.kind === 'trust') {
            flag(
              l,
              'open-policy',
              `account ${p.account} is not a configured account (${[...configured].join(', ')})`,
            );
          } else if (l.kind === 'key') {
            for (const action of actions) {
              const use = KEY_USE_ACTIONS.some((a) => lower(a) === lower(action));
              const grant =
                lower(action) === 'kms:creategrant' &&
                conditionValue(s, 'kms:GrantIsForAWSResource').some((v) => String(v) === 'true');
              if (!use && !grant) {
                flag(
                  l,
                  'key-grant',
                  lower(action) === 'kms:creategrant'
                    ? `account ${p.account} may kms:CreateGrant without kms:GrantIsForAWSResource true`
                    : `account ${p.account} may ${action}, beyond the use actions`,
                );
              }
            }
          } else if (l.kind === 'topic') {
            for (const action of actions.filter((a) => lower(a) !== 'sns:subscribe')) {
              flag(
                l,
                'open-policy',
                `account ${p.account} may ${action} on the topic (subscribing is all it needs)`,
              );
            }
          } else {
            flag(l, 'open-policy', `account ${p.account} is granted access to a ${l.kind}`);
          }
        }
      }
    }

    // confused-deputy
    if (l.kind === 'trust') {
      const keys = conditionKeys(s);
      for (const p of principals.filter(
        (p) => p.class === 'service' && SOURCE_NAMING_SERVICES.includes(p.text),
      )) {
        const missing = ['aws:sourcearn', 'aws:sourceaccount'].filter((k) => !keys.includes(k));
        if (missing.length > 0) {
          flag(
            l,
            'confused-deputy',
            `${p.text} may assume the role without ${missing.join(' and ')} (any ${p.text.split('.')[0]} resource could use it)`,
          );
        }
      }
    }

    // kms-via-service
    // (Action "*" is reported as wildcard-action only)
    const usesKeys = actions.filter(
      (a) =>
        a !== '*' &&
        KMS_USE_ACTIONS.some((u) => actionMatches(a, u) || actionMatches(u, a)) &&
        !(
          lower(a) === 'kms:creategrant' &&
          conditionValue(s, 'kms:GrantIsForAWSResource').some((v) => String(v) === 'true')
        ),
    );
    const viaService = conditionKeys(s).includes('kms:viaservice');
    const foreign = principals.filter((p) => p.class === 'account');
    if (usesKeys.length > 0 && !viaService) {
      if (l.kind === 'identity') {
        flag(l, 'kms-via-service', `${usesKeys.join(', ')} without kms:ViaService`);
      } else if (l.kind === 'key' && foreign.length > 0) {
        flag(
          l,
          'kms-via-service',
          `account ${foreign.map((p) => p.account).join(', ')} may ${usesKeys.join(', ')} without kms:ViaService (outside RDS too)`,
        );
      }
    }

    // subscribe-lambda
    if (l.kind === 'topic' && foreign.length > 0 && actions.some((a) => actionMatches(a, 'sns:Subscribe'))) {
      const protocols = conditionValue(s, 'sns:Protocol').map(String);
      const endpoints = conditionValue(s, 'sns:Endpoint');
      if (protocols.length === 0 || protocols.some((p) => p !== 'lambda') || endpoints.length === 0) {
        flag(
          l,
          'subscribe-lambda',
          `account ${foreign.map((p) => p.account).join(', ')} may subscribe ${protocols.length ? `with protocol ${protocols.join(', ')}` : 'any protocol'}${endpoints.length ? '' : ' and any endpoint'}: only its Lambda function should receive the messages`,
        );
      }
    }

    // service-linked-role
    if (actions.some((a) => a !== '*' && actionMatches(a, 'iam:CreateServiceLinkedRole'))) {
      const names = conditionValue(s, 'iam:AWSServiceName');
      const outside = resources.filter(
        (r) => !/:role\/aws-service-role\/[a-z0-9.-]+\/[A-Za-z0-9+=,.@_-]+$/.test(r),
      );
      if (names.length === 0 || outside.length > 0) {
        flag(
          l,
          'service-linked-role',
          names.length === 0
            ? 'iam:CreateServiceLinkedRole without an iam:AWSServiceName condition'
            : `iam:CreateServiceLinkedRole on ${outside.join(', ')}, not one service-linked role`,
        );
      }
    }

    // lambda-permission
    if (l.kind === 'permission') {
      if (conditionValue(s, 'AWS:SourceArn').length === 0) {
        flag(
          l,
          'lambda-permission',
          `${principals.map((p) => p.text).join(', ')} may invoke without SourceArn`,
        );
      }
      if (principals.some((p) => p.class === 'everyone')) flag(l, 'lambda-permission', 'Principal "*"');
    }
  }

  // tag-guard, per role
  const byRole = new Map<string, Located[]>();
  for (const l of located) {
    if (l.kind !== 'identity' || l.statement.Effect !== 'Allow') continue;
    for (const role of l.roles) byRole.set(role, [...(byRole.get(role) ?? []), l]);
  }
  for (const [role, list] of byRole) {
    for (const guard of list) {
      const tagKeys = conditionKeys(guard.statement)
        .map((k) => RESOURCE_TAG_KEY.exec(k)?.[1])
        .filter((k): k is string => k !== undefined);
      if (tagKeys.length === 0) continue;
      const guardedActions = asArray(guard.statement.Action).filter((a) => !isReadOnly(a));
      if (guardedActions.length === 0) continue;
      const types = asArray(guard.statement.Resource)
        .map((r) => arnParts(render(r)))
        .filter((t): t is ArnParts => typeof t === 'object');
      const services = new Set(guardedActions.map((g) => lower(g.split(':')[0] ?? '')));
      // What identifies the deployment in a name: the tag value the guard requires, or its marker.
      const owners = conditionKeys(guard.statement)
        .filter((k) => RESOURCE_TAG_KEY.test(k))
        .flatMap((k) => conditionValue(guard.statement, k).map((v) => render(v)))
        .filter((v) => v !== '');
      const marks = owners.flatMap((o) => [lower(o), deploymentMarker(o)]);
      /** A wildcard name whose fixed part does not name the deployment matches what others named. */
      const foreignReach = (name: string) => {
        const wild = name.search(/[*?]/);
        return wild >= 0 && !marks.some((m) => lower(name.slice(0, wild)).includes(m));
      };
      for (const tagger of list) {
        // Tagging that itself requires the tag on the resource cannot adopt anything.
        const taggerTagKeys = conditionKeys(tagger.statement).map((k) => RESOURCE_TAG_KEY.exec(k)?.[1]);
        if (tagKeys.some((k) => taggerTagKeys.includes(k))) continue;
        const tagActions = asArray(tagger.statement.Action).filter((a) =>
          [...services].some((service) => TAGGING_ACTIONS.some((t) => actionMatches(a, `${service}:${t}`))),
        );
        if (tagActions.length === 0) continue;
        for (const target of asArray(tagger.statement.Resource).map(render)) {
          const parts = arnParts(target);
          const open = types.filter(
            (t) =>
              parts === 'everything' ||
              (parts !== undefined &&
                parts.service === t.service &&
                parts.type === t.type &&
                (parts.name === '*' || foreignReach(parts.name))),
          );
          for (const t of new Set(open.map((o) => o.type))) {
            findings.push({
              rule: 'tag-guard',
              side: guard.side,
              where: guard.where,
              sid: guard.statement.Sid,
              message:
                `${guardedActions.join(', ')} is limited to ${t} resources tagged ${tagKeys.join(', ')}, but ${role} ` +
                `may also ${tagActions.join(', ')} on ${target} (${tagger.statement.Sid ?? tagger.where}` +
                `${tagger.statement.Condition ? `, ${renderCondition(tagger.statement.Condition)}` : ', no condition'}): ` +
                `it can put that tag on any ${t} of the account${parts === 'everything' || parts?.name === '*' ? '' : ' with such a name (one an operator may have chosen)'} first. ` +
                'Scope the tagging to the names this deployment creates, which carry its id or marker (src/contracts/names.ts deploymentMarker)',
            });
          }
        }
      }
    }
  }
  return findings;
}

export const formatFinding = (f: Finding) =>
  `[${f.rule}] ${f.side}: ${f.where}${f.sid ? ` (${f.sid})` : ''}: ${f.message}`;

// ---------------------------------------------------------------------------------------------
// The table

/** Why each statement exists, by Sid (or `<resource>/<Sid>` where one Sid means two things). */
const WHY_BY_SID: Record<string, string> = {
  // source: state machine role
  ReadTheSnapshotQuota:
    'quota preflight: manual snapshot usage and quota (account-wide; AWS requires Resource "*")',
  ReadInstancesAndSnapshots:
    'validate the requested databases, read engine and version, poll snapshot and copy',
  SnapshotInstances: "take the run's snapshot of a source instance, named after this deployment",
  CopyAndTagOwnSnapshots:
    'copy it with the shared key and tag it on creation, only snapshots named after this deployment',
  RunOneExecutionPerDatabase:
    '`replicate` starts one `replicate-database` execution per database (startExecution.sync:2)',
  FollowTheDatabaseExecutions:
    'follow or stop those executions; a lock whose holder (one of them) no longer runs is taken over',
  ManagedRuleForSyncExecutions:
    'Step Functions follows .sync child executions through this managed EventBridge rule',
  ShareAndDeleteOwnSnapshots:
    'share the copy with the destination accounts; delete the intermediate snapshot and copies beyond keepSharedSnapshots (only snapshots tagged as this deployment)',
  CopyTheInstancesBackups:
    "snapshotSource latest: copy a configured database's newest automated snapshot, or an AWS Backup snapshot, into this deployment's shared copy",
  EncryptCopiesWithSharedKey: 'RDS encrypts the copy with the shared key on the role’s behalf',
  GrantSharedKeyToRds: 'RDS holds a grant on the shared key while it copies',
  GrantSourceKeysToRds: 'copy a source instance encrypted with another customer key of this account',
  ReadSourceKeysThroughRds: 'RDS decrypts such a source snapshot while it copies',
  StartTheScheduledRun: 'the schedule (EventBridge rule) starts `replicate`',
  CloudWatchAlarmsOfThisAccountPublish:
    'CloudWatch alarms of this account may publish to the encrypted operations topic',
  CloudWatchAlarmsOfThisStackPublish:
    "this stack's alarms (failed, timed-out, aborted, throttled executions; the trigger's failure queue) notify the operations topic",
  'OperationsTopicKey/AccountAdministersTheKey': "AWS's default key policy; the key is not shared",
  LetRdsCreateItsServiceLinkedRole:
    "the first restore in an account without RDS resources creates RDS's service-linked role",
  EncryptNotices: 'the operations topic is encrypted with its own key',
  DecryptTheSecretsThroughSecretsManager:
    'read given secrets encrypted with a customer-managed key (secretKmsKeyArns)',
  EncryptTheSecretsThroughSecretsManager:
    'write given secrets encrypted with a customer-managed key (secretKmsKeyArns)',
  PublishNotices: 'the replication message; failure and clean-up notices',
  EncryptTopicMessages: 'both topics are encrypted with the topic key',
  LocksAndSharedCopyRecords:
    'per-database lock (`lock#<db>`) and the record of each shared copy (`copy#<db>`)',
  DeliverLogs: 'state machine logging (no resource-level permissions)',
  DeliverExecutionLogs: 'state machine logging (no resource-level permissions)',
  SendTraces: 'X-Ray, only with tracingEnabled=true (no resource-level permissions)',
  // source: key and topic policies
  'SharedKey/AccountAdministersTheKey':
    "AWS's default key policy: this account's IAM policies decide (only when kmsKeyArn is empty)",
  'TopicKey/AccountAdministersTheKey': "AWS's default key policy; the topic key is not shared",
  DestinationAccountsUseTheKey:
    'the destination accounts copy the shared snapshot: use only, no administration',
  DestinationAccountsGrantRdsOnly: 'RDS in the destination account holds a grant while it copies',
  DestinationAccountsSubscribe: 'the destination stacks subscribe their trigger Lambda',
  StateMachinePublishes: 'the replicate state machine publishes the replication messages',
  NobodyElsePublishes: 'no other principal of the source account may publish, whatever its IAM policies say',
  // destination: replicate
  CopyTheSharedSnapshotIntoACopyOfThisDeployment:
    'copy the shared snapshot (source account ARN) into a copy named `<deployment>-...`',
  DescribeTheCopies: 'poll the copy',
  DeleteTheCopies: 'delete the copy after the restore or after a failure',
  RestoreReplicasTaggedForThisDeployment:
    "restore only with this deployment's tag in the request, into the configured subnet, parameter and option groups",
  ReadTheSharedSnapshotsProvenance:
    "read the shared snapshot before anything is created: refuse it unless it is the message's database and engine, available and shared with this account",
  TagOnlyWithThisDeploymentsTag:
    'tags on creation of the copy and the replica (RDS authorises them separately)',
  ProtectAndDeleteOnlyThisDeploymentsReplicas:
    "turn deletion protection on or off and delete, only instances tagged as this deployment's",
  UseTheKeysThroughRds: "RDS decrypts with the source key and re-encrypts with this account's key",
  LetRdsHoldGrantsOnTheKeys: 'RDS holds grants on both keys while it copies and restores',
  DatabaseLockAndLiveReplicaHistory: 'per-database lock (`lock#<db>`) and live-replica history (`live#<db>`)',
  SeeWhetherTheLockHolderStillRuns: 'a lock whose holder no longer runs is taken over',
  InvokeItsLambdas: 'nameReplica, mergeSecret, selectRetention',
  NotifyOperators: 'failure and clean-up notices',
  SnapshotOnlyThisDeploymentsReplicas:
    'final snapshot of a managed replica, only with finalSnapshotOnDelete=true',
  CreateTheFinalSnapshot: 'the final snapshot itself, only with finalSnapshotOnDelete=true',
  // destination: rollback
  DescribeInstances: "check an instance's status and tags",
  StartOnlyThisDeploymentsReplicas: 'start a stopped rollback target',
  UseTheReplicaKeyThroughRds: 'RDS uses the replica key when it starts an encrypted replica',
  LetRdsHoldGrantsOnTheReplicaKey: 'RDS holds a grant on the replica key',
  InvokeTheSecretMerge: 'mergeSecret points the secret at the target',
  // destination: Lambdas
  WriteItsLogs: 'its own log group',
  StartReplications: 'start `replicate` with a deterministic execution name',
  SendFailedEventsToTheQueue: 'on-failure destination of the trigger',
  CheckTheDatabaseSecrets: 'check the secret and read which instance is live (never returned)',
  FindAFreeInstanceName: 'the new replica name must not exist',
  RewriteTheEndpointOfTheDatabaseSecrets:
    'rewrite host, port, engine, dbInstanceIdentifier; keep every other key',
  DescribeTheReplica: "check the replica's tags, status and endpoint",
  ListTheReplicas: 'list instances (all pages) and keep those tagged as replicas of this deployment',
  // Aurora DB clusters (issue 13): source ClusterStateMachineRole
  ReadClustersAndClusterSnapshots: 'read the engine of a source cluster, poll its snapshot and copy',
  SnapshotClusters: "take the run's snapshot of a source DB cluster, named after this deployment",
  CopyAndTagOwnClusterSnapshots:
    'copy it with the shared key and tag it on creation, only cluster snapshots named after this deployment',
  ShareAndDeleteOwnClusterSnapshots:
    'share the cluster copy; delete the intermediate cluster snapshot and copies beyond keepSharedSnapshots (only those tagged as this deployment)',
  RunOneExecutionPerCluster: '`replicate-clusters` starts one `snapshot-cluster` execution per cluster',
  FollowTheClusterExecutions: 'follow or stop those executions; a stale lock of one of them is taken over',
  StartTheScheduledClusterRun: 'the cluster schedule (EventBridge rule) starts `replicate-clusters`',
  // Aurora DB clusters: destination replicate-cluster, rollback-cluster and the Lambdas
  CopyTheSharedClusterSnapshotIntoACopyOfThisDeployment:
    'copy the shared cluster snapshot (source account ARN) into a copy named `<deployment>-...`',
  DescribeTheClusterCopiesAndTheSharedProvenance:
    "poll the cluster copy; read the shared cluster snapshot first: refuse it unless it is the message's cluster and engine",
  DeleteTheClusterCopies: 'delete the cluster copy after the restore or after a failure',
  RestoreClustersTaggedForThisDeployment:
    "restore a cluster only with this deployment's tag in the request, into the configured subnet and cluster parameter groups",
  CreateWritersTaggedForThisDeployment:
    "create the restored cluster's writer instance (same name), only with this deployment's tag",
  DescribeClustersAndInstances: 'poll the restored cluster and its writer; members of a cluster to delete',
  ProtectAndDeleteOnlyThisDeploymentsClusters:
    "turn deletion protection on or off and delete, only clusters tagged as this deployment's",
  FinalSnapshotsOfThisDeploymentsClusters:
    'final cluster snapshot of a managed replica cluster, only with finalSnapshotOnDelete=true',
  DeleteOnlyThisDeploymentsWriters:
    "delete the writer instances of a cluster to delete, only instances tagged as this deployment's",
  DescribeTheTargetCluster: "check a rollback target cluster's status and tags",
  DescribeClusters:
    'cluster mode: free names, the cluster to point at and its writer, the cluster replicas to keep',
  StartClusterReplications: 'start `replicate-cluster` for messages of kind cluster',
  // destination: key policy
  AdministerTheKeyFromThisAccount:
    "this account's IAM policies administer the key (only when kmsKeyArn is empty)",
  LetIamPoliciesOfThisAccountUseTheKey: "this account's IAM policies decide who uses the key",
};

/** Statements without a Sid (generated by the framework or synthesised from a permission). */
function whyWithoutSid(l: Located): string | undefined {
  const actions = asArray(l.statement.Action).map(lower);
  if (l.kind === 'trust') {
    const services = principalsOf(l.statement).map((p) => p.text);
    if (services.includes('states.amazonaws.com'))
      return 'Step Functions of this account runs the state machine';
    if (services.includes('lambda.amazonaws.com')) return 'the Lambda service runs the function';
    if (services.includes('events.amazonaws.com')) return 'EventBridge runs the schedule';
  }
  if (l.kind === 'bucket') return 'framework deployment bucket: refuse every request without TLS';
  if (l.kind === 'permission') return 'SNS may invoke the trigger, for the source topic only';
  if (actions.includes('states:startexecution'))
    return 'the schedule starts `replicate` (serverless-step-functions)';
  return undefined;
}

export function why(l: Located): string {
  const sid = l.statement.Sid;
  return (
    (sid && (WHY_BY_SID[`${l.resource}/${sid}`] ?? WHY_BY_SID[sid])) ||
    whyWithoutSid(l) ||
    '(no reason recorded: add one to WHY_BY_SID in scripts/iam-table.ts)'
  );
}

export function renderCondition(condition: Statement['Condition']): string {
  return Object.entries(condition ?? {})
    .flatMap(([op, block]) =>
      Object.entries(block ?? {}).map(
        ([key, v]) =>
          `${op} ${key} = ${asArray(v as unknown[])
            .map(render)
            .join(' or ')}`,
      ),
    )
    .join('; ');
}

export interface Row {
  side: Side;
  where: string;
  sid: string;
  principal: string;
  effect: string;
  actions: string[];
  resources: string[];
  condition: string;
  why: string;
}

export function rows(located: readonly Located[]): Row[] {
  return located.map((l) => ({
    side: l.side,
    where: l.where,
    sid: l.statement.Sid ?? '',
    principal:
      l.kind === 'identity'
        ? ''
        : principalsOf(l.statement)
            .map((p) => p.text)
            .join(', '),
    effect: l.statement.Effect,
    actions: asArray(l.statement.Action),
    resources: l.kind === 'trust' ? [] : asArray(l.statement.Resource).map(render),
    condition: renderCondition(l.statement.Condition),
    why: why(l),
  }));
}

/** The same statement in two variants (its principals and resources may differ with the parameters). */
const rowKey = (r: Row) => JSON.stringify([r.side, r.where, r.sid, r.effect, r.actions]);

export function markdown(table: readonly Row[]): string {
  const code = (s: string) => (s === '' ? '' : `\`${s.replace(/\|/g, '\\|')}\``);
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    '| side | policy | principal | action | resource | condition | why |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of table) {
    const actions = r.actions.map(code).join(' ');
    lines.push(
      `| ${r.side} | ${cell(r.where)} | ${r.principal.split(', ').filter(Boolean).map(code).join(' ')} | ` +
        `${r.effect === 'Deny' ? '**Deny** ' : ''}${actions} | ${r.resources.map(code).join('<br>')} | ` +
        `${r.condition ? code(r.condition) : ''} | ${cell(r.why)} |`,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// The packaged variants: the dev stage, and every optional feature on

export interface Variant {
  side: Side;
  label: string;
  params: Record<string, string>;
  /** Accounts other than the template's own that its key and topic policies may name. */
  accounts: string[];
}

export const VARIANTS: Variant[] = [
  { side: 'source', label: 'dev', params: {}, accounts: ['222222222222'] },
  {
    side: 'source',
    label: 'every option',
    params: {
      destinationAccountIds: '222222222222,333333333333',
      kmsKeyArn: 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      notificationEmail: 'dba-oncall@example.com',
      tracingEnabled: 'true',
      scheduleEnabled: 'true',
      destinationRegions: 'eu-west-1,eu-central-1',
      sourceInstanceKmsKeyArns: 'arn:aws:kms:eu-west-1:111111111111:key/0f1e2d3c-12ab-34cd-56ef-1234567890ab',
    },
    accounts: ['222222222222', '333333333333'],
  },
  { side: 'destination', label: 'dev', params: {}, accounts: ['111111111111'] },
  {
    side: 'destination',
    label: 'every option',
    // the same values as the template tests, so both share one cached package
    params: EVERYTHING,
    accounts: ['111111111111'],
  },
];

export interface Checked {
  variant: Variant;
  template: CfnTemplate;
  located: Located[];
  findings: Finding[];
}

/** Packages one variant (cached under dist/) and checks it. */
export async function checkVariant(variant: Variant): Promise<Checked> {
  const { template } = await packageService(variant.side, 'dev', variant.params);
  const { located, findings } = extract(template, variant.side);
  return { variant, template, located, findings: [...findings, ...check(located, variant, template)] };
}

/** The README table: the dev stage of both services, then what only the optional features add. */
export function readmeTable(checked: readonly Checked[]): Row[] {
  const dev = checked.filter((c) => c.variant.label === 'dev').flatMap((c) => rows(c.located));
  const seen = new Set(dev.map(rowKey));
  const extra = checked
    .filter((c) => c.variant.label !== 'dev')
    .flatMap((c) => rows(c.located))
    .filter((r) => !seen.has(rowKey(r)) && seen.add(rowKey(r)));
  const order = (side: Side) => (side === 'source' ? 0 : 1);
  return [...dev, ...extra].sort((a, b) => order(a.side) - order(b.side));
}

const BEGIN = '<!-- iam-table:begin (npx tsx scripts/iam-table.ts --write) -->';
const END = '<!-- iam-table:end -->';

async function main() {
  const checked: Checked[] = [];
  for (const variant of VARIANTS) checked.push(await checkVariant(variant)); // sls package one at a time
  const table = markdown(readmeTable(checked));
  console.log(table);
  if (process.argv.includes('--write')) {
    const path = join(ROOT, 'README.md');
    const readme = readFileSync(path, 'utf8');
    const start = readme.indexOf(BEGIN);
    const end = readme.indexOf(END);
    if (start < 0 || end < start) throw new Error(`README.md has no ${BEGIN} ... ${END} block`);
    writeFileSync(path, `${readme.slice(0, start + BEGIN.length)}\n${table}\n${readme.slice(end)}`);
    console.error('README.md: table replaced');
  }
  const findings = checked.flatMap((c) => c.findings.map((f) => `${c.variant.label}: ${formatFinding(f)}`));
  for (const f of [...new Set(findings)]) console.error(`FINDING ${f}`);
  if (findings.length > 0) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(2);
  });
}
