import { describe, expect, it } from "vitest";
import {
  formatLocalDateTime,
  LOCAL_DATE_TIME_RULE,
  NONEXISTENT_DATE_TIME_RULE,
  parseLocalDateTime,
} from "./local-date-time.js";
import { SpecError } from "./timetable-types.js";

const wall = (iso: string): number => Date.parse(`${iso}Z`);

function ruleOf(text: string): string | undefined {
  try {
    parseLocalDateTime(text);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(SpecError);
    return (error as SpecError).rule;
  }
}

describe("parseLocalDateTime", () => {
  it("reads minutes, seconds and fractions", () => {
    expect(parseLocalDateTime("2026-03-29T02:30")).toBe(wall("2026-03-29T02:30:00"));
    expect(parseLocalDateTime("2026-03-29T02:30:00")).toBe(wall("2026-03-29T02:30:00"));
    expect(parseLocalDateTime("2026-03-29T02:30:00.250")).toBe(wall("2026-03-29T02:30:00.250"));
    expect(parseLocalDateTime("2026-03-29T02:30:00.5")).toBe(wall("2026-03-29T02:30:00.500"));
    expect(parseLocalDateTime("2026-03-29T02:30:00.123456789")).toBe(
      wall("2026-03-29T02:30:00.123"),
    );
    expect(parseLocalDateTime("2028-02-29T23:59:59")).toBe(wall("2028-02-29T23:59:59"));
    expect(parseLocalDateTime("0001-01-01T00:00")).toBe(Date.parse("0001-01-01T00:00:00Z"));
  });

  it("refuses offsets and Z: the zone is a separate field", () => {
    for (const text of [
      "2026-03-29T02:30:00Z",
      "2026-03-29T02:30:00z",
      "2026-03-29T02:30:00+02:00",
      "2026-03-29T02:30-05:00",
      "2026-03-29T02:30:00+0200",
    ]) {
      expect(ruleOf(text)).toBe(LOCAL_DATE_TIME_RULE);
    }
  });

  it("refuses other layouts and garbage", () => {
    for (const text of [
      "",
      " ",
      "2026-03-29",
      "2026-03-29 02:30:00",
      "2026-03-29t02:30:00",
      "2026-3-29T02:30",
      "26-03-29T02:30",
      "2026-03-29T2:30",
      "2026-03-29T02:30:0",
      "2026-03-29T02:30:00.",
      "2026-03-29T02:30:00.1234567890",
      "+002026-03-29T02:30",
      " 2026-03-29T02:30",
      "2026-03-29T02:30\n",
      "２０２６-03-29T02:30",
      "now",
      "x".repeat(100_000),
    ]) {
      expect(ruleOf(text)).toBe(LOCAL_DATE_TIME_RULE);
    }
  });

  it("refuses days and times that do not exist", () => {
    for (const text of [
      "2026-02-29T00:00",
      "2026-02-30T00:00",
      "2026-04-31T00:00",
      "2026-13-01T00:00",
      "2026-00-10T00:00",
      "2026-01-00T00:00",
      "2026-01-01T24:00",
      "2026-01-01T23:60",
      "2026-01-01T23:59:60",
      "0000-01-01T00:00",
      "2100-02-29T00:00",
    ]) {
      expect(ruleOf(text)).toBe(NONEXISTENT_DATE_TIME_RULE);
    }
  });

  it("throws only SpecError on random input", () => {
    let seed = 7;
    const random = (): number => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed / 4_294_967_296;
    };
    const alphabet = "0123456789-:T.Z+ tx\u0000\u00e9";
    for (let i = 0; i < 5000; i++) {
      const length = Math.floor(random() * 32);
      let text = "";
      for (let j = 0; j < length; j++) {
        text += alphabet[Math.floor(random() * alphabet.length)];
      }
      try {
        parseLocalDateTime(text);
      } catch (error) {
        expect(error).toBeInstanceOf(SpecError);
      }
    }
  });

  it("round-trips through formatLocalDateTime", () => {
    for (const text of [
      "2026-03-29T02:30:00.000",
      "0050-06-01T12:30:15.250",
      "9999-12-31T23:59:59.999",
    ]) {
      expect(formatLocalDateTime(parseLocalDateTime(text))).toBe(text);
    }
  });
});
