/**
 * The scenarios of the benchmark suite (test/bench/run.ts). Each starts its own
 * nats-server -js (file storage) and its own Chime child process(es), prints its figures
 * through `emit`, and cleans up. The consumer measuring lateness runs in the bench process,
 * never in Chime's.
 */

import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type ChimeProcess, startChimeProcess } from "../harness/chime.js";
import { createGrpcJsClient, type GrpcJsClient } from "../harness/grpc-js-client.js";
import { startTestNats } from "../harness/nats-server.js";
import {
  BENCH_CHIME,
  concurrently,
  consumeFires,
  cpuMeter,
  dirBytes,
  emit,
  forDuration,
  measureCeiling,
  measureStoreWriteCeiling,
  PAYLOAD,
  publishPaced,
  type Receipt,
  round,
  rssBytes,
  settledRssBytes,
  sleep,
  startStack,
  storedScheduleBytes,
  summary,
  timestamp,
} from "./lib.js";

export interface Sizes {
  quick: boolean;
}

const IN_FLIGHT = 64;
/** BatchSchedule items per call, and calls in flight, for the batch create figures. */
const BATCH_ITEMS = 500;
const BATCHES_IN_FLIGHT = 4;
/**
 * Fires of a warm-up burst a second before a measured one, on a subject the consumer does not
 * read: a service that has run a while has its fire path compiled, a fresh process compiles it
 * during its first thousands of fires (a 10,000 burst drained at 25 µs of Chime's CPU a fire,
 * against 14 µs in a 100,000 one). The ceiling leaves out its first tenth likewise.
 */
const WARM_UP_FIRES = 5_000;
/** The same in --quick mode, which checks that the suite works, never a figure. */
const QUICK_WARM_UP_FIRES = 200;
const WARM_UP_BEFORE_T_MS = 1_000;
const HOUR = 3_600_000;
// Long enough for V8's memory reducer, which starts some 30 s after the allocations stop.
const RSS_SETTLE_MS = 60_000;

/** 1. What this machine's JetStream accepts from a plain client. */
export async function ceiling({ quick }: Sizes): Promise<void> {
  const nats = await startTestNats();
  try {
    const count = quick ? 20_000 : 200_000;
    const rate = await measureCeiling(nats.url, count);
    emit({
      bench: "ceiling",
      metric: "JetStream async publish, 200 B + Nats-Msg-Id, window 1024, file storage",
      value: rate,
      unit: "msgs/s",
      messages: count,
    });
  } finally {
    await nats.stop();
  }
}

interface BurstResult {
  firesPerSec: number;
  ceiling: number;
  drainMs: number;
  lateness: { p50: number; p99: number; max: number };
  creationOverran: boolean;
  /** CPU use while the burst drained, in cores, per process (chime1…, nats, bench). */
  cpu: Record<string, number>;
}

/**
 * N one-shots due at one instant T, created before T through gRPC (BatchSchedule) across
 * `replicas` Chime processes; T leaves slack for creation at the rate a calibration run
 * measured. Drain time is the last receipt minus T.
 */
