// The twin host: one local HTTP server that plays the AWS APIs moto cannot play here.
//  - Lambda Invoke   POST /2015-03-31/functions/{name}/invocations
//  - Step Functions  POST /  (X-Amz-Target: AWSStepFunctions.<Action>, JSON 1.0)
//  - CloudFormation  POST /  (Action=ListStackResources, query protocol): the resources the twin
//    provisioned for a deployment, so that tools which find a stack's resources (the status
//    commands) run against the twin as against AWS
//  - the HTTP endpoint of SNS subscriptions that stand for `lambda` subscriptions:
//    POST /sns/{account}/{function}: moto delivers the notification, the host turns it into the
//    SNS event envelope Lambda receives and invokes the function asynchronously.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { VirtualClock } from './clock';
import { AccessDeniedError, type IamAuthorizer } from './iam';
import type { LambdaService } from './lambda';
import { type ExecutionRecord, ServiceError, type StepFunctionsService } from './stepfunctions';

export interface HostOptions {
  clock: VirtualClock;
  lambda: LambdaService;
  sfn: StepFunctionsService;
  region: string;
  /** Access key id -> account, for clients that sign with assumed-role credentials. */
  accountOfKey: (accessKeyId: string) => string | undefined;
  /** SNS subscription ARN per (account, function), to fill EventSubscriptionArn. */
  subscriptionArn: (account: string, fn: string, topicArn: string) => string | undefined;
  /** IAM: authorises what Lambdas (signed with their role's keys) and SNS deliveries ask of the host. */
  iam?: IamAuthorizer;
  /** CloudFormation: logical id, type and physical id of each resource of a deployed stack. */
  stackResources?: (
    account: string,
    region: string,
    stackName: string,
  ) => Array<{ logicalId: string; type: string; physicalId: string }> | undefined;
}

export interface Host {
  url: string;
  stop(): Promise<void>;
  snsDeliveries: Array<{
    account: string;
    function: string;
    topicArn: string;
    messageId: string;
    /** Set when IAM refused SNS the invocation (the function's resource policy). */
    denied?: string;
  }>;
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c) => {
      data += c;
    });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

/** The Region a signed request names in its credential scope. */
function signedRegion(req: IncomingMessage): string | undefined {
  return /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
}

