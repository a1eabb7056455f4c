// Every error name a Retry or Catch of a packaged definition waits for must be one that can occur
// (issue 10, point 10): a misspelt name is never matched, so its retry or clean-up silently never
// runs. The names that can occur come from the same rules the twin raises them with
// (twin/src/naming.ts for `aws-sdk:*` tasks, the Java v1 names of twin/src/dispatch.ts for the
// optimised integrations), applied to the error shapes of the installed SDK models, plus the
// `States.*` errors, the errors this project's Lambdas throw and the Fail states' own Errors.

import * as projectErrors from '../../src/lib/errors';
import { v1ExceptionName } from '../../twin/src/dispatch';
import {
  loadServiceModule,
  parseResource,
  SERVICES,
  sfnErrorName,
  sfnServiceName,
} from '../../twin/src/naming';
import { packageService, type Side } from '../../twin/src/package';
import { definitions } from '../helpers/definitions';

type Json = Record<string, unknown>;

/** Errors Step Functions itself raises (Step Functions developer guide, "Error names"). */
const STATES_ERRORS = [
  'States.ALL',
  'States.TaskFailed',
  'States.Timeout',
  'States.HeartbeatTimeout',
  'States.Permissions',
  'States.ResultPathMatchFailure',
  'States.ParameterPathFailure',
  'States.QueryEvaluationError',
  'States.BranchFailed',
  'States.NoChoiceMatched',
  'States.IntrinsicFailure',
  'States.ExceedToleratedFailureThreshold',
  'States.ItemReaderFailed',
  'States.ResultWriterFailed',
  'States.DataLimitExceeded',
];

/** The error names of this project's Lambdas (src/lib/errors.ts: the class name is the Error). */
const LAMBDA_FUNCTION_ERRORS = (Object.values(projectErrors) as unknown[])
  .filter(
    (c): c is new (m: string) => Error =>
      typeof c === 'function' && (c as { prototype?: unknown }).prototype instanceof Error,
  )
  .flatMap((C) => {
    try {
      return [new C('x').name];
    } catch {
      return []; // abstract base
    }
  });

/** The error shapes an SDK client models (not its synthetic base class). */
function modeledErrors(service: string): string[] {
  const mod = loadServiceModule(service);
  if (!mod) throw new Error(`no SDK client installed for ${service}`);
  return Object.values(mod)
    .filter((v): v is unknown[] => Array.isArray(v) && v[0] === -3 && !String(v[1]).includes('synthetic'))
    .map((v) => String(v[2]));
}

/** Every Error a Task with this resource can end in, besides the States.* errors. */
function possibleErrors(resource: string): string[] {
  const parsed = parseResource(resource);
  if (parsed.kind === 'aws-sdk') {
    const serviceId = SERVICES[parsed.service]?.serviceId ?? parsed.service;
    const name = sfnServiceName(serviceId);
    return [
      ...modeledErrors(parsed.service).map((e) => sfnErrorName(serviceId, e, true)),
      `${name}.${name}Exception`,
      `${name}.SdkClientException`,
    ];
  }
  if (parsed.kind === 'optimised') {
    // Java v1 names: prefix, modelled shapes, base exception, client exception.
    const v1: Record<string, [string, string, string]> = {
      dynamodb: ['DynamoDB', 'dynamodb', 'AmazonDynamoDBException'],
      sns: ['SNS', 'sns', 'AmazonSNSException'],
      lambda: ['Lambda', 'lambda', 'AWSLambdaException'],
      states: ['StepFunctions', 'sfn', 'AWSStepFunctionsException'],
    };
    const entry = v1[parsed.service];
    if (!entry) throw new Error(`no error names known for the optimised integration ${resource}`);
    const [prefix, client, base] = entry;
    const names = [
      ...modeledErrors(client).map((e) => `${prefix}.${v1ExceptionName(e)}`),
      `${prefix}.${base}`,
      `${prefix}.SdkClientException`,
    ];
    if (parsed.service === 'lambda') {
      // "Handle Lambda service exceptions" (Step Functions guide); function errors by errorType.
      names.push('Lambda.Unknown', 'Lambda.ClientExecutionTimeoutException', ...LAMBDA_FUNCTION_ERRORS);
      // errorTypes the Lambda runtime itself sets: the function timed out, or its process exited
      names.push('Sandbox.Timedout', 'Runtime.ExitError');
    }
    return names;
  }
  throw new Error(`cannot tell the errors of Task resource ${resource}`);
}

interface Finding {
  machine: string;
  state: string;
  name: string;
}

