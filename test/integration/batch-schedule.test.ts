import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createSchedulerClient, type SchedulerClient } from "@chime/sdk";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { connectErrorOf } from "../harness/rpc-errors.js";
import { ofSchedule, recordTasks, type TaskRecorder } from "../harness/task-recorder.js";

const seconds = (n: number) => ({ seconds: BigInt(n), nanos: 0 });
const HOUR = 3_600_000;

describe.concurrent("BatchSchedule creates many schedules in one call", () => {
  let nats: TestNats;
  let chime: TestChime;
  let recorder: TaskRecorder;
  let sdk: SchedulerClient;

  beforeAll(async () => {
    nats = await startTestNats();
    chime = await startTestChime(nats.url);
    recorder = await recordTasks(nats.url);
    sdk = createSchedulerClient({ baseUrl: chime.baseUrl, protocol: "grpc" });
  });
  afterAll(async () => {
    await sdk?.close();
    await recorder?.stop();
    await chime?.stop();
    await nats?.stop();
  });

  it("validates each item on its own: a bad item is refused, the others are created", async () => {
    const at = timestampFromMs(Date.now() + HOUR);
    const response = await chime.client.batchSchedule({
      items: [
        {
          request: {
            case: "byTime",
            value: { subject: "tasks.batch.ok", when: { case: "at", value: at } },
          },
        },
        {
          request: {
            case: "byTime",
            value: { subject: "tasks.>", when: { case: "at", value: at } },
          },
        },
        { request: { case: "byCron", value: { subject: "tasks.batch.ok", cron: "61 * * * *" } } },
        {
          request: {
            case: "byInterval",
            value: { subject: "tasks.batch.ok", every: seconds(3600) },
          },
        },
        { request: { case: undefined } },
        {
          request: {
            case: "byTime",
            value: { subject: "$JS.API.STREAM.DELETE.X", when: { case: "at", value: at } },
          },
        },
      ],
    });
    const outcomes = response.results.map((r) => r.outcome);
    expect(outcomes.map((o) => o.case)).toEqual([
      "created",
      "error",
      "error",
      "created",
      "error",
      "error",
    ]);
    for (const [i, field] of [
      [1, "subject"],
      [2, "cron"],
      [4, "request"],
      [5, "subject"],
    ] as const) {
      const outcome = outcomes[i];
      if (outcome?.case !== "error") throw new Error(`item ${i} was not refused`);
      expect(outcome.value.code).toBe(Code.InvalidArgument);
      expect(outcome.value.message).toMatch(new RegExp(`^items\\[${i}\\]\\.${field}: `));
    }
    // The created ones are stored and readable at once, as after a single create.
    for (const i of [0, 3]) {
      const outcome = outcomes[i];
      if (outcome?.case !== "created") throw new Error(`item ${i} was not created`);
      expect(outcome.value.created).toBe(true);
      const stored = await chime.client.getSchedule({
        target: { case: "scheduleId", value: outcome.value.scheduleId },
      });
      expect(stored.subject).toBe("tasks.batch.ok");
    }
  });

  it("refuses a batch above the size bound as a whole", async () => {
    const at = timestampFromMs(Date.now() + HOUR);
    const item = {
      request: {
        case: "byTime" as const,
        value: { subject: "tasks.batch.big", when: { case: "at" as const, value: at } },
      },
    };
    const err = await connectErrorOf(
      chime.client.batchSchedule({ items: Array.from({ length: 1001 }, () => item) }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/^items: must hold at most 1000 items/);
    const listed = await chime.client.listSchedules({ subjectPrefix: "tasks.batch.big" });
    expect(listed.schedules).toHaveLength(0);
  });

  it("follows each item's conflict policy, in order, for names repeated in the batch", async () => {
    const existing = await sdk.scheduleEvery({
      subject: "tasks.batch.names",
      name: "batch-existing",
      every: "1h",
    });
    const results = await sdk.batchSchedule([
      { kind: "every", subject: "tasks.batch.names", name: "batch-existing", every: "2h" },
      {
        kind: "every",
        subject: "tasks.batch.names",
        name: "batch-existing",
        every: "2h",
        conflictPolicy: "fail",
      },
      {
        kind: "cron",
        subject: "tasks.batch.names",
        name: "batch-new",
        cron: "0 3 * * *",
        timeZone: "Europe/Berlin",
      },
      {
        kind: "cron",
        subject: "tasks.batch.names.v2",
        name: "batch-new",
        cron: "0 4 * * *",
        conflictPolicy: "replace",
      },
      { kind: "cron", subject: "tasks.batch.names.v3", name: "batch-new", cron: "0 5 * * *" },
    ]);
    expect(results[0]).toEqual({ ok: true, id: existing.id, created: false, replaced: false });
    expect(results[1]).toMatchObject({ ok: false, code: Code.AlreadyExists });
    const made = results[2];
    if (made?.ok !== true) throw new Error("batch-new was not created");
    expect(made.created).toBe(true);
    expect(results[3]).toEqual({ ok: true, id: made.id, created: true, replaced: true });
    expect(results[4]).toEqual({ ok: true, id: made.id, created: false, replaced: false });

    const kept = await sdk.getSchedule({ name: "batch-existing" });
    expect(kept.trigger.case === "interval" && kept.trigger.value.every?.seconds).toBe(3600n);
    const replaced = await sdk.getSchedule({ name: "batch-new" });
    expect(replaced.subject).toBe("tasks.batch.names.v2");
    expect(replaced.trigger.case === "cron" && replaced.trigger.value.cron).toBe("0 4 * * *");
    expect(existing.id).not.toBe(made.id);
  });

  it("the created schedules fire, each once, with their own payload", async () => {
    const at = new Date(Date.now() + 1_500);
    const items = Array.from({ length: 200 }, (_, i) => ({
      kind: "at" as const,
      subject: `tasks.batch.fire.${i % 4}`,
      payload: new TextEncoder().encode(`p${i}`),
      at,
    }));
    const results = await sdk.batchSchedule([
      ...items.slice(0, 100),
      { kind: "every", subject: "tasks.batch.fire.0", every: "0.5s" },
      ...items.slice(100),
    ]);
    expect(results).toHaveLength(201);
    expect(results[100]).toMatchObject({ ok: false, code: Code.InvalidArgument });
    const ids = results.filter((r) => r.ok).map((r) => (r.ok ? r.id : ""));
    expect(ids).toHaveLength(200);
    expect(new Set(ids).size).toBe(200);
    const fired = await recorder.waitFor(
      (t) => t.subject.startsWith("tasks.batch.fire."),
      200,
      30_000,
    );
    expect(new Set(fired.map((t) => t.headers["Chime-Schedule-Id"]))).toEqual(new Set(ids));
    for (const [i, id] of ids.entries()) {
      const [task] = recorder.matching(ofSchedule(id));
      expect(task?.headers["Chime-Trigger"]).toBe("schedule");
      expect(task?.headers["Chime-Fire-Seq"]).toBe("1");
      expect(new TextDecoder().decode(task?.data)).toBe(`p${i}`);
    }
  });
});
