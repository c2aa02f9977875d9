import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration, parseInstant } from "./duration.js";
import { InvalidArgumentError } from "./errors.js";

describe("parseDuration", () => {
  it.each([
    [0, 0],
    [1500, 1500],
    ["0", 0],
    ["250ms", 250],
    ["90s", 90_000],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["7d", 604_800_000],
    ["1d2h3m4s5ms", 93_784_005],
    [" 10s ", 10_000],
  ] as const)("reads %j as %d ms", (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each([
    ["", /must be a duration/],
    ["abc", /not "abc"/],
    ["90", /add a unit/],
    ["5M", /must be a duration/],
    ["1h 30m", /must be a duration/],
    ["-5s", /must be a duration/],
    ["5 s", /must be a duration/],
    ["1w", /must be a duration/],
    ["s", /must be a duration/],
  ])("refuses %j with a clear InvalidArgumentError", (input, message) => {
    const call = () => parseDuration(input);
    expect(call).toThrow(InvalidArgumentError);
    expect(call).toThrow(TypeError);
    expect(call).toThrow(message);
  });

  it("refuses negative, infinite and non-numeric values", () => {
    expect(() => parseDuration(-1)).toThrow(/must not be negative/);
    expect(() => parseDuration(Number.NaN)).toThrow(InvalidArgumentError);
    expect(() => parseDuration(Number.POSITIVE_INFINITY)).toThrow(InvalidArgumentError);
    expect(() => parseDuration(null as unknown as string)).toThrow(/not a null/);
    expect(() => parseDuration("99999999999999999d")).toThrow(/too long/);
  });

  it("has no field of its own: callers name it", () => {
    try {
      parseDuration("soon");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).field).toBeUndefined();
      expect((err as InvalidArgumentError).name).toBe("InvalidArgumentError");
    }
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [250, "250ms"],
    [90_000, "1m30s"],
    [5_400_000, "1h30m"],
    [604_800_000, "7d"],
    [93_784_005, "1d2h3m4s5ms"],
  ])("writes %d ms as %s, which parseDuration reads back", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});

describe("parseInstant", () => {
  it.each([
    ["2026-03-01T02:00:00Z", Date.UTC(2026, 2, 1, 2)],
    ["2026-03-01T02:00Z", Date.UTC(2026, 2, 1, 2)],
    ["2026-03-01t02:00:00.5z", Date.UTC(2026, 2, 1, 2, 0, 0, 500)],
    ["2026-03-01T02:00:00.123456789Z", Date.UTC(2026, 2, 1, 2, 0, 0, 123)],
    ["2026-03-01 02:00:00Z", Date.UTC(2026, 2, 1, 2)],
    ["2026-03-01T02:00:00-05:00", Date.UTC(2026, 2, 1, 7)],
    ["2026-03-01T02:00:00+05:30", Date.UTC(2026, 2, 0, 20, 30)],
    ["2024-02-29T00:00:00Z", Date.UTC(2024, 1, 29)],
  ])("reads %j", (input, ms) => {
    expect(parseInstant(input).getTime()).toBe(ms);
  });

  it("takes Dates (copied) and epoch milliseconds", () => {
    const date = new Date(1_767_225_600_000);
    const parsed = parseInstant(date);
    expect(parsed.getTime()).toBe(date.getTime());
    expect(parsed).not.toBe(date);
    expect(parseInstant(1_767_225_600_000).toISOString()).toBe("2026-01-01T00:00:00.000Z");
  });

  it.each([
    ["2026-03-01T02:00:00", /no offset/],
    ["2026-03-01", /no offset/],
    ["tomorrow", /must be an instant/],
    ["2026-02-30T00:00:00Z", /day 30 is out of range/],
    ["2025-02-29T00:00:00Z", /day 29 is out of range/],
    ["2026-03-01T24:00:00Z", /hour 24 is out of range/],
    ["2026-13-01T00:00:00Z", /month 13 is out of range/],
    ["1767225600000", /must be an instant/],
  ])("refuses %j", (input, message) => {
    expect(() => parseInstant(input)).toThrow(InvalidArgumentError);
    expect(() => parseInstant(input)).toThrow(message);
  });

  it("refuses invalid Dates and non-finite numbers", () => {
    expect(() => parseInstant(new Date("nope"))).toThrow(/invalid Date/);
    expect(() => parseInstant(Number.NaN)).toThrow(InvalidArgumentError);
    expect(() => parseInstant(9e15)).toThrow(InvalidArgumentError);
  });
});
