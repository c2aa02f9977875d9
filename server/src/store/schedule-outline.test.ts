import { clone, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  CronTriggerSchema,
  IntervalTriggerSchema,
  type Schedule,
  ScheduleSchema,
  TimeTriggerSchema,
} from "@chime/sdk";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deriveProgress } from "../engine/progress.js";
import { planOf } from "../engine/schedule-plan.js";
import { farAheadOutline } from "./schedule-outline.js";

/** `full`'s one-shot is due in 2027: far ahead of this instant. */
const BEFORE_DUE = 1_700_000_000_000;
const outlineOf = (encoded: Uint8Array): Uint8Array | undefined =>
  farAheadOutline(encoded, BEFORE_DUE);

const full = create(ScheduleSchema, {
  scheduleId: "01JCHIME0000000000000000AB",
  name: "nightly",
  subject: "tasks.report",
  payload: new Uint8Array(200).fill(7),
  headers: { "X-Tenant": "acme", "X-Trace": "1" },
  labels: { team: "billing" },
  contentType: "application/json",
  trigger: { case: "time", value: { at: timestampFromMs(1_800_000_000_000) } },
  partition: 5,
  namespace: "acme",
  definedAt: timestampFromMs(1_700_000_000_000),
  createdAt: timestampFromMs(1_700_000_000_000),
  updatedAt: timestampFromMs(1_700_000_000_001),
  pausedAt: timestampFromMs(1_700_000_000_002),
  progressAt: timestampFromMs(1_700_000_000_003),
});

/** `full` with what an outline leaves out left out. */
const outlineFields: Schedule = {
  ...full,
  payload: new Uint8Array(0),
  headers: {},
  contentType: "",
  createdAt: undefined,
  updatedAt: undefined,
  pausedAt: undefined,
};

describe("farAheadOutline of a one-shot due after the instant given", () => {
  it("leaves out what only a fire or a full view reads and keeps every other field", () => {
    const outline = fromBinary(ScheduleSchema, mustOutline(toBinary(ScheduleSchema, full)));
    expect(outline.payload).toHaveLength(0);
    expect(outline).toEqual(outlineFields);
  });

  it("leaves out a progress_at that says no more than its absence, and keeps any other", () => {
    const fresh = clone(ScheduleSchema, full);
    fresh.definedAt = timestampFromMs(1_700_000_000_000);
    fresh.progressAt = timestampFromMs(1_699_999_999_999);
    const outline = fromBinary(ScheduleSchema, mustOutline(toBinary(ScheduleSchema, fresh)));
    expect(outline.progressAt).toBeUndefined();
    // Read as its absence is read: the same progress from the outline as from the schedule.
    expect(deriveProgress(outline, planOf(outline), undefined)).toEqual(
      deriveProgress(fresh, planOf(fresh), undefined),
    );
    fresh.progressAt = timestampFromMs(1_699_999_999_998);
    expect(
      fromBinary(ScheduleSchema, mustOutline(toBinary(ScheduleSchema, fresh))).progressAt,
    ).toEqual(fresh.progressAt);
  });

  it("is much smaller than the schedule when the payload is most of it", () => {
    const encoded = toBinary(ScheduleSchema, full);
    expect(encoded.length - mustOutline(encoded).length).toBeGreaterThan(200);
  });

  it("returns the bytes as they are when there is nothing to leave out", () => {
    const encoded = toBinary(ScheduleSchema, outlineFields);
    expect(outlineOf(encoded)).toBe(encoded);
  });

  it("keeps fields written after the ones it leaves out, in their order", () => {
    const encoded = toBinary(ScheduleSchema, full);
    const outline = mustOutline(encoded);
    // Every byte of the outline is a byte of the original, in the same order.
    let at = 0;
    for (const byte of outline) {
      at = encoded.indexOf(byte, at) + 1;
      expect(at).toBeGreaterThan(0);
    }
    expect(fromBinary(ScheduleSchema, outline).namespace).toBe("acme");
  });
});

