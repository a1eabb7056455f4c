// Step Functions naming rules of the twin (twin/src/naming.ts), checked against the real SDK v3
// schemas: field names both ways, error names, strict rejection, value conversion, load-time checks.
import * as rds from '@aws-sdk/client-rds';
import * as secrets from '@aws-sdk/client-secrets-manager';
import * as sfn from '@aws-sdk/client-sfn';
import {
  FieldNameError,
  fromSdkOutput,
  isModeledError,
  javaExceptionName,
  loadServiceModule,
  ParameterValueError,
  parseResource,
  sdkMemberFor,
  sdkOperation,
  sfnErrorName,
  sfnFieldName,
  sfnServiceName,
  toSdkInput,
  validateStaticParameters,
} from '../../twin/src/naming';

// [SDK member, Step Functions spelling, a real structure that has the member]
const FIELDS: Array<[string, string, unknown]> = [
  ['DBInstanceIdentifier', 'DbInstanceIdentifier', rds.CreateDBSnapshotMessage$],
  ['DBSnapshotIdentifier', 'DbSnapshotIdentifier', rds.CreateDBSnapshotMessage$],
  ['DBSubnetGroupName', 'DbSubnetGroupName', rds.RestoreDBInstanceFromDBSnapshotMessage$],
  ['DBInstanceClass', 'DbInstanceClass', rds.RestoreDBInstanceFromDBSnapshotMessage$],
  ['DBParameterGroupName', 'DbParameterGroupName', rds.RestoreDBInstanceFromDBSnapshotMessage$],
  ['DBSnapshots', 'DbSnapshots', rds.DBSnapshotMessage$],
  ['DBSnapshotArn', 'DbSnapshotArn', rds.DBSnapshot$],
  ['DBInstances', 'DbInstances', rds.DBInstanceMessage$],
  ['DBInstanceStatus', 'DbInstanceStatus', rds.DBInstance$],
  ['CACertificateIdentifier', 'CaCertificateIdentifier', rds.DBInstance$],
  ['IAMDatabaseAuthenticationEnabled', 'IamDatabaseAuthenticationEnabled', rds.DBInstance$],
  ['ReadReplicaDBInstanceIdentifiers', 'ReadReplicaDBInstanceIdentifiers', rds.DBInstance$],
  ['SourceDBSnapshotIdentifier', 'SourceDBSnapshotIdentifier', rds.CopyDBSnapshotMessage$],
  ['TargetDBSnapshotIdentifier', 'TargetDBSnapshotIdentifier', rds.CopyDBSnapshotMessage$],
  ['FinalDBSnapshotIdentifier', 'FinalDBSnapshotIdentifier', rds.DeleteDBInstanceMessage$],
  [
    'EnableIAMDatabaseAuthentication',
    'EnableIAMDatabaseAuthentication',
    rds.RestoreDBInstanceFromDBSnapshotMessage$,
  ],
  ['MultiAZ', 'MultiAZ', rds.RestoreDBInstanceFromDBSnapshotMessage$],
  ['KmsKeyId', 'KmsKeyId', rds.CopyDBSnapshotMessage$],
  ['CopyTags', 'CopyTags', rds.CopyDBSnapshotMessage$],
  ['OptionGroupName', 'OptionGroupName', rds.CopyDBSnapshotMessage$],
  ['VpcSecurityGroupIds', 'VpcSecurityGroupIds', rds.RestoreDBInstanceFromDBSnapshotMessage$],
  ['SkipFinalSnapshot', 'SkipFinalSnapshot', rds.DeleteDBInstanceMessage$],
  ['DeleteAutomatedBackups', 'DeleteAutomatedBackups', rds.DeleteDBInstanceMessage$],
  ['DeletionProtection', 'DeletionProtection', rds.ModifyDBInstanceMessage$],
  ['ApplyImmediately', 'ApplyImmediately', rds.ModifyDBInstanceMessage$],
  ['AttributeName', 'AttributeName', rds.ModifyDBSnapshotAttributeMessage$],
  ['ValuesToAdd', 'ValuesToAdd', rds.ModifyDBSnapshotAttributeMessage$],
  ['ResourceName', 'ResourceName', rds.AddTagsToResourceMessage$],
  ['Tags', 'Tags', rds.AddTagsToResourceMessage$],
  ['Key', 'Key', rds.Tag$],
  ['Value', 'Value', rds.Tag$],
  ['Filters', 'Filters', rds.DescribeDBSnapshotsMessage$],
  ['Status', 'Status', rds.DBSnapshot$],
  ['PercentProgress', 'PercentProgress', rds.DBSnapshot$],
  ['Endpoint', 'Endpoint', rds.DBInstance$],
  ['Address', 'Address', rds.Endpoint$],
  ['Port', 'Port', rds.Endpoint$],
  ['SecretId', 'SecretId', secrets.DescribeSecretRequest$],
  ['SecretString', 'SecretString', secrets.GetSecretValueResponse$],
  ['ARN', 'Arn', secrets.DescribeSecretResponse$],
  ['executionArn', 'ExecutionArn', sfn.DescribeExecutionInput$],
  ['stateMachineArn', 'StateMachineArn', sfn.ListExecutionsInput$],
  ['statusFilter', 'StatusFilter', sfn.ListExecutionsInput$],
];

