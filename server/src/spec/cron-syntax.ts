import { type CronExpression, CronExpressionParser } from "cron-parser";
import type { CronFieldValues } from "./cron-matcher.js";
import { SpecError } from "./timetable-types.js";

export const CRON_FIELD_COUNT_RULE = "must have 5 or 6 fields, or be a macro such as @hourly";
export const CRON_MACRO_RULE =
  "is not a supported macro (use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)";
export const CRON_LENGTH_RULE = "must be at most 256 characters";
export const CRON_CHARACTER_RULE =
  "may contain only digits, month and weekday names, spaces and the characters * , - / ? L #";
export const CRON_HASH_RULE =
  "must not use H (hashed) values, which would differ between Chime replicas";
export const CRON_NEVER_FIRES_RULE = "never fires";
export const CRON_INVALID_RULE = "is not a valid cron expression";

const MAX_LENGTH = 256;

// Our own table, not cron-parser's: it also knows @midnight, and it leaves out the library's
// @minutely, @secondly, @weekdays and @weekends, which Chime does not document.
const MACROS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

interface FieldSpec {
  readonly name: string;
  readonly allowed: string;
  /** How many values the field spans; a larger step could only ever pick its first value. */
  readonly span: number;
  /** Names (upper case) the field accepts in place of numbers. */
  readonly names: readonly string[];
  readonly allowsL: boolean;
}

const FIELDS: readonly FieldSpec[] = [
  { name: "second", allowed: "0-59", span: 60, names: [], allowsL: false },
  { name: "minute", allowed: "0-59", span: 60, names: [], allowsL: false },
  { name: "hour", allowed: "0-23", span: 24, names: [], allowsL: false },
  { name: "day-of-month", allowed: "1-31 or L", span: 31, names: [], allowsL: true },
  {
    name: "month",
    allowed: "1-12 or JAN-DEC",
    span: 12,
    names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
    allowsL: false,
  },
  {
    name: "day-of-week",
    allowed: "0-7 or SUN-SAT, optionally as nL or n#k",
    span: 8,
    names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    allowsL: true,
  },
];

