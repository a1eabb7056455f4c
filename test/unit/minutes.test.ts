// statemachines/fragments/minutes.js: the branch that turns ISO timestamps into minutes since
// 2000-01-01 with intrinsic functions, run by the same ASL interpreter the twin runs definitions with.
import { loadAsl, toLibraryRealm } from '../../twin/src/asl-runtime';

interface Branch {
  StartAt: string;
  States: Record<string, { Parameters?: Record<string, unknown> }>;
}
const fragment = require('../../statemachines/fragments/minutes.js') as {
  ageBranch(): Promise<Branch>;
  FIRST_YEAR: number;
  LAST_YEAR: number;
  MAX_FUNCTIONS_PER_FIELD: number;
};

const EPOCH_2000 = Date.UTC(2000, 0, 1);
const expected = (iso: string) => Math.floor((Date.parse(iso) - EPOCH_2000) / 60_000);

async function evaluate(pairs: Array<{ since: string; now: string; graceMinutes: number }>) {
  const { StateMachine } = loadAsl();
  const machine = new StateMachine(
    // biome-ignore lint/suspicious/noExplicitAny: the fragment is plain ASL JSON, checked by the library.
    toLibraryRealm<any>({
      StartAt: 'Each',
      States: {
        Each: { Type: 'Map', ItemsPath: '$.pairs', ItemProcessor: await fragment.ageBranch(), End: true },
      },
    }),
  );
  const { result } = machine.run(toLibraryRealm({ pairs }));
  return (await result) as Array<{ sinceMinute: number; nowMinute: number; deletableFromMinute: number }>;
}

test('minutes since 2000-01-01 across months, leap days, years and centuries; the grace is added', async () => {
  const samples = [
    '2000-01-01T00:00:00.000Z',
    '2000-02-29T23:59:59.999Z',
    '2000-03-01T00:00:00Z',
    '2026-12-01T21:55:42.123Z',
    '2026-12-31T23:59:00.000Z',
    '2027-01-01T00:00:00.000Z',
    '2028-02-28T12:00:00.000Z',
    '2028-02-29T12:00:00.000Z',
    '2028-03-01T00:09:00.000Z',
    '2099-12-31T23:59:59.000Z',
    '2100-03-01T00:00:00.000Z',
    `${fragment.LAST_YEAR}-12-31T23:59:00.000Z`,
  ];
  // Every day of two years (one of them leap) at a time with single-digit fields.
  for (let t = Date.UTC(2027, 0, 1, 9, 5); t < Date.UTC(2029, 0, 1); t += 86_400_000) {
    samples.push(new Date(t).toISOString());
  }
  const pairs = samples.map((since, i) => ({
    since,
    now: samples[(i + 1) % samples.length]!,
    graceMinutes: i,
  }));
  const out = await evaluate(pairs);
  expect(out).toEqual(
    pairs.map((p, i) => ({
      sinceMinute: expected(p.since),
      nowMinute: expected(p.now),
      deletableFromMinute: expected(p.since) + i,
    })),
  );
  expect(fragment.FIRST_YEAR).toBe(2000);
});

test('no field uses more than 10 intrinsic functions (the Step Functions limit)', async () => {
  const fieldsOf = (value: unknown): string[] =>
    typeof value === 'string'
      ? [value]
      : value && typeof value === 'object'
        ? Object.values(value).flatMap(fieldsOf)
        : [];
  const branch = await fragment.ageBranch();
  const counts = Object.values(branch.States).flatMap((s) =>
    fieldsOf(s.Parameters).map((f) => (f.match(/States\.\w+\(/g) ?? []).length),
  );
  expect(Math.max(...counts)).toBeLessThanOrEqual(fragment.MAX_FUNCTIONS_PER_FIELD);
});
