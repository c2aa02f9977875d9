import { describe, expect, it } from "vitest";
import { jitterOffset } from "./jitter.js";

const nominal = Date.parse("2026-06-01T12:00:00Z");

describe("jitterOffset", () => {
  it("is deterministic in (schedule id, nominal time)", () => {
    for (let i = 0; i < 100; i++) {
      const id = `sched-${i}`;
      expect(jitterOffset(id, nominal + i, 60_000)).toBe(jitterOffset(id, nominal + i, 60_000));
    }
  });

  it("stays fixed across releases: a changed hash would move jittered fires", () => {
    expect([
      jitterOffset("a", 0, 1_000_000),
      jitterOffset("schedule-1", nominal, 60_000),
      jitterOffset("schedule-1", nominal + 60_000, 60_000),
      jitterOffset("schedule-2", nominal, 60_000),
    ]).toEqual([562_182, 57_131, 55_780, 30_654]);
  });

  it("lies in [0, max) and spreads evenly", () => {
    const max = 1000;
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 20_000; i++) {
      const offset = jitterOffset(`id-${i % 200}`, nominal + Math.floor(i / 200) * 60_000, max);
      expect(Number.isInteger(offset) && offset >= 0 && offset < max).toBe(true);
      buckets[Math.floor(offset / 100)] = (buckets[Math.floor(offset / 100)] ?? 0) + 1;
    }
    for (const count of buckets) {
      expect(count).toBeGreaterThan(1700);
      expect(count).toBeLessThan(2300);
    }
  });

  it("varies with the id and with the nominal time", () => {
    const byId = new Set<number>();
    const byTime = new Set<number>();
    for (let i = 0; i < 100; i++) {
      byId.add(jitterOffset(`id-${i}`, nominal, 1_000_000));
      byTime.add(jitterOffset("id", nominal + i * 1000, 1_000_000));
    }
    expect(byId.size).toBeGreaterThan(95);
    expect(byTime.size).toBeGreaterThan(95);
  });

  it("uses the high bits of the nominal time too", () => {
    const low = nominal % 2 ** 32;
    expect(jitterOffset("id", low, 1_000_000)).not.toBe(
      jitterOffset("id", low + 2 ** 32, 1_000_000),
    );
  });

  it("is 0 without a positive maximum", () => {
    for (const max of [0, -5, 0.5, Number.NaN]) {
      expect(jitterOffset("id", nominal, max)).toBe(0);
    }
    expect(jitterOffset("id", nominal, 1)).toBe(0);
  });

  it("handles empty and unusual ids and huge maxima", () => {
    for (const id of ["", "😀", "x".repeat(10_000)]) {
      const offset = jitterOffset(id, nominal, Number.POSITIVE_INFINITY);
      expect(Number.isSafeInteger(offset) && offset >= 0).toBe(true);
    }
  });
});
