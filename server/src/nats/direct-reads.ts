import { JetStreamError } from "@nats-io/jetstream";
import { type Msg, type NatsConnection, NoRespondersError } from "@nats-io/nats-core";
import { InboxRequests } from "./inbox-requests.js";

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
  private readonly requests: InboxRequests<Uint8Array | null>;

  constructor(nc: NatsConnection, stream: string, timeoutMs: number) {
    this.subject = `$JS.API.DIRECT.GET.${stream}`;
    this.requests = new InboxRequests(nc, timeoutMs, (answer) => this.valueOf(answer));
  }

  /** The data of the message at `sequence`; null when the stream holds none there. */
  bySequence(sequence: number): Promise<Uint8Array | null> {
    return this.requests.request(this.subject, encoder.encode(`{"seq":${sequence}}`));
  }

  private valueOf(answer: Msg): Uint8Array | null {
    if (answer.data.length > 0) return answer.data;
    const code = answer.headers?.code ?? 0;
    // Not stored (any more): a newer value or a delete took its place, as history is 1.
    if (code === NOT_FOUND) return null;
    if (code === NO_RESPONDERS) throw new NoRespondersError(this.subject);
    const description = answer.headers?.description ?? "";
    throw new JetStreamError(`direct get: status ${code} ${description}`.trim());
  }
}
