// Step Functions semantics for the twin: how a Task's Parameters and results are spelt, and how
// its errors are named (AWS-FACTS.md, "Step Functions AWS SDK integrations").
//
// Step Functions runs `aws-sdk:*` tasks through the AWS SDK for Java v2 and serialises its model
// objects, so field and error names are those of the Java v2 code generator
// (aws/aws-sdk-java-v2: codegen `Utils.unCapitalize`, `DefaultNamingStrategy`,
// utils `CodegenNamingUtils.splitOnWordBoundaries/pascalCase`), ported below rule for rule.
// The member lists and types come from the static schemas of the installed @aws-sdk/client-*
// packages (the same Smithy models), so the twin needs no copy of any API model.
//
// What is documented and what is inferred (keep every inferred rule in this file):
// - documented (Step Functions guide, "Learning to use AWS service SDK integrations in Step
//   Functions" / supported-services-awssdk): fields are PascalCase even for camelCase APIs;
//   enumerated parameters take their plural member name (`Filters`); a field `Equals` is spelt
//   `EqualsValue`; errors are `ServiceName.ErrorName`, both PascalCase (`AcmPca.ResourceNotFoundException`),
//   always ending in `Exception` (`S3.BucketAlreadyExistsException`).
// - documented ("Perform DynamoDB CRUD operations with Step Functions" / connect-ddb): the
//   aws-sdk integration's prefix is `DynamoDb`, the optimised integration's is `DynamoDB`.
// - seen in real definitions (AWS-FACTS.md): `DbInstanceIdentifier`, `DbSnapshots`,
//   `Rds.DbSnapshotNotFoundException`, `SecretsManager.ResourceNotFoundException`.
// - inferred from the Java v2 generator: the other Java keywords / reserved method names getting
//   `Value` like `Equals`; the `DefaultXxxException` collision rule; DynamoDB's `NULL` -> `Nul`
//   (Java v2 customization `emitPropertyName: NUL`); unmodelled errors -> `<Service>.<Service>Exception`
//   (Java v2 base exception class, e.g. `RdsException`); timestamp and blob rendering (see below).

// ---------------------------------------------------------------------------------------------
// Java SDK v2 naming rules
// ---------------------------------------------------------------------------------------------

const isUpper = (c: string | undefined): boolean => c !== undefined && c >= 'A' && c <= 'Z';
const isLower = (c: string | undefined): boolean => c !== undefined && c >= 'a' && c <= 'z';

/**
 * Java v2 `Utils.unCapitalize`: lower-case the first letter and the rest of a leading run of
 * capitals, except the last capital when a lower-case letter follows it (it starts the next word).
 * `DBInstanceIdentifier` -> `dbInstanceIdentifier`, `BOOL` -> `bool`, `MultiAZ` -> `multiAZ`.
 */
export function javaUnCapitalize(name: string): string {
  if (name.trim() === '') throw new Error('a member name cannot be empty');
  let out = '';
  let i = 0;
  do {
    out += name.charAt(i++).toLowerCase();
  } while (i < name.length && isUpper(name[i]) && !(i < name.length - 1 && isLower(name[i + 1])));
  return out + name.slice(i);
}

/** Java v2 `CodegenNamingUtils.splitOnWordBoundaries`. */
export function splitOnWordBoundaries(toSplit: string): string[] {
  let r = toSplit.replace(/[^A-Za-z0-9]+/g, ' ');
  r = r.replace(/([^a-z]{2,})v([0-9]+)/g, '$1 v$2 ').replace(/([^A-Z]{2,})V([0-9]+)/g, '$1 V$2 ');
  r = r.split(/(?<=[a-z])(?=[A-Z][a-zA-Z0-9])/).join(' ');
  r = r.replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2');
  r = r.replace(/([0-9])([a-zA-Z])/g, '$1 $2');
  return r.replace(/ +/g, ' ').trim().split(' ');
}

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** Java v2 `CodegenNamingUtils.pascalCase`: every word (acronyms too) capitalised once. */
export function javaPascalCase(word: string): string {
  return splitOnWordBoundaries(word)
    .map((w) => capitalize(w.toLowerCase()))
    .join('');
}