describe("farAheadOutline of any other schedule", () => {
  const encode = (changes: Partial<Schedule>) =>
    toBinary(ScheduleSchema, { ...clone(ScheduleSchema, full), ...changes });

  it("has none for a one-shot due at or before the instant given, to the millisecond", () => {
    const at = timestampFromMs(1_800_000_000_123);
    const encoded = encode({ trigger: { case: "time", value: create(TimeTriggerSchema, { at }) } });
    expect(farAheadOutline(encoded, 1_800_000_000_122)).toBeDefined();
    expect(farAheadOutline(encoded, 1_800_000_000_123)).toBeUndefined();
  });

  it("has none for a cron, an interval or a one-shot that also runs at once", () => {
    const cron = create(CronTriggerSchema, { cron: "* * * * *", timeZone: "UTC" });
    expect(outlineOf(encode({ trigger: { case: "cron", value: cron } }))).toBeUndefined();
    const interval = create(IntervalTriggerSchema, { every: { seconds: 60n } });
    expect(outlineOf(encode({ trigger: { case: "interval", value: interval } }))).toBeUndefined();
    expect(outlineOf(encode({ runImmediately: true }))).toBeUndefined();
  });

  it("answers as a full decode would, for any kind of schedule and any fields set", () => {
    const instant = fc.integer({ min: 0, max: 4_000_000_000_000 }).map(timestampFromMs);
    const trigger = fc.oneof(
      instant.map((at) => ({ case: "time", value: create(TimeTriggerSchema, { at }) }) as const),
      fc.constant({
        case: "cron",
        value: create(CronTriggerSchema, { cron: "* * * * *", timeZone: "UTC" }),
      } as const),
      fc.integer({ min: 1, max: 1e6 }).map(
        (seconds) =>
          ({
            case: "interval",
            value: create(IntervalTriggerSchema, { every: { seconds: BigInt(seconds) } }),
          }) as const,
      ),
    );
    const schedule = fc.record({
      trigger,
      runImmediately: fc.boolean(),
      maxFires: fc.nat(),
      labels: fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })),
      headers: fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })),
      payload: fc.uint8Array({ maxLength: 40 }),
      definedAt: instant,
      progressAt: fc.option(instant, { nil: undefined }),
      startAt: fc.option(instant, { nil: undefined }),
    });
    fc.assert(
      fc.property(schedule, fc.integer({ min: 0, max: 4_000_000_000_000 }), (changes, dueAfter) => {
        const definition = { ...clone(ScheduleSchema, full), ...changes };
        const outline = farAheadOutline(toBinary(ScheduleSchema, definition), dueAfter);
        const { trigger: t } = definition;
        const farAhead =
          t.case === "time" &&
          !definition.runImmediately &&
          timestampMs(t.value.at ?? timestampFromMs(0)) > dueAfter;
        if (!farAhead) {
          expect(outline).toBeUndefined();
          return;
        }
        const saysNothing =
          definition.progressAt !== undefined &&
          timestampMs(definition.progressAt) ===
            timestampMs(definition.definedAt ?? timestampFromMs(0)) - 1;
        expect(fromBinary(ScheduleSchema, outline ?? new Uint8Array())).toEqual({
          ...definition,
          ...outlineFields,
          trigger: definition.trigger,
          labels: definition.labels,
          maxFires: definition.maxFires,
          runImmediately: false,
          definedAt: definition.definedAt,
          startAt: definition.startAt,
          progressAt: saysNothing ? undefined : definition.progressAt,
        });
      }),
      { numRuns: 300 },
    );
  });
});

function mustOutline(encoded: Uint8Array): Uint8Array {
  const outline = outlineOf(encoded);
  if (outline === undefined) throw new Error("no outline for a far-ahead one-shot");
  return outline;
}
