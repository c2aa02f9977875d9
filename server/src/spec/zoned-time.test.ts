import { describe, expect, it } from "vitest";
import { parseLocalDateTime } from "./local-date-time.js";
import { SpecError } from "./timetable-types.js";
import {
  assertTimeZone,
  instantToWallClock,
  isTimeZone,
  offsetAt,
  TIME_ZONE_RULE,
  wallClockToInstant,
} from "./zoned-time.js";

const at = (iso: string): number => Date.parse(iso);
const iso = (instant: number): string => new Date(instant).toISOString();
const MINUTE = 60_000;

/** The instant for a local reading, as ISO UTC. */
const resolve = (local: string, timeZone: string): string =>
  iso(wallClockToInstant(parseLocalDateTime(local), timeZone));

describe("assertTimeZone", () => {
  it("accepts IANA names, UTC and Etc zones", () => {
    for (const zone of [
      "UTC",
      "Etc/UTC",
      "Etc/GMT+5",
      "Etc/GMT-14",
      "Europe/Berlin",
      "America/New_York",
      "America/Argentina/Buenos_Aires",
      "Australia/Lord_Howe",
      "Asia/Kolkata",
      "US/Eastern",
    ]) {
      expect(() => assertTimeZone(zone)).not.toThrow();
      expect(isTimeZone(zone)).toBe(true);
    }
  });

  it("refuses offsets, padding, unknown names and garbage", () => {
    for (const zone of [
      "",
      " ",
      "+02:00",
      "-0500",
      "Z",
      "UTC+1",
      "GMT+5",
      " UTC",
      "Europe/Berlin ",
      "Mars/Olympus_Mons",
      "Local",
      "../../etc/passwd",
      "Europe//Berlin",
      "Europe/Berlin\u0000",
      "A".repeat(10_000),
    ]) {
      expect(() => assertTimeZone(zone)).toThrowError(new SpecError(TIME_ZONE_RULE));
      expect(isTimeZone(zone)).toBe(false);
    }
  });

  it("is what every zone-taking function checks first", () => {
    expect(() => offsetAt(0, "Nowhere/Else")).toThrow(SpecError);
    expect(() => instantToWallClock(0, "+01:00")).toThrow(SpecError);
    expect(() => wallClockToInstant(0, "")).toThrow(SpecError);
  });
});

