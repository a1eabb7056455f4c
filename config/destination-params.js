// The configuration of the destination service, read and checked once at package time.
//
// serverless.destination.yml exposes the result as `custom.destination`
// (`${file(./config/destination-params.js):settings}`) and every other place (resources, IAM,
// state machine definitions, Lambda environments) reads `${self:custom.destination.<name>}`,
// so a parameter is parsed in exactly one place. A missing or malformed value fails
// `sls package` / `sls deploy` with a message naming the parameter, the value and the fix.
//
// Parameters come from `params:` (default, then the stage) and `--param="name=value"`; on the
// command line every value is a string. Each parameter's type, pattern or range, default, example
// and meaning are in config/destination-params.schema.json (checked and converted by
// config/params-schema.js); this file holds only what a schema cannot say: rules across parameters,
// rules that need other code (the replica name templates), and the values derived from them.

const path = require('node:path');
const contract = require('../src/contracts/contract.json');
const { normaliseDbInstanceIdentifier } = require('../src/contracts/db-identifier.js');
const { validate } = require('./params-schema.js');

const SCHEMA = require('./destination-params.schema.json');

/** Region and account of an ARN the schema accepted: `arn:<partition>:<service>:<region>:<account>:...`. */
function arnParts(value) {
  const [, , , region, account] = value.split(':');
  return [region, account];
}

