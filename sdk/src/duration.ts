// Parsing of the friendly time values the SDK takes. No dependencies beyond errors.ts: the
// server parses its configuration flags with parseDuration too.
import { InvalidArgumentError } from "./errors.js";

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const DURATION_TEXT = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const DURATION_RULE = "must be a duration such as 250ms, 90s, 5m, 1h30m or 7d, or milliseconds";

/**
 * A duration in milliseconds, from a number of milliseconds or text: one or more
 * `<number><unit>` parts with units `ms`, `s`, `m`, `h`, `d` (`"250ms"`, `"90s"`, `"1h30m"`,
 * `"1.5h"`, `"7d"`), or `"0"`. Units are lower case only, so that `"5M"` is refused rather
 * than read as minutes when months may have been meant.
 *
 * @throws InvalidArgumentError for anything else, negative numbers included.
 */
export function parseDuration(value: number | string): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value))
      throw new InvalidArgumentError(undefined, `${DURATION_RULE}, not ${value}`);
    if (value < 0) throw new InvalidArgumentError(undefined, `must not be negative, not ${value}`);
    return value;
  }
  if (typeof value !== "string") {
    throw new InvalidArgumentError(undefined, `${DURATION_RULE}, not a ${typeOf(value)}`);
  }
  const text = value.trim();
  if (text === "0") return 0;
  if (!DURATION_TEXT.test(text)) {
    const hint = /^\d+(?:\.\d+)?$/.test(text)
      ? " (add a unit: a bare number in a string is ambiguous)"
      : "";
    throw new InvalidArgumentError(
      undefined,
      `${DURATION_RULE}, not ${JSON.stringify(value)}${hint}`,
    );
  }
  let total = 0;
  for (const [, amount, unit] of text.matchAll(DURATION_PART)) {
    total += Number(amount) * UNIT_MS[unit as Unit];
  }
  const ms = Math.round(total);
  if (!Number.isSafeInteger(ms)) {
    throw new InvalidArgumentError(undefined, `is too long: ${JSON.stringify(value)}`);
  }
  return ms;
}

/**
 * Milliseconds as the shortest text parseDuration reads back: `"1h30m"`, `"90s"` becomes
 * `"1m30s"`, `"250ms"`, `"0s"`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return String(ms);
  if (ms === 0) return "0s";
  let rest = Math.round(ms);
  let text = "";
  for (const unit of ["d", "h", "m", "s", "ms"] as const) {
    const size = UNIT_MS[unit];
    const count = Math.floor(rest / size);
    if (count > 0) {
      text += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return text;
}

// RFC 3339: a date, a time and an offset. Without the offset the instant would depend on
// the machine's time zone, which is how scheduled jobs end up an hour off.
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|[+-]\d{2}:\d{2})$/;
const INSTANT_RULE =
  "must be an instant: a Date, epoch milliseconds, or RFC 3339 text with an offset such as 2026-03-01T02:00:00Z or 2026-03-01T02:00:00-05:00";
// The range of a JavaScript Date.
const MAX_EPOCH_MS = 8.64e15;

/**
 * An instant, from a `Date`, Unix epoch milliseconds, or RFC 3339 text with an offset
 * (`Z` or `±hh:mm`; fractions beyond milliseconds are cut). Text without an offset is
 * refused: for a wall-clock time in a time zone, use `localTime` with `timeZone`.
 *
 * @returns a new Date (the caller's Date is never shared).
 * @throws InvalidArgumentError for an invalid Date, a non-finite number, or other text.
 */
export function parseInstant(value: Date | string | number): Date {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms))
      throw new InvalidArgumentError(undefined, `${INSTANT_RULE}, not an invalid Date`);
    return new Date(ms);
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value) || Math.abs(value) > MAX_EPOCH_MS) {
      throw new InvalidArgumentError(undefined, `${INSTANT_RULE}, not ${value}`);
    }
    return new Date(value);
  }
  if (typeof value !== "string") {
    throw new InvalidArgumentError(undefined, `${INSTANT_RULE}, not a ${typeOf(value)}`);
  }
  const text = value.trim();
  const match = RFC3339.exec(text);
  if (match === null) {
    const local = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$/.test(text)
      ? " (it has no offset: add Z or ±hh:mm, or give localTime with timeZone)"
      : "";
    throw new InvalidArgumentError(
      undefined,
      `${INSTANT_RULE}, not ${JSON.stringify(value)}${local}`,
    );
  }
  const [, year, month, day, hour, minute, second = "0", fraction = "", offset = "Z"] = match;
  const fields = {
    month: [Number(month), 1, 12],
    day: [Number(day), 1, daysInMonth(Number(year), Number(month))],
    hour: [Number(hour), 0, 23],
    minute: [Number(minute), 0, 59],
    second: [Number(second), 0, 59],
  } as const;
  for (const [name, [n, min, max]] of Object.entries(fields)) {
    if (n < min || n > max) {
      throw new InvalidArgumentError(
        undefined,
        `${INSTANT_RULE}, not ${JSON.stringify(value)} (${name} ${n} is out of range)`,
      );
    }
  }
  const ms = Number(fraction.padEnd(3, "0").slice(0, 3));
  let epoch = Date.UTC(
    Number(year),
    Number(month) - 1,
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
    ms,
  );
  if (offset !== "Z" && offset !== "z") {
    const sign = offset.startsWith("-") ? -1 : 1;
    const offsetMinutes = Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6));
    epoch -= sign * offsetMinutes * 60_000;
  }
  return new Date(epoch);
}

function daysInMonth(year: number, month: number): number {
  if (month < 1 || month > 12) return 31;
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function typeOf(value: unknown): string {
  return value === null ? "null" : typeof value;
}