const ALLOWED_CHARACTERS = /^[0-9A-Za-z*,/?# \t-]*$/;
const LETTERS = /[A-Za-z]+/g;
const STEP = /\/(\d*)/g;

/** A cron expression as Chime understood it. */
export interface ParsedCron {
  /** The six fields (seconds first) that were evaluated, after macros and 5-field padding. */
  readonly normalized: string;
  readonly fields: CronFieldValues;
}

function invalidField(index: number, text: string): SpecError {
  const spec = FIELDS[index];
  const shown = text.length > 32 ? `${text.slice(0, 32)}…` : text;
  return new SpecError(
    spec === undefined
      ? CRON_INVALID_RULE
      : `has an invalid ${spec.name} field "${shown}" (allowed: ${spec.allowed})`,
  );
}

// cron-parser resolves names by replacing any three letters, so "JANFEB" reads as 12 and
// "1JAN" as 11; each run of letters must be exactly one name, standing alone.
function checkLetters(index: number, text: string, spec: FieldSpec): void {
  for (const match of text.matchAll(LETTERS)) {
    const word = match[0].toUpperCase();
    if (word === "H") {
      throw new SpecError(CRON_HASH_RULE);
    }
    const before = text[match.index - 1] ?? "";
    const after = text[match.index + match[0].length] ?? "";
    if (word === "L" && spec.allowsL) {
      continue;
    }
    if (!spec.names.includes(word) || /\d/.test(before) || /\d/.test(after)) {
      throw invalidField(index, text);
    }
  }
}

// cron-parser quietly turns a step beyond the field's range ("*/100" minutes) into a single
// value; someone who wrote it meant something else.
function checkSteps(index: number, text: string, spec: FieldSpec): void {
  for (const match of text.matchAll(STEP)) {
    const step = Number(match[1]);
    if (match[1] === "" || step < 1 || step > spec.span) {
      throw invalidField(index, text);
    }
  }
}

function toFieldValues(expression: CronExpression): CronFieldValues {
  const f = expression.fields;
  const numbers = (values: readonly (number | string)[]): number[] =>
    values.filter((value): value is number => typeof value === "number");
  // "5L" arrives as a string; like cron-parser, read its weekday from the first character.
  const lastWeekdays = (f.dayOfWeek.values as readonly (number | string)[])
    .filter((value): value is string => typeof value === "string")
    .map((value) => Number.parseInt(value.charAt(0), 10) % 7)
    .filter((value) => Number.isInteger(value));
  return {
    seconds: numbers(f.second.values),
    minutes: numbers(f.minute.values),
    hours: numbers(f.hour.values),
    daysOfMonth: numbers(f.dayOfMonth.values),
    lastDayOfMonth: f.dayOfMonth.values.includes("L"),
    months: numbers(f.month.values),
    daysOfWeek: numbers(f.dayOfWeek.values).map((value) => value % 7),
    lastWeekdaysOfMonth: lastWeekdays,
    nthWeekdayOfMonth: f.dayOfWeek.nthDay,
    dayOfMonthRestricted: !f.dayOfMonth.isWildcard,
    dayOfWeekRestricted: !f.dayOfWeek.isWildcard,
  };
}

function parseWithLibrary(fields: readonly string[]): CronExpression {
  // UTC and no DST: the library only expands fields here; time zones are ours.
  return CronExpressionParser.parse(fields.join(" "), { tz: "UTC", strict: false });
}

/**
 * Splits, checks and expands a cron expression: 5 fields (minute resolution), 6 (leading
 * seconds) or a macro. Throws `SpecError` naming the rule that was broken.
 */
export function parseCron(expression: string): ParsedCron {
  if (typeof expression !== "string") {
    throw new SpecError(CRON_FIELD_COUNT_RULE);
  }
  if (expression.length > MAX_LENGTH) {
    throw new SpecError(CRON_LENGTH_RULE);
  }
  // Only blanks and tabs are separators: String#trim would also swallow a line break, which
  // has no business in a cron expression.
  let text = expression.replace(/^[ \t]+|[ \t]+$/g, "");
  if (text.startsWith("@")) {
    const macro = MACROS[text.toLowerCase()];
    if (macro === undefined) {
      throw new SpecError(CRON_MACRO_RULE);
    }
    text = macro;
  }
  if (!ALLOWED_CHARACTERS.test(text)) {
    throw new SpecError(CRON_CHARACTER_RULE);
  }
  const written = text === "" ? [] : text.split(/[ \t]+/);
  if (written.length !== 5 && written.length !== 6) {
    throw new SpecError(CRON_FIELD_COUNT_RULE);
  }
  const fields = written.length === 5 ? ["0", ...written] : written;
  for (const [index, field] of fields.entries()) {
    const spec = FIELDS[index];
    if (spec !== undefined) {
      checkLetters(index, field, spec);
      checkSteps(index, field, spec);
    }
  }
  let parsed: CronExpression;
  try {
    parsed = parseWithLibrary(fields);
  } catch (error) {
    throw explainLibraryError(error, fields);
  }
  return { normalized: fields.join(" "), fields: toFieldValues(parsed) };
}

// The library's messages are written for programmers; find the field at fault by parsing
// each one alone against an otherwise permissive expression.
function explainLibraryError(error: unknown, fields: readonly string[]): SpecError {
  if (error instanceof Error && error.message.includes("Invalid explicit day of month")) {
    return new SpecError(CRON_NEVER_FIRES_RULE);
  }
  for (let index = 0; index < fields.length; index++) {
    const alone = ["0", "*", "*", "*", "*", "*"];
    alone[index] = fields[index] ?? "*";
    try {
      parseWithLibrary(alone);
    } catch {
      return invalidField(index, fields[index] ?? "");
    }
  }
  return new SpecError(CRON_INVALID_RULE);
}
