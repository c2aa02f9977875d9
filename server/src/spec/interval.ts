import { assertInstant } from "./instant.js";
import { type Instant, SpecError } from "./timetable-types.js";

export const INTERVAL_RULE = "must be a positive whole number of milliseconds";

function assertEvery(everyMs: number): void {
  if (!Number.isSafeInteger(everyMs) || everyMs < 1) {
    throw new SpecError(INTERVAL_RULE);
  }
}

/** How many of the occurrences anchor + k × every (k ≥ 0) are at or before `t`. */
function occurrencesUpTo(everyMs: number, anchor: Instant, t: Instant): number {
  if (t < anchor) {
    return 0;
  }
  // A floating-point quotient can land one off; the bounded corrections settle k exactly
  // whenever the span is below 2^53 ms (285,000 years), which covers any real schedule.
  let k = Math.floor((t - anchor) / everyMs);
  for (let fix = 0; fix < 2 && k > 0 && anchor + k * everyMs > t; fix++) {
    k -= 1;
  }
  for (let fix = 0; fix < 2 && anchor + (k + 1) * everyMs <= t; fix++) {
    k += 1;
  }
  return k + 1;
}

/**
 * The first of anchor, anchor + every, anchor + 2 × every, … strictly after `after`. Each
 * occurrence is computed from the anchor by multiplication, never by adding up periods, so
 * there is no drift however long the schedule runs.
 */
export function nextIntervalOccurrence(everyMs: number, anchor: Instant, after: Instant): Instant {
  assertEvery(everyMs);
  assertInstant(anchor);
  assertInstant(after);
  return anchor + occurrencesUpTo(everyMs, anchor, after) * everyMs;
}

/** How many occurrences fall in (after, until], in constant time. */
export function intervalOccurrencesBetween(
  everyMs: number,
  anchor: Instant,
  after: Instant,
  until: Instant,
): number {
  assertEvery(everyMs);
  assertInstant(anchor);
  assertInstant(after);
  assertInstant(until);
  if (until <= after) {
    return 0;
  }
  return occurrencesUpTo(everyMs, anchor, until) - occurrencesUpTo(everyMs, anchor, after);
}
