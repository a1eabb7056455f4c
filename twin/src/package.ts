// Packages a service with `sls package` (offline, no credentials) and reads back what it produced.
// Tests, the twin, the demo and the benchmark all go through here, so they use exactly the
// CloudFormation templates and Lambda zips that `sls deploy` would upload.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseDocument } from 'yaml';

export type Side = 'source' | 'destination';

export interface PackagedService {
  side: Side;
  stage: string;
  dir: string;
  template: CfnTemplate;
  /** What `sls package` printed, when this call packaged (not when it reused a package). */
  output?: string;
}

export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; [k: string]: unknown }>;
  Outputs?: Record<string, unknown>;
  [k: string]: unknown;
}

export const ROOT = resolve(__dirname, '..', '..');
const run = promisify(execFile);
const inFlight = new Map<string, Promise<PackagedService>>();

/** Inputs whose change makes a cached package stale. */
function newestInput(): number {
  const files = [
    'serverless.source.yml',
    'serverless.destination.yml',
    'statemachines',
    'config',
    'src',
    'plugins/status/index.js',
    'package-lock.json',
  ];
  let newest = 0;
  const walk = (p: string) => {
    if (!existsSync(p)) return;
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const f of readdirSync(p)) walk(join(p, f));
    } else newest = Math.max(newest, st.mtimeMs);
  };
  for (const f of files) walk(join(ROOT, f));
  return newest;
}

export interface PackageOptions {
  /**
   * How the Lambda zips of a variant (any stage or parameters but the base `dev` package) are made.
   * `reuse` (default): the base package's zips, which do not depend on stage or parameters (the
   * bundles take their settings from the environment the template gives them), and `sls package`
   * runs without serverless-esbuild, each function given its zip as `package.artifact`. That is
   * half of a destination packaging's CPU. `build`: bundled again, as `sls package` does
   * (a separate folder, `-built`); test/template/packaging.test.ts checks both give the same
   * template and zips.
   */
  bundles?: 'reuse' | 'build';
}

export function packageDir(
  side: Side,
  stage: string,
  params: Record<string, string>,
  opts: PackageOptions = {},
): string {
  const keys = Object.keys(params).sort();
  const suffix = keys.length
    ? `-${createHash('sha256')
        .update(JSON.stringify(keys.map((k) => [k, params[k]])))
        .digest('hex')
        .slice(0, 10)}`
    : '';
  const built = opts.bundles === 'build' && isVariant(stage, params) ? '-built' : '';
  return join(ROOT, 'dist', `${side}-${stage}${suffix}${built}`);
}

const isVariant = (stage: string, params: Record<string, string>) =>
  stage !== 'dev' || Object.keys(params).length > 0;

/**
 * `sls package --config serverless.<side>.yml --stage <stage> --package dist/<side>-<stage>[-hash]`,
 * reusing an existing package that is newer than every input. Throws with sls's own output
 * when packaging fails (e.g. a parameter that does not validate).
 */
export function packageService(
  side: Side,
  stage = 'dev',
  params: Record<string, string> = {},
  opts: PackageOptions = {},
): Promise<PackagedService> {
  const dir = packageDir(side, stage, params, opts);
  const pending = inFlight.get(dir);
  if (pending) return pending;
  const job = (async () => {
    let output: string | undefined;
    const templatePath = join(dir, 'cloudformation-template-update-stack.json');
    const fresh = existsSync(templatePath) && statSync(templatePath).mtimeMs > newestInput();
    if (!fresh) {
      const args = ['package', '--config', `serverless.${side}.yml`, '--stage', stage, '--package', dir];
      for (const k of Object.keys(params).sort()) args.push(`--param=${k}=${params[k]}`);
      // One packaging of a variant at a time (Jest workers may ask for the same one); different
      // variants package in parallel, each in its own copy of the service (see workCopy).
      const release = await lock(`${dir}.lock`);
      let work: string | undefined;
      try {
        // another process may have packaged the same variant while this one waited
        const packagedMeanwhile = existsSync(templatePath) && statSync(templatePath).mtimeMs > newestInput();
        if (!packagedMeanwhile) {
          const bundles =
            opts.bundles !== 'build' && isVariant(stage, params) ? await baseBundles(side) : undefined;
          work = workCopy(basename(dir));
          if (bundles) useBundles(join(work, `serverless.${side}.yml`), bundles);
          rmSync(dir, { recursive: true, force: true });
          const printed = await run(join(ROOT, 'node_modules', '.bin', 'sls'), args, {
            cwd: work,
            env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
            maxBuffer: 16 * 1024 * 1024,
          });
          output = `${printed.stdout}${printed.stderr}`;
          // sls deploy would upload the artifacts from where they are; the twin reads them here
          for (const [, zip] of bundles ?? []) cpSync(zip, join(dir, basename(zip)));
        }
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string };
        throw new Error(
          `sls ${args.join(' ')} failed:\n${(e.stdout ?? '') + (e.stderr ?? '') || e.message}`.trim(),
        );
      } finally {
        if (work) rmSync(work, { recursive: true, force: true });
        release();
      }
    }
    const template = JSON.parse(readFileSync(templatePath, 'utf8')) as CfnTemplate;
    return { side, stage, dir, template, output };
  })();
  inFlight.set(dir, job);
  job.catch(() => inFlight.delete(dir));
  return job;
}

