import { civilFromWall, daysInMonth, wallFromCivil } from "./civil-time.js";
import { SpecError } from "./timetable-types.js";

export const LOCAL_DATE_TIME_RULE =
  "must be an ISO 8601 date-time without offset, e.g. 2026-03-29T02:30:00";
export const NONEXISTENT_DATE_TIME_RULE =
  "names a day or time that does not exist (e.g. February 30, month 13 or hour 24)";

// Anchored and free of nested quantifiers, so it runs in linear time on any input.
const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/;

// The longest accepted form is 29 characters; anything much longer is refused unread.
const MAX_TEXT_LENGTH = 64;

/**
 * Parses a local date-time ("2026-03-29T02:30", "…:00", "…:00.250") into wall ms. It names a
 * reading of a wall clock, not an instant: the zone is supplied separately and resolved by
 * `wallClockToInstant`. Digits beyond milliseconds are truncated.
 */
export function parseLocalDateTime(text: string): number {
  if (typeof text !== "string" || text.length > MAX_TEXT_LENGTH) {
    throw new SpecError(LOCAL_DATE_TIME_RULE);
  }
  const match = LOCAL_DATE_TIME.exec(text);
  if (match === null) {
    throw new SpecError(LOCAL_DATE_TIME_RULE);
  }
  const [, y, mo, d, h, mi, s = "0", fraction = "0"] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  const millisecond = Number(fraction.padEnd(3, "0").slice(0, 3));
  if (
    year < 1 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth(year, month) ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw new SpecError(NONEXISTENT_DATE_TIME_RULE);
  }
  return wallFromCivil(year, month, day, hour, minute, second, millisecond);
}

/** Formats wall ms as "YYYY-MM-DDTHH:MM:SS.mmm", the form `parseLocalDateTime` reads back. */
export function formatLocalDateTime(wallMs: number): string {
  const c = civilFromWall(wallMs);
  const pad = (value: number, width: number): string => String(value).padStart(width, "0");
  const year =
    c.year < 0 ? `-${pad(-c.year, 6)}` : c.year > 9999 ? `+${pad(c.year, 6)}` : pad(c.year, 4);
  return `${year}-${pad(c.month, 2)}-${pad(c.day, 2)}T${pad(c.hour, 2)}:${pad(c.minute, 2)}:${pad(c.second, 2)}.${pad(c.millisecond, 3)}`;
}