const JAVA_KEYWORDS = new Set(
  (
    'abstract assert boolean break byte case catch char class const continue default do double else enum ' +
    'extends false final finally float for goto if implements import instanceof int interface long native ' +
    'new null package private protected public return short static strictfp super switch synchronized this ' +
    'throw throws transient true try void volatile while'
  ).split(' '),
);
// Java v2 DefaultNamingStrategy.RESERVED_STRUCTURE_METHOD_NAMES (Object methods + SdkPojo methods).
const RESERVED_STRUCTURE_METHOD_NAMES = new Set([
  'equals',
  'finalize',
  'getClass',
  'hashCode',
  'notify',
  'notifyAll',
  'toString',
  'wait',
  'builder',
  'sdkFields',
  'toBuilder',
  'overrideConfiguration',
  'sdkHttpResponse',
]);

/**
 * Members the Java v2 SDK renames by service customization, keyed `namespace#Shape$Member`.
 * Inferred: Step Functions is assumed to follow these like every other Java v2 name.
 */
const FIELD_NAME_OVERRIDES: Record<string, string> = {
  'com.amazonaws.dynamodb#AttributeValue$NULL': 'Nul',
};

/**
 * The Step Functions spelling of an SDK member name: the Java v2 property name, capitalised.
 * `DBInstanceIdentifier` -> `DbInstanceIdentifier`, `CACertificateIdentifier` -> `CaCertificateIdentifier`,
 * `SourceDBSnapshotIdentifier` (kept), `BOOL` -> `Bool`, `Equals` -> `EqualsValue`,
 * `executionArn` -> `ExecutionArn`. `shapeId` (`ns#Shape`) enables per-service customizations.
 */
export function sfnFieldName(sdkMemberName: string, shapeId?: string): string {
  const override = shapeId ? FIELD_NAME_OVERRIDES[`${shapeId}$${sdkMemberName}`] : undefined;
  if (override) return override;
  let name = javaUnCapitalize(sdkMemberName);
  if (
    JAVA_KEYWORDS.has(name) ||
    JAVA_KEYWORDS.has(name.toLowerCase()) ||
    RESERVED_STRUCTURE_METHOD_NAMES.has(name)
  ) {
    name = javaUnCapitalize(`${name}Value`);
  }
  return capitalize(name);
}

// ---------------------------------------------------------------------------------------------
// Services and error names
// ---------------------------------------------------------------------------------------------

interface ServiceInfo {
  /** npm package of the SDK v3 client. */
  pkg: string;
  /** The service's `serviceId` (Smithy sdkId), from which Java v2 derives its client name. */
  serviceId: string;
}

/** The services the twin can call (`aws-sdk:<key>:action`). Others resolve to `@aws-sdk/client-<key>`. */
export const SERVICES: Record<string, ServiceInfo> = {
  rds: { pkg: '@aws-sdk/client-rds', serviceId: 'RDS' },
  secretsmanager: { pkg: '@aws-sdk/client-secrets-manager', serviceId: 'Secrets Manager' },
  kms: { pkg: '@aws-sdk/client-kms', serviceId: 'KMS' },
  sns: { pkg: '@aws-sdk/client-sns', serviceId: 'SNS' },
  sqs: { pkg: '@aws-sdk/client-sqs', serviceId: 'SQS' },
  sfn: { pkg: '@aws-sdk/client-sfn', serviceId: 'SFN' },
  sts: { pkg: '@aws-sdk/client-sts', serviceId: 'STS' },
  ec2: { pkg: '@aws-sdk/client-ec2', serviceId: 'EC2' },
  lambda: { pkg: '@aws-sdk/client-lambda', serviceId: 'Lambda' },
  dynamodb: { pkg: '@aws-sdk/client-dynamodb', serviceId: 'DynamoDB' },
  s3: { pkg: '@aws-sdk/client-s3', serviceId: 'S3' },
};

