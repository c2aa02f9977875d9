import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  createSchedulerClient,
  InvalidArgumentError,
  type Protocol,
  type SchedulerClient,
  ScheduleState,
} from "@chime/sdk";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { connectErrorOf } from "../harness/rpc-errors.js";
import { ofSchedule, recordTasks, type TaskRecorder } from "../harness/task-recorder.js";

const UNKNOWN_ID = "00000000000000000000000000";
const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

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

describe("client-side refusals", () => {
  let server: Server;
  let baseUrl: string;
  const seen: IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    // Counts requests and answers each with a Connect error: a request here is a failure.
    server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on("end", () => {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ code: "not_found", message: "recorded" }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("an unreachable server is a ConnectError UNAVAILABLE; a closed client refuses calls", async () => {
    const client = createSchedulerClient({ baseUrl: "http://127.0.0.1:1", timeoutMs: 2_000 });
    const err = await connectErrorOf(client.getSchedule("x"));
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.code).toBe(Code.Unavailable);
    await client.close();
    await client.close();
    expect((await connectErrorOf(client.getSchedule("x"))).code).toBe(Code.FailedPrecondition);
  });

  it("bad durations and instants fail with InvalidArgumentError before any request", async () => {
    await using client = createSchedulerClient({ baseUrl });
    seen.length = 0;
    const calls = [
      client.scheduleAt({ subject: "tasks.x", delay: "90" }),
      client.scheduleAt({ subject: "tasks.x", delay: "soon" }),
      client.scheduleAt({ subject: "tasks.x", at: "2026-03-01T02:00:00" }),
      client.scheduleAt({ subject: "tasks.x", at: "yesterday" }),
      client.scheduleEvery({ subject: "tasks.x", every: "5 minutes" }),
      client.scheduleCron({ subject: "tasks.x", cron: "@daily", jitter: "-1s" }),
      client.scheduleCron({ subject: "tasks.x", cron: "@daily", endAt: "2026-02-30T00:00:00Z" }),
      client.getSchedule(""),
    ];
    const fields = ["delay", "delay", "at", "at", "every", "jitter", "endAt", "target"];
    for (const [i, call] of calls.entries()) {
      const err = await call.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).field).toBe(fields[i]);
      expect((err as Error).message.startsWith(`${fields[i]}: `)).toBe(true);
    }
    expect(() => client.listSchedules({ states: ["asleep" as "active"] })).toThrow(
      InvalidArgumentError,
    );
    expect(seen).toHaveLength(0);
  });

  it.each(["connect", "grpc"] as const)(
    "over %s, a token goes as a Bearer authorization header",
    async (protocol) => {
      if (protocol === "grpc") {
        // This recorder speaks HTTP/1.1 only; gRPC's header is checked through the interceptor.
        const headers: string[] = [];
        await using client = createSchedulerClient({
          baseUrl: chime.baseUrl,
          protocol,
          token: "s3cret",
          interceptors: [
            (next) => async (req) => {
              headers.push(req.header.get("authorization") ?? "");
              return next(req);
            },
          ],
        });
        await connectErrorOf(client.getSchedule(UNKNOWN_ID));
        expect(headers).toEqual(["Bearer s3cret"]);
        return;
      }
      await using client = createSchedulerClient({ baseUrl, protocol, token: "s3cret" });
      seen.length = 0;
      const err = await connectErrorOf(client.getSchedule("anything"));
      expect(err.code).toBe(Code.NotFound);
      expect(seen[0]?.authorization).toBe("Bearer s3cret");
    },
  );

  it("refuses bad client options at once", () => {
    expect(() => createSchedulerClient({ baseUrl: "127.0.0.1:7070" })).toThrow(/^baseUrl: /);
    expect(() =>
      createSchedulerClient({ baseUrl: "http://x", protocol: "soap" as "grpc" }),
    ).toThrow(/^protocol: /);
    expect(() => createSchedulerClient({ baseUrl: "http://x", timeoutMs: 0 })).toThrow(
      /^timeoutMs: /,
    );
  });
});

