// The state machine definitions of a packaged template, parsed, with their `${var}` placeholders
// resolved: serverless-step-functions moves every `Fn::Sub` inside a definition (e.g. a Task's
// `arn:${AWS::Partition}:states:::...`) into the DefinitionString's variable map; here they read
// as in the partition `aws`.
import type { CfnTemplate } from '../../twin/src/package';
import { resourcesOfType } from '../../twin/src/package';

type Json = Record<string, unknown>;

export function definitions(template: CfnTemplate): Array<[string, Json]> {
  return resourcesOfType(template, 'AWS::StepFunctions::StateMachine').map(([id, sm]) => {
    const ds = (sm.Properties as Json).DefinitionString as string | { 'Fn::Sub': string | [string, Json] };
    const [body, vars = {}] =
      typeof ds === 'string' ? [ds] : Array.isArray(ds['Fn::Sub']) ? ds['Fn::Sub'] : [ds['Fn::Sub']];
    const text = (body as string).replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
      const sub = ((vars as Json)[name] as { 'Fn::Sub'?: unknown } | undefined)?.['Fn::Sub'];
      if (name === 'AWS::Partition') return 'aws';
      return typeof sub === 'string' ? sub.replace(`\${AWS::Partition}`, 'aws') : whole;
    });
    return [id, JSON.parse(text) as Json];
  });
}
