import { InvalidArgumentError, parseDuration, parseInstant } from "@chime/sdk";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CRON_HORIZON_MS, compileCron } from "./cron.js";
import { parseLocalDateTime } from "./local-date-time.js";
import { planCatchup } from "./misfire.js";
import { subjectPatternProblem, subjectProblem } from "./subject.js";
import { compileTimetable } from "./timetable.js";
import {
  MAX_INSTANT,
  MIN_INSTANT,
  SpecError,
  type TimetableDefinition,
} from "./timetable-types.js";
import { assertTimeZone, instantToWallClock, wallClockToInstant } from "./zoned-time.js";

// Every parser that reads client input, fed garbage: each must answer or throw its typed
// error, never anything else, and never hang. fast-check prints the seed and the shrunk
// input of a failure; CHIME_PROPERTY_SEED and CHIME_PROPERTY_RUNS reproduce or widen a run.
const seed = process.env.CHIME_PROPERTY_SEED ? Number(process.env.CHIME_PROPERTY_SEED) : undefined;
const runs = (n: number): fc.Parameters<unknown> => ({
  seed,
  numRuns: Math.round(n * Number(process.env.CHIME_PROPERTY_RUNS_FACTOR ?? 1)),
});

/** Runs `parse`; a thrown value must be an instance of `expected`. */
function answersOrThrows<T, E extends Error>(
  parse: () => T,
  expected: abstract new (...args: never[]) => E,
): T | E {
  try {
    return parse();
  } catch (err) {
    if (err instanceof expected) return err;
    throw new Error(`threw ${String(err)} instead of a ${expected.name}`, { cause: err });
  }
}

// Strings that look almost right are where parsers break: mix the characters of the format
// with the rest of Unicode.
const nearly = (alphabet: string, maxLength = 40) =>
  fc.oneof(
    fc.string({ unit: fc.constantFrom(...alphabet), maxLength }),
    fc.string({ unit: "grapheme", maxLength }),
    fc.string({ unit: "binary", maxLength }),
    fc.string({ maxLength: 2000 }),
  );

const CRON_ALPHABET = "0123456789*/,-?#L LW@JANFEBMONSUNHhourlydaily\t\n";

// One cron field made of the pieces cron-parser knows, in random combinations.
const cronField = fc
  .array(
    fc.oneof(
      fc.constantFrom("*", "?", "L", "1L", "5L", "MON", "feb", "SUN-SAT", "JAN-DEC"),
      fc.nat(70).map(String),
      fc.tuple(fc.nat(70), fc.nat(70)).map(([a, b]) => `${a}-${b}`),
      fc.tuple(fc.constantFrom("*", "0", "5-40"), fc.nat(70)).map(([a, b]) => `${a}/${b}`),
      fc.tuple(fc.nat(8), fc.nat(7)).map(([a, b]) => `${a}#${b}`),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((parts) => parts.join(","));
const cronExpression = fc.oneof(
  fc.array(cronField, { minLength: 5, maxLength: 6 }).map((fields) => fields.join(" ")),
  nearly(CRON_ALPHABET, 60),
);
const ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata"];
const zone = fc.oneof(fc.constantFrom(...ZONES), nearly("ABCabc/_+-0123456789", 70));
const instant = fc.oneof(
  fc.integer({ min: 0, max: 4_102_444_800_000 }),
  fc.integer({ min: MIN_INSTANT, max: MAX_INSTANT }),
);
const number = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 2 ** 53, -(2 ** 53), 1e300),
);

