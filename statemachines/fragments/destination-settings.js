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

function anyOf(variable, statuses) {
  return statuses.map((status) => ({ Variable: variable, StringEquals: status }));
}

async function lookupBranch(ctx, field) {
  const s = await settings(ctx);
  const states = {
    'Is It A Configured Database?': {
      Type: 'Choice',
      Choices: s.secrets.map(({ database }) => ({
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
        `(configured: ${s.databasesCsv}); add it to the databases parameter and redeploy, or fix the input`,
    },
  };
  for (const secret of s.secrets) {
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

  failedSnapshotStatuses: async () => anyOf('$.observed.status', FAILED_SNAPSHOT_STATUSES),
  failedInstanceStatuses: async () => anyOf('$.observed.status', FAILED_INSTANCE_STATUSES),

  async restoreParameters(ctx) {
    const s = await settings(ctx);
    const t = contract.tagKeys;
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
      // This deployment's replica tags, never the source's (restore would otherwise inherit them).
      Tags: [
        { Key: t.managedBy, Value: s.deploymentId },
        { Key: t.kind, Value: contract.kinds.replica },
        { Key: t.sourceDatabase, 'Value.$': '$.database' },
        { Key: t.sourceAccount, 'Value.$': '$.message.sourceAccountId' },
        { Key: t.snapshotTime, 'Value.$': '$.message.snapshotCreateTime' },
        { Key: t.runId, 'Value.$': '$.message.runId' },
      ],
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
