// The AWS clients the status commands use: SDK v3 with its default credential chain and the
// endpoint variables it reads itself (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SFN, ...), so the same
// code reaches AWS with the operator's credentials and the offline twin with its environment.
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { SFNClient } from '@aws-sdk/client-sfn';

export interface StatusClients {
  cloudformation: CloudFormationClient;
  sfn: SFNClient;
  rds: RDSClient;
  dynamodb: DynamoDBClient;
  lambda: LambdaClient;
}

export function defaultClients(region: string): StatusClients {
  const config = { region };
  return {
    cloudformation: new CloudFormationClient(config),
    sfn: new SFNClient(config),
    rds: new RDSClient(config),
    dynamodb: new DynamoDBClient(config),
    lambda: new LambdaClient(config),
  };
}

/**
 * Clients configured from an environment map (the variables the SDK itself would read), for a tool
 * that runs in-process beside another environment: the demo and the tests on the twin.
 */
export function clientsFromEnvironment(env: Record<string, string | undefined>): StatusClients {
  const credentials = env.AWS_ACCESS_KEY_ID
    ? {
        accessKeyId: env.AWS_ACCESS_KEY_ID,
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '',
        sessionToken: env.AWS_SESSION_TOKEN,
      }
    : undefined;
  const config = (service: string) => ({
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    credentials,
    endpoint: env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL,
  });
  return {
    cloudformation: new CloudFormationClient(config('CLOUDFORMATION')),
    sfn: new SFNClient(config('SFN')),
    rds: new RDSClient(config('RDS')),
    dynamodb: new DynamoDBClient(config('DYNAMODB')),
    lambda: new LambdaClient(config('LAMBDA')),
  };
}
