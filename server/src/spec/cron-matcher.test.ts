import { CronExpressionParser } from "cron-parser";
import { describe, expect, it } from "vitest";
import { createCronMatcher } from "./cron-matcher.js";
import { parseCron } from "./cron-syntax.js";
import { SpecError } from "./timetable-types.js";

const HORIZON = 146_097 * 86_400_000;

/** Our wall-clock matcher and cron-parser's own UTC iteration, side by side. */
function compare(expression: string, start: number, count: number): void {
  const parsed = parseCron(expression);
  const matcher = createCronMatcher(parsed.fields);
  const library = CronExpressionParser.parse(parsed.normalized, {
    tz: "UTC",
    currentDate: new Date(start),
  });
  let ours = start;
  for (let i = 0; i < count; i++) {
    const theirs = library.next().getTime();
    const next = matcher.nextAfter(ours, ours + HORIZON);
    expect(next === null ? null : new Date(next).toISOString(), `${expression} #${i}`).toBe(
      new Date(theirs).toISOString(),
    );
    if (next === null) {
      return;
    }
    ours = next;
  }
}

function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe("the wall-clock matcher agrees with cron-parser in UTC", () => {
  it("on hand-picked expressions", () => {
    const starts = ["2026-01-01T00:00:00Z", "2027-02-27T23:59:59.500Z", "2028-12-31T12:34:56Z"].map(
      Date.parse,
    );
    for (const expression of [
      "* * * * * *",
      "*/15 * * * *",
      "0 */2 * * *",
      "5,35 9-17 * * 1-5",
      "0 0 31 * *",
      "0 0 L * *",
      "0 0 1,15,L * *",
      "0 0 * * 5L",
      "0 0 * * 1,5L",
      "0 0 * * FRI#3",
      "0 0 * * 1#5",
      "0 0 13 * 5",
      "0 0 L * 1",
      "0 0 */1 * 1",
      "0 0 ? * 1",
      "0 0 * * 0-7",
      "0 0 * * 5-7",
      "0 0 29 2 *",
      "0 0 28-31 2 *",
      "0 0 1 */3 *",
      "0 0 8-14 * 2",
      "10 20 3 4 5 6",
      "@weekly",
      "@monthly",
    ]) {
      for (const start of starts) {
        compare(expression, start, 12);
      }
    }
  });

  it("on random expressions", () => {
    const random = seededRandom(2026);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const int = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
    const field = (min: number, max: number): string => {
      const a = int(min, max);
      const b = int(a, max);
      const step = int(1, max - min + 1);
      return pick([
        "*",
        `${a}`,
        `${a}-${b}`,
        `*/${step}`,
        `${a}-${b}/${step}`,
        `${a},${b === a ? (a === max ? min : a + 1) : b}`,
      ]);
    };
    let compared = 0;
    for (let i = 0; i < 250; i++) {
      const dayOfWeek = pick([field(0, 7), `${int(0, 6)}L`, `${int(0, 6)}#${int(1, 5)}`, "*"]);
      const dayOfMonth = pick([field(1, 31), "L", "*", "?"]);
      const expression = [
        field(0, 59),
        field(0, 59),
        field(0, 23),
        dayOfMonth,
        field(1, 12),
        dayOfWeek,
      ].join(" ");
      const start = Date.UTC(
        int(1990, 2090),
        int(0, 11),
        int(1, 28),
        int(0, 23),
        int(0, 59),
        int(0, 59),
      );
      try {
        parseCron(expression);
      } catch (error) {
        expect(error).toBeInstanceOf(SpecError);
        continue;
      }
      compare(expression, start, 4);
      compared += 1;
    }
    expect(compared).toBeGreaterThan(150);
  });
});
