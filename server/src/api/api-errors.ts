import { create } from "@bufbuild/protobuf";
import { BadRequestSchema } from "@chime/sdk";
import { Code, ConnectError } from "@connectrpc/connect";
import { errors as natsErrors } from "@nats-io/nats-core";
import { noStreamTook } from "../nats/pub-ack.js";
import { SpecError } from "../spec/index.js";
import { RevisionConflictError } from "../store/store-errors.js";

/** Input that breaks a rule: the field it is in and the rule, in words a client can act on. */
export class InvalidFieldError extends Error {
  override readonly name = "InvalidFieldError";
  constructor(
    readonly field: string,
    readonly rule: string,
  ) {
    super(`${field}: ${rule}`);
  }
}

export class NotFoundError extends Error {
  override readonly name = "NotFoundError";
}

export class AlreadyExistsError extends Error {
  override readonly name = "AlreadyExistsError";
}

export class PreconditionError extends Error {
  override readonly name = "PreconditionError";
}

/** A limit on what a tenant may hold is reached; the message names the limit and its setting. */
export class LimitReachedError extends Error {
  override readonly name = "LimitReachedError";
}

/** NATS cannot be reached now; the client may try again. */
export class UnavailableError extends Error {
  override readonly name = "UnavailableError";
}

/** Throws InvalidFieldError for `field` when `check` throws a SpecError. */
export function inField<T>(field: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof SpecError) throw new InvalidFieldError(field, err.rule);
    throw err;
  }
}

/** The one place internal errors become RPC errors; the original is kept as `cause`. */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof InvalidFieldError) {
    // The standard detail lets any gRPC client read the violation field by field.
    const violation = create(BadRequestSchema, {
      fieldViolations: [{ field: err.field, description: err.rule }],
    });
    return new ConnectError(
      err.message,
      Code.InvalidArgument,
      undefined,
      [{ desc: BadRequestSchema, value: violation }],
      err,
    );
  }
  if (err instanceof NotFoundError)
    return new ConnectError(err.message, Code.NotFound, undefined, undefined, err);
  if (err instanceof AlreadyExistsError)
    return new ConnectError(err.message, Code.AlreadyExists, undefined, undefined, err);
  if (err instanceof LimitReachedError)
    return new ConnectError(err.message, Code.ResourceExhausted, undefined, undefined, err);
  if (err instanceof PreconditionError)
    return new ConnectError(err.message, Code.FailedPrecondition, undefined, undefined, err);
  if (err instanceof RevisionConflictError) {
    return new ConnectError(
      "the schedule changed concurrently; try again",
      Code.Aborted,
      undefined,
      undefined,
      err,
    );
  }
  if (err instanceof UnavailableError || isNatsUnavailable(err)) {
    return new ConnectError(
      `NATS is unavailable: ${err instanceof Error ? err.message : String(err)}`,
      Code.Unavailable,
      undefined,
      undefined,
      err,
    );
  }
  return ConnectError.from(err, Code.Internal);
}

function isNatsUnavailable(err: unknown): boolean {
  return (
    // No stream took the write: gone, or its leader not elected yet.
    noStreamTook(err) ||
    err instanceof natsErrors.TimeoutError ||
    err instanceof natsErrors.ConnectionError ||
    err instanceof natsErrors.ClosedConnectionError ||
    err instanceof natsErrors.DrainingConnectionError ||
    err instanceof natsErrors.NoRespondersError ||
    err instanceof natsErrors.RequestError
  );
}
