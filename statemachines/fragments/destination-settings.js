// The parts of the destination state machines that depend on the configuration, generated at
// package time from the validated parameters (config/destination-params.js), so that the
// definitions contain exactly the configured settings: a parameter that is not set is absent
// from the call, not sent as null or empty, and there is no Choice between copies of a Task.
//
//   lookupBranchForMessage / lookupBranchForRollback
//       the one branch of the "Look Up The Database Settings" Parallel state: a Choice on the
//       database with one Pass per configured database that returns its settings
//       ({secretId, deletionProtection}); any other database fails with InvalidInput.
//       (JSONPath cannot index a map by a value from the input; this is the lookup instead.)
//   copyParameters          Parameters of "Copy The Shared Snapshot" (copyDBSnapshot)
//   optionGroupBranch       the one branch of "Check The Source Option Group" (cross-Region only)
//   restoreParameters       Parameters of "Restore The Replica" (restoreDBInstanceFromDBSnapshot)
//   deleteReplicaParameters Parameters of "Delete The Old Replica" (deleteDBInstance)
//   failedSnapshotStatuses / failedInstanceStatuses
//       the `Or` rules of the polling Choices that end a wait loop as a failure.

const { settings } = require('../../config/destination-params.js');
const contract = require('../../src/contracts/contract.json');

// Terminal statuses (AWS-FACTS.md "RDS"): a wait loop stops at once on any of these.
// `deleting` is ours: something else is removing what we wait for.
const FAILED_SNAPSHOT_STATUSES = ['failed', 'deleting'];
const FAILED_INSTANCE_STATUSES = [
  'failed',
  'incompatible-restore',
  'incompatible-parameters',
  'incompatible-network',
  'incompatible-option-group',
  'inaccessible-encryption-credentials',
  'inaccessible-encryption-credentials-recoverable',
  'restore-error',
  'storage-full',
  'deleting',
];

/**
 * The tags of what a run creates (a snapshot copy, a replica instance, cluster or writer): this
 * deployment's, never the source's (a restore would otherwise inherit them), with the run's facts
 * from the message (src/contracts/contract.json names the keys).
 */
function runTags(s, kind) {
  const t = contract.tagKeys;
  return [
    { Key: t.managedBy, Value: s.deploymentId },
    { Key: t.kind, Value: kind },
    { Key: t.sourceDatabase, 'Value.$': '$.database' },
    { Key: t.sourceAccount, 'Value.$': '$.message.sourceAccountId' },
    { Key: t.snapshotTime, 'Value.$': '$.message.snapshotCreateTime' },
    { Key: t.runId, 'Value.$': '$.message.runId' },
  ];
}

function anyOf(variable, statuses) {
  return statuses.map((status) => ({ Variable: variable, StringEquals: status }));
}

async function lookupBranch(ctx, field, kind = 'instance') {
  const s = await settings(ctx);
  const secrets = kind === 'cluster' ? s.clusterSecrets : s.secrets;
  const configured = kind === 'cluster' ? s.clusters.join(',') || '(none)' : s.databasesCsv;
  const parameter = kind === 'cluster' ? 'clusters' : 'databases';
  if (secrets.length === 0) {
    return {
      StartAt: 'Refuse An Unconfigured Database',
      States: {
        'Refuse An Unconfigured Database': {
          Type: 'Fail',
          Error: 'InvalidInput',
          Cause: `field '${field}' names a database this deployment does not replicate (no ${parameter} configured); add it to the ${parameter} parameter and redeploy`,
        },
      },
    };
  }
  const states = {
    'Is It A Configured Database?': {
      Type: 'Choice',
      Choices: secrets.map(({ database }) => ({
        Variable: '$.database',
        StringEquals: database,
        Next: `Settings Of ${database}`,
      })),
      Default: 'Refuse An Unconfigured Database',
    },
    'Refuse An Unconfigured Database': {
      Type: 'Fail',
      Error: 'InvalidInput',
      Cause:
        `field '${field}' names a database this deployment does not replicate ` +
        `(configured: ${configured}); add it to the ${parameter} parameter and redeploy, or fix the input`,
    },
  };
  for (const secret of secrets) {
    states[`Settings Of ${secret.database}`] = {
      Type: 'Pass',
      Result: { secretId: secret.ref, deletionProtection: s.deletionProtection },
      End: true,
    };
  }
  return { StartAt: 'Is It A Configured Database?', States: states };
}

