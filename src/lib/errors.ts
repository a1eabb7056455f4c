/**
 * Typed errors. The class `name` is what Step Functions sees as the Error of a failed Lambda
 * task (lambda:invoke reports `errorType`), so the state machines can Catch them by name.
 * It is set explicitly because bundlers may rename classes.
 *
 * Messages name the thing, the value and the fix. They never contain a secret value.
 */
export abstract class ReplicatorError extends Error {
  abstract override readonly name: string;
}

/** The Lambda input (from the state machine) is missing a field or has a wrong one. */
export class InvalidInput extends ReplicatorError {
  override readonly name = 'InvalidInput';
}

/** A required environment variable is missing or malformed: a deployment problem. */
export class InvalidConfiguration extends ReplicatorError {
  override readonly name = 'InvalidConfiguration';
}

/** The database's secret is not the standard RDS secret JSON. */
export class InvalidSecret extends ReplicatorError {
  override readonly name = 'InvalidSecret';
}

/** A replication message (source -> destination) was rejected. */
export class InvalidMessage extends ReplicatorError {
  override readonly name = 'InvalidMessage';
}

/** The replica instance does not exist. */
export class ReplicaNotFound extends ReplicatorError {
  override readonly name = 'ReplicaNotFound';
}

/** The replica exists but is not `available` (it has no usable endpoint yet). */
export class ReplicaNotReady extends ReplicatorError {
  override readonly name = 'ReplicaNotReady';
}

/** The instance does not carry this deployment's replica tags: it is not ours to point at. */
export class ReplicaNotManaged extends ReplicatorError {
  override readonly name = 'ReplicaNotManaged';
}

/** The secret no longer points where the run expected: someone else changed it meanwhile. */
export class SecretChanged extends ReplicatorError {
  override readonly name = 'SecretChanged';
}

/** Every collision suffix of a replica name is taken. */
export class NoFreeReplicaName extends ReplicatorError {
  override readonly name = 'NoFreeReplicaName';
}

/** Quote a value for an error message: JSON-ish, bounded, safe for logs. Never pass secret values. */
export function show(value: unknown, max = 80): string {
  let text: string;
  if (typeof value === 'string') text = `'${value}'`;
  else if (value === undefined) text = 'undefined';
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > max ? `${text.slice(0, max)}...(${text.length} chars)` : text;
}
