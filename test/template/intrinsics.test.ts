// Step Functions accepts at most 10 intrinsic functions in one field (developer guide, "Intrinsic
// functions for JSONPath states"); the offline interpreter has no such limit, so it is checked here
// on every packaged definition.
import { packageService, resourcesOfType, type Side } from '../../twin/src/package';

const MAX_FUNCTIONS_PER_FIELD = 10;

/** [path, value] of every string in a JSON value. */
function strings(value: unknown, path = ''): Array<[string, string]> {
  if (typeof value === 'string') return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => strings(v, path ? `${path}.${k}` : k));
  }
  return [];
}

test.each(['source', 'destination'] as Side[])(
  '%s: no field holds more than 10 intrinsic functions',
  async (side) => {
    const { template } = await packageService(side, 'dev');
    const over: string[] = [];
    for (const [id, sm] of resourcesOfType(template, 'AWS::StepFunctions::StateMachine')) {
      const d = sm.Properties?.DefinitionString as string | { 'Fn::Sub': [string, unknown] | string };
      const text = typeof d === 'string' ? d : Array.isArray(d['Fn::Sub']) ? d['Fn::Sub'][0] : d['Fn::Sub'];
      for (const [path, value] of strings(JSON.parse(text))) {
        const count = (value.match(/States\.[A-Za-z0-9]+\(/g) ?? []).length;
        if (count > MAX_FUNCTIONS_PER_FIELD) over.push(`${id} ${path}: ${count}`);
      }
    }
    expect(over).toEqual([]);
  },
);
