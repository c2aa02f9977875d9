import { describe, expect, it } from "vitest";
import { compileCron, nextCronOccurrence } from "./cron.js";

/** The first `count` fire instants strictly after `after`, as ISO UTC without the date's year. */
function fires(expression: string, timeZone: string, after: string, count: number): string[] {
  const cron = compileCron(expression, timeZone);
  const result: string[] = [];
  let t = Date.parse(after);
  for (let i = 0; i < count; i++) {
    const next = nextCronOccurrence(cron, t);
    if (next === null) {
      break;
    }
    result.push(new Date(next).toISOString().slice(5, 19));
    t = next;
  }
  return result;
}

// Transitions in 2026:
// America/New_York     8 Mar 02:00 EST → 03:00 EDT (07:00Z);  1 Nov 02:00 EDT → 01:00 EST (06:00Z)
// Europe/Berlin       29 Mar 02:00 CET → 03:00 CEST (01:00Z); 25 Oct 03:00 CEST → 02:00 CET (01:00Z)
// Australia/Lord_Howe  5 Apr 02:00 +11 → 01:30 +10:30 (15:00Z on 4 Apr);
//                      4 Oct 02:00 +10:30 → 02:30 +11 (15:30Z on 3 Oct)

describe("cron in UTC", () => {
  it("has no transitions to work around", () => {
    expect(fires("30 2 * * *", "UTC", "2026-03-28T00:00:00Z", 3)).toEqual([
      "03-28T02:30:00",
      "03-29T02:30:00",
      "03-30T02:30:00",
    ]);
    expect(fires("0 * * * *", "UTC", "2026-10-25T00:30:00Z", 3)).toEqual([
      "10-25T01:00:00",
      "10-25T02:00:00",
      "10-25T03:00:00",
    ]);
  });

  it("is strictly after the reference instant", () => {
    expect(fires("*/15 * * * *", "UTC", "2026-01-01T00:15:00Z", 1)).toEqual(["01-01T00:30:00"]);
    expect(fires("*/15 * * * *", "UTC", "2026-01-01T00:14:59.999Z", 1)).toEqual(["01-01T00:15:00"]);
  });
});

describe("cron in America/New_York", () => {
  it("fires a time in the spring gap once, at the first instant after it", () => {
    // 02:30 does not exist on 8 March; 03:00 EDT is 07:00Z.
    expect(fires("30 2 * * *", "America/New_York", "2026-03-07T00:00:00Z", 3)).toEqual([
      "03-07T07:30:00",
      "03-08T07:00:00",
      "03-09T06:30:00",
    ]);
  });

  it("fires every quarter hour once across the gap", () => {
    // 01:45 EST, then 02:00-02:45 collapse onto 03:00 EDT with 03:00 itself, then 03:15 EDT.
    expect(fires("*/15 * * * *", "America/New_York", "2026-03-08T06:30:00Z", 4)).toEqual([
      "03-08T06:45:00",
      "03-08T07:00:00",
      "03-08T07:15:00",
      "03-08T07:30:00",
    ]);
    expect(fires("0 * * * *", "America/New_York", "2026-03-08T05:30:00Z", 3)).toEqual([
      "03-08T06:00:00",
      "03-08T07:00:00",
      "03-08T08:00:00",
    ]);
  });

  it("fires a repeated time once, on its first occurrence", () => {
    expect(fires("30 1 * * *", "America/New_York", "2026-10-31T00:00:00Z", 3)).toEqual([
      "10-31T05:30:00",
      "11-01T05:30:00",
      "11-02T06:30:00",
    ]);
    // 01:00 EDT (05:00Z); 01:00 EST (06:00Z) is a repeat; then 02:00 EST.
    expect(fires("0 * * * *", "America/New_York", "2026-11-01T04:30:00Z", 3)).toEqual([
      "11-01T05:00:00",
      "11-01T07:00:00",
      "11-01T08:00:00",
    ]);
    expect(fires("*/15 * * * *", "America/New_York", "2026-11-01T05:30:00Z", 3)).toEqual([
      "11-01T05:45:00",
      "11-01T07:00:00",
      "11-01T07:15:00",
    ]);
  });

  it("fires 02:30 once on the fall-back day, where it is not repeated", () => {
    expect(fires("30 2 * * *", "America/New_York", "2026-10-31T00:00:00Z", 3)).toEqual([
      "10-31T06:30:00",
      "11-01T07:30:00",
      "11-02T07:30:00",
    ]);
  });

  it("skips the rest of the repeated hour when asked from inside it", () => {
    // 06:20Z reads 01:20 EST, the second pass: everything up to 02:00 EST already fired.
    expect(fires("*/15 * * * *", "America/New_York", "2026-11-01T06:20:00Z", 2)).toEqual([
      "11-01T07:00:00",
      "11-01T07:15:00",
    ]);
    expect(fires("* * * * * *", "America/New_York", "2026-11-01T06:30:00Z", 2)).toEqual([
      "11-01T07:00:00",
      "11-01T07:00:01",
    ]);
    expect(fires("* * * * * *", "America/New_York", "2026-11-01T05:59:58Z", 2)).toEqual([
      "11-01T05:59:59",
      "11-01T07:00:00",
    ]);
  });
});

