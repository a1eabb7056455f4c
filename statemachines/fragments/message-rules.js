// The checks of the replication message at the top of the destination's `replicate`, generated at
// package time from src/contracts/replication-message.schema.json, the same definition the trigger
// Lambda validates against (src/contracts/message.ts). One table of good and bad messages runs
// through both in test/twin/message-contract.test.ts.
//
//   validationBranch   the one branch of the Parallel state "Check The Message": its input is the
//                      message (already known to be a JSON object), its output the same message;
//                      a refused message ends in a Fail with Error InvalidInput and a Cause naming
//                      the field (never quoting the value: it may be 200 KB).
//
// JSONPath Choice rules have no regular expressions and no length operator, so the schema only uses
// constraints that translate exactly, and this file refuses to package a schema that uses anything
// else:
//   const (a number)         IsNumeric + NumericEquals
//   enum (strings)           StringEquals, one per value
//   pattern ^[SET]+$         a Pass state computes States.ArrayLength(States.StringSplit(v, 'SET')):
//                            Step Functions splits on every character of its second argument and
//                            drops empty strings, so the count is 0 exactly when every character of
//                            v is in SET, whatever else v holds (non-ASCII, control characters);
//                            the empty string is refused separately
//   pattern ^[SET]           StringMatches 'c*' for each c of SET
//   pattern [SET]$           StringMatches '*c' for each c of SET
//   pattern LITERAL$         StringMatches '*LITERAL'
//   not: pattern LITERAL     StringMatches '*LITERAL*'
//   pattern ^[^:]*(:[^:]*){N}$   States.ArrayLength(States.StringSplit(v, ':')) = N + 1 (exact here:
//                            the ARN's fixed prefix and last character rule out empty parts)
//   format date-time         IsTimestamp, plus the calendar (no 30 February, no 31 April, 29 February
//                            only in leap years) which IsTimestamp does not check offline
// An optional field (in `properties`, not in `required`) is checked after the required ones, only
// when present, by a Choice, a Pass that measures it and a Choice of its rules of its own (a rule or
// an intrinsic function must never read a missing field). Unknown fields are found by counting: a
// message has no more values than required fields plus the optional fields it has.
// `?` never appears in a StringMatches pattern: Step Functions treats it as a literal, the offline
// executor as a wildcard. The fields the configuration pins (account, Region, database, the snapshot
// ARN's partition, Region and account) are compared with the configured values, as the trigger does.

const { settings } = require('../../config/destination-params.js');
const schema = require('../../src/contracts/replication-message.schema.json');
const contract = require('../../src/contracts/contract.json');

// Patterns whose meaning depends on the deployment: translated with the configured values.
const SNAPSHOT_ARN_PREFIXES = [
  '^arn:(aws|aws-cn|aws-us-gov):rds:[a-z0-9-]+:[0-9]{12}:snapshot:[a-z]',
  // version 2: the resource type follows the kind; each state machine pins its own (see VARIANTS)
  '^arn:(aws|aws-cn|aws-us-gov):rds:[a-z0-9-]+:[0-9]{12}:(snapshot|cluster-snapshot):[a-z]',
];
// The deployment's own partition, resolved by CloudFormation (the definition is an Fn::Sub): a
// snapshot is only ever shared within one partition. The trigger checks the same (its topic ARN's
// partition, src/contracts/message.ts).
const PARTITIONS = ['#{AWS::Partition}'];
const CONFIGURED = new Set([
  'sourceAccountId',
  'sourceRegion',
  'sourceDbInstanceIdentifier',
  'sourceDbIdentifier',
  'kind',
]);

// Unknown fields are counted per combination of optional fields present (2^n rules): keep n small.
const MAX_OPTIONAL_FIELDS = 3;

// Which version each destination state machine reads ($defs of the schema), the kind it pins and
// the ARN resource type of its snapshots. `replicate` reads version 1 (DB instances);
// `replicate-cluster` reads version 2 with kind cluster.
const VARIANTS = {
  instance: { def: 'version1', database: 'sourceDbInstanceIdentifier', arnType: 'snapshot' },
  cluster: { def: 'version2', database: 'sourceDbIdentifier', arnType: 'cluster-snapshot', kind: 'cluster' },
};

