import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { timestampAt } from "./proto-time.js";

describe("timestampAt", () => {
  it("is the timestamp timestampFromMs makes, from 1970 to 9999", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (ms) => {
        expect(timestampAt(ms)).toStrictEqual(timestampFromMs(ms));
      }),
    );
  });

  it("keeps its nanos within a second, and its instant, before 1970", () => {
    fc.assert(
      fc.property(fc.integer({ min: -62_135_596_800_000, max: -1 }), (ms) => {
        const at = timestampAt(ms);
        expect(at.nanos).toBeGreaterThanOrEqual(0);
        expect(at.nanos).toBeLessThan(1_000_000_000);
        expect(timestampMs(at)).toBe(ms);
      }),
    );
  });
});
