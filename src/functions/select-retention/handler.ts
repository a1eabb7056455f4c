/**
 * README: selectRetention (destination service). Lists the replicas this deployment manages for one
 * database (DescribeDBInstances, all pages; only instances tagged managed-by = DEPLOYMENT_ID,
 * kind = replica, source-db = database) and either
 * decides retention (contracts/retention.ts): keep `keep` in total, the live one, then the one
 * that was live before it, then the newest others; delete the rest (`replicate`, after the
 * secret points at the new replica).
 *
 * Event:  { database, keep, live, previous? }    keep: integer 1-100; live, previous: identifier or null
 * Result: { keep: string[], delete: { id, deletionProtection }[] }
 * Cluster mode ({..., kind: 'cluster'}): the same for an Aurora DB cluster's replicas, which are DB
 *         clusters (DescribeDBClusters, all pages, same tags); each deletion also lists the cluster's
 *         `members` (its instances, deleted before the cluster).
 * Errors: InvalidInput, InvalidConfiguration; SDK errors pass through for Retry.
 * Environment:
 *   DEPLOYMENT_ID  this deployment's id, the value of tag rds-replicator:managed-by
 *   LOG_LEVEL      DEBUG | INFO (default) | WARN | ERROR
 */
import {
  type DBCluster,
  type DBInstance,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import type { Context } from 'aws-lambda';
import { newestFirst, type RetentionDecision, selectRetention } from '../../contracts/retention';
import { isManagedReplica, TAG_KEYS, tagValue } from '../../contracts/tags';
import { parseDateTime } from '../../contracts/time';
import { InvalidInput, show } from '../../lib/errors';
import * as v from '../../lib/input';
import { logger } from '../../lib/logger';

const rds = new RDSClient({});

export const MAX_KEEP = 100;

export interface ManagedReplica {
  id: string;
  status: string;
  /** RFC 3339 snapshot time from the replica's tag (instance creation time if the tag is unreadable). */
  snapshotTime: string;
  endpoint: { address: string; port: number } | null;
  deletionProtection: boolean;
}

export interface SelectRetentionInput {
  database: string;
  keep: number;
  live: string | null;
  previous: string | null;
  kind: 'instance' | 'cluster';
}

const WHAT = 'selectRetention';

export function parseInput(event: unknown): SelectRetentionInput {
  const input = v.object(event, WHAT);
  const database = v.dbInstanceIdentifier(input, 'database', WHAT);
  const live = v.optionalDbInstanceIdentifier(input, 'live', WHAT);
  const previous = v.optionalDbInstanceIdentifier(input, 'previous', WHAT);
  const kind = input.kind === undefined || input.kind === null ? 'instance' : input.kind;
  if (kind !== 'instance' && kind !== 'cluster') {
    throw new InvalidInput(`${WHAT} input field 'kind' must be 'instance' or 'cluster', got ${show(kind)}`);
  }
  return { database, keep: v.integer(input, 'keep', WHAT, 1, MAX_KEEP), live, previous, kind };
}

/** Pure: when a replica's data is from: its snapshot-time tag, else its creation time, else ''. */
function dataTime(tags: DBInstance['TagList'], created: Date | undefined): string {
  const tagged = tagValue(tags, TAG_KEYS.snapshotTime);
  if (tagged !== undefined && parseDateTime(tagged) !== undefined) return tagged;
  return created instanceof Date && !Number.isNaN(created.getTime()) ? created.toISOString() : '';
}

/** Pure: a described instance -> a managed replica, or undefined when it is not ours. */
export function toManagedReplica(
  instance: DBInstance,
  deploymentId: string,
  database: string,
): ManagedReplica | undefined {
  if (!instance.DBInstanceIdentifier || !isManagedReplica(instance.TagList, deploymentId, database))
    return undefined;
  const snapshotTime = dataTime(instance.TagList, instance.InstanceCreateTime);
  const address = instance.Endpoint?.Address;
  const port = instance.Endpoint?.Port;
  return {
    id: instance.DBInstanceIdentifier,
    status: instance.DBInstanceStatus ?? 'unknown',
    snapshotTime,
    endpoint: address && typeof port === 'number' ? { address, port } : null,
    deletionProtection: instance.DeletionProtection === true,
  };
}

/** Every managed replica of `database`, newest first (follows Marker through all pages). */
export async function listManagedReplicas(deploymentId: string, database: string): Promise<ManagedReplica[]> {
  const replicas: ManagedReplica[] = [];
  let marker: string | undefined;
  do {
    const page = await rds.send(new DescribeDBInstancesCommand({ MaxRecords: 100, Marker: marker }));
    for (const instance of page.DBInstances ?? []) {
      const replica = toManagedReplica(instance, deploymentId, database);
      if (replica) replicas.push(replica);
    }
    marker = page.Marker || undefined;
  } while (marker);
  return newestFirst(replicas);
}

/** Pure: a described DB cluster -> a managed replica (with its members), or undefined when it is not ours. */
export function toManagedClusterReplica(
  cluster: DBCluster,
  deploymentId: string,
  database: string,
): (ManagedReplica & { members: string[] }) | undefined {
  if (!cluster.DBClusterIdentifier || !isManagedReplica(cluster.TagList, deploymentId, database))
    return undefined;
  const snapshotTime = dataTime(cluster.TagList, cluster.ClusterCreateTime);
  return {
    id: cluster.DBClusterIdentifier,
    status: cluster.Status ?? 'unknown',
    snapshotTime,
    endpoint:
      cluster.Endpoint && typeof cluster.Port === 'number'
        ? { address: cluster.Endpoint, port: cluster.Port }
        : null,
    deletionProtection: cluster.DeletionProtection === true,
    members: (cluster.DBClusterMembers ?? []).flatMap((m) =>
      m.DBInstanceIdentifier ? [m.DBInstanceIdentifier] : [],
    ),
  };
}

export async function listManagedClusterReplicas(
  deploymentId: string,
  database: string,
): Promise<(ManagedReplica & { members: string[] })[]> {
  const replicas: (ManagedReplica & { members: string[] })[] = [];
  let marker: string | undefined;
  do {
    const page = await rds.send(new DescribeDBClustersCommand({ MaxRecords: 100, Marker: marker }));
    for (const cluster of page.DBClusters ?? []) {
      const replica = toManagedClusterReplica(cluster, deploymentId, database);
      if (replica) replicas.push(replica);
    }
    marker = page.Marker || undefined;
  } while (marker);
  return newestFirst(replicas);
}

export const handler = async (event: unknown, context?: Context): Promise<RetentionDecision> => {
  const log = logger.child({ requestId: context?.awsRequestId });
  const input = parseInput(event);
  const deploymentId = v.env('DEPLOYMENT_ID');
  if (input.kind === 'cluster') {
    const clusters = await listManagedClusterReplicas(deploymentId, input.database);
    const chosen = selectRetention(clusters, input.keep, input.live, input.previous);
    const members = new Map(clusters.map((c) => [c.id, c.members]));
    const decision = {
      keep: chosen.keep,
      delete: chosen.delete.map((d) => ({ ...d, members: members.get(d.id) ?? [] })),
    };
    log.info('selected cluster retention', { database: input.database, live: input.live, ...decision });
    return decision;
  }
  const replicas = await listManagedReplicas(deploymentId, input.database);

  const decision = selectRetention(replicas, input.keep, input.live, input.previous);
  log.info('selected retention', {
    database: input.database,
    live: input.live,
    previous: input.previous,
    ...decision,
  });
  return decision;
};