/** `a-z0-9._-` -> ['a', ..., 'z', '0', ..., '9', '.', '_', '-']. */
function expand(set) {
  const out = [];
  for (let i = 0; i < set.length; i++) {
    if (set[i + 1] === '-' && i + 2 < set.length) {
      for (let c = set.charCodeAt(i); c <= set.charCodeAt(i + 2); c++) out.push(String.fromCharCode(c));
      i += 2;
    } else out.push(set[i]);
  }
  return out;
}

// The pattern shapes translated exactly (a SET or LITERAL of letters, digits and `:._-` only).
const FORMS = [
  [/^\^\[([A-Za-z0-9:._-]+)\]\+\$$/, (m) => ({ kind: 'charset', set: expand(m[1]) })],
  [/^\^\[([A-Za-z0-9:._-]+)\]$/, (m) => ({ kind: 'first', set: expand(m[1]) })],
  [/^\[([A-Za-z0-9:._-]+)\]\$$/, (m) => ({ kind: 'last', set: expand(m[1]) })],
  [/^([A-Za-z0-9:._-]+)\$$/, (m) => ({ kind: 'suffix', text: m[1] })],
  [
    /^\^\[\^:\]\*\(:\[\^:\]\*\)\{([0-9]+)\}\$$/,
    (m) => ({ kind: 'parts', separator: ':', count: Number(m[1]) + 1 }),
  ],
];

/** One schema pattern as a check: {kind, ...}. Throws on a pattern it cannot translate exactly. */
function translate(field, pattern, negated) {
  if (negated) {
    if (/^[A-Za-z0-9:._-]+$/.test(pattern)) return { kind: 'forbidden', text: pattern };
  } else if (SNAPSHOT_ARN_PREFIXES.includes(pattern)) {
    return { kind: 'snapshotArnPrefix' };
  } else {
    for (const [form, check] of FORMS) {
      const m = form.exec(pattern);
      if (m) return check(m);
    }
  }
  throw new Error(
    `message-rules.js: pattern '${pattern}' of '${field}' has no exact Choice-rule translation`,
  );
}

/** Everything the generator needs per field, read from the schema. */
function fieldsOf(def = 'version1') {
  const version = schema.$defs[def];
  if (version?.type !== 'object' || version.additionalProperties !== false) {
    throw new Error('message-rules.js expects a closed object schema');
  }
  const names = Object.keys(version.properties);
  if (version.required.some((n) => !names.includes(n))) {
    throw new Error('message-rules.js: a required field of the message has no property');
  }
  const optional = names.filter((n) => !version.required.includes(n));
  if (optional.length > MAX_OPTIONAL_FIELDS) {
    throw new Error(
      `message-rules.js counts unknown fields for at most ${MAX_OPTIONAL_FIELDS} optional fields`,
    );
  }
  return names.map((name) => {
    const p = version.properties[name];
    // the keywords the trigger's parser reads too (src/contracts/message.ts)
    const known = new Set(contract.messageSchemaKeywords);
    for (const k of Object.keys(p)) {
      if (!known.has(k)) throw new Error(`message-rules.js: keyword '${k}' of '${name}' is not translated`);
    }
    if (p.maxLength !== undefined && !CONFIGURED.has(name)) {
      throw new Error(`message-rules.js: '${name}' has maxLength, which Choice rules cannot check`);
    }
    const checks = [];
    if (!CONFIGURED.has(name)) {
      if (p.pattern !== undefined) checks.push(translate(name, p.pattern, false));
      for (const part of p.allOf ?? []) {
        checks.push(
          part.not ? translate(name, part.not.pattern, true) : translate(name, part.pattern, false),
        );
      }
    }
    const accepts = (value) =>
      [p.pattern, ...(p.allOf ?? []).map((a) => a.pattern)]
        .filter((x) => x !== undefined)
        .every((x) => new RegExp(x, 'u').test(value)) &&
      (p.enum === undefined || p.enum.includes(value));
    if (optional.includes(name) && (p.const !== undefined || CONFIGURED.has(name) || p.type !== 'string')) {
      throw new Error(`message-rules.js: optional field '${name}' must be a string without const`);
    }
    return {
      name,
      optional: optional.includes(name),
      description: p.description,
      const: p.const,
      string: p.type === 'string',
      enum: p.enum,
      format: p.format,
      acceptsEmpty: p.type === 'string' && accepts(''),
      accepts,
      checks,
    };
  });
}

