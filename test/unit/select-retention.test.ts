import { type DBInstance, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import contract from '../../src/contracts/contract.json';
import { handler, toManagedReplica } from '../../src/functions/select-retention/handler';
import { captureLogs } from './capture-logs';

const rds = mockClient(RDSClient);
captureLogs();

const DEPLOYMENT = 'rds-replica-destination-prod';
const K = contract.tagKeys;

function replica(
  id: string,
  snapshotTime: string | undefined,
  over: Partial<DBInstance> = {},
  tagOver: Record<string, string> = {},
): DBInstance {
  const tags: Record<string, string> = {
    [K.managedBy]: DEPLOYMENT,
    [K.kind]: contract.kinds.replica,
    [K.sourceDatabase]: 'orders-db',
    ...(snapshotTime ? { [K.snapshotTime]: snapshotTime } : {}),
    ...tagOver,
  };
  return {
    DBInstanceIdentifier: id,
    DBInstanceStatus: 'available',
    DeletionProtection: false,
    Endpoint: { Address: `${id}.x.eu-west-1.rds.amazonaws.com`, Port: 5432 },
    InstanceCreateTime: new Date('2026-01-01T00:00:00Z'),
    TagList: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    ...over,
  };
}

const a = replica('orders-db-20261101t000000', '2026-11-01T00:00:00Z');
const b = replica('orders-db-20261102t000000', '2026-11-02T00:00:00Z', { DeletionProtection: true });
const c = replica('orders-db-20261103t000000', '2026-11-03T00:00:00Z');
const d = replica('orders-db-20261104t000000', '2026-11-04T00:00:00Z');
const gone = replica('orders-db-20261105t000000', '2026-11-05T00:00:00Z', { DBInstanceStatus: 'deleting' });
// look-alikes that must never be touched
const foreign = [
  replica(
    'orders-db-20261106t000000',
    '2026-11-06T00:00:00Z',
    {},
    { [K.managedBy]: 'rds-replica-destination-dev' },
  ),
  replica('billing-db-20261106t000000', '2026-11-06T00:00:00Z', {}, { [K.sourceDatabase]: 'billing-db' }),
  replica('orders-db-copy', '2026-11-06T00:00:00Z', {}, { [K.kind]: contract.kinds.snapshotCopy }),
  { DBInstanceIdentifier: 'orders-db', DBInstanceStatus: 'available', TagList: [] } as DBInstance,
  { DBInstanceIdentifier: 'orders-db-20261107t000000', DBInstanceStatus: 'available' } as DBInstance,
];

/** Three pages, managed replicas spread over them. */
function pages() {
  rds.on(DescribeDBInstancesCommand).callsFake((input: { Marker?: string }) => {
    switch (input.Marker) {
      case undefined:
        return { DBInstances: [foreign[0], a, foreign[1]], Marker: 'p2' };
      case 'p2':
        return { DBInstances: [d, foreign[2], gone, foreign[3]], Marker: 'p3' };
      case 'p3':
        return { DBInstances: [b, foreign[4], c] };
      default:
        throw new Error(`unexpected marker ${input.Marker}`);
    }
  });
}

beforeEach(() => {
  rds.reset();
  process.env.DEPLOYMENT_ID = DEPLOYMENT;
  pages();
});

describe('selectRetention', () => {
  it('reads every page and keeps the newest N of this deployment and database, live included', async () => {
    const result = await handler({ database: 'orders-db', keep: 2, live: d.DBInstanceIdentifier });
    expect(result).toEqual({
      keep: ['orders-db-20261104t000000', 'orders-db-20261103t000000'],
      delete: [
        { id: 'orders-db-20261101t000000', deletionProtection: false },
        { id: 'orders-db-20261102t000000', deletionProtection: true },
      ],
    });
    expect(rds).toHaveReceivedCommandTimes(DescribeDBInstancesCommand, 3);
    expect(rds.commandCalls(DescribeDBInstancesCommand).map((call) => call.args[0].input.Marker)).toEqual([
      undefined,
      'p2',
      'p3',
    ]);
  });

  it('keeps a rolled-back live replica that is older than the rest', async () => {
    const result = await handler({ database: 'orders-db', keep: 2, live: a.DBInstanceIdentifier });
    expect(result).toEqual({
      keep: ['orders-db-20261104t000000', 'orders-db-20261101t000000'],
      delete: [
        { id: 'orders-db-20261102t000000', deletionProtection: true },
        { id: 'orders-db-20261103t000000', deletionProtection: false },
      ],
    });
  });

  it('never selects anything it does not manage', async () => {
    const result = await handler({ database: 'orders-db', keep: 1, live: null });
    const touched = [...result.keep, ...result.delete.map((x) => x.id)];
    expect(touched.sort()).toEqual([a, b, c, d].map((i) => i.DBInstanceIdentifier).sort());
  });

  it('falls back to the instance creation time when the snapshot-time tag is missing or unreadable', () => {
    const noTag = toManagedReplica(replica('orders-db-x', undefined), DEPLOYMENT, 'orders-db');
    expect(noTag).toEqual({
      id: 'orders-db-x',
      status: 'available',
      snapshotTime: '2026-01-01T00:00:00.000Z',
      endpoint: { address: 'orders-db-x.x.eu-west-1.rds.amazonaws.com', port: 5432 },
      deletionProtection: false,
    });
    const bad = toManagedReplica(
      replica('orders-db-y', 'yesterday', { InstanceCreateTime: new Date('2026-03-04T05:06:07.890Z') }),
      DEPLOYMENT,
      'orders-db',
    );
    expect(bad?.snapshotTime).toBe('2026-03-04T05:06:07.890Z');
    const creating = toManagedReplica(
      replica('orders-db-z', undefined, {
        InstanceCreateTime: undefined,
        Endpoint: undefined,
        DBInstanceStatus: 'creating',
      }),
      DEPLOYMENT,
      'orders-db',
    );
    expect(creating).toEqual({
      id: 'orders-db-z',
      status: 'creating',
      snapshotTime: '',
      endpoint: null,
      deletionProtection: false,
    });
    // The database is matched as RDS identifiers are (case-insensitively); the id is the instance's own.
    expect(toManagedReplica(replica('orders-db-w', undefined), DEPLOYMENT, 'ORDERS-DB')).toEqual({
      id: 'orders-db-w',
      status: 'available',
      snapshotTime: '2026-01-01T00:00:00.000Z',
      endpoint: { address: 'orders-db-w.x.eu-west-1.rds.amazonaws.com', port: 5432 },
      deletionProtection: false,
    });
  });

  it.each([
    [{ database: 'orders-db', keep: 0, live: null }, /'keep' must be an integer from 1 to 100/],
    [{ database: 'orders-db', live: null }, /'keep'/],
    [{ database: 'orders-db', keep: 2, live: 'bad--id' }, /'live'/],
    [{ database: 'orders-db', keep: 2, live: null, previous: 'bad--id' }, /'previous'/],
    [{ keep: 2 }, /'database'/],
  ])('rejects bad input %# with InvalidInput before listing anything', async (input, message) => {
    await expect(handler(input)).rejects.toThrow(
      expect.objectContaining({ name: 'InvalidInput', message: expect.stringMatching(message) }),
    );
    expect(rds).not.toHaveReceivedCommand(DescribeDBInstancesCommand);
  });

  it('accepts keep as a numeric string from stage parameters', async () => {
    const result = await handler({ database: 'orders-db', keep: '3', live: d.DBInstanceIdentifier });
    expect('keep' in result && result.keep).toHaveLength(3);
  });

  it('requires DEPLOYMENT_ID', async () => {
    delete process.env.DEPLOYMENT_ID;
    await expect(handler({ database: 'orders-db', keep: 2, live: null })).rejects.toThrow(/DEPLOYMENT_ID/);
  });
});
