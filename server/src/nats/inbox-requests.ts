import {
  ClosedConnectionError,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  TimeoutError,
} from "@nats-io/nats-core";
import { ReplyInbox } from "./reply-inbox.js";

/** A request's promise, until its answer, its timeout or the connection's end settles it. */
export interface PendingRequest<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (err: unknown) => void;
  sentAt: number;
}

/**
 * Requests whose answers all come back on one ReplyInbox, each settling its promise with what
 * `read` makes of the answer (or with what `read` throws), and failing as the NATS client's own
 * requests do: TimeoutError without an answer, ClosedConnectionError once the connection is gone.
 */
export class InboxRequests<T> {
  private readonly replies: ReplyInbox<PendingRequest<T>>;

  constructor(nc: NatsConnection, timeoutMs: number, read: (answer: Msg) => T) {
    this.replies = new ReplyInbox<PendingRequest<T>>(nc, timeoutMs, {
      answered: (pending, msg) => {
        let value: T;
        try {
          value = read(msg);
        } catch (err) {
          pending.reject(err);
          return;
        }
        pending.resolve(value);
      },
      expired: (pending) => pending.reject(new TimeoutError()),
    });
    void nc.closed().then(() => {
      for (const pending of this.replies.takeAll()) pending.reject(new ClosedConnectionError());
    });
  }

  /** Sends a request now. */
  request(subject: string, payload: Uint8Array, headers?: MsgHdrs): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.send(subject, payload, headers, { resolve, reject, sentAt: 0 });
    });
  }

  /** Sends a request whose promise the caller made earlier (to send it later, say). */
  send(
    subject: string,
    payload: Uint8Array,
    headers: MsgHdrs | undefined,
    pending: PendingRequest<T>,
  ): void {
    try {
      this.replies.send(subject, payload, headers, pending);
    } catch (err) {
      pending.reject(err);
    }
  }
}
