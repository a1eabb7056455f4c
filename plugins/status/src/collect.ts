// What the status commands show, collected through the AWS APIs an operator's credentials reach:
// Step Functions (runs, and for a failed run its failing state, Error and Cause), RDS (replicas),
// DynamoDB (locks, the recorded switch, the shared copies kept) and, for where a secret points,
// the deployment's own nameReplica function in its read-only mode 'where': the secret's value is
// never read here, so it cannot be printed.
import { type AttributeValue, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import {
  type DBCluster,
  type DBInstance,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
} from '@aws-sdk/client-rds';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  type ExecutionListItem,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
} from '@aws-sdk/client-sfn';
import { isManagedReplica, TAG_KEYS, type Tag, tagValue } from '../../../src/contracts/tags';
import type { StatusClients } from './clients';
import type { Deployment, StateMachineRef } from './deployment';

/** A configured DB instance (parameter databases) or Aurora DB cluster (parameter clusters). */
export type DatabaseKind = 'instance' | 'cluster';

export type Outcome = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';

export interface RunView {
  machine: string;
  name: string;
  executionArn: string;
  /** The execution's status, or FAILED when it succeeded reporting a failed database (source). */
  outcome: Outcome;
  startDate: string;
  stopDate?: string;
  /** The last Task that failed before the run ended (the cause its Catch handled). */
  failedState?: string;
  /** The state the run ended in (a Fail state). */
  endedIn?: string;
  error?: string;
  cause?: string;
  /** Succeeded runs that moved the secret: from and to which replica. */
  switched?: { from: string | null; to: string };
  dryRun?: boolean;
}

export interface LockView {
  holder: string;
  /** The holder's execution status (RUNNING: held; anything else: stale, taken over by the next run). */
  holderStatus: string;
  since?: string;
}

export interface ReplicaView {
  /** A DB instance replica (kind instance). */
  dbInstanceIdentifier?: string;
  /** A DB cluster replica (kind cluster); its writer instance has the same name. */
  dbClusterIdentifier?: string;
  live: boolean;
  status: string;
  /** The time of the data: the source snapshot's creation time (tag). */
  snapshotTime?: string;
  createdAt?: string;
  /** The instance's class; of a cluster, its writer's (db.serverless with Serverless v2). */
  instanceClass?: string;
  /** Cluster: the Serverless v2 capacity range in ACUs. */
  serverlessV2?: { minCapacity?: number; maxCapacity?: number };
  engine?: string;
  allocatedStorageGiB?: number;
  endpoint?: string;
}

export interface LiveView {
  /** kind instance: the DB instance the secret points at. */
  dbInstanceIdentifier?: string | null;
  /** kind cluster: the DB cluster the secret points at (its `dbClusterIdentifier`). */
  dbClusterIdentifier?: string | null;
  problem?: string;
}

export interface DestinationDatabaseView {
  database: string;
  kind: DatabaseKind;
  /** Where the secret points, as the deployment's nameReplica function reads it. */
  live: LiveView;
  replicas: ReplicaView[];
  /** The switch recorded in the state table (`live#<db>`): what rollback "previous" uses. */
  recordedSwitch?: { to: string; from: string | null; at?: string; by?: string };
  /** Switches made by the runs listed (newest first). */
  switches: Array<{ at: string; machine: string; execution: string; from: string | null; to: string }>;
  lock?: LockView;
  runs: RunView[];
}

export interface SharedCopyView {
  snapshotId: string;
  snapshotArn?: string;
  createdAt?: string;
  sharedAt?: string;
  runId?: string;
}

export interface SourceDatabaseView {
  database: string;
  kind: DatabaseKind;
  runs: RunView[];
  sharedCopies: SharedCopyView[];
  lock?: LockView;
}

export interface StatusReport<D> {
  side: Deployment['side'];
  deployment: string;
  region: string;
  stateMachines: string[];
  databases: D[];
}

export interface CollectOptions {
  /** Only this database. */
  database?: string;
  /** Runs shown per database and state machine (default 3). */
  runs?: number;
  /** Executions read per state machine, newest first (default 50). */
  scan?: number;
}