/** ErrorEquals names that no state they guard can raise. */
function impossibleErrorNames(machine: string, def: Json): { checked: number; findings: Finding[] } {
  const findings: Finding[] = [];
  let checked = 0;
  /** What the states of a States map can raise (for the Catch of an enclosing Map or Parallel). */
  const raisedBy = (states: Json): Set<string> => {
    const out = new Set<string>();
    for (const s of Object.values(states) as Json[]) {
      if (s.Type === 'Task') for (const n of possibleErrors(String(s.Resource))) out.add(n);
      if (s.Type === 'Fail' && typeof s.Error === 'string') out.add(s.Error);
      for (const inner of innerStates(s)) for (const n of raisedBy(inner)) out.add(n);
    }
    return out;
  };
  const innerStates = (s: Json): Json[] => [
    ...(((s.ItemProcessor ?? s.Iterator) as Json | undefined)?.States
      ? [((s.ItemProcessor ?? s.Iterator) as Json).States as Json]
      : []),
    ...((s.Branches as Json[] | undefined) ?? []).map((b) => b.States as Json),
  ];
  const walk = (states: Json) => {
    for (const [name, s] of Object.entries(states) as Array<[string, Json]>) {
      const possible = new Set(STATES_ERRORS);
      if (s.Type === 'Task') for (const n of possibleErrors(String(s.Resource))) possible.add(n);
      for (const inner of innerStates(s)) for (const n of raisedBy(inner)) possible.add(n);
      for (const rule of [...((s.Retry as Json[]) ?? []), ...((s.Catch as Json[]) ?? [])]) {
        for (const error of rule.ErrorEquals as string[]) {
          checked++;
          if (!possible.has(error)) findings.push({ machine, state: name, name: error });
        }
      }
      for (const inner of innerStates(s)) walk(inner);
    }
  };
  walk(def.States as Json);
  return { checked, findings };
}

describe('the checker of error names', () => {
  test('knows the names the integrations raise, and not a misspelt one', () => {
    const ddb = possibleErrors('arn:aws:states:::dynamodb:putItem');
    expect(ddb).toEqual(
      expect.arrayContaining([
        'DynamoDB.ConditionalCheckFailedException',
        'DynamoDB.RequestLimitExceededException',
        'DynamoDB.ProvisionedThroughputExceededException',
        'DynamoDB.AmazonDynamoDBException',
      ]),
    );
    expect(ddb).not.toContain('DynamoDB.RequestLimitExceeded');
    const rds = possibleErrors('arn:aws:states:::aws-sdk:rds:copyDBSnapshot');
    expect(rds).toEqual(
      expect.arrayContaining([
        'Rds.DbSnapshotAlreadyExistsException',
        'Rds.RdsException',
        'Rds.SdkClientException',
      ]),
    );
    expect(rds).not.toContain('Rds.DBSnapshotAlreadyExistsFault');
    expect(possibleErrors('arn:aws:states:::lambda:invoke')).toContain('ReplicaNotReady');
  });

  test('flags a name that cannot occur, in a Task and in the Catch of a Map', () => {
    const def = {
      States: {
        Put: {
          Type: 'Task',
          Resource: 'arn:aws:states:::dynamodb:putItem',
          Retry: [{ ErrorEquals: ['DynamoDB.RequestLimitExceeded', 'States.Timeout'] }],
          End: true,
        },
        Each: {
          Type: 'Map',
          ItemProcessor: {
            States: { Reject: { Type: 'Fail', Error: 'InvalidInput' } },
          },
          Catch: [{ ErrorEquals: ['InvalidInput', 'Rds.DbSnapshotNotFoundException'], Next: 'Put' }],
          End: true,
        },
      },
    };
    expect(impossibleErrorNames('m', def).findings).toEqual([
      { machine: 'm', state: 'Put', name: 'DynamoDB.RequestLimitExceeded' },
      { machine: 'm', state: 'Each', name: 'Rds.DbSnapshotNotFoundException' },
    ]);
  });
});

describe.each<[Side, Record<string, string>]>([
  ['source', {}],
  ['destination', {}],
])('%s definitions', (side, params) => {
  test('wait only for errors that can occur', async () => {
    const { template } = await packageService(side, 'dev', params);
    let checked = 0;
    const findings: Finding[] = [];
    for (const [machine, def] of definitions(template)) {
      const r = impossibleErrorNames(machine, def);
      checked += r.checked;
      findings.push(...r.findings);
    }
    expect(checked).toBeGreaterThan(30);
    expect(findings).toEqual([]);
  });
});
