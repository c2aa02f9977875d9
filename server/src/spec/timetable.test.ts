import { describe, expect, it } from "vitest";
import {
  BOUNDS_ORDER_RULE,
  compileTimetable,
  countOccurrencesBetween,
  LIMIT_RULE,
  MIN_INTERVAL_RULE,
  nextOccurrence,
  occurrencesBetween,
  TRIGGER_KIND_RULE,
  upcoming,
} from "./timetable.js";
import { SpecError, type TimetableDefinition, type Trigger } from "./timetable-types.js";

const at = (iso: string): number => Date.parse(iso);
const isos = (instants: readonly number[]): string[] =>
  instants.map((t) => new Date(t).toISOString());
const MINUTE = 60_000;

const once: TimetableDefinition = { trigger: { kind: "once", at: at("2026-06-01T12:00:00Z") } };
const everyMinute: TimetableDefinition = {
  trigger: { kind: "interval", everyMs: MINUTE, anchor: at("2026-06-01T00:00:00Z") },
};
const nineInBerlin: TimetableDefinition = {
  trigger: { kind: "cron", cron: "0 9 * * *", timeZone: "Europe/Berlin" },
};

function ruleOf(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(SpecError);
    return (error as SpecError).rule;
  }
}

describe("nextOccurrence", () => {
  it("gives a one-shot's instant while it is ahead, then null", () => {
    expect(nextOccurrence(once, at("2026-06-01T11:59:59.999Z"))).toBe(at("2026-06-01T12:00:00Z"));
    expect(nextOccurrence(once, at("2026-06-01T12:00:00Z"))).toBeNull();
    expect(nextOccurrence(once, at("2027-01-01T00:00:00Z"))).toBeNull();
  });

  it("follows a cron in its zone", () => {
    expect(nextOccurrence(nineInBerlin, at("2026-06-01T07:00:00Z"))).toBe(
      at("2026-06-02T07:00:00Z"),
    );
  });

  it("follows an interval from its anchor", () => {
    expect(nextOccurrence(everyMinute, at("2026-06-01T00:00:30Z"))).toBe(
      at("2026-06-01T00:01:00Z"),
    );
  });

  it("never gives an occurrence before startAt", () => {
    const def = { ...nineInBerlin, startAt: at("2026-06-10T07:00:00Z") };
    expect(nextOccurrence(def, at("2026-06-01T00:00:00Z"))).toBe(at("2026-06-10T07:00:00Z"));
    const later = { ...nineInBerlin, startAt: at("2026-06-10T07:00:00.001Z") };
    expect(nextOccurrence(later, at("2026-06-01T00:00:00Z"))).toBe(at("2026-06-11T07:00:00Z"));
    const tooLate = { ...once, startAt: at("2026-06-01T12:00:00.001Z") };
    expect(nextOccurrence(tooLate, 0)).toBeNull();
  });

  it("never gives an occurrence after endAt", () => {
    const def = { ...everyMinute, endAt: at("2026-06-01T00:10:00Z") };
    expect(nextOccurrence(def, at("2026-06-01T00:09:00Z"))).toBe(at("2026-06-01T00:10:00Z"));
    expect(nextOccurrence(def, at("2026-06-01T00:10:00Z"))).toBeNull();
    const cut = { ...everyMinute, endAt: at("2026-06-01T00:09:59.999Z") };
    expect(nextOccurrence(cut, at("2026-06-01T00:09:00Z"))).toBeNull();
  });

  it("allows startAt equal to endAt: at most that one instant", () => {
    const instant = at("2026-06-01T00:05:00Z");
    const def = { ...everyMinute, startAt: instant, endAt: instant };
    expect(upcoming(def, 0, 5)).toEqual([instant]);
  });
});

describe("occurrencesBetween", () => {
  it("lists occurrences in (after, until], oldest first", () => {
    expect(
      isos(
        occurrencesBetween(everyMinute, at("2026-06-01T00:00:00Z"), at("2026-06-01T00:03:00Z"), 10),
      ),
    ).toEqual(["2026-06-01T00:01:00.000Z", "2026-06-01T00:02:00.000Z", "2026-06-01T00:03:00.000Z"]);
    expect(
      isos(
        occurrencesBetween(
          nineInBerlin,
          at("2026-03-27T00:00:00Z"),
          at("2026-03-30T00:00:00Z"),
          10,
        ),
      ),
    ).toEqual(["2026-03-27T08:00:00.000Z", "2026-03-28T08:00:00.000Z", "2026-03-29T07:00:00.000Z"]);
  });

  it("stops at the limit", () => {
    expect(occurrencesBetween(everyMinute, 0, at("2030-01-01T00:00:00Z"), 4)).toHaveLength(4);
    expect(occurrencesBetween(everyMinute, 0, at("2030-01-01T00:00:00Z"), 0)).toEqual([]);
  });

  it("honours both bounds", () => {
    const def = {
      ...everyMinute,
      startAt: at("2026-06-01T00:02:30Z"),
      endAt: at("2026-06-01T00:05:00Z"),
    };
    expect(isos(occurrencesBetween(def, 0, at("2027-01-01T00:00:00Z"), 100))).toEqual([
      "2026-06-01T00:03:00.000Z",
      "2026-06-01T00:04:00.000Z",
      "2026-06-01T00:05:00.000Z",
    ]);
  });

  it("includes a one-shot once", () => {
    expect(occurrencesBetween(once, 0, at("2027-01-01T00:00:00Z"), 10)).toEqual([
      at("2026-06-01T12:00:00Z"),
    ]);
    expect(
      occurrencesBetween(once, at("2026-06-01T12:00:00Z"), at("2027-01-01T00:00:00Z"), 10),
    ).toEqual([]);
  });
});

