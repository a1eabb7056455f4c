// Names of the DB cluster snapshots this product creates (source: intermediate snapshot and shared
// copy; destination: the copy it restores from). A DB cluster snapshot identifier has at most 63
// characters (RDS API reference, CreateDBClusterSnapshot / CopyDBClusterSnapshot), far less than a DB
// snapshot's 255, so the deployment id and the database name cannot both be in it. Instead every
// name starts with this deployment's prefix: its marker (`rr` and 6 hex characters of
// sha256(deployment id), the marker of src/contracts/names.ts, test/unit/names.test.ts checks they
// agree) and `-cs` (11 characters), which the IAM policies confine writes to; the rest is per run and
// database.
//
//   source       <prefix>-i-<md5(runToken/database)>   <prefix>-s-<md5(runToken/database)>   (46)
//   destination  <prefix>-c-<UUID>                                                          (50)
//
// Plain CommonJS: the configuration code (config/*-params.js) reads it at package time.

const { createHash } = require('node:crypto');

const MAX_CLUSTER_SNAPSHOT_IDENTIFIER_LENGTH = 63;

/** `rds-replica-source-prod` -> `rr1a2b3c-cs`. */
function clusterSnapshotPrefix(deploymentId) {
  return `rr${createHash('sha256').update(deploymentId).digest('hex').slice(0, 6)}-cs`;
}

module.exports = { clusterSnapshotPrefix, MAX_CLUSTER_SNAPSHOT_IDENTIFIER_LENGTH };
