import { timestampDate, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { SchedulerService, ScheduleState } from "@chime/sdk";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { connectErrorOf } from "../harness/rpc-errors.js";
import { ofSchedule, recordTasks, type TaskRecorder } from "../harness/task-recorder.js";

const SERVICE_PATH = "/chime.v1.SchedulerService";
const UNKNOWN_ID = "00000000000000000000000000";

interface JsonSchedule {
  scheduleId: string;
  name?: string;
  subject: string;
  state: string;
  labels?: Record<string, string>;
  nextFireTimes?: string[];
  interval?: { every: string; anchor: string };
}

describe("the RPCs through the Connect client", () => {
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

  it("ScheduleByTime (at and delay) fires, GetSchedule then says COMPLETED", async () => {
    const at = Date.now() + 250;
    const once = await chime.client.scheduleByTime({
      subject: "tasks.connect.once",
      payload: new TextEncoder().encode("hello"),
      when: { case: "at", value: timestampFromMs(at) },
    });
    expect(once.created).toBe(true);
    const [task] = await recorder.waitFor(ofSchedule(once.scheduleId));
    expect(new TextDecoder().decode(task?.data)).toBe("hello");
    expect(task?.headers["Nats-Msg-Id"]).toBe(`${once.scheduleId}:${at}`);
    const got = await chime.client.getSchedule({
      target: { case: "scheduleId", value: once.scheduleId },
    });
    expect(got.state).toBe(ScheduleState.COMPLETED);
    // uint64: protobuf-es v2 ignores jstype = JS_NUMBER (only JS_STRING changes the type).
    expect(got.fireCount).toBe(1n);

    const before = Date.now();
    const delayed = await chime.client.scheduleByTime({
      subject: "tasks.connect.delay",
      when: { case: "delay", value: { seconds: 120n, nanos: 0 } },
    });
    const trigger = delayed.schedule?.trigger;
    expect(trigger?.case).toBe("time");
    const at2 = trigger?.case === "time" ? timestampMs(trigger.value.at ?? timestampFromMs(0)) : 0;
    expect(at2).toBeGreaterThanOrEqual(before + 120_000);
    expect(at2).toBeLessThanOrEqual(Date.now() + 120_000);
  });

  it("ScheduleByCron, GetSchedule by name with next_fire_times, Pause, Resume, Unschedule", async () => {
    const created = await chime.client.scheduleByCron({
      subject: "tasks.connect.cron",
      name: "connect-cron",
      cron: "0 9 * * MON-FRI",
      timeZone: "America/New_York",
    });
    expect(created.created).toBe(true);
    const got = await chime.client.getSchedule({
      target: { case: "name", value: "connect-cron" },
      nextFireCount: 3,
    });
    expect(got.scheduleId).toBe(created.scheduleId);
    expect(got.nextFireTimes).toHaveLength(3);
    for (const t of got.nextFireTimes) {
      const local = new Intl.DateTimeFormat("en-US", {
        timeZone: "America/New_York",
        weekday: "short",
        hour: "2-digit",
        minute: "2-digit",
        hourCycle: "h23",
      }).format(timestampDate(t));
      expect(local).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 09:00$/);
    }

    const paused = await chime.client.pauseSchedule({
      target: { case: "scheduleId", value: created.scheduleId },
    });
    expect(paused.state).toBe(ScheduleState.PAUSED);
    const resumed = await chime.client.resumeSchedule({
      target: { case: "name", value: "connect-cron" },
    });
    expect(resumed.state).toBe(ScheduleState.ACTIVE);
    expect(resumed.nextFireAt).toEqual(got.nextFireTimes[0]);

    expect(
      await chime.client.unschedule({ target: { case: "name", value: "connect-cron" } }),
    ).toMatchObject({ existed: true });
    expect(
      await chime.client.unschedule({ target: { case: "name", value: "connect-cron" } }),
    ).toMatchObject({ existed: false });
  });

  it("ScheduleByInterval, TriggerSchedule and ListSchedules", async () => {
    const created = await chime.client.scheduleByInterval({
      subject: "tasks.connect.interval",
      every: { seconds: 3600n, nanos: 0 },
      labels: { suite: "connect" },
    });
    const fired = await chime.client.triggerSchedule({
      target: { case: "scheduleId", value: created.scheduleId },
    });
    expect(fired.messageId).toBe(
      `${created.scheduleId}:${timestampMs(fired.firedAt ?? timestampFromMs(0))}`,
    );
    const [task] = await recorder.waitFor(ofSchedule(created.scheduleId));
    expect(task?.headers["Chime-Trigger"]).toBe("manual");
    expect(BigInt(task?.streamSequence ?? 0)).toBe(fired.streamSequence);

    const listed = await chime.client.listSchedules({ labels: { suite: "connect" } });
    expect(listed.schedules.map((s) => s.scheduleId)).toEqual([created.scheduleId]);
    expect(listed.schedules[0]?.fireCount).toBe(1n);
  });

  it("an unknown id is NOT_FOUND and a bad cron INVALID_ARGUMENT naming the field", async () => {
    const missing = await connectErrorOf(
      chime.client.getSchedule({ target: { case: "scheduleId", value: UNKNOWN_ID } }),
    );
    expect(missing.code).toBe(Code.NotFound);
    const bad = await connectErrorOf(
      chime.client.scheduleByCron({ subject: "tasks.connect.bad", cron: "61 * * * *" }),
    );
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.rawMessage).toMatch(/^cron: /);
  });

  it("a Connect client on the binary codec gets the same answers", async () => {
    const binary = createClient(
      SchedulerService,
      createConnectTransport({ baseUrl: chime.baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
    );
    const created = await binary.scheduleByInterval({
      subject: "tasks.connect.binary",
      name: "connect-binary",
      every: { seconds: 3600n, nanos: 0 },
    });
    const got = await chime.client.getSchedule({
      target: { case: "name", value: "connect-binary" },
    });
    expect(got.scheduleId).toBe(created.scheduleId);
    expect(got.subject).toBe("tasks.connect.binary");
  });

  describe("plain HTTP/1.1, as a curl user would call it", () => {
    it("POST JSON to ListSchedules", async () => {
      const created = await chime.client.scheduleByInterval({
        subject: "tasks.curl.list",
        name: "curl-list",
        labels: { suite: "curl" },
        every: { seconds: 3600n, nanos: 0 },
      });
      const res = await fetch(`${chime.baseUrl}${SERVICE_PATH}/ListSchedules`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ pageSize: 10, labels: { suite: "curl" } }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      const body = (await res.json()) as { schedules: JsonSchedule[]; nextPageToken?: string };
      expect(body.schedules).toHaveLength(1);
      expect(body.schedules[0]).toMatchObject({
        scheduleId: created.scheduleId,
        name: "curl-list",
        subject: "tasks.curl.list",
        state: "SCHEDULE_STATE_ACTIVE",
        labels: { suite: "curl" },
        interval: { every: "3600s" },
      });
      expect(body.nextPageToken ?? "").toBe("");
    });

    it("POST JSON with snake_case field names, as the proto spells them", async () => {
      const res = await fetch(`${chime.baseUrl}${SERVICE_PATH}/ScheduleByTime`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          subject: "tasks.curl.snake",
          name: "curl-snake",
          content_type: "text/plain",
          delay: "3600s",
        }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { scheduleId: string; created: boolean };
      expect(body.created).toBe(true);
      const got = await chime.client.getSchedule({
        target: { case: "scheduleId", value: body.scheduleId },
      });
      expect(got.contentType).toBe("text/plain");
    });

    it("an error is a Connect JSON error with the code and the field-naming message", async () => {
      const res = await fetch(`${chime.baseUrl}${SERVICE_PATH}/ScheduleByCron`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ subject: "tasks.curl.bad", cron: "* * *" }),
      });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { code: string; message: string };
      expect(body.code).toBe("invalid_argument");
      expect(body.message).toMatch(/^cron: /);

      const missing = await fetch(`${chime.baseUrl}${SERVICE_PATH}/GetSchedule`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ scheduleId: UNKNOWN_ID }),
      });
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { code: string }).code).toBe("not_found");
    });

    it("GET of GetSchedule (Connect GET, NO_SIDE_EFFECTS)", async () => {
      const created = await chime.client.scheduleByInterval({
        subject: "tasks.curl.get",
        name: "curl-get",
        every: { seconds: 3600n, nanos: 0 },
      });
      const message = encodeURIComponent(JSON.stringify({ name: "curl-get", nextFireCount: 2 }));
      const res = await fetch(
        `${chime.baseUrl}${SERVICE_PATH}/GetSchedule?connect=v1&encoding=json&message=${message}`,
      );
      expect(res.status).toBe(200);
      const body = (await res.json()) as JsonSchedule;
      expect(body.scheduleId).toBe(created.scheduleId);
      expect(body.nextFireTimes).toHaveLength(2);

      const viaClient = createClient(
        SchedulerService,
        createConnectTransport({ baseUrl: chime.baseUrl, httpVersion: "1.1", useHttpGet: true }),
      );
      const got = await viaClient.getSchedule({
        target: { case: "scheduleId", value: created.scheduleId },
      });
      expect(got.name).toBe("curl-get");
    });

    it("GET of a method with side effects is refused and creates nothing", async () => {
      const before = await chime.client.listSchedules({ pageSize: 1000 });
      const message = encodeURIComponent(
        JSON.stringify({ subject: "tasks.curl.sneaky", delay: "1s" }),
      );
      const res = await fetch(
        `${chime.baseUrl}${SERVICE_PATH}/ScheduleByTime?connect=v1&encoding=json&message=${message}`,
      );
      // Connect GET is only for NO_SIDE_EFFECTS methods: anything else is 405.
      expect(res.status).toBe(405);
      const after = await chime.client.listSchedules({ pageSize: 1000 });
      expect(after.schedules.length).toBe(before.schedules.length);
    });
  });

  it("gRPC-Web through createGrpcWebTransport", async () => {
    const web = createClient(
      SchedulerService,
      createGrpcWebTransport({ baseUrl: chime.baseUrl, httpVersion: "1.1" }),
    );
    const created = await web.scheduleByInterval({
      subject: "tasks.grpcweb.interval",
      name: "grpc-web",
      every: { seconds: 1n, nanos: 0 },
      maxFires: 1,
    });
    expect(created.created).toBe(true);
    const [task] = await recorder.waitFor(ofSchedule(created.scheduleId), 1, 5_000);
    expect(task?.headers["Chime-Schedule-Name"]).toBe("grpc-web");
    const got = await web.getSchedule({ target: { case: "name", value: "grpc-web" } });
    expect(got.scheduleId).toBe(created.scheduleId);
    expect(got.state).toBe(ScheduleState.COMPLETED);
    const missing = await connectErrorOf(
      web.triggerSchedule({ target: { case: "scheduleId", value: UNKNOWN_ID } }),
    );
    expect(missing.code).toBe(Code.NotFound);
    const bad = await connectErrorOf(
      web.scheduleByInterval({ subject: "tasks.grpcweb.bad", every: { seconds: 0n, nanos: 1 } }),
    );
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.rawMessage).toBe("every: must be at least 1s");
  });
});
