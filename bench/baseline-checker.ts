// The baseline's status-check Lambda: one invocation per poll, as in the original pattern's sample.
import { DescribeDBInstancesCommand, DescribeDBSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';

const rds = new RDSClient({});

export const handler = async (event: { snapshot?: string; instance?: string }) => {
  if (event.snapshot) {
    const r = await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: event.snapshot }));
    return { status: r.DBSnapshots?.[0]?.Status };
  }
  const r = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: event.instance }));
  return { status: r.DBInstances?.[0]?.DBInstanceStatus };
};
