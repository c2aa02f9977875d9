import { daysFromCivil, MS_PER_DAY, MS_PER_SECOND } from "./civil-time.js";
import { type Instant, MAX_INSTANT, MIN_INSTANT, SpecError } from "./timetable-types.js";

export { parseLocalDateTime } from "./local-date-time.js";

export const TIME_ZONE_RULE = "is not a valid IANA time zone";
export const WALL_CLOCK_RULE = "must be a finite wall-clock time";

// IANA names are ASCII words joined by "/"; this also keeps offsets ("+02:00"), which newer
// ICU versions accept as zones, from being mistaken for names.
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;
const MAX_ZONE_NAME_LENGTH = 64;

// Bounds for the caches, which are keyed by client-supplied names and by days.
const MAX_ZONES = 1024;
const MAX_DAYS_PER_ZONE = 4096;

/**
 * The offset over one UTC day: `before` from the day's start until `at`, `after` from `at`
 * on. `at` is +Infinity on the (usual) days without a transition. The day is assumed to hold
 * at most one transition, which every zone in the tz database satisfies.
 */
interface DaySpan {
  readonly before: number;
  readonly after: number;
  readonly at: number;
}

interface Zone {
  readonly format: Intl.DateTimeFormat;
  /** The constant offset of zones without rules (UTC), which skip the day cache entirely. */
  readonly fixed: number | undefined;
  readonly days: Map<number, DaySpan>;
}

const zones = new Map<string, Zone>();

function createFormat(timeZone: string): Intl.DateTimeFormat | undefined {
  try {
    return new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      era: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
  } catch {
    return undefined;
  }
}

function zoneFor(timeZone: string): Zone {
  const cached = zones.get(timeZone);
  if (cached !== undefined) {
    return cached;
  }
  if (
    typeof timeZone !== "string" ||
    timeZone.length > MAX_ZONE_NAME_LENGTH ||
    !ZONE_NAME.test(timeZone)
  ) {
    throw new SpecError(TIME_ZONE_RULE);
  }
  const format = createFormat(timeZone);
  if (format === undefined) {
    throw new SpecError(TIME_ZONE_RULE);
  }
  const fixed = format.resolvedOptions().timeZone === "UTC" ? 0 : undefined;
  const zone: Zone = { format, fixed, days: new Map() };
  if (zones.size >= MAX_ZONES) {
    zones.clear();
  }
  zones.set(timeZone, zone);
  return zone;
}

/** Throws `SpecError` unless `timeZone` names an IANA zone that this runtime knows. */
export function assertTimeZone(timeZone: string): void {
  zoneFor(timeZone);
}

