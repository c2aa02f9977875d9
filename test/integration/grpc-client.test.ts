import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { createGrpcJsClient, type GrpcJsClient, grpcErrorOf } from "../harness/grpc-js-client.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { ofSchedule, recordTasks, type TaskRecorder } from "../harness/task-recorder.js";

// Messages as @grpc/proto-loader decodes them (longs and enums as strings, defaults filled).
interface PlainTimestamp {
  seconds: string;
  nanos: number;
}
interface PlainSchedule {
  scheduleId: string;
  name: string;
  subject: string;
  payload: Buffer;
  headers: Record<string, string>;
  labels: Record<string, string>;
  state: string;
  trigger: "time" | "cron" | "interval";
  cron: { cron: string; timeZone: string } | null;
  interval: { every: PlainTimestamp; anchor: PlainTimestamp } | null;
  time: { at: PlainTimestamp } | null;
  fireCount: string;
  nextFireAt: PlainTimestamp | null;
  lastFireAt: PlainTimestamp | null;
  pausedAt: PlainTimestamp | null;
  nextFireTimes: PlainTimestamp[];
}
interface PlainCreated {
  scheduleId: string;
  created: boolean;
  replaced: boolean;
  schedule: PlainSchedule;
}
interface PlainList {
  schedules: PlainSchedule[];
  nextPageToken: string;
}
interface PlainTriggered {
  scheduleId: string;
  firedAt: PlainTimestamp;
  messageId: string;
  streamSequence: string;
}

const SCHEDULE_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
// Well formed, never issued.
const UNKNOWN_ID = "00000000000000000000000000";

function ms(t: PlainTimestamp | null | undefined): number {
  if (t === null || t === undefined) throw new Error("timestamp unset");
  return Number(t.seconds) * 1000 + Math.floor(t.nanos / 1_000_000);
}

function stamp(msValue: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(msValue / 1000), nanos: (msValue % 1000) * 1_000_000 };
}

