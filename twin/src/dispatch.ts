// The twin's task dispatcher: turns a Task state's Resource and effective Parameters into the call
// Step Functions would make, and its result or failure into what Step Functions would report.
//
// - `arn:aws:states:::aws-sdk:SERVICE:action`: strict Step Functions field names (naming.ts),
//   one AWS SDK v3 call (no SDK retries: Retry is the state machine's job), the result renamed
//   back; a failure is an Error whose `name` is the Step Functions error (`Rds.DbSnapshotNotFoundException`)
//   and whose `message` is the Cause, shaped like the Java v2 SDK message Step Functions shows:
//   `<message> (Service: Rds, Status Code: 404, Request ID: <id>)`.
// - optimised integrations (`sns:publish`, `lambda:invoke`, `dynamodb:getItem|putItem|updateItem|deleteItem`,
//   `states:startExecution`): native API field names, documented result shapes. Step Functions runs
//   these through the Java v1 SDK, so their errors use v1 names and messages:
//   `DynamoDB.ConditionalCheckFailedException`, `<message> (Service: AmazonDynamoDBv2; Status Code: 400;
//   Error Code: ConditionalCheckFailedException; Request ID: <id>; Proxy: null)`.
//
// Verified in the Step Functions developer guide: the Lambda result shape (ExecutedVersion, Payload
// parsed from JSON, SdkHttpMetadata, SdkResponseMetadata, StatusCode) and that a FunctionError fails
// the task ("Invoke Lambda with Step Functions"); `Lambda.Unknown` for function errors without an
// errorType, `Lambda.ServiceException`/`AWSLambdaException`/`SdkClientException`/`TooManyRequestsException`
// ("Handle Lambda service exceptions"); the `DynamoDB` (optimised) vs `DynamoDb` (aws-sdk) prefix
// ("Perform DynamoDB CRUD operations with Step Functions"); sns:publish serialising an object
// Message to JSON (AWS-FACTS.md).
// Inferred (not seen in AWS documentation): the `SNS.` and `StepFunctions.` prefixes of the optimised
// SNS and Step Functions integrations and the v1 base exceptions (`SNS.AmazonSNSException`,
// `DynamoDB.AmazonDynamoDBException`, `Lambda.AWSLambdaException` is documented); the
// SdkHttpMetadata/SdkResponseMetadata fields on SNS and DynamoDB results; the Java v1/v2 message
// formats; `<Service>.SdkClientException` when the service cannot be reached.
import {
  FieldNameError,
  fromSdkOutput,
  isModeledError,
  loadServiceModule,
  OPTIMISED_PARAMETERS,
  parseResource,
  sdkOperation,
  sfnErrorName,
  sfnServiceName,
  toSdkInput,
  UnsupportedIntegrationError,
} from './naming';

export interface DispatcherOptions {
  /** `default`: moto; `sfn`: the twin's Step Functions; `lambda`: the twin's Lambda (both default to `default`). */
  endpoints: { default: string; sfn?: string; lambda?: string };
  region: string;
  /** The account calls are made as (moto's `x-moto-account-id`). */
  account: string;
  /** How lambda:invoke reaches the Lambda endpoint: the SDK client when installed (default), or plain HTTP. */
  lambdaTransport?: 'sdk' | 'fetch';
  /**
   * IAM: authorises each call for the caller's principal before it is sent; a refusal is thrown
   * shaped as the service's own error (twin/src/iam.ts), and reported like any other failure.
   */
  authorize?: (call: AuthorizedCall, principal: string | undefined) => Promise<void>;
}

/** What IAM sees of a call (iam-context.ts `Call`). */
export interface AuthorizedCall {
  service: string;
  operation: string;
  input: Record<string, unknown>;
  account: string;
  region: string;
}

export interface Dispatcher {
  /** Runs one Task. `caller` overrides the account/region of this call (a Task's `Credentials`). */
  dispatch(
    resource: string,
    params: unknown,
    caller?: { account?: string; region?: string; principal?: string },
  ): Promise<unknown>;
}

/** A failed task: `name` is the Step Functions Error, `message` the Cause. */
export class TaskFailure extends Error {
  constructor(
    name: string,
    cause: string,
    readonly details: { statusCode?: number; serviceCode?: string; requestId?: string } = {},
  ) {
    super(cause);
    this.name = name;
  }
}

const DUMMY_CREDENTIALS = { accessKeyId: 'AKIATWINDISPATCH0000', secretAccessKey: 'twin' };

