// The twin's AWS Lambda: runs the zips that `sls package` produced, each function in a worker
// thread with the environment from the template, credentials of its own account and the SDK
// pointed at the twin. Async invocations (SNS) retry twice and then go to the function's
// on-failure destination, as Lambda does.
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
 * The Lambda service itself refuses the next `count` synchronous invocations of a function (whose
 * name ends with `function`) before the function runs: by default TooManyRequestsException, HTTP
 * 429 ("Rate Exceeded."), i.e. throttling; the state machine sees `Lambda.TooManyRequestsException`.
 */
export interface InvokeFault {
  function: string;
  count?: number;
  code?: string;
  status?: number;
  message?: string;
}

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
  /** Synchronous invocations refused so far by an InvokeFault (the function did not run). */
  readonly refused: Array<{ function: string; code: string; at: string }> = [];
  private faults: Array<Required<InvokeFault>> = [];

  constructor(
    private readonly clock: VirtualClock,
    private readonly endpoints: { moto: string; host: string },
  ) {}

  register(fn: LambdaFunction): void {
    this.functions.set(fn.arn, { fn, pending: new Map() });
  }

  addFault(fault: InvokeFault): void {
    this.faults.push({
      count: 1,
      code: 'TooManyRequestsException',
      status: 429,
      message: 'Rate Exceeded.',
      ...fault,
    });
  }

  clearFaults(): void {
    this.faults = [];
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
    const fault = this.faults.find((f) => f.count > 0 && fn.name.endsWith(f.function));
    if (fault) {
      fault.count--;
      this.refused.push({ function: fn.name, code: fault.code, at: this.clock.iso() });
      throw new ServiceError(fault.code, fault.message, fault.status);
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
    const worker = this.worker(loaded);
    const id = randomUUID();
    const reply = await new Promise<{ ok: boolean; result?: unknown; error?: unknown; initMs?: number }>(
      (resolve) => {
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
    return reply.ok
      ? { statusCode: 200, payload: reply.result }
      : { statusCode: 200, payload: reply.error, functionError: 'Unhandled' };
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
        last = await this.clock.track(() => this.run(fn, payload, 'Event', attempt));
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
