// The twin's AWS Lambda: runs the zips that `sls package` produced, each function in a worker
// thread with the environment from the template, credentials of its own account and the SDK
// pointed at the twin. Async invocations (SNS) retry twice and then go to the function's
// on-failure destination, as Lambda does.
// Faults (`addFault`): an invocation can fail as a timeout, a crash or a Lambda service error,
// either before the function runs or after it ran to completion (its side effects happened and
// only its response is lost), so tests can prove that a run survives a write whose reply it never saw.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import AdmZip from 'adm-zip';
import { accountClient } from './aws';
import type { VirtualClock } from './clock';
import { ROOT } from './package';
import { ServiceError } from './stepfunctions';

export interface LambdaFunction {
  name: string;
  arn: string;
  account: string;
  region: string;
  zipPath: string;
  handler: string;
  environment: Record<string, string>;
  timeoutSeconds: number;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  onFailureArn?: string;
  maximumRetryAttempts: number;
}

export interface InvocationRecord {
  function: string;
  account: string;
  type: 'RequestResponse' | 'Event';
  at: string;
  ok: boolean;
  errorType?: string;
  coldStartMs?: number;
  attempt: number;
}

export interface InvokeResult {
  statusCode: number;
  payload: unknown;
  functionError?: 'Unhandled';
}

/**
 * How a faulty invocation fails, as Step Functions then names it:
 * - `throttle`: the Lambda service refuses the Invoke before the function runs: HTTP 429
 *   `TooManyRequestsException` ("Rate Exceeded."), `Lambda.TooManyRequestsException`;
 * - `timeout`: function error `Sandbox.Timedout` ("Task timed out after N seconds");
 * - `crash`: function error `Runtime.ExitError` (the runtime exited);
 * - `service-error`: the Invoke call itself fails with HTTP 500 `ServiceException`
 *   (`Lambda.ServiceException` in Step Functions).
 */
export type LambdaFailure = 'throttle' | 'timeout' | 'crash' | 'service-error';

export interface LambdaFault {
  /** Glob (`*`, `?`) on the function name, e.g. `*-mergeSecret`. */
  function: string;
  failure: LambdaFailure;
  /**
   * true (default): the function runs to completion first (its effect happens); false: it never
   * runs. A throttle never runs the function.
   */
  after?: boolean;
  /** How many invocations fail (default 1). */
  count?: number;
  /** How many matching invocations answer normally before the fault applies (default 0). */
  skip?: number;
}

export type ListedLambdaFault = LambdaFault & { id: number; remaining: number };