interface SdkError {
  name?: string;
  message?: string;
  /** Query-protocol services (SNS, RDS) keep the wire error code here. */
  Code?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

type AnyClient = {
  send(command: unknown): Promise<unknown>;
  middlewareStack: { add(mw: unknown, opts: unknown): void };
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Serialises a value the way Step Functions turns a JSON field into a string parameter. */
const jsonText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

function requireFields(where: string, params: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key)) {
      const expected = allowed.find((a) => a.toLowerCase() === key.toLowerCase());
      throw new FieldNameError(
        `Parameters.${key}: field '${key}' is not valid for ${where}; ` +
          (expected ? `Step Functions spells it '${expected}'` : `valid fields: ${allowed.join(', ')}`),
        `Parameters.${key}`,
        key,
        expected,
      );
    }
  }
}

function v1Message(
  message: string,
  service: string,
  status: number | undefined,
  code: string,
  requestId = '',
): string {
  return `${message} (Service: ${service}; Status Code: ${status ?? 0}; Error Code: ${code}; Request ID: ${requestId}; Proxy: null)`;
}

/** Java v1 exception class names keep the shape name and only guarantee the `Exception` suffix. */
export const v1ExceptionName = (shape: string): string =>
  shape.endsWith('Exception') ? shape : `${shape.replace(/Fault$/, '')}Exception`;

function sdkMetadata(status: number, requestId: string, headers: Record<string, string> = {}) {
  return {
    SdkHttpMetadata: {
      HttpHeaders: { 'Content-Type': 'application/json', 'x-amzn-RequestId': requestId, ...headers },
      HttpStatusCode: status,
    },
    SdkResponseMetadata: { RequestId: requestId },
  };
}