/**
 * The Step Functions spelling of a service in error names: Java v2 `getServiceName()`, i.e.
 * `pascalCase(serviceId)` without a leading `Amazon`/`Aws` or trailing `Service`.
 * Accepts a serviceId (`Secrets Manager`, `RDS`, `DynamoDB`) or an integration key (`secretsmanager`).
 */
export function sfnServiceName(serviceIdOrKey: string): string {
  const serviceId = SERVICES[serviceIdOrKey]?.serviceId ?? serviceIdOrKey;
  let base = javaPascalCase(serviceId);
  if (base.startsWith('Amazon')) base = base.slice('Amazon'.length);
  if (base.startsWith('Aws')) base = base.slice('Aws'.length);
  if (base.endsWith('Service')) base = base.slice(0, -'Service'.length);
  return base;
}

/** Java v2 `DefaultNamingStrategy.getExceptionName` for one error shape of `serviceName`. */
export function javaExceptionName(serviceName: string, errorShapeName: string): string {
  let base: string;
  if (errorShapeName.endsWith('Fault'))
    base = `${javaPascalCase(errorShapeName.slice(0, -'Fault'.length))}Exception`;
  else if (errorShapeName.endsWith('Exception')) base = javaPascalCase(errorShapeName);
  else base = `${javaPascalCase(errorShapeName)}Exception`;
  return base === `${serviceName}Exception` ? `Default${base}` : base;
}

/**
 * The Error of a failed `aws-sdk:*` task: `<Service>.<Java v2 exception class>`
 * (`Rds.DbSnapshotNotFoundException`, `SecretsManager.ResourceNotFoundException`).
 * An error the service model does not define (`modeled: false`, e.g. RDS `InvalidParameterValue`,
 * `Throttling`) surfaces as the service's base exception: `Rds.RdsException`.
 */
export function sfnErrorName(serviceId: string, sdkErrorName: string, modeled: boolean): string {
  const service = sfnServiceName(serviceId);
  return modeled
    ? `${service}.${javaExceptionName(service, sdkErrorName)}`
    : `${service}.${service}Exception`;
}

// ---------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------

export type ParsedResource =
  | { kind: 'aws-sdk'; service: string; action: string; pattern?: string }
  | { kind: 'optimised'; service: string; action: string; pattern?: string }
  | { kind: 'other' };

/** `arn:aws:states:::aws-sdk:rds:createDBSnapshot`, `arn:aws:states:::sns:publish`, ... */
export function parseResource(resource: string): ParsedResource {
  const m = /^arn:aws[a-z-]*:states:::(.+)$/.exec(resource);
  if (!m?.[1]) return { kind: 'other' };
  const [target, ...rest] = m[1].split('.');
  const pattern = rest.length ? rest.join('.') : undefined;
  const parts = (target ?? '').split(':');
  if (parts[0] === 'aws-sdk' && parts.length === 3 && parts[1] && parts[2]) {
    return { kind: 'aws-sdk', service: parts[1], action: parts[2], pattern };
  }
  if (parts.length === 2 && parts[0] && parts[1]) {
    return { kind: 'optimised', service: parts[0], action: parts[1], pattern };
  }
  return { kind: 'other' };
}

// ---------------------------------------------------------------------------------------------
// SDK v3 static schemas (@smithy/core/schema encoding, clients 3.11xx)
// ---------------------------------------------------------------------------------------------
// A schema reference is a number (0 string, 1 number, 2 boolean, 4-7 timestamp, 15 document,
// 17 big integer, 19 big decimal, 21 blob, 42 streaming blob; `64|x` list of x, `128|x` map of x),
// the string 'unit', a function returning a schema (lazy), a member `[schema, traits]`, or an
// array `[kind, namespace, name, traits, ...]`: kind 0 simple (`[0, ns, name, traits, ref]`),
// 1 list (`..., valueRef`), 2 map (`..., keyRef, valueRef`), 3 structure / -3 error
// (`..., memberNames[], memberRefs[]`), 4 union (as structure), 9 operation (`..., input, output`).

