// The parameter validation of a service, run in this process as `sls package` runs it: the same
// config module, given what Serverless would resolve (`--param` first, then `params.<stage>`, then
// `params.default` of the serverless file). Tests of malformed parameters use it instead of a
// packaging each (about 3 s apiece); one test per service still packages with a bad value and sees
// `sls package` fail with the same message (test/template/source.test.ts, destination.test.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT, type Side } from '../../twin/src/package';

type Values = Record<string, unknown>;

/** The `params:` block of serverless.<side>.yml (the rest of the file has CloudFormation tags). */
function stageParams(side: Side): Record<string, Values> {
  const text = readFileSync(join(ROOT, `serverless.${side}.yml`), 'utf8');
  const block = /^params:\n((?:[ #].*\n|\n)*)/m.exec(text);
  if (!block) throw new Error(`serverless.${side}.yml has no params: block`);
  return (parse(`params:\n${block[1]}`) as { params: Record<string, Values> }).params;
}

function resolver(side: Side, stage: string, given: Record<string, string>) {
  const params = stageParams(side);
  const service = `rds-replica-${side}`;
  return async (address: string): Promise<unknown> => {
    if (address === 'self:service') return service;
    if (address === 'sls:stage') return stage;
    const m = /^param:([A-Za-z0-9]+)(?:, (.*))?$/.exec(address);
    if (!m) throw new Error(`parameters.ts: cannot resolve \${${address}}`);
    const name = m[1]!;
    for (const values of [given, params[stage] ?? {}, params.default ?? {}]) {
      if (name in values) return values[name];
    }
    if (m[2] !== undefined) return m[2] === 'null' ? null : Number.isNaN(Number(m[2])) ? m[2] : Number(m[2]);
    throw Object.assign(new Error(`Value not found at "param" source for "${name}"`), {
      code: 'VARIABLE_NOT_FOUND',
    });
  };
}

/** The message that packaging `side` for `stage` with `params` fails with; throws if it would not fail. */
export async function parameterError(
  side: Side,
  stage: string,
  params: Record<string, string>,
): Promise<string> {
  const resolveVariable = resolver(side, stage, params);
  try {
    if (side === 'source') {
      await require('../../config/source-params.js').resolve({ resolveVariable });
    } else {
      await require('../../config/destination-params.js').read({ resolveVariable });
    }
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(
    `the ${side} parameters ${JSON.stringify(params)} (stage ${stage}) are valid, but should not be`,
  );
}
