import { MS_PER_DAY, wallFromCivil } from "./civil-time.js";
import { type CronMatcher, createCronMatcher } from "./cron-matcher.js";
import { CRON_NEVER_FIRES_RULE, parseCron } from "./cron-syntax.js";
import { assertInstant } from "./instant.js";
import { type Instant, MAX_INSTANT, SpecError } from "./timetable-types.js";
import { assertTimeZone, instantToWallClock, offsetAt, wallClockToInstant } from "./zoned-time.js";

/** A cron expression parsed once, bound to its time zone, ready to be asked for fire times. */
export interface CompiledCron {
  /** The expression as written. */
  readonly expression: string;
  readonly timeZone: string;
  /** The six fields (seconds first) that are evaluated, after macros and 5-field padding. */
  readonly normalized: string;
  /** The first fire instant strictly after `after`, or null if there is none. */
  next(after: Instant): Instant | null;
}

// The Gregorian calendar repeats every 400 years (146,097 days, a whole number of weeks), so
// a pattern that matches no wall-clock reading in one such window matches none ever.
const CALENDAR_CYCLE_MS = 146_097 * MS_PER_DAY;
const CYCLE_PROBE_START = wallFromCivil(2000, 1, 1) - 1;

/**
 * How far ahead of its start a cron's first fire may lie. A cron that fires once in decades
 * (`0 0 * 2 1#5`, the fifth Monday of February, comes every 28 years or more) is a mistake
 * rather than a plan, and refusing it keeps every search for a next fire short. The search
 * itself never looks past one 400-year calendar cycle, so it ends on any input.
 */
export const CRON_HORIZON_YEARS = 10;
export const CRON_HORIZON_MS = Math.round(CRON_HORIZON_YEARS * 365.2425 * MS_PER_DAY);
export const CRON_BEYOND_HORIZON_RULE = `does not fire within ${CRON_HORIZON_YEARS} years of its start (the search bound)`;

// Each skip below moves past one DST transition; a handful is plenty, the bound only
// guarantees termination.
const MAX_SKIPS = 64;

/**
 * Parses `expression` (5 fields, 6 with leading seconds, or a macro such as @hourly) for
 * `timeZone`. Throws `SpecError` for a malformed expression, an unknown zone, or an
 * expression that can never fire (`0 0 30 2 *`).
 */
export function compileCron(expression: string, timeZone: string): CompiledCron {
  assertTimeZone(timeZone);
  const parsed = parseCron(expression);
  const matcher = createCronMatcher(parsed.fields);
  if (matcher.nextAfter(CYCLE_PROBE_START, CYCLE_PROBE_START + CALENDAR_CYCLE_MS) === null) {
    throw new SpecError(CRON_NEVER_FIRES_RULE);
  }
  return {
    expression,
    timeZone,
    normalized: parsed.normalized,
    next: (after) => nextInstant(matcher, timeZone, after),
  };
}

/** The first fire instant of `compiled` strictly after `after`, or null if there is none. */
export function nextCronOccurrence(compiled: CompiledCron, after: Instant): Instant | null {
  return compiled.next(after);
}

/**
 * Walks the wall-clock readings the expression allows, in order, and maps each to an instant
 * with Chime's DST rules. Fire instants must strictly increase, so a reading that maps at or
 * before the floor is dropped: that is what makes every reading in a spring-forward gap fire
 * once, at the end of the gap, and a repeated fall-back hour fire once, on its first pass.
 */
function nextInstant(matcher: CronMatcher, timeZone: string, after: Instant): Instant | null {
  assertInstant(after);
  let cursor = instantToWallClock(after, timeZone);
  for (let skip = 0; skip < MAX_SKIPS; skip++) {
    const wall = matcher.nextAfter(cursor, cursor + CALENDAR_CYCLE_MS);
    if (wall === null) {
      return null;
    }
    const instant = wallClockToInstant(wall, timeZone);
    if (instant > after) {
      return instant <= MAX_INSTANT ? instant : null;
    }
    cursor = Math.max(wall, lastSkippableReading(instant, after, timeZone));
  }
  return null;
}

/**
 * `instant` (the image of a reading) is at or before `after`. Every later reading on the same
 * offset, up to `after` and up to the next transition, maps at or before `after` too, so the
 * walk can jump past them: this keeps a per-second cron from stepping through a repeated
 * hour one reading at a time.
 */
function lastSkippableReading(instant: Instant, after: Instant, timeZone: string): number {
  const offset = offsetAt(instant, timeZone);
  let sameOffsetUntil = after;
  if (offsetAt(after, timeZone) !== offset) {
    let lo = instant;
    let hi = after;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (offsetAt(mid, timeZone) === offset) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    sameOffsetUntil = lo;
  }
  return sameOffsetUntil + offset;
}