const iso = (d?: Date | string | number) => (d === undefined ? undefined : new Date(d).toISOString());
const parse = (text?: string): unknown => {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
};
const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/**
 * The databases an execution is about, read from its input as the contracts name them: `database`
 * (rollback, source per-database or per-cluster run), `sourceDbInstanceIdentifier` (the replication
 * message version 1), `sourceDbIdentifier` (version 2, a cluster), `databases` or `clusters` (a
 * source run's list). `undefined`: every configured database of the machine's kind (a run of `{}`).
 */
export function databasesOf(input: unknown): string[] | undefined {
  const i = obj(input);
  if (typeof i.database === 'string') return [i.database];
  if (typeof i.sourceDbInstanceIdentifier === 'string') return [i.sourceDbInstanceIdentifier];
  if (typeof i.sourceDbIdentifier === 'string') return [i.sourceDbIdentifier];
  for (const list of [i.databases, i.clusters]) {
    if (Array.isArray(list)) return list.filter((d): d is string => typeof d === 'string');
  }
  return undefined;
}

/**
 * Which kind of database a state machine works on, by its name: the cluster machines
 * (`replicate-clusters`, `snapshot-cluster`, `replicate-cluster`, `rollback-cluster`) name it.
 */
export const machineKind = (key: string): DatabaseKind =>
  /(^|-)clusters?($|-)/.test(key) ? 'cluster' : 'instance';

export const kindOf = (deployment: Pick<Deployment, 'clusters'>, database: string): DatabaseKind =>
  (deployment.clusters ?? []).includes(database) ? 'cluster' : 'instance';

/** What a succeeded run's output says it switched the secret to and from (either kind). */
function switchOf(out: Record<string, unknown>): { to?: string; from: string | null } {
  return {
    to: str(out.dbInstanceIdentifier) ?? str(out.dbClusterIdentifier) ?? str(out.to),
    from:
      str(out.previousDbInstanceIdentifier) ?? str(out.previousDbClusterIdentifier) ?? str(out.from) ?? null,
  };
}

/**
 * The failing state of a run from its history: the last Task that failed (its Error and Cause),
 * and the state the run ended in. State names come from the *StateEntered events.
 */
export function failureOf(events: HistoryEvent[]): {
  failedState?: string;
  endedIn?: string;
  error?: string;
  cause?: string;
} {
  let current: string | undefined;
  let task: { state?: string; error?: string; cause?: string } | undefined;
  let ended: { endedIn?: string; error?: string; cause?: string } | undefined;
  for (const e of events) {
    if (e.stateEnteredEventDetails?.name) current = e.stateEnteredEventDetails.name;
    const failed =
      e.taskFailedEventDetails ??
      e.lambdaFunctionFailedEventDetails ??
      e.activityFailedEventDetails ??
      e.taskTimedOutEventDetails;
    if (failed) task = { state: current, error: failed.error, cause: failed.cause };
    const end =
      e.executionFailedEventDetails ?? e.executionTimedOutEventDetails ?? e.executionAbortedEventDetails;
    if (end) ended = { endedIn: current, error: end.error, cause: end.cause };
  }
  return {
    failedState: task?.state ?? ended?.endedIn,
    endedIn: ended?.endedIn,
    error: ended?.error ?? task?.error,
    cause: ended?.cause ?? task?.cause,
  };
}

export async function executionHistory(
  clients: StatusClients,
  executionArn: string,
): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await clients.sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        maxResults: 1000,
        nextToken,
        includeExecutionData: true,
      }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

interface DescribedRun {
  machine: string;
  item: ExecutionListItem;
  described: DescribeExecutionCommandOutput;
  input: unknown;
  output: unknown;
}

async function listRuns(
  clients: StatusClients,
  machine: StateMachineRef,
  scan: number,
): Promise<DescribedRun[]> {
  const listed = await clients.sfn.send(
    new ListExecutionsCommand({ stateMachineArn: machine.arn, maxResults: scan }),
  );
  const runs: DescribedRun[] = [];
  for (const item of listed.executions ?? []) {
    const described = await clients.sfn.send(
      new DescribeExecutionCommand({ executionArn: item.executionArn }),
    );
    runs.push({
      machine: machine.key,
      item,
      described,
      input: parse(described.input),
      output: parse(described.output),
    });
  }
  return runs;
}

