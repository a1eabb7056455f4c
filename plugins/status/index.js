// Serverless plugin: the operator's view of a deployment, with the caller's AWS credentials.
//
//   npx sls replicas --config serverless.destination.yml --stage prod [--database X] [--json] [--watch]
//   npx sls replication-status --config serverless.source.yml --stage prod [--database X] [--json] [--watch]
//
// Thin on purpose: it reads the resolved configuration (stack name, Region, databases, secrets)
// and hands over to src/command.ts, which the tests and the demo call directly. Nothing here is
// imported by a Lambda handler, so none of it reaches a bundle.

const OPTIONS = {
  database: {
    usage: 'Only this database (a configured DB instance or Aurora DB cluster identifier)',
    type: 'string',
  },
  json: { usage: 'Print the report as JSON', type: 'boolean' },
  watch: {
    usage: 'Follow the running executions until they end (a progress bar per RDS phase)',
    type: 'boolean',
  },
  runs: { usage: 'Runs shown per database and state machine (default 3)', type: 'string' },
};

const asList = (v) =>
  Array.isArray(v)
    ? v.map(String)
    : String(v ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);

class ReplicationStatusPlugin {
  constructor(serverless, options, utils) {
    this.serverless = serverless;
    this.options = options;
    this.log = utils?.log;
    this.commands = {
      replicas: {
        usage:
          'Destination: per database and Aurora DB cluster the live replica, every managed replica, switches and the last runs',
        lifecycleEvents: ['show'],
        options: OPTIONS,
      },
      'replication-status': {
        usage:
          'Source: per database and Aurora DB cluster the last runs, the shared copies kept and the lock holder',
        lifecycleEvents: ['show'],
        options: OPTIONS,
      },
    };
    this.hooks = {
      'replicas:show': () => this.run('destination', 'replicas'),
      'replication-status:show': () => this.run('source', 'replication-status'),
    };
  }

  async run(side, command) {
    const service = this.serverless.service;
    const custom = service.custom ?? {};
    const actual = custom.destination ? 'destination' : 'source';
    if (actual !== side) {
      throw new this.serverless.classes.Error(
        `\`sls ${command}\` is the ${side}'s command, but ${this.serverless.configurationFilename} is the ${actual} service: ` +
          (side === 'destination'
            ? 'run it with --config serverless.destination.yml, or use `sls replication-status` here'
            : 'run it with --config serverless.source.yml, or use `sls replicas` here'),
      );
    }
    const provider = this.serverless.getProvider('aws');
    const settings = side === 'destination' ? custom.destination : custom.params;
    const query = {
      side,
      stackName: provider.naming.getStackName(),
      region: provider.getRegion(),
      databases: asList(settings?.databases),
      clusters: asList(settings?.clusters),
      secrets:
        side === 'destination' ? [...(settings?.secrets ?? []), ...(settings?.clusterSecrets ?? [])] : [],
      whereFunctionLogicalId:
        side === 'destination' ? provider.naming.getLambdaLogicalId('nameReplica') : undefined,
    };
    const runs = this.options.runs === undefined ? undefined : Number(this.options.runs);
    if (runs !== undefined && !(Number.isInteger(runs) && runs > 0)) {
      throw new this.serverless.classes.Error(
        `--runs ${String(this.options.runs).slice(0, 100)}: expected a whole number above 0`,
      );
    }
    const { statusCommand } = require('tsx/cjs/api').require('./src/command.ts', __filename);
    try {
      await statusCommand(query, {
        database: this.options.database,
        json: Boolean(this.options.json),
        watch: Boolean(this.options.watch),
        runs,
      });
    } catch (e) {
      throw new this.serverless.classes.Error(e.message);
    }
  }
}

module.exports = ReplicationStatusPlugin;