describe('sfnFieldName: Java v2 member names, capitalised', () => {
  test.each(FIELDS)('%s -> %s', (sdk, sfnName) => {
    expect(sfnFieldName(sdk)).toBe(sfnName);
  });

  test.each(FIELDS)(
    '%s <- %s (the Step Functions name maps back to the real SDK member)',
    (sdk, sfnName, shape) => {
      expect((shape as unknown[])[4]).toContain(sdk);
      expect(sdkMemberFor(sfnName, shape)).toBe(sdk);
      // the SDK spelling is not accepted where it differs
      if (sdk !== sfnName) expect(sdkMemberFor(sdk, shape)).toBeUndefined();
    },
  );

  test('documented special cases: an all-capital name is one word, Equals is EqualsValue', () => {
    expect(sfnFieldName('BOOL')).toBe('Bool');
    expect(sfnFieldName('Equals')).toBe('EqualsValue');
    expect(sfnFieldName('startSyncExecution')).toBe('StartSyncExecution');
  });

  test('inferred from the Java v2 generator: keywords get Value, DynamoDB NULL is Nul', () => {
    expect(sfnFieldName('Return')).toBe('ReturnValue');
    expect(sfnFieldName('NULL', 'com.amazonaws.dynamodb#AttributeValue')).toBe('Nul');
    expect(sfnFieldName('S3Key')).toBe('S3Key');
  });
});

describe('error names', () => {
  test.each([
    ['RDS', 'Rds'],
    ['rds', 'Rds'],
    ['Secrets Manager', 'SecretsManager'],
    ['secretsmanager', 'SecretsManager'],
    ['SFN', 'Sfn'],
    ['DynamoDB', 'DynamoDb'],
    ['EC2', 'Ec2'],
    ['KMS', 'Kms'],
    ['ACM PCA', 'AcmPca'],
    ['Lambda', 'Lambda'],
    ['S3', 'S3'],
  ])('service %s is spelt %s', (id, name) => {
    expect(sfnServiceName(id)).toBe(name);
  });

  test.each([
    ['DBSnapshotNotFoundFault', 'Rds.DbSnapshotNotFoundException'],
    ['DBSnapshotAlreadyExistsFault', 'Rds.DbSnapshotAlreadyExistsException'],
    ['DBInstanceNotFoundFault', 'Rds.DbInstanceNotFoundException'],
    ['DBInstanceAlreadyExistsFault', 'Rds.DbInstanceAlreadyExistsException'],
    ['InvalidDBInstanceStateFault', 'Rds.InvalidDbInstanceStateException'],
    ['InvalidDBSnapshotStateFault', 'Rds.InvalidDbSnapshotStateException'],
    ['SnapshotQuotaExceededFault', 'Rds.SnapshotQuotaExceededException'],
    ['KMSKeyNotAccessibleFault', 'Rds.KmsKeyNotAccessibleException'],
  ])('RDS %s -> %s (a modelled error)', (fault, name) => {
    expect(isModeledError(rds as unknown as Record<string, unknown>, fault)).toBe(true);
    expect(sfnErrorName('RDS', fault, true)).toBe(name);
  });

  test('errors the model does not define surface as <Service>.<Service>Exception', () => {
    const mod = rds as unknown as Record<string, unknown>;
    for (const code of ['InvalidParameterValue', 'InvalidParameterCombination', 'Throttling']) {
      expect(isModeledError(mod, code)).toBe(false);
      expect(sfnErrorName('RDS', code, false)).toBe('Rds.RdsException');
    }
    expect(sfnErrorName('Secrets Manager', 'ThrottlingException', false)).toBe(
      'SecretsManager.SecretsManagerException',
    );
  });

  test('other services, and the documented examples', () => {
    expect(sfnErrorName('Secrets Manager', 'ResourceNotFoundException', true)).toBe(
      'SecretsManager.ResourceNotFoundException',
    );
    expect(sfnErrorName('ACM PCA', 'ResourceNotFoundException', true)).toBe(
      'AcmPca.ResourceNotFoundException',
    );
    expect(sfnErrorName('S3', 'BucketAlreadyExists', true)).toBe('S3.BucketAlreadyExistsException');
    expect(sfnErrorName('DynamoDB', 'ConditionalCheckFailedException', true)).toBe(
      'DynamoDb.ConditionalCheckFailedException',
    );
    expect(sfnErrorName('SFN', 'ExecutionDoesNotExist', true)).toBe('Sfn.ExecutionDoesNotExistException');
    expect(sfnErrorName('KMS', 'KMSInvalidStateException', true)).toBe('Kms.KmsInvalidStateException');
    expect(javaExceptionName('Rds', 'RdsFault')).toBe('DefaultRdsException');
  });
});

