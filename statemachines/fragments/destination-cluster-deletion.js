// Deleting a replica DB cluster (Aurora): RDS refuses to delete a cluster that still has DB
// instances, or whose deletion protection is on (RDS user guide, "Deleting Aurora DB clusters and
// DB instances"). So, in this order: turn deletion protection off when it is on, delete every
// member instance, wait until the cluster lists no member, delete the cluster. Used by retention,
// by the clean-up of a failed run (statemachines/destination-replicate-cluster.asl.yml) and by
// `rollback-cluster` never (it deletes nothing).
//
// `branch(noun)` is the only branch of a Parallel state, called with
//   Parameters: { id: <cluster identifier>, deletionProtection: <boolean>, members: [<instance ids>] }
// It ends normally once deleteDBCluster was accepted, and fails with the RDS error (or
// ClusterMembersTimedOut) otherwise. State names carry the noun: names are unique per definition.

const { settings } = require('../../config/destination-params.js');
const polling = require('./polling.js');
// The Retry policies of destination-retry.yml, read as they are (one definition of each policy).
const retry = require('yaml').parse(
  require('node:fs').readFileSync(require('node:path').join(__dirname, 'destination-retry.yml'), 'utf8'),
);

async function branch(ctx, noun) {
  const s = await settings(ctx);
  const n = (name) => `${name} (${noun})`;
  const rds = (action) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:states:::aws-sdk:rds:${action}` });
  return {
    StartAt: n('Is The Cluster Protected?'),
    States: {
      [n('Is The Cluster Protected?')]: {
        Type: 'Choice',
        Choices: [
          {
            Variable: '$.deletionProtection',
            BooleanEquals: true,
            Next: n('Turn Off Cluster Deletion Protection'),
          },
        ],
        Default: n('Delete The Cluster Members'),
      },
      [n('Turn Off Cluster Deletion Protection')]: {
        Type: 'Task',
        Resource: rds('modifyDBCluster'),
        Parameters: { 'DbClusterIdentifier.$': '$.id', DeletionProtection: false, ApplyImmediately: true },
        ResultPath: null,
        Retry: retry.rdsClusterBusy,
        Next: n('Delete The Cluster Members'),
      },
      [n('Delete The Cluster Members')]: {
        Type: 'Map',
        ItemsPath: '$.members',
        ItemSelector: { 'member.$': '$$.Map.Item.Value' },
        MaxConcurrency: 4,
        ItemProcessor: {
          ProcessorConfig: { Mode: 'INLINE' },
          StartAt: n('Delete A Cluster Member'),
          States: {
            [n('Delete A Cluster Member')]: {
              Type: 'Task',
              Resource: rds('deleteDBInstance'),
              Parameters: { 'DbInstanceIdentifier.$': '$.member', SkipFinalSnapshot: true },
              ResultPath: null,
              Retry: retry.rdsInstanceBusy,
              Catch: [
                {
                  ErrorEquals: ['Rds.DbInstanceNotFoundException'],
                  ResultPath: null,
                  Next: n('Member Gone'),
                },
              ],
              Next: n('Member Gone'),
            },
            [n('Member Gone')]: { Type: 'Succeed' },
          },
        },
        ResultPath: null,
        Next: n('Start Polling The Members'),
      },
      [n('Start Polling The Members')]: {
        Type: 'Pass',
        Parameters: await polling.start(ctx),
        ResultPath: '$.poll',
        Next: n('Wait For The Members'),
      },
      [n('Wait For The Members')]: {
        Type: 'Wait',
        SecondsPath: '$.poll.seconds',
        Next: n('Describe The Cluster Members'),
      },
      [n('Describe The Cluster Members')]: {
        Type: 'Task',
        Resource: rds('describeDBClusters'),
        Parameters: { 'DbClusterIdentifier.$': '$.id' },
        ResultSelector: { 'members.$': '$.DbClusters[0].DbClusterMembers' },
        ResultPath: '$.observed',
        Retry: retry.rds,
        Next: n('Are The Members Gone?'),
      },
      [n('Are The Members Gone?')]: {
        Type: 'Choice',
        Choices: [
          {
            Not: { Variable: '$.observed.members[0]', IsPresent: true },
            Next: n('Delete The Replica Cluster'),
          },
          {
            Variable: '$.poll.elapsed',
            NumericGreaterThanEqualsPath: '$.poll.maxSeconds',
            Next: n('Members Did Not Go'),
          },
        ],
        Default: n('Back Off The Members'),
      },
      [n('Back Off The Members')]: {
        Type: 'Pass',
        Parameters: await polling.backOff(ctx),
        ResultPath: '$.poll',
        Next: n('Wait For The Members'),
      },
      [n('Members Did Not Go')]: {
        Type: 'Fail',
        Error: 'ClusterMembersTimedOut',
        Cause:
          'the instances of the cluster were still being deleted when the longest wait (maxWaitMinutes) ended',
      },
      [n('Delete The Replica Cluster')]: {
        Type: 'Task',
        Comment: 'SkipFinalSnapshot unless the parameter finalSnapshotOnDelete is true.',
        Resource: rds('deleteDBCluster'),
        Parameters: s.finalSnapshotOnDelete
          ? {
              'DbClusterIdentifier.$': '$.id',
              SkipFinalSnapshot: false,
              'FinalDBSnapshotIdentifier.$': "States.Format('{}-final', $.id)",
            }
          : { 'DbClusterIdentifier.$': '$.id', SkipFinalSnapshot: true },
        ResultPath: null,
        Retry: retry.rdsClusterBusy,
        End: true,
      },
    },
  };
}

module.exports = {
  retention: (ctx) => branch(ctx, 'old replica'),
  cleanUp: (ctx) => branch(ctx, 'abandoned replica'),
};