const reject = (name) => `Reject The Field ${name}`;
const anyOf = (rules) => (rules.length === 1 ? rules[0] : { Or: rules });

// Calendar rules for an RFC 3339 date at the start of the string (IsTimestamp has checked the shape).
const SHORT_MONTH_DAYS = ['02-30', '02-31', '04-31', '06-31', '09-31', '11-31'];
function leapYearPatterns() {
  const patterns = [];
  for (let yy = 4; yy <= 96; yy += 4) patterns.push(`*${String(yy).padStart(2, '0')}-02-29T*`);
  for (let cc = 0; cc <= 96; cc += 4) patterns.push(`${String(cc).padStart(2, '0')}00-02-29T*`);
  return patterns;
}

async function branchFor(ctx, variant) {
  const s = await settings(ctx);
  const { def, database, arnType } = VARIANTS[variant];
  const fields = fieldsOf(def);
  const versionNumber = schema.$defs[def].properties.version.const;
  const configured = {
    sourceAccountId: [s.sourceAccountId],
    sourceRegion: [s.sourceRegion],
    [database]: variant === 'cluster' ? s.clusters : s.databases,
    ...(VARIANTS[variant].kind ? { kind: [VARIANTS[variant].kind] } : {}),
  };
  for (const [name, values] of Object.entries(configured)) {
    const field = fields.find((f) => f.name === name);
    for (const v of values) {
      if (!field.accepts(v)) {
        throw new Error(
          `message-rules.js: the configured ${name} '${v}' does not satisfy the message schema`,
        );
      }
    }
  }

  const states = {};
  const causes = {
    sourceAccountId: `the configured source account '${s.sourceAccountId}' (parameter sourceAccountId)`,
    sourceRegion: `the configured source Region '${s.sourceRegion}' (parameter sourceRegion)`,
    sourceDbInstanceIdentifier: `a database this deployment replicates, in lower case (configured: ${s.databasesCsv}; parameter databases)`,
    sourceDbIdentifier: `a DB cluster this deployment replicates, in lower case (configured: ${s.clusters.join(',')}; parameter clusters)`,
    kind: `'${VARIANTS[variant].kind}' (this state machine replicates ${variant === 'cluster' ? 'DB clusters' : 'DB instances'})`,
  };

  // 1. Presence and types: nothing below may apply an intrinsic function to a missing field or a non-string.
  const typeRules = [];
  for (const f of fields) {
    if (f.optional) continue; // checked in step 4, only when present
    const v = `$.${f.name}`;
    typeRules.push({ Not: { Variable: v, IsPresent: true }, Next: reject(f.name) });
    if (typeof f.const === 'number') {
      typeRules.push({ Not: { Variable: v, IsNumeric: true }, Next: reject(f.name) });
      typeRules.push({ Not: { Variable: v, NumericEquals: f.const }, Next: reject(f.name) });
    } else if (f.const !== undefined) {
      throw new Error(`message-rules.js: only numeric constants are translated ('${f.name}')`);
    }
    if (f.string) {
      typeRules.push({ Not: { Variable: v, IsString: true }, Next: reject(f.name) });
      if (!f.acceptsEmpty) typeRules.push({ Variable: v, StringEquals: '', Next: reject(f.name) });
    }
  }
  states['Are The Fields There With The Right Types?'] = {
    Type: 'Choice',
    Choices: typeRules,
    Default: 'Measure The Fields',
  };

  // 2. What only intrinsic functions can tell: characters outside a set, number of parts, extra fields.
  const measure = { 'message.$': '$', 'fields.$': '$.*' };
  for (const f of fields) {
    if (f.optional) continue; // measured in step 4, only when present
    for (const c of f.checks) {
      if (c.kind === 'charset') {
        measure[`outside_${f.name}.$`] =
          `States.ArrayLength(States.StringSplit($.${f.name}, '${c.set.join('')}'))`;
      } else if (c.kind === 'parts') {
        measure[`parts_${f.name}.$`] =
          `States.ArrayLength(States.StringSplit($.${f.name}, '${c.separator}'))`;
      }
    }
  }
  states['Measure The Fields'] = { Type: 'Pass', Parameters: measure, Next: 'Are The Fields Well Formed?' };

  // 3. The rules themselves, each leading to the Fail state of its field.
  const rules = [{ Variable: `$.fields[${fields.length}]`, IsPresent: true, Next: 'Reject Unknown Fields' }];
  // more values than the required fields plus the optional fields present: a field the schema does not define
  const optional = fields.filter((f) => f.optional);
  const requiredCount = fields.length - optional.length;
  for (let mask = 0; mask < 2 ** optional.length - 1; mask++) {
    const present = optional.filter((_, i) => mask & (2 ** i));
    rules.push({
      And: [
        ...optional.map((o) =>
          present.includes(o)
            ? { Variable: `$.message.${o.name}`, IsPresent: true }
            : { Not: { Variable: `$.message.${o.name}`, IsPresent: true } },
        ),
        { Variable: `$.fields[${requiredCount + present.length}]`, IsPresent: true },
      ],
      Next: 'Reject Unknown Fields',
    });
  }
  // an optional field's rules go to a Choice of its own (step 4), its measurements under $.measured_<name>
  const optionalRules = Object.fromEntries(optional.map((f) => [f.name, []]));
  const arnPrefixes = PARTITIONS.map(
    (p) => `arn:${p}:rds:${s.sourceRegion}:${s.sourceAccountId}:${arnType}:`,
  );
  for (const f of fields) {
    const v = `$.message.${f.name}`;
    const next = reject(f.name);
    const out = f.optional ? optionalRules[f.name] : rules;
    const measured = f.optional ? `$.measured_${f.name}` : '$';
    if (configured[f.name]?.length === 0) {
      // nothing configured (a deployment without DB clusters): every message is refused
      out.push({ Variable: v, IsPresent: true, Next: next });
    } else if (configured[f.name]) {
      out.push({
        Not: anyOf(configured[f.name].map((x) => ({ Variable: v, StringEquals: x }))),
        Next: next,
      });
    }
    if (f.enum && !configured[f.name]) {
      out.push({ Not: anyOf(f.enum.map((x) => ({ Variable: v, StringEquals: x }))), Next: next });
    }
    for (const c of f.checks) {
      switch (c.kind) {
        case 'charset':
          out.push({ Variable: `${measured}.outside_${f.name}`, NumericGreaterThan: 0, Next: next });
          break;
        case 'parts':
          out.push({ Not: { Variable: `${measured}.parts_${f.name}`, NumericEquals: c.count }, Next: next });
          break;
        case 'first':
          out.push({ Not: anyOf(c.set.map((x) => ({ Variable: v, StringMatches: `${x}*` }))), Next: next });
          break;
        case 'last':
          out.push({ Not: anyOf(c.set.map((x) => ({ Variable: v, StringMatches: `*${x}` }))), Next: next });
          break;
        case 'suffix':
          out.push({ Not: { Variable: v, StringMatches: `*${c.text}` }, Next: next });
          break;
        case 'forbidden':
          out.push({ Variable: v, StringMatches: `*${c.text}*`, Next: next });
          break;
        case 'snapshotArnPrefix':
          // the configured partition-neutral prefix, then a letter first (the other characters the
          // character set allows are digits, ':' and '-')
          out.push({
            Not: anyOf(arnPrefixes.map((p) => ({ Variable: v, StringMatches: `${p}*` }))),
            Next: next,
          });
          out.push({
            Or: arnPrefixes.flatMap((p) =>
              [...'0123456789:-'].map((x) => ({ Variable: v, StringMatches: `${p}${x}*` })),
            ),
            Next: next,
          });
          break;
        default:
          throw new Error(`message-rules.js: unknown check ${c.kind}`);
      }
    }
    if (f.format === 'date-time') {
      out.push({ Not: { Variable: v, IsTimestamp: true }, Next: next });
      out.push({
        Or: SHORT_MONTH_DAYS.map((d) => ({ Variable: v, StringMatches: `*-${d}T*` })),
        Next: next,
      });
      out.push({
        And: [
          { Variable: v, StringMatches: '*-02-29T*' },
          { Not: { Or: leapYearPatterns().map((p) => ({ Variable: v, StringMatches: p })) } },
        ],
        Next: next,
      });
    } else if (f.format !== undefined) {
      throw new Error(`message-rules.js: format '${f.format}' of '${f.name}' is not translated`);
    }
  }
  const checkOptional = (i) =>
    i < optional.length ? `Is The Field ${optional[i].name} There?` : 'Keep The Message';
  states['Are The Fields Well Formed?'] = { Type: 'Choice', Choices: rules, Default: checkOptional(0) };

  // 4. Each optional field, only when present: its type, its measurements, its rules.
  for (const [i, f] of optional.entries()) {
    const v = `$.message.${f.name}`;
    const wellFormed = `Is The Field ${f.name} Well Formed?`;
    const measure = {};
    for (const c of f.checks) {
      if (c.kind === 'charset') {
        measure[`outside_${f.name}.$`] = `States.ArrayLength(States.StringSplit(${v}, '${c.set.join('')}'))`;
      } else if (c.kind === 'parts') {
        measure[`parts_${f.name}.$`] = `States.ArrayLength(States.StringSplit(${v}, '${c.separator}'))`;
      }
    }
    const measuring = Object.keys(measure).length > 0;
    states[checkOptional(i)] = {
      Type: 'Choice',
      Choices: [
        { Not: { Variable: v, IsPresent: true }, Next: checkOptional(i + 1) },
        { Not: { Variable: v, IsString: true }, Next: reject(f.name) },
        ...(f.acceptsEmpty ? [] : [{ Variable: v, StringEquals: '', Next: reject(f.name) }]),
      ],
      Default: measuring ? `Measure The Field ${f.name}` : wellFormed,
    };
    if (measuring) {
      states[`Measure The Field ${f.name}`] = {
        Type: 'Pass',
        Parameters: measure,
        ResultPath: `$.measured_${f.name}`,
        Next: wellFormed,
      };
    }
    states[wellFormed] =
      optionalRules[f.name].length > 0
        ? { Type: 'Choice', Choices: optionalRules[f.name], Default: checkOptional(i + 1) }
        : { Type: 'Pass', Next: checkOptional(i + 1) };
  }
  states['Keep The Message'] = { Type: 'Pass', OutputPath: '$.message', End: true };

  for (const f of fields) {
    states[reject(f.name)] = {
      Type: 'Fail',
      Error: 'InvalidInput',
      Cause: `field '${f.name}' is ${f.optional ? '' : 'missing or '}not ${causes[f.name] ?? f.description} (replication message version ${versionNumber}, src/contracts/replication-message.schema.json)`,
    };
  }
  states['Reject Unknown Fields'] = {
    Type: 'Fail',
    Error: 'InvalidInput',
    Cause: `the message has fields that version ${versionNumber} does not define (allowed: ${fields.map((f) => f.name).join(', ')})`,
  };
  return { StartAt: 'Are The Fields There With The Right Types?', States: states };
}

const validationBranch = (ctx) => branchFor(ctx, 'instance');
const clusterValidationBranch = (ctx) => branchFor(ctx, 'cluster');

module.exports = { validationBranch, clusterValidationBranch, fieldsOf, translate, VARIANTS };
