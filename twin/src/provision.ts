// "Deploys" a packaged CloudFormation template into the twin: each resource the services declare
// is created in moto (KMS, SNS, SQS, DynamoDB, Secrets Manager) or registered with the twin host
// (Lambda functions, state machines), in dependency order, in the stack's account. `Ref`,
// `Fn::GetAtt` and `Fn::Sub` then resolve to these resources, so definitions and environment
// variables carry the twin's ARNs exactly where the real ones would be.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  CreateTopicCommand,
  GetTopicAttributesCommand,
  SetTopicAttributesCommand,
  SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { accountClient, type Where } from './aws';
import { CfnContext, type Physical } from './cfn';
import { AccessDeniedError, type IamAuthorizer } from './iam';
import type { LambdaFunction, LambdaService } from './lambda';
import type { CfnTemplate, PackagedService } from './package';
import type { AslDefinition, StateMachineRecord, StepFunctionsService } from './stepfunctions';

export interface DeployedStack {
  side: PackagedService['side'];
  stage: string;
  stackName: string;
  account: string;
  region: string;
  template: CfnTemplate;
  context: CfnContext;
  /** Outputs, evaluated. */
  outputs: Record<string, string>;
  stateMachines: Record<string, StateMachineRecord>;
  functions: Record<string, LambdaFunction>;
  subscriptions: Array<{ topicArn: string; subscriptionArn: string; function?: string; protocol: string }>;
  schedules: Array<{ logicalId: string; state: string; expression?: string; target?: string }>;
}

export interface ProvisionDeps {
  motoUrl: string;
  hostUrl: string;
  lambda: LambdaService;
  sfn: StepFunctionsService;
  /** Rejects a definition as CreateStateMachine would (strict field names). */
  validateDefinition: (definition: AslDefinition, name: string) => void;
  rememberKey: (accessKeyId: string, account: string) => void;
  /** IAM: roles, policies and Lambda permissions are registered here; trust and Subscribe are checked. */
  iam?: IamAuthorizer;
}

type Props = Record<string, unknown>;

function order(template: CfnTemplate): string[] {
  const ids = Object.keys(template.Resources);
  const deps = new Map<string, Set<string>>();
  for (const id of ids) {
    const r = template.Resources[id]!;
    const d = CfnContext.dependencies(r.Properties ?? {});
    for (const x of ([] as string[]).concat((r.DependsOn as string[] | string | undefined) ?? [])) d.add(x);
    deps.set(id, new Set([...d].filter((x) => ids.includes(x))));
  }
  const out: string[] = [];
  const done = new Set<string>();
  while (out.length < ids.length) {
    const ready = ids.filter((id) => !done.has(id) && [...deps.get(id)!].every((d) => done.has(d)));
    if (ready.length === 0)
      throw new Error(`circular references among ${ids.filter((i) => !done.has(i)).join(', ')}`);
    for (const id of ready) {
      done.add(id);
      out.push(id);
    }
  }
  return out;
}

/** The service must be able to assume the role (its trust policy), as CreateFunction and CreateStateMachine check. */
async function assumable(
  deps: ProvisionDeps,
  roleArn: string,
  service: string,
  sourceArn: string,
  failure: () => string,
): Promise<void> {
  const role = deps.iam?.roles.get(roleArn);
  if (!deps.iam?.enabled || !role?.trust) return;
  try {
    await deps.iam.authorizeCheck(service, {
      action: 'sts:AssumeRole',
      resource: roleArn,
      resourceAccount: role.account,
      context: { 'aws:SourceAccount': sourceArn.split(':')[4]!, 'aws:SourceArn': sourceArn },
      resourcePolicy: role.trust,
      denial: 'sts',
    });
  } catch (e) {
    if (!(e instanceof AccessDeniedError)) throw e;
    throw new Error(`${failure()} ${e.message}`);
  }
}

/**
 * A stack's key gets an id derived from where it is and its logical id, so that it has the same ARN
 * in every twin: a parameter that names it (the destination's sourceKmsKeyArn) then keeps the
 * packaged variant the same, and the package is reused instead of made again for each test file.
 * moto takes the id from a twin-only tag (twin/moto/twin_moto.py, install_fixed_key_ids).
 */