/** The outcome for one database: a run that succeeded may report a failed database in its output. */
async function runView(clients: StatusClients, run: DescribedRun, database: string): Promise<RunView> {
  const d = run.described;
  const view: RunView = {
    machine: run.machine,
    name: d.name ?? run.item.name ?? '',
    executionArn: d.executionArn ?? run.item.executionArn ?? '',
    outcome: (d.status ?? 'RUNNING') as Outcome,
    startDate: iso(d.startDate) ?? '',
    stopDate: iso(d.stopDate),
  };
  const out = obj(run.output);
  const perDatabase = Array.isArray(out.databases)
    ? obj(out.databases.find((x) => obj(x).database === database))
    : out;
  if (view.outcome === 'SUCCEEDED' && perDatabase.status === 'FAILED') {
    Object.assign(view, {
      outcome: 'FAILED',
      failedState: str(perDatabase.failedState),
      error: str(perDatabase.error),
      cause: str(perDatabase.cause),
    });
  } else if (view.outcome !== 'SUCCEEDED' && view.outcome !== 'RUNNING') {
    const f = failureOf(await executionHistory(clients, view.executionArn));
    Object.assign(view, {
      failedState: f.failedState,
      endedIn: f.endedIn,
      error: d.error ?? f.error,
      cause: d.cause ?? f.cause,
    });
  }
  if (view.outcome === 'SUCCEEDED') {
    if (out.dryRun === true) view.dryRun = true;
    const { to, from } = switchOf(out);
    if (to && !view.dryRun && to !== from) view.switched = { from, to };
  }
  return view;
}

async function runsPerDatabase(
  clients: StatusClients,
  deployment: Deployment,
  databases: string[],
  o: CollectOptions,
): Promise<Map<string, { shown: RunView[]; switches: DestinationDatabaseView['switches'] }>> {
  const all = (
    await Promise.all(deployment.stateMachines.map((m) => listRuns(clients, m, o.scan ?? 50)))
  ).flat();
  const result = new Map<string, { shown: RunView[]; switches: DestinationDatabaseView['switches'] }>();
  for (const database of databases) {
    const kind = kindOf(deployment, database);
    const configured = kind === 'cluster' ? deployment.clusters : deployment.databases;
    const mine = all.filter(
      (r) => machineKind(r.machine) === kind && (databasesOf(r.input) ?? configured).includes(database),
    );
    const shown: RunView[] = [];
    for (const m of deployment.stateMachines) {
      const runs = mine.filter((r) => r.machine === m.key).slice(0, o.runs ?? 3);
      for (const r of runs) shown.push(await runView(clients, r, database));
    }
    const switches: DestinationDatabaseView['switches'] = [];
    for (const r of mine) {
      if (r.described.status !== 'SUCCEEDED') continue;
      const out = obj(r.output);
      const { to, from } = switchOf(out);
      if (!to || out.dryRun === true || to === from) continue;
      switches.push({
        at: iso(r.described.stopDate) ?? '',
        machine: r.machine,
        execution: r.item.name ?? '',
        from,
        to,
      });
    }
    switches.sort((a, b) => b.at.localeCompare(a.at));
    result.set(database, { shown, switches });
  }
  return result;
}

async function lockOf(clients: StatusClients, deployment: Deployment, key: Record<string, AttributeValue>) {
  if (!deployment.tableName) return undefined;
  const got = await clients.dynamodb.send(new GetItemCommand({ TableName: deployment.tableName, Key: key }));
  const holder = got.Item?.holder?.S;
  if (!holder) return undefined;
  const status = await clients.sfn
    .send(new DescribeExecutionCommand({ executionArn: holder }))
    .then((d) => d.status ?? 'UNKNOWN')
    .catch(() => 'NOT FOUND');
  return { holder, holderStatus: status, since: got.Item?.runStartedAt?.S } satisfies LockView;
}

