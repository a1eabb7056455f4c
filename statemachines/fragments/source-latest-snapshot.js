// Finding the snapshot a `latest` run starts from (issue 12): the newest `available` automated
// snapshot (RDS backups, `rds:<db>-<time>`) or AWS Backup snapshot (`awsbackup:job-<uuid>`) of the
// instance, and whether it is younger than maxSnapshotAgeHours. Such snapshots cannot be shared, so the
// run copies the one found once, with the shared key, into its shared copy: one RDS phase instead of a
// new snapshot plus a re-key copy (AWS-FACTS.md, "Copy/share rules").
//
// `branch` is the one branch of the "Find The Newest Backup" Parallel state of
// statemachines/source-replicate-database.asl.yml, called with
//   Parameters: { database, now: $$.State.EnteredTime, maxAgeMinutes }
// Its result is one of
//   {found: true,  snapshot: {snapshotId, snapshotArn, snapshotType, snapshotCreateTime}, ageMinutes}
//   {found: false, newest:   {...the same...}, ageMinutes}      only older ones exist
//   {found: false}                                              none at all (or none available)
//
// RDS returns snapshots in no documented order and JSONPath has neither sorting nor a maximum, so
// the branch walks the snapshots of each type once, keeping the newest `available` one (Choice rules
// compare timestamps). A walk costs about 10 history events per snapshot: 7 daily automated snapshots
// cost about 70. Only the first page (100 snapshots per type, the DescribeDBSnapshots default) is read.
// A filter or wildcard JSONPath over an empty list fails in the offline executor (and its behaviour on
// AWS is not documented), so the walk reads the list by index only.
//
// The age is measured in whole minutes with statemachines/fragments/minutes.js (JSONPath has no date
// arithmetic); its states are renamed here, as state names are unique across a whole definition and
// the retention Map of the same machine uses that fragment too.

const { ageBranch } = require('./minutes.js');

const TYPES = ['automated', 'awsbackup'];
const NOTHING_YET = '2000-01-01T00:00:00Z'; // older than any snapshot the twin or RDS reports
// The snapshot chosen, as both reports give it (the one to copy, or the newest one too old).
const BEST = {
  'snapshotId.$': '$.best.snapshotId',
  'snapshotArn.$': '$.best.snapshotArn',
  'snapshotType.$': '$.best.snapshotType',
  'snapshotCreateTime.$': '$.best.snapshotCreateTime',
};

/** Appends ` (<suffix>)` to every state name of a branch. */
function renamed(branch, suffix) {
  const n = (name) => `${name} (${suffix})`;
  const states = {};
  for (const [name, state] of Object.entries(branch.States)) {
    states[n(name)] = { ...state, ...(state.Next ? { Next: n(state.Next) } : {}) };
  }
  return { StartAt: n(branch.StartAt), States: states };
}

