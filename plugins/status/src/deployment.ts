// Which resources make up one deployment (one stack of one side and stage), found the way
// `sls info` finds them: from the stack's resources in CloudFormation. State machines are taken
// generically (every AWS::StepFunctions::StateMachine of the stack), so a state machine added
// later shows up without a change here.
import { ListStackResourcesCommand, type StackResourceSummary } from '@aws-sdk/client-cloudformation';
import type { StatusClients } from './clients';

export type Side = 'source' | 'destination';

export interface StateMachineRef {
  /** Its key under `stepFunctions.stateMachines` as the name ends (`replicate`, `rollback`, ...). */
  key: string;
  arn: string;
}

export interface Deployment {
  side: Side;
  /** Stack name and deployment id (`<service>-<stage>`): the managed-by tag of what it creates. */
  stackName: string;
  region: string;
  /** The configured DB instances. */
  databases: string[];
  /** The configured Aurora DB clusters (parameter clusters). */
  clusters: string[];
  stateMachines: StateMachineRef[];
  /** The lock (and, on the destination, live-replica history) table. */
  tableName?: string;
  /** Destination: the secret of each database and cluster (ARN). */
  secrets: Record<string, string>;
  /** Destination: the function that reads where a secret points (nameReplica, mode 'where'). */
  whereFunction?: string;
}

/** A database's secret as the configuration gives it: an ARN, or the stack resource that created it. */
export interface SecretRef {
  database: string;
  arn?: string | null;
  logicalId?: string | null;
}

export interface DeploymentQuery {
  side: Side;
  stackName: string;
  region: string;
  databases: string[];
  /** Aurora DB clusters (none when absent). */
  clusters?: string[];
  secrets?: SecretRef[];
  /** Logical id of the function answering mode 'where' (destination). */
  whereFunctionLogicalId?: string;
}

export async function findDeployment(clients: StatusClients, q: DeploymentQuery): Promise<Deployment> {
  const resources: StackResourceSummary[] = [];
  let token: string | undefined;
  do {
    const page = await clients.cloudformation
      .send(new ListStackResourcesCommand({ StackName: q.stackName, NextToken: token }))
      .catch((e: Error) => {
        throw new Error(
          `cannot list the resources of stack ${q.stackName} in ${q.region}: ${e.message} ` +
            '(deployed with this --stage and --region, and credentials of that account?)',
        );
      });
    resources.push(...(page.StackResourceSummaries ?? []));
    token = page.NextToken;
  } while (token);
  const physical = (logicalId?: string | null) =>
    logicalId ? resources.find((r) => r.LogicalResourceId === logicalId)?.PhysicalResourceId : undefined;
  const stateMachines = resources
    .filter((r) => r.ResourceType === 'AWS::StepFunctions::StateMachine' && r.PhysicalResourceId)
    .map((r) => {
      const arn = r.PhysicalResourceId!;
      const name = arn.split(':').pop()!;
      const key = name.startsWith(`${q.stackName}-`) ? name.slice(q.stackName.length + 1) : name;
      return { key, arn };
    })
    .sort((a, b) => a.key.localeCompare(b.key));
  const table = resources.find((r) => r.ResourceType === 'AWS::DynamoDB::Table');
  const secrets: Record<string, string> = {};
  for (const s of q.secrets ?? []) {
    const arn = s.arn ?? physical(s.logicalId);
    if (arn) secrets[s.database] = arn;
  }
  return {
    side: q.side,
    stackName: q.stackName,
    region: q.region,
    databases: q.databases,
    clusters: q.clusters ?? [],
    stateMachines,
    tableName: table?.PhysicalResourceId,
    secrets,
    whereFunction: physical(q.whereFunctionLogicalId),
  };
}
