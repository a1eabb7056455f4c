// The source service's configuration, validated once at package time.
//
// serverless.source.yml reads it as `custom.params: ${file(./config/source-params.js):all}` and
// refers to `${self:custom.params.<name>}` everywhere else, so every value reaches the template and
// the state machine definition already normalised (account lists as arrays, booleans as booleans,
// numbers as numbers). Stage values come from `params:` in serverless.source.yml and can be
// overridden with `--param="name=value"`.
//
// Every problem is reported at once, each naming the parameter, the value received and the fix, and
// packaging stops: a wrong account id or an unparseable schedule must never reach a deployment.

const DESCRIPTIONS = {
  region: 'AWS Region of the source databases and of this stack',
  destinationAccountIds:
    'comma-separated 12-digit AWS account ids (1 to 20) allowed to restore the shared copies',
  databases: 'comma-separated DB instance identifiers replicated when the input names none (1 to 50)',
  clusters:
    'comma-separated Aurora DB cluster identifiers replicated by replicate-clusters (0 to 50; Multi-AZ DB clusters that are not Aurora are refused: AWS cannot copy their snapshots)',
  scheduleEnabled: 'true to start the replication on scheduleExpression, false to run it on demand only',
  scheduleExpression: 'EventBridge schedule, rate(...) or cron(...)',
  kmsKeyArn:
    'ARN of an existing customer-managed KMS key shared with the destination accounts; empty: the stack creates one',
  destinationRegions:
    'comma-separated Regions the destination stacks copy the shared snapshots into; empty: the Region of this stack',
  sourceInstanceKmsKeyArns:
    'comma-separated ARNs of the customer-managed keys the source instances are encrypted with (not aws/rds); empty: none',
  allowAnySourceInstanceKey:
    'true to let RDS read source instances encrypted with any key of this account and Region instead of sourceInstanceKmsKeyArns',
  keepSharedSnapshots: 'number of shared copies kept per database (the newest ones this deployment created)',
  maxConcurrency: 'number of databases replicated at the same time',
  notificationEmail: 'e-mail address subscribed to the operations topic; empty: no subscription',
  maxWaitMinutes: 'longest wait for one RDS phase (snapshot or copy) before the run gives up',
  destinationCopyGraceMinutes:
    'a shared copy beyond keepSharedSnapshots is deleted only once it was shared this long ago (destinations may still be copying it)',
  snapshotSource:
    "which snapshot a run starts from: 'new' (a snapshot taken by the run) or 'latest' (the newest automated or AWS Backup snapshot younger than maxSnapshotAgeHours, copied once with the shared key); a run's input may override it",
  maxSnapshotAgeHours:
    "with snapshotSource 'latest': the oldest automated or AWS Backup snapshot a run may start from, in hours",
  whenNoRecentSnapshot:
    "with snapshotSource 'latest' and no snapshot younger than maxSnapshotAgeHours: 'new' takes a new snapshot, 'fail' fails the database with NoRecentSnapshot",
  logLevel: 'Step Functions log level sent to CloudWatch Logs (execution data is never included)',
  tracingEnabled: 'true to enable AWS X-Ray tracing of the state machine',
  pointInTimeRecovery: 'true to enable point-in-time recovery of the lock and shared-copy table',
};

