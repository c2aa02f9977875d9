import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from "@nats-io/nats-core";

/** What one publish awaits its answer with; the inbox stamps when it was sent. */
export interface AwaitingReply {
  sentAt: number;
}

export interface ReplyHandlers<T extends AwaitingReply> {
  /** The answer (a JetStream ack or API error) to the publish sent with `pending`. */
  answered(pending: T, msg: Msg): void;
  /** No answer came within the timeout; a late one is ignored. */
  expired(pending: T): void;
}

/**
 * Publishes whose answers come back on one subscription: each publish's reply subject carries
 * a token, and one sweep, oldest first, finds those left unanswered past the timeout. That is
 * a request/reply without a timer, a promise race and two error objects (one with a stack
 * trace) per message, which is most of what a request costs in the NATS client.
 */
export class ReplyInbox<T extends AwaitingReply> {
  private readonly prefix: string;
  private readonly subscription: Subscription;
  /** By reply token; a Map iterates in insertion order, which is the order they were sent. */
  private readonly awaiting = new Map<number, T>();
  private nextToken = 1;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly sweepEveryMs: number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
    private readonly handlers: ReplyHandlers<T>,
    /** How finely the sweep divides the timeout: an expiry is at most this share late. */
    sweepsPerTimeout = 20,
  ) {
    this.prefix = `${createInbox()}.`;
    this.sweepEveryMs = Math.max(1, Math.floor(timeoutMs / sweepsPerTimeout));
    this.subscription = nc.subscribe(`${this.prefix}*`, {
      callback: (err, msg) => {
        if (err === null) this.answered(msg);
      },
    });
  }

  /** Publishes with a reply token; throws what the client throws (a closed connection, say). */
  send(subject: string, payload: Uint8Array, headers: MsgHdrs | undefined, pending: T): void {
    const token = this.nextToken++;
    this.nc.publish(subject, payload, { headers, reply: this.prefix + token });
    pending.sentAt = Date.now();
    this.awaiting.set(token, pending);
    this.sweeper ??= setInterval(() => this.sweep(), this.sweepEveryMs).unref();
  }

  /** Stops listening; returns what was still unanswered, oldest first. */
  close(): T[] {
    this.subscription.unsubscribe();
    return this.takeAll();
  }

  /** Forgets every publish still unanswered (no answer can come): returns them, oldest first. */
  takeAll(): T[] {
    const unanswered = [...this.awaiting.values()];
    this.awaiting.clear();
    this.stopSweepingWhenIdle();
    return unanswered;
  }

  private answered(msg: Msg): void {
    const token = Number(msg.subject.slice(this.prefix.length));
    const pending = this.awaiting.get(token);
    // The answer to a publish that expired: its handler has dealt with it already.
    if (pending === undefined) return;
    this.awaiting.delete(token);
    this.stopSweepingWhenIdle();
    this.handlers.answered(pending, msg);
  }

  private sweep(): void {
    const expiredBefore = Date.now() - this.timeoutMs;
    for (const [token, pending] of this.awaiting) {
      // Sent in order: the first one still in time ends the sweep.
      if (pending.sentAt > expiredBefore) break;
      this.awaiting.delete(token);
      this.handlers.expired(pending);
    }
    this.stopSweepingWhenIdle();
  }

  private stopSweepingWhenIdle(): void {
    if (this.awaiting.size > 0 || this.sweeper === undefined) return;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
