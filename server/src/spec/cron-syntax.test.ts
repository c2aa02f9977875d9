import { describe, expect, it } from "vitest";
import { compileCron } from "./cron.js";
import {
  CRON_CHARACTER_RULE,
  CRON_FIELD_COUNT_RULE,
  CRON_HASH_RULE,
  CRON_LENGTH_RULE,
  CRON_MACRO_RULE,
  CRON_NEVER_FIRES_RULE,
} from "./cron-syntax.js";
import { SpecError } from "./timetable-types.js";
import { TIME_ZONE_RULE } from "./zoned-time.js";

function ruleOf(expression: string, timeZone = "UTC"): string | undefined {
  try {
    compileCron(expression, timeZone);
    return undefined;
  } catch (error) {
    if (!(error instanceof SpecError)) {
      throw error;
    }
    return error.rule;
  }
}

describe("compileCron accepts", () => {
  it("5 and 6 fields, with the seconds field first", () => {
    expect(compileCron("*/15 * * * *", "UTC").normalized).toBe("0 */15 * * * *");
    expect(compileCron("30 */15 * * * *", "UTC").normalized).toBe("30 */15 * * * *");
  });

  it("surrounding and repeated blanks, tabs included", () => {
    expect(compileCron("  0  9 *\t* 1-5 ", "UTC").normalized).toBe("0 0 9 * * 1-5");
  });

  it("names, L, # and ? as cron-parser supports them", () => {
    for (const expression of [
      "0 0 1 jan,JUL *",
      "0 0 * * MON-FRI",
      "0 0 * * sun",
      "0 0 L * *",
      "0 0 1,15,L * *",
      "0 0 * * 5L",
      "0 0 * * FRI#3",
      "0 0 ? * 1",
      "0 0 * * 7",
      "0 0 29 2 *",
      "0 0 30 1-3 *",
    ]) {
      expect(ruleOf(expression)).toBeUndefined();
    }
  });

  it("the documented macros, in any case", () => {
    const normalized = (macro: string): string => compileCron(macro, "UTC").normalized;
    expect(normalized("@yearly")).toBe("0 0 0 1 1 *");
    expect(normalized("@annually")).toBe("0 0 0 1 1 *");
    expect(normalized("@monthly")).toBe("0 0 0 1 * *");
    expect(normalized("@weekly")).toBe("0 0 0 * * 0");
    expect(normalized("@daily")).toBe("0 0 0 * * *");
    expect(normalized("@midnight")).toBe("0 0 0 * * *");
    expect(normalized("@hourly")).toBe("0 0 * * * *");
    expect(normalized(" @Hourly ")).toBe("0 0 * * * *");
  });

  it("keeps the expression and zone as given", () => {
    const cron = compileCron(" @daily", "Europe/Berlin");
    expect(cron.expression).toBe(" @daily");
    expect(cron.timeZone).toBe("Europe/Berlin");
  });
});