describe("cron in Europe/Berlin", () => {
  it("fires a time in the spring gap once, at the first instant after it", () => {
    expect(fires("30 2 * * *", "Europe/Berlin", "2026-03-28T00:00:00Z", 3)).toEqual([
      "03-28T01:30:00",
      "03-29T01:00:00",
      "03-30T00:30:00",
    ]);
    expect(fires("*/15 * * * *", "Europe/Berlin", "2026-03-29T00:30:00Z", 3)).toEqual([
      "03-29T00:45:00",
      "03-29T01:00:00",
      "03-29T01:15:00",
    ]);
    expect(fires("0 * * * *", "Europe/Berlin", "2026-03-28T23:30:00Z", 3)).toEqual([
      "03-29T00:00:00",
      "03-29T01:00:00",
      "03-29T02:00:00",
    ]);
  });

  it("fires a repeated time once, on its first occurrence", () => {
    expect(fires("30 2 * * *", "Europe/Berlin", "2026-10-24T00:00:00Z", 3)).toEqual([
      "10-24T00:30:00",
      "10-25T00:30:00",
      "10-26T01:30:00",
    ]);
    expect(fires("*/15 * * * *", "Europe/Berlin", "2026-10-25T00:30:00Z", 3)).toEqual([
      "10-25T00:45:00",
      "10-25T02:00:00",
      "10-25T02:15:00",
    ]);
    expect(fires("0 * * * *", "Europe/Berlin", "2026-10-24T23:30:00Z", 3)).toEqual([
      "10-25T00:00:00",
      "10-25T02:00:00",
      "10-25T03:00:00",
    ]);
  });

  it("keeps a daily time on the same local reading across both transitions", () => {
    expect(fires("0 9 * * *", "Europe/Berlin", "2026-03-28T00:00:00Z", 2)).toEqual([
      "03-28T08:00:00",
      "03-29T07:00:00",
    ]);
    expect(fires("0 9 * * *", "Europe/Berlin", "2026-10-24T00:00:00Z", 2)).toEqual([
      "10-24T07:00:00",
      "10-25T08:00:00",
    ]);
  });
});

describe("cron in Australia/Lord_Howe (half-hour DST)", () => {
  it("fires a time in the half-hour gap once, at the first instant after it", () => {
    expect(fires("15 2 * * *", "Australia/Lord_Howe", "2026-10-02T00:00:00Z", 3)).toEqual([
      "10-02T15:45:00",
      "10-03T15:30:00",
      "10-04T15:15:00",
    ]);
    // 01:45, then 02:00 and 02:15 collapse onto 02:30 with 02:30 itself.
    expect(fires("*/15 * * * *", "Australia/Lord_Howe", "2026-10-03T15:00:00Z", 4)).toEqual([
      "10-03T15:15:00",
      "10-03T15:30:00",
      "10-03T15:45:00",
      "10-03T16:00:00",
    ]);
    // 01:00 +10:30, 02:00 (in the gap) → 02:30 +11, 03:00 +11.
    expect(fires("0 * * * *", "Australia/Lord_Howe", "2026-10-03T14:00:00Z", 3)).toEqual([
      "10-03T14:30:00",
      "10-03T15:30:00",
      "10-03T16:00:00",
    ]);
  });

  it("fires 02:30, the first reading after the gap, once on each transition day", () => {
    expect(fires("30 2 * * *", "Australia/Lord_Howe", "2026-10-02T00:00:00Z", 3)).toEqual([
      "10-02T16:00:00",
      "10-03T15:30:00",
      "10-04T15:30:00",
    ]);
    expect(fires("30 2 * * *", "Australia/Lord_Howe", "2026-04-03T00:00:00Z", 3)).toEqual([
      "04-03T15:30:00",
      "04-04T16:00:00",
      "04-05T16:00:00",
    ]);
  });

  it("fires a time in the repeated half hour once, on its first occurrence", () => {
    expect(fires("30 1 * * *", "Australia/Lord_Howe", "2026-04-04T00:00:00Z", 2)).toEqual([
      "04-04T14:30:00",
      "04-05T15:00:00",
    ]);
    expect(fires("45 1 * * *", "Australia/Lord_Howe", "2026-04-03T00:00:00Z", 3)).toEqual([
      "04-03T14:45:00",
      "04-04T14:45:00",
      "04-05T15:15:00",
    ]);
    // 01:30 and 01:45 repeat; 02:00 +10:30 is 15:30Z.
    expect(fires("*/15 * * * *", "Australia/Lord_Howe", "2026-04-04T14:00:00Z", 5)).toEqual([
      "04-04T14:15:00",
      "04-04T14:30:00",
      "04-04T14:45:00",
      "04-04T15:30:00",
      "04-04T15:45:00",
    ]);
    // 01:00 happens once (the repeat is 01:30-02:00), so the hourly cron loses nothing.
    expect(fires("0 * * * *", "Australia/Lord_Howe", "2026-04-04T13:30:00Z", 3)).toEqual([
      "04-04T14:00:00",
      "04-04T15:30:00",
      "04-04T16:30:00",
    ]);
  });
});

describe("cron fire instants", () => {
  it("strictly increase through a whole year in every zone, minute by minute", () => {
    for (const zone of ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe"]) {
      const cron = compileCron("*/5 * * * *", zone);
      let t = Date.parse("2026-01-01T00:00:00Z");
      const end = Date.parse("2027-01-01T00:00:00Z");
      let count = 0;
      let problems = 0;
      while (t < end) {
        const next = cron.next(t);
        if (next === null || next <= t || next - t > 65 * 60_000) {
          problems += 1;
          break;
        }
        t = next;
        count += 1;
      }
      expect(problems).toBe(0);
      // 365 days of 288 fires, less the fires lost to the repeated hour or half hour.
      const lost = zone === "Australia/Lord_Howe" ? 6 : 12;
      expect(count).toBe(365 * 288 - lost);
    }
  });
});
