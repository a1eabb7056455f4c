// CloudWatch alarms as packaged (issue 15): every state machine of both services alarms on failed,
// timed-out, aborted and throttled executions, the trigger's failure queue alarms when it holds a
// message, and every alarm notifies the stack's operations topic, whose topic policy and key policy
// let CloudWatch (and only alarms of this stack and account) publish there.
import { type CfnTemplate, packageService, resourcesOfType } from '../../twin/src/package';

type Json = Record<string, unknown>;
const templates: Record<'source' | 'destination', CfnTemplate> = {} as never;

beforeAll(async () => {
  templates.source = (await packageService('source')).template;
  templates.destination = (await packageService('destination')).template;
}, 120_000);

const METRICS = ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted', 'ExecutionThrottled'];

describe.each(['source', 'destination'] as const)('%s', (side) => {
  test('every state machine has an alarm per bad outcome, notifying the operations topic', () => {
    const t = templates[side];
    const machines = resourcesOfType(t, 'AWS::StepFunctions::StateMachine').map(([id]) => id);
    expect(machines).toHaveLength(4);
    const alarms = resourcesOfType(t, 'AWS::CloudWatch::Alarm').map(([, r]) => r.Properties as Json);
    for (const machine of machines) {
      const mine = alarms.filter(
        (a) =>
          JSON.stringify(a.Dimensions) ===
          JSON.stringify([{ Name: 'StateMachineArn', Value: { Ref: machine } }]),
      );
      expect(mine.map((a) => a.MetricName).sort()).toEqual([...METRICS].sort());
      for (const a of mine) {
        expect(a).toMatchObject({
          Namespace: 'AWS/States',
          Statistic: 'Sum',
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          Period: 60,
          EvaluationPeriods: 1,
          TreatMissingData: 'notBreaching',
          AlarmActions: [{ Ref: 'OperationsTopic' }],
        });
        // CloudFormation names the alarm <stack>-<logical id>-<suffix>: what the topic policy allows
        expect(a.AlarmName).toBeUndefined();
      }
    }
  });

  test('the operations topic lets CloudWatch alarms of this stack and account publish, through its key', () => {
    const t = templates[side];
    const policies = resourcesOfType(t, 'AWS::SNS::TopicPolicy')
      .map(([, r]) => r.Properties as { Topics: unknown[]; PolicyDocument: { Statement: Json[] } })
      .filter((p) => JSON.stringify(p.Topics) === JSON.stringify([{ Ref: 'OperationsTopic' }]));
    expect(policies).toHaveLength(1);
    expect(policies[0]!.PolicyDocument.Statement).toEqual([
      {
        Sid: 'CloudWatchAlarmsOfThisStackPublish',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: { Ref: 'OperationsTopic' },
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: {
            'aws:SourceArn': {
              'Fn::Sub': `arn:\${AWS::Partition}:cloudwatch:\${AWS::Region}:\${AWS::AccountId}:alarm:\${AWS::StackName}-*`,
            },
          },
        },
      },
    ]);
    // The topic is encrypted with a customer-managed key: CloudWatch needs to use it as well.
    const topic = t.Resources.OperationsTopic!.Properties as { KmsMasterKeyId: { Ref: string } };
    const key = t.Resources[topic.KmsMasterKeyId.Ref]!.Properties as { KeyPolicy: { Statement: Json[] } };
    expect(key.KeyPolicy.Statement).toContainEqual(
      expect.objectContaining({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      }),
    );
  });
});

test('destination: the trigger failure queue alarms as soon as it holds a message', () => {
  const t = templates.destination;
  const alarm = t.Resources.TriggerFailureQueueAlarm!;
  expect(alarm.Type).toBe('AWS::CloudWatch::Alarm');
  expect(alarm.Properties).toMatchObject({
    Namespace: 'AWS/SQS',
    MetricName: 'ApproximateNumberOfMessagesVisible',
    Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['TriggerFailureQueue', 'QueueName'] } }],
    Statistic: 'Maximum',
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold',
    EvaluationPeriods: 1,
    TreatMissingData: 'notBreaching',
    AlarmActions: [{ Ref: 'OperationsTopic' }],
  });
  // the queue the trigger's on-failure destination names
  const config =
    t.Resources.TriggerLambdaEvaluateCustomDestinationConfig ??
    Object.values(t.Resources).find((r) => r.Type === 'AWS::Lambda::EventInvokeConfig');
  expect(JSON.stringify(config)).toContain('TriggerFailureQueue');
});
