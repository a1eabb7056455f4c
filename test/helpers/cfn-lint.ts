// cfn-lint (1.x, preinstalled on the machine image and on CI) on one packaged template, for the
// template tests: its exit status (0: no finding; otherwise 2 errors, 4 warnings, 8 informational,
// or-ed together) and its output lines (each finding: rule, message, then `file:line:column`).
import { spawnSync } from 'node:child_process';

export interface LintResult {
  status: number | null;
  lines: string[];
}

let available: boolean | undefined;

/** Whether cfn-lint runs here (asked once per test file: starting it costs a second). */
export function cfnLintAvailable(): boolean {
  available ??= spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' }).status === 0;
  return available;
}

/** `extra`: further options, e.g. `['--include-checks', 'I']` for the informational rules. */
export function cfnLint(template: string, region = 'eu-west-1', extra: string[] = []): LintResult {
  const r = spawnSync('cfn-lint', [...extra, '--regions', region, '--', template], { encoding: 'utf8' });
  if (r.error) throw r.error;
  const lines = `${r.stdout ?? ''}${r.stderr ?? ''}`
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '');
  return { status: r.status, lines };
}
