import { type Instant, MAX_INSTANT, MIN_INSTANT, SpecError } from "./timetable-types.js";

export const INSTANT_RULE = "must be a whole number of milliseconds within the Date range";

/** True for a whole millisecond inside the range that `Date` and `Intl` can represent. */
export function isInstant(value: number): value is Instant {
  return Number.isInteger(value) && value >= MIN_INSTANT && value <= MAX_INSTANT;
}

/**
 * Guards the entry points of the pure modules: a NaN or a fraction that slipped through the
 * API would otherwise flow silently into arithmetic and come out as a wrong fire time.
 */
export function assertInstant(value: number): asserts value is Instant {
  if (!isInstant(value)) {
    throw new SpecError(INSTANT_RULE);
  }
}
