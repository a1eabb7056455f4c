/**
 * The parameters of both services, generated from their schemas (config/source-params.schema.json,
 * config/destination-params.schema.json) into:
 *   - README.md, the tables "Source parameters" and "Destination parameters" (between markers);
 *   - serverless.source.yml and serverless.destination.yml, the `params.default` values (between
 *     markers): Serverless reads them itself, and a stage's `params.<stage>` and `--param` override them.
 *
 *   npx tsx scripts/params-table.ts           print what is out of date (exit 1 if anything is)
 *   npx tsx scripts/params-table.ts --write   rewrite the blocks between the markers
 *
 * test/unit/params-schema.test.ts fails when a block is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import destinationSchema from '../config/destination-params.schema.json';
import sourceSchema from '../config/source-params.schema.json';

export type Service = 'source' | 'destination';

interface Rule {
  description: string;
  type: string;
  default?: unknown;
  'x-readme-default'?: string;
}
interface Schema {
  required: string[];
  properties: Record<string, Rule>;
}

export const SCHEMAS: Record<Service, Schema> = {
  source: sourceSchema as unknown as Schema,
  destination: destinationSchema as unknown as Schema,
};

const ROOT = join(__dirname, '..');
const COMMAND = 'npx tsx scripts/params-table.ts --write';

function ymlFile(service: Service): string {
  return join(ROOT, `serverless.${service}.yml`);
}

/** The value a default is written as: `2`, `false`, `'eu-west-1'`, `''` (empty list or required). */
function yamlScalar(value: unknown): string {
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  const text = Array.isArray(value) ? value.join(',') : value === undefined ? '' : String(value);
  return `'${text.replaceAll("'", "''")}'`;
}

function shown(value: unknown): string {
  const text = Array.isArray(value) ? value.join(',') : value === undefined ? '' : String(value);
  return text === '' ? 'empty' : `\`${text}\``;
}

/** The README table of one service's parameters. */
export function readmeTable(service: Service): string {
  const schema = SCHEMAS[service];
  const dev = (parse(readFileSync(ymlFile(service), 'utf8'), { logLevel: 'silent' }).params?.dev ??
    {}) as Record<string, unknown>;
  const rows = Object.entries(schema.properties).map(([name, rule]) => {
    let def: string;
    if (rule['x-readme-default'] !== undefined || schema.required.includes(name)) {
      def = rule['x-readme-default'] ?? 'required';
      if (dev[name] !== undefined) def += ` (dev: ${shown(dev[name])})`;
    } else def = shown(rule.default);
    return `| \`${name}\` | ${def} | ${rule.description} |`;
  });
  return ['| name | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

/** The lines of `params.default` in serverless.<service>.yml. */
export function ymlDefaults(service: Service): string {
  return Object.entries(SCHEMAS[service].properties)
    .map(([name, rule]) => `    ${name}: ${yamlScalar(rule.default)}`)
    .join('\n');
}

interface Block {
  file: string;
  begin: string;
  end: string;
  body: string;
}

export function blocks(): Block[] {
  return (['source', 'destination'] as const).flatMap((service) => [
    {
      file: join(ROOT, 'README.md'),
      begin: `<!-- params-table:${service}:begin (${COMMAND}) -->`,
      end: `<!-- params-table:${service}:end -->`,
      body: readmeTable(service),
    },
    {
      file: ymlFile(service),
      begin: `    # params-defaults:begin (${COMMAND}, from config/${service}-params.schema.json)`,
      end: '    # params-defaults:end',
      body: ymlDefaults(service),
    },
  ]);
}

/** `text` with the lines between the markers of `block` replaced by its body. */
export function replaced(text: string, block: Block): string {
  const start = text.indexOf(block.begin);
  const end = text.indexOf(block.end);
  if (start < 0 || end < start) throw new Error(`${block.file} has no ${block.begin} ... ${block.end} block`);
  return `${text.slice(0, start + block.begin.length)}\n${block.body}\n${text.slice(end)}`;
}

/** The files whose generated blocks differ from what the schemas give. */
export function stale(): string[] {
  return [
    ...new Set(
      blocks().filter((b) => replaced(readFileSync(b.file, 'utf8'), b) !== readFileSync(b.file, 'utf8')),
    ),
  ].map((b) => `${b.file.slice(ROOT.length + 1)} (${b.begin.trim()})`);
}

if (require.main === module) {
  if (process.argv.includes('--write')) {
    for (const block of blocks()) {
      writeFileSync(block.file, replaced(readFileSync(block.file, 'utf8'), block));
    }
    console.error('README.md, serverless.source.yml, serverless.destination.yml: parameter blocks replaced');
  } else {
    const out = stale();
    for (const s of out) console.error(`out of date: ${s}`);
    if (out.length > 0) process.exitCode = 1;
  }
}
