import { create } from "@bufbuild/protobuf";
import {
  type Duration,
  DurationSchema,
  timestampFromMs,
  timestampMs,
} from "@bufbuild/protobuf/wkt";
import { type CreatedSchedule, ScheduleState } from "@chime/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jitterOffset } from "../../server/src/spec/jitter.js";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { sleep } from "../harness/rpc-errors.js";
import {
  ofSchedule,
  type RecordedTask,
  recordTasks,
  type TaskRecorder,
} from "../harness/task-recorder.js";

const RFC3339_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
// Timer and publish latency we accept between a fire's due instant and Chime-Fired-At.
const LATENCY_MS = 500;

function secs(seconds: number): Duration {
  return create(DurationSchema, {
    seconds: BigInt(Math.floor(seconds)),
    nanos: Math.round((seconds % 1) * 1e9),
  });
}

function scheduledAt(task: RecordedTask | undefined): number {
  return Date.parse(task?.headers["Chime-Scheduled-At"] ?? "");
}

function firedAt(task: RecordedTask | undefined): number {
  return Date.parse(task?.headers["Chime-Fired-At"] ?? "");
}

/** The wall-clock reading of `instant` in `timeZone`, as local_time takes it. */
function localTimeIn(instant: number, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    })
      .formatToParts(new Date(instant))
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
}

/** Asserts the wire contract every scheduled (not manual) fire shares. */
function expectScheduledFire(
  task: RecordedTask | undefined,
  created: CreatedSchedule,
  seq: number,
) {
  const nominal = scheduledAt(task);
  expect(task?.headers["Chime-Scheduled-At"]).toMatch(RFC3339_MS);
  expect(task?.headers["Chime-Fired-At"]).toMatch(RFC3339_MS);
  expect(task?.headers["Nats-Msg-Id"]).toBe(`${created.scheduleId}:${nominal}`);
  expect(task?.headers["Chime-Schedule-Id"]).toBe(created.scheduleId);
  expect(task?.headers["Chime-Fire-Seq"]).toBe(String(seq));
  expect(task?.headers["Chime-Trigger"]).toBe("schedule");
  expect(firedAt(task)).toBeGreaterThanOrEqual(nominal);
  expect(firedAt(task)).toBeLessThan(nominal + LATENCY_MS);
  if (created.schedule?.name) {
    expect(task?.headers["Chime-Schedule-Name"]).toBe(created.schedule.name);
  } else {
    expect(task?.headers).not.toHaveProperty("Chime-Schedule-Name");
  }
}

