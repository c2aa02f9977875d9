/**
 * Shared pieces of the benchmark suite (test/bench/run.ts): the figure printer, percentiles,
 * process memory and disk readings, the JetStream ceiling, the lateness consumer, and a pool
 * of concurrent gRPC calls.
 */

import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  AckPolicy,
  type JsMsg,
  jetstream,
  jetstreamManager,
  StorageType,
} from "@nats-io/jetstream";
import { connect, createInbox, headers } from "@nats-io/transport-node";
import { type ChimeProcess, startChimeProcess } from "../harness/chime.js";
import { createGrpcJsClient, type GrpcJsClient } from "../harness/grpc-js-client.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";

/** One figure, printed as one JSON line. */
export interface Figure {
  bench: string;
  metric: string;
  value: number;
  unit: string;
  ceiling?: number;
  ratio?: number;
  [extra: string]: unknown;
}

export const figures: Figure[] = [];

export function emit(figure: Figure): void {
  const out: Figure = { ...figure, value: round(figure.value) };
  if (figure.ceiling !== undefined) {
    out.ceiling = round(figure.ceiling);
    out.ratio = round(figure.value / figure.ceiling, 3);
  }
  figures.push(out);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

export function summary(samples: readonly number[]): { p50: number; p99: number; max: number } {
  const sorted = Float64Array.from(samples).sort();
  return {
    p50: percentile(Array.from(sorted), 0.5),
    p99: percentile(Array.from(sorted), 0.99),
    max: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] as number),
  };
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Resident set size of a process, from /proc/<pid>/status (VmRSS), in bytes. */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

/**
 * The lowest RSS of an idle process over `ms`: V8 gives back what a burst of allocations grew
 * its heap to only once its memory reducer has run, some 30 s after they stop, and not at the
 * same moment in every run.
 */
export async function settledRssBytes(pid: number, ms: number): Promise<number> {
  let lowest = await rssBytes(pid);
  for (const end = Date.now() + ms; Date.now() < end; ) {
    await sleep(1_000);
    lowest = Math.min(lowest, await rssBytes(pid));
  }
  return lowest;
}

/** CPU time (user + system) a process has used so far, in seconds, from /proc/<pid>/stat. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / CLOCK_TICKS_PER_SECOND;
}

// USER_HZ: 100 on Linux on every architecture Node runs on.
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU use of some processes over a stretch of time, as a share of one core (1 = one core busy
 * all the time): what tells whether Chime, nats-server or neither bounded a figure.
 */
export async function cpuMeter(pids: Record<string, number>) {
  const read = async (): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(pids)) out[name] = await cpuSeconds(pid);
    return out;
  };
  const start = await read();
  const started = performance.now();
  return {
    /** `seconds`: the stretch to divide by, when the CPU used before it was nil. */
    async stop(seconds = (performance.now() - started) / 1000): Promise<Record<string, number>> {
      const end = await read();
      const share: Record<string, number> = {};
      for (const name of Object.keys(pids)) {
        share[name] = round(((end[name] ?? 0) - (start[name] ?? 0)) / seconds, 2);
      }
      return share;
    },
  };
}

/** Bytes of the files under a directory. */
export async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await dirBytes(path);
    else if (entry.isFile()) total += (await stat(path)).size;
  }
  return total;
}

/** 200 bytes, the payload of every benchmark schedule and ceiling message. */
export const PAYLOAD = Buffer.alloc(200, "x");

/**
 * Settings of every benchmarked Chime: production's, but for quieter logs (the harness runs
 * test Chimes with a shorter checkpoint interval, which production does not have).
 */
export const BENCH_CHIME = { logLevel: "warn", checkpointInterval: undefined } as const;

/** A nats-server -js (file storage, temporary store) and one Chime child process. */
export interface Stack {
  nats: TestNats;
  chime: ChimeProcess;
  grpc: GrpcJsClient;
  stop(): Promise<void>;
}