async function runBurst(
  n: number,
  replicas: number,
  ceilingCount: number,
  spreadMs: number,
  warmUpFires: number,
): Promise<BurstResult> {
  const nats = await startTestNats();
  const processes: ChimeProcess[] = [];
  const clients: GrpcJsClient[] = [];
  let consumer: Awaited<ReturnType<typeof consumeFires>> | undefined;
  try {
    const ceilingRate = await measureCeiling(nats.url, ceilingCount);
    // The first replica creates the stream and the buckets alone; the others join at once.
    const start = (r: number) =>
      startChimeProcess(nats.url, { ...BENCH_CHIME, replicaId: `r${r}` });
    processes.push(await start(1));
    const rest = Array.from({ length: replicas - 1 }, (_, i) => start(i + 2));
    const joined = await Promise.allSettled(rest);
    for (const j of joined) if (j.status === "fulfilled") processes.push(j.value);
    for (const j of joined) if (j.status === "rejected") throw j.reason;
    for (const p of processes) clients.push(createGrpcJsClient(`127.0.0.1:${p.port}`));
    // Let the partitions spread over the replicas (lease TTL 2 s by default).
    if (replicas > 1) await sleep(spreadMs);
    consumer = await consumeFires(nats.url, "tasks.bench.burst.>");
    const client = (i: number): GrpcJsClient => clients[i % clients.length] as GrpcJsClient;
    // Calibrate the create rate on schedules due in an hour, outside the measured subject,
    // through BatchSchedule as the burst itself is created.
    const createBatches = async (count: number, item: object): Promise<void> => {
      await concurrently(
        Math.ceil(count / BATCH_ITEMS),
        BATCHES_IN_FLIGHT * clients.length,
        (i) => {
          const items = Array.from(
            { length: Math.min(BATCH_ITEMS, count - i * BATCH_ITEMS) },
            () => item,
          );
          return client(i).unary("BatchSchedule", { items }, 60_000);
        },
      );
    };
    const calibration = Math.min(10_000, Math.max(1_000, Math.floor(n / 10)));
    const warm = {
      subject: "tasks.bench.warm",
      payload: PAYLOAD,
      at: timestamp(Date.now() + HOUR),
    };
    const calStarted = performance.now();
    await createBatches(calibration, { byTime: warm });
    const createRate = calibration / ((performance.now() - calStarted) / 1000);
    const warmUp = Math.min(n, warmUpFires);
    const T = Date.now() + Math.ceil(((n + warmUp) / createRate) * 1.5 * 1000) + 1_500;
    const at = timestamp(T);
    await createBatches(warmUp, {
      byTime: {
        subject: "tasks.bench.warm-up",
        payload: PAYLOAD,
        at: timestamp(T - WARM_UP_BEFORE_T_MS),
      },
    });
    await createBatches(n, { byTime: { subject: "tasks.bench.burst.x", payload: PAYLOAD, at } });
    const creationOverran = Date.now() > T;
    const pids: Record<string, number> = { nats: nats.process?.pid ?? 0, bench: process.pid };
    for (const [i, p] of processes.entries()) pids[`chime${i + 1}`] = p.child.pid ?? 0;
    // Read before T: once the fires flow, the consumer keeps the bench's event loop so busy
    // that a reading started at T would complete only when the burst is nearly over.
    await sleep(T - Date.now() - 200);
    const meter = await cpuMeter(pids);
    await sleep(T - Date.now());
    const all = await consumer.waitForCount(n, 60_000 + n);
    const cpu = await meter.stop((Date.now() - T) / 1000);
    if (!all) throw new Error(`burst of ${n}: only ${consumer.count} fires arrived`);
    const receipts = consumer.receipts.slice(0, n);
    let last = 0;
    const lateness: number[] = [];
    for (const r of receipts) {
      if (r.receivedAt > last) last = r.receivedAt;
      lateness.push(r.receivedAt - r.scheduledAt);
    }
    const drainMs = Math.max(1, last - T);
    return {
      firesPerSec: n / (drainMs / 1000),
      ceiling: ceilingRate,
      drainMs,
      lateness: summary(lateness),
      creationOverran,
      cpu,
    };
  } finally {
    await consumer?.stop().catch(() => undefined);
    for (const c of clients) c.close();
    for (const p of processes) await p.stop().catch(() => undefined);
    await nats.stop();
  }
}

function warmUpFires(quick: boolean): number {
  return quick ? QUICK_WARM_UP_FIRES : WARM_UP_FIRES;
}

/**
 * Rounds of each burst in full mode, each on a fresh nats-server and Chime beside its own
 * ceiling. A burst of 10,000 drains in a few hundred ms, and on a 2-core machine one
 * scheduling hiccup moved its ratio between 0.70 and 1.0 in identical rounds: the round with
 * the median ratio is reported, and every round's ratio printed beside it.
 */
const BURST_ROUNDS = 3;

