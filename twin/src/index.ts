// The offline twin of the two AWS accounts: moto (with the project's extension) for RDS, KMS,
// SNS, SQS, DynamoDB, Secrets Manager and STS; the twin host for Lambda and Step Functions; a
// virtual clock for everything that waits. Tests, the demo and the benchmark start it with
// `startTwin()`, deploy the packaged services into it and run executions.
import './polyfills';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { useClock } from './asl-runtime';
import { accountClient, type Where } from './aws';
import { VirtualClock } from './clock';
import { createDispatcher } from './dispatch';
import { type Host, startHost } from './host';
import { IamAuthorizer } from './iam';
import { startIamProxy } from './iam-proxy';
import { LambdaService } from './lambda';
import { CAUSE_LIMIT, checkCallLimits, checkPayload, ERROR_LIMIT } from './limits';
import { type MotoServer, startMoto } from './moto';
import { validateStaticParameters } from './naming';
import { packageService, type Side } from './package';
import { type DeployedStack, provision } from './provision';
import { type AslDefinition, type ExecutionRecord, StepFunctionsService } from './stepfunctions';

export type { DeployedStack, ExecutionRecord, Side };

export const SOURCE_ACCOUNT = '111111111111';
export const DESTINATION_ACCOUNT = '222222222222';

export interface TwinOptions {
  region?: string;
  sourceAccount?: string;
  destinationAccount?: string;
  /** Evaluate IAM for every call made for a principal (default true; TWIN_IAM=off turns it off). */
  iam?: boolean;
  /**
   * Reuse this process's moto_server from an earlier (stopped) twin, reset, instead of starting one
   * (default: in Jest, where each test file of a worker starts a twin; see StartMotoOptions.shared).
   */
  sharedMoto?: boolean;
}

export interface Twin {
  region: string;
  accounts: Record<Side, string>;
  clock: VirtualClock;
  moto: MotoServer;
  host: Host;
  lambda: LambdaService;
  sfn: StepFunctionsService;
  /** IAM evaluation: roles and resource policies of the deployed stacks, refusals so far. */
  iam: IamAuthorizer;
  /** The endpoint Lambdas use for moto: requests signed with a registered key are authorised there. */
  iamProxyUrl: string;
  /** The latest deployment of each side (what `side` arguments below refer to). */
  stacks: Partial<Record<Side, DeployedStack>>;
  /** Every deployment, in order: any number of accounts, Regions and stages. */
  deployments: DeployedStack[];
  /**
   * Package (cached) and provision one service in an account and Region (default: the side's
   * account, the twin's Region); becomes `stacks[side]`.
   */
  deploy(side: Side, opts?: DeployOptions): Promise<DeployedStack>;
  /**
   * An operator's view of one account: the environment an AWS CLI or SDK v3 tool needs to reach the
   * twin as that account (AWS_ENDPOINT_URL* and assumed-role credentials), as a shell would set it.
   */
  operatorEnv(side: Side | string, region?: string): Promise<Record<string, string>>;
  /** SDK clients bound to one account (a side or an account id) and Region of the twin. */
  aws(side: Side | string, region?: string): ReturnType<typeof clientsFor>;
  /** ARN of a deployed state machine by its key in `stepFunctions.stateMachines` (e.g. 'replicate'). */
  machineArn(stack: Side | DeployedStack, key: string): string;
  /** Start an execution (like `sls invoke stepf`); resolves when it started. */
  start(stack: Side | DeployedStack, machine: string, input: unknown, name?: string): ExecutionRecord;
  /** Start an execution and wait until it and everything it set off (SNS, other executions) ended. */
  run(stack: Side | DeployedStack, machine: string, input: unknown, name?: string): Promise<ExecutionRecord>;
  /** Wait until no execution runs and nothing is in flight. */
  settle(): Promise<void>;
  /** Fresh accounts: moto reset, no stacks, no executions, clock kept. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export interface DeployOptions {
  stage?: string;
  params?: Record<string, string>;
  /** Account to deploy into (default: the side's account). */
  account?: string;
  /** Region to deploy into (default: the twin's Region). */
  region?: string;
}

function clientsFor(where: Where) {
  return {
    where,
    rds: accountClient(RDSClient, where),
    kms: accountClient(KMSClient, where),
    sns: accountClient(SNSClient, where),
    sqs: accountClient(SQSClient, where),
    dynamodb: accountClient(DynamoDBClient, where),
    secrets: accountClient(SecretsManagerClient, where),
  };
}