async function branch() {
  const retry = require('./source-retry.js').rds;
  return {
    StartAt: 'Start The Search For Backups',
    States: {
      'Start The Search For Backups': {
        Type: 'Pass',
        Parameters: {
          'database.$': '$.database',
          'now.$': '$.now',
          'maxAgeMinutes.$': '$.maxAgeMinutes',
          search: { types: TYPES, type: 0, index: 0 },
          best: { found: false, snapshotCreateTime: NOTHING_YET },
        },
        Next: 'Describe The Backups Of One Type',
      },
      'Describe The Backups Of One Type': {
        Type: 'Task',
        Comment: 'SnapshotType automated, then awsbackup: one type per call (DescribeDBSnapshots).',
        Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:states:::aws-sdk:rds:describeDBSnapshots' },
        Parameters: {
          'DbInstanceIdentifier.$': '$.database',
          'SnapshotType.$': 'States.ArrayGetItem($.search.types, $.search.type)',
        },
        ResultSelector: { 'snapshots.$': '$.DbSnapshots', 'count.$': 'States.ArrayLength($.DbSnapshots)' },
        ResultPath: '$.page',
        Retry: retry,
        Next: 'Is There Another Backup Of This Type?',
      },
      'Is There Another Backup Of This Type?': {
        Type: 'Choice',
        Choices: [
          {
            Variable: '$.search.index',
            NumericLessThanPath: '$.page.count',
            Next: 'Look At The Next Backup',
          },
        ],
        Default: 'Is There Another Type?',
      },
      'Look At The Next Backup': {
        Type: 'Pass',
        Parameters: {
          'types.$': '$.search.types',
          'type.$': '$.search.type',
          'index.$': 'States.MathAdd($.search.index, 1)',
          'candidate.$': 'States.ArrayGetItem($.page.snapshots, $.search.index)',
        },
        ResultPath: '$.search',
        Next: 'Is This Backup Available?',
      },
      'Is This Backup Available?': {
        Type: 'Choice',
        Choices: [
          {
            And: [
              { Variable: '$.search.candidate.Status', StringEquals: 'available' },
              { Variable: '$.search.candidate.SnapshotCreateTime', IsPresent: true },
            ],
            Next: 'Is This Backup The Newest So Far?',
          },
        ],
        Default: 'Is There Another Backup Of This Type?',
      },
      'Is This Backup The Newest So Far?': {
        Type: 'Choice',
        Choices: [
          {
            Variable: '$.search.candidate.SnapshotCreateTime',
            TimestampGreaterThanPath: '$.best.snapshotCreateTime',
            Next: 'Keep It As The Newest Backup',
          },
        ],
        Default: 'Is There Another Backup Of This Type?',
      },
      'Keep It As The Newest Backup': {
        Type: 'Pass',
        Parameters: {
          found: true,
          'snapshotId.$': '$.search.candidate.DbSnapshotIdentifier',
          'snapshotArn.$': '$.search.candidate.DbSnapshotArn',
          'snapshotType.$': '$.search.candidate.SnapshotType',
          'snapshotCreateTime.$': '$.search.candidate.SnapshotCreateTime',
        },
        ResultPath: '$.best',
        Next: 'Is There Another Backup Of This Type?',
      },
      'Is There Another Type?': {
        Type: 'Choice',
        Choices: [
          { Variable: '$.search.type', NumericLessThan: TYPES.length - 1, Next: 'Turn To The Next Type' },
        ],
        Default: 'Was A Backup Found?',
      },
      'Turn To The Next Type': {
        Type: 'Pass',
        Parameters: { 'types.$': '$.search.types', 'type.$': 'States.MathAdd($.search.type, 1)', index: 0 },
        ResultPath: '$.search',
        Next: 'Describe The Backups Of One Type',
      },
      'Was A Backup Found?': {
        Type: 'Choice',
        Choices: [
          { Variable: '$.best.found', BooleanEquals: true, Next: 'Measure The Age Of The Newest Backup' },
        ],
        Default: 'Report That There Is No Backup',
      },
      'Report That There Is No Backup': { Type: 'Pass', Result: { found: false }, End: true },
      'Measure The Age Of The Newest Backup': {
        Type: 'Parallel',
        Comment: 'statemachines/fragments/minutes.js: whole minutes since 2000-01-01.',
        Parameters: {
          'since.$': '$.best.snapshotCreateTime',
          'now.$': '$.now',
          'graceMinutes.$': '$.maxAgeMinutes',
        },
        Branches: [renamed(await ageBranch(), 'backup age')],
        ResultSelector: {
          'tooOldFromMinute.$': '$[0].deletableFromMinute',
          'nowMinute.$': '$[0].nowMinute',
          'ageMinutes.$':
            "States.MathAdd($[0].nowMinute, States.StringToJson(States.Format('-{}', $[0].sinceMinute)))",
        },
        ResultPath: '$.age',
        Next: 'Is The Newest Backup Recent Enough?',
      },
      'Is The Newest Backup Recent Enough?': {
        Type: 'Choice',
        Choices: [
          {
            Variable: '$.age.tooOldFromMinute',
            NumericGreaterThanPath: '$.age.nowMinute',
            Next: 'Report The Recent Backup',
          },
        ],
        Default: 'Report That The Newest Backup Is Too Old',
      },
      'Report The Recent Backup': {
        Type: 'Pass',
        Parameters: {
          found: true,
          snapshot: BEST,
          'ageMinutes.$': '$.age.ageMinutes',
        },
        End: true,
      },
      'Report That The Newest Backup Is Too Old': {
        Type: 'Pass',
        Parameters: {
          found: false,
          newest: BEST,
          'ageMinutes.$': '$.age.ageMinutes',
        },
        End: true,
      },
    },
  };
}

module.exports = { TYPES, branch, renamed };