export function createDispatcher(opts: DispatcherOptions): Dispatcher {
  const clients = new Map<string, AnyClient>();

  const endpointFor = (service: string): string =>
    (service === 'sfn' || service === 'states'
      ? opts.endpoints.sfn
      : service === 'lambda'
        ? opts.endpoints.lambda
        : undefined) ?? opts.endpoints.default;

  const clientFor = (service: string, account: string, region: string): AnyClient => {
    const key = `${service}/${account}/${region}`;
    const cached = clients.get(key);
    if (cached) return cached;
    const mod = loadServiceModule(service);
    const entry =
      mod &&
      Object.entries(mod).find(
        ([k, v]) => k.endsWith('Client') && k !== '__Client' && typeof v === 'function',
      );
    if (!entry) throw new UnsupportedIntegrationError(`the twin has no SDK client for '${service}'`);
    const ClientClass = entry[1] as new (config: unknown) => AnyClient;
    const client = new ClientClass({
      endpoint: endpointFor(service),
      region,
      credentials: DUMMY_CREDENTIALS,
      maxAttempts: 1,
    });
    client.middlewareStack.add(
      (next: (a: unknown) => Promise<unknown>) =>
        async (args: { request?: { headers?: Record<string, string> } }) => {
          if (args.request?.headers) args.request.headers['x-moto-account-id'] = account;
          return next(args);
        },
      { step: 'build', name: 'twinDispatchAccount' },
    );
    clients.set(key, client);
    return client;
  };

  const authorize = async (
    service: string,
    operation: string,
    input: unknown,
    account: string,
    region: string,
    principal: string | undefined,
  ) => {
    if (!opts.authorize) return;
    await opts.authorize(
      { service, operation, input: (input ?? {}) as Record<string, unknown>, account, region },
      principal,
    );
  };

  const send = async (service: string, command: string, input: unknown, account: string, region: string) => {
    const mod = loadServiceModule(service)!;
    const Command = mod[`${command}Command`] as (new (input: unknown) => unknown) | undefined;
    if (!Command)
      throw new UnsupportedIntegrationError(`${service}: the SDK client has no ${command}Command`);
    return clientFor(service, account, region).send(new Command(input));
  };

  // ---- aws-sdk:SERVICE:action -----------------------------------------------------------------

  const awsSdk = async (
    service: string,
    action: string,
    params: unknown,
    account: string,
    region: string,
    principal?: string,
  ) => {
    const op = sdkOperation(service, action);
    const input = toSdkInput(service, action, params);
    let output: unknown;
    try {
      await authorize(service, op.name, input, account, region, principal);
      output = await send(service, op.name, input, account, region);
    } catch (err) {
      const e = err as SdkError;
      const serviceName = sfnServiceName(op.serviceId);
      const status = e.$metadata?.httpStatusCode;
      if (status === undefined) {
        throw new TaskFailure(
          `${serviceName}.SdkClientException`,
          `Unable to execute HTTP request: ${e.message ?? String(err)}`,
        );
      }
      const code = e.name ?? 'UnknownError';
      const requestId = e.$metadata?.requestId ?? '';
      throw new TaskFailure(
        sfnErrorName(op.serviceId, code, isModeledError(op.module, code)),
        `${e.message || code} (Service: ${serviceName}, Status Code: ${status}, Request ID: ${requestId})`,
        { statusCode: status, serviceCode: code, requestId },
      );
    }
    return fromSdkOutput(service, action, output);
  };

  // Errors of the optimised (Java v1) integrations.
  const v1Failure = (
    prefix: string,
    v1Service: string,
    baseException: string,
    modeled: (code: string) => boolean,
    err: unknown,
  ): TaskFailure => {
    const e = err as SdkError;
    const status = e.$metadata?.httpStatusCode;
    if (status === undefined) {
      return new TaskFailure(
        `${prefix}.SdkClientException`,
        `Unable to execute HTTP request: ${e.message ?? String(err)}`,
      );
    }
    const code = e.name ?? 'UnknownError';
    // The message names the wire error code (`NotFound`), the Error the modelled shape (`NotFoundException`).
    const wireCode = typeof e.Code === 'string' && e.Code ? e.Code : code;
    const requestId = e.$metadata?.requestId ?? '';
    const name = modeled(code) ? v1ExceptionName(code) : baseException;
    return new TaskFailure(
      `${prefix}.${name}`,
      v1Message(e.message || code, v1Service, status, wireCode, requestId),
      { statusCode: status, serviceCode: wireCode, requestId },
    );
  };

  // ---- sns:publish ------------------------------------------------------------------------------

  const snsPublish = async (params: unknown, account: string, region: string, principal?: string) => {
    if (!isObject(params))
      throw new FieldNameError('Parameters: sns:publish needs an object', 'Parameters', '');
    requireFields('sns:publish', params, OPTIMISED_PARAMETERS['sns:publish']!);
    const p = { ...params };
    if (p.Message !== undefined) p.Message = jsonText(p.Message);
    const input = toSdkInput('sns', 'publish', p);
    try {
      await authorize('sns', 'Publish', input, account, region, principal);
      const out = (await send('sns', 'Publish', input, account, region)) as {
        MessageId?: string;
        SequenceNumber?: string;
        $metadata?: { httpStatusCode?: number; requestId?: string };
      };
      const requestId = out.$metadata?.requestId ?? '';
      return {
        MessageId: out.MessageId,
        ...(out.SequenceNumber ? { SequenceNumber: out.SequenceNumber } : {}),
        ...sdkMetadata(out.$metadata?.httpStatusCode ?? 200, requestId, { 'Content-Type': 'text/xml' }),
      };
    } catch (err) {
      const mod = loadServiceModule('sns')!;
      throw v1Failure('SNS', 'AmazonSNS', 'AmazonSNSException', (c) => isModeledError(mod, c), err);
    }
  };

  // ---- lambda:invoke ----------------------------------------------------------------------------

  interface LambdaResponse {
    status: number;
    functionError?: string;
    executedVersion?: string;
    requestId: string;
    payload: string;
  }

  const lambdaViaSdk = async (
    req: Record<string, unknown>,
    body: string,
    account: string,
    region: string,
  ) => {
    const out = (await send(
      'lambda',
      'Invoke',
      {
        FunctionName: req.FunctionName,
        InvocationType: req.InvocationType,
        Qualifier: req.Qualifier,
        ClientContext: req.ClientContext,
        Payload: new TextEncoder().encode(body),
      },
      account,
      region,
    )) as {
      StatusCode?: number;
      FunctionError?: string;
      ExecutedVersion?: string;
      Payload?: Uint8Array;
      $metadata?: { requestId?: string };
    };
    return {
      status: out.StatusCode ?? 200,
      functionError: out.FunctionError,
      executedVersion: out.ExecutedVersion,
      requestId: out.$metadata?.requestId ?? '',
      payload: out.Payload ? new TextDecoder().decode(out.Payload) : '',
    } satisfies LambdaResponse;
  };

  const lambdaViaFetch = async (req: Record<string, unknown>, body: string, account: string) => {
    const base = opts.endpoints.lambda ?? opts.endpoints.default;
    const qualifier =
      req.Qualifier === undefined ? '' : `?Qualifier=${encodeURIComponent(String(req.Qualifier))}`;
    const url = `${base}/2015-03-31/functions/${encodeURIComponent(String(req.FunctionName))}/invocations${qualifier}`;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-moto-account-id': account,
      'x-amz-invocation-type': String(req.InvocationType ?? 'RequestResponse'),
    };
    if (req.ClientContext !== undefined) headers['x-amz-client-context'] = String(req.ClientContext);
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers, body });
    } catch (err) {
      throw Object.assign(new Error((err as Error).message), { name: 'FetchError' });
    }
    const text = await res.text();
    const requestId = res.headers.get('x-amzn-requestid') ?? '';
    if (!res.ok) {
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // not JSON
      }
      const code =
        res.headers.get('x-amzn-errortype')?.split(':')[0] ??
        String(parsed.__type ?? parsed.Type ?? 'ServiceException')
          .split('#')
          .pop();
      throw Object.assign(new Error(String(parsed.message ?? parsed.Message ?? text)), {
        name: code,
        $metadata: { httpStatusCode: res.status, requestId },
      });
    }
    return {
      status: res.status,
      functionError: res.headers.get('x-amz-function-error') ?? undefined,
      executedVersion: res.headers.get('x-amz-executed-version') ?? undefined,
      requestId,
      payload: text,
    } satisfies LambdaResponse;
  };

  const lambdaInvoke = async (params: unknown, account: string, region: string, principal?: string) => {
    if (!isObject(params))
      throw new FieldNameError('Parameters: lambda:invoke needs an object', 'Parameters', '');
    requireFields('lambda:invoke', params, OPTIMISED_PARAMETERS['lambda:invoke']!);
    if (typeof params.FunctionName !== 'string' || params.FunctionName === '') {
      throw new FieldNameError(
        'Parameters.FunctionName: lambda:invoke needs a FunctionName',
        'Parameters.FunctionName',
        'FunctionName',
      );
    }
    // The optimised integration sends Payload as JSON (an object, array, string or number alike).
    const body = params.Payload === undefined ? '{}' : JSON.stringify(params.Payload);
    const useSdk = (opts.lambdaTransport ?? 'sdk') === 'sdk' && loadServiceModule('lambda') !== undefined;
    let r: LambdaResponse;
    try {
      await authorize('lambda', 'Invoke', { FunctionName: params.FunctionName }, account, region, principal);
      r = useSdk
        ? await lambdaViaSdk(params, body, account, region)
        : await lambdaViaFetch(params, body, account);
    } catch (err) {
      const lambdaMod = loadServiceModule('lambda');
      const modeled = (c: string) =>
        lambdaMod ? isModeledError(lambdaMod, c) : /Exception$/.test(c) && c !== 'AWSLambdaException';
      throw v1Failure('Lambda', 'AWSLambda', 'AWSLambdaException', modeled, err);
    }
    let payload: unknown = r.payload;
    try {
      payload = r.payload === '' ? '' : JSON.parse(r.payload);
    } catch {
      // not JSON: Step Functions keeps the text
    }
    if (r.functionError) {
      const errorType =
        isObject(payload) && typeof payload.errorType === 'string' ? payload.errorType : undefined;
      throw new TaskFailure(errorType ?? 'Lambda.Unknown', r.payload, {
        statusCode: r.status,
        requestId: r.requestId,
      });
    }
    const executedVersion = r.executedVersion ?? '$LATEST';
    return {
      ExecutedVersion: executedVersion,
      Payload: payload,
      ...sdkMetadata(r.status, r.requestId, { 'X-Amz-Executed-Version': executedVersion }),
      StatusCode: r.status,
    };
  };

  // ---- dynamodb:getItem|putItem|updateItem|deleteItem --------------------------------------------
  // Native API names, sent as DynamoDB's JSON 1.0 protocol (no SDK client needed).

  const DYNAMODB_MODELED = new Set([
    'ConditionalCheckFailedException',
    'InternalServerError',
    'InvalidEndpointException',
    'ItemCollectionSizeLimitExceededException',
    'ProvisionedThroughputExceededException',
    'ReplicatedWriteConflictException',
    'RequestLimitExceeded',
    'ResourceNotFoundException',
    'TransactionConflictException',
  ]);

  const dynamodb = async (
    action: string,
    params: unknown,
    account: string,
    region: string,
    principal?: string,
  ) => {
    if (!isObject(params))
      throw new FieldNameError(`Parameters: dynamodb:${action} needs an object`, 'Parameters', '');
    requireFields(`dynamodb:${action}`, params, OPTIMISED_PARAMETERS[`dynamodb:${action}`]!);
    const operation = action.charAt(0).toUpperCase() + action.slice(1);
    const date = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    try {
      await authorize('dynamodb', operation, params, account, region, principal);
    } catch (err) {
      const e = err as SdkError;
      const code = e.name ?? 'AccessDeniedException';
      const requestId = e.$metadata?.requestId ?? '';
      throw new TaskFailure(
        `DynamoDB.${DYNAMODB_MODELED.has(code) ? v1ExceptionName(code) : 'AmazonDynamoDBException'}`,
        v1Message(e.message ?? code, 'AmazonDynamoDBv2', e.$metadata?.httpStatusCode, code, requestId),
        { statusCode: e.$metadata?.httpStatusCode, serviceCode: code, requestId },
      );
    }
    let res: Response;
    try {
      res = await fetch(`${opts.endpoints.default}/`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': `DynamoDB_20120810.${operation}`,
          'x-moto-account-id': account,
          // moto reads the Region from the credential scope; signatures are not checked.
          authorization: `AWS4-HMAC-SHA256 Credential=${DUMMY_CREDENTIALS.accessKeyId}/${date}/${region}/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-target, Signature=0`,
        },
        body: JSON.stringify(params),
      });
    } catch (err) {
      throw new TaskFailure(
        'DynamoDB.SdkClientException',
        `Unable to execute HTTP request: ${(err as Error).message}`,
      );
    }
    const text = await res.text();
    const requestId = res.headers.get('x-amzn-requestid') ?? '';
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      // not JSON
    }
    if (!res.ok) {
      const code =
        String(body.__type ?? 'UnknownError')
          .split('#')
          .pop() ?? 'UnknownError';
      const message = String(body.message ?? body.Message ?? text);
      const name = DYNAMODB_MODELED.has(code) ? v1ExceptionName(code) : 'AmazonDynamoDBException';
      throw new TaskFailure(
        `DynamoDB.${name}`,
        v1Message(message, 'AmazonDynamoDBv2', res.status, code, requestId),
        {
          statusCode: res.status,
          serviceCode: code,
          requestId,
        },
      );
    }
    return {
      ...body,
      ...sdkMetadata(res.status, requestId, { 'Content-Type': 'application/x-amz-json-1.0' }),
    };
  };

  // ---- states:startExecution ------------------------------------------------------------------------

  const startExecution = async (params: unknown, account: string, region: string, principal?: string) => {
    if (!isObject(params))
      throw new FieldNameError('Parameters: states:startExecution needs an object', 'Parameters', '');
    requireFields('states:startExecution', params, OPTIMISED_PARAMETERS['states:startExecution']!);
    const input = {
      stateMachineArn: params.StateMachineArn,
      name: params.Name,
      input: params.Input === undefined ? undefined : jsonText(params.Input),
    };
    try {
      await authorize('sfn', 'StartExecution', input, account, region, principal);
      const out = (await send('sfn', 'StartExecution', input, account, region)) as {
        executionArn?: string;
        startDate?: Date;
        $metadata?: { httpStatusCode?: number; requestId?: string };
      };
      return {
        ExecutionArn: out.executionArn,
        StartDate: out.startDate?.toISOString(),
        ...sdkMetadata(out.$metadata?.httpStatusCode ?? 200, out.$metadata?.requestId ?? ''),
      };
    } catch (err) {
      const mod = loadServiceModule('sfn')!;
      throw v1Failure(
        'StepFunctions',
        'AWSStepFunctions',
        'AWSStepFunctionsException',
        (c) => isModeledError(mod, c),
        err,
      );
    }
  };

  return {
    async dispatch(resource, params, caller = {}) {
      const account = caller.account ?? opts.account;
      const region = caller.region ?? opts.region;
      const principal = caller.principal;
      const parsed = parseResource(resource);
      if (parsed.kind === 'other') {
        throw new UnsupportedIntegrationError(
          `the twin cannot run Task resource '${resource}': not a Step Functions service integration`,
        );
      }
      if (parsed.pattern) {
        throw new UnsupportedIntegrationError(
          `the twin cannot run Task resource '${resource}': the '.${parsed.pattern}' integration pattern is not supported`,
        );
      }
      if (parsed.kind === 'aws-sdk')
        return awsSdk(parsed.service, parsed.action, params, account, region, principal);
      const key = `${parsed.service}:${parsed.action}`;
      switch (key) {
        case 'sns:publish':
          return snsPublish(params, account, region, principal);
        case 'lambda:invoke':
          return lambdaInvoke(params, account, region, principal);
        case 'dynamodb:getItem':
        case 'dynamodb:putItem':
        case 'dynamodb:updateItem':
        case 'dynamodb:deleteItem':
          return dynamodb(parsed.action, params, account, region, principal);
        case 'states:startExecution':
          return startExecution(params, account, region, principal);
        default:
          throw new UnsupportedIntegrationError(
            `the twin cannot run Task resource '${resource}': unknown optimised integration '${key}'`,
          );
      }
    },
  };
}
