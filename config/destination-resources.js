// The destination resources whose number or presence depends on the parameters (CloudFormation
// cannot loop, and a resource that is not needed should not be in the template at all):
//   - one Secrets Manager secret per configured database without a given secret ARN
//     (`rds-replica/<stage>/<database>-<stack id>`, created empty, kept when the stack is deleted);
//   - the policy that lets the Lambdas use the customer-managed keys of given secrets;
//   - the KMS key (and alias) the snapshot copies are encrypted with, unless kmsKeyArn is given;
//   - the e-mail subscription of the operations topic, when notificationEmail is given.
// Merged into the template by serverless.destination.yml:
//   resources:
//     - ${file(./config/destination-resources.js):resources}
// The fixed resources (topic, queue, table, roles, subscription to the source topic) are in
// serverless.destination.yml itself.

const { settings } = require('./destination-params.js');

function keyPolicy() {
  // Only this account, and only through IAM policies of its own principals: no statement names
  // another account. Explicit actions instead of `kms:*`.
  const root = { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' };
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AdministerTheKeyFromThisAccount',
        Effect: 'Allow',
        Principal: { AWS: root },
        Action: [
          'kms:Create*',
          'kms:Describe*',
          'kms:Enable*',
          'kms:List*',
          'kms:Put*',
          'kms:Update*',
          'kms:Revoke*',
          'kms:Disable*',
          'kms:Get*',
          'kms:Delete*',
          'kms:TagResource',
          'kms:UntagResource',
          'kms:ScheduleKeyDeletion',
          'kms:CancelKeyDeletion',
          'kms:RotateKeyOnDemand',
        ],
        Resource: '*',
      },
      {
        Sid: 'LetIamPoliciesOfThisAccountUseTheKey',
        Effect: 'Allow',
        Principal: { AWS: root },
        Action: [
          'kms:Encrypt',
          'kms:Decrypt',
          'kms:ReEncrypt*',
          'kms:GenerateDataKey*',
          'kms:DescribeKey',
          'kms:CreateGrant',
          'kms:ListGrants',
          'kms:RevokeGrant',
        ],
        Resource: '*',
      },
    ],
  };
}

async function resources(ctx) {
  const s = await settings(ctx);
  const managedBy = { Key: s.tagKeys.managedBy, Value: s.deploymentId };
  const Resources = {};
  const Outputs = {};

  for (const secret of [...s.secrets, ...s.clusterSecrets]) {
    if (!secret.logicalId) continue;
    Resources[secret.logicalId] = {
      Type: 'AWS::SecretsManager::Secret',
      // The secret outlives the stack: applications read it, and its password is set by hand.
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      // Created empty (neither SecretString nor GenerateSecretString): CloudFormation writes a
      // secret's value whenever either property changes, so with neither no deploy, redeploy or
      // parameter change can ever overwrite what the operator and mergeSecret put in. The name does
      // not depend on any parameter either (a new name would replace the secret).
      Properties: {
        Name: secret.name,
        Description:
          `Connection secret of the replica of ${secret.database} (standard RDS secret JSON). ` +
          `Put {"username": "${s.secretUsername}", "password": "<master password of the source instance>"} ` +
          `into it; ${s.deploymentId} rewrites host, port, engine and dbInstanceIdentifier and keeps every other key.`,
        Tags: [managedBy, { Key: s.tagKeys.sourceDatabase, Value: secret.database }],
      },
    };
    Outputs[`${secret.logicalId}Arn`] = {
      Description: `Secret of the replica of ${secret.database} (created empty: put the credentials in)`,
      Value: { Ref: secret.logicalId },
    };
  }

  if (s.secretKmsKeyArns.length > 0) {
    // Given secrets encrypted with customer-managed keys: reading needs kms:Decrypt, writing also
    // kms:GenerateDataKey; only through Secrets Manager.
    const viaSecretsManager = { StringEquals: { 'kms:ViaService': s.iam.secretsViaService } };
    Resources.SecretKeysPolicy = {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'secret-keys',
        Roles: [{ Ref: 'NameReplicaRole' }, { Ref: 'MergeSecretRole' }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'DecryptTheSecretsThroughSecretsManager',
              Effect: 'Allow',
              Action: 'kms:Decrypt',
              Resource: s.iam.secretKeys,
              Condition: viaSecretsManager,
            },
          ],
        },
      },
    };
    Resources.MergeSecretKeysPolicy = {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'secret-keys-write',
        Roles: [{ Ref: 'MergeSecretRole' }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'EncryptTheSecretsThroughSecretsManager',
              Effect: 'Allow',
              Action: 'kms:GenerateDataKey',
              Resource: s.iam.secretKeys,
              Condition: viaSecretsManager,
            },
          ],
        },
      },
    };
  }

  if (s.createKmsKey) {
    Resources.ReplicaKey = {
      Type: 'AWS::KMS::Key',
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        Description: `${s.deploymentId}: encrypts the copies of shared snapshots and the replicas restored from them`,
        EnableKeyRotation: true,
        KeyPolicy: keyPolicy(),
        Tags: [managedBy],
      },
    };
    Resources.ReplicaKeyAlias = {
      Type: 'AWS::KMS::Alias',
      Properties: {
        AliasName: `alias/${s.deploymentId}`,
        TargetKeyId: { Ref: 'ReplicaKey' },
      },
    };
  }
  Outputs.KmsKeyArn = {
    Description: 'KMS key of the snapshot copies and replicas',
    Value: s.kmsKey,
  };

  if (s.finalSnapshotOnDelete) {
    // Only when retention takes a final snapshot: deleteDBInstance with FinalDBSnapshotIdentifier
    // needs CreateDBSnapshot on the instance and on the new snapshot (AWS-FACTS.md).
    Resources.ReplicateFinalSnapshotPolicy = {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'final-snapshots',
        Roles: [{ Ref: 'ReplicateRole' }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'SnapshotOnlyThisDeploymentsReplicas',
              Effect: 'Allow',
              Action: 'rds:CreateDBSnapshot',
              Resource: s.iam.replicaInstances,
              Condition: s.iam.taggedByThisDeployment,
            },
            {
              Sid: 'CreateTheFinalSnapshot',
              Effect: 'Allow',
              Action: 'rds:CreateDBSnapshot',
              Resource: s.iam.finalSnapshots,
            },
          ],
        },
      },
    };
  }

  if (s.notificationEmail) {
    Resources.OperationsEmailSubscription = {
      Type: 'AWS::SNS::Subscription',
      Properties: {
        TopicArn: { Ref: 'OperationsTopic' },
        Protocol: 'email',
        Endpoint: s.notificationEmail,
      },
    };
  }

  return { Resources, Outputs };
}

module.exports = { resources };