/** 2. Burst: N one-shots due at one instant. */
export async function burst({ quick }: Sizes): Promise<void> {
  for (const n of quick ? [2_000] : [100_000, 10_000]) {
    const rounds: BurstResult[] = [];
    for (let i = 0; i < (quick ? 1 : BURST_ROUNDS); i++) {
      rounds.push(await runBurst(n, 1, quick ? 20_000 : 100_000, 0, warmUpFires(quick)));
    }
    const ratioOf = (b: BurstResult): number => b.firesPerSec / b.ceiling;
    rounds.sort((a, b) => ratioOf(a) - ratioOf(b));
    const r = rounds[Math.floor(rounds.length / 2)] as BurstResult;
    const bench = `burst-${n}`;
    const extra = r.creationOverran ? { note: "creation overran T: lateness includes it" } : {};
    emit({
      bench,
      metric: "drain time (last receipt − T)",
      value: r.drainMs,
      unit: "ms",
      ...extra,
    });
    emit({
      bench,
      metric: `fires/s vs JetStream ceiling${rounds.length > 1 ? `, median of ${rounds.length} rounds` : ""}`,
      value: r.firesPerSec,
      unit: "fires/s",
      ceiling: r.ceiling,
      cpuCores: r.cpu,
      rounds: rounds.map((b) => ({
        ratio: round(ratioOf(b), 3),
        drainMs: b.drainMs,
        ...(b.creationOverran ? { creationOverran: true } : {}),
      })),
    });
    emit({ bench, metric: "lateness p50", value: r.lateness.p50, unit: "ms" });
    emit({ bench, metric: "lateness p99", value: r.lateness.p99, unit: "ms" });
    emit({ bench, metric: "lateness max", value: r.lateness.max, unit: "ms" });
  }
}

/**
 * 3. Steady: 1,000 fires/s, spread evenly, one in each millisecond. A six-field cron can fire
 * only on a whole second, so the first millisecond of each second is a cron's: 60 crons, each
 * firing at its own second of the minute (`7 * * * * *`). The other 999 are intervals of 1 s
 * starting on milliseconds 1 to 999.
 */
const PLAIN_SUBJECT = "tasks.bench.steady.plain";
const CRON_SUBJECT = "tasks.bench.steady.cron";

export async function steady({ quick }: Sizes): Promise<void> {
  const seconds = quick ? 2 : 30;
  const perSecond = 1000;
  const intervals = perSecond - 1;
  const crons = 60;
  const stack = await startStack();
  const consumer = await consumeFires(stack.nats.url, "tasks.bench.steady.>", {
    readOnArrival: true,
  });
  try {
    const offsets = Array.from({ length: perSecond }, (_, i) => i);
    // The floor first, on the same nats-server and consumer, before Chime has any schedule:
    // a plain client publishing at the same instants, for as long. Its maximum is that of as
    // many samples: nats-server stores a message 20 ms or more late every few seconds on this
    // machine, which a shorter floor would miss more often than the run beside it.
    const plainSeconds = seconds;
    await publishPaced(stack.nats.url, PLAIN_SUBJECT, offsets, plainSeconds);
    await sleep(500);
    const plain = summary(
      consumer.receipts
        .filter((r) => r.subject === PLAIN_SUBJECT)
        .map((r) => r.receivedAt - r.scheduledAt),
    );
    const base = Math.ceil((Date.now() + (quick ? 2_000 : 3_000)) / 1000) * 1000;
    await concurrently(intervals + crons, IN_FLIGHT, (i) =>
      i < intervals
        ? stack.grpc.unary("ScheduleByInterval", {
            subject: "tasks.bench.steady.interval",
            payload: PAYLOAD,
            every: { seconds: "1", nanos: 0 },
            startAt: timestamp(base + 1 + i),
          })
        : stack.grpc.unary("ScheduleByCron", {
            subject: CRON_SUBJECT,
            payload: PAYLOAD,
            cron: `${i - intervals} * * * * *`,
            timeZone: "UTC",
          }),
    );
    const from = Math.max(base, Date.now()) + (quick ? 1_000 : 2_000);
    const to = from + seconds * 1000;
    await sleep(to - Date.now() + 1_000);
    const window = consumer.receipts.filter(
      (r) => r.subject !== PLAIN_SUBJECT && r.scheduledAt >= from && r.scheduledAt < to,
    );
    const expected = perSecond * seconds;
    if (window.length < expected * 0.9) {
      throw new Error(`steady: ${window.length} fires in the window, expected ${expected}`);
    }
    const s = summary(window.map((r) => r.receivedAt - r.scheduledAt));
    const bench = "steady-1000/s";
    const cronFires = window.filter((r) => r.subject === CRON_SUBJECT).length;
    const counts = { fires: window.length, cronFires, expected, seconds };
    // plainClient*: the same lateness for a plain client publishing each message at its
    // instant, measured in the same run: what the machine, NATS and delivery add without Chime.
    const plainRun = { plainMessages: plainSeconds * perSecond };
    emit({
      bench,
      metric: "lateness p50",
      value: s.p50,
      unit: "ms",
      plainClientP50: plain.p50,
      ...counts,
      ...plainRun,
    });
    emit({ bench, metric: "lateness p99", value: s.p99, unit: "ms", plainClientP99: plain.p99 });
    emit({ bench, metric: "lateness max", value: s.max, unit: "ms", plainClientMax: plain.max });
    // Where the lateness arises: Chime publishing (Chime-Fired-At), then JetStream storing.
    for (const [stage, at] of [
      ["published by Chime", (r: Receipt) => r.firedAt],
      ["stored by JetStream", (r: Receipt) => r.storedAt],
    ] as const) {
      const part = summary(window.map((r) => at(r) - r.scheduledAt));
      emit({
        bench,
        metric: `lateness when ${stage}, p99 / max`,
        value: part.p99,
        unit: "ms",
        max: round(part.max),
      });
    }
  } finally {
    await consumer.stop().catch(() => undefined);
    await stack.stop();
  }
}