/** True when `timeZone` names an IANA zone that this runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    zoneFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

function clampInstant(instant: number): number {
  return Math.max(MIN_INSTANT, Math.min(instant, MAX_INSTANT));
}

// Intl resolves to whole seconds, which is also the finest grain of any tz offset.
function intlOffset(format: Intl.DateTimeFormat, instant: number): number {
  const second = Math.floor(clampInstant(instant) / MS_PER_SECOND) * MS_PER_SECOND;
  // en-US with h23 renders "3/29/2026 AD, 02:30:00"; `format` is a few times cheaper than
  // `formatToParts`, and this runs once per zone and day.
  const text = format.format(second);
  const numbers = text.match(/\d+/g);
  const fields =
    numbers !== null && numbers.length === 6
      ? {
          month: Number(numbers[0]),
          day: Number(numbers[1]),
          year: Number(numbers[2]),
          hour: Number(numbers[3]),
          minute: Number(numbers[4]),
          second: Number(numbers[5]),
          bc: text.includes("BC"),
        }
      : fieldsFromParts(format, second);
  const year = fields.bc ? 1 - fields.year : fields.year;
  const wall =
    daysFromCivil(year, fields.month, fields.day) * MS_PER_DAY +
    ((fields.hour % 24) * 3600 + fields.minute * 60 + fields.second) * MS_PER_SECOND;
  return wall - second;
}

// The slow, layout-proof path, for an ICU whose en-US rendering differs from the one above.
function fieldsFromParts(format: Intl.DateTimeFormat, instant: number) {
  const value = { month: 1, day: 1, year: 1970, hour: 0, minute: 0, second: 0, bc: false };
  for (const part of format.formatToParts(instant)) {
    switch (part.type) {
      case "month":
      case "day":
      case "year":
      case "hour":
      case "minute":
      case "second":
        value[part.type] = Number(part.value);
        break;
      case "era":
        value.bc = part.value.startsWith("B");
        break;
    }
  }
  return value;
}

function findTransition(format: Intl.DateTimeFormat, dayStart: number, before: number): number {
  let lo = dayStart / MS_PER_SECOND;
  let hi = (dayStart + MS_PER_DAY) / MS_PER_SECOND;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (intlOffset(format, mid * MS_PER_SECOND) === before) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return hi * MS_PER_SECOND;
}

function daySpan(zone: Zone, day: number): DaySpan {
  const cached = zone.days.get(day);
  if (cached !== undefined) {
    return cached;
  }
  const start = day * MS_PER_DAY;
  // Neighbouring days share a boundary, so a walk through consecutive days costs one Intl
  // call per day instead of two.
  const before = zone.days.get(day - 1)?.after ?? intlOffset(zone.format, start);
  const after = zone.days.get(day + 1)?.before ?? intlOffset(zone.format, start + MS_PER_DAY);
  const at =
    before === after ? Number.POSITIVE_INFINITY : findTransition(zone.format, start, before);
  const span: DaySpan = { before, after, at };
  if (zone.days.size >= MAX_DAYS_PER_ZONE) {
    zone.days.clear();
  }
  zone.days.set(day, span);
  return span;
}

function zoneOffset(zone: Zone, instant: number): number {
  if (zone.fixed !== undefined) {
    return zone.fixed;
  }
  const span = daySpan(zone, Math.floor(clampInstant(instant) / MS_PER_DAY));
  return instant < span.at ? span.before : span.after;
}

/** Milliseconds to add to `instant` to read the wall clock in `timeZone`. */
export function offsetAt(instant: Instant, timeZone: string): number {
  const zone = zoneFor(timeZone);
  if (!Number.isFinite(instant)) {
    throw new SpecError(WALL_CLOCK_RULE);
  }
  return zoneOffset(zone, instant);
}

/** The wall clock in `timeZone` at `instant`, as wall ms. */
export function instantToWallClock(instant: Instant, timeZone: string): number {
  return instant + offsetAt(instant, timeZone);
}

/**
 * The instant at which the wall clock in `timeZone` reads `wallMs`. A reading that never
 * happens (the spring-forward gap) resolves to the first instant after the gap; a reading
 * that happens twice (fall back) resolves to its first occurrence. These are Chime's DST
 * rules for cron and local one-shots alike.
 */
export function wallClockToInstant(wallMs: number, timeZone: string): Instant {
  const zone = zoneFor(timeZone);
  if (!Number.isFinite(wallMs)) {
    throw new SpecError(WALL_CLOCK_RULE);
  }
  if (zone.fixed !== undefined) {
    return wallMs - zone.fixed;
  }
  // Offsets stay within about ±15 h, so a day either side brackets any transition that can
  // make this reading ambiguous or impossible.
  const offsetBefore = zoneOffset(zone, wallMs - MS_PER_DAY);
  const offsetAfter = zoneOffset(zone, wallMs + MS_PER_DAY);
  const early = wallMs - offsetBefore;
  const earlyHolds = zoneOffset(zone, early) === offsetBefore;
  if (earlyHolds && offsetBefore === offsetAfter) {
    return early;
  }
  const late = wallMs - offsetAfter;
  const lateHolds = zoneOffset(zone, late) === offsetAfter;
  if (earlyHolds && lateHolds) {
    return Math.min(early, late);
  }
  if (earlyHolds) {
    return early;
  }
  if (lateHolds) {
    return late;
  }
  return endOfGap(zone, wallMs, offsetBefore, offsetAfter);
}

// In a gap, the transition instant T satisfies late < T <= early, and T itself is the first
// instant whose wall clock is past the gap.
function endOfGap(zone: Zone, wallMs: number, offsetBefore: number, offsetAfter: number): number {
  let lo = wallMs - offsetAfter;
  let hi = wallMs - offsetBefore;
  if (hi <= lo || zoneOffset(zone, hi) === zoneOffset(zone, lo)) {
    // Not the single transition the bracket assumes; settle for a fixed-point estimate.
    return wallMs - zoneOffset(zone, wallMs - zoneOffset(zone, wallMs));
  }
  const offsetAtLo = zoneOffset(zone, lo);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (zoneOffset(zone, mid) === offsetAtLo) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return hi;
}
