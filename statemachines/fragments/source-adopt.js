// Adopting a snapshot a retried create met (issue 9, point 4): createDBSnapshot and copyDBSnapshot
// are not idempotent, so when a first attempt succeeded but its response was lost, the retry fails
// with Rds.DbSnapshotAlreadyExistsException. The names are unique to the run (deployment id, database,
// run token), so the snapshot is almost certainly the run's own; it is adopted only if it also carries
// the run's tags (run id and deployment, src/contracts/contract.json), because adopting means
// copying, sharing and finally deleting it.
//
// `intermediateBranch` / `sharedBranch` are the one branch of the "Adopt The Existing Source
// Snapshot" / "Adopt The Existing Shared Copy" Parallel states of
// statemachines/source-replicate-database.asl.yml, called with
//   Parameters: { snapshotId: <the name the run chose>, runId: <the run id> }
// It ends normally when the snapshot is the run's own, and fails with SnapshotNotCreatedByThisRun
// otherwise (then the run must not touch it: its clean-up skips that name).

const contract = require('../../src/contracts/contract.json');

const ERROR = 'SnapshotNotCreatedByThisRun';

async function branch(ctx, noun, cluster = false) {
  // State names are unique across a whole definition, branches included: each use names its noun.
  const n = (name) => `${name} (${noun})`;
  const deploymentId = `${await ctx.resolveVariable('self:service')}-${await ctx.resolveVariable('sls:stage')}`;
  const valuesOf = (key) => `$.snapshot.TagList[?(@.Key == '${key}')].Value`;
  return {
    StartAt: n('Describe The Existing Snapshot'),
    States: {
      [n('Describe The Existing Snapshot')]: {
        Type: 'Task',
        Resource: {
          'Fn::Sub': `arn:\${AWS::Partition}:states:::aws-sdk:rds:${cluster ? 'describeDBClusterSnapshots' : 'describeDBSnapshots'}`,
        },
        Parameters: cluster
          ? { 'DbClusterSnapshotIdentifier.$': '$.snapshotId' }
          : { 'DbSnapshotIdentifier.$': '$.snapshotId' },
        ResultSelector: { 'snapshot.$': cluster ? '$.DbClusterSnapshots[0]' : '$.DbSnapshots[0]' },
        ResultPath: '$.existing',
        Retry: require('./source-retry.js').rds,
        Next: n('Has It Tags?'),
      },
      [n('Has It Tags?')]: {
        Type: 'Choice',
        Choices: [{ Variable: '$.existing.snapshot.TagList[0]', IsPresent: true, Next: n('Read Its Tags') }],
        Default: n('Note That It Has No Tags'),
      },
      [n('Note That It Has No Tags')]: {
        Type: 'Pass',
        Result: [],
        ResultPath: '$.existing.snapshot.TagList',
        Next: n('Read Its Tags'),
      },
      [n('Read Its Tags')]: {
        Type: 'Pass',
        InputPath: '$.existing',
        Parameters: {
          'runIds.$': valuesOf(contract.tagKeys.runId),
          'managedBy.$': valuesOf(contract.tagKeys.managedBy),
        },
        ResultPath: '$.tags',
        Next: n('Compare Its Tags'),
      },
      [n('Compare Its Tags')]: {
        Type: 'Pass',
        Parameters: {
          'snapshotId.$': '$.snapshotId',
          'runId.$': '$.runId',
          'tagList.$': '$.existing.snapshot.TagList',
          'sameRun.$': 'States.ArrayContains($.tags.runIds, $.runId)',
          'sameDeployment.$': `States.ArrayContains($.tags.managedBy, '${deploymentId}')`,
        },
        Next: n('Is It The Snapshot Of This Run?'),
      },
      [n('Is It The Snapshot Of This Run?')]: {
        Type: 'Choice',
        Choices: [
          {
            And: [
              { Variable: '$.sameRun', BooleanEquals: true },
              { Variable: '$.sameDeployment', BooleanEquals: true },
            ],
            Next: n('Adopt It'),
          },
        ],
        Default: n('Explain A Foreign Snapshot'),
      },
      [n('Adopt It')]: { Type: 'Succeed' },
      [n('Explain A Foreign Snapshot')]: {
        Type: 'Pass',
        Parameters: {
          'cause.$':
            "States.Format('snapshot {} already exists but was not created by this run: its tags are {} (expected " +
            `${contract.tagKeys.runId} = {} and ${contract.tagKeys.managedBy} = ${deploymentId}); ` +
            'the run left it untouched and created nothing under its name. Check who made it; delete or ' +
            "rename it if it is not needed, then run again', $.snapshotId, " +
            'States.JsonToString($.tagList), $.runId)',
        },
        Next: n('Refuse A Foreign Snapshot'),
      },
      [n('Refuse A Foreign Snapshot')]: { Type: 'Fail', Error: ERROR, CausePath: '$.cause' },
    },
  };
}

module.exports = {
  ERROR,
  intermediateBranch: (ctx) => branch(ctx, 'source snapshot'),
  sharedBranch: (ctx) => branch(ctx, 'shared copy'),
  // the same for DB cluster snapshots (statemachines/source-snapshot-cluster.asl.yml)
  clusterIntermediateBranch: (ctx) => branch(ctx, 'source cluster snapshot', true),
  clusterSharedBranch: (ctx) => branch(ctx, 'shared cluster copy', true),
};
