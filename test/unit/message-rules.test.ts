// The generated message checks of the destination `replicate` (statemachines/fragments/message-rules.js)
// give the schema's verdict: the branch runs in the offline executor against the trigger's parser on
// a corpus, and the generator refuses a schema constraint it cannot translate exactly. The packaged
// state machine is checked against the parser on the twin in test/twin/message-contract.test.ts.
import { databaseOf, parseReplicationMessage } from '../../src/contracts/message';
import { loadAsl } from '../../twin/src/asl-runtime';
import { validateMessage } from '../helpers/message-schema';

const rules = require('../../statemachines/fragments/message-rules.js') as {
  validationBranch(
    ctx: unknown,
  ): Promise<{ StartAt: string; States: Record<string, Record<string, unknown>> }>;
  clusterValidationBranch(
    ctx: unknown,
  ): Promise<{ StartAt: string; States: Record<string, Record<string, unknown>> }>;
  translate(field: string, pattern: string, negated: boolean): { kind: string };
};

const SOURCE = '111111111111';
const REGION = 'eu-west-1';
const PARAMS: Record<string, string> = {
  region: REGION,
  sourceAccountId: SOURCE,
  sourceRegion: REGION,
  databases: 'orders-db,B',
  clusters: 'orders-aurora',
  sourceKmsKeyArn: `arn:aws:kms:${REGION}:${SOURCE}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
  secretUsername: 'postgres',
  dbInstanceClass: 'db.t4g.micro',
  dbSubnetGroupName: 'replica-subnets',
  vpcSecurityGroupIds: 'sg-0123456789abcdef0',
  multiAz: 'false',
  deletionProtection: 'true',
  publiclyAccessible: 'false',
  keepReplicas: '2',
  instanceNamePrefix: '{database}',
  finalSnapshotOnDelete: 'false',
  logLevel: 'INFO',
};
const ctx = {
  resolveVariable: async (address: string) => {
    if (address === 'self:service') return 'rds-replica-destination';
    if (address === 'sls:stage') return 'dev';
    return PARAMS[address.replace(/^param:/, '')];
  },
};
const EXPECT = {
  sourceAccountId: SOURCE,
  sourceRegion: REGION,
  partition: 'aws',
  databases: ['orders-db', 'B'],
  clusters: ['orders-aurora'],
};

const good = {
  version: 1,
  sourceAccountId: SOURCE,
  sourceRegion: REGION,
  sourceDbInstanceIdentifier: 'orders-db',
  engine: 'postgres',
  engineVersion: '16.4',
  sharedSnapshotArn: `arn:aws:rds:${REGION}:${SOURCE}:snapshot:rds-replica-source-dev-shared-orders-db-1`,
  snapshotCreateTime: '2026-11-23T19:21:47.123Z',
  runId: 'run-1',
};
const arn = (id: string) => `arn:aws:rds:${REGION}:${SOURCE}:snapshot:${id}`;
const w = (key: string, value: unknown) => ({ ...good, [key]: value });

const corpus: Array<[string, unknown]> = [
  ['reference', good],
  ['database b', w('sourceDbInstanceIdentifier', 'b')],
  ['database B', w('sourceDbInstanceIdentifier', 'B')],
  ['database with tab', w('sourceDbInstanceIdentifier', 'orders-db\t')],
  ['every engine', { ...good, engine: 'sqlserver-dev-ee' }],
  ['engine with trailing space', w('engine', 'postgres ')],
  ['engineVersion 0', w('engineVersion', '0')],
  ['engineVersion -1', w('engineVersion', '-1')],
  ['engineVersion with slash', w('engineVersion', '16/4')],
  ['engineVersion with emoji', w('engineVersion', '16😀')],
  ['engineVersion with newline', w('engineVersion', '16.4\n')],
  ['engineVersion with ?', w('engineVersion', '16?')],
  ['engineVersion with *', w('engineVersion', '16*')],
  ['arn snapshot a1', w('sharedSnapshotArn', arn('a1'))],
  ['arn snapshot a-1', w('sharedSnapshotArn', arn('a-1'))],
  ['arn snapshot a:b', w('sharedSnapshotArn', arn('a:b'))],
  ['arn snapshot a::b', w('sharedSnapshotArn', arn('a::b'))],
  ['arn snapshot -a', w('sharedSnapshotArn', arn('-a'))],
  ['arn snapshot :a', w('sharedSnapshotArn', arn(':a'))],
  ['arn snapshot a/b', w('sharedSnapshotArn', arn('a/b'))],
  ['arn snapshot ä', w('sharedSnapshotArn', arn('ä'))],
  ['arn gov', w('sharedSnapshotArn', good.sharedSnapshotArn.replace('arn:aws:', 'arn:aws-us-gov:'))],
  ['arn with prefix', w('sharedSnapshotArn', `x${good.sharedSnapshotArn}`)],
  ['arn doubled', w('sharedSnapshotArn', `${good.sharedSnapshotArn}:snapshot:a`)],
  ['time 1-digit fraction', w('snapshotCreateTime', '2026-11-23T19:21:47.1Z')],
  ['time comma fraction', w('snapshotCreateTime', '2026-11-23T19:21:47,1Z')],
  ['time 2100-02-29', w('snapshotCreateTime', '2100-02-29T00:00:00Z')],
  ['time 2400-02-29', w('snapshotCreateTime', '2400-02-29T00:00:00Z')],
  ['time 2024-02-29', w('snapshotCreateTime', '2024-02-29T12:00:00Z')],
  ['time 2026-06-31', w('snapshotCreateTime', '2026-06-31T00:00:00Z')],
  ['time 2026-12-31', w('snapshotCreateTime', '2026-12-31T23:59:59Z')],
  ['time month 13', w('snapshotCreateTime', '2026-13-01T00:00:00Z')],
  ['time second 60', w('snapshotCreateTime', '2026-12-31T23:59:60Z')],
  ['time -00:00', w('snapshotCreateTime', '2026-12-31T23:59:59-00:00')],
  ['time with space', w('snapshotCreateTime', '2026-12-31 23:59:59Z')],
  ['runId -', w('runId', '-')],
  ['runId _', w('runId', '_')],
  ['runId with tab', w('runId', 'run\t1')],
  ['runId with quote', w('runId', "run'1")],
  ['version 1.5', w('version', 1.5)],
  ['version true', w('version', true)],
  ['account with space', w('sourceAccountId', ` ${SOURCE}`)],
  ['extra null field', { ...good, extra: null }],
  // optionGroupName: optional, and counted as a known field only when present
  ['option group', w('optionGroupName', 'orders-options')],
  ['option group a', w('optionGroupName', 'a')],
  ['option group empty', w('optionGroupName', '')],
  ['option group null', w('optionGroupName', null)],
  ['option group number', w('optionGroupName', 7)],
  ['option group default:postgres-16', w('optionGroupName', 'default:postgres-16')],
  ['option group upper case', w('optionGroupName', 'Orders-Options')],
  ['option group trailing hyphen', w('optionGroupName', 'orders-')],
  ['option group double hyphen', w('optionGroupName', 'orders--options')],
  ['option group digit first', w('optionGroupName', '1orders')],
  ['option group and an extra field', { ...good, optionGroupName: 'orders-options', extra: 1 }],
  ['an extra field in place of the option group', { ...good, extra: 'orders-options' }],
  ['all fields null', Object.fromEntries(Object.keys(good).map((k) => [k, null]))],
];

let machine: { run(input: never): { result: Promise<unknown> } } | undefined;

async function machineVerdict(message: unknown): Promise<{ ok: boolean; error?: string; cause?: string }> {
  if (!machine) {
    const { StateMachine } = loadAsl();
    // as CloudFormation resolves the definition's Fn::Sub in the partition `aws`
    const branch = JSON.parse(
      JSON.stringify(await rules.validationBranch(ctx)).replaceAll('#{AWS::Partition}', 'aws'),
    );
    machine = new StateMachine(branch as never) as never;
  }
  try {
    const out = await machine!.run(message as never).result;
    expect(out).toEqual(message);
    return { ok: true };
  } catch (e) {
    const err = e as { cause?: { name?: string; message?: string }; message: string };
    return { ok: false, error: err.cause?.name, cause: err.cause?.message ?? err.message };
  }
}

describe('the generated checks give the parser’s verdict', () => {
  test('the corpus holds both verdicts', () => {
    const verdicts = corpus.map(([, m]) => parseReplicationMessage(m, EXPECT).ok);
    expect(verdicts.filter(Boolean).length).toBeGreaterThanOrEqual(10);
    expect(verdicts.filter((v) => !v).length).toBeGreaterThanOrEqual(25);
  });

  test.each(corpus)('%s', async (_what, message) => {
    const parser = parseReplicationMessage(message, EXPECT);
    const verdict = await machineVerdict(message);
    expect({ machine: verdict.ok, cause: verdict.ok ? undefined : verdict.cause }).toEqual(
      expect.objectContaining({ machine: parser.ok }),
    );
    if (!verdict.ok) expect(verdict.error).toBe('InvalidInput');
    // the parser itself agrees with ajv on everything the schema alone decides
    if (parser.ok) expect(validateMessage(message)).toBe(true);
  });
});

describe('the generator', () => {
  test('never writes ? in a StringMatches pattern (a wildcard offline, a literal on AWS)', async () => {
    const text = JSON.stringify(await rules.validationBranch(ctx));
    const patterns = [...text.matchAll(/"StringMatches":"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
    expect(patterns.length).toBeGreaterThan(50);
    expect(patterns.filter((p) => p.includes('?'))).toEqual([]);
  });

  test.each([
    ['a length', '^.{1,80}$'],
    ['an alternation', '^(a|b)$'],
    ['a repetition of a class', '^[a-z]{2}$'],
  ])('refuses a pattern with %s, which Choice rules cannot check exactly', (_what, pattern) => {
    expect(() => rules.translate('runId', pattern, false)).toThrow(/no exact Choice-rule translation/);
  });
});

// Version 2, kind cluster: the checks at the top of `replicate-cluster` against the same parser (which
// accepts a message for `replicate-cluster` exactly when it is valid and of kind cluster).
const cluster = {
  version: 2,
  kind: 'cluster',
  sourceAccountId: SOURCE,
  sourceRegion: REGION,
  sourceDbIdentifier: 'orders-aurora',
  engine: 'aurora-postgresql',
  engineVersion: '16.4',
  sharedSnapshotArn: `arn:aws:rds:${REGION}:${SOURCE}:cluster-snapshot:rds-replica-source-dev-shared-orders-aurora-1`,
  snapshotCreateTime: '2026-11-23T19:21:47.123Z',
  runId: 'run-1',
};
const c = (key: string, value: unknown) => ({ ...cluster, [key]: value });
const clusterCorpus: Array<[string, unknown]> = [
  ['reference', cluster],
  ['aurora-mysql', c('engine', 'aurora-mysql')],
  ['kind instance', c('kind', 'instance')],
  ['kind Cluster', c('kind', 'Cluster')],
  ['no kind', Object.fromEntries(Object.entries(cluster).filter(([k]) => k !== 'kind'))],
  ['a DB snapshot ARN', c('sharedSnapshotArn', arn('rds-replica-source-dev-shared-orders-aurora-1'))],
  ['another cluster', c('sourceDbIdentifier', 'billing-aurora')],
  ['a configured instance as cluster', c('sourceDbIdentifier', 'orders-db')],
  ['version 1 fields in version 2', { ...good, version: 2 }],
  ['version 2 with sourceDbInstanceIdentifier', { ...cluster, sourceDbInstanceIdentifier: 'orders-aurora' }],
  ['a version 1 message', good],
  [
    'another account in the ARN',
    c('sharedSnapshotArn', cluster.sharedSnapshotArn.replace(SOURCE, '999999999999')),
  ],
  ['engine unknown', c('engine', 'aurora')],
  ['time 2026-02-30', c('snapshotCreateTime', '2026-02-30T00:00:00Z')],
  ['extra field', { ...cluster, port: 5432 }],
];

let clusterMachine: { run(input: never): { result: Promise<unknown> } } | undefined;

describe('the generated checks of replicate-cluster give the parser’s verdict (version 2, kind cluster)', () => {
  test.each(clusterCorpus)('%s', async (_what, message) => {
    if (!clusterMachine) {
      const { StateMachine } = loadAsl();
      const branch = JSON.parse(
        JSON.stringify(await rules.clusterValidationBranch(ctx)).replaceAll('#{AWS::Partition}', 'aws'),
      );
      clusterMachine = new StateMachine(branch as never) as never;
    }
    const parsed = parseReplicationMessage(message, EXPECT);
    const forClusters = parsed.ok && databaseOf(parsed.message).kind === 'cluster';
    let ok = true;
    try {
      expect(await clusterMachine!.run(message as never).result).toEqual(message);
    } catch (e) {
      ok = false;
      expect((e as { cause?: { name?: string } }).cause?.name).toBe('InvalidInput');
    }
    expect({ what: _what, machine: ok }).toEqual({ what: _what, machine: forClusters });
    if (forClusters) expect(validateMessage(message)).toBe(true);
  });

  test('the corpus holds both verdicts', () => {
    const accepted = clusterCorpus.filter(([, m]) => {
      const p = parseReplicationMessage(m, EXPECT);
      return p.ok && databaseOf(p.message).kind === 'cluster';
    });
    expect(accepted.length).toBeGreaterThanOrEqual(2);
    expect(clusterCorpus.length - accepted.length).toBeGreaterThanOrEqual(10);
  });
});