function callerPrincipal(req: IncomingMessage, opts: HostOptions): string | undefined {
  if (typeof req.headers['x-moto-account-id'] === 'string') return undefined;
  const key = /Credential=([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
  return key ? opts.iam?.principalOfKey(key) : undefined;
}

function callerAccount(req: IncomingMessage, opts: HostOptions): string {
  const header = req.headers['x-moto-account-id'];
  if (typeof header === 'string') return header;
  const auth = String(req.headers.authorization ?? '');
  const key = /Credential=([^/]+)\//.exec(auth)?.[1];
  const account = key ? opts.accountOfKey(key) : undefined;
  if (!account)
    throw new ServiceError(
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  return account;
}

const epoch = (ms?: number) => (ms === undefined ? undefined : ms / 1000);

/** `arn:aws:states:::aws-sdk:rds:describeDBSnapshots` -> resourceType `aws-sdk:rds`, resource `describeDBSnapshots`. */
function taskResource(arn = ''): { resourceType: string; resource: string } {
  const tail = arn.replace(/^arn:aws[a-z-]*:states:::/, '');
  const i = tail.lastIndexOf(':');
  return i < 0
    ? { resourceType: tail, resource: '' }
    : { resourceType: tail.slice(0, i), resource: tail.slice(i + 1) };
}

const json = (v: unknown) => (v === undefined ? undefined : typeof v === 'string' ? v : JSON.stringify(v));

/**
 * GetExecutionHistory's events (HistoryEvent of the Step Functions API) from the twin's records:
 * only the events AWS records (those with an `awsType`), numbered in order, with the details the
 * API gives for each type (state names, task resources, parameters and results, Error and Cause).
 */
export function historyEvents(e: ExecutionRecord, includeExecutionData = true) {
  const data = (v: unknown) => (includeExecutionData ? json(v) : undefined);
  const events: Array<Record<string, unknown>> = [];
  for (const ev of e.history) {
    const type = ev.awsType;
    if (!type) continue;
    const id = events.length + 1;
    const out: Record<string, unknown> = {
      timestamp: Date.parse(ev.at) / 1000,
      type,
      id,
      previousEventId: id - 1,
    };
    const { resourceType, resource } = taskResource(ev.resource);
    if (type.endsWith('StateEntered'))
      out.stateEnteredEventDetails = { name: ev.state, input: data(ev.input) };
    else if (type.endsWith('StateExited'))
      out.stateExitedEventDetails = { name: ev.state, output: data(ev.output) };
    else if (type === 'ExecutionStarted') out.executionStartedEventDetails = { input: data(ev.input) };
    else if (type === 'ExecutionSucceeded') out.executionSucceededEventDetails = { output: data(ev.output) };
    else if (type === 'ExecutionFailed')
      out.executionFailedEventDetails = { error: ev.error, cause: ev.cause };
    else if (type === 'ExecutionAborted')
      out.executionAbortedEventDetails = { error: ev.error, cause: ev.cause };
    else if (type === 'ExecutionTimedOut')
      out.executionTimedOutEventDetails = { error: ev.error, cause: ev.cause };
    else if (type === 'TaskScheduled')
      out.taskScheduledEventDetails = {
        resourceType,
        resource,
        region: e.region,
        parameters: json(ev.parameters) ?? '{}',
      };
    else if (type === 'TaskStarted') out.taskStartedEventDetails = { resourceType, resource };
    else if (type === 'TaskSubmitted')
      out.taskSubmittedEventDetails = { resourceType, resource, output: data(ev.output) };
    else if (type === 'TaskSucceeded')
      out.taskSucceededEventDetails = { resourceType, resource, output: data(ev.output) };
    else if (type === 'TaskFailed')
      out.taskFailedEventDetails = { resourceType, resource, error: ev.error, cause: ev.cause };
    events.push(out);
  }
  return events;
}

const xmlText = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function describe(e: ExecutionRecord) {
  return {
    executionArn: e.executionArn,
    stateMachineArn: e.stateMachineArn,
    name: e.name,
    status: e.status,
    startDate: epoch(e.startDate),
    stopDate: epoch(e.stopDate),
    input: e.input,
    output: e.output,
    error: e.error,
    cause: e.cause,
  };
}

export async function startHost(opts: HostOptions): Promise<Host> {
  const snsDeliveries: Host['snsDeliveries'] = [];

  const sfnAction = (action: string, account: string, req: Record<string, unknown>): unknown => {
    switch (action) {
      case 'StartExecution': {
        const e = opts.sfn.startExecution({ account }, req as never);
        return { executionArn: e.executionArn, startDate: epoch(e.startDate) };
      }
      case 'DescribeExecution':
        return describe(opts.sfn.describeExecution({ account }, String(req.executionArn)));
      case 'StopExecution': {
        opts.sfn.stopExecution({ account }, String(req.executionArn));
        return { stopDate: epoch(opts.clock.now()) };
      }
      case 'ListExecutions': {
        const all = opts.sfn.listExecutions(
          { account },
          String(req.stateMachineArn),
          req.statusFilter as string,
        );
        const max = Number(req.maxResults ?? 100) || 100;
        const start = Number(req.nextToken ?? 0);
        const page = all.slice(start, start + max);
        return {
          executions: page.map((e) => ({
            executionArn: e.executionArn,
            stateMachineArn: e.stateMachineArn,
            name: e.name,
            status: e.status,
            startDate: epoch(e.startDate),
            stopDate: epoch(e.stopDate),
          })),
          nextToken: start + max < all.length ? String(start + max) : undefined,
        };
      }
      case 'GetExecutionHistory': {
        const exec = opts.sfn.describeExecution({ account }, String(req.executionArn));
        const all = historyEvents(exec, req.includeExecutionData !== false);
        if (req.reverseOrder === true) all.reverse();
        const max = Math.min(Number(req.maxResults ?? 100) || 100, 1000);
        const start = Number(req.nextToken ?? 0);
        return {
          events: all.slice(start, start + max),
          nextToken: start + max < all.length ? String(start + max) : undefined,
        };
      }
      default:
        throw new ServiceError(
          'UnknownOperationException',
          `The twin does not implement Step Functions ${action}`,
        );
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://twin');
    const text = await body(req);
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(payload === undefined ? '' : JSON.stringify(payload));
    };
    try {
      const target = String(req.headers['x-amz-target'] ?? '');
      if (target.startsWith('AWSStepFunctions.')) {
        const account = callerAccount(req, opts);
        const action = target.slice('AWSStepFunctions.'.length);
        const input = JSON.parse(text || '{}') as Record<string, unknown>;
        await opts.iam?.authorize(callerPrincipal(req, opts), {
          service: 'sfn',
          operation: action,
          input,
          account,
          region: signedRegion(req) ?? opts.region,
        });
        const result = sfnAction(action, account, input);
        send(200, result, { 'content-type': 'application/x-amz-json-1.0' });
        return;
      }
      const form = new URLSearchParams(
        String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded') ? text : '',
      );
      if (form.get('Action') === 'ListStackResources') {
        const account = callerAccount(req, opts);
        const region = signedRegion(req) ?? opts.region;
        const stackName = form.get('StackName') ?? '';
        const resources = opts.stackResources?.(account, region, stackName);
        if (!resources) {
          const message = `Stack with id ${stackName} does not exist`;
          res.writeHead(400, { 'content-type': 'text/xml' });
          res.end(
            `<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>${xmlText(message)}</Message></Error><RequestId>twin</RequestId></ErrorResponse>`,
          );
          return;
        }
        const members = resources
          .map(
            (r) =>
              `<member><LogicalResourceId>${xmlText(r.logicalId)}</LogicalResourceId><PhysicalResourceId>${xmlText(r.physicalId)}</PhysicalResourceId><ResourceType>${xmlText(r.type)}</ResourceType><LastUpdatedTimestamp>${new Date(opts.clock.now()).toISOString()}</LastUpdatedTimestamp><ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>`,
          )
          .join('');
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(
          `<ListStackResourcesResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><ListStackResourcesResult><StackResourceSummaries>${members}</StackResourceSummaries></ListStackResourcesResult><ResponseMetadata><RequestId>twin</RequestId></ResponseMetadata></ListStackResourcesResponse>`,
        );
        return;
      }
      const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
      if (invoke && req.method === 'POST') {
        const account = callerAccount(req, opts);
        const name = decodeURIComponent(invoke[1]!);
        const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
        const payload = text ? JSON.parse(text) : {};
        const region = signedRegion(req) ?? opts.region;
        if (type === 'Event') {
          opts.lambda.invokeAsync(name, payload, { account, region });
          send(202, undefined);
          return;
        }
        const r = await opts.lambda.invoke(name, payload, { account, region });
        send(200, r.payload, {
          'x-amz-executed-version': '$LATEST',
          ...(r.functionError ? { 'x-amz-function-error': r.functionError } : {}),
        });
        return;
      }
      const sns = /^\/sns\/(\d{12})\/(?:([a-z0-9-]+)\/)?([^/]+)$/.exec(url.pathname);
      if (sns && req.method === 'POST') {
        const [, account, fnRegion, fn] = sns as unknown as [string, string, string | undefined, string];
        const region = fnRegion ?? opts.region;
        const n = JSON.parse(text) as Record<string, unknown>;
        if (n.Type !== 'Notification') {
          send(200, {});
          return;
        }
        const topicArn = String(n.TopicArn);
        const delivery: Host['snsDeliveries'][number] = {
          account,
          function: fn,
          topicArn,
          messageId: String(n.MessageId),
        };
        snsDeliveries.push(delivery);
        // SNS invokes the function as the service principal: the function's resource policy
        // (AWS::Lambda::Permission) must allow it for this topic.
        try {
          await opts.iam?.authorizeCheck('sns.amazonaws.com', {
            action: 'lambda:InvokeFunction',
            resource: `arn:aws:lambda:${region}:${account}:function:${fn}`,
            resourceAccount: account,
            context: { 'aws:SourceArn': topicArn, 'aws:SourceAccount': topicArn.split(':')[4]! },
            resourcePolicy: opts.iam
              .lookups({ account, region })
              .lambdaPolicy(`arn:aws:lambda:${region}:${account}:function:${fn}`),
            denial: 'lambda',
            why: `SNS delivers a message of ${topicArn} to the function`,
          });
        } catch (err) {
          if (!(err instanceof AccessDeniedError)) throw err;
          delivery.denied = err.message;
          send(200, {});
          return;
        }
        const attributes: Record<string, { Type: string; Value: string }> = {};
        for (const [k, v] of Object.entries(
          (n.MessageAttributes ?? {}) as Record<string, Record<string, string>>,
        )) {
          attributes[k] = { Type: v.Type ?? v.DataType ?? 'String', Value: v.Value ?? v.StringValue ?? '' };
        }
        const event = {
          Records: [
            {
              EventSource: 'aws:sns',
              EventVersion: '1.0',
              EventSubscriptionArn: opts.subscriptionArn(account, fn, topicArn) ?? `${topicArn}:twin`,
              Sns: {
                Type: 'Notification',
                MessageId: n.MessageId,
                TopicArn: topicArn,
                Subject: n.Subject ?? null,
                Message: n.Message,
                Timestamp: n.Timestamp,
                SignatureVersion: n.SignatureVersion,
                Signature: n.Signature,
                SigningCertUrl: n.SigningCertURL,
                UnsubscribeUrl: n.UnsubscribeURL,
                MessageAttributes: attributes,
              },
            },
          ],
        };
        opts.lambda.invokeAsync(fn, event, { account, region });
        send(200, {});
        return;
      }
      send(404, { message: `the twin host has no route for ${req.method} ${url.pathname}` });
    } catch (err) {
      if (err instanceof AccessDeniedError) {
        send(
          err.$metadata.httpStatusCode,
          { __type: err.Code, message: err.message },
          { 'x-amzn-errortype': err.Code },
        );
        return;
      }
      if (err instanceof ServiceError) {
        send(err.status, { __type: err.code, message: err.message }, { 'x-amzn-errortype': err.code });
        return;
      }
      const e = err as Error;
      send(500, { __type: e.name ?? 'ServiceException', message: e.message });
    }
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    snsDeliveries,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
