import { describe, expect, it } from "vitest";
import { INTERVAL_RULE, intervalOccurrencesBetween, nextIntervalOccurrence } from "./interval.js";
import { SpecError } from "./timetable-types.js";

const anchor = Date.parse("2026-03-29T00:00:00.123Z");

describe("nextIntervalOccurrence", () => {
  it("is the anchor until the anchor has passed", () => {
    expect(nextIntervalOccurrence(60_000, anchor, anchor - 1)).toBe(anchor);
    expect(nextIntervalOccurrence(60_000, anchor, anchor - 10 * 60_000)).toBe(anchor);
    expect(nextIntervalOccurrence(60_000, anchor, anchor)).toBe(anchor + 60_000);
  });

  it("is strictly after the reference", () => {
    expect(nextIntervalOccurrence(60_000, anchor, anchor + 5 * 60_000 - 1)).toBe(
      anchor + 5 * 60_000,
    );
    expect(nextIntervalOccurrence(60_000, anchor, anchor + 5 * 60_000)).toBe(anchor + 6 * 60_000);
  });

  it("does not drift over 10,000 periods", () => {
    for (const every of [1000, 1_234_567, 86_400_000 + 1, 7 * 86_400_000 - 3]) {
      let t = anchor - 1;
      let drifted = 0;
      for (let k = 0; k < 10_000; k++) {
        t = nextIntervalOccurrence(every, anchor, t);
        if (t !== anchor + k * every) {
          drifted += 1;
        }
      }
      expect(drifted).toBe(0);
    }
  });

  it("jumps straight to a far period without iterating", () => {
    const every = 1000;
    const after = anchor + 10 ** 12 * every + 1;
    expect(nextIntervalOccurrence(every, anchor, after)).toBe(anchor + (10 ** 12 + 1) * every);
  });

  it("is unaffected by DST: intervals are plain elapsed time", () => {
    const every = 3_600_000;
    const start = Date.parse("2026-03-29T00:00:00Z");
    expect(nextIntervalOccurrence(every, start, start)).toBe(Date.parse("2026-03-29T01:00:00Z"));
  });

  it("refuses invalid arguments with SpecError", () => {
    for (const every of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => nextIntervalOccurrence(every, anchor, anchor)).toThrowError(
        new SpecError(INTERVAL_RULE),
      );
    }
    expect(() => nextIntervalOccurrence(1000, Number.NaN, anchor)).toThrow(SpecError);
    expect(() => nextIntervalOccurrence(1000, anchor, 1.5)).toThrow(SpecError);
    expect(() => nextIntervalOccurrence(1000, anchor, 9e15)).toThrow(SpecError);
  });
});

describe("intervalOccurrencesBetween", () => {
  it("counts occurrences in (after, until]", () => {
    expect(intervalOccurrencesBetween(1000, anchor, anchor - 1, anchor)).toBe(1);
    expect(intervalOccurrencesBetween(1000, anchor, anchor, anchor + 1000)).toBe(1);
    expect(intervalOccurrencesBetween(1000, anchor, anchor, anchor + 999)).toBe(0);
    expect(intervalOccurrencesBetween(1000, anchor, anchor - 5000, anchor + 5000)).toBe(6);
    expect(intervalOccurrencesBetween(1000, anchor, anchor + 5000, anchor + 5000)).toBe(0);
    expect(intervalOccurrencesBetween(1000, anchor, anchor + 5000, anchor)).toBe(0);
  });

  it("counts a trillion occurrences in constant time", () => {
    expect(intervalOccurrencesBetween(1000, 0, -1, 10 ** 15 - 1)).toBe(10 ** 12);
  });

  it("agrees with stepping", () => {
    const every = 7_777;
    let stepped = 0;
    const after = anchor + 12_345;
    const until = anchor + 1_000_000;
    for (let t = nextIntervalOccurrence(every, anchor, after); t <= until; t += every) {
      stepped += 1;
    }
    expect(intervalOccurrencesBetween(every, anchor, after, until)).toBe(stepped);
  });
});
