/**
 * Reads a database secret's current value for the Lambdas that may see it (nameReplica,
 * mergeSecret). A secret that does not exist is the operator's to fix, not a transient error:
 * it becomes InvalidSecret naming the secret, so the run stops before it creates anything.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { InvalidSecret } from './errors';

export async function currentSecretString(
  client: SecretsManagerClient,
  secretId: string,
): Promise<{ secretString: string | undefined; versionId: string | undefined }> {
  try {
    const got = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    return { secretString: got.SecretString, versionId: got.VersionId };
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') {
      throw new InvalidSecret(
        `secret ${secretId} does not exist (or has no current value); create it with the standard RDS ` +
          'secret JSON (username, password, ...) or point parameter secretArns at the right secret',
      );
    }
    throw err;
  }
}