module.exports = {
  FAILED_SNAPSHOT_STATUSES,
  FAILED_INSTANCE_STATUSES,

  lookupBranchForMessage: (ctx) => lookupBranch(ctx, 'sourceDbInstanceIdentifier'),
  lookupBranchForRollback: (ctx) => lookupBranch(ctx, 'database'),
  lookupBranchForCluster: (ctx) => lookupBranch(ctx, 'sourceDbIdentifier', 'cluster'),
  lookupBranchForClusterRollback: (ctx) => lookupBranch(ctx, 'database', 'cluster'),

  // Terminal DB cluster statuses (RDS user guide, "Viewing an Amazon Aurora DB cluster"; `deleting` ours).
  failedClusterStatuses: async () =>
    anyOf('$.observed.status', [
      'failed',
      'incompatible-restore',
      'incompatible-parameters',
      'incompatible-network',
      'inaccessible-encryption-credentials',
      'inaccessible-encryption-credentials-recoverable',
      'deleting',
    ]),

  // Parameters of "Restore The Cluster" (restoreDBClusterFromSnapshot): the configured settings, this
  // deployment's replica tags, unprotected until it is available (as for instances).
  async clusterRestoreParameters(ctx) {
    const s = await settings(ctx);
    return {
      'DbClusterIdentifier.$': '$.names.dbClusterIdentifier',
      'SnapshotIdentifier.$': '$.copy.dbClusterSnapshotIdentifier',
      'Engine.$': '$.message.engine',
      DbSubnetGroupName: s.dbSubnetGroupName,
      VpcSecurityGroupIds: s.vpcSecurityGroupIds,
      ...(s.dbClusterParameterGroupName
        ? { DbClusterParameterGroupName: s.dbClusterParameterGroupName }
        : {}),
      ...(s.serverlessV2MinCapacity !== undefined
        ? {
            ServerlessV2ScalingConfiguration: {
              MinCapacity: s.serverlessV2MinCapacity,
              MaxCapacity: s.serverlessV2MaxCapacity,
            },
          }
        : {}),
      DeletionProtection: false,
      CopyTagsToSnapshot: true,
      Tags: runTags(s, contract.kinds.replica),
    };
  },

  // Parameters of "Create The Writer" (createDBInstance in the restored cluster, same name).
  async writerParameters(ctx) {
    const s = await settings(ctx);
    return {
      'DbInstanceIdentifier.$': '$.restored.dbClusterIdentifier',
      'DbClusterIdentifier.$': '$.restored.dbClusterIdentifier',
      'Engine.$': '$.message.engine',
      DbInstanceClass: s.clusterInstanceClass,
      ...(s.clusterInstanceParameterGroupName
        ? { DbParameterGroupName: s.clusterInstanceParameterGroupName }
        : {}),
      PubliclyAccessible: s.publiclyAccessible,
      Tags: runTags(s, contract.kinds.replica),
    };
  },

  failedSnapshotStatuses: async () => anyOf('$.observed.status', FAILED_SNAPSHOT_STATUSES),
  failedInstanceStatuses: async () => anyOf('$.observed.status', FAILED_INSTANCE_STATUSES),

  // One call crosses account and Region (docs/ARCHITECTURE.md, "Destinations in another Region"):
  // the shared snapshot's ARN and this account's key; no PreSignedUrl (ignored outside GovCloud).
  // A cross-Region deployment with optionGroupName gives the copy that option group, which RDS needs
  // when the source instance is on a non-default one.
  async copyParameters(ctx) {
    const s = await settings(ctx);
    return {
      'SourceDBSnapshotIdentifier.$': '$.message.sharedSnapshotArn',
      'TargetDBSnapshotIdentifier.$': '$.copy.dbSnapshotIdentifier',
      KmsKeyId: s.kmsKey,
      ...(s.crossRegion && s.optionGroupName ? { OptionGroupName: s.optionGroupName } : {}),
      CopyTags: false,
      Tags: runTags(s, contract.kinds.snapshotCopy),
    };
  },

  // Input {database, message}. A message naming a non-default option group (optionGroupName) cannot
  // be copied into this Region without an option group of this Region: without the parameter
  // optionGroupName such a message fails with OptionGroupRequired before anything is created.
  async optionGroupBranch(ctx) {
    const s = await settings(ctx);
    if (!s.crossRegion || s.optionGroupName) {
      return {
        StartAt: 'The Copy Can Take The Option Group',
        States: { 'The Copy Can Take The Option Group': { Type: 'Succeed' } },
      };
    }
    return {
      StartAt: 'Is The Source On A Non-Default Option Group?',
      States: {
        'Is The Source On A Non-Default Option Group?': {
          Type: 'Choice',
          Choices: [
            {
              Variable: '$.message.optionGroupName',
              IsPresent: true,
              Next: 'Explain The Missing Option Group',
            },
          ],
          Default: 'The Copy Can Take The Option Group',
        },
        'The Copy Can Take The Option Group': { Type: 'Succeed' },
        'Explain The Missing Option Group': {
          Type: 'Pass',
          Parameters: {
            Error: 'OptionGroupRequired',
            'Cause.$':
              `States.Format('the source DB instance {} uses the option group {}, and RDS copies a snapshot of an ` +
              `instance on a non-default option group into another Region only with an option group of that Region; ` +
              `this deployment copies from ${s.sourceRegion} into ${s.region} and has no parameter optionGroupName. ` +
              `Create an option group for {} {} in ${s.region} (with the options of {}), set optionGroupName to it ` +
              `and redeploy (it is also the option group of the replicas). Nothing was created.', ` +
              '$.database, $.message.optionGroupName, $.message.engine, $.message.engineVersion, $.message.optionGroupName)',
          },
          Next: 'Refuse The Message',
        },
        'Refuse The Message': { Type: 'Fail', ErrorPath: '$.Error', CausePath: '$.Cause' },
      },
    };
  },

  async restoreParameters(ctx) {
    const s = await settings(ctx);
    return {
      'DbInstanceIdentifier.$': '$.names.dbInstanceIdentifier',
      'DbSnapshotIdentifier.$': '$.copy.dbSnapshotIdentifier',
      DbInstanceClass: s.dbInstanceClass,
      DbSubnetGroupName: s.dbSubnetGroupName,
      VpcSecurityGroupIds: s.vpcSecurityGroupIds,
      ...(s.dbParameterGroupName ? { DbParameterGroupName: s.dbParameterGroupName } : {}),
      ...(s.optionGroupName ? { OptionGroupName: s.optionGroupName } : {}),
      MultiAZ: s.multiAz,
      PubliclyAccessible: s.publiclyAccessible,
      // Restored unprotected on purpose: a replica that never goes live must be removable even
      // when it ends in a state where ModifyDBInstance is refused (incompatible-*). The state
      // machine turns protection on once the replica is available, before the secret moves.
      DeletionProtection: false,
      CopyTagsToSnapshot: true,
      Tags: runTags(s, contract.kinds.replica),
    };
  },

  async deleteReplicaParameters(ctx) {
    const s = await settings(ctx);
    return s.finalSnapshotOnDelete
      ? {
          'DbInstanceIdentifier.$': '$.id',
          SkipFinalSnapshot: false,
          'FinalDBSnapshotIdentifier.$': "States.Format('{}-final', $.id)",
          DeleteAutomatedBackups: true,
        }
      : { 'DbInstanceIdentifier.$': '$.id', SkipFinalSnapshot: true, DeleteAutomatedBackups: true };
  },
};
