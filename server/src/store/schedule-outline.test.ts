import { clone, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  CronTriggerSchema,
  IntervalTriggerSchema,
  type Schedule,
  ScheduleSchema,
  TimeTriggerSchema,
} from "@chime/sdk";
import { describe, expect, it } from "vitest";
import { deriveProgress } from "../engine/progress.js";
import { planOf } from "../engine/schedule-plan.js";
import { outlineOf, plainOneShotAt } from "./schedule-outline.js";

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

describe("outlineOf", () => {
  it("leaves out what only a fire or a full view reads and keeps every other field", () => {
    const outline = fromBinary(ScheduleSchema, outlineOf(toBinary(ScheduleSchema, full)));
    expect(outline.payload).toHaveLength(0);
    expect(outline).toEqual(outlineFields);
  });

  it("leaves out a progress_at that says no more than its absence, and keeps any other", () => {
    const fresh = clone(ScheduleSchema, full);
    fresh.definedAt = timestampFromMs(1_700_000_000_000);
    fresh.progressAt = timestampFromMs(1_699_999_999_999);
    const outline = fromBinary(ScheduleSchema, outlineOf(toBinary(ScheduleSchema, fresh)));
    expect(outline.progressAt).toBeUndefined();
    // Read as its absence is read: the same progress from the outline as from the schedule.
    expect(deriveProgress(outline, planOf(outline), undefined)).toEqual(
      deriveProgress(fresh, planOf(fresh), undefined),
    );
    fresh.progressAt = timestampFromMs(1_699_999_999_998);
    expect(
      fromBinary(ScheduleSchema, outlineOf(toBinary(ScheduleSchema, fresh))).progressAt,
    ).toEqual(fresh.progressAt);
  });

  it("is much smaller than the schedule when the payload is most of it", () => {
    const encoded = toBinary(ScheduleSchema, full);
    expect(encoded.length - outlineOf(encoded).length).toBeGreaterThan(200);
  });

  it("returns the bytes as they are when there is nothing to leave out", () => {
    const encoded = toBinary(ScheduleSchema, outlineFields);
    expect(outlineOf(encoded)).toBe(encoded);
  });

  it("keeps fields written after the ones it leaves out, in their order", () => {
    const encoded = toBinary(ScheduleSchema, full);
    const outline = outlineOf(encoded);
    // Every byte of the outline is a byte of the original, in the same order.
    let at = 0;
    for (const byte of outline) {
      at = encoded.indexOf(byte, at) + 1;
      expect(at).toBeGreaterThan(0);
    }
    expect(fromBinary(ScheduleSchema, outline).namespace).toBe("acme");
  });
});

describe("plainOneShotAt", () => {
  const encode = (changes: Partial<Schedule>) =>
    toBinary(ScheduleSchema, { ...clone(ScheduleSchema, full), ...changes });

  it("reads when a one-shot is due, to the millisecond", () => {
    const at = timestampFromMs(1_800_000_000_123);
    const trigger = { case: "time", value: create(TimeTriggerSchema, { at }) } as const;
    expect(plainOneShotAt(encode({ trigger }))).toBe(1_800_000_000_123);
  });

  it("has no answer for a cron, an interval or a one-shot that also runs at once", () => {
    const cron = create(CronTriggerSchema, { cron: "* * * * *", timeZone: "UTC" });
    expect(plainOneShotAt(encode({ trigger: { case: "cron", value: cron } }))).toBeUndefined();
    const interval = create(IntervalTriggerSchema, { every: { seconds: 60n } });
    expect(
      plainOneShotAt(encode({ trigger: { case: "interval", value: interval } })),
    ).toBeUndefined();
    expect(plainOneShotAt(encode({ runImmediately: true }))).toBeUndefined();
  });
});