describe('toSdkInput: strict Step Functions names', () => {
  test('rds:createDBSnapshot takes DbInstanceIdentifier, not the SDK spelling', () => {
    expect(() =>
      toSdkInput('rds', 'createDBSnapshot', { DBInstanceIdentifier: 'db', DbSnapshotIdentifier: 's' }),
    ).toThrow(FieldNameError);
    try {
      toSdkInput('rds', 'createDBSnapshot', { DBInstanceIdentifier: 'db' });
    } catch (e) {
      const err = e as FieldNameError;
      expect(err.message).toContain("field 'DBInstanceIdentifier' is not valid for rds:createDBSnapshot");
      expect(err.message).toContain("Step Functions spells it 'DbInstanceIdentifier'");
      expect(err.path).toBe('Parameters.DBInstanceIdentifier');
      expect(err.expected).toBe('DbInstanceIdentifier');
      expect(err.name).toBe('States.Runtime');
    }
    expect(
      toSdkInput('rds', 'createDBSnapshot', {
        DbInstanceIdentifier: 'db',
        DbSnapshotIdentifier: 's',
        Tags: [{ Key: 'k', Value: 'v' }],
      }),
    ).toEqual({ DBInstanceIdentifier: 'db', DBSnapshotIdentifier: 's', Tags: [{ Key: 'k', Value: 'v' }] });
  });

  test('nested lists of structures: Filters [{Name, Values}]', () => {
    expect(
      toSdkInput('rds', 'describeDBSnapshots', {
        DbInstanceIdentifier: 'db',
        SnapshotType: 'manual',
        Filters: [{ Name: 'db-instance-id', Values: ['db'] }],
      }),
    ).toEqual({
      DBInstanceIdentifier: 'db',
      SnapshotType: 'manual',
      Filters: [{ Name: 'db-instance-id', Values: ['db'] }],
    });
  });

  test('a wrongly spelt nested field names its path', () => {
    expect(() => toSdkInput('rds', 'createDBSnapshot', { Tags: [{ Key: 'a', value: 'b' }] })).toThrow(
      /Parameters\.Tags\[0\]\.value: field 'value' .*spells it 'Value'/,
    );
  });

  test('an unknown field lists the valid ones', () => {
    expect(() => toSdkInput('rds', 'createDBSnapshot', { DbSnapshotIdentifier: 's', Snapshot: 'x' })).toThrow(
      /field 'Snapshot' is not valid for rds:createDBSnapshot; valid fields of CreateDBSnapshotMessage: DbSnapshotIdentifier, DbInstanceIdentifier, Tags/,
    );
  });

  test('camelCase APIs take PascalCase fields', () => {
    expect(toSdkInput('sfn', 'listExecutions', { StateMachineArn: 'arn', StatusFilter: 'RUNNING' })).toEqual({
      stateMachineArn: 'arn',
      statusFilter: 'RUNNING',
    });
    expect(() => toSdkInput('sfn', 'listExecutions', { stateMachineArn: 'arn' })).toThrow(
      /spells it 'StateMachineArn'/,
    );
  });

  test('values: ISO timestamps become Dates, scalars are coerced like JSON, wrong shapes are refused', () => {
    const input = toSdkInput('rds', 'describeEvents', {
      StartTime: '2024-05-01T10:00:00Z',
      Duration: '60',
      SourceType: 'db-snapshot',
    });
    expect(input.StartTime).toEqual(new Date('2024-05-01T10:00:00Z'));
    expect(input.Duration).toBe(60);
    expect(
      toSdkInput('rds', 'deleteDBInstance', { DbInstanceIdentifier: 'db', SkipFinalSnapshot: true }),
    ).toEqual({
      DBInstanceIdentifier: 'db',
      SkipFinalSnapshot: true,
    });
    expect(() => toSdkInput('rds', 'createDBSnapshot', { Tags: 'k=v' })).toThrow(ParameterValueError);
    expect(() => toSdkInput('rds', 'describeEvents', { StartTime: 'yesterday' })).toThrow(/ISO-8601/);
  });

  test('unknown APIs and services are named', () => {
    expect(() => toSdkInput('rds', 'createDbSnapshots', {})).toThrow(
      /@aws-sdk\/client-rds has no API named 'createDbSnapshots'/,
    );
    expect(() => sdkOperation('nosuchservice', 'doIt')).toThrow(/no SDK client for 'nosuchservice'/);
    expect(sdkOperation('rds', 'describedbsnapshots').name).toBe('DescribeDBSnapshots');
  });
});

