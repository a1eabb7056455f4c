// DB instance identifiers, normalised the way RDS stores them: RDS keeps an identifier in lower
// case whatever case it was created with, and matches it ignoring case. This product compares
// identifiers exactly, so every identifier is lower-cased once, here, wherever it enters: the
// source and destination configuration (config/*-params.js) and the trigger's configured list
// (src/functions/trigger). The replication message must carry the lower-case form (its schema
// says so), and the destination's state machine compares it with StringEquals, as the trigger does.
//
// Plain CommonJS so that the configuration code, which Serverless loads without TypeScript, and the
// TypeScript sources share it (db-identifier.d.ts gives the types).

const schema = require('./replication-message.schema.json');

const rule = schema.$defs.version1.properties.sourceDbInstanceIdentifier;
const PATTERN = new RegExp(rule.pattern, 'u');

/** `' Orders-DB '` -> `'orders-db'`. */
function normaliseDbInstanceIdentifier(raw) {
  return raw === undefined || raw === null ? '' : String(raw).trim().toLowerCase();
}

/** 1-63 lower-case letters, digits and single hyphens, a letter first, no trailing hyphen. */
function isDbInstanceIdentifier(id) {
  return typeof id === 'string' && id.length <= rule.maxLength && PATTERN.test(id);
}

module.exports = {
  MAX_DB_INSTANCE_IDENTIFIER_LENGTH: rule.maxLength,
  normaliseDbInstanceIdentifier,
  isDbInstanceIdentifier,
};
