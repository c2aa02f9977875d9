import {
  ConsumerConfigError,
  consumeTasks,
  createSchedulerClient,
  InvalidArgumentError,
  type SchedulerClient,
  type Task,
  type TaskConsumer,
} from "@chime/sdk";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { sleep, until } from "../harness/deliveries.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { recordTasks, type TaskRecorder } from "../harness/task-recorder.js";

let nats: TestNats;
let chime: TestChime;
let client: SchedulerClient;
let nc: NatsConnection;
let jsm: JetStreamManager;
let recorder: TaskRecorder;
const consumers: TaskConsumer[] = [];
const errors: Error[] = [];

beforeAll(async () => {
  nats = await startTestNats();
  chime = await startTestChime(nats.url);
  client = createSchedulerClient({ baseUrl: chime.baseUrl });
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  recorder = await recordTasks(nats.url);
});
afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.stop()));
  errors.length = 0;
});
afterAll(async () => {
  await recorder?.stop();
  await nc?.close();
  await client?.close();
  await chime?.stop();
  await nats?.stop();
});

/** Starts a consumer that is stopped after the test; failures are collected in `errors`. */
async function consume(
  options: Omit<Parameters<typeof consumeTasks>[0], "nats">,
): Promise<TaskConsumer> {
  const consumer = await consumeTasks({ nats: nc, onError: (err) => errors.push(err), ...options });
  consumers.push(consumer);
  return consumer;
}

/** A one-shot that fires at once, on `subject`. */
function fire(subject: string, payload: object | string = {}, name?: string) {
  return client.scheduleAt({ subject, delay: 0, payload, name, headers: { "X-Test": "yes" } });
}

async function consumerState(durable: string) {
  const info = await jsm.consumers.info("CHIME_TASKS", durable);
  return {
    ackPending: info.num_ack_pending,
    pending: info.num_pending,
    redelivered: info.num_redelivered,
  };
}

