import { describe, expect, it } from "vitest";
import { isScheduleId, newScheduleId, SCHEDULE_ID_LENGTH } from "./schedule-id.js";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** The creation time an id's first ten characters carry, in Unix ms. */
function timeOf(id: string): number {
  let ms = 0;
  for (const c of id.slice(0, 10)) ms = ms * 32 + CROCKFORD.indexOf(c);
  return ms;
}

describe("newScheduleId", () => {
  it("carries its creation time in its first ten characters, as a ULID does", () => {
    for (const now of [0, 1, 1_733_000_000_123, 2 ** 48 - 1]) {
      const id = newScheduleId(now);
      expect(id).toHaveLength(SCHEDULE_ID_LENGTH);
      expect(isScheduleId(id)).toBe(true);
      expect(timeOf(id)).toBe(now);
    }
    expect(newScheduleId(0).slice(0, 10)).toBe("0000000000");
    expect(newScheduleId(2 ** 48 - 1).slice(0, 10)).toBe("7ZZZZZZZZZ");
  });

  it("sorts by creation time, and later ids never sort before earlier ones", () => {
    const ids = [5, 1_000, 1_733_000_000_000, 1_733_000_000_001].map(newScheduleId);
    expect([...ids].sort()).toEqual(ids);
  });

  it("draws different random parts, across refills of its random pool", () => {
    const ids = new Set<string>();
    // Past 256 ids the pool of random bytes is drawn again.
    for (let i = 0; i < 2_000; i++) ids.add(newScheduleId(1_733_000_000_000));
    expect(ids.size).toBe(2_000);
    const randomChars = new Set([...ids].flatMap((id) => [...id.slice(10)]));
    expect(randomChars.size).toBe(32);
  });
});