export async function startStack(natsUrl?: TestNats): Promise<Stack> {
  const nats = natsUrl ?? (await startTestNats());
  let chime: ChimeProcess;
  try {
    // The capacity bench fills one namespace past the default --max-schedules-per-namespace.
    chime = await startChimeProcess(nats.url, { ...BENCH_CHIME, maxSchedulesPerNamespace: "0" });
  } catch (err) {
    await nats.stop();
    throw err;
  }
  const grpc = createGrpcJsClient(`127.0.0.1:${chime.port}`);
  return {
    nats,
    chime,
    grpc,
    stop: async () => {
      grpc.close();
      await chime.stop().catch(() => undefined);
      await nats.stop();
    },
  };
}

/**
 * Calls of `publish(i)` per second for i below `count`, `window` in flight; the first tenth is
 * a warm-up, not counted. `settled`, when given, is awaited before the clock stops.
 */
async function windowedRate(
  count: number,
  window: number,
  publish: (i: number) => Promise<unknown>,
  settled?: () => Promise<void>,
): Promise<number> {
  const warmup = Math.floor(count / 10);
  const publishAll = async (from: number, to: number): Promise<void> => {
    let next = from;
    const worker = async (): Promise<void> => {
      while (next < to) await publish(next++);
    };
    await Promise.all(Array.from({ length: window }, worker));
  };
  await publishAll(0, warmup);
  const started = performance.now();
  await publishAll(warmup, count);
  await settled?.();
  return (count - warmup) / ((performance.now() - started) / 1000);
}

/**
 * The JetStream ceiling: a plain client publishes `count` 200-byte messages, each with a
 * Nats-Msg-Id, `window` publishes in flight, to a file-storage stream of its own on the
 * same nats-server. Returns messages/s (the first tenth is a warm-up, not counted).
 */
export async function measureCeiling(natsUrl: string, count: number, window = 1024) {
  // noAsyncTraces as in Chime: the ceiling is the most a plain client gets through.
  const nc = await connect({ servers: natsUrl, noAsyncTraces: true });
  try {
    const jsm = await jetstreamManager(nc);
    const name = `CEILING_${Date.now()}`;
    await jsm.streams.add({ name, subjects: [`${name}.>`], storage: StorageType.File });
    const js = jetstream(nc);
    const subject = `${name}.x`;
    const rate = await windowedRate(count, window, (i) =>
      js.publish(subject, PAYLOAD, { msgID: `m-${i}` }),
    );
    await jsm.streams.delete(name);
    return rate;
  } finally {
    await nc.close();
  }
}

/**
 * The store-write ceiling: how many of the writes Chime makes for each created schedule the
 * same nats-server takes from a plain client doing nothing else. Each is a put of a new key of
 * `valueBytes` into a stream shaped like the schedule bucket (one message per subject, direct
 * gets, file storage, keys `s.<partition>.<id>`), and one push consumer on the same connection
 * reads every put back, as each replica's catalog follows the bucket. `window` puts in flight;
 * puts/s (the first tenth not counted).
 */