// RDS DB instance identifiers, normalised and checked where the destination does too (RDS stores
// them lower-case: `Orders-DB` is the instance orders-db).
const {
  isDbInstanceIdentifier,
  normaliseDbInstanceIdentifier,
} = require('../src/contracts/db-identifier.js');
const ACCOUNT_ID = /^[0-9]{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-[0-9]+$/;
const KMS_KEY_ARN =
  /^arn:aws[a-z-]*:kms:([a-z]{2}(?:-[a-z]+)+-[0-9]+):[0-9]{12}:key\/(?:[0-9a-f-]{36}|mrk-[0-9a-f]{32})$/;
const EMAIL = /^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/;
const SCHEDULE =
  /^(rate\(\s*[1-9][0-9]*\s+(minute|minutes|hour|hours|day|days)\s*\)|cron\(\s*\S+(\s+\S+){5}\s*\))$/;
const LOG_LEVELS = ['ALL', 'ERROR', 'FATAL', 'OFF'];
// Snapshot sources (issue 12). `latest` reads automated snapshots, kept at most 35 days (RDS backup
// retention), and AWS Backup snapshots: an age limit beyond 35 days is accepted for the latter.
const SNAPSHOT_SOURCES = ['new', 'latest'];
const WHEN_NO_RECENT_SNAPSHOT = ['new', 'fail'];
const DEFAULT_MAX_SNAPSHOT_AGE_HOURS = 26; // a daily backup window, plus two hours of slack
const MAX_SNAPSHOT_AGE_HOURS = 24 * 365;

const MAX_DESTINATION_ACCOUNTS = 20; // RDS shares a manual snapshot with at most 20 accounts
// One execution holds every database's history (Standard workflows: at most 25,000 events). A
// database costs about 130 events plus 11 per poll of its two RDS phases: 50 fit when each phase
// lasts up to about 5 minutes, 36 at 10 minutes, 27 at 1 hour, 21 at 6 hours. Beyond that, start
// several executions; lifting the limit needs one child execution per database.
const MAX_DATABASES = 50;
// Source retention grace (issue 9, point 6): deleting a snapshot while a destination still copies it
// can make that copy fail (RDS user guide). A destination copies for at most its maxWaitMinutes
// (default 1440) after the message reaches it; an hour more covers sharing, publishing, SNS delivery
// and the trigger's retries. 0 turns the grace off; 14 days at most.
const DEFAULT_DESTINATION_COPY_GRACE_MINUTES = 1500;
const MAX_DESTINATION_COPY_GRACE_MINUTES = 14 * 24 * 60;

function describe(value) {
  return typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
}

/** A list given as a YAML list or as a comma-separated string. */
function asList(value) {
  if (Array.isArray(value)) return value.map((v) => String(v).trim());
  if (value === undefined || value === null) return [];
  return String(value)
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

function asBoolean(name, value, problems) {
  if (value === true || value === false) return value;
  const text = String(value).trim().toLowerCase();
  if (text === 'true') return true;
  if (text === 'false') return false;
  problems.push(
    `parameter ${name} is ${describe(value)}: expected true or false (for example --param="${name}=false")`,
  );
  return false;
}

function asInteger(name, value, min, max, problems) {
  const number = Number(value);
  if (String(value).trim() === '' || !Number.isInteger(number) || number < min || number > max) {
    problems.push(
      `parameter ${name} is ${describe(value)}: expected a whole number from ${min} to ${max} (for example --param="${name}=${min}")`,
    );
    return min;
  }
  return number;
}

/**
 * Validates and normalises every parameter. Throws one Error listing every problem.
 * @param {{resolveVariable: (address: string) => Promise<unknown>}} ctx what serverless passes to a file() function
 */
async function resolve(ctx) {
  const raw = async (name) => ctx.resolveVariable(`param:${name}, null`);
  const problems = [];

  const regionValue = await raw('region');
  const region = String(regionValue).trim();
  if (!REGION.test(region)) {
    problems.push(
      `parameter region is ${describe(regionValue)}: expected an AWS Region such as eu-west-1 (for example --param="region=eu-west-1")`,
    );
  }

  const accountsValue = await raw('destinationAccountIds');
  const destinationAccountIds = asList(accountsValue);
  if (destinationAccountIds.length === 0) {
    problems.push(
      `parameter destinationAccountIds is missing or empty: expected 1 to ${MAX_DESTINATION_ACCOUNTS} comma-separated 12-digit account ids (for example --param="destinationAccountIds=222222222222")`,
    );
  } else if (destinationAccountIds.length > MAX_DESTINATION_ACCOUNTS) {
    problems.push(
      `parameter destinationAccountIds has ${destinationAccountIds.length} accounts: RDS shares a snapshot with at most ${MAX_DESTINATION_ACCOUNTS}; deploy a second stage for the others`,
    );
  }
  for (const id of destinationAccountIds) {
    if (!ACCOUNT_ID.test(id)) {
      const hint =
        typeof accountsValue === 'number'
          ? ' (quote account ids in YAML: an unquoted number loses leading zeros)'
          : '';
      problems.push(
        `parameter destinationAccountIds contains '${id}': expected a 12-digit AWS account id such as 222222222222${hint}`,
      );
    }
  }
  if (new Set(destinationAccountIds).size !== destinationAccountIds.length) {
    problems.push(
      `parameter destinationAccountIds is ${describe(accountsValue)}: an account id is listed twice; list each account once`,
    );
  }

  const databasesValue = await raw('databases');
  const databases = asList(databasesValue).map(normaliseDbInstanceIdentifier);
  // Empty only when clusters lists Aurora DB clusters (checked below).
  if (databases.length > MAX_DATABASES) {
    problems.push(
      `parameter databases has ${databases.length} entries: at most ${MAX_DATABASES} per stage; split them across stages`,
    );
  }
  for (const db of databases) {
    if (!isDbInstanceIdentifier(db)) {
      problems.push(
        `parameter databases contains '${db}': expected an RDS DB instance identifier (1-63 letters, digits or hyphens, first a letter, no trailing or double hyphen)`,
      );
    }
  }
  if (new Set(databases).size !== databases.length) {
    problems.push(
      `parameter databases is ${describe(databasesValue)}: a database is listed twice; list each database once`,
    );
  }

  // Aurora DB clusters, listed apart (replicate-clusters, snapshot-cluster): same identifier rules.
  const clustersValue = await raw('clusters');
  const clusters = asList(clustersValue ?? '').map(normaliseDbInstanceIdentifier);
  if (clusters.length > MAX_DATABASES) {
    problems.push(
      `parameter clusters has ${clusters.length} entries: at most ${MAX_DATABASES} per stage; split them across stages`,
    );
  }
  for (const c of clusters) {
    if (!isDbInstanceIdentifier(c)) {
      problems.push(
        `parameter clusters contains '${c}': expected an RDS DB cluster identifier (1-63 letters, digits or hyphens, first a letter, no trailing or double hyphen)`,
      );
    } else if (databases.includes(c)) {
      problems.push(
        `parameter clusters contains '${c}', which databases lists too: list a DB instance in databases and an Aurora DB cluster in clusters`,
      );
    }
  }
  if (databases.length === 0 && clusters.length === 0) {
    problems.push(
      `parameter databases is missing or empty: expected 1 to ${MAX_DATABASES} comma-separated DB instance identifiers (for example --param="databases=orders-db"), or Aurora DB clusters in the parameter clusters`,
    );
  }
  if (new Set(clusters).size !== clusters.length) {
    problems.push(
      `parameter clusters is ${describe(clustersValue)}: a cluster is listed twice; list each cluster once`,
    );
  }

  const scheduleEnabled = asBoolean('scheduleEnabled', await raw('scheduleEnabled'), problems);

  const scheduleValue = await raw('scheduleExpression');
  const scheduleExpression = String(scheduleValue).trim();
  if (!SCHEDULE.test(scheduleExpression)) {
    problems.push(
      `parameter scheduleExpression is ${describe(scheduleValue)}: expected rate(1 day) or a six-field cron(0 3 * * ? *) expression`,
    );
  }

  const keyValue = await raw('kmsKeyArn');
  const kmsKeyArn = String(keyValue ?? '').trim();
  if (kmsKeyArn !== '') {
    const match = KMS_KEY_ARN.exec(kmsKeyArn);
    if (!match) {
      problems.push(
        `parameter kmsKeyArn is ${describe(keyValue)}: expected the ARN of a customer-managed key (arn:aws:kms:<region>:<account>:key/<key id>; not an alias) or empty to let the stack create one`,
      );
    } else if (REGION.test(region) && match[1] !== region) {
      problems.push(
        `parameter kmsKeyArn is in ${match[1]} but the stack deploys to ${region}: RDS copies snapshots only with a key of their own Region`,
      );
    }
  }

  const destinationRegionsValue = await raw('destinationRegions');
  const destinationRegions = asList(destinationRegionsValue);
  for (const r of destinationRegions) {
    if (!REGION.test(r)) {
      problems.push(
        `parameter destinationRegions contains '${r.slice(0, 100)}': expected AWS Regions such as eu-west-1,eu-central-1 (or empty for the Region of this stack)`,
      );
    }
  }

  const instanceKeysValue = await raw('sourceInstanceKmsKeyArns');
  const sourceInstanceKmsKeyArns = asList(instanceKeysValue);
  for (const arn of sourceInstanceKmsKeyArns) {
    const match = KMS_KEY_ARN.exec(arn);
    if (!match) {
      problems.push(
        `parameter sourceInstanceKmsKeyArns contains '${arn.slice(0, 100)}': expected key ARNs (arn:aws:kms:<region>:<account>:key/<key id>; not aliases), comma-separated`,
      );
    } else if (REGION.test(region) && match[1] !== region) {
      problems.push(
        `parameter sourceInstanceKmsKeyArns contains a key in ${match[1]} but the source instances are in ${region}: list the keys of ${region}`,
      );
    }
  }
  const allowAnySourceInstanceKey = asBoolean(
    'allowAnySourceInstanceKey',
    (await raw('allowAnySourceInstanceKey')) ?? false,
    problems,
  );

  const keepSharedSnapshots = asInteger(
    'keepSharedSnapshots',
    await raw('keepSharedSnapshots'),
    1,
    20,
    problems,
  );
  const maxConcurrency = asInteger('maxConcurrency', await raw('maxConcurrency'), 1, 20, problems);
  const graceValue = await ctx.resolveVariable(
    `param:destinationCopyGraceMinutes, ${DEFAULT_DESTINATION_COPY_GRACE_MINUTES}`,
  );
  const destinationCopyGraceMinutes = asInteger(
    'destinationCopyGraceMinutes',
    graceValue,
    0,
    MAX_DESTINATION_COPY_GRACE_MINUTES,
    problems,
  );
  // A copy recorded before its sharing time was (no sharedAt) is dated by its creation instead: it
  // may have been shared up to maxWaitMinutes later (the copy phase), so that is added to its grace.
  const maxWaitMinutes = Number(await ctx.resolveVariable('param:maxWaitMinutes, 1440'));

  const emailValue = await raw('notificationEmail');
  const notificationEmail = String(emailValue ?? '').trim();
  if (notificationEmail !== '' && !EMAIL.test(notificationEmail)) {
    problems.push(
      `parameter notificationEmail is ${describe(emailValue)}: expected one e-mail address or empty for none`,
    );
  }

  const logValue = await raw('logLevel');
  const logLevel = String(logValue).trim().toUpperCase();
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`parameter logLevel is ${describe(logValue)}: expected one of ${LOG_LEVELS.join(', ')}`);
  }

  const oneOf = (name, value, allowed) => {
    const text = String(value).trim().toLowerCase();
    if (allowed.includes(text)) return text;
    problems.push(
      `parameter ${name} is ${describe(value)}: expected ${allowed.map((a) => `'${a}'`).join(' or ')} (for example --param="${name}=${allowed[0]}")`,
    );
    return allowed[0];
  };
  const snapshotSource = oneOf(
    'snapshotSource',
    await ctx.resolveVariable("param:snapshotSource, 'new'"),
    SNAPSHOT_SOURCES,
  );
  const maxSnapshotAgeHours = asInteger(
    'maxSnapshotAgeHours',
    await ctx.resolveVariable(`param:maxSnapshotAgeHours, ${DEFAULT_MAX_SNAPSHOT_AGE_HOURS}`),
    1,
    MAX_SNAPSHOT_AGE_HOURS,
    problems,
  );
  const whenNoRecentSnapshot = oneOf(
    'whenNoRecentSnapshot',
    await ctx.resolveVariable("param:whenNoRecentSnapshot, 'new'"),
    WHEN_NO_RECENT_SNAPSHOT,
  );

  const tracingEnabled = asBoolean('tracingEnabled', await raw('tracingEnabled'), problems);
  const pointInTimeRecovery = asBoolean('pointInTimeRecovery', await raw('pointInTimeRecovery'), problems);

  // maxWaitMinutes belongs to the polling design; validate it here too so that every problem is
  // reported in one go.
  try {
    await require('../statemachines/fragments/polling.js').start(ctx);
  } catch (error) {
    problems.push(error.message);
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