describe("countOccurrencesBetween", () => {
  it("counts intervals in constant time, capped by the limit", () => {
    const year = [at("2026-06-01T00:00:00Z") - 1, at("2027-06-01T00:00:00Z") - 1] as const;
    expect(countOccurrencesBetween(everyMinute, year[0], year[1], 100_000)).toBe(100_000);
    const def: TimetableDefinition = {
      trigger: { kind: "interval", everyMs: 1000, anchor: 0 },
      endAt: 10 ** 15,
    };
    expect(countOccurrencesBetween(def, -1, 8e15, 7)).toBe(7);
  });

  it("agrees with listing", () => {
    for (const def of [
      once,
      everyMinute,
      nineInBerlin,
      { ...everyMinute, startAt: at("2026-06-01T00:30:00Z") },
    ]) {
      const from = at("2026-06-01T00:00:00Z");
      const to = at("2026-06-03T00:00:00Z");
      expect(countOccurrencesBetween(def, from, to, 5000)).toBe(
        occurrencesBetween(def, from, to, 5000).length,
      );
    }
  });
});

describe("upcoming", () => {
  it("lists the next n occurrences", () => {
    expect(isos(upcoming(nineInBerlin, at("2026-10-24T00:00:00Z"), 3))).toEqual([
      "2026-10-24T07:00:00.000Z",
      "2026-10-25T08:00:00.000Z",
      "2026-10-26T08:00:00.000Z",
    ]);
    expect(upcoming(once, 0, 3)).toEqual([at("2026-06-01T12:00:00Z")]);
  });
});

describe("compileTimetable", () => {
  it("answers the same as the one-off functions", () => {
    const compiled = compileTimetable(nineInBerlin);
    const after = at("2026-06-01T00:00:00Z");
    expect(compiled.definition).toBe(nineInBerlin);
    expect(compiled.next(after)).toBe(nextOccurrence(nineInBerlin, after));
    expect(compiled.upcoming(after, 5)).toEqual(upcoming(nineInBerlin, after, 5));
    expect(compiled.occurrencesBetween(after, after + 86_400_000 * 3, 10)).toHaveLength(3);
    expect(compiled.countOccurrencesBetween(after, after + 86_400_000 * 3, 10)).toBe(3);
  });

  it("refuses invalid definitions with a rule", () => {
    const interval = (everyMs: number, anchor = 0): Trigger => ({
      kind: "interval",
      everyMs,
      anchor,
    });
    expect(ruleOf(() => compileTimetable({ trigger: interval(999) }))).toBe(MIN_INTERVAL_RULE);
    expect(ruleOf(() => compileTimetable({ trigger: interval(0) }))).toBe(MIN_INTERVAL_RULE);
    expect(ruleOf(() => compileTimetable({ trigger: interval(1500.5) }))).toBeDefined();
    expect(ruleOf(() => compileTimetable({ trigger: interval(1000, Number.NaN) }))).toBeDefined();
    expect(
      ruleOf(() => compileTimetable({ trigger: { kind: "once", at: Number.NaN } })),
    ).toBeDefined();
    expect(
      ruleOf(() =>
        compileTimetable({ trigger: { kind: "cron", cron: "0 0 30 2 *", timeZone: "UTC" } }),
      ),
    ).toBe("never fires");
    expect(
      ruleOf(() =>
        compileTimetable({ trigger: { kind: "cron", cron: "* * * * *", timeZone: "Moon/Base" } }),
      ),
    ).toBe("is not a valid IANA time zone");
    expect(
      ruleOf(() => compileTimetable({ trigger: { kind: "weekly" } as unknown as Trigger })),
    ).toBe(TRIGGER_KIND_RULE);
    expect(ruleOf(() => compileTimetable({} as TimetableDefinition))).toBe(TRIGGER_KIND_RULE);
    expect(ruleOf(() => compileTimetable({ ...once, startAt: 10, endAt: 9 }))).toBe(
      BOUNDS_ORDER_RULE,
    );
    expect(ruleOf(() => compileTimetable({ ...once, startAt: 1.5 }))).toBeDefined();
  });

  it("refuses invalid queries with a rule", () => {
    const compiled = compileTimetable(everyMinute);
    expect(ruleOf(() => compiled.next(Number.NaN))).toBeDefined();
    expect(ruleOf(() => compiled.occurrencesBetween(0, 1, -1))).toBe(LIMIT_RULE);
    expect(ruleOf(() => compiled.occurrencesBetween(0, 1, 1e9))).toBe(LIMIT_RULE);
    expect(ruleOf(() => compiled.countOccurrencesBetween(0, 1, 0.5))).toBe(LIMIT_RULE);
    expect(ruleOf(() => compiled.upcoming(0, Number.POSITIVE_INFINITY))).toBe(LIMIT_RULE);
  });
});
