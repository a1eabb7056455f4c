// The task dispatcher (twin/src/dispatch.ts) against a real moto_server: Step Functions field and
// error names on real calls, account isolation, the optimised SNS, DynamoDB and Lambda integrations.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDispatcher, type Dispatcher, TaskFailure } from '../../twin/src/dispatch';
import { type MotoServer, startMoto } from '../../twin/src/moto';
import { FieldNameError, UnsupportedIntegrationError } from '../../twin/src/naming';

const A = '111111111111';
const B = '222222222222';
const REGION = 'eu-west-1';
const sdk = (service: string, action: string) => `arn:aws:states:::aws-sdk:${service}:${action}`;

let moto: MotoServer;
let a: Dispatcher;
let b: Dispatcher;

beforeAll(async () => {
  moto = await startMoto();
  a = createDispatcher({ endpoints: { default: moto.url }, region: REGION, account: A });
  b = createDispatcher({ endpoints: { default: moto.url }, region: REGION, account: B });
});

afterAll(async () => {
  await moto?.stop();
});

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the task to fail');
}

// biome-ignore lint/suspicious/noExplicitAny: task results are walked field by field in assertions.
type Json = Record<string, any>;

describe('aws-sdk integrations', () => {
  beforeAll(async () => {
    await a.dispatch(sdk('rds', 'createDBInstance'), {
      DbInstanceIdentifier: 'orders',
      Engine: 'postgres',
      DbInstanceClass: 'db.t3.micro',
      AllocatedStorage: 20,
      MasterUsername: 'app',
      MasterUserPassword: 'correct-horse-battery',
    });
  });

  test('createDBSnapshot and describeDBSnapshots speak Step Functions names', async () => {
    const created = (await a.dispatch(sdk('rds', 'createDBSnapshot'), {
      DbInstanceIdentifier: 'orders',
      DbSnapshotIdentifier: 'orders-snap-1',
      Tags: [{ Key: 'run', Value: 'r1' }],
    })) as Json;
    expect(created.DbSnapshot.DbSnapshotIdentifier).toBe('orders-snap-1');
    expect(created.DbSnapshot.DbSnapshotArn).toBe(`arn:aws:rds:${REGION}:${A}:snapshot:orders-snap-1`);
    expect(created).not.toHaveProperty('$metadata');

    const described = (await a.dispatch(sdk('rds', 'describeDBSnapshots'), {
      DbSnapshotIdentifier: 'orders-snap-1',
    })) as Json;
    expect(described).not.toHaveProperty('DBSnapshots');
    expect(described.DbSnapshots).toHaveLength(1);
    expect(['creating', 'available']).toContain(described.DbSnapshots[0].Status);
    expect(described.DbSnapshots[0].DbInstanceIdentifier).toBe('orders');
    expect(described.DbSnapshots[0].SnapshotCreateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  test('the SDK spelling is refused before any call is made', async () => {
    const err = await failure(
      a.dispatch(sdk('rds', 'createDBSnapshot'), {
        DBInstanceIdentifier: 'orders',
        DbSnapshotIdentifier: 'never',
      }),
    );
    expect(err).toBeInstanceOf(FieldNameError);
    expect(err.message).toContain("Step Functions spells it 'DbInstanceIdentifier'");
    const listed = (await a
      .dispatch(sdk('rds', 'describeDBSnapshots'), { DbSnapshotIdentifier: 'never' })
      .catch((e: Error) => e.name)) as string;
    expect(listed).toBe('Rds.DbSnapshotNotFoundException');
  });

  test('a missing snapshot fails as Rds.DbSnapshotNotFoundException with an AWS-like Cause', async () => {
    const err = await failure(
      a.dispatch(sdk('rds', 'describeDBSnapshots'), { DbSnapshotIdentifier: 'missing' }),
    );
    expect(err).toBeInstanceOf(TaskFailure);
    expect(err.name).toBe('Rds.DbSnapshotNotFoundException');
    expect(err.message).toMatch(/missing.*\(Service: Rds, Status Code: 404, Request ID: \S+\)$/);
  });

  test('an error RDS does not model is Rds.RdsException', async () => {
    const err = await failure(
      a.dispatch(sdk('rds', 'createDBSnapshot'), {
        DbInstanceIdentifier: 'orders',
        DbSnapshotIdentifier: 'bad_name!',
      }),
    );
    expect(err.name).toBe('Rds.RdsException');
    expect((err as TaskFailure).details.serviceCode).toBe('InvalidParameterValue');
    expect(err.message).toContain('(Service: Rds, Status Code: 400');
  });

  test('accounts are isolated: B does not see A’s snapshot, unless the call is made as A', async () => {
    await a.dispatch(sdk('rds', 'createDBSnapshot'), {
      DbInstanceIdentifier: 'orders',
      DbSnapshotIdentifier: 'only-in-a',
    });
    const err = await failure(
      b.dispatch(sdk('rds', 'describeDBSnapshots'), { DbSnapshotIdentifier: 'only-in-a' }),
    );
    expect(err.name).toBe('Rds.DbSnapshotNotFoundException');
    const asA = (await b.dispatch(
      sdk('rds', 'describeDBSnapshots'),
      { DbSnapshotIdentifier: 'only-in-a' },
      { account: A },
    )) as Json;
    expect(asA.DbSnapshots[0].DbSnapshotIdentifier).toBe('only-in-a');
    const who = (await b.dispatch(sdk('sts', 'getCallerIdentity'), {})) as Json;
    expect(who.Account).toBe(B);
  });

  test('secretsmanager: a missing secret is SecretsManager.ResourceNotFoundException; ARN is spelt Arn', async () => {
    const err = await failure(b.dispatch(sdk('secretsmanager', 'describeSecret'), { SecretId: 'db/orders' }));
    expect(err.name).toBe('SecretsManager.ResourceNotFoundException');
    expect(err.message).toMatch(/\(Service: SecretsManager, Status Code: \d+, Request ID: \S*\)$/);
    await b.dispatch(sdk('secretsmanager', 'createSecret'), {
      Name: 'db/orders',
      SecretString: '{"host":"h"}',
    });
    const described = (await b.dispatch(sdk('secretsmanager', 'describeSecret'), {
      SecretId: 'db/orders',
    })) as Json;
    expect(described.Arn).toMatch(new RegExp(`^arn:aws:secretsmanager:${REGION}:${B}:secret:db/orders`));
    expect(described).not.toHaveProperty('ARN');
    expect(described.Name).toBe('db/orders');
  });
});

describe('unknown resources', () => {
  test.each([
    ['arn:aws:lambda:eu-west-1:111111111111:function:f', /not a Step Functions service integration/],
    ['arn:aws:states:::glue:startJobRun', /unknown optimised integration 'glue:startJobRun'/],
    ['arn:aws:states:::aws-sdk:nosuchservice:doIt', /no SDK client for 'nosuchservice'/],
    ['arn:aws:states:::aws-sdk:rds:noSuchAction', /has no API named 'noSuchAction'/],
    [
      'arn:aws:states:::lambda:invoke.waitForTaskToken',
      /'\.waitForTaskToken' integration pattern is not supported/,
    ],
  ])('%s', async (resource, message) => {
    const err = await failure(a.dispatch(resource, {}));
    expect(err.message).toMatch(message);
    // a definition problem: it fails the execution instead of being caught by a States.ALL Catch
    expect(err).toBeInstanceOf(UnsupportedIntegrationError);
    expect((err as UnsupportedIntegrationError).isCatchable).toBe(false);
    if (!resource.includes('aws-sdk')) expect(err.message).toContain(resource);
  });
});

describe('sns:publish (optimised)', () => {
  test('an object Message is delivered as JSON to an SQS-subscribed topic', async () => {
    const topic = (await a.dispatch(sdk('sns', 'createTopic'), { Name: 'replication' })) as Json;
    const queue = (await a.dispatch(sdk('sqs', 'createQueue'), { QueueName: 'replication-inbox' })) as Json;
    const attrs = (await a.dispatch(sdk('sqs', 'getQueueAttributes'), {
      QueueUrl: queue.QueueUrl,
      AttributeNames: ['QueueArn'],
    })) as Json;
    await a.dispatch(sdk('sns', 'subscribe'), {
      TopicArn: topic.TopicArn,
      Protocol: 'sqs',
      Endpoint: attrs.Attributes.QueueArn,
    });

    const message = { version: 1, database: 'orders', snapshotArn: 'arn:aws:rds:eu-west-1:1:snapshot:s' };
    const result = (await a.dispatch('arn:aws:states:::sns:publish', {
      TopicArn: topic.TopicArn,
      Message: message,
      Subject: 'replication',
      MessageAttributes: { kind: { DataType: 'String', StringValue: 'snapshot-shared' } },
    })) as Json;
    expect(typeof result.MessageId).toBe('string');
    expect(result.SdkHttpMetadata.HttpStatusCode).toBe(200);
    expect(result.SdkResponseMetadata).toHaveProperty('RequestId');

    const received = (await a.dispatch(sdk('sqs', 'receiveMessage'), {
      QueueUrl: queue.QueueUrl,
      MaxNumberOfMessages: 1,
    })) as Json;
    const envelope = JSON.parse(received.Messages[0].Body);
    expect(envelope.MessageId).toBe(result.MessageId);
    expect(envelope.Subject).toBe('replication');
    expect(JSON.parse(envelope.Message)).toEqual(message);
  });

  test('a missing topic fails as SNS.NotFoundException; wrong fields are refused', async () => {
    const err = await failure(
      a.dispatch('arn:aws:states:::sns:publish', {
        TopicArn: `arn:aws:sns:${REGION}:${A}:no-such-topic`,
        Message: 'x',
      }),
    );
    expect(err.name).toBe('SNS.NotFoundException');
    expect(err.message).toMatch(/\(Service: AmazonSNS; Status Code: 404; Error Code: NotFound; /);
    await expect(a.dispatch('arn:aws:states:::sns:publish', { topicArn: 't', Message: 'x' })).rejects.toThrow(
      /spells it 'TopicArn'/,
    );
  });
});

describe('dynamodb (optimised, native API names)', () => {
  beforeAll(async () => {
    const date = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    const res = await fetch(`${moto.url}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.CreateTable',
        'x-moto-account-id': A,
        authorization: `AWS4-HMAC-SHA256 Credential=AKIATEST/${date}/${REGION}/dynamodb/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: JSON.stringify({
        TableName: 'locks',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    });
    expect(res.status).toBe(200);
  });

  test('a conditional put that loses is DynamoDB.ConditionalCheckFailedException', async () => {
    const put = {
      TableName: 'locks',
      Item: { pk: { S: 'lock#orders' }, holder: { S: 'exec-1' } },
      ConditionExpression: 'attribute_not_exists(pk)',
    };
    const first = (await a.dispatch('arn:aws:states:::dynamodb:putItem', put)) as Json;
    expect(first.SdkHttpMetadata.HttpStatusCode).toBe(200);
    const err = await failure(a.dispatch('arn:aws:states:::dynamodb:putItem', put));
    expect(err.name).toBe('DynamoDB.ConditionalCheckFailedException');
    expect(err.message).toContain(
      '(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ConditionalCheckFailedException;',
    );

    const got = (await a.dispatch('arn:aws:states:::dynamodb:getItem', {
      TableName: 'locks',
      Key: { pk: { S: 'lock#orders' } },
    })) as Json;
    expect(got.Item.holder).toEqual({ S: 'exec-1' });
    await a.dispatch('arn:aws:states:::dynamodb:deleteItem', {
      TableName: 'locks',
      Key: { pk: { S: 'lock#orders' } },
    });
    const gone = (await a.dispatch('arn:aws:states:::dynamodb:getItem', {
      TableName: 'locks',
      Key: { pk: { S: 'lock#orders' } },
    })) as Json;
    expect(gone.Item).toBeUndefined();
  });

  test('a missing table is DynamoDB.ResourceNotFoundException; Step Functions spellings are refused', async () => {
    const err = await failure(
      b.dispatch('arn:aws:states:::dynamodb:getItem', { TableName: 'locks', Key: { pk: { S: 'x' } } }),
    );
    expect(err.name).toBe('DynamoDB.ResourceNotFoundException');
    await expect(
      a.dispatch('arn:aws:states:::dynamodb:getItem', { tableName: 'locks', Key: { pk: { S: 'x' } } }),
    ).rejects.toThrow(/spells it 'TableName'/);
  });
});

describe.each(['sdk', 'fetch'] as const)('lambda:invoke (optimised) via %s', (transport) => {
  let server: Server;
  let lambda: Dispatcher;
  const seen: Array<{ account?: string; type?: string; body: string }> = [];

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const name = decodeURIComponent(/\/functions\/([^/]+)\/invocations/.exec(req.url ?? '')?.[1] ?? '');
        seen.push({
          account: req.headers['x-moto-account-id'] as string,
          type: req.headers['x-amz-invocation-type'] as string,
          body,
        });
        const reply = (status: number, payload: string, headers: Record<string, string> = {}) => {
          res.writeHead(status, {
            'content-type': 'application/json',
            'x-amzn-requestid': 'req-1',
            ...headers,
          });
          res.end(payload);
        };
        if (name === 'echo')
          reply(200, JSON.stringify({ got: JSON.parse(body) }), { 'x-amz-executed-version': '$LATEST' });
        else if (name === 'fails')
          reply(
            200,
            JSON.stringify({ errorType: 'InvalidSecret', errorMessage: 'secret is not JSON', trace: [] }),
            {
              'x-amz-function-error': 'Unhandled',
            },
          );
        else if (name === 'times-out')
          reply(200, JSON.stringify({ errorMessage: 'Task timed out after 3.00 seconds' }), {
            'x-amz-function-error': 'Unhandled',
          });
        else
          reply(404, JSON.stringify({ Type: 'User', Message: `Function not found: ${name}` }), {
            'x-amzn-errortype': 'ResourceNotFoundException',
          });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    lambda = createDispatcher({
      endpoints: { default: moto.url, lambda: url },
      region: REGION,
      account: B,
      lambdaTransport: transport,
    });
  });

  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('the result has the documented shape, Payload parsed from JSON', async () => {
    const out = (await lambda.dispatch('arn:aws:states:::lambda:invoke', {
      FunctionName: 'echo',
      Payload: { database: 'orders', keep: 3 },
    })) as Json;
    expect(out).toMatchObject({
      ExecutedVersion: '$LATEST',
      Payload: { got: { database: 'orders', keep: 3 } },
      StatusCode: 200,
      SdkHttpMetadata: { HttpStatusCode: 200 },
      SdkResponseMetadata: { RequestId: 'req-1' },
    });
    const last = seen.at(-1)!;
    expect(last.account).toBe(B);
    expect(JSON.parse(last.body)).toEqual({ database: 'orders', keep: 3 });
  });

  test('a function error fails the task with the errorType as Error and the payload as Cause', async () => {
    const err = await failure(
      lambda.dispatch('arn:aws:states:::lambda:invoke', { FunctionName: 'fails', Payload: {} }),
    );
    expect(err.name).toBe('InvalidSecret');
    expect(JSON.parse(err.message)).toMatchObject({
      errorType: 'InvalidSecret',
      errorMessage: 'secret is not JSON',
    });
    const timeout = await failure(
      lambda.dispatch('arn:aws:states:::lambda:invoke', { FunctionName: 'times-out' }),
    );
    expect(timeout.name).toBe('Lambda.Unknown');
  });

  test('a missing function is Lambda.ResourceNotFoundException; an unknown field is refused', async () => {
    const err = await failure(
      lambda.dispatch('arn:aws:states:::lambda:invoke', { FunctionName: 'nope', Payload: {} }),
    );
    expect(err.name).toBe('Lambda.ResourceNotFoundException');
    expect(err.message).toContain('Function not found: nope');
    await expect(
      lambda.dispatch('arn:aws:states:::lambda:invoke', { FunctionName: 'echo', payload: {} }),
    ).rejects.toThrow(/spells it 'Payload'/);
  });
});

describe('Step Functions calls go to the sfn endpoint', () => {
  let server: Server;
  let d: Dispatcher;
  const calls: Array<{ target: string; account?: string; body: Json }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (c) => {
        text += c;
      });
      req.on('end', () => {
        const target = String(req.headers['x-amz-target'] ?? '');
        const body = JSON.parse(text || '{}') as Json;
        calls.push({ target, account: req.headers['x-moto-account-id'] as string, body });
        const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', ...headers });
          res.end(JSON.stringify(payload));
        };
        if (target === 'AWSStepFunctions.StartExecution' && body.name === 'taken') {
          send(400, { __type: 'ExecutionAlreadyExists', message: 'Execution Already Exists' });
        } else if (target === 'AWSStepFunctions.StartExecution') {
          send(200, {
            executionArn: `arn:aws:states:${REGION}:${B}:execution:sm:${body.name}`,
            startDate: 1714557600,
          });
        } else if (
          target === 'AWSStepFunctions.DescribeExecution' &&
          String(body.executionArn).endsWith(':gone')
        ) {
          send(400, { __type: 'ExecutionDoesNotExist', message: 'Execution Does Not Exist' });
        } else {
          send(200, {
            executionArn: body.executionArn,
            stateMachineArn: 'sm',
            status: 'RUNNING',
            startDate: 1714557600,
          });
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    d = createDispatcher({ endpoints: { default: moto.url, sfn: url }, region: REGION, account: B });
  });

  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('aws-sdk:sfn:describeExecution: PascalCase fields, ISO dates, Sfn.* errors', async () => {
    const out = (await d.dispatch(sdk('sfn', 'describeExecution'), { ExecutionArn: 'arn:x:run-1' })) as Json;
    expect(out).toEqual({
      ExecutionArn: 'arn:x:run-1',
      StateMachineArn: 'sm',
      Status: 'RUNNING',
      StartDate: '2024-05-01T10:00:00.000Z',
    });
    expect(calls.at(-1)).toMatchObject({ account: B, body: { executionArn: 'arn:x:run-1' } });
    const err = await failure(d.dispatch(sdk('sfn', 'describeExecution'), { ExecutionArn: 'arn:x:gone' }));
    expect(err.name).toBe('Sfn.ExecutionDoesNotExistException');
  });

  test('states:startExecution serialises an object Input', async () => {
    const out = (await d.dispatch('arn:aws:states:::states:startExecution', {
      StateMachineArn: 'sm',
      Name: 'run-2',
      Input: { database: 'orders' },
    })) as Json;
    expect(out.ExecutionArn).toBe(`arn:aws:states:${REGION}:${B}:execution:sm:run-2`);
    expect(out.StartDate).toBe('2024-05-01T10:00:00.000Z');
    expect(calls.at(-1)!.body).toEqual({
      stateMachineArn: 'sm',
      name: 'run-2',
      input: '{"database":"orders"}',
    });
    const err = await failure(
      d.dispatch('arn:aws:states:::states:startExecution', { StateMachineArn: 'sm', Name: 'taken' }),
    );
    expect(err.name).toBe('StepFunctions.ExecutionAlreadyExistsException');
  });
});
