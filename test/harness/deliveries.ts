import { type CreatedSchedule, SchedulerService } from "@chime/sdk";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { RecordedTask, TaskRecorder } from "./task-recorder.js";

/** A Connect client (HTTP/1.1, JSON) for a Chime at `baseUrl`, e.g. a child process. */
export function chimeClient(baseUrl: string): Client<typeof SchedulerService> {
  return createClient(SchedulerService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every `everyMs` until it holds; throws `what` after `timeoutMs`. */
export async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await sleep(everyMs);
  }
}

/** The anchor of an interval schedule (its occurrence k is `anchor + k × every`), in Unix ms. */
export function anchorOf(created: CreatedSchedule): number {
  const trigger = created.schedule?.trigger;
  if (trigger?.case !== "interval" || trigger.value.anchor === undefined) {
    throw new Error(`schedule ${created.scheduleId} has no interval anchor`);
  }
  return Number(trigger.value.anchor.seconds) * 1000 + Math.round(trigger.value.anchor.nanos / 1e6);
}

/** The nominal fire time a task carries in its Nats-Msg-Id (`<schedule_id>:<ms>`). */
export function nominalOf(task: RecordedTask): number {
  const id = task.headers["Nats-Msg-Id"] ?? "";
  return Number(id.slice(id.lastIndexOf(":") + 1));
}

export function fireSeqOf(task: RecordedTask): number {
  return Number(task.headers["Chime-Fire-Seq"]);
}

export function triggerOf(task: RecordedTask): string {
  return task.headers["Chime-Trigger"] ?? "";
}

/** Every Nats-Msg-Id that reached the consumer more than once, with its count. */
export function duplicateMessageIds(tasks: readonly RecordedTask[]): Record<string, number> {
  return repeated(tasks.map((t) => t.headers["Nats-Msg-Id"] ?? ""));
}

/**
 * The nominal instants of an interval (`anchor + k × every`) in [from, to] that are missing
 * from `nominals`: an empty list means no occurrence in the range was lost.
 */
export function missingOccurrences(
  nominals: readonly number[],
  anchor: number,
  everyMs: number,
  from: number,
  to: number,
): number[] {
  const seen = new Set(nominals);
  const missing: number[] = [];
  const first = anchor + Math.max(0, Math.ceil((from - anchor) / everyMs)) * everyMs;
  for (let t = first; t <= to; t += everyMs) if (!seen.has(t)) missing.push(t);
  return missing;
}

/** /healthz or /readyz status code, or 0 when nothing answers. */
export async function probe(baseUrl: string, path: "/healthz" | "/readyz"): Promise<number> {
  try {
    const res = await fetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** How many messages the task stream has stored so far (its last sequence). */
export async function storedTaskCount(natsUrl: string, stream = "CHIME_TASKS"): Promise<number> {
  const nc = await connect({ servers: natsUrl, timeout: 2_000 });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(stream)).state.last_seq;
  } finally {
    await nc.close();
  }
}

/**
 * Waits until the recorder has received every message the task stream has stored, for as long
 * as it keeps receiving: a backlog of a few hundred thousand takes a loaded machine a while.
 * Gives up after `timeoutMs` without a message.
 */
export async function settle(
  recorder: TaskRecorder,
  natsUrl: string,
  timeoutMs = 5_000,
): Promise<void> {
  const stored = await storedTaskCount(natsUrl);
  let seen = recorder.tasks.length;
  let lastProgress = Date.now();
  for (;;) {
    const received = recorder.tasks.length;
    if (received >= stored) return;
    if (received > seen) {
      seen = received;
      lastProgress = Date.now();
    } else if (Date.now() - lastProgress > timeoutMs) {
      throw new Error(
        `the recorder stopped at ${received} of ${stored} stored tasks for ${timeoutMs} ms`,
      );
    }
    await sleep(50);
  }
}

/**
 * A plain core-NATS subscriber on the task subjects: it sees every publish, the ones
 * JetStream drops as duplicates included, so it shows when Chime published a fire twice.
 */
export interface PublishRecorder {
  /** Nats-Msg-Id of every publish seen, in order. */
  readonly messageIds: readonly string[];
  stop(): Promise<void>;
}

export async function recordPublishes(
  natsUrl: string,
  subject = "tasks.>",
): Promise<PublishRecorder> {
  const nc = await connect({ servers: natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const messageIds: string[] = [];
  const sub = nc.subscribe(subject, {
    callback: (_err, msg) => {
      messageIds.push(msg.headers?.get("Nats-Msg-Id") ?? "");
    },
  });
  await nc.flush();
  return {
    messageIds,
    stop: async () => {
      sub.unsubscribe();
      await nc.close();
    },
  };
}

/** Every value that occurs more than once, with its count. */
export function repeated(values: readonly string[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return Object.fromEntries([...counts].filter(([, n]) => n > 1));
}