type Kind =
  | 'struct'
  | 'list'
  | 'map'
  | 'string'
  | 'number'
  | 'boolean'
  | 'timestamp'
  | 'blob'
  | 'document'
  | 'unit';

export interface SchemaNode {
  kind: Kind;
  /** `namespace#Name` for named shapes. */
  id?: string;
  members?: Array<[string, unknown]>;
  value?: unknown;
}

function deref(ref: unknown): unknown {
  let r = ref;
  while (typeof r === 'function') r = (r as () => unknown)();
  return r;
}

const SIMPLE: Record<number, Kind> = {
  0: 'string',
  1: 'number',
  2: 'boolean',
  4: 'timestamp',
  5: 'timestamp',
  6: 'timestamp',
  7: 'timestamp',
  15: 'document',
  17: 'number',
  19: 'number',
  21: 'blob',
  42: 'blob',
};

export function schemaNode(ref: unknown): SchemaNode {
  let s = deref(ref);
  while (Array.isArray(s) && s.length === 2) s = deref(s[0]);
  if (typeof s === 'number') {
    if (s >= 64 && s < 128) return { kind: 'list', value: s & 63 };
    if (s >= 128 && s <= 255) return { kind: 'map', value: s & 63 };
    return { kind: SIMPLE[s] ?? 'document' };
  }
  if (s === 'unit' || s === undefined || s === null) return { kind: 'unit' };
  if (!Array.isArray(s)) return { kind: 'document' };
  const id = `${s[1]}#${s[2]}`;
  switch (s[0]) {
    case 0:
      return { ...schemaNode(s[4]), id };
    case 1:
      return { kind: 'list', id, value: s[4] };
    case 2:
      return { kind: 'map', id, value: s[5] };
    case 3:
    case -3:
    case 4: {
      const names = (s[4] ?? []) as string[];
      const refs = (s[5] ?? []) as unknown[];
      return { kind: 'struct', id, members: names.map((n, i) => [n, refs[i]]) };
    }
    default:
      return { kind: 'document', id };
  }
}

export interface SdkOperation {
  service: string;
  pkg: string;
  serviceId: string;
  /** The API name, e.g. `CreateDBSnapshot`. */
  name: string;
  module: Record<string, unknown>;
  input: unknown;
  output: unknown;
}

const moduleCache = new Map<string, Record<string, unknown> | null>();

/** The installed SDK v3 client package for a service key, or undefined when it is not installed. */
export function loadServiceModule(service: string): Record<string, unknown> | undefined {
  const pkg = SERVICES[service]?.pkg ?? `@aws-sdk/client-${service}`;
  if (!moduleCache.has(pkg)) {
    try {
      moduleCache.set(pkg, require(pkg) as Record<string, unknown>);
    } catch {
      moduleCache.set(pkg, null);
    }
  }
  return moduleCache.get(pkg) ?? undefined;
}

/** Resolves `service:action` (camelCase action) to the SDK v3 operation schema. */
export function sdkOperation(service: string, action: string): SdkOperation {
  const info = SERVICES[service] ?? { pkg: `@aws-sdk/client-${service}`, serviceId: service };
  const mod = loadServiceModule(service);
  if (!mod) {
    throw new UnsupportedIntegrationError(
      `aws-sdk:${service}:${action}: the twin has no SDK client for '${service}' (npm package ${info.pkg} is not installed)`,
    );
  }
  const isOp = (v: unknown): v is unknown[] => Array.isArray(v) && v[0] === 9;
  let op = mod[`${capitalize(action)}$`];
  if (!isOp(op)) {
    const wanted = `${action.toLowerCase()}$`;
    const key = Object.keys(mod).find((k) => k.toLowerCase() === wanted && isOp(mod[k]));
    op = key ? mod[key] : undefined;
  }
  if (!isOp(op))
    throw new UnsupportedIntegrationError(
      `aws-sdk:${service}:${action}: ${info.pkg} has no API named '${action}'`,
    );
  return {
    service,
    pkg: info.pkg,
    serviceId: info.serviceId,
    name: String(op[2]),
    module: mod,
    input: op[4],
    output: op[5],
  };
}

