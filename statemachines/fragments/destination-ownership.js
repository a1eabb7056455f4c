// Did this run create that resource? Asked before `replicate` adopts a snapshot copy or a replica
// whose create met ...AlreadyExists (its first attempt succeeded, the response was lost), and before
// clean-up deletes a replica whose name the run recorded: only what carries this deployment's
// `managed-by` tag and this run's `run-id` tag (src/contracts/contract.json) was made by this run.
//
// Each export is the only branch of one Parallel state (state names are unique per definition,
// hence one branch per place, named after what it checks), called with
//   Parameters: { resource.$: <DbSnapshots[0] or DbInstances[0] of a describe>, runId.$: $.message.runId }
// The branch ends normally when both tags are there and fails with NotCreatedByThisRun otherwise.
// The tags are compared with States.ArrayContains, not a JSONPath filter: a filter that matches
// nothing is an error (States.Runtime) in some executors, and the tags of a foreign resource are
// exactly that case. (That ArrayContains compares objects by value is inferred from its definition.)

const { settings } = require('../../config/destination-params.js');
const contract = require('../../src/contracts/contract.json');

async function branch(ctx, what) {
  const s = await settings(ctx);
  const name = (text) => `${text} (${what})`;
  return {
    StartAt: name('Has It Any Tags?'),
    States: {
      [name('Has It Any Tags?')]: {
        Type: 'Choice',
        Choices: [
          { Variable: '$.resource.TagList[0]', IsPresent: true, Next: name('Expect The Tags Of This Run') },
        ],
        Default: name('Not Created By This Run'),
      },
      [name('Expect The Tags Of This Run')]: {
        Type: 'Pass',
        Parameters: {
          'tags.$': '$.resource.TagList',
          managedBy: { Key: contract.tagKeys.managedBy, Value: s.deploymentId },
          runId: { Key: contract.tagKeys.runId, 'Value.$': '$.runId' },
        },
        Next: name('Look For The Tags Of This Run'),
      },
      [name('Look For The Tags Of This Run')]: {
        Type: 'Pass',
        Parameters: {
          'managedByThisDeployment.$': 'States.ArrayContains($.tags, $.managedBy)',
          'createdByThisRun.$': 'States.ArrayContains($.tags, $.runId)',
        },
        Next: name('Does It Carry Them?'),
      },
      [name('Does It Carry Them?')]: {
        Type: 'Choice',
        Choices: [
          {
            And: [
              { Variable: '$.managedByThisDeployment', BooleanEquals: true },
              { Variable: '$.createdByThisRun', BooleanEquals: true },
            ],
            Next: name('Created By This Run'),
          },
        ],
        Default: name('Not Created By This Run'),
      },
      [name('Created By This Run')]: { Type: 'Succeed' },
      [name('Not Created By This Run')]: {
        Type: 'Fail',
        Error: 'NotCreatedByThisRun',
        Cause: `the ${what.toLowerCase()} does not carry the managed-by tag of this deployment and the run-id tag of this run`,
      },
    },
  };
}

module.exports = {
  copy: (ctx) => branch(ctx, 'Copy'),
  existingInstance: (ctx) => branch(ctx, 'Existing Instance'),
  abandonedReplica: (ctx) => branch(ctx, 'Abandoned Replica'),
  // statemachines/destination-replicate-cluster.asl.yml
  clusterCopy: (ctx) => branch(ctx, 'Cluster Snapshot Copy'),
  existingCluster: (ctx) => branch(ctx, 'Existing Cluster'),
  existingWriter: (ctx) => branch(ctx, 'Existing Writer'),
  abandonedCluster: (ctx) => branch(ctx, 'Abandoned Cluster'),
};
