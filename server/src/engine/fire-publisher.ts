import type { PubAck } from "@nats-io/jetstream";
import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import { pubAckOf } from "../nats/pub-ack.js";
import { ReplyInbox } from "../nats/reply-inbox.js";

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

// An unanswered try is sent again at most a quarter of the ack timeout late.
const SWEEPS_PER_ACK_TIMEOUT = 4;

/**
 * Publishes through JetStream with a bounded window of unacknowledged messages, never one at a
 * time. A publish is retried with the same Nats-Msg-Id until the stream stores it (or has it
 * already): a fire, once started, is never dropped. Acks come back through one ReplyInbox.
 */
export class FirePublisher {
  private inFlight = 0;
  private stopped = false;
  private readonly idle: (() => void)[] = [];
  private readonly replies: ReplyInbox<Pending>;

  constructor(
    nc: NatsConnection,
    private readonly options: FirePublisherOptions,
    private readonly log: Logger,
    private readonly hooks: FirePublisherHooks = {},
  ) {
    this.replies = new ReplyInbox<Pending>(
      nc,
      options.ackTimeoutMs,
      {
        answered: (pending, msg) => this.acked(pending, msg),
        expired: (pending) =>
          this.failed(pending, new PublishError(`no ack within ${options.ackTimeoutMs} ms`)),
      },
      SWEEPS_PER_ACK_TIMEOUT,
    );
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
    for (const pending of this.replies.close()) {
      this.settle();
      pending.reject(pending.lastError ?? new PublishError("the publisher stopped"));
    }
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
    try {
      this.replies.send(publication.subject, publication.payload, publication.headers, pending);
    } catch (err) {
      this.failed(pending, err);
    }
  }

  private acked(pending: Pending, msg: Msg): void {
    let ack: PubAck;
    try {
      ack = pubAckOf(msg);
    } catch (err) {
      this.failed(pending, err);
      return;
    }
    this.settle();
    pending.resolve(ack);
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