export async function measureStoreWriteCeiling(
  natsUrl: string,
  count: number,
  valueBytes: number,
  window = 1024,
) {
  const nc = await connect({ servers: natsUrl, noAsyncTraces: true });
  try {
    const jsm = await jetstreamManager(nc);
    const name = `KV_CEILING_${Date.now()}`;
    const prefix = `$KV.${name}`;
    await jsm.streams.add({
      name,
      subjects: [`${prefix}.>`],
      storage: StorageType.File,
      max_msgs_per_subject: 1,
      allow_direct: true,
    });
    const deliverTo = createInbox();
    let followed = 0;
    nc.subscribe(deliverTo, {
      callback: (_err, msg) => {
        if (msg.data.length > 0) {
          followed++;
          return;
        }
        // A flow-control request (answered), or a heartbeat (which may name a stalled flow).
        if (msg.reply) msg.respond();
        const stalled = msg.headers?.get("Nats-Consumer-Stalled");
        if (stalled) nc.publish(stalled);
      },
    });
    await jsm.consumers.add(name, {
      deliver_subject: deliverTo,
      ack_policy: AckPolicy.None,
      flow_control: true,
      idle_heartbeat: 5_000_000_000,
      mem_storage: true,
    });
    const js = jetstream(nc);
    const value = Buffer.alloc(valueBytes, "x");
    const rate = await windowedRate(
      count,
      window,
      (i) => js.publish(`${prefix}.s.${i % 16}.${String(i).padStart(26, "0")}`, value),
      async () => {
        for (const giveUp = performance.now() + 60_000; followed < count; await sleep(1)) {
          if (performance.now() > giveUp) throw new Error(`${followed} of ${count} puts read back`);
        }
      },
    );
    await jsm.streams.delete(name);
    return rate;
  } finally {
    await nc.close();
  }
}

/** The size of a schedule the Chime at `natsUrl` stored lately in `bucket`: its value bytes. */
export async function storedScheduleBytes(natsUrl: string, bucket: string): Promise<number> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const stream = `KV_${bucket}`;
    const { state } = await jsm.streams.info(stream);
    const stored = await jsm.direct.getMessage(stream, {
      seq: Math.max(1, state.last_seq - 1_000),
      next_by_subj: `$KV.${bucket}.s.>`,
    });
    if (stored === null) throw new Error(`no schedule stored in ${bucket}`);
    return stored.data.length;
  } finally {
    await nc.close();
  }
}

/**
 * The steady scenario's floor: a plain client publishing, every second, one message at each
 * of `offsetsMs` (ms into the second; the same offset may come several times, as fires due
 * together do), through JetStream to `subject`, with the headers the lateness consumer reads.
 * What a consumer then sees is what this machine's timers, NATS and delivery add without
 * Chime to the same instants; Chime's figures are set beside it.
 */
export async function publishPaced(
  natsUrl: string,
  subject: string,
  offsetsMs: readonly number[],
  seconds: number,
): Promise<void> {
  const nc = await connect({ servers: natsUrl, noAsyncTraces: true });
  try {
    const js = jetstream(nc);
    const start = Math.ceil(Date.now() / 1000) * 1000 + 1000;
    const offsets = [...offsetsMs].sort((a, b) => a - b);
    const instants: number[] = [];
    for (let second = 0; second < seconds; second++) {
      for (const offset of offsets) instants.push(start + second * 1000 + offset);
    }
    const acks: Promise<unknown>[] = [];
    let next = 0;
    await new Promise<void>((done) => {
      const tick = (): void => {
        const now = Date.now();
        for (; next < instants.length && (instants[next] as number) <= now; next++) {
          const h = headers();
          h.set("Chime-Scheduled-At", new Date(instants[next] as number).toISOString());
          h.set("Chime-Fired-At", new Date(now).toISOString());
          acks.push(js.publish(subject, PAYLOAD, { msgID: `paced-${next}`, headers: h }));
        }
        if (next >= instants.length) {
          done();
          return;
        }
        setTimeout(tick, Math.max(0, (instants[next] as number) - Date.now()));
      };
      setTimeout(tick, start - Date.now());
    });
    await Promise.all(acks);
  } finally {
    await nc.close();
  }
}

/** A fire as the lateness consumer saw it, in ms since the epoch. */
export interface Receipt {
  receivedAt: number;
  scheduledAt: number;
  /** Chime-Fired-At: when Chime published it. */
  firedAt: number;
  /** When JetStream stored it (the message's stream timestamp). */
  storedAt: number;
  subject: string;
}

/**
 * A JetStream consumer in the bench process, separate from Chime, recording for each task
 * message its receipt time, Chime-Scheduled-At, Chime-Fired-At and the time JetStream stored
 * it: what separates Chime's lateness from the store's and the delivery's.
 */
