// Packaged variants that more than one test file uses (each distinct variant is one `sls package`).

// Every optional parameter set: given secret and keys instead of created ones, the optional
// restore settings, final snapshots and an e-mail subscription.
export const GIVEN_SECRET = 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:prod/orders-db-AbCdEf';
export const GIVEN_KEY = 'arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab';
export const SOURCE_KEY = 'arn:aws:kms:eu-west-1:111111111111:key/abcd1234-12ab-34cd-56ef-1234567890ab';
export const EVERYTHING = {
  databases: 'orders-db,billing-db',
  secretArns: `orders-db=${GIVEN_SECRET}`,
  kmsKeyArn: GIVEN_KEY,
  sourceKmsKeyArn: SOURCE_KEY,
  dbParameterGroupName: 'replica-postgres16',
  optionGroupName: 'replica-options',
  finalSnapshotOnDelete: 'true',
  notificationEmail: 'dba-oncall@example.com',
  secretKmsKeyArns: 'arn:aws:kms:eu-west-1:222222222222:key/0f1e2d3c-12ab-34cd-56ef-1234567890ab',
  clusters: 'orders-aurora',
  dbClusterParameterGroupName: 'replica-aurora-postgresql16',
  serverlessV2MinCapacity: '0.5',
  serverlessV2MaxCapacity: '4',
};
