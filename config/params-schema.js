// The parameters of each service, as data: config/source-params.schema.json and
// config/destination-params.schema.json say, per parameter, its type, pattern or range, default,
// whether it is required, an example and its meaning. This module reads a service's raw `param:`
// values, converts them to the schema's types, validates them with ajv and turns each failure into
// the parts of an error message (what was received, what is expected, an example). The README's
// parameter tables and the `params.default` blocks of the serverless files are generated from the
// same schemas (scripts/params-table.ts).
//
// Runs at package time only (config/ is never bundled into a Lambda, so ajv stays out of them).
//
// Keywords of our own (JSON Schema allows them; ajv is told they are annotations):
//   x-expected   what a valid value is, for error messages (default: derived from type and range)
//   x-item       the noun for one entry of a list ("database"): "has 51 databases", "each database once"
//   x-normalise  "lower-case" or "upper-case": applied before validation (RDS stores identifiers in
//                lower case; log levels are compared in upper case)
//   x-readme-default  the README's "default" column when a rule across parameters decides it

const Ajv2020 = require('ajv/dist/2020').default;
const messageSchema = require('../src/contracts/replication-message.schema.json');

const SCHEMAS = {
  source: require('./source-params.schema.json'),
  destination: require('./destination-params.schema.json'),
};

let ajv;
const validators = {};
function validator(service) {
  if (!ajv) {
    ajv = new Ajv2020({ allErrors: true, strict: true });
    ajv.addVocabulary(['x-expected', 'x-item', 'x-normalise', 'x-readme-default']);
    // The message schema gives the DB identifier rule ($ref); no message is validated here, so its
    // date-time format is only declared.
    ajv.addFormat('date-time', true);
    ajv.addSchema(messageSchema);
  }
  validators[service] ??= ajv.compile(SCHEMAS[service]);
  return validators[service];
}

function normalise(rule, text) {
  if (rule['x-normalise'] === 'lower-case') return text.toLowerCase();
  if (rule['x-normalise'] === 'upper-case') return text.toUpperCase();
  return text;
}

/**
 * A raw value (a string from --param, or what YAML made of it) as the schema's type, or undefined when
 * it is absent or empty. A value that cannot be converted is returned as it is, for ajv to refuse.
 */
function convert(rule, raw) {
  if (raw === undefined || raw === null) return undefined;
  if (rule.type === 'array') {
    const entries = (Array.isArray(raw) ? raw : String(raw).split(','))
      .map((v) => normalise(rule.items, String(v).trim()))
      .filter((v) => v !== '');
    return entries.length > 0 ? entries : undefined;
  }
  if (typeof raw !== 'string' && rule.type !== 'string') return raw;
  const text = normalise(rule, String(raw).trim());
  if (text === '') return undefined;
  if (rule.type === 'boolean') {
    const lower = text.toLowerCase();
    return lower === 'true' ? true : lower === 'false' ? false : text;
  }
  if (rule.type === 'integer') return /^-?[0-9]+$/.test(text) ? Number(text) : text;
  if (rule.type === 'number') return /^-?[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : text;
  return text;
}

/** What a valid value of `rule` is, in words. */
function expected(rule) {
  if (rule['x-expected']) return rule['x-expected'];
  if (rule.type === 'boolean') return 'true or false';
  if (rule.type === 'integer') return `a whole number from ${rule.minimum} to ${rule.maximum}`;
  if (rule.enum) return `one of ${rule.enum.join(', ')}`;
  throw new Error(`the parameter schema gives no x-expected for ${JSON.stringify(rule)}`);
}

/**
 * Validates every parameter of `service`. `raw` maps each name to what Serverless resolved (absent:
 * undefined). Returns the converted values, an absent optional parameter with its schema default,
 * and one problem per parameter that fails, in the schema's order:
 * (or per entry of a list):
 *   {name, raw, kind: 'value' | 'entry' | 'count' | 'repeated' | 'missing', entry, count, item, expected, example}
 */
function validate(service, raw) {
  const schema = SCHEMAS[service];
  const values = {};
  for (const [name, rule] of Object.entries(schema.properties)) {
    const value = convert(rule, raw[name]);
    if (value !== undefined) values[name] = value;
  }
  const validate = validator(service);
  validate(values);
  const problems = new Map();
  for (const error of validate.errors ?? []) {
    const [, name, index] = error.instancePath.split('/');
    const missing = error.keyword === 'required';
    const key = missing ? error.params.missingProperty : name;
    // One problem per parameter, or per entry of a list: the first one ajv found.
    if (problems.has(error.instancePath || key)) continue;
    const rule = schema.properties[key];
    const example = String(rule.examples[0]);
    const problem = {
      name: key,
      raw: raw[key],
      example,
      expected: expected(rule),
      item: rule['x-item'] ?? 'entry',
    };
    if (missing) problem.kind = 'missing';
    else if (index !== undefined) {
      problem.kind = 'entry';
      problem.entry = values[key][Number(index)];
      problem.expected = expected({
        ...rule.items,
        'x-expected': rule.items['x-expected'] ?? rule['x-expected'],
      });
    } else if (error.keyword === 'maxItems' || error.keyword === 'minItems') {
      problem.kind = 'count';
      problem.count = values[key].length;
    } else if (error.keyword === 'uniqueItems') {
      problem.kind = 'repeated';
      problem.expected = `each ${rule['x-item'] ?? 'entry'} once`;
    } else problem.kind = 'value';
    problems.set(error.instancePath || key, problem);
  }
  // An absent parameter takes its schema default (after validation: an empty default such as '' means
  // "not set" and need not match the pattern of a set value).
  for (const [name, rule] of Object.entries(schema.properties)) {
    if (!(name in values) && rule.default !== undefined) values[name] = rule.default;
  }
  const order = Object.keys(schema.properties);
  return {
    values,
    problems: [...problems.values()].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name)),
  };
}

module.exports = { SCHEMAS, validate, expected };
