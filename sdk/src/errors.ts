/**
 * A value given to the SDK that it cannot use: a bad duration or instant string, a missing
 * field, a number out of range. Thrown before any request is sent, so nothing changed.
 *
 * It is a `TypeError` so that code which already treats bad arguments that way keeps
 * working; `field` names the option it is about, where the SDK knows it.
 */
export class InvalidArgumentError extends TypeError {
  override readonly name = "InvalidArgumentError";
  /** The option the value was given for, e.g. "delay" or "retry.delay"; undefined when unknown. */
  readonly field: string | undefined;
  /** What the value must be, in words a caller can act on. */
  readonly rule: string;

  constructor(field: string | undefined, rule: string, options?: ErrorOptions) {
    super(field === undefined ? rule : `${field}: ${rule}`, options);
    this.field = field;
    this.rule = rule;
  }
}

/**
 * Runs `parse` and, when it throws an `InvalidArgumentError` without a field, throws it
 * again naming `field`: the parsers do not know which option they were given.
 */
export function inField<T>(field: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof InvalidArgumentError && err.field === undefined) {
      throw new InvalidArgumentError(field, err.rule, { cause: err });
    }
    throw err;
  }
}

/**
 * A JetStream consumer exists under the durable name with settings that do not fit the
 * call (another filter, a push consumer, another ack policy). Changing it could take tasks
 * from another service, so the SDK leaves it alone and says what differs.
 */
export class ConsumerConfigError extends Error {
  override readonly name = "ConsumerConfigError";
}
