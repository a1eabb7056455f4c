// The twin packages a variant (another stage or parameters) with the Lambda zips of the base
// package instead of bundling them again (twin/src/package.ts, PackageOptions.bundles). These tests
// hold it to the promise that this gives what `sls package` gives: the same template and zips.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { packageService, ROOT, withBundles } from '../../twin/src/package';
import { EVERYTHING } from '../helpers/variants';

type Json = unknown;

/** Key order and the artifact folder's timestamp are the only things two packagings may differ in. */
function normalised(dir: string): Json {
  const text = readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8').replace(
    /(serverless\/[^/"]+\/[^/"]+\/)\d+-[0-9T:.Z-]+\//g,
    '$1<timestamp>/',
  );
  const sort = (v: Json): Json =>
    Array.isArray(v)
      ? v.map(sort)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sort((v as Record<string, Json>)[k])]),
          )
        : v;
  return sort(JSON.parse(text));
}

const zipsOf = (dir: string) =>
  Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.zip'))
      .sort()
      .map((f) => [f, readFileSync(join(dir, f)).toString('base64')]),
  );

test('a variant packaged with the base bundles has the template and zips of one bundled again', async () => {
  const reused = await packageService('destination', 'dev', EVERYTHING);
  const built = await packageService('destination', 'dev', EVERYTHING, { bundles: 'build' });
  expect(built.dir).not.toBe(reused.dir);
  // what each packaging ran with (the base package's zips were given to the first)
  const state = (dir: string) =>
    JSON.parse(readFileSync(join(dir, 'serverless-state.json'), 'utf8')).service as {
      plugins: string[];
      functions: Record<string, { package?: { artifact?: string } }>;
    };
  expect(state(reused.dir).plugins).not.toContain('serverless-esbuild');
  expect(state(reused.dir).functions.trigger!.package!.artifact).toBe(
    join(ROOT, 'dist', 'destination-dev', 'trigger.zip'),
  );
  expect(state(built.dir).plugins).toContain('serverless-esbuild');

  expect(normalised(reused.dir)).toEqual(normalised(built.dir));
  const zips = zipsOf(reused.dir);
  expect(Object.keys(zips)).toEqual([
    'mergeSecret.zip',
    'nameReplica.zip',
    'selectRetention.zip',
    'trigger.zip',
  ]);
  expect(zips).toEqual(zipsOf(built.dir));
});

test('the serverless file it packages from differs only by the plugin left out and the artifacts', () => {
  const file = readFileSync(join(ROOT, 'serverless.destination.yml'), 'utf8');
  const zips = new Map([
    ['trigger', '/base/trigger.zip'],
    ['mergeSecret', '/base/mergeSecret.zip'],
  ]);
  const read = (text: string) =>
    parse(text, { logLevel: 'error' }) as {
      plugins: string[];
      functions: Record<string, { package?: unknown }>;
    };
  const original = read(file);
  const rewritten = read(withBundles(file, zips));

  expect(original.plugins).toContain('serverless-esbuild');
  expect(rewritten.plugins).toEqual(original.plugins.filter((p) => p !== 'serverless-esbuild'));
  for (const [name, zip] of zips) {
    expect(rewritten.functions[name]!.package).toEqual({ artifact: zip });
    original.functions[name]!.package = { artifact: zip };
  }
  rewritten.plugins = original.plugins;
  expect(rewritten).toEqual(original);
});
