import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { SNSEvent, SNSEventRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../src/functions/trigger/handler';
import { captureLogs } from './capture-logs';

const sfn = mockClient(SFNClient);
const logs = captureLogs();

const TOPIC = 'arn:aws:sns:eu-west-1:111111111111:rds-replica-source-prod-replication';
const MACHINE = 'arn:aws:states:eu-west-1:222222222222:stateMachine:rds-replica-destination-prod-replicate';
const message = {
  version: 1,
  sourceAccountId: '111111111111',
  sourceRegion: 'eu-west-1',
  sourceDbInstanceIdentifier: 'orders-db',
  engine: 'postgres',
  engineVersion: '16.4',
  sharedSnapshotArn: 'arn:aws:rds:eu-west-1:111111111111:snapshot:rds-replica-orders-db-20261123t192147',
  snapshotCreateTime: '2026-11-23T19:21:47.123Z',
  runId: 'run-1',
};

const record = (body: unknown, over: Partial<SNSEventRecord['Sns']> = {}, id = 'm-1'): SNSEventRecord => ({
  EventSource: 'aws:sns',
  EventVersion: '1.0',
  EventSubscriptionArn: `${TOPIC}:sub`,
  Sns: {
    Type: 'Notification',
    MessageId: id,
    TopicArn: TOPIC,
    Subject: '',
    Message: typeof body === 'string' ? body : JSON.stringify(body),
    Timestamp: '2026-11-23T19:30:00.000Z',
    SignatureVersion: '1',
    Signature: 'x',
    SigningCertUrl: 'https://x',
    UnsubscribeUrl: 'https://x',
    MessageAttributes: {},
    ...over,
  },
});
const event = (...records: SNSEventRecord[]): SNSEvent => ({ Records: records });

beforeEach(() => {
  sfn.reset();
  process.env.SOURCE_TOPIC_ARN = TOPIC;
  process.env.SOURCE_ACCOUNT_ID = '111111111111';
  process.env.SOURCE_REGION = 'eu-west-1';
  process.env.DATABASES = 'orders-db, billing-db';
  process.env.STATE_MACHINE_ARN = MACHINE;
});

describe('trigger', () => {
  it('starts the state machine with a deterministic name and the message as input', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${MACHINE}:x`, startDate: new Date() });
    const result = await handler(event(record(message)));
    expect(result.started).toHaveLength(1);
    expect(result.started[0]).toMatch(/^orders-db-20261123t192147-[0-9a-f]{8}$/);
    expect(result).toEqual({ started: result.started, duplicates: [], rejected: [] });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    const call = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(call.stateMachineArn).toBe(MACHINE);
    expect(call.name).toBe(result.started[0]);
    expect(JSON.parse(call.input!)).toEqual(message);
  });

  it('compares database identifiers as RDS stores them: lower-cased configuration, exact match', async () => {
    process.env.DATABASES = 'Orders-DB';
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${MACHINE}:x`, startDate: new Date() });
    const accepted = await handler(event(record(message)));
    expect(accepted.started).toHaveLength(1);
    const upper = await handler(event(record({ ...message, sourceDbInstanceIdentifier: 'Orders-DB' })));
    expect(upper.started).toEqual([]);
    expect(upper.rejected[0]!.reason).toContain(
      "field 'sourceDbInstanceIdentifier' 'Orders-DB' does not match",
    );
  });

  it('refuses a time with a lower-case t or z, as IsTimestamp does', async () => {
    for (const snapshotCreateTime of ['2026-11-23t19:21:47.123Z', '2026-11-23T19:21:47.123z']) {
      const result = await handler(event(record({ ...message, snapshotCreateTime })));
      expect(result.rejected[0]!.reason).toContain("field 'snapshotCreateTime'");
    }
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it('gives a duplicate delivery the same name and treats ExecutionAlreadyExists as success', async () => {
    sfn
      .on(StartExecutionCommand)
      .resolvesOnce({ executionArn: 'a', startDate: new Date() })
      .rejectsOnce(new ExecutionAlreadyExists({ message: 'already exists', $metadata: {} }));
    const first = await handler(event(record(message)));
    const second = await handler(event(record(message, {}, 'm-2')));
    expect(second).toEqual({ started: [], duplicates: first.started, rejected: [] });
    const names = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name);
    expect(names[0]).toBe(names[1]);
  });

  it.each([
    [
      'another topic',
      record(message, { TopicArn: 'arn:aws:sns:eu-west-1:111111111111:evil' }),
      /topic .* is not the configured source topic/,
    ],
    ['another account', record({ ...message, sourceAccountId: '999999999999' }), /field 'sourceAccountId'/],
    [
      'an unknown database',
      record({ ...message, sourceDbInstanceIdentifier: 'payroll' }),
      /not one of the configured databases/,
    ],
    ['a wrong version', record({ ...message, version: 3 }), /field 'version'/],
    ['not JSON', record('hello'), /not JSON/],
  ])('rejects %s without starting anything and without throwing', async (_label, rec, reason) => {
    const result = await handler(event(rec));
    expect(result.started).toEqual([]);
    expect(result.rejected).toEqual([{ messageId: 'm-1', reason: expect.stringMatching(reason) }]);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    const warn = logs.entries().find((e) => e.message === 'rejected replication message');
    expect(warn).toEqual(
      expect.objectContaining({ level: 'WARN', messageId: 'm-1', reason: result.rejected[0]!.reason }),
    );
    // the log names the problem, it does not copy the message
    expect(logs.text()).not.toContain('rds-replica-orders-db-20261123t192147');
  });

  it('handles each record on its own', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'a', startDate: new Date() });
    const billing = {
      ...message,
      sourceDbInstanceIdentifier: 'billing-db',
      sharedSnapshotArn: `${message.sharedSnapshotArn}-b`,
    };
    const result = await handler(
      event(record(message, {}, 'a'), record({ ...message, version: 9 }, {}, 'b'), record(billing, {}, 'c')),
    );
    expect(result.started.map((n) => n.replace(/-[0-9a-f]{8}$/, ''))).toEqual([
      'orders-db-20261123t192147',
      'billing-db-20261123t192147',
    ]);
    expect(result.rejected.map((r) => r.messageId)).toEqual(['b']);
  });

  it('throws on throttling so that Lambda retries the event', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    sfn.on(StartExecutionCommand).rejects(throttled);
    await expect(handler(event(record(message)))).rejects.toThrow('Rate exceeded');
  });

  it('fails with InvalidConfiguration when the environment is incomplete', async () => {
    delete process.env.STATE_MACHINE_ARN;
    await expect(handler(event(record(message)))).rejects.toThrow(
      expect.objectContaining({
        name: 'InvalidConfiguration',
        message: expect.stringContaining('STATE_MACHINE_ARN'),
      }),
    );
    process.env.STATE_MACHINE_ARN = MACHINE;
    process.env.SOURCE_ACCOUNT_ID = '1111';
    await expect(handler(event(record(message)))).rejects.toThrow(/12-digit/);
  });

  it('accepts any Region when SOURCE_REGION is not set', async () => {
    delete process.env.SOURCE_REGION;
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'a', startDate: new Date() });
    const elsewhere = {
      ...message,
      sourceRegion: 'us-east-1',
      sharedSnapshotArn: message.sharedSnapshotArn.replace('eu-west-1', 'us-east-1'),
    };
    expect((await handler(event(record(elsewhere)))).started).toHaveLength(1);
  });
});