describe.concurrent("each kind of schedule reaches a JetStream consumer", () => {
  let nats: TestNats;
  let chime: TestChime;
  let recorder: TaskRecorder;

  beforeAll(async () => {
    nats = await startTestNats();
    chime = await startTestChime(nats.url);
    recorder = await recordTasks(nats.url);
  });
  afterAll(async () => {
    await recorder?.stop();
    await chime?.stop();
    await nats?.stop();
  });

  describe("one-shots", () => {
    it("at: fires once at the instant, with every documented header", async () => {
      const at = Date.now() + 400;
      const created = await chime.client.scheduleByTime({
        subject: "tasks.kinds.at",
        name: "kinds-at",
        payload: new TextEncoder().encode("at-payload"),
        headers: { "X-Tenant": "acme", "X-Trace": "t-1" },
        contentType: "text/plain",
        when: { case: "at", value: timestampFromMs(at) },
      });
      const [task] = await recorder.waitFor(ofSchedule(created.scheduleId));
      expect(task?.subject).toBe("tasks.kinds.at");
      expect(new TextDecoder().decode(task?.data)).toBe("at-payload");
      expect(scheduledAt(task)).toBe(at);
      expectScheduledFire(task, created, 1);
      expect(task?.headers).toMatchObject({
        "Content-Type": "text/plain",
        "X-Tenant": "acme",
        "X-Trace": "t-1",
      });
      // Fired once only, then completed.
      await sleep(300);
      expect(recorder.matching(ofSchedule(created.scheduleId))).toHaveLength(1);
      const got = await chime.client.getSchedule({
        target: { case: "scheduleId", value: created.scheduleId },
      });
      expect(got.state).toBe(ScheduleState.COMPLETED);
    });

    it("at in the recent past fires at once", async () => {
      const at = Date.now() - 60_000;
      const created = await chime.client.scheduleByTime({
        subject: "tasks.kinds.past",
        when: { case: "at", value: timestampFromMs(at) },
      });
      const answered = Date.now();
      const [task] = await recorder.waitFor(ofSchedule(created.scheduleId), 1, 3_000);
      expect(scheduledAt(task)).toBe(at);
      expect(task?.headers["Nats-Msg-Id"]).toBe(`${created.scheduleId}:${at}`);
      expect(task?.headers["Chime-Fire-Seq"]).toBe("1");
      expect(firedAt(task) - answered).toBeLessThan(LATENCY_MS);
    });
    // occurrence's due instant, so a one-shot created with an `at` more than
    // --misfire-threshold (5 s) in the past is published as Chime-Trigger: catchup, while
    // one 4 s in the past is `schedule`. DESIGN defines catchup as "a missed fire made up
    // after downtime"; nothing was missed here. Measure lateness from
    // max(due, defined_at) instead.
    it("at in the recent past is a scheduled fire, not a catch-up", async () => {
      const at = Date.now() - 60_000;
      const created = await chime.client.scheduleByTime({
        subject: "tasks.kinds.past2",
        when: { case: "at", value: timestampFromMs(at) },
      });
      const [task] = await recorder.waitFor(ofSchedule(created.scheduleId), 1, 3_000);
      expect(task?.headers["Chime-Trigger"]).toBe("schedule");
    });

    it("delay: fires that long after the request", async () => {
      const before = Date.now();
      const created = await chime.client.scheduleByTime({
        subject: "tasks.kinds.delay",
        when: { case: "delay", value: secs(0.5) },
      });
      const after = Date.now();
      const [task] = await recorder.waitFor(ofSchedule(created.scheduleId));
      expect(scheduledAt(task)).toBeGreaterThanOrEqual(before + 500);
      expect(scheduledAt(task)).toBeLessThanOrEqual(after + 500);
      expectScheduledFire(task, created, 1);
      expect(task?.headers).not.toHaveProperty("Content-Type");
    });

    it.each(["Asia/Kolkata", "America/New_York", "Australia/Lord_Howe"])(
      "local_time + time_zone %s: fires at that wall-clock time",
      async (timeZone) => {
        const target = Math.ceil((Date.now() + 1200) / 1000) * 1000;
        const localTime = localTimeIn(target, timeZone);
        const created = await chime.client.scheduleByTime({
          subject: "tasks.kinds.local",
          when: { case: "localTime", value: localTime },
          timeZone,
        });
        const trigger = created.schedule?.trigger;
        expect(trigger?.case).toBe("time");
        if (trigger?.case === "time") {
          expect(trigger.value.localTime).toBe(localTime);
          expect(trigger.value.timeZone).toBe(timeZone);
          expect(timestampMs(trigger.value.at ?? timestampFromMs(0))).toBe(target);
        }
        const [task] = await recorder.waitFor(ofSchedule(created.scheduleId), 1, 4_000);
        expect(scheduledAt(task)).toBe(target);
        expectScheduledFire(task, created, 1);
      },
    );
  });

  it("6-field cron */1 * * * * *: fires every second on the second, Fire-Seq 1, 2, 3", async () => {
    const created = await chime.client.scheduleByCron({
      subject: "tasks.kinds.cron",
      cron: "*/1 * * * * *",
    });
    const tasks = await recorder.waitFor(ofSchedule(created.scheduleId), 3, 6_000);
    await chime.client.unschedule({ target: { case: "scheduleId", value: created.scheduleId } });
    for (const [i, task] of tasks.slice(0, 3).entries()) {
      expect(scheduledAt(task) % 1000).toBe(0);
      expectScheduledFire(task, created, i + 1);
      if (i > 0) expect(scheduledAt(task) - scheduledAt(tasks[i - 1])).toBe(1000);
    }
  });

  it("interval every 1 s: anchored on start_at, exactly 1 s apart, no drift", async () => {
    // An anchor with an odd millisecond: every fire keeps it.
    const startAt = Date.now() + 700 + Math.floor(Math.random() * 300);
    const created = await chime.client.scheduleByInterval({
      subject: "tasks.kinds.interval",
      name: "kinds-interval",
      every: secs(1),
      startAt: timestampFromMs(startAt),
      headers: { "X-Kind": "interval" },
      contentType: "application/octet-stream",
    });
    const trigger = created.schedule?.trigger;
    expect(
      trigger?.case === "interval" && timestampMs(trigger.value.anchor ?? timestampFromMs(0)),
    ).toBe(startAt);
    const tasks = await recorder.waitFor(ofSchedule(created.scheduleId), 4, 7_000);
    await chime.client.unschedule({ target: { case: "scheduleId", value: created.scheduleId } });
    for (const [k, task] of tasks.slice(0, 4).entries()) {
      expect(scheduledAt(task)).toBe(startAt + k * 1000);
      expectScheduledFire(task, created, k + 1);
      expect(task.headers["X-Kind"]).toBe("interval");
      expect(task.headers["Content-Type"]).toBe("application/octet-stream");
    }
  });

  it("interval without start_at: the first fire is one interval after creation", async () => {
    const before = Date.now();
    const created = await chime.client.scheduleByInterval({
      subject: "tasks.kinds.interval2",
      every: secs(1),
      maxFires: 2,
    });
    const after = Date.now();
    const tasks = await recorder.waitFor(ofSchedule(created.scheduleId), 2, 5_000);
    expect(scheduledAt(tasks[0])).toBeGreaterThanOrEqual(before + 1000);
    expect(scheduledAt(tasks[0])).toBeLessThanOrEqual(after + 1000);
    expect(scheduledAt(tasks[1]) - scheduledAt(tasks[0])).toBe(1000);
  });

  it("run_immediately: an interval fires at once, then keeps its timetable", async () => {
    const before = Date.now();
    const created = await chime.client.scheduleByInterval({
      subject: "tasks.kinds.immediate",
      every: secs(30),
      runImmediately: true,
    });
    const after = Date.now();
    const [task] = await recorder.waitFor(ofSchedule(created.scheduleId), 1, 2_000);
    expect(scheduledAt(task)).toBeGreaterThanOrEqual(before);
    expect(scheduledAt(task)).toBeLessThanOrEqual(after);
    expect(task?.receivedAt).toBeLessThan(after + 1000);
    expectScheduledFire(task, created, 1);
    const got = await chime.client.getSchedule({
      target: { case: "scheduleId", value: created.scheduleId },
    });
    expect(got.fireCount).toBe(1n);
    const next = timestampMs(got.nextFireAt ?? timestampFromMs(0));
    expect(next).toBeGreaterThanOrEqual(before + 30_000);
    expect(next).toBeLessThanOrEqual(after + 30_000);
    await chime.client.unschedule({ target: { case: "scheduleId", value: created.scheduleId } });
  });

  it("run_immediately: a yearly cron fires at once", async () => {
    const created = await chime.client.scheduleByCron({
      subject: "tasks.kinds.immediate-cron",
      cron: "@yearly",
      runImmediately: true,
    });
    const [task] = await recorder.waitFor(ofSchedule(created.scheduleId), 1, 2_000);
    expectScheduledFire(task, created, 1);
    await chime.client.unschedule({ target: { case: "scheduleId", value: created.scheduleId } });
  });

  it("max_fires 2: exactly two fires, then COMPLETED", async () => {
    const created = await chime.client.scheduleByInterval({
      subject: "tasks.kinds.max",
      every: secs(1),
      maxFires: 2,
    });
    const tasks = await recorder.waitFor(ofSchedule(created.scheduleId), 2, 5_000);
    // A third occurrence would be due one interval after the second.
    await sleep(Math.max(0, scheduledAt(tasks[1]) + 1000 + 400 - Date.now()));
    expect(recorder.matching(ofSchedule(created.scheduleId))).toHaveLength(2);
    const got = await chime.client.getSchedule({
      target: { case: "scheduleId", value: created.scheduleId },
    });
    expect(got.state).toBe(ScheduleState.COMPLETED);
    expect(got.fireCount).toBe(2n);
    expect(got.nextFireAt).toBeUndefined();
    expect(got.nextFireTimes).toEqual([]);
  });

  it("end_at: no fire after it, then COMPLETED", async () => {
    const startAt = Date.now() + 300;
    const endAt = startAt + 1500;
    const created = await chime.client.scheduleByInterval({
      subject: "tasks.kinds.end",
      every: secs(1),
      startAt: timestampFromMs(startAt),
      endAt: timestampFromMs(endAt),
    });
    expect(created.schedule?.nextFireTimes.map(timestampMs)).toEqual([startAt, startAt + 1000]);
    const tasks = await recorder.waitFor(ofSchedule(created.scheduleId), 2, 4_000);
    expect(tasks.map(scheduledAt)).toEqual([startAt, startAt + 1000]);
    await sleep(Math.max(0, startAt + 2000 + 400 - Date.now()));
    expect(recorder.matching(ofSchedule(created.scheduleId))).toHaveLength(2);
    const got = await chime.client.getSchedule({
      target: { case: "scheduleId", value: created.scheduleId },
    });
    expect(got.state).toBe(ScheduleState.COMPLETED);
  });

  it("jitter: Nats-Msg-Id keeps the nominal time, the fire is delayed within the bound", async () => {
    const startAt = Date.now() + 300;
    const jitterMs = 800;
    const created = await chime.client.scheduleByInterval({
      subject: "tasks.kinds.jitter",
      every: secs(1),
      startAt: timestampFromMs(startAt),
      jitter: secs(jitterMs / 1000),
      maxFires: 4,
    });
    const id = created.scheduleId;
    // Every replica derives the same offset from (schedule_id, nominal time).
    const offsets = [0, 1, 2, 3].map((k) => jitterOffset(id, startAt + k * 1000, jitterMs));
    expect(created.schedule?.nextFireTimes.map(timestampMs)).toEqual(
      offsets.map((offset, k) => startAt + k * 1000 + offset),
    );
    const tasks = await recorder.waitFor(ofSchedule(id), 4, 7_000);
    for (const [k, task] of tasks.entries()) {
      const nominal = startAt + k * 1000;
      expect(scheduledAt(task)).toBe(nominal);
      expect(task.headers["Nats-Msg-Id"]).toBe(`${id}:${nominal}`);
      expect(task.headers["Chime-Fire-Seq"]).toBe(String(k + 1));
      const delay = firedAt(task) - nominal;
      expect(delay).toBeGreaterThanOrEqual(offsets[k] ?? 0);
      expect(delay).toBeLessThan(jitterMs + LATENCY_MS);
      expect(delay).toBeLessThan((offsets[k] ?? 0) + LATENCY_MS);
    }
    // The offsets are real delays, not all (near) zero.
    expect(Math.max(...offsets)).toBeGreaterThan(50);
  });
});