export async function startTwin(opts: TwinOptions = {}): Promise<Twin> {
  const region = opts.region ?? process.env.TWIN_REGION ?? 'eu-west-1';
  const accounts: Record<Side, string> = {
    source: opts.sourceAccount ?? SOURCE_ACCOUNT,
    destination: opts.destinationAccount ?? DESTINATION_ACCOUNT,
  };
  const moto = await startMoto({ shared: opts.sharedMoto ?? process.env.JEST_WORKER_ID !== undefined });
  const iam = new IamAuthorizer(moto.url);
  iam.enabled = opts.iam ?? process.env.TWIN_IAM !== 'off';
  // AWS limits (names, tags, sizes, share quota) on every call a state machine or Lambda makes.
  const checkLimits = (call: Parameters<typeof checkCallLimits>[0]) =>
    checkCallLimits(call, {
      rdsTags: (arn) => iam.lookups(call).rdsTags(arn),
      sharedWith: (arn) => iam.snapshotSharedWith(arn),
    });
  // Lambdas reach moto through a proxy that authorises what their role's credentials ask for.
  const proxy = await startIamProxy(moto.url, iam, checkLimits);
  const clock = new VirtualClock();
  await moto.control.setNow(clock.now() / 1000);
  clock.onAdvance = async (ms) => {
    await moto.control.setNow(ms / 1000);
  };
  useClock(clock);

  const keys = new Map<string, string>();
  let host: Host | undefined;
  const dispatchers = new Map<string, ReturnType<typeof createDispatcher>>();
  const sfn: StepFunctionsService = new StepFunctionsService(
    clock,
    async (resource, params, caller): Promise<unknown> => {
      const key = `${caller.account}/${caller.region}`;
      let d = dispatchers.get(key);
      if (!d) {
        d = createDispatcher({
          endpoints: { default: moto.url, sfn: host!.url, lambda: host!.url },
          region: caller.region,
          account: caller.account,
          authorize: async (call, principal) => {
            await iam.authorize(principal, call);
            await checkLimits(call);
          },
        });
        dispatchers.set(key, d);
      }
      // Every Task calls AWS as the state machine's role.
      const machine = sfn.machines.get(caller.execution.stateMachineArn);
      const principal = machine?.roleArn;
      const declared = machine?.tasks.get(caller.state) ?? resource;
      if (principal && /:states:startExecution\.sync/.test(declared)) {
        await authorizeSyncExecution(principal, params, caller);
      }
      checkPayload(caller.state, 'input', params);
      const result = await d.dispatch(resource, params, { principal });
      checkPayload(caller.state, 'output', result);
      return result;
    },
  );
  // `startExecution.sync`: Step Functions follows the child through its managed EventBridge rule and
  // describes (and on abort stops) the child as the parent's role (Step Functions developer guide,
  // "IAM policies for ... Step Functions"). Checked when the task starts (inferred).
  const authorizeSyncExecution = async (
    principal: string,
    params: unknown,
    caller: { account: string; region: string },
  ) => {
    const p = (params ?? {}) as { StateMachineArn?: string; Name?: string };
    const child = String(p.StateMachineArn ?? '');
    const execution = `${child.replace(':stateMachine:', ':execution:')}:${p.Name ?? '*'}`;
    const rule = `arn:aws:events:${caller.region}:${caller.account}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule`;
    const checks = [
      ...['events:PutTargets', 'events:PutRule', 'events:DescribeRule'].map((action) => ({
        action,
        resource: rule,
      })),
      ...['states:DescribeExecution', 'states:StopExecution'].map((action) => ({
        action,
        resource: execution,
      })),
    ];
    for (const c of checks) {
      await iam
        .authorizeCheck(principal, {
          ...c,
          resourceAccount: caller.account,
          context: {},
          denial: 'sfn',
          why: 'Step Functions runs startExecution.sync through a managed EventBridge rule and follows the child execution',
        })
        .catch((e: Error & { $metadata?: { httpStatusCode?: number } }) => {
          // Reported like a failed start (the optimised integration's v1 error names).
          throw Object.assign(new Error(e.message), { name: 'StepFunctions.AWSStepFunctionsException' });
        });
    }
  };
  const lambda = new LambdaService(clock, { moto: proxy.url, host: 'http://pending' });
  const stacks: Partial<Record<Side, DeployedStack>> = {};
  const deployments: DeployedStack[] = [];
  host = await startHost({
    clock,
    lambda,
    sfn,
    region,
    iam,
    accountOfKey: (k) => keys.get(k),
    stackResources: (account, region, stackName) => {
      const stack = [...deployments]
        .reverse()
        .find((d) => d.account === account && d.region === region && d.stackName === stackName);
      if (!stack) return undefined;
      return Object.entries(stack.template.Resources ?? {}).flatMap(([logicalId, r]) => {
        const physical = stack.context.physical.get(logicalId);
        return physical
          ? [{ logicalId, type: String((r as { Type: string }).Type), physicalId: String(physical.ref) }]
          : [];
      });
    },
    subscriptionArn: (account, fn) => {
      for (const s of deployments) {
        const sub = s?.subscriptions.find((x) => x.function === fn && s.account === account);
        if (sub) return sub.subscriptionArn;
      }
      return undefined;
    },
  });
  (lambda as unknown as { endpoints: { moto: string; host: string } }).endpoints.host = host.url;

  const validateDefinition = (definition: AslDefinition, name: string) => {
    const walk = (def: AslDefinition) => {
      for (const [stateName, state] of Object.entries(def.States)) {
        if (state.Type === 'Task' && String(state.Resource).startsWith('arn:aws:states:::aws-sdk:')) {
          try {
            validateStaticParameters(String(state.Resource), state.Parameters ?? {});
          } catch (e) {
            throw new Error(
              `CreateStateMachine ${name} rejected: state '${stateName}': ${(e as Error).message}`,
            );
          }
        }
        if (state.Type === 'Fail') {
          // FailState: Error at most 256, Cause at most 32,768 characters (API reference).
          const error = typeof state.Error === 'string' ? state.Error : '';
          const cause = typeof state.Cause === 'string' ? state.Cause : '';
          if (error.length > ERROR_LIMIT || cause.length > CAUSE_LIMIT) {
            throw new Error(
              `CreateStateMachine ${name} rejected: state '${stateName}': ${error.length > ERROR_LIMIT ? `Error is ${error.length} characters (at most ${ERROR_LIMIT})` : `Cause is ${cause.length} characters (at most ${CAUSE_LIMIT})`}`,
            );
          }
        }
        const body = state.ItemProcessor ?? state.Iterator;
        if (body) walk(body);
        for (const b of state.Branches ?? []) walk(b);
      }
    };
    walk(definition);
  };

  const twin: Twin = {
    region,
    accounts,
    clock,
    moto,
    host,
    lambda,
    sfn,
    iam,
    iamProxyUrl: proxy.url,
    stacks,
    deployments,
    async deploy(side, o = {}) {
      const pkg = await packageService(side, o.stage ?? 'dev', o.params ?? {});
      const stack = await provision(pkg, o.account ?? accounts[side], o.region ?? region, {
        motoUrl: moto.url,
        hostUrl: host!.url,
        lambda,
        sfn,
        validateDefinition,
        rememberKey: (k, a) => keys.set(k, a),
        iam,
      });
      stacks[side] = stack;
      deployments.push(stack);
      return stack;
    },
    async operatorEnv(side, inRegion) {
      const account = side === 'source' || side === 'destination' ? accounts[side] : side;
      const sts = accountClient(STSClient, { endpoint: moto.url, account, region });
      const { Credentials: c } = await sts.send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${account}:role/operator`,
          RoleSessionName: 'operator',
        }),
      );
      keys.set(c!.AccessKeyId!, account);
      return {
        AWS_ENDPOINT_URL: moto.url,
        AWS_ENDPOINT_URL_SFN: host!.url,
        AWS_ENDPOINT_URL_LAMBDA: host!.url,
        AWS_ENDPOINT_URL_CLOUDFORMATION: host!.url,
        AWS_ACCESS_KEY_ID: c!.AccessKeyId!,
        AWS_SECRET_ACCESS_KEY: c!.SecretAccessKey!,
        AWS_SESSION_TOKEN: c!.SessionToken!,
        AWS_REGION: inRegion ?? region,
        AWS_DEFAULT_REGION: inRegion ?? region,
      };
    },
    aws(side, inRegion) {
      const account = side === 'source' || side === 'destination' ? accounts[side] : side;
      return clientsFor({ endpoint: moto.url, account, region: inRegion ?? region });
    },
    machineArn(side, key) {
      const stack = typeof side === 'string' ? stacks[side] : side;
      if (!stack) throw new Error(`the ${side} service is not deployed in the twin (twin.deploy('${side}'))`);
      // By the name each service gives its machines: <service>-<stage>-<key in kebab case>.
      const suffix = `-${key.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()}`;
      const found = Object.values(stack.stateMachines).find((m) => m.name.endsWith(suffix));
      if (found) return found.arn;
      throw new Error(
        `no state machine '${key}' in the ${stack.stackName} stack (has: ${Object.values(stack.stateMachines)
          .map((m) => m.name)
          .join(', ')})`,
      );
    },
    start(side, machine, input, name) {
      const stack = typeof side === 'string' ? stacks[side] : side;
      const account = stack?.account ?? accounts[side as Side];
      return sfn.startExecution(
        { account },
        { stateMachineArn: twin.machineArn(side, machine), name, input: JSON.stringify(input) },
      );
    },
    async run(side, machine, input, name) {
      const exec = twin.start(side, machine, input, name);
      await exec.done;
      await twin.settle();
      return exec;
    },
    async settle() {
      for (;;) {
        await clock.idle();
        await sfn.settled();
        await clock.idle();
        if ([...sfn.executions.values()].every((e) => e.status !== 'RUNNING')) return;
      }
    },
    async reset() {
      await twin.settle();
      await lambda.stop();
      await moto.control.reset({ now: clock.now() / 1000 });
      for (const k of Object.keys(stacks)) delete stacks[k as Side];
      deployments.length = 0;
      sfn.machines.clear();
      sfn.executions.clear();
      iam.reset();
      lambda.invocations.length = 0;
      lambda.logs.length = 0;
      lambda.clearFaults();
      host!.snsDeliveries.length = 0;
    },
    async stop() {
      useClock(undefined);
      await lambda.stop();
      await host!.stop();
      await proxy.stop();
      await moto.stop();
    },
  };
  return twin;
}
