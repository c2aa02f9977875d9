import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { MisfirePolicy, ScheduleSchema, ScheduleState } from "@chime/sdk";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_INSTANT } from "../spec/timetable-types.js";
import { plainOneShotDue } from "./plain-one-shot.js";
import { deriveProgress, ProgressState } from "./progress.js";
import { planOf } from "./schedule-plan.js";
import { decodeScheduleTiming } from "./schedule-timing.js";

const DEFINED = 1_800_000_000_000;

/**
 * What the engine's full path makes of the same bytes: the due instant when the record is a
 * one-shot that may wait cold (as `Engine.admit` decides), else undefined.
 */
function dueThroughThePlan(bytes: Uint8Array): number | undefined {
  const schedule = decodeScheduleTiming(bytes);
  let plan: ReturnType<typeof planOf>;
  try {
    plan = planOf(schedule);
  } catch {
    return undefined;
  }
  const progress = deriveProgress(schedule, plan, undefined);
  const mayWaitCold =
    plan.oneShot &&
    plan.immediateAt === undefined &&
    progress.state === ProgressState.active &&
    progress.nextNominal !== undefined &&
    progress.fireCount === 0 &&
    progress.manualFires === 0 &&
    progress.lastFireAt === undefined;
  return mayWaitCold ? progress.nextDue : undefined;
}

type ScheduleInit = MessageInitShape<typeof ScheduleSchema>;

const oneShot = (at: number, extra: ScheduleInit = {}): Uint8Array =>
  toBinary(
    ScheduleSchema,
    create(ScheduleSchema, {
      scheduleId: "01M876Z7PX1SRZQ8WW3BCQAHM7",
      subject: "tasks.report",
      payload: new Uint8Array(200).fill(7),
      headers: { "X-Tenant": "a" },
      trigger: { case: "time", value: { at: timestampFromMs(at) } },
      state: ScheduleState.ACTIVE,
      partition: 3,
      definedAt: timestampFromMs(DEFINED),
      progressAt: timestampFromMs(DEFINED - 1),
      ...extra,
    }),
  );

