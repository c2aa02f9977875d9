import { describe, expect, it } from "vitest";
import { planCatchup } from "./misfire.js";
import { type Instant, MisfirePolicy, SpecError } from "./timetable-types.js";

const MINUTE = 60_000;
const now = Date.parse("2026-06-01T12:00:00Z");
// Missed every 10 minutes for the last hour: 11:00 … 11:50.
const missed: Instant[] = Array.from({ length: 6 }, (_, i) => now - 60 * MINUTE + i * 10 * MINUTE);
const base = { missed, now, catchupWindowMs: 30 * MINUTE, maxCatchupFires: 10 };

describe("planCatchup", () => {
  it("fire_once coalesces into the latest occurrence when it is inside the window", () => {
    expect(planCatchup({ ...base, policy: MisfirePolicy.fireOnce })).toEqual({
      fire: [now - 10 * MINUTE],
      skipped: 5,
    });
  });

  it("fire_once fires nothing when even the latest is outside the window", () => {
    expect(
      planCatchup({ ...base, policy: MisfirePolicy.fireOnce, catchupWindowMs: 9 * MINUTE }),
    ).toEqual({ fire: [], skipped: 6 });
  });

  it("treats the window as inclusive", () => {
    expect(
      planCatchup({ ...base, policy: MisfirePolicy.fireOnce, catchupWindowMs: 10 * MINUTE }),
    ).toEqual({ fire: [now - 10 * MINUTE], skipped: 5 });
  });

  it("skip fires nothing", () => {
    expect(planCatchup({ ...base, policy: MisfirePolicy.skip })).toEqual({ fire: [], skipped: 6 });
  });

  it("fire_all fires each occurrence inside the window, oldest first", () => {
    expect(planCatchup({ ...base, policy: MisfirePolicy.fireAll })).toEqual({
      fire: [now - 30 * MINUTE, now - 20 * MINUTE, now - 10 * MINUTE],
      skipped: 3,
    });
  });

  it("fire_all keeps the latest occurrences when it must cut", () => {
    expect(
      planCatchup({
        ...base,
        policy: MisfirePolicy.fireAll,
        catchupWindowMs: Number.POSITIVE_INFINITY,
        maxCatchupFires: 2,
      }),
    ).toEqual({ fire: [now - 20 * MINUTE, now - 10 * MINUTE], skipped: 4 });
    expect(planCatchup({ ...base, policy: MisfirePolicy.fireAll, maxCatchupFires: 0 })).toEqual({
      fire: [],
      skipped: 6,
    });
  });

  it("handles nothing missed", () => {
    for (const policy of Object.values(MisfirePolicy)) {
      expect(planCatchup({ ...base, missed: [], policy })).toEqual({ fire: [], skipped: 0 });
    }
  });

  it("does not depend on the input being sorted", () => {
    const shuffled = [missed[3], missed[5], missed[0], missed[4]] as Instant[];
    expect(planCatchup({ ...base, missed: shuffled, policy: MisfirePolicy.fireOnce }).fire).toEqual(
      [now - 10 * MINUTE],
    );
    expect(planCatchup({ ...base, missed: shuffled, policy: MisfirePolicy.fireAll }).fire).toEqual([
      now - 30 * MINUTE,
      now - 20 * MINUTE,
      now - 10 * MINUTE,
    ]);
  });

  it("does not change its input", () => {
    const input = [...missed].reverse();
    const copy = [...input];
    planCatchup({ ...base, missed: input, policy: MisfirePolicy.fireAll });
    expect(input).toEqual(copy);
  });

  it("refuses invalid settings with SpecError", () => {
    const bad = [
      { ...base, policy: "sometimes" as MisfirePolicy },
      { ...base, policy: MisfirePolicy.fireAll, catchupWindowMs: -1 },
      { ...base, policy: MisfirePolicy.fireAll, catchupWindowMs: Number.NaN },
      { ...base, policy: MisfirePolicy.fireAll, maxCatchupFires: -1 },
      { ...base, policy: MisfirePolicy.fireAll, maxCatchupFires: 1.5 },
    ];
    for (const input of bad) {
      expect(() => planCatchup(input)).toThrow(SpecError);
    }
  });
});
