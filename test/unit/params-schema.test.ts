// The parameters of both services are data (config/*-params.schema.json): the schemas are valid JSON
// Schema that ajv compiles in strict mode, their defaults and examples pass their own rules, and
// the README tables and the serverless files' params.default generated from them are up to date
// (scripts/params-table.ts --write).
import { SCHEMAS, stale } from '../../scripts/params-table';
import { DEFAULT_NAME_TEMPLATE } from '../../src/contracts/names';

// config/ is plain CommonJS run by Serverless at package time.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { validate } = require('../../config/params-schema.js') as {
  validate: (
    service: string,
    raw: Record<string, unknown>,
  ) => { values: Record<string, unknown>; problems: Array<{ name: string; kind: string }> };
};

const services = ['source', 'destination'] as const;

test('the generated parameter blocks are up to date (run npx tsx scripts/params-table.ts --write)', () => {
  expect(stale()).toEqual([]);
});

describe.each(services)('the %s parameter schema', (service) => {
  const properties = Object.entries(SCHEMAS[service].properties) as unknown as Array<
    [string, Record<string, unknown>]
  >;

  test('every parameter has a type, a one-line description and an example', () => {
    for (const [name, rule] of properties) {
      expect([name, typeof rule.type]).toEqual([name, 'string']);
      expect([name, rule.description]).toEqual([name, expect.stringMatching(/^[^\n]{10,}$/)]);
      expect([name, (rule.examples as unknown[] | undefined)?.length]).toEqual([name, 1]);
    }
  });

  test('its examples pass its own rules', () => {
    const raw = Object.fromEntries(
      properties.map(([name, rule]) => [name, String((rule.examples as unknown[])[0])]),
    );
    expect(validate(service, raw).problems).toEqual([]);
  });

  test('an absent optional parameter takes its default; an absent required one is a problem', () => {
    const { values, problems } = validate(service, {});
    for (const [name, rule] of properties) {
      if ('default' in rule) expect([name, values[name]]).toEqual([name, rule.default]);
    }
    expect(problems.filter((p) => p.kind === 'missing').map((p) => p.name)).toEqual(
      SCHEMAS[service].required,
    );
  });
});

test('both services give maxWaitMinutes the same rule (statemachines/fragments/polling.js reads it)', () => {
  expect(SCHEMAS.destination.properties.maxWaitMinutes).toEqual(SCHEMAS.source.properties.maxWaitMinutes);
});

test('the default name template is the one src/contracts/names.ts applies to an empty value', () => {
  expect(SCHEMAS.destination.properties.instanceNamePrefix!.default).toBe(DEFAULT_NAME_TEMPLATE);
});
