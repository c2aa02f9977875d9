import { AckPolicy, DeliverPolicy, type JetStreamManager } from "@nats-io/jetstream";
import { createInbox, type Msg, type NatsConnection, nuid } from "@nats-io/nats-core";

export interface FollowOptions {
  readonly stream: string;
  /** Subjects of the stream to follow, e.g. `$KV.bucket.>`. */
  readonly filterSubject: string;
  /** The first stream sequence to hand over; 0 (or 1) from the start. */
  readonly fromSequence: number;
  /** Ends the follow (which then resolves). */
  readonly signal: AbortSignal;
  /** How often an idle consumer says it is still there; missing two ends the follow. */
  readonly idleHeartbeatMs?: number;
}

/** Why a follow ended early: the caller resumes from the sequence after the last one it took. */
export class FollowInterruptedError extends Error {}

const DEFAULT_IDLE_HEARTBEAT_MS = 5_000;
const MISSED_HEARTBEATS_ALLOWED = 2;
// Left behind when its follower could not delete it (the connection gone, say): the server
// removes it once nobody has listened for this long.
const INACTIVE_THRESHOLD_NS = 60_000_000_000;
const STATUS_CODE_CONTROL = 100;

/**
 * Hands `take` every message of a stream's subjects from a sequence on, with its stream
 * sequence, in order, one at a time, as they are stored; resolves when `signal` aborts.
 * Rejects (FollowInterruptedError) as soon as a message may have been missed: a delivery
 * out of sequence, heartbeats missing, the consumer gone. Rejects with what `take` throws.
 *
 * An ordered push consumer as the JetStream client makes one (acks none, flow control,
 * heartbeats), but read straight from its subscription. At a million messages, the client's
 * message wrapper, the split of every reply subject into an info object, its watch entry and
 * its async iterator were a fifth of the time to read the stream. Where the client's ordered
 * consumer re-creates itself after a gap, this one stops and leaves the resuming to its
 * caller, which knows the last sequence it took.
 */
export async function followStream(
  nc: NatsConnection,
  jsm: JetStreamManager,
  options: FollowOptions,
  take: (msg: Msg, sequence: number) => void,
): Promise<void> {
  const { signal } = options;
  if (signal.aborted) return;
  const heartbeatMs = options.idleHeartbeatMs ?? DEFAULT_IDLE_HEARTBEAT_MS;
  const deliverSubject = createInbox();
  const name = `chime_follow_${nuid.next()}`;
  let delivered = 0;
  let heard = true;
  let missed = 0;
  let settled = false;
  let settle: (err?: unknown) => void = () => undefined;
  const ended = new Promise<void>((resolve, reject) => {
    settle = (err) => {
      // Messages already read from the socket still come before the unsubscribe: none of
      // them is handed over once the follow has ended.
      settled = true;
      if (err === undefined) resolve();
      else reject(err);
    };
  });
  // It can fail (a reconnect, say) while the consumer is still being created, before it is
  // awaited below: that must not count as a rejection nobody handles, which ends the process.
  ended.catch(() => undefined);
  const sub = nc.subscribe(deliverSubject, {
    callback: (err, msg) => {
      if (settled) return;
      if (err !== null) return settle(err);
      heard = true;
      try {
        if (msg.subject === deliverSubject) control(msg);
        else data(msg);
      } catch (thrown) {
        settle(thrown);
      }
    },
  });
  const data = (msg: Msg): void => {
    const reply = msg.reply ?? "";
    const [sequence, deliverySequence] = sequencesOfReply(reply);
    if (deliverySequence !== delivered + 1) {
      throw new FollowInterruptedError(
        `delivery ${deliverySequence} after ${delivered}: messages were missed`,
      );
    }
    delivered = deliverySequence;
    take(msg, sequence);
  };
  const control = (msg: Msg): void => {
    const code = msg.headers?.code ?? 0;
    if (code !== STATUS_CODE_CONTROL) {
      throw new FollowInterruptedError(
        `the consumer ended: ${code} ${msg.headers?.description ?? ""}`,
      );
    }
    // A flow control request carries a reply subject; a heartbeat does not.
    if (msg.reply) {
      msg.respond();
      return;
    }
    const stalled = msg.headers?.get("Nats-Consumer-Stalled");
    if (stalled) nc.publish(stalled);
    const last = Number(msg.headers?.get("Nats-Last-Consumer") ?? "0");
    if (last > delivered) {
      throw new FollowInterruptedError(`heartbeat after delivery ${last}, ${delivered} received`);
    }
  };
  const watchdog = setInterval(() => {
    missed = heard ? 0 : missed + 1;
    heard = false;
    if (missed >= MISSED_HEARTBEATS_ALLOWED) {
      settle(new FollowInterruptedError(`no heartbeat for ${missed * heartbeatMs} ms`));
    }
  }, heartbeatMs);
  let done = false;
  void (async () => {
    // Deliveries sent while the connection was down are lost (and a restarted server has
    // forgotten the consumer): the caller resumes after the last message it took.
    for await (const status of nc.status()) {
      if (done) break;
      if (status.type === "reconnect") {
        settle(new FollowInterruptedError("NATS reconnected: deliveries may have been missed"));
      }
    }
  })();
  const abort = (): void => settle();
  signal.addEventListener("abort", abort, { once: true });
  void sub.closed.then(() => settle(new FollowInterruptedError("the subscription closed")));
  try {
    await jsm.consumers.add(options.stream, {
      name,
      deliver_subject: deliverSubject,
      filter_subject: options.filterSubject,
      ...(options.fromSequence > 1
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: options.fromSequence }
        : { deliver_policy: DeliverPolicy.All }),
      ack_policy: AckPolicy.None,
      max_deliver: 1,
      flow_control: true,
      idle_heartbeat: heartbeatMs * 1_000_000,
      inactive_threshold: INACTIVE_THRESHOLD_NS,
      mem_storage: true,
      num_replicas: 1,
    });
  } catch (err) {
    settle(err);
  }
  try {
    await ended;
  } finally {
    done = true;
    clearInterval(watchdog);
    signal.removeEventListener("abort", abort);
    sub.unsubscribe();
    if (!nc.isClosed()) {
      // Not awaited: the follow is over either way, and the server removes it after a while.
      jsm.consumers.delete(options.stream, name).catch(() => undefined);
    }
  }
}

