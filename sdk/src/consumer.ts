import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { millis, type NatsConnection, nanos, headers as natsHeaders } from "@nats-io/nats-core";
import { parseDuration } from "./duration.js";
import { ConsumerConfigError, InvalidArgumentError, inField } from "./errors.js";
import { publishSubjectProblem, subjectMatches } from "./subject-rules.js";
import { TaskHeader, toTask } from "./task.js";
import {
  type ConsumeTasksOptions,
  DeliverFrom,
  type Task,
  type TaskConsumer,
  type TaskHandler,
} from "./types.js";

const DEFAULT_STREAM = "CHIME_TASKS";
const DEFAULT_RETRY = { maxAttempts: 5, delayMs: 1_000, backoff: 2 } as const;
const DEFAULT_ACK_WAIT_MS = 30_000;
// A pull request waits this long for tasks before it is renewed; stop() ends it at once.
const FETCH_EXPIRES_MS = 10_000;
const ACK_TIMEOUT_MS = 5_000;
// After a failed fetch: wait, doubling up to the maximum, so a NATS outage is not hammered.
const RETRY_FETCH_MIN_MS = 100;
const RETRY_FETCH_MAX_MS = 5_000;
// Header values are one line; an error message may be long or span lines.
const MAX_ERROR_HEADER_CHARS = 1_000;

/** The headers a dead-lettered task carries besides its own (`Nats-*` ones are dropped). */
export const DeadLetterHeader = {
  /** The error of the last attempt. */
  error: "Chime-Error",
  /** How many attempts were made. */
  attempts: "Chime-Attempts",
  originalSubject: "Chime-Original-Subject",
  originalStream: "Chime-Original-Stream",
  originalSequence: "Chime-Original-Sequence",
} as const;

interface ResolvedConsumeOptions {
  readonly nats: NatsConnection;
  readonly stream: string;
  readonly durable: string;
  readonly subjects: readonly string[];
  readonly concurrency: number;
  readonly handler: TaskHandler;
  readonly maxAttempts: number;
  readonly retryDelayMs: number;
  readonly backoff: number;
  readonly deadLetterSubject: string | undefined;
  readonly ackWaitMs: number;
  readonly deliverFrom: DeliverFrom;
  readonly onError: (error: Error, task: Task | undefined) => void;
}

/** Checks the options and fills in every default, in one place. */
function resolveConsumeOptions(options: ConsumeTasksOptions): ResolvedConsumeOptions {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError(undefined, "consumeTasks takes an options object");
  }
  if (options.nats === undefined || typeof options.nats.isClosed !== "function") {
    throw new InvalidArgumentError("nats", "must be a NatsConnection");
  }
  if (typeof options.handler !== "function")
    throw new InvalidArgumentError("handler", "must be a function");
  if (typeof options.durable !== "string" || !/^[A-Za-z0-9_-]+$/.test(options.durable)) {
    throw new InvalidArgumentError(
      "durable",
      "must be a consumer name of letters, digits, _ and -",
    );
  }
  const subjects =
    typeof options.subjects === "string" ? [options.subjects] : [...(options.subjects ?? [])];
  if (
    subjects.length === 0 ||
    subjects.some((s) => typeof s !== "string" || s === "" || /\s/.test(s))
  ) {
    throw new InvalidArgumentError(
      "subjects",
      "must be one subject pattern, or several, without white space",
    );
  }
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new InvalidArgumentError(
      "concurrency",
      `must be a whole number of at least 1, not ${concurrency}`,
    );
  }
  const maxAttempts = options.retry?.maxAttempts ?? DEFAULT_RETRY.maxAttempts;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new InvalidArgumentError(
      "retry.maxAttempts",
      `must be a whole number of at least 1, not ${maxAttempts}`,
    );
  }
  const backoff = options.retry?.backoff ?? DEFAULT_RETRY.backoff;
  if (!Number.isFinite(backoff) || backoff < 1) {
    throw new InvalidArgumentError(
      "retry.backoff",
      `must be a number of at least 1, not ${backoff}`,
    );
  }
  const retryDelayMs =
    options.retry?.delay === undefined
      ? DEFAULT_RETRY.delayMs
      : inField("retry.delay", () => parseDuration(options.retry?.delay ?? 0));
  const ackWaitMs =
    options.ackWait === undefined
      ? DEFAULT_ACK_WAIT_MS
      : inField("ackWait", () => parseDuration(options.ackWait ?? 0));
  if (ackWaitMs < 1_000) throw new InvalidArgumentError("ackWait", "must be at least 1s");
  const deliverFrom = options.deliverFrom ?? DeliverFrom.all;
  if (deliverFrom !== DeliverFrom.all && deliverFrom !== DeliverFrom.new) {
    throw new InvalidArgumentError(
      "deliverFrom",
      `must be "all" or "new", not ${JSON.stringify(deliverFrom)}`,
    );
  }
  const deadLetterSubject =
    options.deadLetterSubject === "" ? undefined : options.deadLetterSubject;
  if (deadLetterSubject !== undefined) {
    const problem = publishSubjectProblem(deadLetterSubject);
    if (problem !== null) throw new InvalidArgumentError("deadLetterSubject", problem);
    // A dead letter this consumer reads again would be retried, fail and come back for ever.
    const loop = subjects.find((pattern) => subjectMatches(pattern, deadLetterSubject));
    if (loop !== undefined) {
      throw new InvalidArgumentError(
        "deadLetterSubject",
        `must not match the consumer's own subjects (${loop}): dead letters would be consumed again`,
      );
    }
  }
  return {
    nats: options.nats,
    stream: options.stream ?? DEFAULT_STREAM,
    durable: options.durable,
    subjects,
    concurrency,
    handler: options.handler,
    maxAttempts,
    retryDelayMs,
    backoff,
    deadLetterSubject,
    ackWaitMs,
    deliverFrom,
    onError:
      options.onError ??
      ((error, task) => {
        const about =
          task === undefined
            ? ""
            : ` (task ${task.messageId || task.streamSequence}, attempt ${task.attempt})`;
        console.error(`chime consumer ${options.durable}${about}: ${error.message}`);
      }),
  };
}

