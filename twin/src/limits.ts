// AWS limits the twin enforces, so that an oversized or malformed value fails here rather than
// first in production (issue 11, point 4). Each limit is checked where the call enters AWS: every
// call a state machine or a Lambda makes goes through `checkCallLimits` (after IAM), Step Functions
// payloads through `checkPayload`. moto itself enforces almost none of these.
//
// Sources: AWS-FACTS.md (RDS identifiers, tags, payloads, Cause/Error, 20 share accounts, secret
// size), the RDS, SNS and Secrets Manager API references. Error codes and messages are those the
// services document; where a message is reconstructed, the row says "inferred".
import type { Call } from './iam-context';

/** A refusal shaped as the AWS SDK raises a service error (the dispatcher names it for Step Functions). */
export class LimitError extends Error {
  readonly Code: string;
  readonly $fault = 'client';
  readonly $metadata: { httpStatusCode: number; requestId: string };
  /** `code` is the wire error code, `sdkName` the exception the SDK raises for it (when it differs). */
  constructor(code: string, message: string, status = 400, sdkName = code) {
    super(message);
    this.name = sdkName;
    this.Code = code;
    this.$metadata = {
      httpStatusCode: status,
      requestId: `twin-limit-${Math.random().toString(16).slice(2, 10)}`,
    };
  }
}

export const KIB = 1024;
/** Step Functions: state input/output, execution input, task results (States.DataLimitExceeded). */
export const PAYLOAD_LIMIT = 256 * KIB;
export const SNS_MESSAGE_LIMIT = 256 * KIB;
export const SECRET_LIMIT = 65_536;
export const TAG_KEY_LIMIT = 128;
export const TAG_VALUE_LIMIT = 256;
export const TAGS_PER_RESOURCE = 50;
export const SHARE_ACCOUNTS_LIMIT = 20;
export const ERROR_LIMIT = 256;
export const CAUSE_LIMIT = 32_768;

const short = (v: string) => (v.length > 100 ? `${v.slice(0, 100)}...` : v);

/** RDS identifier rules (AWS-FACTS.md): 1..max characters, letters, digits, hyphens, first a letter, no `--`, no trailing `-`. */
export function rdsIdentifierProblem(value: string, max: number): string | undefined {
  if (value.length < 1 || value.length > max) return `must contain from 1 to ${max} characters`;
  if (!/^[A-Za-z]/.test(value)) return 'must begin with a letter';
  if (!/^[A-Za-z0-9-]+$/.test(value)) return 'must contain only ASCII letters, digits, and hyphens';
  if (value.endsWith('-')) return 'must not end with a hyphen';
  if (value.includes('--')) return 'must not contain two consecutive hyphens';
  return undefined;
}

/** Which members of which RDS calls name a new resource, and their maximum length. */
const RDS_NEW_IDENTIFIERS: Record<string, Array<[string, number]>> = {
  CreateDBInstance: [['DBInstanceIdentifier', 63]],
  RestoreDBInstanceFromDBSnapshot: [['DBInstanceIdentifier', 63]],
  CreateDBSnapshot: [['DBSnapshotIdentifier', 255]],
  CopyDBSnapshot: [['TargetDBSnapshotIdentifier', 255]],
  DeleteDBInstance: [['FinalDBSnapshotIdentifier', 255]],
  // Aurora DB clusters (RDS API reference): cluster and cluster snapshot identifiers, 1-63 characters.
  CreateDBClusterSnapshot: [['DBClusterSnapshotIdentifier', 63]],
  CopyDBClusterSnapshot: [['TargetDBClusterSnapshotIdentifier', 63]],
  RestoreDBClusterFromSnapshot: [['DBClusterIdentifier', 63]],
  DeleteDBCluster: [['FinalDBSnapshotIdentifier', 63]],
};

function tagsOf(list: unknown): Array<{ Key?: string; Value?: string }> {
  return Array.isArray(list) ? (list as Array<{ Key?: string; Value?: string }>) : [];
}

function checkTags(
  tags: Array<{ Key?: string; Value?: string }>,
  existing: Record<string, string> = {},
): void {
  for (const t of tags) {
    const key = t.Key ?? '';
    if (key.length < 1 || key.length > TAG_KEY_LIMIT) {
      throw new LimitError(
        'InvalidParameterValue',
        `Tag key '${short(key)}' is ${key.length} characters long: tag keys must be 1 to ${TAG_KEY_LIMIT} characters.`,
      );
    }
    if ((t.Value ?? '').length > TAG_VALUE_LIMIT) {
      throw new LimitError(
        'InvalidParameterValue',
        `The value of tag '${short(key)}' is ${(t.Value ?? '').length} characters long: tag values must be at most ${TAG_VALUE_LIMIT} characters.`,
      );
    }
  }
  const keys = new Set([...Object.keys(existing), ...tags.map((t) => t.Key ?? '')]);
  if (keys.size > TAGS_PER_RESOURCE) {
    throw new LimitError(
      'InvalidParameterValue',
      `A resource can have at most ${TAGS_PER_RESOURCE} tags; this request would give it ${keys.size}.`,
    );
  }
}