describe("compileCron refuses", () => {
  it("a wrong number of fields, which cron-parser would pad or misread", () => {
    for (const expression of ["", "   ", "*", "* * * *", "* * * * * * *", "0 0 0 1 1 * 2026"]) {
      expect(ruleOf(expression)).toBe(CRON_FIELD_COUNT_RULE);
    }
    // Six fields are seconds-first, so a trailing year lands in the day-of-week field.
    expect(ruleOf("0 0 1 1 * 2026")).toMatch(/^has an invalid day-of-week field/);
  });

  it("macros Chime does not document", () => {
    for (const expression of ["@reboot", "@minutely", "@secondly", "@weekdays", "@", "@daily *"]) {
      expect(ruleOf(expression)).toBe(CRON_MACRO_RULE);
    }
  });

  it("values out of range, naming the field", () => {
    expect(ruleOf("60 * * * *")).toBe('has an invalid minute field "60" (allowed: 0-59)');
    expect(ruleOf("* 24 * * *")).toBe('has an invalid hour field "24" (allowed: 0-23)');
    expect(ruleOf("0 0 0 * *")).toBe('has an invalid day-of-month field "0" (allowed: 1-31 or L)');
    expect(ruleOf("0 0 32 * *")).toBe(
      'has an invalid day-of-month field "32" (allowed: 1-31 or L)',
    );
    expect(ruleOf("0 0 1 13 *")).toBe('has an invalid month field "13" (allowed: 1-12 or JAN-DEC)');
    expect(ruleOf("0 0 * * 8")).toMatch(/^has an invalid day-of-week field "8"/);
    expect(ruleOf("60 0 0 * * *")).toBe('has an invalid second field "60" (allowed: 0-59)');
  });

  it("malformed ranges, lists and steps", () => {
    for (const [expression, field] of [
      ["5-1 * * * *", "minute"],
      ["1- * * * *", "minute"],
      ["-5 * * * *", "minute"],
      ["1,,2 * * * *", "minute"],
      ["1, * * * *", "minute"],
      ["5,5 * * * *", "minute"],
      ["*/0 * * * *", "minute"],
      ["*/ * * * *", "minute"],
      ["1/2/3 * * * *", "minute"],
      // cron-parser would read these as 0, i.e. hourly.
      ["*/100 * * * *", "minute"],
      ["0 */25 * * *", "hour"],
      ["0 0 L-3 * *", "day-of-month"],
      ["0 0 5L * *", "day-of-month"],
      ["0 0 * * L", "day-of-week"],
      ["0 0 * * 1#6", "day-of-week"],
      ["0 0 * * 1#0", "day-of-week"],
      ["0 0 * * 1#2,3", "day-of-week"],
    ] as const) {
      expect(ruleOf(expression)).toMatch(new RegExp(`^has an invalid ${field} field`));
    }
  });

  it("names glued together, which cron-parser reads as other numbers", () => {
    // cron-parser turns "JANFEB" into 12 and "1JAN" into 11.
    expect(ruleOf("0 0 1 JANFEB *")).toMatch(/^has an invalid month field/);
    expect(ruleOf("0 0 1 1JAN *")).toMatch(/^has an invalid month field/);
    expect(ruleOf("0 0 1 JANUARY *")).toMatch(/^has an invalid month field/);
    expect(ruleOf("0 0 * * MON1")).toMatch(/^has an invalid day-of-week field/);
    expect(ruleOf("0 0 * * FRIL")).toMatch(/^has an invalid day-of-week field/);
    expect(ruleOf("0 0 1 MON *")).toMatch(/^has an invalid month field/);
    expect(ruleOf("JAN * * * *")).toMatch(/^has an invalid minute field/);
  });

  it("hashed values, which cron-parser draws at random per process", () => {
    expect(ruleOf("H * * * *")).toBe(CRON_HASH_RULE);
    expect(ruleOf("H/5 * * * *")).toBe(CRON_HASH_RULE);
    expect(ruleOf("0 H * * *")).toBe(CRON_HASH_RULE);
  });

  it("characters outside the cron alphabet, including line breaks", () => {
    for (const expression of [
      "0 0 * * 1\n",
      "\n0 0 * * 1",
      "0\n0 * * * *",
      "0 0 * * 1\r",
      "H(0-5) * * * *",
      "0 0 * * 1;",
      "0 0 * * 1\u00a0",
      "０ 0 * * *",
    ]) {
      expect(ruleOf(expression)).toBe(CRON_CHARACTER_RULE);
    }
    // W (nearest weekday) is not supported by cron-parser.
    expect(ruleOf("0 0 15W * *")).toMatch(/^has an invalid day-of-month field/);
  });

  it("expressions over 256 characters", () => {
    expect(ruleOf(`0 0 * * ${"1,".repeat(200)}1`)).toBe(CRON_LENGTH_RULE);
    expect(ruleOf("*".repeat(100_000))).toBe(CRON_LENGTH_RULE);
  });

  it("expressions that never fire", () => {
    for (const expression of [
      "0 0 30 2 *",
      "0 0 31 2 *",
      "0 0 31 4 *",
      "0 0 31 2,4,6,9,11 *",
      "0 0 30,31 2 *",
      "0 0 0 31 APR,JUN *",
    ]) {
      expect(ruleOf(expression)).toBe(CRON_NEVER_FIRES_RULE);
    }
  });

  it("an unknown time zone", () => {
    expect(ruleOf("* * * * *", "Mars/Olympus_Mons")).toBe(TIME_ZONE_RULE);
    expect(ruleOf("* * * * *", "+02:00")).toBe(TIME_ZONE_RULE);
  });
});

describe("compileCron on random input", () => {
  it("only ever throws SpecError", () => {
    let seed = 42;
    const random = (): number => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed / 4_294_967_296;
    };
    const pieces = [
      "*",
      "/",
      ",",
      "-",
      "#",
      "?",
      "L",
      "W",
      "H",
      " ",
      " ",
      " ",
      "\t",
      "@",
      "0",
      "1",
      "5",
      "7",
      "12",
      "29",
      "31",
      "59",
      "60",
      "99",
      "JAN",
      "mon",
      "x",
      "(",
      ")",
      "\u0000",
      "é",
      "@daily",
      "-1",
    ];
    let accepted = 0;
    for (let i = 0; i < 4000; i++) {
      const count = Math.floor(random() * 16);
      let expression = "";
      for (let j = 0; j < count; j++) {
        expression += pieces[Math.floor(random() * pieces.length)];
      }
      try {
        const cron = compileCron(expression, "Europe/Berlin");
        accepted += 1;
        const next = cron.next(Date.parse("2026-01-01T00:00:00Z"));
        expect(next === null || next > Date.parse("2026-01-01T00:00:00Z")).toBe(true);
      } catch (error) {
        expect(error).toBeInstanceOf(SpecError);
      }
    }
    expect(accepted).toBeGreaterThan(0);
  });
});
