// `npm run bench`: polling cost and promptness, scale, and Lambda size, measured on the twin's
// virtual clock (no timed assertions anywhere: this prints figures and exits non-zero when a
// target of ../shared/DESIGN.md is missed). `npm run bench -- --only=5` runs one section.
//
//   1. One database replicated end to end (source replicate -> SNS -> destination replicate) with
//      all four RDS phases (source snapshot, source copy, destination copy, restore) lasting
//      2 min, 10 min, 1 h and 6 h; the same phases run by bench/baseline.asl.json, which polls
//      like the original pattern (fixed 240/180/300 s waits, one Lambda per poll).
//   2. Detection lag over phases of random length (seeded), so no figure depends on a phase
//      happening to end just before a poll.
//   3. Lambda bundle sizes and cold import times.
//   4. One source execution for 50 databases: all succeed, maxConcurrency never exceeded.
//   5. Snapshot sources (issue 12): `new`, `latest` and an instance already on the shared key, with
//      phase lengths of a mid-sized instance: RDS phases, end-to-end time, ratio to the four-phase path.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import AdmZip from 'adm-zip';
import { build } from 'esbuild';
import { type ExecutionRecord, startTwin, type Twin } from '../twin/src';
import { accountClient } from '../twin/src/aws';
import { createDestinationNetwork, createSourceDatabase, seedSecret } from '../twin/src/fixtures';
import {
  historyEventCount,
  maxConcurrentIterations,
  median,
  phaseTimings,
  polls,
  stateTransitions,
} from '../twin/src/metrics';
import { packageService, ROOT } from '../twin/src/package';
import type { AslDefinition } from '../twin/src/stepfunctions';

const PHASES = [
  { label: '2 min', seconds: 120 },
  { label: '10 min', seconds: 600 },
  { label: '1 h', seconds: 3600 },
  { label: '6 h', seconds: 21600 },
];
const TARGETS = {
  lambdaPerDatabase: 4,
  medianLagShortSeconds: 20,
  lagLongFraction: 0.15,
  historyEvents6h: 2500,
  bundleBytes: 100 * 1024,
};
const DATABASE = 'orders-db';

interface RunFigures {
  lambda: number;
  transitions: number;
  events: number;
  polls: number;
  lags: number[];
  total: number;
  phaseSum: number;
}

const misses: string[] = [];
const out = (line = '') => process.stdout.write(`${line}\n`);

