import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChimeProcess, startChimeProcess } from "../harness/chime.js";
import { sleep } from "../harness/deliveries.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";

const SECRET = "payload-that-must-never-be-logged-7f3a";

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly requestId?: string;
  readonly rpc?: string;
  readonly code?: string;
  readonly scheduleId?: string;
}

/** Calls a chime.v1 RPC with Connect JSON over HTTP/1.1, as curl would. */
async function call(chime: ChimeProcess, rpc: string, body: object, requestId?: string) {
  const res = await fetch(`${chime.baseUrl}/chime.v1.SchedulerService/${rpc}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(requestId === undefined ? {} : { "x-request-id": requestId }),
    },
    body: JSON.stringify(body),
  });
  return { res, json: (await res.json()) as Record<string, unknown> };
}

describe("structured logs", () => {
  let nats: TestNats;
  let chime: ChimeProcess;

  beforeAll(async () => {
    nats = await startTestNats();
    chime = await startChimeProcess(nats.url, { logLevel: "info", logFormat: "json" });
  });
  afterAll(async () => {
    await chime?.stop();
    await nats?.stop();
  });

  it("give every RPC a request id and the schedule it was about, and never the payload", async () => {
    const payload = Buffer.from(SECRET).toString("base64");
    const created = await call(
      chime,
      "ScheduleByTime",
      { subject: "tasks.logs", delay: "1s", payload, headers: { "X-Secret": SECRET } },
      "req-create-1",
    );
    expect(created.res.status).toBe(200);
    expect(created.res.headers.get("x-request-id")).toBe("req-create-1");
    const id = created.json.scheduleId as string;

    const refused = await call(chime, "ScheduleByCron", { subject: "tasks.*", cron: "* * * * *" });
    expect(refused.res.status).toBe(400);
    const generated = refused.res.headers.get("x-request-id");
    expect(generated).toMatch(/^[0-9a-f]{16}$/);

    await call(chime, "TriggerSchedule", { scheduleId: id }, "req-trigger-1");
    await sleep(1_500); // the one-shot fires: the engine's lines too must not show the payload
    await call(chime, "Unschedule", { scheduleId: id }, "req-rm-1");
    await sleep(300);

    const lines = chime
      .output()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as LogLine);
    const byRequest = (requestId: string) => lines.find((l) => l.requestId === requestId);
    expect(byRequest("req-create-1")).toMatchObject({
      rpc: "ScheduleByTime",
      code: "ok",
      scheduleId: id,
    });
    expect(byRequest("req-trigger-1")).toMatchObject({ rpc: "TriggerSchedule", scheduleId: id });
    expect(byRequest("req-rm-1")).toMatchObject({ rpc: "Unschedule", scheduleId: id });
    expect(byRequest(generated ?? "")).toMatchObject({
      rpc: "ScheduleByCron",
      code: "InvalidArgument",
    });
    const output = chime.output();
    expect(output).not.toContain(SECRET);
    expect(output).not.toContain(payload);
  });
});
