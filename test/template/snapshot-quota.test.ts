// The manual snapshot quota preflight as packaged (statemachines/fragments/snapshot-quota.js): where
// each service checks, what it counts, and the one IAM statement it needs. The twin runs it in
// test/twin/snapshots.test.ts.
import { extract } from '../../scripts/iam-table';
import { type CfnTemplate, packageService } from '../../twin/src/package';
import { definitions } from '../helpers/definitions';

type Json = Record<string, unknown>;
interface State {
  Type: string;
  Next?: string;
  Default?: string;
  Choices?: Json[];
  Catch?: Array<{ ErrorEquals: string[]; Next: string }>;
  Parameters?: Json;
  Resource?: string;
  Branches?: Array<{ States: Record<string, State> }>;
  ItemProcessor?: { States: Record<string, State> };
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every state of the template's state machines (or only `only`), nested ones included. */
function states(t: CfnTemplate, only?: string): Record<string, State> {
  const out: Record<string, State> = {};
  const add = (s: Record<string, State>) => {
    for (const [name, state] of Object.entries(s)) {
      out[name] = state;
      for (const b of state.Branches ?? []) add(b.States);
      if (state.ItemProcessor) add(state.ItemProcessor.States);
    }
  };
  for (const [id, definition] of definitions(t)) {
    if (only && id !== only) continue;
    add((definition as { States: Record<string, State> }).States);
  }
  return out;
}

const PREFLIGHT = 'Check The Manual Snapshot Quota';

/** The statements granting rds:DescribeAccountAttributes, as [actions, resources]. */
/** The quota statements of the instance machines' roles (the cluster roles have the same one, issue 13). */
function quotaStatements(t: CfnTemplate, side: 'source' | 'destination') {
  return extract(t, side)
    .located.filter((l) => asArray(l.statement.Action).includes('rds:DescribeAccountAttributes'))
    .filter((l) => !l.roles.some((r) => /Cluster/.test(r)))
    .map((l) => [asArray(l.statement.Action), l.statement.Resource]);
}

test('source: replicate checks once, after validating the input and before any database starts', async () => {
  const t = (await packageService('source', 'dev')).template;
  const s = states(t);
  // Both ways out of the input validation lead to the preflight, and only it leads to the Map.
  expect(s['Use Configured Databases']!.Next).toBe(PREFLIGHT);
  expect(s['Are The Databases Distinct?']!.Choices!.map((c) => c.Next)).toEqual([PREFLIGHT]);
  const leadingToMap = Object.entries(s)
    .filter(
      ([, st]) =>
        st.Next === 'Replicate Each Database' ||
        st.Choices?.some((c) => c.Next === 'Replicate Each Database'),
    )
    .map(([name]) => name);
  expect(leadingToMap).toEqual([PREFLIGHT]);
  const preflight = s[PREFLIGHT]!;
  expect(preflight.Type).toBe('Parallel');
  expect(preflight.Parameters).toEqual({
    'needed.$': 'States.MathAdd(States.ArrayLength($.databases), States.ArrayLength($.databases))',
    'need.$': expect.stringContaining('an intermediate snapshot and a shared copy per database'),
  });
  expect(preflight.Catch).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'] })]);
  expect(s['Read The Manual Snapshot Quota']!.Resource).toBe(
    'arn:aws:states:::aws-sdk:rds:describeAccountAttributes',
  );
  expect(s['Stop Before The Quota Is Exceeded']).toMatchObject({
    Type: 'Fail',
    Error: 'SnapshotQuotaWouldBeExceeded',
  });
  expect(quotaStatements(t, 'source')).toEqual([[['rds:DescribeAccountAttributes'], '*']]);
});

test.each([
  { label: 'dev', params: {}, needed: 1 },
  { label: 'dev with final snapshots', params: { finalSnapshotOnDelete: 'true' }, needed: 2 },
])(
  'destination ($label): replicate checks right after taking its lock, for $needed snapshot(s)',
  async ({ params, needed }) => {
    const t = (await packageService('destination', 'dev', params as Record<string, string>)).template;
    const s = states(t, 'ReplicateStateMachine');
    expect(s['Take The Database Lock']!.Next).toBe(PREFLIGHT);
    const preflight = s[PREFLIGHT]!;
    expect(preflight.Next).toBe('Name The Replica');
    expect(preflight.Parameters).toMatchObject({ needed });
    // A refusal goes the way every failure after the lock goes: clean-up, notice, lock released.
    expect(preflight.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Start The Clean-Up' },
    ]);
    expect(quotaStatements(t, 'destination')).toEqual([[['rds:DescribeAccountAttributes'], '*']]);
  },
);