/** Where the secret points, asked of the deployment's own function (the secret is never read here). */
async function liveOf(
  clients: StatusClients,
  deployment: Deployment,
  database: string,
  kind: DatabaseKind,
): Promise<LiveView> {
  const field = kind === 'cluster' ? 'dbClusterIdentifier' : 'dbInstanceIdentifier';
  const secretId = deployment.secrets[database];
  if (!deployment.whereFunction || !secretId) return { [field]: null, problem: 'no secret known' };
  try {
    // Mode 'where' with kind cluster reads the secret's `dbClusterIdentifier` (nameReplica's README).
    const event = { database, secretId, mode: 'where', ...(kind === 'cluster' ? { kind } : {}) };
    const r = await clients.lambda.send(
      new InvokeCommand({
        FunctionName: deployment.whereFunction,
        Payload: Buffer.from(JSON.stringify(event)),
      }),
    );
    const payload = obj(parse(Buffer.from(r.Payload ?? []).toString('utf8')));
    if (r.FunctionError) {
      return {
        [field]: null,
        problem: `${str(payload.errorType) ?? r.FunctionError}: ${str(payload.errorMessage) ?? ''}`.slice(
          0,
          300,
        ),
      };
    }
    const live = kind === 'cluster' ? payload.liveDbClusterIdentifier : payload.liveDbInstanceIdentifier;
    return { [field]: str(live) ?? null };
  } catch (e) {
    return {
      [field]: null,
      problem: `${(e as Error).name}: ${(e as Error).message}`.slice(0, 300),
    };
  }
}

/** The identifier a live view names, whatever the kind. */
export const liveIdOf = (live: LiveView): string | null =>
  live.dbClusterIdentifier ?? live.dbInstanceIdentifier ?? null;

async function allInstances(clients: StatusClients): Promise<DBInstance[]> {
  const all: DBInstance[] = [];
  let Marker: string | undefined;
  do {
    const page = await clients.rds.send(new DescribeDBInstancesCommand({ Marker }));
    all.push(...(page.DBInstances ?? []));
    Marker = page.Marker;
  } while (Marker);
  return all;
}

async function allClusters(clients: StatusClients): Promise<DBCluster[]> {
  const all: DBCluster[] = [];
  let Marker: string | undefined;
  do {
    const page = await clients.rds.send(new DescribeDBClustersCommand({ Marker }));
    all.push(...(page.DBClusters ?? []));
    Marker = page.Marker;
  } while (Marker);
  return all;
}

/** The configured DB instances, then the configured Aurora DB clusters (or only `--database`). */
function selected(deployment: Deployment, o: CollectOptions): string[] {
  const all = [...deployment.databases, ...deployment.clusters];
  if (!o.database) return all;
  if (!all.includes(o.database)) {
    throw new Error(
      `--database ${o.database.slice(0, 100)} is not a database or cluster of ${deployment.stackName} ` +
        `(configured: ${all.join(', ')}); name one of those, or omit --database`,
    );
  }
  return [o.database];
}

function instanceReplica(i: DBInstance, live: string | null): ReplicaView {
  return {
    dbInstanceIdentifier: i.DBInstanceIdentifier ?? '',
    live: i.DBInstanceIdentifier === live,
    status: i.DBInstanceStatus ?? '',
    snapshotTime: tagValue(i.TagList, TAG_KEYS.snapshotTime),
    createdAt: iso(i.InstanceCreateTime),
    instanceClass: i.DBInstanceClass,
    engine: i.Engine,
    allocatedStorageGiB: i.AllocatedStorage,
    endpoint: i.Endpoint?.Address ? `${i.Endpoint.Address}:${i.Endpoint.Port}` : undefined,
  };
}

function clusterReplica(c: DBCluster, instances: DBInstance[], live: string | null): ReplicaView {
  const writerId = c.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier;
  const writer = writerId ? instances.find((i) => i.DBInstanceIdentifier === writerId) : undefined;
  const scaling = c.ServerlessV2ScalingConfiguration;
  return {
    dbClusterIdentifier: c.DBClusterIdentifier ?? '',
    live: c.DBClusterIdentifier === live,
    status: c.Status ?? '',
    snapshotTime: tagValue(c.TagList, TAG_KEYS.snapshotTime),
    createdAt: iso(c.ClusterCreateTime),
    instanceClass: writer?.DBInstanceClass,
    ...(scaling
      ? { serverlessV2: { minCapacity: scaling.MinCapacity, maxCapacity: scaling.MaxCapacity } }
      : {}),
    engine: c.Engine,
    endpoint: c.Endpoint ? `${c.Endpoint}:${c.Port}` : undefined,
  };
}