/** True when the client package models an error of that name (an exported error schema). */
export function isModeledError(mod: Record<string, unknown>, errorName: string): boolean {
  const schema = mod[`${errorName}$`];
  return Array.isArray(schema) && schema[0] === -3;
}

// ---------------------------------------------------------------------------------------------
// Strict conversion
// ---------------------------------------------------------------------------------------------

/**
 * A Parameters field Step Functions would not accept (AWS rejects the definition when it is created).
 * Named `States.Runtime` and neither retriable nor catchable so that, should it surface while an
 * execution runs, it fails the execution loudly instead of being swallowed by a `States.ALL` Catch.
 */
export class FieldNameError extends Error {
  override readonly name = 'States.Runtime';
  readonly isRetryable = false;
  readonly isCatchable = false;
  constructor(
    message: string,
    readonly path: string,
    readonly field: string,
    readonly expected?: string,
  ) {
    super(message);
  }
}

/** A Parameters value of the wrong type for the API (an object where a string belongs, ...). */
export class ParameterValueError extends Error {
  override readonly name = 'States.Runtime';
  readonly isRetryable = false;
  readonly isCatchable = false;
}

/**
 * A Task resource the twin cannot run (unknown service, API, integration or pattern). Like
 * FieldNameError it is a definition problem, so it fails the execution instead of being caught.
 */
export class UnsupportedIntegrationError extends Error {
  override readonly name = 'States.Runtime';
  readonly isRetryable = false;
  readonly isCatchable = false;
}

interface StructNames {
  /** SFN name -> SDK member name and schema ref. */
  bySfn: Map<string, [string, unknown]>;
  /** SDK member name -> SFN name. */
  bySdk: Map<string, string>;
}
const structNamesCache = new Map<string, StructNames>();

function structNames(node: SchemaNode): StructNames {
  const key = node.id ?? '';
  const cached = key ? structNamesCache.get(key) : undefined;
  if (cached) return cached;
  const bySfn = new Map<string, [string, unknown]>();
  const bySdk = new Map<string, string>();
  for (const [member, ref] of node.members ?? []) {
    const sfn = sfnFieldName(member, node.id);
    bySfn.set(sfn, [member, ref]);
    bySdk.set(member, sfn);
  }
  const names = { bySfn, bySdk };
  if (key) structNamesCache.set(key, names);
  return names;
}

/** The SDK member for a Step Functions field name of a structure, or undefined. */
export function sdkMemberFor(sfnName: string, structSchema: unknown): string | undefined {
  return structNames(schemaNode(structSchema)).bySfn.get(sfnName)?.[0];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    !(v instanceof Date) &&
    !(v instanceof Uint8Array)
  );
}

const shortName = (node: SchemaNode): string => node.id?.split('#')[1] ?? 'structure';

function unknownField(where: string, path: string, key: string, node: SchemaNode): FieldNameError {
  const names = structNames(node);
  const suffix = key.endsWith('.$') ? '.$' : '';
  const lower = key.slice(0, key.length - suffix.length).toLowerCase();
  let expected: string | undefined;
  for (const [sdk, sfn] of names.bySdk) {
    if (sfn.toLowerCase() === lower || sdk.toLowerCase() === lower) expected = sfn + suffix;
  }
  const fieldPath = `${path}.${key}`;
  const valid = [...names.bySfn.keys()].join(', ');
  const hint = expected
    ? `Step Functions spells it '${expected}'`
    : `valid fields of ${shortName(node)}: ${valid || '(none)'}`;
  return new FieldNameError(
    `${fieldPath}: field '${key}' is not valid for ${where}; ${hint}`,
    fieldPath,
    key,
    expected,
  );
}