describe("plainOneShotDue", () => {
  it("reads a new one-shot's due instant", () => {
    expect(plainOneShotDue(oneShot(DEFINED + 3_600_000))).toBe(DEFINED + 3_600_000);
    // Without progress_at, progress starts a millisecond before the definition.
    const bare = oneShot(DEFINED + 5, { progressAt: undefined, misfirePolicy: 2, maxFires: 1 });
    expect(plainOneShotDue(bare)).toBe(DEFINED + 5);
    expect(plainOneShotDue(oneShot(DEFINED, { progressAt: undefined }))).toBe(DEFINED);
  });

  it.each<[string, ScheduleInit]>([
    ["paused", { state: ScheduleState.PAUSED }],
    ["completed", { state: ScheduleState.COMPLETED }],
    ["fired", { fireCount: 1n, lastFireAt: timestampFromMs(DEFINED) }],
    ["fired by hand", { manualFireCount: 1n }],
    [
      "with a manual fire to publish again",
      { pendingManualFires: [{ scheduledAt: timestampFromMs(DEFINED), fireSeq: 1n }] },
    ],
    ["run immediately", { runImmediately: true }],
    ["with a start", { startAt: timestampFromMs(DEFINED + 7_200_000) }],
    ["with an end", { endAt: timestampFromMs(DEFINED + 60_000) }],
    ["with jitter", { jitter: durationFromMs(1_000) }],
    ["accounted for", { progressAt: timestampFromMs(DEFINED + 3_600_000) }],
    ["a cron", { trigger: { case: "cron", value: { cron: "0 3 * * *", timeZone: "UTC" } } }],
  ])("leaves a one-shot %s to the full plan", (_, extra) => {
    expect(plainOneShotDue(oneShot(DEFINED + 3_600_000, extra))).toBeUndefined();
  });

  it("leaves bytes it cannot read to the full decode", () => {
    const bytes = oneShot(DEFINED + 3_600_000);
    expect(plainOneShotDue(bytes.subarray(0, bytes.length - 3))).toBeUndefined();
    expect(plainOneShotDue(oneShot(MAX_INSTANT + 1_000))).toBeUndefined();
  });

  it("agrees with the full plan on every schedule it reads, and reads every plain one-shot", () => {
    const instant = fc.integer({ min: DEFINED - 86_400_000, max: DEFINED + 86_400_000 });
    // Mostly absent, as in most stored one-shots, so that plain ones come up often.
    const maybe = <T>(arbitrary: fc.Arbitrary<T>) =>
      fc.oneof({ arbitrary: fc.constant(undefined), weight: 7 }, { arbitrary, weight: 1 });
    const schedule = fc.record({
      trigger: fc.oneof(
        {
          arbitrary: instant.map((at) => ({
            case: "time" as const,
            value: { at: timestampFromMs(at) },
          })),
          weight: 4,
        },
        fc.constant({ case: "time" as const, value: {} }),
        fc.constant({ case: "cron" as const, value: { cron: "*/5 * * * *", timeZone: "UTC" } }),
        fc.constant({ case: "interval" as const, value: { every: durationFromMs(60_000) } }),
      ),
      state: fc.constantFrom(...Object.values(ScheduleState).filter((v) => typeof v === "number")),
      fireCount: fc.constantFrom(0n, 0n, 0n, 1n),
      manualFireCount: fc.constantFrom(0n, 0n, 0n, 1n),
      lastFireAt: maybe(instant.map(timestampFromMs)),
      startAt: maybe(instant.map(timestampFromMs)),
      endAt: maybe(instant.map(timestampFromMs)),
      jitter: maybe(fc.integer({ min: 0, max: 5_000 }).map(durationFromMs)),
      runImmediately: fc.constantFrom(false, false, false, true),
      maxFires: fc.constantFrom(0, 1, 2),
      misfirePolicy: fc.constantFrom(MisfirePolicy.UNSPECIFIED, MisfirePolicy.SKIP),
      progressAt: maybe(instant.map(timestampFromMs)),
      definedAt: maybe(instant.map(timestampFromMs)),
    });
    // A record written twice over (fields repeated) is read as the engine's decoder reads it.
    const stored = fc
      .tuple(schedule, fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, schedule))
      .map(([first, second]) => {
        const bytes = toBinary(ScheduleSchema, create(ScheduleSchema, first));
        if (second === undefined) return { bytes, plain: isPlain(first) };
        const more = toBinary(ScheduleSchema, create(ScheduleSchema, second));
        return { bytes: Buffer.concat([bytes, more]), plain: false };
      });
    let read = 0;
    fc.assert(
      fc.property(stored, ({ bytes, plain }) => {
        const due = plainOneShotDue(bytes);
        const expected = dueThroughThePlan(bytes);
        if (due !== undefined) read++;
        expect(due === undefined || due === expected).toBe(true);
        if (plain) expect(due).toBe(expected);
      }),
      { numRuns: 2_000 },
    );
    // The property holds trivially for a reader that reads nothing: it must read some.
    expect(read).toBeGreaterThan(20);
  });
});

/** Nothing in it but a time trigger's `at` and its progress decides when it fires. */
function isPlain(s: ScheduleInit): boolean {
  const trigger = s.trigger;
  return (
    trigger?.case === "time" &&
    trigger.value.at !== undefined &&
    s.state !== ScheduleState.PAUSED &&
    s.state !== ScheduleState.COMPLETED &&
    !s.fireCount &&
    !s.manualFireCount &&
    s.lastFireAt === undefined &&
    s.startAt === undefined &&
    s.endAt === undefined &&
    s.jitter === undefined &&
    !s.runImmediately
  );
}
