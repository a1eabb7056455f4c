// Retry policies of the source state machine, one list per kind of call, referenced from
// statemachines/source-replicate.asl.yml as `Retry: ${file(./statemachines/fragments/source-retry.js):rds}`.
//
// Error names follow the Step Functions rules in ../shared/AWS-FACTS.md. The ones marked INFERRED
// follow from the documented rule (`<Service>.<Java exception class>`) but were not seen verbatim;
// they live here only, so a wrong name is corrected once.
//
// Why these errors and not `States.TaskFailed`: a missing snapshot, a full quota or a key that cannot
// be used never heals by waiting, so those fail at once and reach the clean-up path. RDS reports
// throttling (`Throttling`, "Rate exceeded") and other unmodelled errors as the generic
// `Rds.RdsException` (INFERRED, reported by a third party): that name also covers
// InvalidParameterValue, which is why its retries are few and short (about two minutes in all).
// Every policy uses exponential backoff with full jitter, so the 50 iterations of one execution do
// not retry in lockstep against the same API.

const backoff = (errors, intervalSeconds, maxAttempts, maxDelaySeconds) => ({
  ErrorEquals: errors,
  IntervalSeconds: intervalSeconds,
  BackoffRate: 2,
  MaxAttempts: maxAttempts,
  MaxDelaySeconds: maxDelaySeconds,
  JitterStrategy: 'FULL',
});

const rdsTransient = backoff(
  [
    'Rds.RdsException', // INFERRED: throttling and other unmodelled RDS errors
    'Rds.SdkClientException', // INFERRED: the call did not reach RDS or its answer got lost
    'States.Timeout',
  ],
  2,
  6,
  60,
);

module.exports = {
  /** Any RDS call. */
  rds: [rdsTransient],

  /** createDBSnapshot: the instance may be busy (automated backup, modification) for a while. */
  rdsInstanceBusy: [backoff(['Rds.InvalidDbInstanceStateException'], 60, 5, 900), rdsTransient],

  /** deleteDBSnapshot: a snapshot still being created or copied cannot be deleted yet. */
  rdsSnapshotBusy: [backoff(['Rds.InvalidDbSnapshotStateException'], 30, 4, 300), rdsTransient],

  /** createDBClusterSnapshot: the cluster is busy (backing up, modifying). */
  rdsClusterBusy: [backoff(['Rds.InvalidDbClusterStateException'], 60, 5, 900), rdsTransient],

  /** deleteDBClusterSnapshot: a cluster snapshot still being created or copied cannot be deleted yet. */
  rdsClusterSnapshotBusy: [backoff(['Rds.InvalidDbClusterSnapshotStateException'], 30, 4, 300), rdsTransient],

  /** Optimised DynamoDB integration (arn:aws:states:::dynamodb:*): Java SDK v1 class names. */
  dynamodb: [
    backoff(
      [
        'DynamoDB.ProvisionedThroughputExceededException',
        'DynamoDB.RequestLimitExceededException', // INFERRED
        'DynamoDB.ThrottlingException', // INFERRED
        'DynamoDB.InternalServerErrorException', // INFERRED
        'DynamoDB.AmazonDynamoDBException', // generic: unmodelled errors
        'States.Timeout',
      ],
      1,
      6,
      30,
    ),
  ],

  /** AWS SDK integration for DynamoDB (arn:aws:states:::aws-sdk:dynamodb:query). */
  dynamodbSdk: [
    backoff(
      [
        'DynamoDb.ProvisionedThroughputExceededException', // INFERRED
        'DynamoDb.RequestLimitExceededException', // INFERRED
        'DynamoDb.InternalServerErrorException', // INFERRED
        'DynamoDb.DynamoDbException', // INFERRED: unmodelled errors
        'DynamoDb.SdkClientException', // INFERRED
        'States.Timeout',
      ],
      1,
      6,
      30,
    ),
  ],

  /** Optimised SNS integration (arn:aws:states:::sns:publish). */
  sns: [
    backoff(
      [
        'SNS.ThrottledException', // INFERRED
        'SNS.KMSThrottlingException', // INFERRED
        'SNS.InternalErrorException', // INFERRED
        'SNS.AmazonSNSException', // INFERRED: unmodelled errors
        'States.Timeout',
      ],
      2,
      5,
      60,
    ),
  ],

  /** AWS SDK integration for Step Functions (arn:aws:states:::aws-sdk:sfn:describeExecution). */
  sfnSdk: [
    backoff(
      [
        'Sfn.SfnException', // INFERRED: throttling and other unmodelled errors
        'Sfn.SdkClientException', // INFERRED
        'States.Timeout',
      ],
      1,
      5,
      30,
    ),
  ],

  /**
   * Optimised integration arn:aws:states:::states:startExecution.sync:2 (the per-database child).
   * Only the start can be retried safely: a child that ran and failed reports its own outcome.
   */
  startExecution: [
    backoff(
      [
        'StepFunctions.ExecutionLimitExceededException', // INFERRED (Java SDK v1 class name)
        'StepFunctions.AWSStepFunctionsException', // INFERRED: throttling and other unmodelled errors
        'StepFunctions.SdkClientException', // INFERRED
      ],
      2,
      6,
      60,
    ),
  ],
};
