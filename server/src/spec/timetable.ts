import { type CompiledCron, compileCron } from "./cron.js";
import { assertInstant } from "./instant.js";
import { intervalOccurrencesBetween, nextIntervalOccurrence } from "./interval.js";
import {
  type Instant,
  MAX_INSTANT,
  SpecError,
  type TimetableDefinition,
  type Trigger,
} from "./timetable-types.js";

/** DESIGN: `every` ≥ 1 s. */
export const MIN_INTERVAL_MS = 1000;
/** The most occurrences one call lists or counts one by one, whatever the caller asks. */
export const MAX_OCCURRENCE_LIMIT = 100_000;

export const TRIGGER_KIND_RULE = "must be one of once, cron or interval";
export const MIN_INTERVAL_RULE = "must be at least 1s";
export const BOUNDS_ORDER_RULE = "must not be later than end_at";
export const LIMIT_RULE = `must be a whole number from 0 to ${MAX_OCCURRENCE_LIMIT}`;

/**
 * A timetable validated and prepared once (a cron is parsed here, never per fire), then asked
 * for nominal fire instants. Bounds apply throughout: nothing before `startAt`, nothing after
 * `endAt`. Counting fires, `max_fires` and `run_immediately` are the engine's business.
 */
export interface CompiledTimetable {
  readonly definition: TimetableDefinition;
  /** The first occurrence strictly after `after`, or null if there is none. */
  next(after: Instant): Instant | null;
  /** Occurrences in (after, until], oldest first, at most `limit` of them. */
  occurrencesBetween(after: Instant, until: Instant, limit: number): Instant[];
  /** How many occurrences fall in (after, until], counting no further than `limit`. */
  countOccurrencesBetween(after: Instant, until: Instant, limit: number): number;
  /** The next `n` occurrences strictly after `after`. */
  upcoming(after: Instant, n: number): Instant[];
}

/** Occurrences of a trigger alone, before bounds are applied. */
interface TriggerTimes {
  next(after: Instant): Instant | null;
  /** Constant-time count in (after, until], where the trigger allows it. */
  readonly count?: (after: Instant, until: Instant) => number;
}

// Engines ask for the same few crons over and over; compiling costs far more than a lookup.
const MAX_CACHED_CRONS = 4096;
const cronCache = new Map<string, CompiledCron>();

function cachedCron(expression: string, timeZone: string): CompiledCron {
  const key = `${timeZone}\n${expression}`;
  const cached = cronCache.get(key);
  if (cached !== undefined) {
    return cached;
  }
  const compiled = compileCron(expression, timeZone);
  if (cronCache.size >= MAX_CACHED_CRONS) {
    cronCache.clear();
  }
  cronCache.set(key, compiled);
  return compiled;
}

function triggerTimes(trigger: Trigger): TriggerTimes {
  switch (trigger?.kind) {
    case "once": {
      const at = trigger.at;
      assertInstant(at);
      return {
        next: (after) => (at > after ? at : null),
        count: (after, until) => (at > after && at <= until ? 1 : 0),
      };
    }
    case "cron": {
      const cron = cachedCron(trigger.cron, trigger.timeZone);
      return { next: (after) => cron.next(after) };
    }
    case "interval": {
      const { everyMs, anchor } = trigger;
      if (typeof everyMs === "number" && everyMs < MIN_INTERVAL_MS) {
        throw new SpecError(MIN_INTERVAL_RULE);
      }
      // Validates both values once, so the closures below can rely on them.
      nextIntervalOccurrence(everyMs, anchor, anchor);
      return {
        next: (after) => {
          const t = nextIntervalOccurrence(everyMs, anchor, after);
          return t <= MAX_INSTANT ? t : null;
        },
        count: (after, until) => intervalOccurrencesBetween(everyMs, anchor, after, until),
      };
    }
    default:
      throw new SpecError(TRIGGER_KIND_RULE);
  }
}

function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_OCCURRENCE_LIMIT) {
    throw new SpecError(LIMIT_RULE);
  }
}

/** Validates `definition` and prepares it for repeated queries. Throws `SpecError`. */
export function compileTimetable(definition: TimetableDefinition): CompiledTimetable {
  const times = triggerTimes(definition?.trigger);
  const { startAt, endAt } = definition;
  if (startAt !== undefined) {
    assertInstant(startAt);
  }
  if (endAt !== undefined) {
    assertInstant(endAt);
  }
  if (startAt !== undefined && endAt !== undefined && startAt > endAt) {
    throw new SpecError(BOUNDS_ORDER_RULE);
  }
  // Occurrences lie in (low, high]: clip the caller's window to the bounds.
  const low = (after: Instant): Instant =>
    startAt !== undefined && startAt - 1 > after ? startAt - 1 : after;
  const high = (until: Instant): Instant => (endAt !== undefined && endAt < until ? endAt : until);

  const next = (after: Instant): Instant | null => {
    assertInstant(after);
    const t = times.next(low(after));
    return t === null || (endAt !== undefined && t > endAt) ? null : t;
  };

  const occurrencesBetween = (after: Instant, until: Instant, limit: number): Instant[] => {
    assertInstant(after);
    assertInstant(until);
    assertLimit(limit);
    const result: Instant[] = [];
    const last = high(until);
    let t = times.next(low(after));
    while (t !== null && t <= last && result.length < limit) {
      result.push(t);
      t = times.next(t);
    }
    return result;
  };

  const countOccurrencesBetween = (after: Instant, until: Instant, limit: number): number => {
    assertInstant(after);
    assertInstant(until);
    assertLimit(limit);
    if (times.count === undefined) {
      return occurrencesBetween(after, until, limit).length;
    }
    const from = low(after);
    const to = high(until);
    return to <= from ? 0 : Math.min(limit, times.count(from, to));
  };

  const upcoming = (after: Instant, n: number): Instant[] =>
    occurrencesBetween(after, MAX_INSTANT, n);

  return { definition, next, occurrencesBetween, countOccurrencesBetween, upcoming };
}

/** The next nominal occurrence strictly after `after`, honouring `startAt` and `endAt`. */
export function nextOccurrence(definition: TimetableDefinition, after: Instant): Instant | null {
  return compileTimetable(definition).next(after);
}

/** Nominal occurrences in (after, until], oldest first, at most `limit`. */
export function occurrencesBetween(
  definition: TimetableDefinition,
  after: Instant,
  until: Instant,
  limit: number,
): Instant[] {
  return compileTimetable(definition).occurrencesBetween(after, until, limit);
}

/** How many nominal occurrences fall in (after, until], up to `limit` (O(1) for intervals). */
export function countOccurrencesBetween(
  definition: TimetableDefinition,
  after: Instant,
  until: Instant,
  limit: number,
): number {
  return compileTimetable(definition).countOccurrencesBetween(after, until, limit);
}

/** The next `n` nominal occurrences strictly after `after`. */
export function upcoming(definition: TimetableDefinition, after: Instant, n: number): Instant[] {
  return compileTimetable(definition).upcoming(after, n);
}