export interface LimitLookups {
  rdsTags(arn: string): Promise<Record<string, string> | undefined>;
  /** Accounts a snapshot is shared with (its `restore` attribute). */
  sharedWith(arn: string): Promise<string[]>;
}

/** Refuses a call that breaks one of the limits above, as the service would. */
export async function checkCallLimits(call: Call, lookups: LimitLookups): Promise<void> {
  const input = call.input;
  if (call.service === 'rds') {
    for (const [member, max] of RDS_NEW_IDENTIFIERS[call.operation] ?? []) {
      const value = input[member];
      if (typeof value !== 'string') continue;
      const problem = rdsIdentifierProblem(value, max);
      if (problem) {
        throw new LimitError(
          'InvalidParameterValue',
          `The parameter ${member} is not a valid identifier: '${short(value)}' ${problem}. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.`,
        );
      }
    }
    if (input.Tags !== undefined) {
      const existing =
        call.operation === 'AddTagsToResource'
          ? ((await lookups.rdsTags(String(input.ResourceName))) ?? {})
          : {};
      checkTags(tagsOf(input.Tags), existing);
    }
    if (call.operation === 'ModifyDBSnapshotAttribute' && input.AttributeName === 'restore') {
      const id = String(input.DBSnapshotIdentifier ?? '');
      const arn = id.startsWith('arn:') ? id : `arn:aws:rds:${call.region}:${call.account}:snapshot:${id}`;
      const add = (input.ValuesToAdd as string[] | undefined) ?? [];
      const remove = new Set((input.ValuesToRemove as string[] | undefined) ?? []);
      const after = new Set([...(await lookups.sharedWith(arn)), ...add].filter((a) => !remove.has(a)));
      after.delete('all');
      if (after.size > SHARE_ACCOUNTS_LIMIT) {
        throw new LimitError(
          'SharedSnapshotQuotaExceeded',
          `You have exceeded the maximum number of accounts (${SHARE_ACCOUNTS_LIMIT}) that you can share a manual DB snapshot with: ${id} would be shared with ${after.size}.`,
          400,
          'SharedSnapshotQuotaExceededFault',
        );
      }
    }
  }
  if (call.service === 'sns' && call.operation === 'Publish') {
    const size = Buffer.byteLength(String(input.Message ?? ''));
    if (size > SNS_MESSAGE_LIMIT) {
      throw new LimitError(
        'InvalidParameter',
        `Invalid parameter: Message too long (${size} bytes; at most ${SNS_MESSAGE_LIMIT} bytes)`,
        400,
        'InvalidParameterException',
      );
    }
  }
  if (
    call.service === 'secretsmanager' &&
    ['PutSecretValue', 'CreateSecret', 'UpdateSecret'].includes(call.operation)
  ) {
    const value = input.SecretString;
    if (typeof value === 'string' && value.length > SECRET_LIMIT) {
      throw new LimitError(
        'ValidationException',
        `1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to ${SECRET_LIMIT}`,
      );
    }
  }
}

/** Step Functions: a task's input (after Parameters) or result over 256 KiB fails the execution. */
export function checkPayload(state: string, what: 'input' | 'output', value: unknown): void {
  const size = Buffer.byteLength(JSON.stringify(value ?? null));
  if (size > PAYLOAD_LIMIT) {
    const verb = what === 'input' ? 'received an input' : 'returned a result';
    throw Object.assign(
      new Error(
        `The state/task '${state}' ${verb} with a size exceeding the maximum number of bytes service limit. (${size} bytes; at most ${PAYLOAD_LIMIT})`,
      ),
      // Terminal: neither Retry nor Catch (States.ALL) handles it (Step Functions developer guide).
      { name: 'States.DataLimitExceeded', isRetryable: false, isCatchable: false },
    );
  }
}

/** Step Functions execution names: 1-80 characters, none of the characters AWS forbids. */
export function executionNameProblem(name: string): string | undefined {
  if (name.length < 1 || name.length > 80) return `must be 1 to 80 characters (has ${name.length})`;
  // Whitespace, brackets, wildcards, the special characters and control characters AWS lists.
  const control = [...name].find(
    (c) => c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f),
  );
  if (control)
    return `must not contain control characters (U+${control.charCodeAt(0).toString(16).padStart(4, '0')})`;
  const bad = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/.exec(name);
  if (bad) return `must not contain '${bad[0]}'`;
  return undefined;
}

/** A failure's Error and Cause as Step Functions bounds them (inferred: the run fails with States.Runtime). */
export function failureProblem(error?: string, cause?: string): string | undefined {
  if ((error ?? '').length > ERROR_LIMIT)
    return `the Error of the failure is ${(error ?? '').length} characters long (at most ${ERROR_LIMIT})`;
  if ((cause ?? '').length > CAUSE_LIMIT)
    return `the Cause of the failure is ${(cause ?? '').length} characters long (at most ${CAUSE_LIMIT})`;
  return undefined;
}
