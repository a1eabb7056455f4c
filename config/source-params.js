// The source service's configuration, validated once at package time.
//
// serverless.source.yml reads it as `custom.params: ${file(./config/source-params.js):all}` and
// refers to `${self:custom.params.<name>}` everywhere else, so every value reaches the template and
// the state machine definition already normalised (account lists as arrays, booleans as booleans,
// numbers as numbers). Stage values come from `params:` in serverless.source.yml and can be
// overridden with `--param="name=value"`.
//
// Each parameter's type, pattern or range, default, example and meaning are in
// config/source-params.schema.json (checked by config/params-schema.js); this file holds only what
// a schema cannot say: rules across parameters and the values derived from them.
//
// Every problem is reported at once, each naming the parameter, the value received and the fix, and
// packaging stops: a wrong account id or an unparseable schedule must never reach a deployment.

const { SCHEMAS, validate } = require('./params-schema.js');

const SCHEMA = SCHEMAS.source;
const DESCRIPTIONS = Object.fromEntries(
  Object.entries(SCHEMA.properties).map(([name, rule]) => [name, rule.description]),
);
// One execution holds every database's history (Standard workflows: at most 25,000 events). A
// database costs about 130 events plus 11 per poll of its two RDS phases: 50 fit when each phase
// lasts up to about 5 minutes, 36 at 10 minutes, 27 at 1 hour, 21 at 6 hours. Beyond that, start
// several executions; lifting the limit needs one child execution per database. (The schema's
// maxItems of databases and clusters; the state machines read it from here.)
const MAX_DATABASES = SCHEMA.properties.databases.maxItems;
// RDS shares a manual snapshot with at most 20 accounts (the schema's maxItems).
const MAX_DESTINATION_ACCOUNTS = SCHEMA.properties.destinationAccountIds.maxItems;
// Snapshot sources (issue 12). `latest` reads automated snapshots, kept at most 35 days (RDS backup
// retention), and AWS Backup snapshots: an age limit beyond 35 days is accepted for the latter.
const SNAPSHOT_SOURCES = SCHEMA.properties.snapshotSource.enum;
const WHEN_NO_RECENT_SNAPSHOT = SCHEMA.properties.whenNoRecentSnapshot.enum;
// A daily backup window, plus two hours of slack.
const DEFAULT_MAX_SNAPSHOT_AGE_HOURS = SCHEMA.properties.maxSnapshotAgeHours.default;
// Source retention grace (issue 9, point 6): deleting a snapshot while a destination still copies it
// can make that copy fail (RDS user guide). A destination copies for at most its maxWaitMinutes
// (default 1440) after the message reaches it; an hour more covers sharing, publishing, SNS delivery
// and the trigger's retries. 0 turns the grace off; 14 days at most.
const DEFAULT_DESTINATION_COPY_GRACE_MINUTES = SCHEMA.properties.destinationCopyGraceMinutes.default;

/** A value as the messages show it: quoted, at most 100 characters. */
function describe(value) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const shown = text.length > 100 ? `${text.slice(0, 100)}...` : text;
  return typeof value === 'string' ? `'${shown}'` : shown;
}

/** The message of a problem found by the schema (config/params-schema.js). */
function message(p) {
  const example = `(for example --param="${p.name}=${p.example}")`;
  const plural = p.item === 'entry' ? 'entries' : `${p.item}s`;
  switch (p.kind) {
    case 'missing':
      return `parameter ${p.name} is missing or empty: expected ${p.expected} ${example}`;
    case 'entry': {
      // An unquoted number in YAML loses leading zeros (and an account id is one).
      const hint =
        typeof p.raw === 'number'
          ? ' (quote account ids in YAML: an unquoted number loses leading zeros)'
          : '';
      return `parameter ${p.name} contains ${describe(String(p.entry))}: expected ${p.expected}${hint} ${example}`;
    }
    case 'count':
      return `parameter ${p.name} has ${p.count} ${plural}: expected ${p.expected}`;
    case 'repeated':
      return `parameter ${p.name} is ${describe(p.raw)}: expected ${p.expected} (one is listed twice)`;
    default:
      return `parameter ${p.name} is ${describe(p.raw)}: expected ${p.expected} ${example}`;
  }
}

