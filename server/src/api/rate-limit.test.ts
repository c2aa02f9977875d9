import { describe, expect, it } from "vitest";
import { TokenBuckets } from "./rate-limit.js";

/** A clock the test moves by hand, in milliseconds. */
function manualClock(start = 1_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    set: (ms: number) => {
      now = ms;
    },
  };
}

function takeMany(buckets: TokenBuckets, key: string, n: number): number[] {
  return Array.from({ length: n }, () => buckets.take(key));
}

describe("token buckets", () => {
  it("lets a burst through at once, then refuses until a token is back", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ perSecond: 10, burst: 3 }, clock.now);
    expect(takeMany(buckets, "a", 3)).toEqual([0, 0, 0]);
    // One token every 100 ms.
    expect(buckets.take("a")).toBe(100);
    clock.advance(40);
    expect(buckets.take("a")).toBe(60);
    clock.advance(60);
    expect(buckets.take("a")).toBe(0);
    expect(buckets.take("a")).toBe(100);
  });

  it("a refused call takes nothing", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ perSecond: 1, burst: 1 }, clock.now);
    expect(buckets.take("a")).toBe(0);
    for (let i = 0; i < 100; i++) expect(buckets.take("a")).toBe(1000);
    clock.advance(1000);
    expect(buckets.take("a")).toBe(0);
  });

  it("sustains the rate over time and never refills past the burst", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ perSecond: 50, burst: 5 }, clock.now);
    let allowed = 0;
    // 10 s of a caller trying every millisecond: the burst, then 50 per second.
    for (let ms = 0; ms < 10_000; ms++) {
      if (buckets.take("a") === 0) allowed++;
      clock.advance(1);
    }
    expect(allowed).toBe(5 + 500 - 1);
    // An hour's quiet refills to the burst, not beyond.
    clock.advance(3_600_000);
    expect(takeMany(buckets, "a", 6).filter((wait) => wait === 0)).toHaveLength(5);
  });

  it("keeps one bucket per key", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ perSecond: 1, burst: 2 }, clock.now);
    expect(takeMany(buckets, "a", 3)).toEqual([0, 0, 1000]);
    expect(takeMany(buckets, "b", 2)).toEqual([0, 0]);
    expect(buckets.take("a")).toBe(1000);
  });

  it("handles rates below one per second", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ perSecond: 0.01, burst: 2 }, clock.now);
    expect(takeMany(buckets, "a", 3)).toEqual([0, 0, 100_000]);
    clock.advance(99_999);
    expect(buckets.take("a")).toBe(1);
    clock.advance(1);
    expect(buckets.take("a")).toBe(0);
  });

  it("ignores a clock that goes back", () => {
    const clock = manualClock(10_000);
    const buckets = new TokenBuckets({ perSecond: 10, burst: 1 }, clock.now);
    expect(buckets.take("a")).toBe(0);
    clock.set(5_000);
    expect(buckets.take("a")).toBeGreaterThan(0);
    clock.set(10_100);
    expect(buckets.take("a")).toBe(0);
  });

  it("refuses limits it cannot honour", () => {
    expect(() => new TokenBuckets({ perSecond: 0, burst: 1 })).toThrow(RangeError);
    expect(() => new TokenBuckets({ perSecond: Number.NaN, burst: 1 })).toThrow(RangeError);
    expect(() => new TokenBuckets({ perSecond: 1, burst: 0 })).toThrow(RangeError);
    expect(() => new TokenBuckets({ perSecond: 1, burst: 1.5 })).toThrow(RangeError);
  });
});