describe("consumeTasks", () => {
  it("hands the handler a Task with the wire contract read, and acks on success", async () => {
    const seen: Task[] = [];
    await consume({
      durable: "sdk-ack",
      subjects: "tasks.ack.>",
      handler: (task) => void seen.push(task),
    });
    const handle = await fire("tasks.ack.one", { to: "a@example.com" }, "sdk-ack-once");
    await until("the task", () => seen.length === 1, 5_000);
    const task = seen[0] as Task;
    expect(task.subject).toBe("tasks.ack.one");
    expect(task.scheduleId).toBe(handle.id);
    expect(task.name).toBe("sdk-ack-once");
    expect(task.scheduledAt).toBeInstanceOf(Date);
    expect(task.firedAt.getTime()).toBeGreaterThanOrEqual(task.scheduledAt.getTime());
    expect(task.seq).toBe(1);
    expect(task.trigger).toBe("schedule");
    expect(task.attempt).toBe(1);
    expect(task.messageId).toBe(`${handle.id}:${task.scheduledAt.getTime()}`);
    expect(task.headers["X-Test"]).toBe("yes");
    expect(task.headers["Content-Type"]).toBe("application/json");
    expect(task.json<{ to: string }>().to).toBe("a@example.com");
    expect(task.text()).toBe('{"to":"a@example.com"}');
    expect(task.data).toBeInstanceOf(Uint8Array);
    expect(task.signal.aborted).toBe(false);
    await until("the ack", async () => (await consumerState("sdk-ack")).ackPending === 0, 2_000);

    const every = await client.scheduleEvery({ subject: "tasks.ack.manual", every: "1h" });
    await every.trigger();
    await until("the manual task", () => seen.length === 2, 5_000);
    expect(seen[1]?.trigger).toBe("manual");
    await sleep(300);
    expect(seen).toHaveLength(2);
    expect(errors).toEqual([]);
    await every.unschedule();
  });

  it("retries a failing handler with delay × backoff^(attempt-1), then acks", async () => {
    const attempts: { attempt: number; at: number }[] = [];
    await consume({
      durable: "sdk-retry",
      subjects: "tasks.retry.>",
      retry: { maxAttempts: 5, delay: "300ms", backoff: 2 },
      handler: (task) => {
        attempts.push({ attempt: task.attempt, at: Date.now() });
        if (task.attempt < 3) throw new Error(`attempt ${task.attempt} failed`);
      },
    });
    await fire("tasks.retry.one");
    await until("three attempts", () => attempts.length === 3, 5_000);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    const [a, b, c] = attempts as [
      (typeof attempts)[0],
      (typeof attempts)[0],
      (typeof attempts)[0],
    ];
    expect(b.at - a.at).toBeGreaterThanOrEqual(290);
    expect(c.at - b.at).toBeGreaterThanOrEqual(590);
    expect(c.at - b.at).toBeLessThan(2_000);
    expect(errors.map((e) => e.message)).toEqual(["attempt 1 failed", "attempt 2 failed"]);
    await until("the ack", async () => (await consumerState("sdk-retry")).ackPending === 0, 2_000);
    await sleep(800);
    expect(attempts).toHaveLength(3);
  });

  it("terminates a task after maxAttempts: it is not delivered again", async () => {
    const attempts: number[] = [];
    await consume({
      durable: "sdk-term",
      subjects: "tasks.term.>",
      retry: { maxAttempts: 2, delay: "100ms", backoff: 1 },
      handler: (task) => {
        attempts.push(task.attempt);
        throw new Error("always");
      },
    });
    await fire("tasks.term.one");
    await until("two attempts", () => attempts.length === 2, 5_000);
    await sleep(1_500);
    expect(attempts).toEqual([1, 2]);
    expect(await consumerState("sdk-term")).toMatchObject({ ackPending: 0, pending: 0 });
  });

  it("publishes a terminated task to the dead-letter subject with its headers and the error", async () => {
    await consume({
      durable: "sdk-dlq",
      subjects: "tasks.dlq.>",
      retry: { maxAttempts: 2, delay: "100ms" },
      deadLetterSubject: "tasks.dead.sdk",
      handler: () => {
        throw new Error("smtp said no\nsecond line");
      },
    });
    const handle = await fire("tasks.dlq.one", { to: "b@example.com" });
    const [dead] = await recorder.waitFor((t) => t.subject === "tasks.dead.sdk", 1, 5_000);
    expect(new TextDecoder().decode(dead?.data)).toBe('{"to":"b@example.com"}');
    expect(dead?.headers).toMatchObject({
      "Chime-Error": "smtp said no second line",
      "Chime-Attempts": "2",
      "Chime-Original-Subject": "tasks.dlq.one",
      "Chime-Original-Stream": "CHIME_TASKS",
      "Chime-Schedule-Id": handle.id,
      "X-Test": "yes",
      "Content-Type": "application/json",
    });
    expect(dead?.headers["Nats-Msg-Id"]).toMatch(new RegExp(`^${handle.id}:\\d+:dead-letter$`));
    await until("the term", async () => (await consumerState("sdk-dlq")).ackPending === 0, 2_000);
  });

  it("does not terminate a task whose dead-letter publish failed: it is retried", async () => {
    const attempts: number[] = [];
    await consume({
      durable: "sdk-dlq-missing",
      subjects: "tasks.dlqmissing.>",
      retry: { maxAttempts: 1, delay: "200ms" },
      // No stream captures it.
      deadLetterSubject: "nowhere.dead",
      handler: (task) => {
        attempts.push(task.attempt);
        throw new Error("fails");
      },
    });
    await fire("tasks.dlqmissing.one");
    await until("a redelivery", () => attempts.length >= 2, 10_000);
    expect(attempts.slice(0, 2)).toEqual([1, 2]);
    expect(errors.some((e) => /dead-letter subject nowhere\.dead failed/.test(e.message))).toBe(
      true,
    );
  });

  it("runs at most `concurrency` handlers at once", async () => {
    let running = 0;
    let most = 0;
    let done = 0;
    await consume({
      durable: "sdk-conc",
      subjects: "tasks.conc.>",
      concurrency: 3,
      handler: async () => {
        running++;
        most = Math.max(most, running);
        await sleep(250);
        running--;
        done++;
      },
    });
    await Promise.all(Array.from({ length: 9 }, (_, i) => fire(`tasks.conc.${i}`)));
    await until("nine tasks", () => done === 9, 10_000);
    expect(most).toBe(3);
  });

  it("shares a durable between two instances: each task is handled once", async () => {
    const handled = new Map<string, string[]>();
    const handler = (who: string) => async (task: Task) => {
      handled.set(task.messageId, [...(handled.get(task.messageId) ?? []), who]);
      await sleep(40);
    };
    await consume({
      durable: "sdk-shared",
      subjects: "tasks.shared.>",
      concurrency: 2,
      handler: handler("a"),
    });
    await consume({
      durable: "sdk-shared",
      subjects: "tasks.shared.>",
      concurrency: 2,
      handler: handler("b"),
    });
    await Promise.all(Array.from({ length: 24 }, (_, i) => fire(`tasks.shared.${i}`)));
    await until("24 tasks", () => handled.size === 24, 10_000);
    await sleep(500);
    expect(handled.size).toBe(24);
    const twice = [...handled].filter(([, who]) => who.length > 1);
    expect(twice).toEqual([]);
    const by = [...handled.values()].flat();
    expect(by.filter((w) => w === "a").length).toBeGreaterThan(0);
    expect(by.filter((w) => w === "b").length).toBeGreaterThan(0);
  });

  it("a consumer that joins late receives the tasks stored while it was away", async () => {
    const first: string[] = [];
    const away = await consume({
      durable: "sdk-late",
      subjects: "tasks.late.>",
      handler: (t) => void first.push(t.subject),
    });
    await away.stop();
    expect(await away.closed()).toBeUndefined();
    for (let i = 0; i < 3; i++) await fire(`tasks.late.${i}`);
    await recorder.waitFor((t) => t.subject.startsWith("tasks.late."), 3, 5_000);
    await sleep(200);
    expect(first).toEqual([]);

    const later: string[] = [];
    await consume({
      durable: "sdk-late",
      subjects: "tasks.late.>",
      handler: (t) => void later.push(t.subject),
    });
    await until("the stored tasks", () => later.length === 3, 5_000);
    expect(later.sort()).toEqual(["tasks.late.0", "tasks.late.1", "tasks.late.2"]);

    // A durable created after the tasks were stored starts at the beginning by default…
    const fresh: string[] = [];
    await consume({
      durable: "sdk-late-new",
      subjects: "tasks.late.>",
      handler: (t) => void fresh.push(t.subject),
    });
    await until("the stored tasks", () => fresh.length === 3, 5_000);
    // …and with deliverFrom "new" at the end.
    const newOnly: string[] = [];
    await consume({
      durable: "sdk-late-newonly",
      subjects: "tasks.late.>",
      deliverFrom: "new",
      handler: (t) => void newOnly.push(t.subject),
    });
    await fire("tasks.late.after");
    await until("the new task", () => newOnly.length === 1, 5_000);
    expect(newOnly).toEqual(["tasks.late.after"]);
  });

  it("stop() stops fetching and waits for running handlers and their acks", async () => {
    let finished = false;
    let started = 0;
    const consumer = await consume({
      durable: "sdk-stop",
      subjects: "tasks.stop.>",
      handler: async () => {
        started++;
        await sleep(600);
        finished = true;
      },
    });
    await fire("tasks.stop.one");
    await until("the handler", () => started === 1, 5_000);
    expect(consumer.running).toBe(1);
    await consumer.stop();
    expect(finished).toBe(true);
    expect(consumer.running).toBe(0);
    expect(await consumerState("sdk-stop")).toMatchObject({ ackPending: 0 });
    await fire("tasks.stop.two");
    await sleep(500);
    expect(started).toBe(1);
    await consumer.stop();
    expect(await consumer.closed()).toBeUndefined();
  });

  it("close() aborts task.signal and does not wait; await using stops", async () => {
    let signal: AbortSignal | undefined;
    const consumer = await consume({
      durable: "sdk-close",
      subjects: "tasks.close.>",
      handler: (task) => {
        signal = task.signal;
        return new Promise((_, reject) =>
          task.signal.addEventListener("abort", () => reject(task.signal.reason)),
        );
      },
    });
    await fire("tasks.close.one");
    await until("the handler", () => signal !== undefined, 5_000);
    await consumer.close();
    expect(signal?.aborted).toBe(true);
    expect(await consumer.closed()).toBeUndefined();

    {
      await using scoped = await consumeTasks({
        nats: nc,
        durable: "sdk-close",
        subjects: "tasks.close.>",
        handler: () => {},
      });
      expect(scoped.durable).toBe("sdk-close");
    }
  });

  it("keeps a slow handler's task from being redelivered while it runs", async () => {
    const attempts: number[] = [];
    await consume({
      durable: "sdk-slow",
      subjects: "tasks.slow.>",
      ackWait: "1s",
      handler: async (task) => {
        attempts.push(task.attempt);
        await sleep(2_500);
      },
    });
    await fire("tasks.slow.one");
    await until("the handler", () => attempts.length === 1, 5_000);
    await sleep(3_000);
    expect(attempts).toEqual([1]);
    expect(await consumerState("sdk-slow")).toMatchObject({ ackPending: 0, redelivered: 0 });
  });

  it("refuses a durable that exists with another filter, several subjects on NATS 2.9, and a missing stream", async () => {
    await consume({ durable: "sdk-taken", subjects: "tasks.taken.a.>", handler: () => {} });
    await expect(
      consumeTasks({
        nats: nc,
        durable: "sdk-taken",
        subjects: "tasks.taken.b.>",
        handler: () => {},
      }),
    ).rejects.toThrow(ConsumerConfigError);
    await expect(
      consumeTasks({
        nats: nc,
        durable: "sdk-taken",
        subjects: "tasks.taken.b.>",
        handler: () => {},
      }),
    ).rejects.toThrow(/filters tasks\.taken\.a\.>, not tasks\.taken\.b\.>/);
    if ((nc.info?.version ?? "").startsWith("2.9.")) {
      await expect(
        consumeTasks({
          nats: nc,
          durable: "sdk-several",
          subjects: ["tasks.x.>", "tasks.y.>"],
          handler: () => {},
        }),
      ).rejects.toThrow(/^subjects: NATS server 2\.9\.\d+ takes one filter subject/);
    }
    await expect(
      consumeTasks({
        nats: nc,
        stream: "NO_SUCH",
        durable: "x",
        subjects: "tasks.>",
        handler: () => {},
      }),
    ).rejects.toThrow(/stream NO_SUCH does not exist/);
    await expect(
      consumeTasks({ nats: nc, durable: "has space", subjects: "tasks.>", handler: () => {} }),
    ).rejects.toThrow(InvalidArgumentError);
    await expect(
      consumeTasks({
        nats: nc,
        durable: "ok",
        subjects: "tasks.>",
        handler: () => {},
        retry: { delay: "often" },
      }),
    ).rejects.toThrow(/^retry\.delay: must be a duration/);
  });
});