describe.each(["connect", "grpc"] as const)("the client over %s", (protocol: Protocol) => {
  let client: SchedulerClient;
  const subject = (leaf: string) => `tasks.sdk.${protocol}.${leaf}`;
  const name = (leaf: string) => `sdk-${protocol}-${leaf}`;

  beforeAll(() => {
    client = createSchedulerClient({ baseUrl: chime.baseUrl, protocol });
  });
  afterAll(async () => {
    await client?.close();
  });

  it("scheduleAt takes a Date, RFC 3339 text or epoch ms, and an object payload goes as JSON", async () => {
    const base = Date.now() + 300;
    const handles = await Promise.all([
      client.scheduleAt({ subject: subject("at"), at: new Date(base), payload: { n: 1 } }),
      client.scheduleAt({
        subject: subject("at"),
        at: new Date(base + 1).toISOString(),
        payload: "two",
      }),
      client.scheduleAt({ subject: subject("at"), at: base + 2, payload: new Uint8Array([3]) }),
    ]);
    const expected = [base, base + 1, base + 2];
    for (const [i, handle] of handles.entries()) {
      expect(handle.created).toBe(true);
      expect(handle.id).toMatch(/^[0-9A-Z]{26}$/);
      expect(handle.schedule.scheduleId).toBe(handle.id);
      const at =
        handle.schedule.trigger.case === "time" ? handle.schedule.trigger.value.at : undefined;
      expect(at && timestampMs(at)).toBe(expected[i]);
    }
    const [json] = await recorder.waitFor(ofSchedule(handles[0]?.id ?? ""));
    expect(text(json?.data)).toBe('{"n":1}');
    expect(json?.headers["Content-Type"]).toBe("application/json");
    const [str] = await recorder.waitFor(ofSchedule(handles[1]?.id ?? ""));
    expect(text(str?.data)).toBe("two");
    expect(str?.headers["Content-Type"]).toBeUndefined();
    const [bytes] = await recorder.waitFor(ofSchedule(handles[2]?.id ?? ""));
    expect([...(bytes?.data ?? [])]).toEqual([3]);
  });

  it("scheduleByTime takes a delay, and a local time in a time zone, with headers and labels", async () => {
    const before = Date.now();
    const delayed = await client.scheduleByTime({
      subject: subject("delay"),
      delay: "200ms",
      headers: { "X-Tenant": "acme" },
      labels: { kind: "delay" },
      contentType: "text/plain",
      payload: "hi",
    });
    const at =
      delayed.schedule.trigger.case === "time" ? delayed.schedule.trigger.value.at : undefined;
    expect(at && timestampMs(at)).toBeGreaterThanOrEqual(before + 200);
    expect(delayed.schedule.labels).toEqual({ kind: "delay" });
    const [task] = await recorder.waitFor(ofSchedule(delayed.id));
    expect(task?.headers).toMatchObject({ "X-Tenant": "acme", "Content-Type": "text/plain" });

    const local = await client.scheduleAt({
      subject: subject("local"),
      localTime: "2099-03-29T02:30:00",
      timeZone: "Europe/Berlin",
    });
    const trigger = local.schedule.trigger;
    expect(trigger.case).toBe("time");
    if (trigger.case === "time") {
      expect(trigger.value.localTime).toBe("2099-03-29T02:30:00");
      expect(trigger.value.timeZone).toBe("Europe/Berlin");
      // 02:30 does not exist that night in Berlin: the first instant after the gap.
      expect(
        new Date(
          timestampMs(trigger.value.at ?? local.schedule.createdAt ?? never()),
        ).toISOString(),
      ).toBe("2099-03-29T01:00:00.000Z");
    }
    expect(await local.unschedule()).toBe(true);
  });

  it("scheduleCron passes every option; the handle pauses, resumes, refreshes and unschedules", async () => {
    const handle = await client.scheduleCron({
      name: name("cron"),
      subject: subject("cron"),
      cron: "0 2 * * *",
      timeZone: "America/New_York",
      endAt: "2099-01-01T00:00:00Z",
      maxFires: 100,
      jitter: "30s",
      misfirePolicy: "skip",
      catchupWindow: "2h",
    });
    expect(handle.created).toBe(true);
    expect(handle.name).toBe(name("cron"));
    const s = handle.schedule;
    expect(s.trigger).toMatchObject({
      case: "cron",
      value: { cron: "0 2 * * *", timeZone: "America/New_York" },
    });
    expect(s.maxFires).toBe(100);
    expect(s.endAt && timestampMs(s.endAt)).toBe(Date.UTC(2099, 0, 1));
    expect(s.nextFireTimes.length).toBeGreaterThan(0);

    const paused = await handle.pause();
    expect(paused.state).toBe(ScheduleState.PAUSED);
    expect(handle.schedule.state).toBe(ScheduleState.PAUSED);
    expect((await handle.resume()).state).toBe(ScheduleState.ACTIVE);
    expect((await handle.refresh()).state).toBe(ScheduleState.ACTIVE);

    const again = await client.scheduleCron({
      name: name("cron"),
      subject: subject("cron"),
      cron: "@hourly",
    });
    expect(again.created).toBe(false);
    expect(again.id).toBe(handle.id);

    expect(await handle.unschedule()).toBe(true);
    expect(await handle.unschedule()).toBe(false);
  });

  it("scheduleEvery takes '5m' or ms, and trigger publishes a manual fire", async () => {
    const handle = await client.scheduleEvery({
      name: name("every"),
      subject: subject("every"),
      every: "5m",
    });
    const trigger = handle.schedule.trigger;
    expect(trigger.case === "interval" && trigger.value.every?.seconds).toBe(300n);
    const fired = await handle.trigger();
    expect(fired.scheduleId).toBe(handle.id);
    expect(fired.firedAt).toBeInstanceOf(Date);
    expect(fired.streamSequence).toBeGreaterThan(0);
    const [task] = await recorder.waitFor(ofSchedule(handle.id));
    expect(task?.headers["Chime-Trigger"]).toBe("manual");
    expect(task?.headers["Nats-Msg-Id"]).toBe(fired.messageId);

    const ms = await client.scheduleEvery({
      name: name("every-ms"),
      subject: subject("every"),
      every: 90_000,
    });
    const msTrigger = ms.schedule.trigger;
    expect(msTrigger.case === "interval" && msTrigger.value.every?.seconds).toBe(90n);
    await client.unschedule(ms.id);
    await client.unschedule(handle.id);
  });

  it("getSchedule, pause, resume, trigger and unschedule by id, by name and by { name }", async () => {
    const handle = await client.scheduleEvery({
      name: name("target"),
      subject: subject("target"),
      every: "1h",
    });
    expect((await client.getSchedule(handle.id)).name).toBe(name("target"));
    expect((await client.getSchedule(name("target"))).scheduleId).toBe(handle.id);
    expect(
      (await client.getSchedule({ name: name("target") }, { nextFireCount: 3 })).nextFireTimes,
    ).toHaveLength(3);
    expect((await client.pause(name("target"))).state).toBe(ScheduleState.PAUSED);
    expect((await client.resume({ id: handle.id })).state).toBe(ScheduleState.ACTIVE);
    const fired = await client.trigger(name("target"));
    expect(fired.scheduleId).toBe(handle.id);
    expect(await client.unschedule(name("target"))).toBe(true);
    expect(await client.unschedule(name("target"))).toBe(false);
  });

  it("listSchedules iterates over every page with the filters", async () => {
    const label = { list: protocol };
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      const h = await client.scheduleEvery({
        name: name(`list-${i}`),
        subject: subject("list"),
        every: "1h",
        labels: label,
      });
      created.push(h.id);
    }
    await client.pause(created[0] ?? "");
    const all: string[] = [];
    for await (const s of client.listSchedules({ labels: label, pageSize: 2 }))
      all.push(s.scheduleId);
    expect(all).toEqual(created);
    const paused: string[] = [];
    for await (const s of client.listSchedules({ labels: label, states: ["paused"] }))
      paused.push(s.scheduleId);
    expect(paused).toEqual([created[0]]);
    const named: string[] = [];
    for await (const s of client.listSchedules({ nameContains: name("LIST-3").toUpperCase() }))
      named.push(s.name);
    expect(named).toEqual([name("list-3")]);
    const bySubject: string[] = [];
    for await (const s of client.listSchedules({ subjectPrefix: subject("list"), pageSize: 1 }))
      bySubject.push(s.scheduleId);
    expect(bySubject).toEqual(created);
    for (const id of created) await client.unschedule(id);
  });

  it("errors are ConnectErrors with Chime's code and message", async () => {
    const missing = await connectErrorOf(client.getSchedule(UNKNOWN_ID));
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.rawMessage).toContain(UNKNOWN_ID);
    expect((await connectErrorOf(client.pause("no-such-schedule"))).code).toBe(Code.NotFound);
    expect((await connectErrorOf(client.trigger("no-such-schedule"))).code).toBe(Code.NotFound);

    const outside = await connectErrorOf(
      client.scheduleAt({ subject: "elsewhere.x", delay: "1s" }),
    );
    expect(outside.code).toBe(Code.InvalidArgument);
    expect(outside.rawMessage).toMatch(/^subject: /);
    const cron = await connectErrorOf(
      client.scheduleCron({ subject: subject("bad"), cron: "0 0 30 2 *" }),
    );
    expect(cron.code).toBe(Code.InvalidArgument);
    expect(cron.rawMessage).toMatch(/^cron: /);
    const zone = await connectErrorOf(
      client.scheduleCron({ subject: subject("bad"), cron: "@daily", timeZone: "Mars/Olympus" }),
    );
    expect(zone.rawMessage).toMatch(/^time_zone: /);

    await client.scheduleEvery({ name: name("taken"), subject: subject("taken"), every: "1h" });
    const taken = await connectErrorOf(
      client.scheduleEvery({
        name: name("taken"),
        subject: subject("taken"),
        every: "2h",
        conflictPolicy: "fail",
      }),
    );
    expect(taken.code).toBe(Code.AlreadyExists);
    const replaced = await client.scheduleEvery({
      name: name("taken"),
      subject: subject("taken"),
      every: "2h",
      conflictPolicy: "replace",
    });
    expect(replaced.replaced).toBe(true);
    await client.unschedule(name("taken"));
  });
});

function never(): never {
  throw new Error("unreachable");
}