export interface ConsumeOptions {
  /**
   * Read each message's headers as it arrives and keep only its receipt. By default the
   * messages are kept and read when the figures are made: the lightest callback while a burst
   * flows. At a steady rate over half a minute, though, the kept messages (and the socket
   * buffers they point into) had the bench's garbage collector stop its event loop for up to
   * 26 ms, and each stop was counted as lateness.
   */
  readonly readOnArrival?: boolean;
}

export async function consumeFires(
  natsUrl: string,
  filter: string,
  { readOnArrival = false }: ConsumeOptions = {},
) {
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  for (let i = 0; ; i++) {
    try {
      await jsm.streams.info("CHIME_TASKS");
      break;
    } catch (err) {
      if (i > 200) throw err;
      await sleep(50);
    }
  }
  // A push consumer without acks, read by a callback: the lightest JetStream consumer the
  // client offers, so that the instrument takes as little of the machine as it can.
  const { name } = await jsm.consumers.add("CHIME_TASKS", {
    deliver_subject: createInbox(),
    ack_policy: AckPolicy.None,
    filter_subject: filter,
  });
  const consumer = await jetstream(nc).consumers.getPushConsumer("CHIME_TASKS", name);
  // Unless read on arrival, the callback only notes when each message came: its headers are
  // read later, when the figures are made, so that reading them takes nothing from the machine
  // while fires flow.
  const arrivals: { readonly receivedAt: number; readonly message: JsMsg }[] = [];
  const receipts: Receipt[] = [];
  const received = (): number => (readOnArrival ? receipts.length : arrivals.length);
  const messages = await consumer.consume({
    callback: (message) => {
      if (readOnArrival) receipts.push(receiptOf(Date.now(), message));
      else arrivals.push({ receivedAt: Date.now(), message });
    },
  });
  return {
    get count(): number {
      return received();
    },
    /** Every receipt so far, in the order the messages arrived. */
    get receipts(): Receipt[] {
      for (const { receivedAt, message } of arrivals.slice(receipts.length)) {
        receipts.push(receiptOf(receivedAt, message));
      }
      return receipts;
    },
    async waitForCount(count: number, timeoutMs: number): Promise<boolean> {
      const deadline = Date.now() + timeoutMs;
      while (received() < count) {
        if (Date.now() > deadline) return false;
        await sleep(20);
      }
      return true;
    },
    async stop(): Promise<void> {
      messages.stop();
      await jsm.consumers.delete("CHIME_TASKS", name).catch(() => undefined);
      await nc.close();
    },
  };
}

function receiptOf(receivedAt: number, m: JsMsg): Receipt {
  return {
    receivedAt,
    scheduledAt: Date.parse(m.headers?.get("Chime-Scheduled-At") ?? ""),
    firedAt: Date.parse(m.headers?.get("Chime-Fired-At") ?? ""),
    storedAt: m.info.timestampNanos / 1e6,
    subject: m.subject,
  };
}

/** Keeps `inFlight` calls going until `count` are done; returns each call's latency in ms. */
export async function concurrently(
  count: number,
  inFlight: number,
  call: (i: number) => Promise<unknown>,
): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const started = performance.now();
      await call(i);
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
  return latencies;
}

/** Keeps `inFlight` calls going for `ms`; returns each call's latency and the elapsed time. */
export async function forDuration(
  ms: number,
  inFlight: number,
  call: (i: number) => Promise<unknown>,
): Promise<{ latencies: number[]; elapsedMs: number }> {
  const latencies: number[] = [];
  let next = 0;
  const end = performance.now() + ms;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const i = next++;
      const started = performance.now();
      await call(i);
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { latencies, elapsedMs: performance.now() - started };
}

export function timestamp(ms: number): { seconds: string; nanos: number } {
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}
