import { JetStreamError } from "@nats-io/jetstream";
import {
  ClosedConnectionError,
  type NatsConnection,
  NoRespondersError,
  TimeoutError,
} from "@nats-io/nats-core";
import { ReplyInbox } from "./reply-inbox.js";

interface PendingRead {
  readonly resolve: (value: Uint8Array | null) => void;
  readonly reject: (err: unknown) => void;
  sentAt: number;
}

const NOT_FOUND = 404;
const NO_RESPONDERS = 503;
const encoder = new TextEncoder();

/**
 * Reads of a stream's messages by sequence through JetStream's direct get, for a stream whose
 * messages all carry data (a KV bucket of protobuf values): the answer's data is the value,
 * and its headers are read only when there is none. The answers come back on one ReplyInbox.
 *
 * `kv.get(key, { revision })` does the same through a request of its own (a timer, a promise
 * race) and decodes every header of every answer twice; at a page of a hundred shed schedules
 * that was a tenth of a megabyte of garbage and most of the page's time in the client.
 */
export class DirectReads {
  private readonly subject: string;
  private readonly replies: ReplyInbox<PendingRead>;

  constructor(nc: NatsConnection, stream: string, timeoutMs: number) {
    this.subject = `$JS.API.DIRECT.GET.${stream}`;
    this.replies = new ReplyInbox<PendingRead>(nc, timeoutMs, {
      answered: (pending, msg) => {
        if (msg.data.length > 0) {
          pending.resolve(msg.data);
          return;
        }
        const code = msg.headers?.code ?? 0;
        // Not stored (any more): a newer value or a delete took its place, as history is 1.
        if (code === NOT_FOUND) pending.resolve(null);
        else if (code === NO_RESPONDERS) pending.reject(new NoRespondersError(this.subject));
        else {
          const description = msg.headers?.description ?? "";
          pending.reject(new JetStreamError(`direct get: status ${code} ${description}`.trim()));
        }
      },
      expired: (pending) => pending.reject(new TimeoutError()),
    });
    void nc.closed().then(() => {
      for (const pending of this.replies.takeAll()) pending.reject(new ClosedConnectionError());
    });
  }

  /** The data of the message at `sequence`; null when the stream holds none there. */
  bySequence(sequence: number): Promise<Uint8Array | null> {
    return new Promise((resolve, reject) => {
      const pending: PendingRead = { resolve, reject, sentAt: 0 };
      try {
        this.replies.send(this.subject, encoder.encode(`{"seq":${sequence}}`), undefined, pending);
      } catch (err) {
        reject(err);
      }
    });
  }
}
