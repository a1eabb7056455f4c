// The status commands end to end: find the deployment, collect, print a table or JSON, or follow
// the running executions. The Serverless plugin (../index.js) only turns its configuration into a
// DeploymentQuery and calls this; the demo and the tests call it with clients of the twin.
import { defaultClients, type StatusClients } from './clients';
import { collectDestination, collectSource } from './collect';
import { type Deployment, type DeploymentQuery, findDeployment } from './deployment';
import { renderDestination, renderSource } from './render';
import { type WatchOptions, watch } from './watch';

export interface CommandOptions extends Omit<WatchOptions, 'stream'> {
  json?: boolean;
  watch?: boolean;
  /** Runs shown per database and state machine. */
  runs?: number;
  out?: NodeJS.WritableStream;
}

export async function statusCommand(
  query: DeploymentQuery | Deployment,
  o: CommandOptions = {},
  clients: StatusClients = defaultClients(query.region),
): Promise<void> {
  const out = o.out ?? process.stdout;
  const deployment = 'stateMachines' in query ? query : await findDeployment(clients, query);
  if (o.watch) {
    // Bars go to the terminal; with --json the ended runs are printed as JSON afterwards.
    const ended = await watch(clients, deployment, { ...o, stream: o.json ? process.stderr : out });
    if (o.json) out.write(`${JSON.stringify(ended, null, 2)}\n`);
    return;
  }
  const collectOptions = { database: o.database, runs: o.runs };
  if (deployment.side === 'destination') {
    const report = await collectDestination(clients, deployment, collectOptions);
    out.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderDestination(report).join('\n')}\n`);
  } else {
    const report = await collectSource(clients, deployment, collectOptions);
    out.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderSource(report).join('\n')}\n`);
  }
}
