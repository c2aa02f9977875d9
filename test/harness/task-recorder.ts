import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";

/** One task message as a JetStream consumer received it. */
export interface RecordedTask {
  readonly subject: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly data: Uint8Array;
  readonly streamSequence: number;
  readonly receivedAt: number;
}

/**
 * A JetStream consumer that records every task message stored in the stream, from its
 * first message on, so tests can assert what consumers would see (duplicates included).
 */
export interface TaskRecorder extends AsyncDisposable {
  readonly tasks: readonly RecordedTask[];
  /** Resolves with the tasks matching `predicate` once there are `count` of them. */
  waitFor(
    predicate: (task: RecordedTask) => boolean,
    count?: number,
    timeoutMs?: number,
  ): Promise<RecordedTask[]>;
  matching(predicate: (task: RecordedTask) => boolean): RecordedTask[];
  stop(): Promise<void>;
}

export async function recordTasks(
  natsUrl: string,
  stream = "CHIME_TASKS",
  filter = "tasks.>",
): Promise<TaskRecorder> {
  const nc: NatsConnection = await connect({
    servers: natsUrl,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
  const jsm = await jetstreamManager(nc);
  // The stream may not exist until Chime starts: wait for it.
  for (let i = 0; ; i++) {
    try {
      await jsm.streams.info(stream);
      break;
    } catch (err) {
      if (i > 200) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const consumer = await jetstream(nc).consumers.get(stream, { filter_subjects: filter });
  const messages = await consumer.consume();
  const tasks: RecordedTask[] = [];
  const waiters = new Set<() => void>();
  void (async () => {
    for await (const m of messages) {
      const headers: Record<string, string> = {};
      for (const [name, values] of m.headers ?? []) headers[name] = values[0] ?? "";
      tasks.push({
        subject: m.subject,
        headers,
        data: m.data,
        streamSequence: m.seq,
        receivedAt: Date.now(),
      });
      for (const wake of waiters) wake();
    }
  })();
  const matching = (predicate: (task: RecordedTask) => boolean): RecordedTask[] =>
    tasks.filter(predicate);
  const stop = async (): Promise<void> => {
    messages.stop();
    await nc.close();
  };
  return {
    tasks,
    matching,
    waitFor(predicate, count = 1, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = matching(predicate);
          if (found.length >= count) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `waited ${timeoutMs} ms for ${count} tasks; saw ${matching(predicate).length} matching of ${tasks.length}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** A predicate on a task's Chime-Schedule-Id. */
export function ofSchedule(id: string): (task: RecordedTask) => boolean {
  return (task) => task.headers["Chime-Schedule-Id"] === id;
}
