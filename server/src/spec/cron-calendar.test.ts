import { describe, expect, it } from "vitest";
import { compileCron } from "./cron.js";

function fires(expression: string, timeZone: string, after: string, count: number): string[] {
  const cron = compileCron(expression, timeZone);
  const result: string[] = [];
  let t = Date.parse(after);
  for (let i = 0; i < count; i++) {
    const next = cron.next(t);
    if (next === null) {
      break;
    }
    result.push(new Date(next).toISOString());
    t = next;
  }
  return result;
}

describe("cron with seconds", () => {
  it("steps through seconds", () => {
    expect(fires("*/20 * * * * *", "UTC", "2026-05-01T12:00:00Z", 4)).toEqual([
      "2026-05-01T12:00:20.000Z",
      "2026-05-01T12:00:40.000Z",
      "2026-05-01T12:01:00.000Z",
      "2026-05-01T12:01:20.000Z",
    ]);
    expect(fires("30 15 10 * * *", "UTC", "2026-05-01T12:00:00Z", 2)).toEqual([
      "2026-05-02T10:15:30.000Z",
      "2026-05-03T10:15:30.000Z",
    ]);
  });

  it("rounds a reference with milliseconds up, never firing at or before it", () => {
    expect(fires("* * * * * *", "UTC", "2026-05-01T12:00:00.001Z", 1)).toEqual([
      "2026-05-01T12:00:01.000Z",
    ]);
    expect(fires("* * * * *", "UTC", "2026-05-01T12:00:59.999Z", 1)).toEqual([
      "2026-05-01T12:01:00.000Z",
    ]);
  });
});

describe("cron macros", () => {
  it("fire where their expansions do", () => {
    const after = "2026-05-13T10:20:00Z"; // a Wednesday
    expect(fires("@hourly", "UTC", after, 1)).toEqual(["2026-05-13T11:00:00.000Z"]);
    expect(fires("@daily", "UTC", after, 1)).toEqual(["2026-05-14T00:00:00.000Z"]);
    expect(fires("@midnight", "Europe/Berlin", after, 1)).toEqual(["2026-05-13T22:00:00.000Z"]);
    expect(fires("@weekly", "UTC", after, 1)).toEqual(["2026-05-17T00:00:00.000Z"]);
    expect(fires("@monthly", "UTC", after, 1)).toEqual(["2026-06-01T00:00:00.000Z"]);
    expect(fires("@yearly", "UTC", after, 1)).toEqual(["2027-01-01T00:00:00.000Z"]);
    expect(fires("@annually", "America/New_York", after, 1)).toEqual(["2027-01-01T05:00:00.000Z"]);
  });
});

describe("cron at the ends of months", () => {
  it("skips months without a 31st", () => {
    expect(fires("0 0 31 * *", "UTC", "2026-01-01T00:00:00Z", 7)).toEqual([
      "2026-01-31T00:00:00.000Z",
      "2026-03-31T00:00:00.000Z",
      "2026-05-31T00:00:00.000Z",
      "2026-07-31T00:00:00.000Z",
      "2026-08-31T00:00:00.000Z",
      "2026-10-31T00:00:00.000Z",
      "2026-12-31T00:00:00.000Z",
    ]);
  });

  it("finds the last day of every month with L", () => {
    expect(fires("0 0 L * *", "UTC", "2027-12-15T00:00:00Z", 4)).toEqual([
      "2027-12-31T00:00:00.000Z",
      "2028-01-31T00:00:00.000Z",
      "2028-02-29T00:00:00.000Z",
      "2028-03-31T00:00:00.000Z",
    ]);
    expect(fires("0 12 L 2 *", "UTC", "2099-01-01T00:00:00Z", 2)).toEqual([
      "2099-02-28T12:00:00.000Z",
      "2100-02-28T12:00:00.000Z",
    ]);
  });

  it("finds the last and the n-th weekday of the month", () => {
    expect(fires("0 0 * * 5L", "UTC", "2026-01-01T00:00:00Z", 3)).toEqual([
      "2026-01-30T00:00:00.000Z",
      "2026-02-27T00:00:00.000Z",
      "2026-03-27T00:00:00.000Z",
    ]);
    expect(fires("0 0 * * FRI#3", "UTC", "2026-01-01T00:00:00Z", 3)).toEqual([
      "2026-01-16T00:00:00.000Z",
      "2026-02-20T00:00:00.000Z",
      "2026-03-20T00:00:00.000Z",
    ]);
  });

  it("fires on day of month OR day of week when both are restricted", () => {
    // The 13th, and every Friday.
    expect(fires("0 0 13 * 5", "UTC", "2026-02-01T00:00:00Z", 5)).toEqual([
      "2026-02-06T00:00:00.000Z",
      "2026-02-13T00:00:00.000Z",
      "2026-02-20T00:00:00.000Z",
      "2026-02-27T00:00:00.000Z",
      "2026-03-06T00:00:00.000Z",
    ]);
  });
});

describe("cron on leap days", () => {
  it("fires on 29 February only in leap years", () => {
    expect(fires("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", 3)).toEqual([
      "2028-02-29T00:00:00.000Z",
      "2032-02-29T00:00:00.000Z",
      "2036-02-29T00:00:00.000Z",
    ]);
  });

  it("skips 2100, which is not a leap year", () => {
    expect(fires("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", 1)).toEqual([
      "2104-02-29T00:00:00.000Z",
    ]);
  });

  it("finds a fifth Monday of February, decades apart", () => {
    expect(fires("0 0 * 2 MON#5", "UTC", "2016-03-01T00:00:00Z", 2)).toEqual([
      "2044-02-29T00:00:00.000Z",
      "2072-02-29T00:00:00.000Z",
    ]);
  });

  it("keeps the local reading of a leap-day fire in a zone", () => {
    expect(fires("30 8 29 2 *", "Australia/Lord_Howe", "2026-01-01T00:00:00Z", 1)).toEqual([
      "2028-02-28T21:30:00.000Z",
    ]);
  });
});

describe("cron over long horizons", () => {
  it("fires on New Year for ten years in a row", () => {
    const expected = Array.from({ length: 10 }, (_, i) => `${2027 + i}-01-01T00:00:00.000Z`);
    expect(fires("0 0 1 1 *", "UTC", "2026-06-01T00:00:00Z", 10)).toEqual(expected);
    const berlin = Array.from({ length: 10 }, (_, i) => `${2026 + i}-12-31T23:00:00.000Z`);
    expect(fires("0 0 1 1 *", "Europe/Berlin", "2026-06-01T00:00:00Z", 10)).toEqual(berlin);
  });

  it("keeps going to the end of the Date range, then returns null", () => {
    expect(fires("0 0 1 1 *", "UTC", "+275759-06-01T00:00:00Z", 3)).toEqual([
      "+275760-01-01T00:00:00.000Z",
    ]);
    expect(compileCron("* * * * *", "UTC").next(8_640_000_000_000_000)).toBeNull();
  });

  it("works before 1970 and in early years", () => {
    expect(fires("0 12 1 1 *", "UTC", "1969-06-01T00:00:00Z", 1)).toEqual([
      "1970-01-01T12:00:00.000Z",
    ]);
    expect(fires("0 0 29 2 *", "UTC", "0001-01-01T00:00:00Z", 1)).toEqual([
      "0004-02-29T00:00:00.000Z",
    ]);
  });
});