describe("cron expressions", () => {
  it("compile or throw SpecError; a compiled cron answers next() with a later instant or null", () => {
    fc.assert(
      fc.property(cronExpression, zone, instant, (expression, timeZone, after) => {
        const compiled = answersOrThrows(() => compileCron(expression, timeZone), SpecError);
        if (compiled instanceof SpecError) return;
        const next = compiled.next(after);
        expect(next === null || next > after).toBe(true);
      }),
      runs(600),
    );
  });

  it.each([
    "0 0 30 2 *",
    "0 0 31 4 *",
    "0 0 31 6 *",
    "0 0 31 9 *",
    "0 0 31 11 *",
    "0 0 30,31 2 *",
    "0 0 31 2,4,6,9,11 *",
    "0 0 0 31 2 *",
  ])("%s never fires: SpecError 'never fires'", (expression) => {
    expect(() => compileCron(expression, "UTC")).toThrow(new SpecError("never fires"));
  });

  it("the rarest crons are found within one calendar cycle, and fall outside the horizon", () => {
    // The fifth Monday of February: only when 29 February is a Monday, every 28 years or more.
    const rare = compileCron("0 0 * 2 1#5", "UTC");
    const after = Date.UTC(2017, 0, 1);
    const first = rare.next(after);
    expect(first).toBe(Date.UTC(2044, 1, 29));
    expect((first ?? 0) - after).toBeGreaterThan(CRON_HORIZON_MS);
    expect(rare.next(Date.UTC(2044, 1, 29))).toBe(Date.UTC(2072, 1, 29));
  });
});

describe("time zones, wall clocks and local date-times", () => {
  it("a time zone is accepted or refused with SpecError", () => {
    fc.assert(
      fc.property(zone, (timeZone) => {
        answersOrThrows(() => assertTimeZone(timeZone), SpecError);
      }),
      runs(3000),
    );
  });

  it("a local date-time parses to a wall-clock reading or throws SpecError", () => {
    const dateLike = fc.oneof(
      fc
        .tuple(
          fc.integer({ min: -1, max: 10_000 }),
          fc.integer({ min: -1, max: 14 }),
          fc.integer({ min: -1, max: 33 }),
          fc.integer({ min: -1, max: 25 }),
          fc.integer({ min: -1, max: 61 }),
          fc.integer({ min: -1, max: 61 }),
          fc.nat(999_999_999),
        )
        .map(
          ([y, mo, d, h, mi, s, f]) =>
            `${String(y).padStart(4, "0")}-${String(mo).padStart(2, "0")}-${String(d).padStart(2, "0")}T${String(h).padStart(2, "0")}:${String(mi).padStart(2, "0")}:${String(s).padStart(2, "0")}.${f}`,
        ),
      nearly("0123456789-T:.Z+ ", 70),
    );
    fc.assert(
      fc.property(dateLike, fc.constantFrom(...ZONES), (text, timeZone) => {
        const wall = answersOrThrows(() => parseLocalDateTime(text), SpecError);
        if (wall instanceof SpecError) return;
        const at = wallClockToInstant(wall, timeZone);
        expect(Number.isInteger(at)).toBe(true);
      }),
      runs(3000),
    );
  });

  it("wall-clock conversions take any number, answering or throwing SpecError", () => {
    fc.assert(
      fc.property(number, fc.constantFrom(...ZONES), (value, timeZone) => {
        answersOrThrows(() => wallClockToInstant(value, timeZone), SpecError);
        answersOrThrows(() => instantToWallClock(value, timeZone), SpecError);
      }),
      runs(2000),
    );
  });
});