describe("offsetAt", () => {
  it("gives standard and summer offsets", () => {
    expect(offsetAt(at("2026-01-15T12:00:00Z"), "Europe/Berlin")).toBe(60 * MINUTE);
    expect(offsetAt(at("2026-07-15T12:00:00Z"), "Europe/Berlin")).toBe(120 * MINUTE);
    expect(offsetAt(at("2026-01-15T12:00:00Z"), "America/New_York")).toBe(-300 * MINUTE);
    expect(offsetAt(at("2026-07-15T12:00:00Z"), "America/New_York")).toBe(-240 * MINUTE);
    expect(offsetAt(at("2026-07-15T12:00:00Z"), "Australia/Lord_Howe")).toBe(630 * MINUTE);
    expect(offsetAt(at("2026-01-15T12:00:00Z"), "Australia/Lord_Howe")).toBe(660 * MINUTE);
    expect(offsetAt(at("2026-07-15T12:00:00Z"), "Asia/Kolkata")).toBe(330 * MINUTE);
    expect(offsetAt(at("2026-07-15T12:00:00Z"), "UTC")).toBe(0);
  });

  it("changes exactly at the transition instant", () => {
    expect(offsetAt(at("2026-03-29T00:59:59.999Z"), "Europe/Berlin")).toBe(60 * MINUTE);
    expect(offsetAt(at("2026-03-29T01:00:00.000Z"), "Europe/Berlin")).toBe(120 * MINUTE);
    expect(offsetAt(at("2026-10-25T00:59:59.999Z"), "Europe/Berlin")).toBe(120 * MINUTE);
    expect(offsetAt(at("2026-10-25T01:00:00.000Z"), "Europe/Berlin")).toBe(60 * MINUTE);
    expect(offsetAt(at("2026-10-03T15:29:59.999Z"), "Australia/Lord_Howe")).toBe(630 * MINUTE);
    expect(offsetAt(at("2026-10-03T15:30:00.000Z"), "Australia/Lord_Howe")).toBe(660 * MINUTE);
  });

  it("keeps seconds of historical local mean time", () => {
    // Madras time, +05:21:10, was India's reference until 1906.
    expect(offsetAt(at("1900-01-01T00:00:00Z"), "Asia/Kolkata")).toBe(
      (5 * 3600 + 21 * 60 + 10) * 1000,
    );
  });

  it("matches Intl read directly, across many zones, decades and cache refills", () => {
    const formats = new Map<string, Intl.DateTimeFormat>();
    const reference = (instant: number, timeZone: string): number => {
      const format =
        formats.get(timeZone) ??
        new Intl.DateTimeFormat("en-US", {
          timeZone,
          hourCycle: "h23",
          year: "numeric",
          month: "numeric",
          day: "numeric",
          hour: "numeric",
          minute: "numeric",
          second: "numeric",
        });
      formats.set(timeZone, format);
      const parts = format.formatToParts(instant);
      const field = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
      const second = Math.floor(instant / 1000) * 1000;
      const wall = Date.UTC(
        field("year"),
        field("month") - 1,
        field("day"),
        field("hour"),
        field("minute"),
        field("second"),
      );
      return wall - second;
    };
    const zones = [
      "Europe/Berlin",
      "America/Santiago",
      "Africa/Casablanca",
      "Pacific/Chatham",
      "Asia/Kathmandu",
      "Pacific/Apia",
      "Australia/Lord_Howe",
      "America/St_Johns",
    ];
    let seed = 11;
    const random = (): number => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed / 4_294_967_296;
    };
    const from = at("1950-01-01T00:00:00Z");
    const to = at("2040-01-01T00:00:00Z");
    const wrong: string[] = [];
    for (const zone of zones) {
      // Over 4096 distinct days per zone, so each zone's day cache fills and starts again.
      for (let i = 0; i < 5000; i++) {
        const instant = Math.floor(from + random() * (to - from));
        if (offsetAt(instant, zone) !== reference(instant, zone)) {
          wrong.push(`${zone} ${iso(instant)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it("stays defined at the ends of the Date range", () => {
    expect(Number.isFinite(offsetAt(-8.64e15, "Europe/Berlin"))).toBe(true);
    expect(Number.isFinite(offsetAt(8.64e15, "America/New_York"))).toBe(true);
    expect(() => offsetAt(Number.NaN, "Europe/Berlin")).toThrow(SpecError);
  });
});

describe("wallClockToInstant", () => {
  it("maps ordinary readings", () => {
    expect(resolve("2026-01-15T09:00", "Europe/Berlin")).toBe("2026-01-15T08:00:00.000Z");
    expect(resolve("2026-07-15T09:00", "America/New_York")).toBe("2026-07-15T13:00:00.000Z");
    expect(resolve("2026-07-15T09:00", "UTC")).toBe("2026-07-15T09:00:00.000Z");
    expect(resolve("2026-07-15T09:00:00.250", "Asia/Kolkata")).toBe("2026-07-15T03:30:00.250Z");
  });

  it("moves a reading in the spring-forward gap to the first instant after the gap", () => {
    expect(resolve("2026-03-29T02:00", "Europe/Berlin")).toBe("2026-03-29T01:00:00.000Z");
    expect(resolve("2026-03-29T02:30", "Europe/Berlin")).toBe("2026-03-29T01:00:00.000Z");
    expect(resolve("2026-03-29T02:59:59.999", "Europe/Berlin")).toBe("2026-03-29T01:00:00.000Z");
    expect(resolve("2026-03-29T03:00", "Europe/Berlin")).toBe("2026-03-29T01:00:00.000Z");
    expect(resolve("2026-03-29T01:59:59.999", "Europe/Berlin")).toBe("2026-03-29T00:59:59.999Z");
    expect(resolve("2026-03-08T02:30", "America/New_York")).toBe("2026-03-08T07:00:00.000Z");
    // Lord Howe springs forward by half an hour, 02:00 → 02:30.
    expect(resolve("2026-10-04T02:15", "Australia/Lord_Howe")).toBe("2026-10-03T15:30:00.000Z");
    expect(resolve("2026-10-04T02:30", "Australia/Lord_Howe")).toBe("2026-10-03T15:30:00.000Z");
    // Samoa skipped 30 December 2011 altogether.
    expect(resolve("2011-12-30T12:00", "Pacific/Apia")).toBe("2011-12-30T10:00:00.000Z");
  });

  it("maps a repeated reading to its first occurrence", () => {
    expect(resolve("2026-10-25T02:00", "Europe/Berlin")).toBe("2026-10-25T00:00:00.000Z");
    expect(resolve("2026-10-25T02:30", "Europe/Berlin")).toBe("2026-10-25T00:30:00.000Z");
    expect(resolve("2026-10-25T02:59:59.999", "Europe/Berlin")).toBe("2026-10-25T00:59:59.999Z");
    expect(resolve("2026-10-25T03:00", "Europe/Berlin")).toBe("2026-10-25T02:00:00.000Z");
    expect(resolve("2026-11-01T01:30", "America/New_York")).toBe("2026-11-01T05:30:00.000Z");
    // Lord Howe falls back by half an hour, 02:00 → 01:30.
    expect(resolve("2026-04-05T01:45", "Australia/Lord_Howe")).toBe("2026-04-04T14:45:00.000Z");
    expect(resolve("2026-04-05T01:29", "Australia/Lord_Howe")).toBe("2026-04-04T14:29:00.000Z");
    expect(resolve("2026-04-05T02:00", "Australia/Lord_Howe")).toBe("2026-04-04T15:30:00.000Z");
  });

  it("inverts instantToWallClock, preferring the earlier of two instants", () => {
    const zones = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"];
    const start = at("2026-01-01T00:00:00Z");
    for (const zone of zones) {
      // Every 7 minutes 13 seconds for a year crosses both transitions at many phases.
      const wrong: string[] = [];
      for (let instant = start; instant < start + 366 * 86_400_000; instant += 433_000) {
        const wall = instantToWallClock(instant, zone);
        const back = wallClockToInstant(wall, zone);
        const holds =
          instantToWallClock(back, zone) === wall &&
          back <= instant &&
          instant - back <= 60 * MINUTE;
        if (!holds) {
          wrong.push(iso(instant));
        }
      }
      expect(wrong, zone).toEqual([]);
    }
  });

  it("refuses a non-finite reading", () => {
    expect(() => wallClockToInstant(Number.NaN, "Europe/Berlin")).toThrow(SpecError);
    expect(() => wallClockToInstant(Number.POSITIVE_INFINITY, "UTC")).toThrow(SpecError);
  });
});