/** Where the dots of the reply subject being read are: reused, as one is read at a time. */
const dots = new Int32Array(16);

/**
 * The stream and delivery sequences of a JetStream delivery, from its reply subject:
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<delivery seq>.<time>.<pending>`,
 * or with a domain and an account hash after `$JS.ACK.` (and a token more at the end).
 * Found by indexOf, not split: no array of tokens per message.
 */
export function sequencesOfReply(reply: string): [stream: number, delivery: number] {
  const dot = sequenceDotOf(reply);
  return [tokenNumber(reply, dot), tokenNumber(reply, dot + 1)];
}

/** When the server stored a JetStream delivery, in ms since the epoch, from its reply subject. */
export function storedAtOfReply(reply: string): number {
  // Nanoseconds, past a double's exact integers: the milliseconds are their digits but six.
  return tokenNumber(reply, sequenceDotOf(reply) + 2, 6);
}

/** The index in `dots` of the dot before the stream sequence. */
function sequenceDotOf(reply: string): number {
  let count = 0;
  for (
    let at = reply.indexOf(".");
    at !== -1 && count < dots.length;
    at = reply.indexOf(".", at + 1)
  ) {
    dots[count++] = at;
  }
  const tokens = count + 1;
  if (tokens !== 9 && (tokens < 11 || tokens > 12)) {
    throw new FollowInterruptedError(`not a JetStream delivery: ${reply}`);
  }
  return tokens === 9 ? 4 : 6;
}

/** The number between dots `index` and `index + 1` of `reply`, but its last `leftOut` digits. */
function tokenNumber(reply: string, index: number, leftOut = 0): number {
  const start = (dots[index] as number) + 1;
  const end = dots[index + 1] as number;
  let value = 0;
  for (let i = start; i < end - leftOut; i++) {
    const digit = reply.charCodeAt(i) - ZERO;
    if (digit < 0 || digit > 9) throw new FollowInterruptedError(`not a sequence: ${reply}`);
    value = value * 10 + digit;
  }
  if (end <= start) throw new FollowInterruptedError(`not a sequence: ${reply}`);
  return value;
}

const ZERO = 48;
