// Realistic starting points for tests and the demo: a PostgreSQL instance in the source account,
// a VPC with a DB subnet group and a security group in the destination account, and the
// database's secret there (the standard RDS secret JSON).
import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  CreateDBSubnetGroupCommand,
} from '@aws-sdk/client-rds';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-secrets-manager';
import { accountClient } from './aws';
import type { Twin } from './index';

export const FIXTURE_PASSWORD = 'Fixture-Pa55word-never-logged';

export interface SourceDatabase {
  id: string;
  engine?: string;
  engineVersion?: string;
  /** 'none' (unencrypted), 'aws/rds' (the account's default key), or a key ARN. */
  encryption?: 'none' | 'aws/rds' | string;
  tags?: Record<string, string>;
}

export async function createSourceDatabase(twin: Twin, db: SourceDatabase): Promise<void> {
  const { rds } = twin.aws('source');
  const encrypted = (db.encryption ?? 'none') !== 'none';
  await rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: db.id,
      Engine: db.engine ?? 'postgres',
      EngineVersion: db.engineVersion ?? '16.4',
      DBInstanceClass: 'db.t4g.medium',
      AllocatedStorage: 20,
      MasterUsername: 'app',
      MasterUserPassword: FIXTURE_PASSWORD,
      DBName: 'orders',
      StorageEncrypted: encrypted,
      KmsKeyId: encrypted && db.encryption !== 'aws/rds' ? db.encryption : undefined,
      CopyTagsToSnapshot: true,
      Tags: Object.entries({ team: 'orders', ...(db.tags ?? {}) }).map(([Key, Value]) => ({ Key, Value })),
    }),
  );
}

export interface SourceCluster {
  id: string;
  engine?: 'aurora-postgresql' | 'aurora-mysql' | 'mysql' | 'postgres';
  engineVersion?: string;
  /** Serverless v2 capacity (the writer is then db.serverless). */
  serverlessV2?: { min: number; max: number };
  /** 'none', 'aws/rds' (default) or a key ARN. */
  encryption?: 'none' | 'aws/rds' | string;
}

/** An Aurora DB cluster (or a Multi-AZ DB cluster, engine mysql/postgres) with its writer instance, in the source account. */
export async function createSourceCluster(twin: Twin, c: SourceCluster): Promise<void> {
  const { rds } = twin.aws('source');
  const engine = c.engine ?? 'aurora-postgresql';
  const encryption = c.encryption ?? 'aws/rds';
  await rds.send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: c.id,
      Engine: engine,
      EngineVersion: c.engineVersion ?? (engine.includes('mysql') ? '8.0.mysql_aurora.3.08.0' : '16.4'),
      MasterUsername: 'app',
      MasterUserPassword: FIXTURE_PASSWORD,
      DatabaseName: 'orders',
      StorageEncrypted: encryption !== 'none',
      KmsKeyId: encryption !== 'none' && encryption !== 'aws/rds' ? encryption : undefined,
      CopyTagsToSnapshot: true,
      ...(c.serverlessV2
        ? {
            ServerlessV2ScalingConfiguration: {
              MinCapacity: c.serverlessV2.min,
              MaxCapacity: c.serverlessV2.max,
            },
          }
        : {}),
      Tags: [{ Key: 'team', Value: 'orders' }],
    }),
  );
  await rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: `${c.id}-writer`,
      DBClusterIdentifier: c.id,
      Engine: engine,
      DBInstanceClass: c.serverlessV2 ? 'db.serverless' : 'db.r7g.large',
    }),
  );
}

/** The id the fixture's replica security group gets in every account and Region of the twin. */
export const FIXTURE_SECURITY_GROUP_ID = 'sg-0f1e2d3c4b5a69788';

/** VPC, two subnets, a security group and the DB subnet group the destination restores into. */
export async function createDestinationNetwork(
  twin: Twin,
  subnetGroupName = 'replica-subnets',
  /** Another destination account and/or Region than the default one. */
  at: { account?: string; region?: string } = {},
): Promise<{ subnetGroupName: string; securityGroupId: string; vpcId: string }> {
  const region = at.region ?? twin.region;
  const where = twin.aws(at.account ?? 'destination', region).where;
  const ec2 = accountClient(EC2Client, where);
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }));
  const vpcId = vpc.Vpc!.VpcId!;
  const subnets: string[] = [];
  for (const [i, az] of ['a', 'b'].entries()) {
    const s = await ec2.send(
      new CreateSubnetCommand({
        VpcId: vpcId,
        CidrBlock: `10.20.${i}.0/24`,
        AvailabilityZone: `${region}${az}`,
      }),
    );
    subnets.push(s.Subnet!.SubnetId!);
  }
  // The id is fixed (the twin honours the tag): it is a package-time parameter of the destination,
  // so every test then reuses one packaged variant instead of packaging its own.
  const sg = await ec2.send(
    new CreateSecurityGroupCommand({
      GroupName: 'replica-db',
      Description: 'replica databases',
      VpcId: vpcId,
      TagSpecifications: [
        {
          ResourceType: 'security-group',
          Tags: [{ Key: 'twin:group-id', Value: FIXTURE_SECURITY_GROUP_ID }],
        },
      ],
    }),
  );
  await twin.aws(at.account ?? 'destination', region).rds.send(
    new CreateDBSubnetGroupCommand({
      DBSubnetGroupName: subnetGroupName,
      DBSubnetGroupDescription: 'replica databases',
      SubnetIds: subnets,
    }),
  );
  return { subnetGroupName, securityGroupId: sg.GroupId!, vpcId };
}

/**
 * Gives the database's secret in the destination account the application's credentials
 * (creating the secret when the stack did not), keeping whatever else it holds.
 */
export async function seedSecret(
  twin: Twin,
  secretId: string,
  extra: Record<string, unknown> = {},
  at: { account?: string; region?: string } = {},
): Promise<Record<string, unknown>> {
  const { secrets } = twin.aws(at.account ?? 'destination', at.region);
  const value = {
    engine: 'postgres',
    username: 'app',
    password: FIXTURE_PASSWORD,
    dbname: 'orders',
    ...extra,
  };
  const notFound = (e: unknown) =>
    e instanceof ResourceNotFoundException || (e as Error).name === 'ResourceNotFoundException';
  let current: Record<string, unknown> = {};
  try {
    const got = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
    current = JSON.parse(got.SecretString ?? '{}') as Record<string, unknown>;
  } catch (e) {
    if (!notFound(e)) throw e; // an empty secret (as the stack creates it) or no secret at all
  }
  const merged = { ...current, ...value };
  try {
    await secrets.send(
      new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(merged) }),
    );
  } catch (e) {
    if (!notFound(e)) throw e;
    await secrets.send(new CreateSecretCommand({ Name: secretId, SecretString: JSON.stringify(merged) }));
  }
  return merged;
}

export async function readSecret(twin: Twin, secretId: string): Promise<Record<string, unknown>> {
  const r = await twin.aws('destination').secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  return JSON.parse(r.SecretString ?? '{}') as Record<string, unknown>;
}
