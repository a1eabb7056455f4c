// The manual DB snapshot quota preflight (DESIGN.md safety invariant 5): before a run creates any
// snapshot it reads the account's usage and quota (rds:describeAccountAttributes, AccountQuotaName
// ManualSnapshots: Used and Max; 100 per Region unless raised, AWS-FACTS.md "Quotas") and stops
// with SnapshotQuotaWouldBeExceeded when Used + what the run needs > Max. Without it, the run gets
// as far as the RDS call that crosses the quota (SnapshotQuotaExceeded) and has to clean up.
//
// `sourceBranch` / `destinationBranch` are the one branch of each machine's "Check The Manual
// Snapshot Quota" Parallel state, called with
//   Parameters: { needed: <snapshots the run creates at most>, need: <what they are, for the Cause> }
// The branch ends normally when the run fits, and fails with SnapshotQuotaWouldBeExceeded (Cause:
// the account, the Region, the numbers and the fix) when it does not. Any other failure (the call
// itself failing after its retries) fails the state too: the run never starts blind.
//
//   destinationNeed / destinationNeedText
//       what one destination run creates: the copy of the shared snapshot, plus the final snapshot
//       of the replica its retention retires when finalSnapshotOnDelete is on (those are kept).
//
// What the source needs is counted by its `replicate` machine (statemachines/source-replicate.asl.yml):
// per database of the run an intermediate snapshot and a shared copy exist at the same time. The
// copies it keeps (keepSharedSnapshots) already exist, so they are in Used.
//
// A quota the account does not report (no ManualSnapshots entry) cannot be checked: the run goes on
// and RDS's own refusal remains the backstop. Inferred: Used counts snapshots being created, copied
// or deleted too; the check is therefore conservative while one of them is in flight.

const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const QUOTA_NAME = 'ManualSnapshots';
const ERROR = 'SnapshotQuotaWouldBeExceeded';

// DB cluster snapshots have a quota of their own; its name in DescribeAccountAttributes is inferred
// (ManualClusterSnapshots, as the RDS quotas list them). A name the account does not report leaves the
// run unchecked, as above.
const KINDS = {
  instance: { quota: QUOTA_NAME, what: 'manual DB snapshot', serviceQuota: 'Manual DB instance snapshots' },
  cluster: {
    quota: 'ManualClusterSnapshots',
    what: 'manual DB cluster snapshot',
    serviceQuota: 'Manual DB cluster snapshots',
  },
};

function branch(retry, kind = 'instance') {
  const { quota, what, serviceQuota } = KINDS[kind];
  return {
    StartAt: 'Read The Manual Snapshot Quota',
    States: {
      'Read The Manual Snapshot Quota': {
        Type: 'Task',
        Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:states:::aws-sdk:rds:describeAccountAttributes' },
        Parameters: {},
        ResultSelector: {
          'used.$': `$.AccountQuotas[?(@.AccountQuotaName == '${quota}')].Used`,
          'max.$': `$.AccountQuotas[?(@.AccountQuotaName == '${quota}')].Max`,
        },
        ResultPath: '$.quota',
        Retry: retry,
        Next: 'Is The Quota Reported?',
      },
      'Is The Quota Reported?': {
        Type: 'Choice',
        Choices: [
          {
            And: [
              { Variable: '$.quota.used[0]', IsNumeric: true },
              { Variable: '$.quota.max[0]', IsNumeric: true },
            ],
            Next: 'Add What This Run Needs',
          },
        ],
        Default: 'The Quota Cannot Be Checked',
      },
      'The Quota Cannot Be Checked': { Type: 'Succeed' },
      'Add What This Run Needs': {
        Type: 'Pass',
        Parameters: {
          'used.$': '$.quota.used[0]',
          'max.$': '$.quota.max[0]',
          'needed.$': '$.needed',
          'need.$': '$.need',
          'after.$': 'States.MathAdd($.quota.used[0], $.needed)',
        },
        Next: 'Does The Run Fit In The Quota?',
      },
      'Does The Run Fit In The Quota?': {
        Type: 'Choice',
        Choices: [{ Variable: '$.after', NumericGreaterThanPath: '$.max', Next: 'Explain The Quota' }],
        Default: 'The Run Fits In The Quota',
      },
      'The Run Fits In The Quota': { Type: 'Succeed' },
      'Explain The Quota': {
        Type: 'Pass',
        Parameters: {
          'cause.$':
            `States.Format('the ${what} quota of account #{AWS::AccountId} in #{AWS::Region} ` +
            `(RDS quota ${quota}) would be exceeded: {} of {} used, and this run needs {} more ({}); ` +
            'nothing was created. Delete manual snapshots that are no longer needed, or request a quota ' +
            `increase in Service Quotas (Amazon RDS, ${serviceQuota}), then run again', ` +
            '$.used, $.max, $.needed, $.need)',
        },
        Next: 'Stop Before The Quota Is Exceeded',
      },
      'Stop Before The Quota Is Exceeded': { Type: 'Fail', Error: ERROR, CausePath: '$.cause' },
    },
  };
}

async function finalSnapshotOnDelete(ctx) {
  const { settings } = require('../../config/destination-params.js');
  return (await settings(ctx)).finalSnapshotOnDelete === true;
}

module.exports = {
  ERROR,
  QUOTA_NAME,
  sourceBranch: async () => branch(require('./source-retry.js').rds),
  destinationBranch: async () => {
    const yaml = require('yaml');
    const retries = yaml.parse(readFileSync(join(__dirname, 'destination-retry.yml'), 'utf8'));
    return branch(retries.rds);
  },
  sourceClusterBranch: async () => branch(require('./source-retry.js').rds, 'cluster'),
  destinationClusterBranch: async () => {
    const yaml = require('yaml');
    const retries = yaml.parse(readFileSync(join(__dirname, 'destination-retry.yml'), 'utf8'));
    return branch(retries.rds, 'cluster');
  },
  destinationNeed: async (ctx) => ((await finalSnapshotOnDelete(ctx)) ? 2 : 1),
  destinationNeedText: async (ctx) =>
    (await finalSnapshotOnDelete(ctx))
      ? 'the copy of the shared snapshot, and the final snapshot of the replica retention retires'
      : 'the copy of the shared snapshot',
};