describe("every RPC through @grpc/grpc-js with @grpc/proto-loader", () => {
  let nats: TestNats;
  let chime: TestChime;
  let recorder: TaskRecorder;
  let grpc: GrpcJsClient;

  beforeAll(async () => {
    nats = await startTestNats();
    chime = await startTestChime(nats.url);
    recorder = await recordTasks(nats.url);
    grpc = createGrpcJsClient(chime.grpcAddress);
  });
  afterAll(async () => {
    grpc?.close();
    await recorder?.stop();
    await chime?.stop();
    await nats?.stop();
  });

  it("ScheduleByTime (at) creates a one-shot that fires once, then GetSchedule says COMPLETED", async () => {
    const at = Date.now() + 300;
    const created = await grpc.unary<PlainCreated>("ScheduleByTime", {
      subject: "tasks.grpc.once",
      payload: Buffer.from("grpc-once"),
      headers: { "X-Via": "grpc-js" },
      at: stamp(at),
    });
    expect(created.scheduleId).toMatch(SCHEDULE_ID);
    expect(created.created).toBe(true);
    expect(created.replaced).toBe(false);
    expect(created.schedule.trigger).toBe("time");
    expect(ms(created.schedule.time?.at)).toBe(at);
    expect(created.schedule.state).toBe("SCHEDULE_STATE_ACTIVE");

    const [task] = await recorder.waitFor(ofSchedule(created.scheduleId));
    expect(task?.subject).toBe("tasks.grpc.once");
    expect(Buffer.from(task?.data ?? []).toString()).toBe("grpc-once");
    expect(task?.headers["Nats-Msg-Id"]).toBe(`${created.scheduleId}:${at}`);
    expect(task?.headers["X-Via"]).toBe("grpc-js");

    const got = await grpc.unary<PlainSchedule>("GetSchedule", { scheduleId: created.scheduleId });
    expect(got.state).toBe("SCHEDULE_STATE_COMPLETED");
    expect(got.fireCount).toBe("1");
    expect(ms(got.lastFireAt)).toBe(at);
    expect(got.nextFireAt).toBeNull();
    expect(got.nextFireTimes).toEqual([]);
  });

  it("ScheduleByTime (delay) resolves the delay against the server's clock", async () => {
    const before = Date.now();
    const created = await grpc.unary<PlainCreated>("ScheduleByTime", {
      subject: "tasks.grpc.delay",
      delay: { seconds: 60, nanos: 0 },
    });
    const after = Date.now();
    const at = ms(created.schedule.time?.at);
    expect(at).toBeGreaterThanOrEqual(before + 60_000);
    expect(at).toBeLessThanOrEqual(after + 60_000);
    expect(ms(created.schedule.nextFireAt)).toBe(at);
  });

  it("ScheduleByCron, then GetSchedule by id and by name fills next_fire_times", async () => {
    const created = await grpc.unary<PlainCreated>("ScheduleByCron", {
      subject: "tasks.grpc.cron",
      name: "grpc-cron",
      cron: "*/1 * * * * *",
      timeZone: "Europe/Berlin",
    });
    expect(created.created).toBe(true);
    expect(created.schedule.trigger).toBe("cron");
    expect(created.schedule.cron).toEqual({ cron: "*/1 * * * * *", timeZone: "Europe/Berlin" });

    const byId = await grpc.unary<PlainSchedule>("GetSchedule", {
      scheduleId: created.scheduleId,
      nextFireCount: 4,
    });
    expect(byId.nextFireTimes).toHaveLength(4);
    const times = byId.nextFireTimes.map(ms);
    for (const [i, t] of times.entries()) {
      expect(t % 1000).toBe(0);
      if (i > 0) expect(t - (times[i - 1] ?? 0)).toBe(1000);
    }

    const byName = await grpc.unary<PlainSchedule>("GetSchedule", { name: "grpc-cron" });
    expect(byName.scheduleId).toBe(created.scheduleId);
    expect(byName.name).toBe("grpc-cron");
    // Default count: 5.
    expect(byName.nextFireTimes).toHaveLength(5);

    const [task] = await recorder.waitFor(ofSchedule(created.scheduleId));
    expect(task?.headers["Chime-Schedule-Name"]).toBe("grpc-cron");
    const unscheduled = await grpc.unary<{ existed: boolean }>("Unschedule", {
      scheduleId: created.scheduleId,
    });
    expect(unscheduled.existed).toBe(true);
  });

  it("ScheduleByInterval fires every interval; ListSchedules finds it by label", async () => {
    const created = await grpc.unary<PlainCreated>("ScheduleByInterval", {
      subject: "tasks.grpc.interval",
      every: { seconds: 1, nanos: 0 },
      labels: { suite: "grpc-interval" },
      maxFires: 2,
    });
    expect(created.schedule.trigger).toBe("interval");
    expect(ms(created.schedule.interval?.every)).toBe(1000);
    const tasks = await recorder.waitFor(ofSchedule(created.scheduleId), 2, 5_000);
    const nominal = tasks.map((t) => Date.parse(t.headers["Chime-Scheduled-At"] ?? ""));
    expect((nominal[1] ?? 0) - (nominal[0] ?? 0)).toBe(1000);

    const listed = await grpc.unary<PlainList>("ListSchedules", {
      labels: { suite: "grpc-interval" },
    });
    expect(listed.schedules.map((s) => s.scheduleId)).toEqual([created.scheduleId]);
    expect(listed.nextPageToken).toBe("");
    const other = await grpc.unary<PlainList>("ListSchedules", { labels: { suite: "nothing" } });
    expect(other.schedules).toEqual([]);
  });

  it("ListSchedules pages with page_size and next_page_token", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await grpc.unary<PlainCreated>("ScheduleByTime", {
        subject: `tasks.grpc.page.${i}`,
        labels: { suite: "grpc-page" },
        delay: { seconds: 3600 },
      });
      ids.push(c.scheduleId);
    }
    const first = await grpc.unary<PlainList>("ListSchedules", {
      pageSize: 2,
      labels: { suite: "grpc-page" },
    });
    expect(first.schedules).toHaveLength(2);
    expect(first.nextPageToken).not.toBe("");
    const second = await grpc.unary<PlainList>("ListSchedules", {
      pageSize: 2,
      pageToken: first.nextPageToken,
      labels: { suite: "grpc-page" },
    });
    expect(second.schedules).toHaveLength(1);
    expect(second.nextPageToken).toBe("");
    expect([...first.schedules, ...second.schedules].map((s) => s.scheduleId).sort()).toEqual(
      [...ids].sort(),
    );
  });

  it("PauseSchedule and ResumeSchedule switch the state", async () => {
    const created = await grpc.unary<PlainCreated>("ScheduleByInterval", {
      subject: "tasks.grpc.pause",
      name: "grpc-pause",
      every: { seconds: 60 },
    });
    const paused = await grpc.unary<PlainSchedule>("PauseSchedule", { name: "grpc-pause" });
    expect(paused.scheduleId).toBe(created.scheduleId);
    expect(paused.state).toBe("SCHEDULE_STATE_PAUSED");
    expect(paused.pausedAt).not.toBeNull();
    expect(paused.nextFireAt).toBeNull();
    const seen = await grpc.unary<PlainSchedule>("GetSchedule", { scheduleId: created.scheduleId });
    expect(seen.state).toBe("SCHEDULE_STATE_PAUSED");

    const resumed = await grpc.unary<PlainSchedule>("ResumeSchedule", {
      scheduleId: created.scheduleId,
    });
    expect(resumed.state).toBe("SCHEDULE_STATE_ACTIVE");
    expect(resumed.pausedAt).toBeNull();
    expect(ms(resumed.nextFireAt)).toBeGreaterThan(Date.now());
  });

  it("TriggerSchedule publishes one manual fire carrying the returned message id", async () => {
    const created = await grpc.unary<PlainCreated>("ScheduleByInterval", {
      subject: "tasks.grpc.trigger",
      every: { seconds: 3600 },
    });
    const fired = await grpc.unary<PlainTriggered>("TriggerSchedule", {
      scheduleId: created.scheduleId,
    });
    expect(fired.scheduleId).toBe(created.scheduleId);
    expect(fired.messageId).toBe(`${created.scheduleId}:${ms(fired.firedAt)}`);
    const [task] = await recorder.waitFor(ofSchedule(created.scheduleId));
    expect(task?.headers["Chime-Trigger"]).toBe("manual");
    expect(task?.headers["Nats-Msg-Id"]).toBe(fired.messageId);
    expect(String(task?.streamSequence)).toBe(fired.streamSequence);
  });

  it("Unschedule answers existed=true, then existed=false, and the schedule is gone", async () => {
    const created = await grpc.unary<PlainCreated>("ScheduleByTime", {
      subject: "tasks.grpc.gone",
      delay: { seconds: 3600 },
    });
    await expect(grpc.unary("Unschedule", { scheduleId: created.scheduleId })).resolves.toEqual({
      existed: true,
    });
    await expect(grpc.unary("Unschedule", { scheduleId: created.scheduleId })).resolves.toEqual({
      existed: false,
    });
    const err = await grpcErrorOf(grpc.unary("GetSchedule", { scheduleId: created.scheduleId }));
    expect(err.code).toBe(status.NOT_FOUND);
  });

  it("a bad cron arrives as INVALID_ARGUMENT naming the field and the rule", async () => {
    const err = await grpcErrorOf(
      grpc.unary("ScheduleByCron", { subject: "tasks.grpc.bad", cron: "every tuesday" }),
    );
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^cron: /);
    expect(err.details).toMatch(/5 or 6 fields/);
  });

  it.each(["GetSchedule", "PauseSchedule", "ResumeSchedule", "TriggerSchedule"])(
    "%s of an unknown id arrives as NOT_FOUND",
    async (method) => {
      const err = await grpcErrorOf(grpc.unary(method, { scheduleId: UNKNOWN_ID }));
      expect(err.code).toBe(status.NOT_FOUND);
      expect(err.details).toContain(UNKNOWN_ID);
    },
  );

  it("an id that is not an id arrives as INVALID_ARGUMENT naming schedule_id", async () => {
    const err = await grpcErrorOf(grpc.unary("GetSchedule", { scheduleId: "nope" }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^schedule_id: /);
  });
});