export async function collectDestination(
  clients: StatusClients,
  deployment: Deployment,
  o: CollectOptions = {},
): Promise<StatusReport<DestinationDatabaseView>> {
  const databases = selected(deployment, o);
  const anyCluster = databases.some((d) => kindOf(deployment, d) === 'cluster');
  const [instances, clusters, runs] = await Promise.all([
    allInstances(clients),
    anyCluster ? allClusters(clients) : [],
    runsPerDatabase(clients, deployment, databases, o),
  ]);
  const views: DestinationDatabaseView[] = [];
  for (const database of databases) {
    const kind = kindOf(deployment, database);
    const live = await liveOf(clients, deployment, database, kind);
    const liveId = liveIdOf(live);
    // replicas: this deployment's replica tags for this database (src/contracts/tags.ts)
    const ours = (r: { TagList?: Tag[] }) => isManagedReplica(r.TagList, deployment.stackName, database);
    const replicas = (
      kind === 'cluster'
        ? clusters.filter(ours).map((c) => clusterReplica(c, instances, liveId))
        : instances.filter(ours).map((i) => instanceReplica(i, liveId))
    ).sort((a, b) => (b.snapshotTime ?? '').localeCompare(a.snapshotTime ?? ''));
    let recordedSwitch: DestinationDatabaseView['recordedSwitch'];
    if (deployment.tableName) {
      const item = (
        await clients.dynamodb.send(
          new GetItemCommand({ TableName: deployment.tableName, Key: { pk: { S: `live#${database}` } } }),
        )
      ).Item;
      const sw = switchOf(obj(parse(item?.switch?.S)));
      if (sw.to) {
        recordedSwitch = {
          to: sw.to,
          from: sw.from,
          at: item?.runStartedAt?.S,
          by: item?.switchedBy?.S?.split(':').pop(),
        };
      }
    }
    const r = runs.get(database)!;
    views.push({
      database,
      kind,
      live,
      replicas,
      recordedSwitch,
      switches: r.switches,
      lock: await lockOf(clients, deployment, { pk: { S: `lock#${database}` } }),
      runs: r.shown,
    });
  }
  return report(deployment, views);
}

export async function collectSource(
  clients: StatusClients,
  deployment: Deployment,
  o: CollectOptions = {},
): Promise<StatusReport<SourceDatabaseView>> {
  const databases = selected(deployment, o);
  const runs = await runsPerDatabase(clients, deployment, databases, o);
  const views: SourceDatabaseView[] = [];
  for (const database of databases) {
    const sharedCopies: SharedCopyView[] = [];
    if (deployment.tableName) {
      const q = await clients.dynamodb.send(
        new QueryCommand({
          TableName: deployment.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: `copy#${database}` } },
          ScanIndexForward: false,
        }),
      );
      for (const item of q.Items ?? []) {
        sharedCopies.push({
          snapshotId: item.snapshotId?.S ?? '',
          snapshotArn: item.snapshotArn?.S,
          createdAt: item.sk?.S?.split('#')[0],
          sharedAt: item.sharedAt?.S,
          runId: item.runId?.S,
        });
      }
    }
    views.push({
      database,
      kind: kindOf(deployment, database),
      runs: runs.get(database)!.shown,
      sharedCopies,
      lock: await lockOf(clients, deployment, { pk: { S: `lock#${database}` }, sk: { S: 'lock' } }),
    });
  }
  return report(deployment, views);
}

function report<D>(deployment: Deployment, databases: D[]): StatusReport<D> {
  return {
    side: deployment.side,
    deployment: deployment.stackName,
    region: deployment.region,
    stateMachines: deployment.stateMachines.map((m) => m.key),
    databases,
  };
}

/** One execution as the run tables show it (outcome, and for a failed one its failing state, Error, Cause). */
export async function describeRun(
  clients: StatusClients,
  machine: string,
  executionArn: string,
  database = '',
): Promise<RunView> {
  const described = await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
  return runView(
    clients,
    {
      machine,
      item: { executionArn, name: described.name } as ExecutionListItem,
      described,
      input: parse(described.input),
      output: parse(described.output),
    },
    database,
  );
}
