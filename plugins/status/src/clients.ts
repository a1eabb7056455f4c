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