/** A tiny seeded generator (mulberry32), so every run of the benchmark measures the same phases. */
function random(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function figures(execs: ExecutionRecord[], lambda: number, phase: number): RunFigures {
  const timings = execs.flatMap(phaseTimings);
  const start = Math.min(...execs.map((e) => e.startDate));
  const stop = Math.max(...execs.map((e) => e.stopDate ?? e.startDate));
  return {
    lambda,
    transitions: execs.reduce((n, e) => n + stateTransitions(e), 0),
    events: execs.reduce((n, e) => n + historyEventCount(e), 0),
    polls: execs.reduce((n, e) => n + polls(e), 0),
    lags: timings.map((t) => (t.detectedAt - t.startedAt) / 1000 - phase),
    total: (stop - start) / 1000,
    phaseSum: timings.length * phase,
  };
}

async function setPhases(twin: Twin, seconds: number) {
  await twin.moto.control.setDurations({
    snapshotCreate: seconds,
    snapshotCopy: seconds,
    restore: seconds,
    modify: 30,
    delete: 60,
  });
}

/** The project's definitions: one database from the source execution to the end of the destination's. */
async function runOurs(twin: Twin, seconds: number): Promise<RunFigures> {
  await setPhases(twin, seconds);
  const before = new Set(twin.sfn.executions.keys());
  const lambdaBefore = twin.lambda.invocations.length;
  await twin.run('source', 'replicate', { databases: [DATABASE] });
  const execs = [...twin.sfn.executions.values()].filter((e) => !before.has(e.executionArn));
  const failed = execs.filter((e) => e.status !== 'SUCCEEDED');
  // source replicate, its replicate-database child, destination replicate
  if (failed.length || execs.length !== 3) {
    throw new Error(
      `replication with ${seconds}s phases: ${execs.length} executions, failed: ${failed
        .map((e) => `${e.name} ${e.error}: ${e.cause}`)
        .join('; ')}`,
    );
  }
  await twin.clock.advance(3600_000);
  return figures(execs, twin.lambda.invocations.length - lambdaBefore, seconds);
}

async function prepareBaseline(twin: Twin) {
  const dir = join(ROOT, 'dist', 'bench');
  await build({
    entryPoints: [join(ROOT, 'bench', 'baseline-checker.ts')],
    bundle: true,
    platform: 'node',
    target: 'node22',
    external: ['@aws-sdk/*'],
    outfile: join(dir, 'handler.js'),
    logLevel: 'silent',
  });
  const zip = new AdmZip();
  zip.addLocalFile(join(dir, 'handler.js'));
  zip.writeZip(join(dir, 'checker.zip'));
  const account = twin.accounts.source;
  // The baseline stands for the pattern's sample, not for this product: its roles may do anything
  // (the twin evaluates IAM for every principal, so they must exist there).
  for (const role of ['baseline', 'baseline-checker']) {
    twin.iam.registerRole({
      arn: `arn:aws:iam::${account}:role/${role}`,
      account,
      origin: 'the benchmark baseline',
      policies: [
        {
          name: 'all',
          policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
        },
      ],
    });
  }
  const where = { endpoint: twin.moto.url, account, region: twin.region };
  const creds = await accountClient(STSClient, where).send(
    new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${account}:role/baseline-checker`,
      RoleSessionName: 'bench',
    }),
  );
  const name = 'baseline-checker';
  const arn = `arn:aws:lambda:${twin.region}:${account}:function:${name}`;
  twin.lambda.register({
    name,
    arn,
    account,
    region: twin.region,
    zipPath: join(dir, 'checker.zip'),
    handler: 'handler.handler',
    environment: {},
    timeoutSeconds: 30,
    credentials: {
      accessKeyId: creds.Credentials!.AccessKeyId!,
      secretAccessKey: creds.Credentials!.SecretAccessKey!,
      sessionToken: creds.Credentials!.SessionToken,
    },
    maximumRetryAttempts: 0,
  });
  const key = await twin.aws('source').kms.send(new CreateKeyCommand({ Description: 'baseline' }));
  const definition = JSON.parse(
    readFileSync(join(ROOT, 'bench', 'baseline.asl.json'), 'utf8'),
  ) as AslDefinition;
  const machineArn = `arn:aws:states:${twin.region}:${account}:stateMachine:baseline`;
  twin.sfn.register({
    arn: machineArn,
    name: 'baseline',
    account,
    region: twin.region,
    roleArn: `arn:aws:iam::${account}:role/baseline`,
    definition,
  });
  return { machineArn, checker: arn, keyId: key.KeyMetadata!.Arn! };
}

async function runBaseline(
  twin: Twin,
  baseline: Awaited<ReturnType<typeof prepareBaseline>>,
  seconds: number,
  n: number,
): Promise<RunFigures> {
  await setPhases(twin, seconds);
  const lambdaBefore = twin.lambda.invocations.length;
  const exec = twin.sfn.startExecution(
    { account: twin.accounts.source },
    {
      stateMachineArn: baseline.machineArn,
      input: JSON.stringify({
        db: DATABASE,
        snapshot: `baseline-${n}`,
        copy: `baseline-${n}-copy`,
        copy2: `baseline-${n}-copy2`,
        replica: `baseline-${n}-replica`,
        keyId: baseline.keyId,
        checker: baseline.checker,
      }),
    },
  );
  await exec.done;
  await twin.settle();
  if (exec.status !== 'SUCCEEDED')
    throw new Error(`baseline with ${seconds}s phases: ${exec.error}: ${exec.cause}`);
  await twin.clock.advance(3600_000);
  return figures([exec], twin.lambda.invocations.length - lambdaBefore, seconds);
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const hours = (s: number) => (s >= 3600 ? `${fmt(s / 3600, 1)} h` : `${fmt(s / 60, 1)} min`);

function table(rows: string[][]) {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const [i, r] of rows.entries()) {
    out(`| ${r.map((c, j) => c.padEnd(widths[j]!)).join(' | ')} |`);
    if (i === 0) out(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  }
}

async function polling(twin: Twin) {
  await createSourceDatabase(twin, { id: DATABASE, encryption: 'aws/rds' });
  const network = await createDestinationNetwork(twin);
  const source = await twin.deploy('source');
  const destination = await twin.deploy('destination', {
    params: { vpcSecurityGroupIds: network.securityGroupId, sourceKmsKeyArn: source.outputs.KmsKeyArn! },
  });
  await seedSecret(twin, destination.outputs.DatabaseSecretOrdersDashdbArn!);
  const baseline = await prepareBaseline(twin);

  out('## 1. One replicated database, four RDS phases of equal length');
  out();
  const rows = [
    [
      'phases',
      'definition',
      'Lambda',
      'transitions',
      'history events',
      'polls',
      'lag median',
      'lag max',
      'total time',
      'sum of phases',
    ],
  ];
  let n = 0;
  for (const p of PHASES) {
    const ours = await runOurs(twin, p.seconds);
    const base = await runBaseline(twin, baseline, p.seconds, n++);
    for (const [name, f] of [
      ['ours', ours],
      ['baseline', base],
    ] as const) {
      rows.push([
        p.label,
        name,
        String(f.lambda),
        String(f.transitions),
        String(f.events),
        String(f.polls),
        `${fmt(median(f.lags))} s`,
        `${fmt(Math.max(...f.lags))} s`,
        hours(f.total),
        hours(f.phaseSum),
      ]);
    }
    const ratio = (a: number, b: number) => (b > 0 ? `${fmt(a / b, 2)}x` : '-');
    rows.push([
      p.label,
      'ours / baseline',
      ratio(ours.lambda, base.lambda),
      ratio(ours.transitions, base.transitions),
      ratio(ours.events, base.events),
      ratio(ours.polls, base.polls),
      '',
      '',
      ratio(ours.total, base.total),
      '',
    ]);
    if (ours.lambda > TARGETS.lambdaPerDatabase)
      misses.push(`${p.label}: ${ours.lambda} Lambda invocations > 4`);
    if (p.seconds <= 600 && median(ours.lags) > TARGETS.medianLagShortSeconds)
      misses.push(`${p.label}: median lag ${fmt(median(ours.lags))} s > 20 s`);
    if (p.seconds > 600 && median(ours.lags) > TARGETS.lagLongFraction * p.seconds)
      misses.push(`${p.label}: median lag ${fmt(median(ours.lags))} s > 15% of the phase`);
    if (p.seconds === 21600 && ours.events > TARGETS.historyEvents6h)
      misses.push(`6 h: ${ours.events} history events > ${TARGETS.historyEvents6h}`);
  }
  table(rows);
  out();
  out(
    'Lambda: invocations for the database (ours: trigger, name, secret merge, retention; baseline: one per poll).\nOurs counts three executions: source `replicate`, its `replicate-database` child, destination `replicate`.',
  );
  out('History events: as Step Functions would record them, source and destination executions together.');
  out('Lag: time from RDS finishing a phase to the state machine moving on, over the four phases.');

  out();
  out('## 2. Detection lag over phases of random length (seeded)');
  out();
  const rnd = random(20261123);
  const lagRows = [
    [
      'phase lengths',
      'definition',
      'runs',
      'phases',
      'median lag',
      'p90 lag',
      'median lag / phase',
      'target',
    ],
  ];
  for (const band of [
    { label: '1-10 min', min: 60, max: 600, runs: 6 },
    { label: '10 min-6 h', min: 600, max: 21600, runs: 6 },
  ]) {
    const seconds = Array.from({ length: band.runs }, () =>
      Math.round(band.min + rnd() * (band.max - band.min)),
    );
    const measure = async (which: 'ours' | 'baseline') => {
      const lags: number[] = [];
      const fractions: number[] = [];
      for (const s of seconds) {
        const f = which === 'ours' ? await runOurs(twin, s) : await runBaseline(twin, baseline, s, n++);
        lags.push(...f.lags);
        fractions.push(...f.lags.map((l) => l / s));
      }
      return { lags, fractions };
    };
    const short = band.max <= 600;
    const results = { ours: await measure('ours'), baseline: await measure('baseline') };
    for (const which of ['ours', 'baseline'] as const) {
      const { lags, fractions } = results[which];
      const sorted = [...lags].sort((a, b) => a - b);
      lagRows.push([
        band.label,
        which,
        String(band.runs),
        String(lags.length),
        `${fmt(median(lags))} s`,
        `${fmt(sorted[Math.floor(sorted.length * 0.9)] ?? Number.NaN)} s`,
        `${fmt(median(fractions) * 100, 1)}%`,
        which === 'ours' ? (short ? 'median <= 20 s' : 'median <= 15% of the phase') : '',
      ]);
    }
    const ours = results.ours;
    if (short && median(ours.lags) > TARGETS.medianLagShortSeconds)
      misses.push(`random 1-10 min: median lag ${fmt(median(ours.lags))} s`);
    if (!short && median(ours.fractions) > TARGETS.lagLongFraction)
      misses.push(`random 10 min-6 h: median lag ${fmt(median(ours.fractions) * 100, 1)}% of the phase`);
  }
  table(lagRows);
}

async function scale(twin: Twin) {
  out();
  out('## 4. Scale: one source execution for 50 databases (maxConcurrency 5, 5-minute phases)');
  out();
  await twin.reset();
  const databases = Array.from({ length: 50 }, (_, i) => `db-${String(i + 1).padStart(2, '0')}`);
  for (const id of databases) await createSourceDatabase(twin, { id });
  await twin.deploy('source', { params: { databases: databases.join(','), maxConcurrency: '5' } });
  await setPhases(twin, 300);
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  const wall = Date.now();
  const exec = await twin.run('source', 'replicate', { databases });
  const wallSeconds = (Date.now() - wall) / 1000;
  clearInterval(sampler);
  const outcomes = (JSON.parse(exec.output ?? '{}').databases ?? []) as Array<{ status: string }>;
  const succeeded = outcomes.filter((o) => o.status === 'SUCCEEDED').length;
  const concurrent = maxConcurrentIterations(exec.history, 'Replicate Each Database');
  const children = [...twin.sfn.executions.values()].filter((e) => e !== exec);
  const largestChild = Math.max(...children.map(historyEventCount));
  let motoPeak = '-';
  try {
    const status = readFileSync(`/proc/${twin.moto.pid}/status`, 'utf8');
    motoPeak = `${fmt(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]) / 1024)} MB`;
  } catch {}
  table([
    [
      'databases',
      'succeeded',
      'max concurrent',
      'maxConcurrency',
      'history events (run / largest database)',
      'wall time',
      'virtual time',
      'peak RSS (node)',
      'peak RSS (moto)',
    ],
    [
      '50',
      String(succeeded),
      String(concurrent),
      '5',
      `${historyEventCount(exec)} / ${largestChild}`,
      `${fmt(wallSeconds, 1)} s`,
      hours(((exec.stopDate ?? 0) - exec.startDate) / 1000),
      `${fmt(peak / 1024 / 1024)} MB`,
      motoPeak,
    ],
  ]);
  if (exec.status !== 'SUCCEEDED' || succeeded !== 50)
    misses.push(`scale: ${succeeded}/50 databases succeeded (${exec.error ?? ''})`);
  if (concurrent > 5) misses.push(`scale: ${concurrent} iterations ran at once, maxConcurrency is 5`);
}

async function sizes(twin: Twin) {
  out();
  out('## 3. Lambda bundles (dist/destination-dev) and cold import');
  out();
  // the stage's own package, made here if nothing made it yet (a fresh clone)
  const { dir } = await packageService('destination', 'dev');
  const cold = new Map<string, number>();
  for (const inv of twin.lambda.invocations) {
    if (inv.coldStartMs !== undefined && !cold.has(inv.function)) cold.set(inv.function, inv.coldStartMs);
  }
  const rows = [['function', 'zip', 'bundle (unzipped)', 'cold import']];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.zip'))) {
    const zip = new AdmZip(join(dir, file));
    const unzipped = zip.getEntries().reduce((n, e) => n + e.header.size, 0);
    const fn = file.replace(/\.zip$/, '');
    const coldMs = [...cold.entries()].find(([name]) => name.endsWith(`-${fn}`))?.[1];
    rows.push([
      fn,
      `${fmt(statSync(join(dir, file)).size / 1024, 1)} KB`,
      `${fmt(unzipped / 1024, 1)} KB`,
      coldMs ? `${fmt(coldMs)} ms` : '-',
    ]);
    if (unzipped > TARGETS.bundleBytes) misses.push(`${fn}: bundle ${unzipped} bytes > 100 KB`);
  }
  table(rows);
  out(
    'Cold import: loading the bundle (and the SDK clients it imports) in a fresh worker, first invocation.',
  );
}

/**
 * Phase lengths for section 5, ASSUMED for a PostgreSQL instance of about 100 GiB, not measured: a
 * manual snapshot after the nightly automated backup is incremental (15 min); a copy that changes
 * the key, in the source or across accounts, copies every block (45 min each; inferred from the RDS
 * user guide: only a copy with the same key can be incremental); the restore until `available`
 * 20 min (the data then loads lazily). Replace them with the durations your RDS events show.
 */
const REALISTIC = { snapshotCreate: 15 * 60, snapshotCopy: 45 * 60, restore: 20 * 60 };

async function snapshotSources(twin: Twin) {
  out();
  out('## 5. Snapshot sources: RDS phases and end-to-end time (one database)');
  out();
  const setUp = async (encryption: 'aws/rds' | 'shared key') => {
    await twin.reset();
    const source = await twin.deploy('source');
    const key = source.outputs.KmsKeyArn!;
    await createSourceDatabase(twin, {
      id: DATABASE,
      encryption: encryption === 'aws/rds' ? 'aws/rds' : key,
    });
    const network = await createDestinationNetwork(twin);
    const destination = await twin.deploy('destination', {
      params: { vpcSecurityGroupIds: network.securityGroupId, sourceKmsKeyArn: key },
    });
    await seedSecret(twin, destination.outputs.DatabaseSecretOrdersDashdbArn!);
    await twin.moto.control.setDurations({ ...REALISTIC, modify: 30, delete: 60 });
  };
  const measure = async (input: unknown) => {
    const before = new Set(twin.sfn.executions.keys());
    await twin.run('source', 'replicate', input);
    const execs = [...twin.sfn.executions.values()].filter((e) => !before.has(e.executionArn));
    const failed = execs.filter((e) => e.status !== 'SUCCEEDED');
    if (failed.length || execs.length !== 3)
      throw new Error(
        `snapshot sources: ${failed.map((e) => `${e.name} ${e.error}: ${e.cause}`).join('; ')}`,
      );
    const start = Math.min(...execs.map((e) => e.startDate));
    const stop = Math.max(...execs.map((e) => e.stopDate ?? e.startDate));
    await twin.clock.advance(3600_000);
    return {
      phases: execs.flatMap(phaseTimings).map((t) => t.state),
      total: (stop - start) / 1000,
      events: execs.reduce((n, e) => n + historyEventCount(e), 0),
    };
  };
  await setUp('aws/rds');
  const fresh = await measure({ databases: [DATABASE] });
  await twin.moto.control.addBackupSnapshot({
    account: twin.accounts.source,
    dbInstanceIdentifier: DATABASE,
    type: 'automated',
    ageSeconds: 2 * 3600,
    replace: true,
  });
  const latest = await measure({ databases: [DATABASE], snapshotSource: 'latest' });
  await setUp('shared key');
  const onKey = await measure({ databases: [DATABASE] });
  const rows = [['snapshot source', 'RDS phases', 'which', 'end to end', 'history events', 'vs today (new)']];
  for (const [label, f] of [
    ['new (today: snapshot, re-key copy, destination copy, restore)', fresh],
    ['latest (a 2-hour-old automated snapshot)', latest],
    ['new, instance already on the shared key', onKey],
  ] as const) {
    rows.push([
      label,
      String(f.phases.length),
      f.phases.join(', '),
      hours(f.total),
      String(f.events),
      `${fmt(f.total / fresh.total, 2)}x`,
    ]);
  }
  table(rows);
  out();
  out(
    `Phase lengths (assumed for a ~100 GiB instance, bench/bench.ts REALISTIC): snapshot ${hours(REALISTIC.snapshotCreate)}, each copy ${hours(REALISTIC.snapshotCopy)}, restore ${hours(REALISTIC.restore)}.`,
  );
  out(
    '`latest` also spares the production instance a snapshot, and its data is as old as the backup (the message carries the backup time).',
  );
  if (fresh.phases.length !== 4)
    misses.push(`snapshot sources: new took ${fresh.phases.length} RDS phases, not 4`);
  if (latest.phases.length !== 3)
    misses.push(`snapshot sources: latest took ${latest.phases.length} RDS phases, not 3`);
  if (onKey.phases.length !== 3)
    misses.push(
      `snapshot sources: an instance on the shared key took ${onKey.phases.length} RDS phases, not 3`,
    );
}

async function main() {
  const started = Date.now();
  const twin = await startTwin();
  try {
    // `npm run bench -- --only=5` runs one section (1 and 2 run together)
    const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
    const wanted = (n: string) => only === undefined || only.split(',').includes(n);
    if (wanted('1') || wanted('2')) await polling(twin);
    if (wanted('3')) await sizes(twin);
    if (wanted('4')) await scale(twin);
    if (wanted('5')) await snapshotSources(twin);
  } finally {
    await twin.stop();
  }
  out();
  out(`Benchmark finished in ${fmt((Date.now() - started) / 1000, 1)} s.`);
  if (misses.length) {
    out(`TARGETS MISSED (${misses.length}):`);
    for (const m of misses) out(`  - ${m}`);
    process.exit(1);
  }
  out('All targets met.');
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
