import type { PubAck } from "@nats-io/jetstream";
import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from "@nats-io/nats-core";
import type { Logger } from "pino";

export interface FirePublisherOptions {
  /** Publishes awaiting their ack at once; further fires wait for a free place. */
  readonly window: number;
  /** How long one publish waits for its ack before it is tried again. */
  readonly ackTimeoutMs: number;
  /** The longest pause between two tries of one publish. */
  readonly maxRetryDelayMs: number;
}

export interface Publication {
  readonly subject: string;
  readonly payload: Uint8Array;
  /** Nats-Msg-Id among them: the stream drops a second copy of the same fire. */
  readonly headers: MsgHdrs;
  readonly messageId: string;
  /** Called before a publish is tried again, to refresh what depends on the moment of sending. */
  readonly beforeRetry?: (headers: MsgHdrs) => void;
}

/** Told of publish failures, for metrics. */
export interface FirePublisherHooks {
  /** A publish attempt failed; `willRetry` is false once the publisher is stopped. */
  publishFailed?(err: unknown, willRetry: boolean): void;
}

/** JetStream refused a publish (its API error), or gave no answer at all. */
export class PublishError extends Error {
  override readonly name = "PublishError";
}

/** One publish until its ack: the reply token of its latest try, and when that was sent. */
interface Pending {
  readonly publication: Publication;
  readonly resolve: (ack: PubAck) => void;
  readonly reject: (err: unknown) => void;
  attempt: number;
  sentAt: number;
  lastError: unknown;
}

/**
 * Publishes through JetStream with a bounded window of unacknowledged messages, never one at a
 * time. A publish is retried with the same Nats-Msg-Id until the stream stores it (or has it
 * already): a fire, once started, is never dropped.
 *
 * Each publish is a core publish whose reply subject carries a token; one subscription takes
 * every ack, and one sweep (oldest first) times out the tries left unanswered. That is a
 * request/reply without a timer, a promise race and two error objects per message, which is
 * most of what a fire costs in the NATS client otherwise.
 */
export class FirePublisher {
  private inFlight = 0;
  private stopped = false;
  private readonly idle: (() => void)[] = [];
  /** Tries awaiting their ack, by reply token; a Map iterates oldest first. */
  private readonly awaiting = new Map<number, Pending>();
  private nextToken = 1;
  private readonly inbox: string;
  private readonly subscription: Subscription;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: FirePublisherOptions,
    private readonly log: Logger,
    private readonly hooks: FirePublisherHooks = {},
  ) {
    this.inbox = `${createInbox()}.`;
    this.subscription = nc.subscribe(`${this.inbox}*`, {
      callback: (err, msg) => {
        if (err === null) this.acked(msg);
      },
    });
    this.sweeper = setInterval(
      () => this.sweep(),
      Math.max(20, Math.floor(options.ackTimeoutMs / 4)),
    );
    this.sweeper.unref();
  }

  /** How many more publishes may start now. */
  get room(): number {
    return this.options.window - this.inFlight;
  }

  get pending(): number {
    return this.inFlight;
  }

  /** Starts a publish; the promise settles with the ack, after as many tries as it takes. */
  publish(publication: Publication): Promise<PubAck> {
    this.inFlight++;
    return new Promise<PubAck>((resolve, reject) => {
      this.send({ publication, resolve, reject, attempt: 0, sentAt: 0, lastError: undefined });
    });
  }

  /** Resolves when nothing is in flight. */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Stops retrying: pending publishes reject with their last error. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.sweeper);
    this.subscription.unsubscribe();
    for (const pending of this.awaiting.values()) {
      this.settle();
      pending.reject(pending.lastError ?? new PublishError("the publisher stopped"));
    }
    this.awaiting.clear();
  }

  private send(pending: Pending): void {
    if (this.stopped) {
      this.settle();
      pending.reject(pending.lastError ?? new PublishError("the publisher stopped"));
      return;
    }
    pending.attempt++;
    const { publication } = pending;
    if (pending.attempt > 1) publication.beforeRetry?.(publication.headers);
    const token = this.nextToken++;
    pending.sentAt = Date.now();
    this.awaiting.set(token, pending);
    try {
      this.nc.publish(publication.subject, publication.payload, {
        headers: publication.headers,
        reply: this.inbox + token,
      });
    } catch (err) {
      this.awaiting.delete(token);
      this.failed(pending, err);
    }
  }

  private acked(msg: Msg): void {
    const token = Number(msg.subject.slice(this.inbox.length));
    const pending = this.awaiting.get(token);
    // The ack of a try that timed out and was sent again: the newer try answers for it.
    if (pending === undefined) return;
    this.awaiting.delete(token);
    let ack: PubAck;
    try {
      ack = parseAck(msg);
    } catch (err) {
      this.failed(pending, err);
      return;
    }
    this.settle();
    pending.resolve(ack);
  }

  /** Tries unanswered for longer than the ack timeout are sent again. */
  private sweep(): void {
    const expiredBefore = Date.now() - this.options.ackTimeoutMs;
    for (const [token, pending] of this.awaiting) {
      // Sent in order: the first one still in time ends the sweep.
      if (pending.sentAt > expiredBefore) break;
      this.awaiting.delete(token);
      this.failed(pending, new PublishError(`no ack within ${this.options.ackTimeoutMs} ms`));
    }
  }

  private failed(pending: Pending, err: unknown): void {
    pending.lastError = err;
    this.hooks.publishFailed?.(err, !this.stopped);
    if (this.stopped) {
      this.settle();
      pending.reject(err);
      return;
    }
    const { attempt } = pending;
    if (attempt === 1 || attempt % 20 === 0) {
      this.log.warn(
        { err, messageId: pending.publication.messageId, attempt },
        "publish failed; trying again",
      );
    }
    const delay = Math.min(50 * 2 ** Math.min(attempt - 1, 16), this.options.maxRetryDelayMs);
    setTimeout(() => this.send(pending), delay);
  }

  private settle(): void {
    this.inFlight--;
    if (this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
  }
}

interface AckBody {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  domain?: string;
  error?: { code?: number; err_code?: number; description?: string };
}

/** JetStream's answer to a publish: its ack, or the error it names. */
function parseAck(msg: Msg): PubAck {
  // No stream listens on the subject (a status message without data), or another status.
  if (msg.data.length === 0) {
    const code = msg.headers?.code ?? 0;
    throw new PublishError(
      code === 503 ? "no stream captures the subject (no responders)" : `status ${code}`,
    );
  }
  const body = msg.json<AckBody>();
  if (body.error !== undefined || body.stream === undefined || body.seq === undefined) {
    throw new PublishError(
      `JetStream refused the publish: ${body.error?.description ?? "invalid ack"} (${body.error?.err_code ?? body.error?.code ?? "?"})`,
    );
  }
  const ack: PubAck = { stream: body.stream, seq: body.seq, duplicate: body.duplicate === true };
  if (body.domain !== undefined) ack.domain = body.domain;
  return ack;
}
