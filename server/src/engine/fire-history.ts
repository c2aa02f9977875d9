import { create } from "@bufbuild/protobuf";
import { type FireRecord, FireRecordSchema } from "@chime/sdk";
import {
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { timestampAt } from "../proto-time.js";

export interface FireHistoryOptions {
  /** The task stream every fire is stored in. */
  readonly stream: string;
  /** The most fires listed for one schedule. */
  readonly limit: number;
  /**
   * The most task messages one look-up reads (headers only). A subject shared by many busy
   * schedules may hold this schedule's older fires further back than that: they go unlisted.
   */
  readonly maxScanned: number;
  /** How long one read from the stream may wait. */
  readonly timeoutMs: number;
}

// The first window read back from the subject's newest message, in stream sequences; each
// next window is this many times wider, so a quiet subject takes one read and a busy one a few.
const FIRST_SPAN = 256;
const SPAN_GROWTH = 16;

/**
 * A schedule's latest fires, read back from the task stream rather than kept by the engine:
 * every fire is a stored message carrying the Chime-* headers, so the history costs nothing
 * per fire and no memory per schedule, only a few reads when someone asks.
 */
export class FireHistory {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly options: FireHistoryOptions,
  ) {}

  /** The schedule's latest `limit` fires on `subject`, newest first. */
  async recent(
    scheduleId: string,
    subject: string,
    limit = this.options.limit,
  ): Promise<FireRecord[]> {
    const tail = await this.lastSequenceOn(subject);
    if (tail === undefined) return [];
    const { maxScanned } = this.options;
    let found: FireRecord[] = [];
    let budget = maxScanned;
    for (let span = FIRST_SPAN; ; span *= SPAN_GROWTH) {
      const start = Math.max(1, tail - span + 1);
      const window = await this.readWindow(scheduleId, subject, start, tail, budget);
      // Over budget: the narrower window read before holds the newest fires already.
      if (window === undefined) break;
      budget -= window.scanned;
      found = window.fires;
      if (found.length >= limit || start === 1) break;
    }
    return found.slice(-limit).reverse();
  }

  private async lastSequenceOn(subject: string): Promise<number | undefined> {
    const last = await this.jsm.streams.getMessage(this.options.stream, { last_by_subj: subject });
    return last?.seq;
  }

  /**
   * Reads the messages on `subject` from `start` to `tail` and keeps the schedule's own, in
   * stream order; undefined when that would take more than `budget` messages.
   */
  private async readWindow(
    scheduleId: string,
    subject: string,
    start: number,
    tail: number,
    budget: number,
  ): Promise<{ fires: FireRecord[]; scanned: number } | undefined> {
    if (budget <= 0) return undefined;
    const consumer = await this.js.consumers.get(this.options.stream, {
      filter_subjects: subject,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: start,
      headers_only: true,
    });
    const messages = await consumer.fetch({
      max_messages: Math.min(budget, tail - start + 1),
      expires: this.options.timeoutMs,
    });
    const fires: FireRecord[] = [];
    let scanned = 0;
    let reachedTail = false;
    for await (const m of messages) {
      scanned++;
      if (m.headers?.get("Chime-Schedule-Id") === scheduleId) fires.push(fireRecordOf(m));
      // The tail message is on the subject and at or after start, so it always arrives.
      if (m.seq >= tail || m.info.pending === 0) {
        reachedTail = true;
        break;
      }
    }
    messages.stop();
    return reachedTail ? { fires, scanned } : undefined;
  }
}

function fireRecordOf(m: JsMsg): FireRecord {
  const h = m.headers;
  const scheduledAt = Date.parse(h?.get("Chime-Scheduled-At") ?? "");
  const firedAt = Date.parse(h?.get("Chime-Fired-At") ?? "");
  return create(FireRecordSchema, {
    scheduledAt: Number.isNaN(scheduledAt) ? undefined : timestampAt(scheduledAt),
    firedAt: Number.isNaN(firedAt) ? undefined : timestampAt(firedAt),
    trigger: h?.get("Chime-Trigger") ?? "",
    fireSeq: BigInt(Number.parseInt(h?.get("Chime-Fire-Seq") ?? "0", 10) || 0),
    streamSequence: BigInt(m.seq),
    messageId: h?.get("Nats-Msg-Id") ?? "",
  });
}