describe("timetables and misfires", () => {
  it("a definition of any shape compiles or throws SpecError", () => {
    const trigger = fc.oneof(
      fc.record({ kind: fc.constant("once"), at: number }),
      fc.record({ kind: fc.constant("interval"), everyMs: number, anchor: number }),
      fc.record({ kind: fc.constant("cron"), cron: cronExpression, timeZone: zone }),
      fc.anything(),
    );
    const definition = fc.record(
      { trigger, startAt: number, endAt: number },
      { requiredKeys: ["trigger"] },
    );
    fc.assert(
      fc.property(definition, instant, (raw, after) => {
        const compiled = answersOrThrows(
          () => compileTimetable(raw as unknown as TimetableDefinition),
          SpecError,
        );
        if (compiled instanceof SpecError) return;
        const next = compiled.next(after);
        expect(next === null || next > after).toBe(true);
        expect(compiled.upcoming(after, 3).length).toBeLessThanOrEqual(3);
      }),
      runs(600),
    );
  });

  it("planCatchup takes any numbers and never makes up more than maxCatchupFires", () => {
    fc.assert(
      fc.property(
        fc.array(number, { maxLength: 200 }),
        number,
        fc.constantFrom("fire_once", "skip", "fire_all", "other"),
        number,
        number,
        (missed, now, policy, catchupWindowMs, maxCatchupFires) => {
          const plan = answersOrThrows(
            () =>
              planCatchup({
                missed,
                now,
                policy: policy as "fire_all",
                catchupWindowMs,
                maxCatchupFires,
              }),
            SpecError,
          );
          if (plan instanceof SpecError) return;
          expect(plan.fire.length).toBeLessThanOrEqual(Math.max(1, maxCatchupFires));
          expect(plan.fire.length + plan.skipped).toBe(missed.length);
        },
      ),
      runs(2000),
    );
  });
});

describe("subjects", () => {
  it("any string is accepted or refused with a rule, never an exception", () => {
    const subject = fc.oneof(nearly("tasks.$>*_INBOX chime.internal\u0000\u00a0", 300));
    fc.assert(
      fc.property(subject, (text) => {
        const problem = subjectProblem(text, ["tasks.>"], ["chime.internal.>"]);
        if (problem === null) {
          expect(text.startsWith("tasks.")).toBe(true);
          expect(text).not.toMatch(/[\s*>$]|\.\./);
        }
        const pattern = subjectPatternProblem(text);
        expect(pattern === null || typeof pattern === "string").toBe(true);
      }),
      runs(3000),
    );
  });
});

describe("the SDK's duration and instant parsers", () => {
  it("a duration parses to whole non-negative milliseconds or throws InvalidArgumentError", () => {
    const durationLike = fc.oneof(
      fc
        .array(
          fc.tuple(
            fc.oneof(fc.nat().map(String), fc.double({ min: 0, noNaN: true }).map(String)),
            fc.constantFrom("ms", "s", "m", "h", "d", "M", "y", ""),
          ),
          { maxLength: 6 },
        )
        .map((parts) => parts.map(([n, unit]) => `${n}${unit}`).join("")),
      fc.string({ unit: fc.constantFrom(..."0123456789."), maxLength: 400 }).map((s) => `${s}d`),
      nearly("0123456789.mshd -+eE", 60),
    );
    fc.assert(
      fc.property(fc.oneof(durationLike, number), (value) => {
        const ms = answersOrThrows(() => parseDuration(value), InvalidArgumentError);
        if (ms instanceof InvalidArgumentError) return;
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(Number.isFinite(ms)).toBe(true);
      }),
      runs(3000),
    );
  });

  it("an instant parses to a valid Date or throws InvalidArgumentError", () => {
    const instantLike = fc.oneof(
      fc
        .date({ noInvalidDate: false })
        .map((d) => (Number.isNaN(d.getTime()) ? "x" : d.toISOString())),
      fc
        .tuple(
          fc.integer({ min: 0, max: 99_999 }),
          fc.integer({ min: 0, max: 99 }),
          fc.integer({ min: 0, max: 99 }),
          fc.constantFrom("Z", "+14:00", "-99:99", "+00:00", ""),
        )
        .map(
          ([y, mo, d, off]) =>
            `${y}-${String(mo).padStart(2, "0")}-${String(d).padStart(2, "0")}T12:00:00${off}`,
        ),
      nearly("0123456789-T:.Z+ ", 60),
    );
    fc.assert(
      fc.property(fc.oneof(instantLike, number), (value) => {
        const date = answersOrThrows(() => parseInstant(value), InvalidArgumentError);
        if (date instanceof InvalidArgumentError) return;
        expect(Number.isNaN(date.getTime())).toBe(false);
      }),
      runs(3000),
    );
  });
});
