import { timestampMs } from "@bufbuild/protobuf/wkt";
import { createSchedulerClient, type SchedulerClient } from "@chime/sdk";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAdminServer } from "../../sdk/examples/admin-run-now.js";
import { setInventorySyncInterval } from "../../sdk/examples/change-interval.js";
import { scheduleHealthCheck } from "../../sdk/examples/health-check.js";
import { scheduleNightlyCleanup } from "../../sdk/examples/nightly-cleanup.js";
import { sendWelcomeEmailLater } from "../../sdk/examples/one-time-task.js";
import { type Email, startEmailWorker } from "../../sdk/examples/retrying-worker.js";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { until } from "../harness/deliveries.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { ofSchedule, recordTasks, type TaskRecorder } from "../harness/task-recorder.js";

let nats: TestNats;
let chime: TestChime;
let client: SchedulerClient;
let nc: NatsConnection;
let recorder: TaskRecorder;

beforeAll(async () => {
  nats = await startTestNats();
  chime = await startTestChime(nats.url);
  client = createSchedulerClient({ baseUrl: chime.baseUrl });
  nc = await connect({ servers: nats.url });
  recorder = await recordTasks(nats.url);
});
afterAll(async () => {
  await recorder?.stop();
  await nc?.close();
  await client?.close();
  await chime?.stop();
  await nats?.stop();
});

const localHour = (ms: number, timeZone: string) =>
  new Intl.DateTimeFormat("en-US", {
    timeZone,
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(ms);

describe("the examples in sdk/examples", () => {
  it("health-check: every 60 s, idempotent by name", async () => {
    const handle = await scheduleHealthCheck(client);
    expect(handle.created).toBe(true);
    const trigger = handle.schedule.trigger;
    expect(trigger.case === "interval" && trigger.value.every?.seconds).toBe(60n);
    const again = await scheduleHealthCheck(client);
    expect(again.created).toBe(false);
    expect(again.id).toBe(handle.id);
    await handle.unschedule();
  });

  it("nightly-cleanup: 02:00 in New York, whatever the UTC offset (03:00 when 02:00 is skipped)", async () => {
    const handle = await scheduleNightlyCleanup(client);
    const next = await client.getSchedule(handle.id, { nextFireCount: 100 });
    expect(next.nextFireTimes).toHaveLength(100);
    for (const t of next.nextFireTimes) {
      const ms = timestampMs(t);
      const local = localHour(ms, "America/New_York");
      // On the spring-forward day 02:00 does not exist: the fire is the first instant after
      // the gap, 03:00, whose millisecond before reads 01:59 local.
      if (local === "03:00") expect(localHour(ms - 1, "America/New_York")).toBe("01:59");
      else expect(local).toBe("02:00");
    }
    await handle.unschedule();
  });

  it("one-time-task: fires 10 s from now, once per address", async () => {
    const before = Date.now();
    const handle = await sendWelcomeEmailLater(client, "new@example.com");
    const after = Date.now();
    const at =
      handle.schedule.trigger.case === "time" ? handle.schedule.trigger.value.at : undefined;
    expect(at && timestampMs(at)).toBeGreaterThanOrEqual(before + 10_000);
    expect(at && timestampMs(at)).toBeLessThanOrEqual(after + 10_000);
    expect((await sendWelcomeEmailLater(client, "new@example.com")).created).toBe(false);
    await handle.unschedule();
  });

  it("change-interval: the same schedule, a new interval in effect at once", async () => {
    const first = await setInventorySyncInterval(client, "5m");
    const second = await setInventorySyncInterval(client, "30s");
    expect(second.id).toBe(first.id);
    expect(second.replaced).toBe(true);
    const trigger = (await client.getSchedule("inventory-sync")).trigger;
    expect(trigger.case === "interval" && trigger.value.every?.seconds).toBe(30n);
    await second.unschedule();
  });

  it("admin-run-now: POST …/run fires the schedule now; an unknown name is 404", async () => {
    const job = await client.scheduleCron({
      name: "report-weekly",
      cron: "@weekly",
      subject: "tasks.reports.weekly",
    });
    const { server, url } = await startAdminServer(client);
    try {
      const res = await fetch(`${url}/admin/schedules/report-weekly/run`, { method: "POST" });
      expect(res.status).toBe(202);
      const body = (await res.json()) as { scheduleId: string; messageId: string };
      expect(body.scheduleId).toBe(job.id);
      const [task] = await recorder.waitFor(ofSchedule(job.id));
      expect(task?.headers["Chime-Trigger"]).toBe("manual");
      expect(task?.headers["Nats-Msg-Id"]).toBe(body.messageId);

      const missing = await fetch(`${url}/admin/schedules/no-such-report/run`, { method: "POST" });
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: string }).error).toMatch(/not found/);
      expect((await fetch(`${url}/admin/schedules/report-weekly/run`)).status).toBe(405);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await job.unschedule();
    }
  });

  it("retrying-worker: retries a failing send, dead-letters one that keeps failing", async () => {
    const tries = new Map<string, number>();
    const sent: string[] = [];
    const worker = await startEmailWorker(
      nc,
      async (email: Email) => {
        const n = (tries.get(email.to) ?? 0) + 1;
        tries.set(email.to, n);
        if (email.to.startsWith("flaky") && n < 2) throw new Error("421 try again later");
        if (email.to.startsWith("bounce")) throw new Error("550 no such user");
        sent.push(email.to);
      },
      { maxAttempts: 3, delay: "100ms", backoff: 2 },
    );
    try {
      const silence = console.error;
      console.error = () => {};
      try {
        await client.scheduleAt({
          delay: 0,
          subject: "tasks.email.welcome",
          payload: { to: "ok@example.com", template: "welcome" },
        });
        await client.scheduleAt({
          delay: 0,
          subject: "tasks.email.welcome",
          payload: { to: "flaky@example.com", template: "welcome" },
        });
        await client.scheduleAt({
          delay: 0,
          subject: "tasks.email.welcome",
          payload: { to: "bounce@example.com", template: "welcome" },
        });
        await until("two sent", () => sent.length === 2, 5_000);
        const [dead] = await recorder.waitFor((t) => t.subject === "tasks.dead.email", 1, 5_000);
        expect(JSON.parse(new TextDecoder().decode(dead?.data))).toEqual({
          to: "bounce@example.com",
          template: "welcome",
        });
        expect(dead?.headers["Chime-Error"]).toBe("550 no such user");
        expect(dead?.headers["Chime-Attempts"]).toBe("3");
      } finally {
        console.error = silence;
      }
      expect(sent.sort()).toEqual(["flaky@example.com", "ok@example.com"]);
      expect(tries.get("flaky@example.com")).toBe(2);
      expect(tries.get("bounce@example.com")).toBe(3);
    } finally {
      await worker.stop();
    }
  });
});