interface WalkOptions {
  where: string;
  /** Static definition check: `.$` keys allowed (name checked without the suffix), values not typed. */
  staticCheck: boolean;
}

function toSdkValue(value: unknown, ref: unknown, path: string, opt: WalkOptions): unknown {
  if (value === null || value === undefined) return undefined;
  const node = schemaNode(ref);
  const typeError = (expected: string) =>
    new ParameterValueError(
      `${path}: expected ${expected} for ${opt.where}, got ${Array.isArray(value) ? 'an array' : typeof value}`,
    );
  switch (node.kind) {
    case 'struct': {
      if (!isPlainObject(value)) {
        if (opt.staticCheck) return value;
        throw typeError(`an object (${shortName(node)})`);
      }
      const names = structNames(node);
      const out: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(value)) {
        const dynamic = opt.staticCheck && key.endsWith('.$');
        const field = dynamic ? key.slice(0, -2) : key;
        const member = names.bySfn.get(field);
        if (!member) throw unknownField(opt.where, path, key, node);
        if (dynamic) continue;
        const converted = toSdkValue(v, member[1], `${path}.${field}`, opt);
        if (converted !== undefined) out[member[0]] = converted;
      }
      return out;
    }
    case 'list': {
      if (!Array.isArray(value)) {
        if (opt.staticCheck) return value;
        throw typeError('an array');
      }
      return value.map((v, i) => toSdkValue(v, node.value, `${path}[${i}]`, opt));
    }
    case 'map': {
      if (!isPlainObject(value)) {
        if (opt.staticCheck) return value;
        throw typeError('an object (map)');
      }
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        if (opt.staticCheck && k.endsWith('.$')) continue;
        out[k] = toSdkValue(v, node.value, `${path}.${k}`, opt);
      }
      return out;
    }
    case 'document':
    case 'unit':
      return value;
  }
  if (opt.staticCheck) return value;
  // Scalars: lenient coercion between JSON scalars, as a Jackson-based deserializer does.
  switch (node.kind) {
    case 'string':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      throw typeError('a string');
    case 'number': {
      if (typeof value === 'number') return value;
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
        return Number(value);
      throw typeError('a number');
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === 'false') return value === 'true';
      throw typeError('a boolean');
    case 'timestamp': {
      if (value instanceof Date) return value;
      const d =
        typeof value === 'number'
          ? new Date(value * 1000)
          : typeof value === 'string'
            ? new Date(value)
            : undefined;
      if (!d || Number.isNaN(d.getTime())) throw typeError('an ISO-8601 timestamp');
      return d;
    }
    case 'blob':
      // Inferred: a blob given as a string is its UTF-8 text (e.g. a Lambda Payload); an object its JSON.
      if (value instanceof Uint8Array) return value;
      if (typeof value === 'string') return new TextEncoder().encode(value);
      return new TextEncoder().encode(JSON.stringify(value));
  }
  return value;
}

function fromSdkValue(value: unknown, ref: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  const node = schemaNode(ref);
  if (node.kind === 'struct' && isPlainObject(value)) {
    const names = structNames(node);
    const members = new Map(node.members);
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (key === '$metadata' || v === undefined) continue;
      out[names.bySdk.get(key) ?? sfnFieldName(key, node.id)] = fromSdkValue(v, members.get(key));
    }
    return out;
  }
  if (node.kind === 'list' && Array.isArray(value)) return value.map((v) => fromSdkValue(v, node.value));
  if (node.kind === 'map' && isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromSdkValue(v, node.value)]));
  }
  return plainJson(value);
}