const globRegExp = (glob: string) =>
  new RegExp(
    `^${glob
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
  );

type WorkerReply = { ok: boolean; result?: unknown; error?: unknown; initMs?: number };

interface Pending {
  resolve: (r: { ok: boolean; result?: unknown; error?: unknown; initMs?: number }) => void;
}

interface Loaded {
  fn: LambdaFunction;
  worker?: Worker;
  pending: Map<string, Pending>;
}

export class LambdaService {
  private readonly functions = new Map<string, Loaded>();
  readonly invocations: InvocationRecord[] = [];
  readonly logs: Array<{ function: string; level: string; line: string }> = [];
  readonly asyncFailures: Array<{ function: string; errorType?: string; destination?: string }> = [];
  /** Synchronous invocations the service refused so far (throttle faults: the function did not run). */
  readonly refused: Array<{ function: string; code: string; at: string }> = [];
  private faultList: ListedLambdaFault[] = [];
  private nextFaultId = 1;

  constructor(
    private readonly clock: VirtualClock,
    private readonly endpoints: { moto: string; host: string },
  ) {}

  register(fn: LambdaFunction): void {
    this.functions.set(fn.arn, { fn, pending: new Map() });
  }

  /** Adds faults; returns the full list (each with an id and its remaining count). */
  addFault(fault: LambdaFault | LambdaFault[]): ListedLambdaFault[] {
    for (const f of Array.isArray(fault) ? fault : [fault]) {
      if (!['throttle', 'timeout', 'crash', 'service-error'].includes(f.failure))
        throw new Error(
          `unknown Lambda failure ${String(f.failure)}; expected throttle, timeout, crash or service-error`,
        );
      const count = f.count ?? 1;
      if (!Number.isInteger(count) || count < 1)
        throw new Error('Lambda fault: count must be a positive integer');
      if (f.skip !== undefined && (!Number.isInteger(f.skip) || f.skip < 0))
        throw new Error('Lambda fault: skip must be a whole number');
      const after = f.failure === 'throttle' ? false : (f.after ?? true);
      this.faultList.push({ ...f, after, count, remaining: count, id: this.nextFaultId++ });
    }
    return this.faults();
  }

  faults(): ListedLambdaFault[] {
    return this.faultList.map((f) => ({ ...f }));
  }

  clearFaults(): void {
    this.faultList = [];
  }

  private takeFault(fn: LambdaFunction): ListedLambdaFault | undefined {
    const f = this.faultList.find((x) => x.remaining > 0 && globRegExp(x.function).test(fn.name));
    if (!f) return undefined;
    if (f.skip) {
      f.skip -= 1;
      return undefined;
    }
    f.remaining -= 1;
    return f;
  }

  list(): LambdaFunction[] {
    return [...this.functions.values()].map((l) => l.fn);
  }

  resolve(nameOrArn: string, account: string, region: string): LambdaFunction | undefined {
    const arn = nameOrArn.startsWith('arn:')
      ? nameOrArn.replace(/:(\$LATEST|\d+)$/, '')
      : `arn:aws:lambda:${region}:${account}:function:${nameOrArn}`;
    return this.functions.get(arn)?.fn;
  }

  private extract(fn: LambdaFunction): { file: string; exportName: string } {
    const hash = createHash('sha256').update(fn.zipPath).update(fn.arn).digest('hex').slice(0, 12);
    const dir = join(ROOT, '.twin', 'lambdas', `${fn.name}-${hash}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    new AdmZip(fn.zipPath).extractAllTo(dir, true);
    const dot = fn.handler.lastIndexOf('.');
    const file = join(dir, `${fn.handler.slice(0, dot)}.js`);
    if (!existsSync(file)) throw new Error(`handler ${fn.handler} not found in ${fn.zipPath}`);
    return { file, exportName: fn.handler.slice(dot + 1) };
  }

  private worker(loaded: Loaded): Worker {
    if (loaded.worker) return loaded.worker;
    const { fn } = loaded;
    const { file, exportName } = this.extract(fn);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      NODE_OPTIONS: '',
      AWS_REGION: fn.region,
      AWS_DEFAULT_REGION: fn.region,
      AWS_ACCESS_KEY_ID: fn.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: fn.credentials.secretAccessKey,
      ...(fn.credentials.sessionToken ? { AWS_SESSION_TOKEN: fn.credentials.sessionToken } : {}),
      AWS_ENDPOINT_URL: this.endpoints.moto,
      AWS_ENDPOINT_URL_SFN: this.endpoints.host,
      AWS_ENDPOINT_URL_LAMBDA: this.endpoints.host,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1',
      // The twin may run on Node 20; the Lambda runtime is nodejs22.x, where the SDK does not warn.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...fn.environment,
    };
    const worker = new Worker(join(__dirname, 'lambda-worker.js'), {
      env,
      workerData: { file, exportName },
      stdout: true,
      stderr: true,
    });
    worker.unref();
    // What the function writes goes to its "CloudWatch log" here, as on Lambda (tests scan it).
    for (const [stream, level] of [
      [worker.stdout, 'stdout'],
      [worker.stderr, 'stderr'],
    ] as const) {
      let buffered = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buffered += chunk;
        let nl = buffered.indexOf('\n');
        while (nl >= 0) {
          this.logs.push({ function: fn.name, level, line: buffered.slice(0, nl) });
          buffered = buffered.slice(nl + 1);
          nl = buffered.indexOf('\n');
        }
      });
    }
    worker.on(
      'message',
      (msg: { id?: string; log?: { level: string; line: string } } & Record<string, unknown>) => {
        if (msg.log) {
          this.logs.push({ function: fn.name, level: msg.log.level, line: msg.log.line });
          return;
        }
        const p = msg.id ? loaded.pending.get(msg.id) : undefined;
        if (p && msg.id) {
          loaded.pending.delete(msg.id);
          p.resolve(msg as never);
        }
      },
    );
    worker.on('error', (err) => {
      for (const [id, p] of loaded.pending) {
        loaded.pending.delete(id);
        p.resolve({ ok: false, error: { errorType: 'Runtime.ExitError', errorMessage: String(err) } });
      }
      loaded.worker = undefined;
    });
    loaded.worker = worker;
    return worker;
  }

  /** One synchronous invocation (RequestResponse). */
  async invoke(
    nameOrArn: string,
    payload: unknown,
    caller: { account: string; region: string },
    attempt = 1,
  ) {
    const fn = this.resolve(nameOrArn, caller.account, caller.region);
    if (!fn) {
      const err = new Error(`Function not found: ${nameOrArn}`);
      err.name = 'ResourceNotFoundException';
      throw err;
    }
    return this.clock.track(() => this.run(fn, payload, 'RequestResponse', attempt));
  }

  private async run(
    fn: LambdaFunction,
    payload: unknown,
    type: 'RequestResponse' | 'Event',
    attempt: number,
  ): Promise<InvokeResult> {
    const loaded = this.functions.get(fn.arn)!;
    const fault = this.takeFault(fn);
    if (fault?.failure === 'throttle') {
      this.refused.push({ function: fn.name, code: 'TooManyRequestsException', at: this.clock.iso() });
      throw new ServiceError('TooManyRequestsException', 'Rate Exceeded.', 429);
    }
    const id = randomUUID();
    const ran =
      fault && !fault.after
        ? { ok: false }
        : await new Promise<{ ok: boolean; result?: unknown; error?: unknown; initMs?: number }>(
            (resolve) => {
              const worker = this.worker(loaded);
              loaded.pending.set(id, { resolve });
              worker.postMessage({
                id,
                event: payload,
                context: {
                  awsRequestId: id,
                  functionName: fn.name,
                  functionVersion: '$LATEST',
                  invokedFunctionArn: fn.arn,
                  memoryLimitInMB: '128',
                  logGroupName: `/aws/lambda/${fn.name}`,
                  logStreamName: 'twin',
                  timeoutMs: fn.timeoutSeconds * 1000,
                },
              });
            },
          );
    const reply: WorkerReply = fault ? this.faultReply(fn, fault, id) : ran;
    this.invocations.push({
      function: fn.name,
      account: fn.account,
      type,
      at: this.clock.iso(),
      ok: reply.ok,
      errorType: reply.ok ? undefined : (reply.error as { errorType?: string }).errorType,
      coldStartMs: reply.initMs,
      attempt,
    });
    if (fault?.failure === 'service-error') {
      throw new ServiceError(
        'ServiceException',
        'The Lambda service encountered an internal error (injected by the twin).',
        500,
      );
    }
    return reply.ok
      ? { statusCode: 200, payload: reply.result }
      : { statusCode: 200, payload: reply.error, functionError: 'Unhandled' };
  }

  private faultReply(fn: LambdaFunction, fault: ListedLambdaFault, requestId: string): WorkerReply {
    switch (fault.failure) {
      case 'timeout':
        return {
          ok: false,
          error: {
            errorType: 'Sandbox.Timedout',
            errorMessage: `RequestId: ${requestId} Error: Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`,
          },
        };
      case 'crash':
        return {
          ok: false,
          error: {
            errorType: 'Runtime.ExitError',
            errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: signal: killed`,
          },
        };
      default:
        return { ok: false, error: { errorType: 'ServiceException' } };
    }
  }

  /**
   * Asynchronous invocation (InvocationType Event, SNS): up to 1 + maximumRetryAttempts tries,
   * 1 and 2 minutes apart on the virtual clock, then the on-failure destination.
   */
  invokeAsync(nameOrArn: string, payload: unknown, caller: { account: string; region: string }): void {
    const fn = this.resolve(nameOrArn, caller.account, caller.region);
    if (!fn) throw new Error(`Function not found: ${nameOrArn}`);
    const job = async () => {
      let last: InvokeResult | undefined;
      for (let attempt = 1; attempt <= 1 + fn.maximumRetryAttempts; attempt++) {
        if (attempt > 1) await this.clock.sleep(60_000 * (attempt - 1));
        try {
          last = await this.clock.track(() => this.run(fn, payload, 'Event', attempt));
        } catch (err) {
          // A Lambda service error on an async invocation: Lambda retries it like a function error.
          last = { statusCode: 500, payload: { errorType: (err as Error).name }, functionError: 'Unhandled' };
        }
        if (!last.functionError) return;
      }
      const errorType = (last?.payload as { errorType?: string } | undefined)?.errorType;
      this.asyncFailures.push({ function: fn.name, errorType, destination: fn.onFailureArn });
      if (fn.onFailureArn?.startsWith('arn:aws:sqs:')) {
        const [, , , region, account, queue] = fn.onFailureArn.split(':');
        const sqs = accountClient(SQSClient, {
          endpoint: this.endpoints.moto,
          account: account!,
          region: region!,
        });
        await this.clock.track(
          sqs.send(
            new SendMessageCommand({
              QueueUrl: `${this.endpoints.moto}/${account}/${queue}`,
              MessageBody: JSON.stringify({
                version: '1.0',
                timestamp: this.clock.iso(),
                requestContext: {
                  requestId: randomUUID(),
                  functionArn: `${fn.arn}:$LATEST`,
                  condition: 'RetriesExhausted',
                  approximateInvokeCount: 1 + fn.maximumRetryAttempts,
                },
                requestPayload: payload,
                responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
                responsePayload: last?.payload,
              }),
            }),
          ),
        );
      }
    };
    void job();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.functions.values()].map((l) => l.worker?.terminate()));
    for (const l of this.functions.values()) l.worker = undefined;
  }
}
