/** Milliseconds since the Unix epoch, UTC. Every instant inside Chime is one of these. */
export type Instant = number;

/** When a schedule fires, as the engine needs it: resolved, validated, and free of I/O. */
export type Trigger =
  | { readonly kind: "once"; readonly at: Instant }
  | { readonly kind: "cron"; readonly cron: string; readonly timeZone: string }
  | { readonly kind: "interval"; readonly everyMs: number; readonly anchor: Instant };

export type TriggerKind = Trigger["kind"];

export const MisfirePolicy = {
  fireOnce: "fire_once",
  skip: "skip",
  fireAll: "fire_all",
} as const;
export type MisfirePolicy = (typeof MisfirePolicy)[keyof typeof MisfirePolicy];

/** A trigger with its bounds: everything needed to list the nominal fire instants. */
export interface TimetableDefinition {
  readonly trigger: Trigger;
  /** No occurrence before this instant. */
  readonly startAt?: Instant;
  /** No occurrence after this instant. */
  readonly endAt?: Instant;
}

/**
 * Thrown by the pure modules for input that breaks a rule. `rule` says which, in words a
 * client can act on ("is not a valid IANA time zone"); the API prefixes the field name.
 */
export class SpecError extends Error {
  override readonly name = "SpecError";
  constructor(readonly rule: string) {
    super(rule);
  }
}

/** The earliest instant Chime accepts: the start of the JavaScript `Date` range. */
export const MIN_INSTANT: Instant = -8_640_000_000_000_000;
/** The latest instant Chime accepts: the end of the JavaScript `Date` range. */
export const MAX_INSTANT: Instant = 8_640_000_000_000_000;