/** How long to wait before attempt `attempt + 1`: `delay × backoff^(attempt-1)`. */
export function retryDelayMs(attempt: number, delayMs: number, backoff: number): number {
  return Math.round(delayMs * backoff ** Math.max(0, attempt - 1));
}

/**
 * Handles the tasks of a JetStream durable pull consumer, creating it when it is missing.
 *
 * A handler that returns acknowledges its task; one that throws has it redelivered after
 * `delay × backoff^(attempt-1)`; after `maxAttempts` the task is terminated (and first
 * published to `deadLetterSubject`, where set). At most `concurrency` handlers run at
 * once, and tasks are fetched only for free slots, so none waits in a local buffer while
 * its ack wait runs out. Instances with the same durable share the tasks; each is handled
 * by one of them (at least once: a task whose handler outlives a crash is redelivered).
 *
 * NATS 2.9 consumers take one filter subject: pass one pattern (`tasks.email.>`). Several
 * patterns need a 2.10 server; on 2.9 they are refused with an InvalidArgumentError.
 *
 * @throws ConsumerConfigError when the durable exists with another filter or as a push consumer.
 */
export async function consumeTasks(options: ConsumeTasksOptions): Promise<TaskConsumer> {
  const o = resolveConsumeOptions(options);
  const jsm = await jetstreamManager(o.nats);
  const js = jetstream(o.nats);
  const ackWaitMs = await ensureConsumer(jsm, o);
  const consumer = await js.consumers.get(o.stream, o.durable);

  const abort = new AbortController();
  const inflight = new Set<Promise<void>>();
  let stopping = false;
  let current: ConsumerMessages | undefined;
  let wake: (() => void) | undefined;
  let resolveClosed: (error: Error | undefined) => void = () => {};
  const closedPromise = new Promise<Error | undefined>((resolve) => {
    resolveClosed = resolve;
  });

  const report = (error: Error, task?: Task): void => {
    try {
      o.onError(error, task);
    } catch {
      // A failing onError must not stop the consumer; there is nowhere left to report to.
    }
  };

  // Running handlers keep telling JetStream they are busy, so a slow handler does not see
  // its task redelivered to another instance while it works.
  const progressEveryMs = Math.max(500, Math.floor(ackWaitMs / 2));

  const handle = async (msg: JsMsg): Promise<void> => {
    const task = toTask(msg, abort.signal);
    const progress = setInterval(() => msg.working(), progressEveryMs);
    progress.unref();
    let failure: Error | undefined;
    try {
      await o.handler(task);
    } catch (err) {
      failure = asError(err);
    } finally {
      clearInterval(progress);
    }
    if (failure === undefined) {
      // Confirmed, so stop() returns only once the server has counted the task as done.
      await msg.ackAck({ timeout: ACK_TIMEOUT_MS }).catch((err: unknown) => {
        report(
          new Error(`acknowledging task ${describe(task)} failed: ${asError(err).message}`, {
            cause: err,
          }),
          task,
        );
      });
      return;
    }
    report(failure, task);
    const delay = retryDelayMs(task.attempt, o.retryDelayMs, o.backoff);
    if (task.attempt < o.maxAttempts) {
      msg.nak(delay);
      return;
    }
    if (o.deadLetterSubject !== undefined) {
      try {
        await publishDeadLetter(js, o.deadLetterSubject, msg, task, failure);
      } catch (err) {
        // Not terminated: the task must not be lost because the dead-letter subject was.
        report(
          new Error(
            `publishing task ${describe(task)} to dead-letter subject ${o.deadLetterSubject} failed, retrying it: ${asError(err).message}`,
            { cause: err },
          ),
          task,
        );
        msg.nak(delay);
        return;
      }
    }
    // Without a reason: NATS 2.9 ignores a +TERM that carries one.
    msg.term();
  };

  const dispatch = (msg: JsMsg): void => {
    const done: Promise<void> = handle(msg)
      .catch((err: unknown) => report(asError(err)))
      .finally(() => {
        inflight.delete(done);
        wake?.();
      });
    inflight.add(done);
  };

  const waitForSlot = (): Promise<void> =>
    new Promise((resolve) => {
      wake = () => {
        wake = undefined;
        resolve();
      };
    });

  // After a failed fetch. A handler that finishes ends the pause early too: that is fine,
  // the pause only spaces out retries.
  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
    });

  const loop = async (): Promise<Error | undefined> => {
    let failures = 0;
    while (!stopping) {
      if (o.nats.isClosed()) return new Error("the NATS connection is closed");
      const free = o.concurrency - inflight.size;
      if (free <= 0) {
        await waitForSlot();
        continue;
      }
      try {
        current = await consumer.fetch({ max_messages: free, expires: FETCH_EXPIRES_MS });
        if (stopping) current.stop();
        for await (const msg of current) {
          // Fetched as the consumer stopped: give it back at once, for another instance.
          if (stopping) msg.nak();
          else dispatch(msg);
        }
        failures = 0;
      } catch (err) {
        if (stopping) break;
        if (o.nats.isClosed()) return new Error("the NATS connection is closed", { cause: err });
        report(
          new Error(
            `fetching tasks from ${o.stream}/${o.durable} failed, retrying: ${asError(err).message}`,
            { cause: err },
          ),
        );
        if (isApiError(err, JetStreamApiCodes.ConsumerNotFound)) {
          // Deleted from under us (or the stream was recreated): create it again.
          await ensureConsumer(jsm, o).catch((e: unknown) => report(asError(e)));
        }
        failures++;
        await pause(Math.min(RETRY_FETCH_MAX_MS, RETRY_FETCH_MIN_MS * 2 ** failures));
      } finally {
        current = undefined;
      }
    }
    return undefined;
  };

  let finished: Promise<void> | undefined;
  const finish = (waitForHandlers: boolean, reason: Error | undefined): Promise<void> => {
    finished ??= (async () => {
      if (waitForHandlers) await Promise.allSettled([...inflight]);
      // Acks are sent by now; flush so that they have left before the caller closes NATS.
      if (!o.nats.isClosed()) await o.nats.flush().catch(() => {});
      resolveClosed(reason);
    })();
    return finished;
  };

  const looping = loop().then(
    (error) => {
      if (error !== undefined) {
        stopping = true;
        void finish(true, error);
      }
    },
    (err: unknown) => {
      stopping = true;
      void finish(true, asError(err));
    },
  );

  const halt = (): void => {
    stopping = true;
    current?.stop();
    wake?.();
  };

  const stop = async (): Promise<void> => {
    halt();
    await looping;
    await finish(true, undefined);
  };

  return {
    stream: o.stream,
    durable: o.durable,
    get running() {
      return inflight.size;
    },
    stop,
    close: async () => {
      abort.abort(new Error("the task consumer was closed"));
      halt();
      await looping;
      await finish(false, undefined);
    },
    closed: () => closedPromise,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Makes sure the durable exists with our filter, creating it when missing, and returns its
 * ack wait. An existing consumer with other settings is refused, never changed.
 */
async function ensureConsumer(jsm: JetStreamManager, o: ResolvedConsumeOptions): Promise<number> {
  const several = o.subjects.length > 1;
  if (several && !supportsSeveralFilters(o.nats)) {
    throw new InvalidArgumentError(
      "subjects",
      `NATS server ${o.nats.info?.version ?? "(unknown version)"} takes one filter subject per consumer (several need 2.10): give one pattern that covers them, e.g. tasks.email.>`,
    );
  }
  const existing = await jsm.consumers.info(o.stream, o.durable).catch((err: unknown) => {
    if (isApiError(err, JetStreamApiCodes.ConsumerNotFound)) return undefined;
    if (isApiError(err, JetStreamApiCodes.StreamNotFound)) {
      throw new ConsumerConfigError(
        `stream ${o.stream} does not exist: start Chime first (it creates the stream), or pass the stream that captures your task subjects`,
        { cause: err },
      );
    }
    throw err;
  });
  if (existing !== undefined) return checkExisting(existing.config, o);
  const config: Partial<ConsumerConfig> = {
    durable_name: o.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: o.deliverFrom === DeliverFrom.new ? DeliverPolicy.New : DeliverPolicy.All,
    ack_wait: nanos(o.ackWaitMs),
    ...(several ? { filter_subjects: [...o.subjects] } : { filter_subject: o.subjects[0] }),
  };
  try {
    const info = await jsm.consumers.add(o.stream, config);
    return millis(info.config.ack_wait ?? nanos(o.ackWaitMs));
  } catch (err) {
    // Another instance may have created it a moment ago: check that one instead.
    const raced = await jsm.consumers.info(o.stream, o.durable).catch(() => undefined);
    if (raced !== undefined) return checkExisting(raced.config, o);
    throw err;
  }
}

function checkExisting(config: ConsumerConfig, o: ResolvedConsumeOptions): number {
  const where = `consumer ${o.durable} on stream ${o.stream}`;
  if (config.deliver_subject !== undefined && config.deliver_subject !== "") {
    throw new ConsumerConfigError(
      `${where} is a push consumer; consumeTasks needs a pull consumer: use another durable name`,
    );
  }
  if (config.ack_policy !== AckPolicy.Explicit) {
    throw new ConsumerConfigError(
      `${where} has ack policy ${config.ack_policy}; consumeTasks needs explicit acks: use another durable name`,
    );
  }
  const filters = config.filter_subjects ?? (config.filter_subject ? [config.filter_subject] : []);
  const same = filters.length === o.subjects.length && o.subjects.every((s) => filters.includes(s));
  if (!same) {
    throw new ConsumerConfigError(
      `${where} filters ${filters.length === 0 ? "every subject" : filters.join(", ")}, not ${o.subjects.join(", ")}: delete it (nats consumer rm ${o.stream} ${o.durable}) or use another durable name`,
    );
  }
  return millis(config.ack_wait ?? nanos(DEFAULT_ACK_WAIT_MS));
}

function supportsSeveralFilters(nc: NatsConnection): boolean {
  const [major = 0, minor = 0] = (nc.info?.version ?? "0.0")
    .split(".")
    .map((n) => Number.parseInt(n, 10));
  return major > 2 || (major === 2 && minor >= 10);
}

/** Publishes a failed task's data to the dead-letter subject, stored by JetStream. */
async function publishDeadLetter(
  js: JetStreamClient,
  subject: string,
  msg: JsMsg,
  task: Task,
  error: Error,
): Promise<void> {
  const headers = natsHeaders();
  for (const [name, values] of msg.headers ?? []) {
    // Nats-* headers belong to the original publish: a copied Nats-Msg-Id would be
    // dropped as a duplicate by a stream that also holds the original.
    if (name.toLowerCase().startsWith("nats-")) continue;
    for (const value of values) headers.append(name, value);
  }
  headers.set(DeadLetterHeader.error, oneLine(error.message || error.name));
  headers.set(DeadLetterHeader.attempts, String(task.attempt));
  headers.set(DeadLetterHeader.originalSubject, msg.subject);
  headers.set(DeadLetterHeader.originalStream, msg.info.stream);
  headers.set(DeadLetterHeader.originalSequence, String(msg.seq));
  // A stable id: if we die between this publish and the term, the redelivered task's second
  // dead letter is dropped as a duplicate.
  const original = msg.headers?.get(TaskHeader.messageId) || `${msg.info.stream}:${msg.seq}`;
  await js.publish(subject, msg.data, {
    headers,
    msgID: `${original}:dead-letter`,
    timeout: ACK_TIMEOUT_MS,
  });
}

function oneLine(text: string): string {
  const line = text.replace(/[\r\n]+/g, " ").replace(/\p{Cc}/gu, "");
  return line.length > MAX_ERROR_HEADER_CHARS ? `${line.slice(0, MAX_ERROR_HEADER_CHARS)}…` : line;
}

function describe(task: Task): string {
  return task.messageId || `#${task.streamSequence}`;
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
