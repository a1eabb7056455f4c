// statemachines/fragments/minutes.js: the intrinsic expression that turns an ISO timestamp into
// minutes since 2000-01-01, evaluated by the same ASL interpreter the twin runs definitions with.
import { loadAsl, toLibraryRealm } from '../../twin/src/asl-runtime';

const { minutesOf, FIRST_YEAR, LAST_YEAR } = require('../../statemachines/fragments/minutes.js') as {
  minutesOf(path: string): string;
  FIRST_YEAR: number;
  LAST_YEAR: number;
};

const EPOCH_2000 = Date.UTC(2000, 0, 1);
const expected = (iso: string) => Math.floor((Date.parse(iso) - EPOCH_2000) / 60_000);

async function evaluate(timestamps: string[]): Promise<number[]> {
  const { StateMachine } = loadAsl();
  const machine = new StateMachine(
    toLibraryRealm({
      StartAt: 'Each',
      States: {
        Each: {
          Type: 'Map',
          ItemsPath: '$.timestamps',
          ItemProcessor: {
            StartAt: 'Minutes',
            States: {
              Minutes: { Type: 'Pass', Parameters: { 'm.$': minutesOf('$') }, OutputPath: '$.m', End: true },
            },
          },
          End: true,
        },
      },
    }),
  );
  const { result } = machine.run(toLibraryRealm({ timestamps }));
  return (await result) as number[];
}

test('minutes since 2000-01-01 for timestamps across months, leap days, years and centuries', async () => {
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
    `${LAST_YEAR}-12-31T23:59:00.000Z`,
  ];
  // Every day of two years (one of them leap) at a time with single-digit fields.
  for (let t = Date.UTC(2027, 0, 1, 9, 5); t < Date.UTC(2029, 0, 1); t += 86_400_000) {
    samples.push(new Date(t).toISOString());
  }
  expect(await evaluate(samples)).toEqual(samples.map(expected));
  expect(FIRST_YEAR).toBe(2000);
});
