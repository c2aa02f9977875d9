// A worker with retries and a dead-letter subject: sends the emails Chime schedules. A
// failed send is retried after 2 s, 4 s, 8 s, 16 s; after the fifth failure the task goes
// to tasks.dead.email (with the error in its Chime-Error header) for a person to look at.
import { consumeTasks, type RetryPolicy, type TaskConsumer } from "@chime/sdk";
import type { NatsConnection } from "@nats-io/transport-node";

export interface Email {
  readonly to: string;
  readonly template: string;
}

/** Sends one email; throws when the mail server refuses, so that the task is retried. */
export type SendEmail = (email: Email, signal: AbortSignal) => Promise<void>;

export const EMAIL_RETRY: RetryPolicy = { maxAttempts: 5, delay: "2s", backoff: 2 };

export async function startEmailWorker(
  nats: NatsConnection,
  send: SendEmail,
  retry: RetryPolicy = EMAIL_RETRY,
): Promise<TaskConsumer> {
  return consumeTasks({
    nats,
    // Every replica of this worker uses the same durable: they share the emails.
    durable: "email-sender",
    subjects: "tasks.email.>",
    concurrency: 4,
    retry,
    // Inside the stream's subject space (tasks.>), so the dead letters are stored too.
    deadLetterSubject: "tasks.dead.email",
    handler: async (task) => {
      // The name makes the email unique per address; the message id per occurrence.
      await send(task.json<Email>(), task.signal);
    },
  });
}
