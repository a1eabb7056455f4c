// `npm test`'s packaging step: both services for one stage, at the same time (each in its own copy
// of the service, twin/src/package.ts), into dist/<side>-<stage>, printing what `sls package` said.
// Fails with sls's output when either does not package (a parameter or a definition that does not
// validate).
import { relative } from 'node:path';
import { packageService, ROOT, resourcesOfType, type Side } from '../twin/src/package';

async function main() {
  const stage = process.argv[2] ?? 'dev';
  const sides: Side[] = ['source', 'destination'];
  const results = await Promise.allSettled(sides.map((side) => packageService(side, stage)));
  let failed = false;
  for (const [i, r] of results.entries()) {
    const side = sides[i]!;
    console.log(`--- serverless.${side}.yml -> dist/${side}-${stage}`);
    if (r.status === 'rejected') {
      failed = true;
      console.error((r.reason as Error).message);
      continue;
    }
    const { dir, template, output } = r.value;
    console.log(output?.trim() ?? `(packaged before, newer than every input: ${relative(ROOT, dir)})`);
    const machines = resourcesOfType(template, 'AWS::StepFunctions::StateMachine').length;
    console.log(`${Object.keys(template.Resources).length} resources, ${machines} state machines`);
  }
  if (failed) process.exit(1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