/**
 * The Lambda zips of the side's base package (`dev`, no parameters), by function name, packaging it
 * first if needed; undefined when the side has no functions bundled by serverless-esbuild.
 */
async function baseBundles(side: Side): Promise<Map<string, string> | undefined> {
  const doc = parseDocument(readFileSync(join(ROOT, `serverless.${side}.yml`), 'utf8'));
  const config = doc.toJS() as { plugins?: string[]; functions?: Record<string, unknown> };
  const plugins = config.plugins ?? [];
  const functions = Object.keys(config.functions ?? {});
  if (!plugins.includes('serverless-esbuild') || functions.length === 0) return undefined;
  const base = await packageService(side, 'dev');
  const zips = new Map(functions.map((f) => [f, join(base.dir, `${f}.zip`)]));
  for (const zip of zips.values()) {
    if (!existsSync(zip)) throw new Error(`the base package ${base.dir} has no ${basename(zip)}`);
  }
  return zips;
}

/**
 * Rewrites a work copy's serverless file to package with the given zips: serverless-esbuild is
 * left out of `plugins` and each function gets `package.artifact`. Nothing else changes (the
 * CloudFormation short-form tags are kept as written).
 */
export function withBundles(serverlessYml: string, zips: Map<string, string>): string {
  const doc = parseDocument(serverlessYml);
  const plugins = doc.get('plugins') as { items: { value?: unknown }[] };
  plugins.items = plugins.items.filter((i) => String(i.value ?? i) !== 'serverless-esbuild');
  for (const [name, zip] of zips) doc.setIn(['functions', name, 'package', 'artifact'], zip);
  return doc.toString({ lineWidth: 0 });
}

function useBundles(file: string, zips: Map<string, string>): void {
  writeFileSync(file, withBundles(readFileSync(file, 'utf8'), zips));
}

/** What `sls package` reads; a work copy has these and a link to node_modules. */
const SERVICE_INPUTS = [
  'serverless.source.yml',
  'serverless.destination.yml',
  'statemachines',
  'config',
  'src',
  'plugins',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
];

/**
 * A private copy of the service to package from. osls stages its output in the service's
 * .serverless/ folder and serverless-esbuild builds in .esbuild/, so two packagings of one folder
 * at once overwrite each other; in separate copies they run in parallel. The inputs are copied,
 * not linked, so that bundles name their sources by the same relative paths (byte-identical zips).
 */
function workCopy(name: string): string {
  const work = join(ROOT, 'dist', '.work', `${name}-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  for (const f of SERVICE_INPUTS) {
    if (existsSync(join(ROOT, f))) cpSync(join(ROOT, f), join(work, f), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'), 'dir');
  return work;
}

/** A lock between processes (Jest workers): a directory, stale after two minutes. */
async function lock(path: string): Promise<() => void> {
  mkdirSync(dirname(path), { recursive: true });
  for (let i = 0; ; i++) {
    try {
      mkdirSync(path);
      return () => rmSync(path, { recursive: true, force: true });
    } catch {
      try {
        if (Date.now() - statSync(path).mtimeMs > 120_000) rmSync(path, { recursive: true, force: true });
      } catch {}
      if (i > 2400) throw new Error(`could not take ${path} within 4 minutes`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Every resource of a given CloudFormation type, by logical id. */
export function resourcesOfType(template: CfnTemplate, type: string) {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}