describe('fromSdkOutput', () => {
  test('renames recursively, drops $metadata, renders Dates as ISO-8601, keeps lists', () => {
    const out = fromSdkOutput('rds', 'describeDBSnapshots', {
      $metadata: { httpStatusCode: 200 },
      DBSnapshots: [
        {
          DBSnapshotIdentifier: 's',
          DBInstanceIdentifier: 'db',
          Status: 'available',
          PercentProgress: 100,
          SnapshotCreateTime: new Date('2024-05-01T10:00:00Z'),
          DBSnapshotArn: 'arn:aws:rds:eu-west-1:111111111111:snapshot:s',
          IAMDatabaseAuthenticationEnabled: false,
          TagList: [{ Key: 'k', Value: 'v' }],
        },
      ],
    });
    expect(out).toEqual({
      DbSnapshots: [
        {
          DbSnapshotIdentifier: 's',
          DbInstanceIdentifier: 'db',
          Status: 'available',
          PercentProgress: 100,
          SnapshotCreateTime: '2024-05-01T10:00:00.000Z',
          DbSnapshotArn: 'arn:aws:rds:eu-west-1:111111111111:snapshot:s',
          IamDatabaseAuthenticationEnabled: false,
          TagList: [{ Key: 'k', Value: 'v' }],
        },
      ],
    });
    expect(out).not.toHaveProperty('DBSnapshots');
  });

  test('map keys are data, not field names', () => {
    expect(
      fromSdkOutput('sqs', 'listQueueTags', { Tags: { 'rds-replicator:managed-by': 'x', lower: 'y' } }),
    ).toEqual({
      Tags: { 'rds-replicator:managed-by': 'x', lower: 'y' },
    });
  });

  test('camelCase APIs and all-capital members', () => {
    expect(
      fromSdkOutput('sfn', 'describeExecution', {
        executionArn: 'e',
        status: 'RUNNING',
        startDate: new Date(0),
      }),
    ).toEqual({ ExecutionArn: 'e', Status: 'RUNNING', StartDate: '1970-01-01T00:00:00.000Z' });
    expect(fromSdkOutput('secretsmanager', 'describeSecret', { ARN: 'a', Name: 'n' })).toEqual({
      Arn: 'a',
      Name: 'n',
    });
  });
});