// Replica names are `<prefix>-<yyyymmddthhmmss>[-NN]`; the prefix of each database comes from the
// naming rule in src/contracts/names.ts, loaded here as it is (bundled on the fly by esbuild), so the
// names the Lambda gives and the names the IAM policies allow cannot drift apart.
let namesModule;
function names() {
  if (!namesModule) {
    const { buildSync } = require('esbuild');
    const out = buildSync({
      entryPoints: [path.join(__dirname, '..', 'src', 'contracts', 'names.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      write: false,
      logLevel: 'silent',
    });
    const mod = { exports: {} };
    new Function('module', 'exports', 'require', out.outputFiles[0].text)(mod, mod.exports, require);
    namesModule = mod.exports;
  }
  return namesModule;
}

class ParameterError extends Error {}

function fail(name, raw, expected, example) {
  const text = raw === undefined || raw === null ? '' : String(raw);
  const shown = text === '' ? 'empty' : `'${text.length > 100 ? `${text.slice(0, 100)}...` : text}'`;
  throw new ParameterError(
    `parameter ${name} is ${shown}: expected ${expected} (for example --param="${name}=${example}", ` +
      `or set it under params.<stage> in serverless.destination.yml)`,
  );
}

/** `orders-db` -> `OrdersDashdb`, the way the Serverless Framework normalises names. */
function logicalName(name) {
  const s = name.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** `arn:<partition>:<service>:<region>:<account>:<resource>` as a CloudFormation value. */
function arn(service, region, account, resource) {
  return {
    'Fn::Sub': `arn:\${AWS::Partition}:${service}:${region ?? '${AWS::Region}'}:${account ?? '${AWS::AccountId}'}:${resource}`,
  };
}

async function read({ resolveVariable }) {
  const param = async (name) => {
    try {
      return await resolveVariable(`param:${name}`);
    } catch (error) {
      // `params` not resolved yet: Serverless calls this function again later.
      if (error && error.code === 'MISSING_VARIABLE_DEPENDENCY') throw error;
      return undefined;
    }
  };
  const service = await resolveVariable('self:service');
  const stageValue = await resolveVariable('sls:stage');
  const stage = stageValue === undefined || stageValue === null ? '' : String(stageValue).trim();
  if (!/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,19}$/.test(stage)) {
    throw new ParameterError(
      `stage '${stage}': expected 1-20 lower-case letters, digits and single hyphens ` +
        '(it becomes part of RDS snapshot names and the deployment tag), e.g. --stage prod',
    );
  }
  const deploymentId = `${service}-${stage}`;

  // Every parameter against its schema; the first problem (in the schema's order) fails packaging.
  const raw = {};
  for (const name of Object.keys(SCHEMA.properties)) {
    raw[name] = await param(name);
  }
  const { values, problems } = validate('destination', raw);
  for (const p of problems) {
    fail(p.name, p.raw, p.kind === 'entry' ? `${p.expected} ('${p.entry}' is not)` : p.expected, p.example);
  }
  const {
    region,
    sourceAccountId,
    sourceRegion,
    sourceKmsKeyArn,
    allowAnySourceKey,
    kmsKeyArn,
    databases,
    clusters,
    secretArns,
    secretKmsKeyArns,
    secretUsername,
    dbInstanceClass,
    dbSubnetGroupName,
    vpcSecurityGroupIds,
    dbParameterGroupName,
    optionGroupName,
    dbClusterParameterGroupName,
    clusterInstanceParameterGroupName,
    serverlessV2MinCapacity,
    serverlessV2MaxCapacity,
    notificationEmail,
    logLevel,
  } = values;

  // Rules across parameters, in the order they are reported.
  if (region !== sourceRegion && (region.startsWith('us-gov-') || sourceRegion.startsWith('us-gov-'))) {
    // Between GovCloud Regions RDS needs PreSignedUrl, a request signed for the source Region, which
    // a Step Functions SDK integration cannot compute (docs/ARCHITECTURE.md, "Destinations in another Region").
    fail(
      'region',
      region,
      `the Region of the source (${sourceRegion}) for a GovCloud deployment: copies between GovCloud ` +
        'Regions need a pre-signed request that this service cannot make',
      sourceRegion,
    );
  }

  // The source service names its topic `${self:service}-${sls:stage}-replication`
  // (service rds-replica-source, same stage name unless sourceTopicArn says otherwise); a given topic
  // must be the source account's in sourceRegion, where the messages come from.
  const topicExample = `arn:aws:sns:${sourceRegion}:${sourceAccountId}:rds-replica-source-${stage}-replication`;
  let sourceTopicArn = values.sourceTopicArn;
  if (sourceTopicArn === '') {
    sourceTopicArn = arn('sns', sourceRegion, sourceAccountId, `rds-replica-source-${stage}-replication`);
  } else {
    const [topicRegion, topicAccount] = arnParts(sourceTopicArn);
    if (topicRegion !== sourceRegion || topicAccount !== sourceAccountId) {
      fail(
        'sourceTopicArn',
        raw.sourceTopicArn,
        `a topic of the source account ${sourceAccountId} in ${sourceRegion} (sourceAccountId, sourceRegion)`,
        topicExample,
      );
    }
  }

  // The replicate role uses exactly the source's shared key, or with the explicit opt-in
  // allowAnySourceKey any key of the source account in sourceRegion: one of the two is required.
  const sourceKeyExample = `arn:aws:kms:${sourceRegion}:${sourceAccountId}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
  if (sourceKmsKeyArn === '' && !allowAnySourceKey) {
    fail(
      'sourceKmsKeyArn',
      raw.sourceKmsKeyArn,
      "the ARN of the source stack's shared KMS key (its output KmsKeyArn), or allowAnySourceKey=true " +
        'to let RDS use any key of the source account in sourceRegion',
      sourceKeyExample,
    );
  }
  if (sourceKmsKeyArn !== '') {
    const [keyRegion, keyAccount] = arnParts(sourceKmsKeyArn);
    if (keyRegion !== sourceRegion || keyAccount !== sourceAccountId) {
      fail(
        'sourceKmsKeyArn',
        raw.sourceKmsKeyArn,
        `a key of the source account ${sourceAccountId} in ${sourceRegion}`,
        sourceKeyExample,
      );
    }
  }

  if (kmsKeyArn !== '' && arnParts(kmsKeyArn)[0] !== region) {
    // copyDBSnapshot needs a key in the Region it copies into (AWS-FACTS.md)
    fail(
      'kmsKeyArn',
      raw.kmsKeyArn,
      `a key in ${region}, the Region this stack copies snapshots into`,
      `arn:aws:kms:${region}:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
    );
  }

  // Aurora DB clusters are listed apart from DB instances: a cluster is snapshotted, shared and
  // restored with the cluster APIs, by its own state machine (replicate-cluster). One identifier is
  // one lock and one secret, so it is either a DB instance or a cluster.
  for (const c of clusters) {
    if (databases.includes(c)) {
      fail(
        'clusters',
        raw.clusters,
        `identifiers not also listed in databases ('${c}' is in both; list a DB instance in databases, an Aurora DB cluster in clusters)`,
        'orders-aurora',
      );
    }
  }
  if (clusters.length > 0 && region !== sourceRegion) {
    // AWS copies a shared DB cluster snapshot across accounts only within one Region, and not across
    // Region and account in one step (docs/ARCHITECTURE.md, "Destinations in another Region").
    fail(
      'clusters',
      raw.clusters,
      `no DB clusters in a destination in another Region (${region}) than sourceRegion (${sourceRegion}): ` +
        'AWS copies a shared DB cluster snapshot across accounts only within one Region; ' +
        'deploy a destination for the clusters in the source Region, or leave clusters empty',
      '',
    );
  }
  // A deployment replicates something: databases may be empty only when clusters lists clusters.
  const allDatabases = [...databases, ...clusters];
  if (allDatabases.length === 0) {
    fail(
      'databases',
      raw.databases,
      `1 to ${SCHEMA.properties.databases.maxItems} comma-separated source DB instance identifiers (or Aurora DB clusters in the parameter clusters)`,
      'orders-db,billing-db',
    );
  }

  // Each entry `<database>=<secret ARN>` (its shape is the schema's) names a configured database and
  // a secret this stack may write, in its Region, once.
  const givenSecrets = new Map();
  for (const entry of secretArns) {
    const eq = entry.indexOf('=');
    const db = normaliseDbInstanceIdentifier(entry.slice(0, eq));
    const secretArn = entry.slice(eq + 1).trim();
    const example = `${allDatabases[0]}=arn:aws:secretsmanager:${region}:222222222222:secret:rds-replica/${allDatabases[0]}-AbCdEf`;
    if (!allDatabases.includes(db)) {
      fail(
        'secretArns',
        raw.secretArns,
        `entries '<database>=<secret ARN>' for databases listed in databases or clusters ('${db}' is not)`,
        example,
      );
    }
    if (/:secret:rds!/.test(secretArn)) {
      // RDS-managed secrets (manage master user password): nobody but RDS may write them.
      fail(
        'secretArns',
        raw.secretArns,
        `a secret this service may write: ${db}'s is managed by RDS (rds!...), which nobody else can ` +
          'update; give a secret of your own, or no entry to let the stack create one',
        example,
      );
    }
    const [secretRegion] = arnParts(secretArn);
    if (secretRegion !== region) {
      fail(
        'secretArns',
        raw.secretArns,
        `secrets in ${region}, the Region of this stack (${db}'s is in ${secretRegion})`,
        example,
      );
    }
    if (givenSecrets.has(db))
      fail('secretArns', raw.secretArns, `one secret per database (${db} twice)`, example);
    givenSecrets.set(db, secretArn);
  }
  // Secrets Manager decrypts a secret with its key in the secret's Region, which is this stack's.
  for (const key of secretKmsKeyArns) {
    if (arnParts(key)[0] !== region) {
      fail(
        'secretKmsKeyArns',
        raw.secretKmsKeyArns,
        `comma-separated ARNs of the customer-managed keys (in ${region}) that the secrets in secretArns are encrypted with`,
        `arn:aws:kms:${region}:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
      );
    }
  }

  // The name template (its characters are the schema's) must give every database a usable prefix
  // (src/contracts/names.ts: length, the marker), and two databases prefixes that cannot meet.
  const instanceNamePrefix = values.instanceNamePrefix || names().DEFAULT_NAME_TEMPLATE;
  const replicaPrefixes = {};
  const example = 'replica-{database}-{deployment}';
  for (const db of allDatabases) {
    try {
      replicaPrefixes[db] = names().replicaPrefix(instanceNamePrefix, db, deploymentId);
    } catch (error) {
      fail('instanceNamePrefix', instanceNamePrefix, `a usable name template (${error.message})`, example);
    }
  }
  // Two databases whose name sets could meet would compete for names: refuse them here.
  for (const [i, a] of allDatabases.entries()) {
    for (const b of allDatabases.slice(i + 1)) {
      if (names().prefixesOverlap(replicaPrefixes[a], replicaPrefixes[b])) {
        fail(
          'instanceNamePrefix',
          instanceNamePrefix,
          `a template that gives ${a} and ${b} distinct name prefixes (they give '${replicaPrefixes[a]}' and ` +
            `'${replicaPrefixes[b]}', so one database's replica names could be the other's)`,
          '{database}-{deployment}',
        );
      }
    }
  }

  // Serverless v2 capacity is a range: both ends or neither, the minimum not above the maximum.
  if ((serverlessV2MinCapacity === undefined) !== (serverlessV2MaxCapacity === undefined)) {
    fail(
      serverlessV2MinCapacity === undefined ? 'serverlessV2MinCapacity' : 'serverlessV2MaxCapacity',
      '',
      'both serverlessV2MinCapacity and serverlessV2MaxCapacity, or neither',
      serverlessV2MinCapacity === undefined ? '0.5' : '4',
    );
  }
  if (serverlessV2MinCapacity !== undefined && serverlessV2MinCapacity > serverlessV2MaxCapacity) {
    fail(
      'serverlessV2MaxCapacity',
      String(serverlessV2MaxCapacity),
      `at least serverlessV2MinCapacity (${serverlessV2MinCapacity})`,
      '4',
    );
  }
  // Empty: Serverless v2 writers use the class db.serverless (RDS user guide, Aurora Serverless v2);
  // other writers the class of the replicas.
  const clusterInstanceClass =
    values.clusterInstanceClass ||
    (serverlessV2MinCapacity !== undefined ? 'db.serverless' : dbInstanceClass);

  const settings = {
    deploymentId,
    stage,
    region,
    sourceAccountId,
    sourceRegion,
    // Copies cross account and Region in one call (docs/ARCHITECTURE.md, "Destinations in another Region").
    crossRegion: region !== sourceRegion,
    sourceTopicArn,
    sourceKmsKeyArn,
    allowAnySourceKey,
    secretKmsKeyArns,
    kmsKeyArn,
    createKmsKey: kmsKeyArn === '',
    databases,
    databasesCsv: databases.join(','),
    clusters,
    clustersCsv: clusters.join(','),
    // Prefix of the cluster snapshot copies (src/contracts/cluster-snapshot-names.js).
    clusterSnapshotPrefix: require('../src/contracts/cluster-snapshot-names.js').clusterSnapshotPrefix(
      deploymentId,
    ),
    dbClusterParameterGroupName,
    clusterInstanceParameterGroupName,
    clusterInstanceClass,
    serverlessV2MinCapacity,
    serverlessV2MaxCapacity,
    secretUsername,
    dbInstanceClass,
    dbSubnetGroupName,
    vpcSecurityGroupIds,
    dbParameterGroupName,
    optionGroupName,
    multiAz: values.multiAz,
    deletionProtection: values.deletionProtection,
    publiclyAccessible: values.publiclyAccessible,
    keepReplicas: values.keepReplicas,
    instanceNamePrefix,
    replicaPrefixes,
    finalSnapshotOnDelete: values.finalSnapshotOnDelete,
    notificationEmail,
    logLevel,
  };

  // One secret per database: the given ARN, or one this stack creates (and retains). A created
  // secret's name carries the stage and the first part of the stack's id, so a second stage in the
  // account, or a redeploy after `sls remove` (which keeps the secret), never meets a name in use.
  const stackIdPart = {
    'Fn::Select': [
      0,
      { 'Fn::Split': ['-', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }] },
    ],
  };
  const secretOf = (database) => {
    const given = givenSecrets.get(database);
    return given
      ? { database, arn: given, logicalId: null, name: null, ref: given }
      : {
          database,
          arn: null,
          logicalId: `DatabaseSecret${logicalName(database)}`,
          namePrefix: `rds-replica/${stage}/${database}-`,
          name: { 'Fn::Join': ['', [`rds-replica/${stage}/${database}-`, stackIdPart]] },
          ref: { Ref: `DatabaseSecret${logicalName(database)}` },
        };
  };
  settings.secrets = databases.map(secretOf);
  settings.clusterSecrets = clusters.map(secretOf);

  // The key copies are encrypted with (KmsKeyId of copyDBSnapshot), as a CloudFormation value.
  settings.kmsKey = settings.createKmsKey ? { 'Fn::GetAtt': ['ReplicaKey', 'Arn'] } : kmsKeyArn;

  // IAM resources derived from the parameters (the policies themselves are in serverless.destination.yml).
  const rdsArn = (resource) => arn('rds', null, null, resource);
  settings.iam = {
    // Secrets: a given ARN may be complete or lack the random 6-character suffix.
    secrets: [...settings.secrets, ...settings.clusterSecrets].flatMap((s) =>
      s.arn ? [s.arn, `${s.arn}-??????`] : [s.ref],
    ),
    // The shared key of the source account: the exact ARN (the normal path); only with the explicit
    // opt-in allowAnySourceKey any key of the source account in its Region, which the source key
    // policy still limits to the one shared key.
    sourceKey: sourceKmsKeyArn !== '' ? sourceKmsKeyArn : arn('kms', sourceRegion, sourceAccountId, 'key/*'),
    // Customer-managed keys of the given secrets, used only through Secrets Manager.
    secretKeys: secretKmsKeyArns,
    secretsViaService: { 'Fn::Sub': `secretsmanager.\${AWS::Region}.\${AWS::URLSuffix}` },
    sharedSnapshots: arn('rds', sourceRegion, sourceAccountId, 'snapshot:*'),
    snapshotCopies: rdsArn(`snapshot:${deploymentId}-*`),
    anySnapshot: rdsArn('snapshot:*'),
    anyInstance: rdsArn('db:*'),
    // Replicas are named <prefix>-<snapshot time> (src/contracts/names.ts); writes that cannot be
    // confined by a tag the role could set itself are confined to these names, which carry this
    // deployment's marker: no instance an operator named (`orders-db-legacy`) matches them.
    // (a deployment of Aurora DB clusters only: a resource that never exists, as IAM needs one)
    replicaInstances: databases.length
      ? databases.map((db) => rdsArn(`db:${replicaPrefixes[db]}-*`))
      : [rdsArn('db:none-configured')],
    // A replica cluster and its writer instance share the replica name (instance and cluster
    // identifiers are separate namespaces in RDS).
    replicaClusters: clusters.map((db) => rdsArn(`cluster:${replicaPrefixes[db]}-*`)),
    clusterWriters: clusters.map((db) => rdsArn(`db:${replicaPrefixes[db]}-*`)),
    sharedClusterSnapshots: arn('rds', sourceRegion, sourceAccountId, 'cluster-snapshot:*'),
    clusterSnapshotCopies: rdsArn(`cluster-snapshot:${settings.clusterSnapshotPrefix}-*`),
    anyClusterSnapshot: rdsArn('cluster-snapshot:*'),
    anyCluster: rdsArn('cluster:*'),
    clusterParameterGroup: rdsArn(
      dbClusterParameterGroupName ? `cluster-pg:${dbClusterParameterGroupName}` : 'cluster-pg:default*',
    ),
    clusterInstanceParameterGroup: rdsArn(
      clusterInstanceParameterGroupName ? `pg:${clusterInstanceParameterGroupName}` : 'pg:default*',
    ),
    finalSnapshots: databases.length
      ? databases.map((db) => rdsArn(`snapshot:${replicaPrefixes[db]}-*`))
      : [rdsArn('snapshot:none-configured')],
    subnetGroup: rdsArn(`subgrp:${dbSubnetGroupName}`),
    // Without an explicit group RDS uses the engine's default group (`default.<family>`,
    // `default:<engine>-<major>`), as in AWS's own CreateDBInstance policy example.
    parameterGroup: rdsArn(dbParameterGroupName ? `pg:${dbParameterGroupName}` : 'pg:default*'),
    optionGroup: rdsArn(optionGroupName ? `og:${optionGroupName}` : 'og:default*'),
    // Step Functions execution ARNs of both state machines (the lock holder may be either).
    executions: ['replicate', 'rollback', 'replicate-cluster', 'rollback-cluster'].map((m) =>
      arn('states', null, null, `execution:${deploymentId}-${m}:*`),
    ),
    // RDS calls KMS on the caller's behalf in the Region it copies into (and, for a
    // cross-Region copy, in the source Region).
    kmsViaServices: [...new Set([region, sourceRegion])].map((r) => ({
      'Fn::Sub': `rds.${r}.\${AWS::URLSuffix}`,
    })),
    // Conditions that confine RDS writes to what carries this deployment's tag (tag keys cannot
    // be written as variables in YAML keys, hence built here).
    taggedByThisDeploymentOnCreate: {
      StringEquals: { [`aws:RequestTag/${contract.tagKeys.managedBy}`]: deploymentId },
    },
    taggedByThisDeployment: {
      StringEquals: { [`rds:db-tag/${contract.tagKeys.managedBy}`]: deploymentId },
    },
    clusterTaggedByThisDeployment: {
      StringEquals: { [`rds:cluster-tag/${contract.tagKeys.managedBy}`]: deploymentId },
    },
  };
  settings.iam.finalClusterSnapshots = clusters.map((db) =>
    rdsArn(`cluster-snapshot:${replicaPrefixes[db]}-*`),
  );
  // Cluster roles need at least one resource per statement even when no cluster is configured.
  const none = rdsArn('cluster:none-configured');
  settings.iam.clusterRestoreResources = [
    ...(clusters.length ? settings.iam.replicaClusters : [none]),
    settings.iam.clusterSnapshotCopies,
    settings.iam.subnetGroup,
    settings.iam.clusterParameterGroup,
  ];
  settings.iam.writerResources = [
    ...(clusters.length ? settings.iam.clusterWriters : [rdsArn('db:none-configured')]),
    ...(clusters.length ? settings.iam.replicaClusters : [none]),
    settings.iam.subnetGroup,
    settings.iam.clusterInstanceParameterGroup,
  ];
  settings.iam.replicaClustersOrNone = clusters.length ? settings.iam.replicaClusters : [none];
  settings.iam.clusterWritersOrNone = clusters.length
    ? settings.iam.clusterWriters
    : [rdsArn('db:none-configured')];
  settings.iam.finalClusterSnapshotsOrNone = clusters.length
    ? settings.iam.finalClusterSnapshots
    : [rdsArn('cluster-snapshot:none-configured')];
  settings.iam.clusterTagResources = [
    settings.iam.clusterSnapshotCopies,
    ...settings.iam.replicaClustersOrNone,
    ...settings.iam.clusterWritersOrNone,
    ...settings.iam.finalClusterSnapshotsOrNone,
  ];
  settings.iam.restoreResources = [
    ...settings.iam.replicaInstances,
    settings.iam.snapshotCopies,
    settings.iam.subnetGroup,
    settings.iam.parameterGroup,
    settings.iam.optionGroup,
  ];
  settings.iam.tagResources = [
    ...settings.iam.replicaInstances,
    settings.iam.snapshotCopies,
    ...settings.iam.finalSnapshots,
  ];
  // Execution roles of the Lambdas as `Fn::Sub` (a logical name or Fn::GetAtt would make the
  // Serverless Framework add a redundant DependsOn, which cfn-lint reports as W3005).
  settings.lambdaRoles = Object.fromEntries(
    ['Trigger', 'NameReplica', 'MergeSecret', 'SelectRetention'].map((f) => [
      f,
      { 'Fn::Sub': `\${${f}Role.Arn}` },
    ]),
  );
  settings.tagKeys = contract.tagKeys;
  settings.kinds = contract.kinds;
  return settings;
}

let cached;

/** All parameters, validated and normalised (memoised: every `${file(...)}` reference calls it). */
async function settings(ctx) {
  if (!cached) {
    cached = read(ctx);
    // A dependency that is not resolved yet rejects too: do not remember that.
    cached.catch(() => {
      cached = undefined;
    });
  }
  return cached;
}

module.exports = { settings, read, logicalName, ParameterError };