/** The Region of a KMS key ARN the schema accepted (arn:<partition>:kms:<region>:...). */
function keyRegion(arn) {
  return arn.split(':')[3];
}

/**
 * Validates and normalises every parameter. Throws one Error listing every problem.
 * @param {{resolveVariable: (address: string) => Promise<unknown>}} ctx what serverless passes to a file() function
 */
async function resolve(ctx) {
  const raw = {};
  for (const name of Object.keys(SCHEMA.properties)) {
    raw[name] = await ctx.resolveVariable(`param:${name}, null`);
  }
  const { values, problems: found } = validate('source', raw);
  const problems = found.map(message);
  const valid = (name) => !found.some((p) => p.name === name);
  const {
    region,
    destinationAccountIds,
    databases,
    clusters,
    scheduleEnabled,
    scheduleExpression,
    kmsKeyArn,
    destinationRegions,
    sourceInstanceKmsKeyArns,
    allowAnySourceInstanceKey,
    keepSharedSnapshots,
    maxConcurrency,
    notificationEmail,
    maxWaitMinutes,
    destinationCopyGraceMinutes,
    snapshotSource,
    maxSnapshotAgeHours,
    whenNoRecentSnapshot,
    logLevel,
    tracingEnabled,
    pointInTimeRecovery,
  } = values;

  // Rules across parameters.
  // databases may be empty only when clusters lists Aurora DB clusters: a stage replicates something.
  if (valid('databases') && valid('clusters') && databases.length === 0 && clusters.length === 0) {
    problems.push(
      `parameter databases is missing or empty: expected 1 to ${MAX_DATABASES} comma-separated DB instance identifiers (for example --param="databases=orders-db"), or Aurora DB clusters in the parameter clusters`,
    );
  }
  // An identifier names either a DB instance or an Aurora DB cluster: they take different APIs and
  // state machines, and one lock and secret per identifier.
  for (const c of valid('clusters') && valid('databases') ? clusters : []) {
    if (databases.includes(c)) {
      problems.push(
        `parameter clusters contains '${c}', which databases lists too: list a DB instance in databases and an Aurora DB cluster in clusters`,
      );
    }
  }
  // RDS copies snapshots only with a key of their own Region: the shared key must be in region.
  if (valid('region') && valid('kmsKeyArn') && kmsKeyArn !== '' && keyRegion(kmsKeyArn) !== region) {
    problems.push(
      `parameter kmsKeyArn is in ${keyRegion(kmsKeyArn)} but the stack deploys to ${region}: RDS copies snapshots only with a key of their own Region`,
    );
  }
  // The source instances are in region, so are the keys they are encrypted with.
  for (const arn of valid('region') && valid('sourceInstanceKmsKeyArns') ? sourceInstanceKmsKeyArns : []) {
    if (keyRegion(arn) !== region) {
      problems.push(
        `parameter sourceInstanceKmsKeyArns contains a key in ${keyRegion(arn)} but the source instances are in ${region}: list the keys of ${region}`,
      );
    }
  }

  if (problems.length > 0) {
    const error = new Error(
      `invalid configuration of serverless.source.yml (params: of the stage, or --param):\n  - ${problems.join('\n  - ')}`,
    );
    error.stack = error.message; // serverless prints the stack: keep it to the message
    throw error;
  }

  return {
    region,
    destinationAccountIds,
    // IAM principals for the key and topic policies: each destination account's root, i.e. whatever
    // that account's own IAM policies allow (partition-neutral, hence Fn::Join rather than a string).
    destinationPrincipals: destinationAccountIds.map((id) => ({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${id}:root`]],
    })),
    databases,
    clusters,
    // Prefix of the cluster snapshot names (src/contracts/cluster-snapshot-names.js).
    clusterSnapshotPrefix: require('../src/contracts/cluster-snapshot-names.js').clusterSnapshotPrefix(
      `${await ctx.resolveVariable('self:service')}-${await ctx.resolveVariable('sls:stage')}`,
    ),
    clustersCsv: clusters.length > 0 ? clusters.join(',') : '(none)',
    scheduleEnabled,
    scheduleExpression,
    kmsKeyArn,
    destinationRegions: destinationRegions.length > 0 ? destinationRegions : [region],
    // kms:ViaService values under which the destination accounts may use the shared key: RDS in this
    // Region and in every Region a destination copies into (INFERRED: a cross-Region copy may reach
    // the key from either side, so both are listed).
    destinationKmsViaServices: [...new Set([region, ...destinationRegions])].map((r) => ({
      'Fn::Sub': `rds.${r}.\${AWS::URLSuffix}`,
    })),
    // sns:Endpoint patterns a destination account may subscribe: its trigger function
    // (rds-replica-destination-<stage>-trigger) in a Region it copies into.
    destinationTriggerArns: destinationAccountIds.flatMap((id) =>
      (destinationRegions.length > 0 ? destinationRegions : [region]).map((r) => ({
        'Fn::Sub': `arn:\${AWS::Partition}:lambda:${r}:${id}:function:rds-replica-destination-*-trigger`,
      })),
    ),
    sourceInstanceKmsKeyArns,
    allowAnySourceInstanceKey,
    // The keys RDS may read source instances with: the listed ones, or with the explicit opt-in any key
    // of this account and Region. Default of the template parameter ReadSourceInstanceKeys (a string).
    sourceInstanceKeyResources: allowAnySourceInstanceKey
      ? [{ 'Fn::Sub': `arn:\${AWS::Partition}:kms:\${AWS::Region}:\${AWS::AccountId}:key/*` }]
      : sourceInstanceKmsKeyArns.length > 0
        ? sourceInstanceKmsKeyArns
        : [{ 'Fn::Sub': `arn:\${AWS::Partition}:kms:\${AWS::Region}:\${AWS::AccountId}:key/none` }], // unused: the statements are left out
    readSourceInstanceKeysText: String(allowAnySourceInstanceKey || sourceInstanceKmsKeyArns.length > 0),
    keepSharedSnapshots,
    maxConcurrency,
    destinationCopyGraceMinutes,
    copyGraceFromCreationMinutes:
      destinationCopyGraceMinutes + (Number.isInteger(maxWaitMinutes) ? maxWaitMinutes : 0),
    notificationEmail,
    snapshotSource,
    maxSnapshotAgeHours,
    maxSnapshotAgeMinutes: maxSnapshotAgeHours * 60,
    whenNoRecentSnapshot,
    // IAM resources the role may copy automated and AWS Backup snapshots from (snapshotSource
    // 'latest', in the input of any run): each configured database's automated snapshots
    // (rds:<db>-<time>) and the AWS Backup snapshots of the account and Region (awsbackup:job-<uuid>:
    // their names do not carry the instance).
    backupSnapshotResources: [
      ...databases.map((db) => ({
        'Fn::Sub': `arn:\${AWS::Partition}:rds:\${AWS::Region}:\${AWS::AccountId}:snapshot:rds:${db}-*`,
      })),
      { 'Fn::Sub': 'arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:snapshot:awsbackup:*' },
    ],
    logLevel,
    tracingEnabled,
    // Default of the template parameter XRayTracing, a string (a whole-value variable would insert a boolean).
    tracingEnabledText: String(tracingEnabled),
    pointInTimeRecovery,
  };
}

let cached;

module.exports = {
  /**
   * IAM condition that limits an action to snapshots this deployment tagged as its own
   * (`<managedBy tag key> = <service>-<stage>`). A YAML key cannot hold a variable, hence here.
   */
  async managedByCondition(ctx) {
    const tagKey = require('../src/contracts/contract.json').tagKeys.managedBy;
    const deploymentId = `${await ctx.resolveVariable('self:service')}-${await ctx.resolveVariable('sls:stage')}`;
    return { StringEquals: { [`aws:ResourceTag/${tagKey}`]: deploymentId } };
  },
  DESCRIPTIONS,
  DEFAULT_DESTINATION_COPY_GRACE_MINUTES,
  DEFAULT_MAX_SNAPSHOT_AGE_HOURS,
  MAX_DATABASES,
  SNAPSHOT_SOURCES,
  WHEN_NO_RECENT_SNAPSHOT,
  MAX_DESTINATION_ACCOUNTS,
  resolve,
  /**
   * Every parameter, validated and normalised (one `sls` process packages one stage). Only a success
   * is kept: serverless calls this first while `param:` cannot be resolved yet, then again.
   */
  async all(ctx) {
    cached ??= await resolve(ctx);
    return cached;
  },
};