/**
 * Starts the no-op grpc-js SchedulerService in a child process, answering each method with
 * its reply in `replies`; resolves with its port.
 */
async function startNoopServer(
  replies: Record<string, object>,
): Promise<{ port: number; pid: number; stop(): void }> {
  const child = fork(fileURLToPath(new URL("./noop-grpc-server.ts", import.meta.url)), [], {
    execArgv: process.execArgv,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    // Structured clone, so that a reply's bytes fields arrive as bytes.
    serialization: "advanced",
  });
  child.send(replies);
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (m) => resolve(Number(m)));
    child.once("exit", (code) => reject(new Error(`no-op gRPC server exited (${code})`)));
  });
  return { port, pid: child.pid ?? 0, stop: () => child.kill("SIGTERM") };
}

/** The busy loop of test/bench/busy-loop.ts, resting until it is told a share of a core. */
function startBusyLoop(): { pid: number; keepBusy(share: number): void; stop(): void } {
  const child = fork(fileURLToPath(new URL("./busy-loop.ts", import.meta.url)), [], {
    execArgv: process.execArgv,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return {
    pid: child.pid ?? 0,
    keepBusy: (share) => child.send(share),
    stop: () => child.kill("SIGTERM"),
  };
}

/** Turns the no-op server and Chime take in the unary create figures. */
const CREATE_ROUNDS = 5;

/** One server of the unary create figures, and what its turns measured. */
interface CreateSide {
  readonly client: GrpcJsClient;
  readonly pid: number;
  readonly latencies: number[];
  seconds: number;
  /** CPU seconds each process used during this server's turns. */
  readonly cpuSeconds: Record<string, number>;
}

function createSide(client: GrpcJsClient, pid: number): CreateSide {
  return { client, pid, latencies: [], seconds: 0, cpuSeconds: {} };
}

function figuresOf(side: CreateSide) {
  return {
    rate: side.latencies.length / side.seconds,
    ...summary(side.latencies),
    cpu: Object.fromEntries(
      Object.entries(side.cpuSeconds).map(([name, used]) => [name, round(used / side.seconds)]),
    ),
  };
}

/**
 * 4. Create: ScheduleByTime and ScheduleByCron through @grpc/grpc-js, 64 in flight, beside
 * the same client against a no-op grpc-js server (the client-bound ceiling).
 */
export async function create({ quick }: Sizes): Promise<void> {
  const ms = quick ? 1_000 : 10_000;
  const warmupMs = quick ? 300 : 1_000;
  const requests = {
    ScheduleByTime: () => ({
      subject: "tasks.bench.create",
      payload: PAYLOAD,
      at: timestamp(Date.now() + HOUR),
    }),
    ScheduleByCron: () => ({
      subject: "tasks.bench.create",
      payload: PAYLOAD,
      cron: "0 0 3 * * *",
      timeZone: "America/New_York",
    }),
  };
  const stack = await startStack();
  // The no-op server answers with what Chime answered, so both runs decode the same reply.
  const replies: Record<string, object> = {};
  try {
    for (const [method, request] of Object.entries(requests)) {
      replies[method] = await stack.grpc.unary(method, request());
    }
  } catch (err) {
    await stack.stop();
    throw err;
  }
  const noop = await startNoopServer(replies).catch(async (err) => {
    await stack.stop();
    throw err;
  });
  const noopClient = createGrpcJsClient(`127.0.0.1:${noop.port}`);
  const natsPid = stack.nats.process?.pid ?? 0;
  const busyLoop = startBusyLoop();
  try {
    for (const [method, request] of Object.entries(requests)) {
      const call = (client: GrpcJsClient) => () => client.unary(method, request());
      const noopSide = createSide(noopClient, noop.pid);
      const chimeSide = createSide(stack.grpc, stack.chime.child.pid ?? 0);
      // The no-op server again, beside a loop that takes the CPU that Chime and nats-server took
      // in Chime's turn before.
      const busySide = createSide(noopClient, noop.pid);
      const sides = [noopSide, chimeSide, busySide];
      for (const side of sides) await forDuration(warmupMs, IN_FLIGHT, call(side.client));
      // The servers take turns, a round at a time: the machine's speed drifts by 10-15 % within
      // minutes, and what drifts then falls on the ceiling and on Chime alike.
      let chimeCores = 0;
      for (let turn = 0; turn < CREATE_ROUNDS; turn++) {
        for (const side of sides) {
          if (side === busySide) busyLoop.keepBusy(chimeCores);
          const meter = await cpuMeter({
            server: side.pid,
            nats: natsPid,
            bench: process.pid,
            ...(side === busySide ? { busyLoop: busyLoop.pid } : {}),
          });
          const { latencies, elapsedMs } = await forDuration(
            ms / CREATE_ROUNDS,
            IN_FLIGHT,
            call(side.client),
          );
          const cpu = await meter.stop();
          if (side === busySide) busyLoop.keepBusy(0);
          if (side === chimeSide) chimeCores = (cpu.server ?? 0) + (cpu.nats ?? 0);
          side.latencies.push(...latencies);
          side.seconds += elapsedMs / 1000;
          for (const [name, cores] of Object.entries(cpu)) {
            side.cpuSeconds[name] = (side.cpuSeconds[name] ?? 0) + cores * (elapsedMs / 1000);
          }
        }
      }
      const bound = figuresOf(noopSide);
      const chime = figuresOf(chimeSide);
      const besideChimeCpu = figuresOf(busySide);
      const bench = `create-${method}`;
      emit({
        bench,
        metric: "creates/s, gRPC, 64 in flight, vs the same client against a no-op server",
        value: chime.rate,
        unit: "creates/s",
        ceiling: bound.rate,
        cpuCores: chime.cpu,
        noopCpuCores: bound.cpu,
      });
      emit({ bench, metric: "latency p50", value: chime.p50, unit: "ms", noopP50: bound.p50 });
      emit({ bench, metric: "latency p99", value: chime.p99, unit: "ms", noopP99: bound.p99 });
      // What Chime's creates cost the client in CPU alone (Chime's and nats-server's), the
      // client sharing the machine's two cores with them.
      emit({
        bench,
        metric: "creates/s of the no-op server beside a loop taking the CPU Chime and NATS took",
        value: besideChimeCpu.rate,
        unit: "creates/s",
        ceiling: bound.rate,
        cpuCores: besideChimeCpu.cpu,
      });
    }
    // BatchSchedule: BATCH_ITEMS one-shots per call, BATCHES_IN_FLIGHT calls at once, beside
    // the JetStream ceiling on the same nats-server, and beside the store-write ceiling (the
    // same puts from a plain client) measured right after it.
    const ceilingCount = quick ? 20_000 : 100_000;
    const ceilingRate = await measureCeiling(stack.nats.url, ceilingCount);
    const batch = (): Promise<unknown> => {
      const at = timestamp(Date.now() + HOUR);
      const items = Array.from({ length: BATCH_ITEMS }, () => ({
        byTime: { subject: "tasks.bench.create.batch", payload: PAYLOAD, at },
      }));
      return stack.grpc.unary("BatchSchedule", { items }, 60_000);
    };
    await forDuration(warmupMs, BATCHES_IN_FLIGHT, batch);
    const meter = await cpuMeter({
      chime: stack.chime.child.pid ?? 0,
      nats: natsPid,
      bench: process.pid,
    });
    const batched = await forDuration(ms, BATCHES_IN_FLIGHT, batch);
    const cpu = await meter.stop();
    const creates = (batched.latencies.length * BATCH_ITEMS) / (batched.elapsedMs / 1000);
    const valueBytes = await storedScheduleBytes(stack.nats.url, "CHIME_SCHEDULES");
    const storeCeiling = await measureStoreWriteCeiling(stack.nats.url, ceilingCount, valueBytes);
    const bench = "create-BatchSchedule";
    emit({
      bench,
      metric: `creates/s, ${BATCH_ITEMS} one-shots per call, ${BATCHES_IN_FLIGHT} calls in flight, vs the JetStream ceiling`,
      value: creates,
      unit: "creates/s",
      ceiling: ceilingRate,
      cpuCores: cpu,
    });
    emit({
      bench,
      metric: `store-write ceiling: a plain client's puts of new ${valueBytes}-byte keys, each read back by one consumer`,
      value: storeCeiling,
      unit: "puts/s",
      chimeRatio: round(creates / storeCeiling, 3),
    });
    emit({
      bench,
      metric: "latency of one call, p99",
      value: summary(batched.latencies).p99,
      unit: "ms",
    });
  } finally {
    noopClient.close();
    noop.stop();
    busyLoop.stop();
    await stack.stop();
  }
}

/**
 * 5. Capacity: N active one-shots (200-byte payloads, due in a day) plus one 1-s interval
 * probe. Chime RSS per schedule beyond its baseline (2 s after the creates and once idle, and
 * again, idle, once a restarted Chime has loaded them), nats RSS and disk per schedule, ListSchedules page-of-100
 * latency, and the time from restarting Chime to a probe fire on time again (lateness ≤ 100 ms).
 */
export async function capacity({ quick }: Sizes): Promise<void> {
  const n = quick ? 20_000 : 1_000_000;
  const pages = quick ? 50 : 200;
  const stack = await startStack();
  const natsPid = stack.nats.process?.pid ?? 0;
  let chime = stack.chime;
  let grpc = stack.grpc;
  const consumer = await consumeFires(stack.nats.url, "tasks.bench.probe");
  try {
    await sleep(1_000);
    const chimeBase = await rssBytes(chime.child.pid ?? 0);
    const natsBase = await rssBytes(natsPid);
    const diskBase = await dirBytes(stack.nats.storeDir);
    await grpc.unary("ScheduleByInterval", {
      subject: "tasks.bench.probe",
      every: { seconds: "1", nanos: 0 },
    });
    const inADay = timestamp(Date.now() + 24 * HOUR);
    const started = performance.now();
    const item = { byTime: { subject: "tasks.bench.capacity", payload: PAYLOAD, at: inADay } };
    const items = Array.from({ length: BATCH_ITEMS }, () => item);
    await concurrently(Math.ceil(n / BATCH_ITEMS), BATCHES_IN_FLIGHT, () =>
      grpc.unary("BatchSchedule", { items }, 120_000),
    );
    const createSeconds = (performance.now() - started) / 1000;
    await sleep(2_000);
    const bench = `capacity-${n}`;
    const perSchedule = (metric: string, bytes: number, extra: object = {}): void =>
      emit({ bench, metric, value: bytes / n, unit: "bytes", ...extra });
    const chimeRss = await rssBytes(chime.child.pid ?? 0);
    const natsRss = await rssBytes(natsPid);
    const disk = await dirBytes(stack.nats.storeDir);
    emit({
      bench,
      metric: `create rate while filling (BatchSchedule, ${BATCH_ITEMS} per call, ${BATCHES_IN_FLIGHT} in flight)`,
      value: n / createSeconds,
      unit: "creates/s",
    });
    perSchedule("Chime RSS per schedule beyond baseline", chimeRss - chimeBase, {
      baselineMiB: chimeBase / 2 ** 20,
      rssMiB: chimeRss / 2 ** 20,
    });
    perSchedule("nats-server RSS per schedule", natsRss - natsBase);
    perSchedule("nats-server disk per schedule", disk - diskBase);
    // What a running service settles at, once V8 has given back the heap the creates grew.
    const settleMs = quick ? 1_000 : RSS_SETTLE_MS;
    const settledRss = await settledRssBytes(chime.child.pid ?? 0, settleMs);
    perSchedule(
      `Chime RSS per schedule beyond baseline, lowest over ${settleMs / 1000} s idle`,
      settledRss - chimeBase,
      { rssMiB: settledRss / 2 ** 20 },
    );

    const listMs: number[] = [];
    let token = "";
    for (let i = 0; i < pages; i++) {
      const t0 = performance.now();
      const page = await grpc.unary<{ nextPageToken: string }>("ListSchedules", {
        pageSize: 100,
        pageToken: token,
      });
      listMs.push(performance.now() - t0);
      token = page.nextPageToken;
    }
    const list = summary(listMs);
    emit({ bench, metric: "ListSchedules page of 100, p50", value: list.p50, unit: "ms" });
    emit({ bench, metric: "ListSchedules page of 100, p99", value: list.p99, unit: "ms" });

    grpc.close();
    await chime.stop();
    const restartAt = Date.now();
    chime = await startChimeProcess(stack.nats.url, BENCH_CHIME, 120_000);
    const readyAt = Date.now();
    grpc = createGrpcJsClient(`127.0.0.1:${chime.port}`);
    const deadline = Date.now() + (quick ? 30_000 : 120_000);
    let onTimeAt: number | undefined;
    while (onTimeAt === undefined && Date.now() < deadline) {
      // Any probe fire due after the restart began and on time: a restarted Chime fires
      // before /readyz answers (its listener opens once the partitions are admitted), so
      // counting only fires due after /readyz added the probe's phase, up to a second.
      const hit = consumer.receipts.find(
        (r) => r.scheduledAt >= restartAt && r.receivedAt - r.scheduledAt <= 100,
      );
      onTimeAt = hit?.receivedAt;
      if (onTimeAt === undefined) await sleep(20);
    }
    if (onTimeAt === undefined) throw new Error("capacity: no on-time probe fire after restart");
    emit({ bench, metric: "restart to ready (/readyz)", value: readyAt - restartAt, unit: "ms" });
    emit({ bench, metric: "restart to firing on time", value: onTimeAt - restartAt, unit: "ms" });
    // The same schedules loaded from the store, without the garbage the creates left behind;
    // read once the load's own garbage has been given back, as after the fill.
    const restartedRss = await settledRssBytes(chime.child.pid ?? 0, settleMs);
    perSchedule(
      `Chime RSS per schedule beyond baseline, restarted, lowest over ${settleMs / 1000} s idle`,
      restartedRss - chimeBase,
      { rssMiB: restartedRss / 2 ** 20 },
    );
  } finally {
    await consumer.stop().catch(() => undefined);
    grpc.close();
    await chime.stop().catch(() => undefined);
    await stack.nats.stop();
  }
}

/** 6. Replicas: 1, 2 and 3 Chime replicas sharing the burst of scenario 2. */
export async function replicas({ quick }: Sizes): Promise<void> {
  const n = quick ? 1_000 : 10_000;
  for (const k of [1, 2, 3]) {
    const r = await runBurst(
      n,
      k,
      quick ? 10_000 : 100_000,
      quick ? 2_500 : 5_000,
      warmUpFires(quick),
    );
    const bench = `replicas-${k}`;
    emit({
      bench,
      metric: `fires/s, burst of ${n}, ${k} replica(s)`,
      value: r.firesPerSec,
      unit: "fires/s",
      ceiling: r.ceiling,
      drainMs: r.drainMs,
      p99Ms: r.lateness.p99,
      cpuCores: r.cpu,
    });
  }
}