function stableKeyId(account: string, region: string, stackName: string, logicalId: string): string {
  const h = createHash('sha256').update(`${account}/${region}/${stackName}/${logicalId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export async function provision(pkg: PackagedService, account: string, region: string, deps: ProvisionDeps) {
  const state = JSON.parse(readFileSync(join(pkg.dir, 'serverless-state.json'), 'utf8')) as {
    service: { service: string };
  };
  const stackName = `${state.service.service}-${pkg.stage}`;
  const ctx = new CfnContext(pkg.template, { accountId: account, region, stackName });
  const where: Where = { endpoint: deps.motoUrl, account, region };
  const kms = accountClient(KMSClient, where);
  const sns = accountClient(SNSClient, where);
  const sqs = accountClient(SQSClient, where);
  const ddb = accountClient(DynamoDBClient, where);
  const secrets = accountClient(SecretsManagerClient, where);
  const sts = accountClient(STSClient, where);

  const stack: DeployedStack = {
    side: pkg.side,
    stage: pkg.stage,
    stackName,
    account,
    region,
    template: pkg.template,
    context: ctx,
    outputs: {},
    stateMachines: {},
    functions: {},
    subscriptions: [],
    schedules: [],
  };
  const physicalName = (id: string, explicit: unknown, max = 80) =>
    typeof explicit === 'string' ? explicit : `${stackName}-${id}`.slice(0, max);
  const set = (id: string, p: Physical) => ctx.physical.set(id, p);

  for (const id of order(pkg.template)) {
    const resource = pkg.template.Resources[id]!;
    if (resource.Condition && !ctx.condition(String(resource.Condition))) continue;
    const props = (ctx.evaluate(resource.Properties ?? {}) ?? {}) as Props;
    switch (resource.Type) {
      case 'AWS::KMS::Key': {
        const key = await kms.send(
          new CreateKeyCommand({
            Description: props.Description as string,
            Policy: props.KeyPolicy ? JSON.stringify(props.KeyPolicy) : undefined,
            BypassPolicyLockoutSafetyCheck: true,
            // twin only: the same key id whenever this stack is deployed (see stableKeyId)
            Tags: [{ TagKey: 'twin:key-id', TagValue: stableKeyId(account, region, stackName, id) }],
          }),
        );
        const meta = key.KeyMetadata!;
        set(id, { ref: meta.KeyId!, attrs: { Arn: meta.Arn!, KeyId: meta.KeyId! } });
        break;
      }
      case 'AWS::KMS::Alias': {
        await kms.send(
          new CreateAliasCommand({
            AliasName: props.AliasName as string,
            TargetKeyId: props.TargetKeyId as string,
          }),
        );
        set(id, { ref: props.AliasName as string, attrs: {} });
        break;
      }
      case 'AWS::SNS::Topic': {
        const name = physicalName(id, props.TopicName, 256);
        const attributes: Record<string, string> = {};
        if (props.KmsMasterKeyId) attributes.KmsMasterKeyId = String(props.KmsMasterKeyId);
        const t = await sns.send(new CreateTopicCommand({ Name: name, Attributes: attributes }));
        set(id, { ref: t.TopicArn!, attrs: { TopicArn: t.TopicArn!, TopicName: name } });
        break;
      }
      case 'AWS::SNS::TopicPolicy': {
        for (const topic of props.Topics as string[]) {
          await sns.send(
            new SetTopicAttributesCommand({
              TopicArn: topic,
              AttributeName: 'Policy',
              AttributeValue: JSON.stringify(props.PolicyDocument),
            }),
          );
        }
        set(id, { ref: id, attrs: {} });
        break;
      }
      case 'AWS::SNS::Subscription': {
        const topicArn = String(props.TopicArn);
        const topicAccount = topicArn.split(':')[4]!;
        const topicRegion = topicArn.split(':')[3]!;
        const topicSns = accountClient(SNSClient, { ...where, account: topicAccount, region: topicRegion });
        if (topicAccount !== account && deps.iam?.enabled) {
          // CloudFormation subscribes as the deploying principal of this account: the topic
          // policy of the other account must let it.
          try {
            await deps.iam.authorize(`arn:aws:iam::${account}:role/twin-deployer`, {
              service: 'sns',
              operation: 'Subscribe',
              input: { TopicArn: topicArn, Protocol: props.Protocol, Endpoint: props.Endpoint },
              account,
              region: topicRegion,
            });
          } catch (e) {
            if (!(e instanceof AccessDeniedError)) throw e;
            throw Object.assign(
              new Error(
                `stack ${stackName}: resource ${id} (AWS::SNS::Subscription) failed: ${e.Code}: ${e.message}`,
              ),
              { name: e.Code },
            );
          }
        } else if (topicAccount !== account) {
          // Cross-account subscription: the topic must exist and its policy must allow us.
          const attrs = await topicSns
            .send(new GetTopicAttributesCommand({ TopicArn: topicArn }))
            .catch((e: Error) => {
              throw new Error(
                `stack ${stackName}: subscription ${id} to ${topicArn} failed: ${e.name} (deploy the source stack first)`,
              );
            });
          const policy = attrs.Attributes?.Policy ?? '';
          if (!policy.includes(account)) {
            throw new Error(
              `stack ${stackName}: the policy of ${topicArn} does not let account ${account} subscribe (sns:Subscribe)`,
            );
          }
        }
        let endpoint = String(props.Endpoint);
        let protocol = String(props.Protocol);
        let fn: string | undefined;
        if (protocol === 'lambda') {
          fn = endpoint.split(':').pop()!;
          endpoint = `${deps.hostUrl}/sns/${account}/${region}/${fn}`;
          protocol = 'http';
        }
        const sub = await topicSns.send(
          new SubscribeCommand({
            TopicArn: topicArn,
            Protocol: protocol,
            Endpoint: endpoint,
            ReturnSubscriptionArn: true,
          }),
        );
        stack.subscriptions.push({
          topicArn,
          subscriptionArn: sub.SubscriptionArn!,
          function: fn,
          protocol: String(props.Protocol),
        });
        set(id, { ref: sub.SubscriptionArn!, attrs: {} });
        break;
      }
      case 'AWS::SQS::Queue': {
        const name = physicalName(id, props.QueueName);
        const q = await sqs.send(new CreateQueueCommand({ QueueName: name }));
        const a = await sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: q.QueueUrl!, AttributeNames: ['QueueArn'] }),
        );
        set(id, {
          ref: q.QueueUrl!,
          attrs: { Arn: a.Attributes!.QueueArn!, QueueName: name, QueueUrl: q.QueueUrl! },
        });
        break;
      }
      case 'AWS::DynamoDB::Table': {
        const name = physicalName(id, props.TableName, 255);
        const t = await ddb.send(
          new CreateTableCommand({
            TableName: name,
            KeySchema: props.KeySchema as never,
            AttributeDefinitions: props.AttributeDefinitions as never,
            BillingMode: (props.BillingMode as never) ?? 'PAY_PER_REQUEST',
          }),
        );
        set(id, { ref: name, attrs: { Arn: t.TableDescription!.TableArn! } });
        break;
      }
      case 'AWS::SecretsManager::Secret': {
        const name = physicalName(id, props.Name, 512);
        let secretString = props.SecretString as string | undefined;
        const gen = props.GenerateSecretString as
          | { SecretStringTemplate?: string; GenerateStringKey?: string; PasswordLength?: number }
          | undefined;
        if (!secretString && gen) {
          const base = JSON.parse(gen.SecretStringTemplate ?? '{}') as Record<string, unknown>;
          if (gen.GenerateStringKey) base[gen.GenerateStringKey] = crypto.randomUUID().replace(/-/g, '');
          secretString = JSON.stringify(base);
        }
        const s = await secrets.send(
          new CreateSecretCommand({
            Name: name,
            // Neither SecretString nor GenerateSecretString: an empty secret, as CloudFormation creates.
            SecretString: secretString,
            KmsKeyId: props.KmsKeyId as string,
            Description: props.Description as string,
          }),
        );
        set(id, { ref: s.ARN!, attrs: { Id: s.ARN! } });
        break;
      }
      case 'AWS::IAM::Role': {
        const name = physicalName(id, props.RoleName, 64);
        const roleArn = `arn:aws:iam::${account}:role/${name}`;
        const policies =
          (props.Policies as Array<{ PolicyName: string; PolicyDocument: never }> | undefined) ?? [];
        deps.iam?.registerRole({
          arn: roleArn,
          account,
          origin: `${id} of stack ${stackName}`,
          policies: policies.map((p) => ({ name: `${id}/${p.PolicyName}`, policy: p.PolicyDocument })),
          trust: props.AssumeRolePolicyDocument as never,
        });
        set(id, { ref: name, attrs: { Arn: roleArn, RoleId: `AROA${id}` } });
        break;
      }
      case 'AWS::IAM::Policy': {
        for (const role of (props.Roles as string[] | undefined) ?? []) {
          deps.iam?.attachPolicy(
            `arn:aws:iam::${account}:role/${role}`,
            `${id}/${String(props.PolicyName)}`,
            props.PolicyDocument as never,
          );
        }
        set(id, { ref: physicalName(id, undefined), attrs: {} });
        break;
      }
      case 'AWS::Lambda::Permission': {
        const fnArn = String(props.FunctionName).startsWith('arn:')
          ? String(props.FunctionName)
          : `arn:aws:lambda:${region}:${account}:function:${String(props.FunctionName)}`;
        const principal = String(props.Principal);
        const condition: Record<string, Record<string, string>> = {};
        if (props.SourceArn) condition.ArnLike = { 'AWS:SourceArn': String(props.SourceArn) };
        if (props.SourceAccount)
          condition.StringEquals = { 'AWS:SourceAccount': String(props.SourceAccount) };
        deps.iam?.addLambdaPermission(fnArn, {
          Sid: id,
          Effect: 'Allow',
          Principal: principal.endsWith('.amazonaws.com') ? { Service: principal } : { AWS: principal },
          Action: String(props.Action),
          Resource: fnArn,
          ...(Object.keys(condition).length ? { Condition: condition } : {}),
        });
        set(id, { ref: id, attrs: {} });
        break;
      }
      case 'AWS::Logs::LogGroup': {
        const name = physicalName(id, props.LogGroupName, 512);
        set(id, { ref: name, attrs: { Arn: `arn:aws:logs:${region}:${account}:log-group:${name}:*` } });
        break;
      }
      case 'AWS::Lambda::Function': {
        const name = physicalName(id, props.FunctionName, 64);
        const code = props.Code as { S3Key?: string };
        const roleArn = String(props.Role);
        const creds = await sts.send(
          new AssumeRoleCommand({
            RoleArn: roleArn.replace(/:\d{12}:/, `:${account}:`),
            RoleSessionName: name,
          }),
        );
        deps.rememberKey(creds.Credentials!.AccessKeyId!, account);
        deps.iam?.registerAccessKey(creds.Credentials!.AccessKeyId!, roleArn);
        await assumable(
          deps,
          roleArn,
          'lambda.amazonaws.com',
          `arn:aws:lambda:${region}:${account}:function:${name}`,
          () =>
            `stack ${stackName}: resource ${id} (AWS::Lambda::Function) failed: InvalidParameterValueException: The role defined for the function cannot be assumed by Lambda.`,
        );
        const fn: LambdaFunction = {
          name,
          arn: `arn:aws:lambda:${region}:${account}:function:${name}`,
          account,
          region,
          zipPath: join(pkg.dir, basename(String(code.S3Key))),
          handler: String(props.Handler),
          environment: ((props.Environment as { Variables?: Record<string, string> })?.Variables ??
            {}) as Record<string, string>,
          timeoutSeconds: Number(props.Timeout ?? 3),
          credentials: {
            accessKeyId: creds.Credentials!.AccessKeyId!,
            secretAccessKey: creds.Credentials!.SecretAccessKey!,
            sessionToken: creds.Credentials!.SessionToken,
          },
          maximumRetryAttempts: 2,
        };
        deps.lambda.register(fn);
        stack.functions[id] = fn;
        set(id, { ref: name, attrs: { Arn: fn.arn } });
        break;
      }
      case 'AWS::Lambda::EventInvokeConfig': {
        const fn = deps.lambda.resolve(String(props.FunctionName), account, region);
        if (fn) {
          fn.maximumRetryAttempts = Number(props.MaximumRetryAttempts ?? 2);
          const dest = props.DestinationConfig as { OnFailure?: { Destination?: string } } | undefined;
          fn.onFailureArn = dest?.OnFailure?.Destination;
        }
        set(id, { ref: id, attrs: {} });
        break;
      }
      case 'AWS::StepFunctions::StateMachine': {
        const name = physicalName(id, props.StateMachineName, 80);
        const raw = props.DefinitionString ?? JSON.stringify(props.Definition);
        const definition = JSON.parse(String(raw)) as AslDefinition;
        deps.validateDefinition(definition, name);
        const arn = `arn:aws:states:${region}:${account}:stateMachine:${name}`;
        await assumable(
          deps,
          String(props.RoleArn),
          'states.amazonaws.com',
          arn,
          () =>
            `stack ${stackName}: CreateStateMachine ${name} rejected: AccessDeniedException: Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.`,
        );
        const record = deps.sfn.register({
          arn,
          name,
          account,
          region,
          roleArn: String(props.RoleArn),
          definition,
        });
        stack.stateMachines[id] = record;
        set(id, { ref: arn, attrs: { Arn: arn, Name: name } });
        break;
      }
      case 'AWS::Events::Rule': {
        const targets = (props.Targets as Array<{ Arn?: string }> | undefined) ?? [];
        stack.schedules.push({
          logicalId: id,
          state: String(props.State ?? 'ENABLED'),
          expression: props.ScheduleExpression as string,
          target: targets[0]?.Arn,
        });
        const name = physicalName(id, props.Name, 64);
        set(id, { ref: name, attrs: { Arn: `arn:aws:events:${region}:${account}:rule/${name}` } });
        break;
      }
      default:
        // IAM policies, Lambda permissions and versions, the deployment bucket, ...: nothing to
        // run in the twin; they stay inspectable in the template (the template tests check them).
        set(id, { ref: physicalName(id, props.Name), attrs: { Arn: `arn:aws:twin:::${id}` } });
    }
  }
  for (const [k, v] of Object.entries(pkg.template.Outputs ?? {})) {
    const out = v as { Value: unknown; Condition?: string };
    if (out.Condition && !ctx.condition(out.Condition)) continue;
    stack.outputs[k] = String(ctx.evaluate(out.Value));
  }
  return stack;
}