/**
 * Inferred rendering of values Java v2 holds as objects: an `Instant` as ISO-8601 with
 * milliseconds (`2024-05-01T10:00:00.000Z`); exactly which format Step Functions prints (e.g.
 * whether zero milliseconds are omitted) was not verified. `SdkBytes` as UTF-8 text.
 */
function plainJson(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  if (Array.isArray(value)) return value.map(plainJson);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      if (k !== '$metadata' && v !== undefined) out[k] = plainJson(v);
    return out;
  }
  return value;
}

/**
 * Step Functions Parameters (effective, JSONPath already applied) -> SDK v3 command input.
 * Throws FieldNameError for any key Step Functions would not know.
 */
export function toSdkInput(
  service: string,
  action: string,
  sfnParams: unknown,
  opts: { path?: string } = {},
): Record<string, unknown> {
  const op = sdkOperation(service, action);
  const where = `${service}:${action}`;
  const params = sfnParams ?? {};
  const out = toSdkValue(params, op.input, opts.path ?? 'Parameters', { where, staticCheck: false });
  return (out ?? {}) as Record<string, unknown>;
}

/** SDK v3 command output -> the task result Step Functions produces (SFN field names, JSON values). */
export function fromSdkOutput(service: string, action: string, sdkOutput: unknown): Record<string, unknown> {
  const op = sdkOperation(service, action);
  const out = fromSdkValue(sdkOutput ?? {}, op.output);
  return (isPlainObject(out) ? out : {}) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Static (load-time) check of a definition's Parameters
// ---------------------------------------------------------------------------------------------

/** Documented Parameters of the optimised integrations the project uses (native API names). */
export const OPTIMISED_PARAMETERS: Record<string, readonly string[]> = {
  // "Invoke Lambda with Step Functions" (connect-lambda), supported parameters.
  'lambda:invoke': ['ClientContext', 'FunctionName', 'InvocationType', 'Qualifier', 'Payload'],
  // "Publish messages to an Amazon SNS topic with Step Functions" (connect-sns): the Publish API.
  'sns:publish': [
    'Message',
    'MessageAttributes',
    'MessageStructure',
    'MessageDeduplicationId',
    'MessageGroupId',
    'PhoneNumber',
    'Subject',
    'TargetArn',
    'TopicArn',
  ],
  // "Perform DynamoDB CRUD operations with Step Functions" (connect-ddb): the native APIs.
  'dynamodb:getItem': [
    'TableName',
    'Key',
    'AttributesToGet',
    'ConsistentRead',
    'ExpressionAttributeNames',
    'ProjectionExpression',
    'ReturnConsumedCapacity',
  ],
  'dynamodb:putItem': [
    'TableName',
    'Item',
    'ConditionExpression',
    'ConditionalOperator',
    'Expected',
    'ExpressionAttributeNames',
    'ExpressionAttributeValues',
    'ReturnConsumedCapacity',
    'ReturnItemCollectionMetrics',
    'ReturnValues',
    'ReturnValuesOnConditionCheckFailure',
  ],
  'dynamodb:deleteItem': [
    'TableName',
    'Key',
    'ConditionExpression',
    'ConditionalOperator',
    'Expected',
    'ExpressionAttributeNames',
    'ExpressionAttributeValues',
    'ReturnConsumedCapacity',
    'ReturnItemCollectionMetrics',
    'ReturnValues',
    'ReturnValuesOnConditionCheckFailure',
  ],
  'dynamodb:updateItem': [
    'TableName',
    'Key',
    'AttributeUpdates',
    'ConditionExpression',
    'ConditionalOperator',
    'Expected',
    'ExpressionAttributeNames',
    'ExpressionAttributeValues',
    'ReturnConsumedCapacity',
    'ReturnItemCollectionMetrics',
    'ReturnValues',
    'ReturnValuesOnConditionCheckFailure',
    'UpdateExpression',
  ],
  // "Start a new AWS Step Functions state machine from a running execution" (connect-stepfunctions).
  'states:startExecution': ['Input', 'Name', 'StateMachineArn'],
};

const DYNAMODB_ATTRIBUTE_TYPES = new Set(['S', 'N', 'B', 'SS', 'NS', 'BS', 'M', 'L', 'NULL', 'BOOL']);
const DYNAMODB_ATTRIBUTE_MAPS = new Set(['Item', 'Key', 'ExpressionAttributeValues']);

function checkAttributeValue(where: string, path: string, value: unknown): void {
  if (!isPlainObject(value)) return;
  for (const key of Object.keys(value)) {
    const type = key.endsWith('.$') ? key.slice(0, -2) : key;
    if (!DYNAMODB_ATTRIBUTE_TYPES.has(type)) {
      const expected = [...DYNAMODB_ATTRIBUTE_TYPES].find((t) => t.toLowerCase() === type.toLowerCase());
      throw new FieldNameError(
        `${path}.${key}: '${key}' is not a DynamoDB attribute type for ${where}` +
          (expected
            ? `; the native API spells it '${expected}'`
            : `; use one of ${[...DYNAMODB_ATTRIBUTE_TYPES].join(', ')}`),
        `${path}.${key}`,
        key,
        expected,
      );
    }
    const inner = value[key];
    if (type === 'M' && isPlainObject(inner)) {
      for (const [k, v] of Object.entries(inner)) checkAttributeValue(where, `${path}.${key}.${k}`, v);
    }
    if (type === 'L' && Array.isArray(inner)) {
      for (const [i, v] of inner.entries()) checkAttributeValue(where, `${path}.${key}[${i}]`, v);
    }
  }
}

/**
 * Checks a Task state's static `Parameters` as Step Functions does when the definition is created:
 * every field name of an `aws-sdk:*` task must be a Step Functions spelling of the API's members
 * (nested objects against nested shapes); optimised integrations take their documented fields.
 * `Key.$` fields are checked as `Key`; their (JSONPath / intrinsic) values are not checked.
 * Resources that are not service integrations (e.g. a Lambda ARN) are not checked.
 */
export function validateStaticParameters(
  resource: string,
  parameters: unknown,
  opts: { path?: string } = {},
): void {
  const parsed = parseResource(resource);
  const path = opts.path ?? 'Parameters';
  if (parsed.kind === 'other' || parameters === undefined || parameters === null) return;
  const where = `${parsed.kind === 'aws-sdk' ? 'aws-sdk:' : ''}${parsed.service}:${parsed.action}`;
  if (parsed.kind === 'aws-sdk') {
    const op = sdkOperation(parsed.service, parsed.action);
    toSdkValue(parameters, op.input, path, {
      where: `${parsed.service}:${parsed.action}`,
      staticCheck: true,
    });
    return;
  }
  const allowed = OPTIMISED_PARAMETERS[`${parsed.service}:${parsed.action}`];
  if (!allowed)
    throw new UnsupportedIntegrationError(`${resource}: the twin does not know this optimised integration`);
  if (!isPlainObject(parameters)) return;
  for (const [key, value] of Object.entries(parameters)) {
    const field = key.endsWith('.$') ? key.slice(0, -2) : key;
    if (!allowed.includes(field)) {
      const expected = allowed.find((a) => a.toLowerCase() === field.toLowerCase());
      throw new FieldNameError(
        `${path}.${key}: field '${key}' is not valid for ${where}; ` +
          (expected ? `Step Functions spells it '${expected}'` : `valid fields: ${allowed.join(', ')}`),
        `${path}.${key}`,
        key,
        expected,
      );
    }
    if (
      parsed.service === 'dynamodb' &&
      !key.endsWith('.$') &&
      DYNAMODB_ATTRIBUTE_MAPS.has(field) &&
      isPlainObject(value)
    ) {
      for (const [name, av] of Object.entries(value)) {
        if (!name.endsWith('.$')) checkAttributeValue(where, `${path}.${field}.${name}`, av);
      }
    }
  }
}