describe('validateStaticParameters (load time)', () => {
  const R = 'arn:aws:states:::aws-sdk:rds:';

  test('accepts Step Functions names, `.$` keys checked without the suffix, JSONPath values unchecked', () => {
    expect(() =>
      validateStaticParameters(`${R}createDBSnapshot`, {
        'DbInstanceIdentifier.$': '$.database',
        'DbSnapshotIdentifier.$': "States.Format('{}-{}', $.database, $.runId)",
        Tags: [{ Key: 'managed-by', 'Value.$': '$.deploymentId' }],
      }),
    ).not.toThrow();
    expect(() =>
      validateStaticParameters(`${R}addTagsToResource`, { 'ResourceName.$': '$.arn', 'Tags.$': '$.tags' }),
    ).not.toThrow();
  });

  test('rejects the SDK spelling, also behind `.$`, and in nested objects', () => {
    expect(() =>
      validateStaticParameters(`${R}createDBSnapshot`, { 'DBInstanceIdentifier.$': '$.db' }),
    ).toThrow(/field 'DBInstanceIdentifier\.\$' .*spells it 'DbInstanceIdentifier\.\$'/);
    expect(() =>
      validateStaticParameters(`${R}describeDBSnapshots`, {
        Filters: [{ Name: 'db-instance-id', 'values.$': '$.ids' }],
      }),
    ).toThrow(/Parameters\.Filters\[0\]\.values\.\$/);
    expect(() =>
      validateStaticParameters(`${R}restoreDBInstanceFromDBSnapshot`, {
        DbInstanceIdentifier: 'x',
        DbSnapshotIdentifier: 'y',
        KmsKeyId: 'k',
      }),
    ).toThrow(/field 'KmsKeyId' is not valid for rds:restoreDBInstanceFromDBSnapshot/);
  });

  test('optimised integrations take their documented fields', () => {
    expect(() =>
      validateStaticParameters('arn:aws:states:::lambda:invoke', { FunctionName: 'f', 'Payload.$': '$' }),
    ).not.toThrow();
    expect(() => validateStaticParameters('arn:aws:states:::lambda:invoke', { functionName: 'f' })).toThrow(
      /spells it 'FunctionName'/,
    );
    expect(() =>
      validateStaticParameters('arn:aws:states:::sns:publish', {
        TopicArn: 't',
        'Message.$': '$.m',
        Subject: 's',
      }),
    ).not.toThrow();
    expect(() =>
      validateStaticParameters('arn:aws:states:::dynamodb:putItem', {
        TableName: 't',
        Item: { pk: { 'S.$': '$.pk' }, holder: { S: 'x' } },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    ).not.toThrow();
    expect(() =>
      validateStaticParameters('arn:aws:states:::dynamodb:putItem', {
        TableName: 't',
        Item: { pk: { s: 'x' } },
      }),
    ).toThrow(/native API spells it 'S'/);
  });

  test('resources that are not integrations are not checked; unknown integrations are refused', () => {
    expect(() =>
      validateStaticParameters('arn:aws:lambda:eu-west-1:111111111111:function:f', { any: 1 }),
    ).not.toThrow();
    expect(() => validateStaticParameters('arn:aws:states:::glue:startJobRun', {})).toThrow(/does not know/);
  });
});

describe('parseResource', () => {
  test('aws-sdk, optimised, patterns, others', () => {
    expect(parseResource('arn:aws:states:::aws-sdk:rds:describeDBSnapshots')).toEqual({
      kind: 'aws-sdk',
      service: 'rds',
      action: 'describeDBSnapshots',
      pattern: undefined,
    });
    expect(parseResource('arn:aws:states:::lambda:invoke.waitForTaskToken')).toEqual({
      kind: 'optimised',
      service: 'lambda',
      action: 'invoke',
      pattern: 'waitForTaskToken',
    });
    expect(parseResource('arn:aws:states:::states:startExecution.sync:2')).toMatchObject({
      pattern: 'sync:2',
    });
    expect(parseResource('arn:aws:lambda:eu-west-1:1:function:f')).toEqual({ kind: 'other' });
  });

  test('every installed client used by the project resolves', () => {
    for (const s of ['rds', 'secretsmanager', 'kms', 'sns', 'sqs', 'sfn', 'sts', 'ec2']) {
      expect(loadServiceModule(s)).toBeDefined();
    }
  });
});
