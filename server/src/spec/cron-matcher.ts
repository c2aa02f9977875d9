import {
  civilFromDays,
  daysFromCivil,
  daysInMonth,
  MS_PER_DAY,
  MS_PER_SECOND,
  weekdayFromDays,
} from "./civil-time.js";

/**
 * The values a cron expression allows, field by field, as cron-parser expanded them. Days of
 * the week are 0-6 (Sunday = 0). "Restricted" means the field was written as something other
 * than `*` or `?`, which decides how day of month and day of week combine (see `dayMatches`).
 */
export interface CronFieldValues {
  readonly seconds: readonly number[];
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly daysOfMonth: readonly number[];
  /** `L` in the day-of-month field: the last day of the month. */
  readonly lastDayOfMonth: boolean;
  readonly months: readonly number[];
  readonly daysOfWeek: readonly number[];
  /** Weekdays written as `nL`: the last such weekday of the month. */
  readonly lastWeekdaysOfMonth: readonly number[];
  /** `n#k`: only the k-th such weekday of the month; 0 when absent. */
  readonly nthWeekdayOfMonth: number;
  readonly dayOfMonthRestricted: boolean;
  readonly dayOfWeekRestricted: boolean;
}

/** Finds the next wall-clock reading that a cron expression allows. */
export interface CronMatcher {
  /**
   * The first whole second strictly after `afterWall` (wall ms) that the fields allow, or
   * null if there is none up to `limitWall`.
   */
  nextAfter(afterWall: number, limitWall: number): number | null;
}

// "First allowed value >= i" for every i, with -1 past the last: one array read replaces a
// scan of the field's values on every step.
function nextAllowedTable(values: readonly number[], size: number): Int8Array {
  const table = new Int8Array(size + 1).fill(-1);
  const allowed = new Set(values);
  let next = -1;
  for (let i = size - 1; i >= 0; i--) {
    if (allowed.has(i)) {
      next = i;
    }
    table[i] = next;
  }
  return table;
}

function flags(values: readonly number[], size: number): Uint8Array {
  const result = new Uint8Array(size);
  for (const value of values) {
    if (value >= 0 && value < size) {
      result[value] = 1;
    }
  }
  return result;
}

// A bound far above the day-by-day steps any satisfiable expression needs to cross the 400
// year Gregorian cycle, so the loop ends even on inputs nobody foresaw.
const MAX_STEPS = 2_000_000;

/**
 * Builds the matcher. It runs in wall-clock time, where there is no DST: every day has every
 * second, so the search is plain calendar arithmetic. Its day rules mirror cron-parser's
 * (`CronExpression#matchDayOfMonth`), which a differential test holds it to.
 */
export function createCronMatcher(fields: CronFieldValues): CronMatcher {
  const nextSecond = nextAllowedTable(fields.seconds, 60);
  const nextMinute = nextAllowedTable(fields.minutes, 60);
  const nextHour = nextAllowedTable(fields.hours, 24);
  const months = flags(fields.months, 13);
  const daysOfMonth = flags(fields.daysOfMonth, 32);
  const daysOfWeek = flags(fields.daysOfWeek, 7);
  const lastWeekdays = flags(fields.lastWeekdaysOfMonth, 7);
  const lastDay = fields.lastDayOfMonth;
  const nth = fields.nthWeekdayOfMonth;
  const domRestricted = fields.dayOfMonthRestricted;
  const dowRestricted = fields.dayOfWeekRestricted;
  const smallestDayOfMonth = Math.min(...fields.daysOfMonth);
  const nextDayOfMonthTable = nextAllowedTable(fields.daysOfMonth, 32);

  // The first allowed second of the day at or after `secondOfDay`, or -1.
  const nextTimeOfDay = (secondOfDay: number): number => {
    let hour = Math.floor(secondOfDay / 3600);
    let minute = Math.floor((secondOfDay % 3600) / 60);
    let second = secondOfDay % 60;
    // Each pass moves forward by at least a minute or returns, so a day takes < 1500 passes.
    for (let pass = 0; pass < 1500; pass++) {
      const h = nextHour[hour] ?? -1;
      if (h < 0) {
        return -1;
      }
      if (h !== hour) {
        hour = h;
        minute = 0;
        second = 0;
      }
      const m = nextMinute[minute] ?? -1;
      if (m < 0) {
        hour += 1;
        minute = 0;
        second = 0;
        continue;
      }
      if (m !== minute) {
        minute = m;
        second = 0;
      }
      const s = nextSecond[second] ?? -1;
      if (s < 0) {
        minute += 1;
        second = 0;
        if (minute === 60) {
          hour += 1;
          minute = 0;
        }
        continue;
      }
      return hour * 3600 + minute * 60 + s;
    }
    return -1;
  };

  // Rule of cron (and of cron-parser): when both day fields are restricted, a day matches if
  // either does; otherwise only the restricted one counts.
  const dayMatches = (day: number, monthLength: number, weekday: number): boolean => {
    const domMatch = daysOfMonth[day] === 1 || (lastDay && day === monthLength);
    if (!dowRestricted) {
      return domMatch;
    }
    const dowMatch =
      (daysOfWeek[weekday] === 1 && (nth === 0 || Math.ceil(day / 7) === nth)) ||
      (lastWeekdays[weekday] === 1 && day > monthLength - 7);
    return domRestricted ? domMatch || dowMatch : dowMatch;
  };

  // Whole months that cannot match are skipped in one step: this keeps "never fires" checks
  // and rare dates such as 29 February cheap.
  const monthCanMatch = (monthLength: number): boolean =>
    dowRestricted || lastDay || smallestDayOfMonth <= monthLength;

  // Without a day-of-week restriction the next candidate day is known without stepping.
  const nextDayOfMonth = (day: number, monthLength: number): number => {
    const listed = nextDayOfMonthTable[day] ?? -1;
    if (listed > 0 && listed <= monthLength) {
      return listed;
    }
    return lastDay ? monthLength : -1;
  };

  return {
    nextAfter(afterWall: number, limitWall: number): number | null {
      const start = Math.floor(afterWall / MS_PER_SECOND) * MS_PER_SECOND + MS_PER_SECOND;
      let days = Math.floor(start / MS_PER_DAY);
      let { year, month, day } = civilFromDays(days);
      let secondOfDay = (start - days * MS_PER_DAY) / MS_PER_SECOND;
      const limitDays = Math.floor(limitWall / MS_PER_DAY);
      // Every pass moves forward by at least a day (or returns); the bound is a backstop.
      for (let step = 0; step < MAX_STEPS && days <= limitDays; step++) {
        const monthLength = daysInMonth(year, month);
        if (months[month] === 1 && monthCanMatch(monthLength)) {
          const candidate = dowRestricted ? day : nextDayOfMonth(day, monthLength);
          if (candidate > day) {
            days += candidate - day;
            day = candidate;
            secondOfDay = 0;
          }
          if (candidate > 0 && dayMatches(day, monthLength, weekdayFromDays(days))) {
            const time = nextTimeOfDay(secondOfDay);
            if (time >= 0) {
              const wall = days * MS_PER_DAY + time * MS_PER_SECOND;
              return wall > limitWall ? null : wall;
            }
          }
          if (candidate > 0 && day < monthLength) {
            days += 1;
            day += 1;
            secondOfDay = 0;
            continue;
          }
        }
        month += 1;
        if (month > 12) {
          month = 1;
          year += 1;
        }
        day = 1;
        days = daysFromCivil(year, month, 1);
        secondOfDay = 0;
      }
      return null;
    },
  };
}
