import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/nats-core";
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

/**
 * Publishes through JetStream with a bounded window of unacknowledged messages, never one at a
 * time. A publish is retried with the same Nats-Msg-Id until the stream stores it (or has it
 * already): a fire, once started, is never dropped.
 */
export class FirePublisher {
  private inFlight = 0;
  private stopped = false;
  private readonly idle: (() => void)[] = [];

  constructor(
    private readonly js: JetStreamClient,
    private readonly options: FirePublisherOptions,
    private readonly log: Logger,
    private readonly hooks: FirePublisherHooks = {},
  ) {}

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
    return this.tryUntilStored(publication).finally(() => {
      this.inFlight--;
      if (this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
    });
  }

  /** Resolves when nothing is in flight. */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Stops retrying: pending publishes reject with their last error. */
  stop(): void {
    this.stopped = true;
  }

  private async tryUntilStored(publication: Publication): Promise<PubAck> {
    let delay = 50;
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) publication.beforeRetry?.(publication.headers);
      try {
        return await this.js.publish(publication.subject, publication.payload, {
          headers: publication.headers,
          msgID: publication.messageId,
          timeout: this.options.ackTimeoutMs,
        });
      } catch (err) {
        this.hooks.publishFailed?.(err, !this.stopped);
        if (this.stopped) throw err;
        if (attempt === 1 || attempt % 20 === 0) {
          this.log.warn(
            { err, messageId: publication.messageId, attempt },
            "publish failed; trying again",
          );
        }
        await sleep(delay);
        delay = Math.min(delay * 2, this.options.maxRetryDelayMs);
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
