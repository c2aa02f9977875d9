import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

/** A compare-and-set lost: the key changed (or appeared) since the revision it expected. */
export class RevisionConflictError extends Error {
  override readonly name = "RevisionConflictError";
  constructor(
    readonly key: string,
    options?: ErrorOptions,
  ) {
    super(`${key} changed since it was read`, options);
  }
}

export function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/** The stored partition count differs from the configured one. */
export class PartitionCountError extends Error {
  override readonly name = "PartitionCountError";
}
