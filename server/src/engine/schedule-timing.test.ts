import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { MisfirePolicy, ScheduleSchema, ScheduleState } from "@chime/sdk";
import { describe, expect, it } from "vitest";
import { decodeScheduleTiming } from "./schedule-timing.js";

/** What the engine reads of a schedule: the timing decoder must agree with a full decode. */
function timingOf(s: ReturnType<typeof fromBinary<typeof ScheduleSchema>>) {
  return {
    trigger: s.trigger,
    state: s.state,
    lastFireAt: s.lastFireAt,
    fireCount: s.fireCount,
    startAt: s.startAt,
    endAt: s.endAt,
    maxFires: s.maxFires,
    jitter: s.jitter,
    misfirePolicy: s.misfirePolicy,
    catchupWindow: s.catchupWindow,
    runImmediately: s.runImmediately,
    partition: s.partition,
    progressAt: s.progressAt,
    definedAt: s.definedAt,
    manualFireCount: s.manualFireCount,
    pendingManualFires: s.pendingManualFires,
  };
}

const common = {
  scheduleId: "01M876Z7PX1SRZQ8WW3BCQAHM7",
  name: "nightly",
  subject: "tasks.report",
  payload: new Uint8Array(200).fill(7),
  headers: { "X-Tenant": "a" },
  labels: { team: "b" },
  contentType: "application/json",
  namespace: "ns",
};

describe("decodeScheduleTiming reads what the engine needs, as a full decode does", () => {
  it.each([
    [
      "a one-shot",
      {
        trigger: { case: "time" as const, value: { at: timestampFromMs(1_800_000_000_123) } },
        state: ScheduleState.ACTIVE,
        partition: 7,
        definedAt: timestampFromMs(1_700_000_000_000),
        progressAt: timestampFromMs(1_699_999_999_999),
      },
    ],
    [
      "a cron with bounds, policies and progress",
      {
        trigger: {
          case: "cron" as const,
          value: { cron: "0 3 * * *", timeZone: "America/New_York" },
        },
        state: ScheduleState.PAUSED,
        startAt: timestampFromMs(1_700_000_000_000),
        endAt: timestampFromMs(1_900_000_000_000),
        maxFires: 12,
        jitter: durationFromMs(1_500),
        misfirePolicy: MisfirePolicy.FIRE_ALL,
        catchupWindow: durationFromMs(600_000),
        runImmediately: true,
        fireCount: 123_456_789_012n,
        manualFireCount: 3n,
        pendingManualFires: [
          {
            scheduledAt: timestampFromMs(1_750_000_000_001),
            trigger: "manual",
            fireSeq: 123_456_789_011n,
            messageId: "01M876Z7PX1SRZQ8WW3BCQAHM7:1750000000001",
          },
          { scheduledAt: timestampFromMs(1_750_000_000_002), fireSeq: 123_456_789_012n },
        ],
        lastFireAt: timestampFromMs(1_750_000_000_000),
        partition: 15,
        definedAt: timestampFromMs(1_700_000_000_000),
        progressAt: timestampFromMs(1_750_000_000_000),
      },
    ],
    [
      "an interval with an anchor",
      {
        trigger: {
          case: "interval" as const,
          value: { every: durationFromMs(2_500), anchor: timestampFromMs(-86_400_000) },
        },
        state: ScheduleState.COMPLETED,
        misfirePolicy: MisfirePolicy.SKIP,
        definedAt: timestampFromMs(0),
      },
    ],
  ])("%s", (_label, fields) => {
    const bytes = toBinary(ScheduleSchema, create(ScheduleSchema, { ...common, ...fields }));
    const full = fromBinary(ScheduleSchema, bytes);
    const partial = decodeScheduleTiming(bytes);
    expect(timingOf(partial)).toEqual(timingOf(full));
    // What it does not need stays at its zero value.
    expect(partial.payload).toHaveLength(0);
    expect(partial.subject).toBe("");
  });
});
