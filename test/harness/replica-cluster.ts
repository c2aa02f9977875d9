import { readFile } from "node:fs/promises";
import type { SchedulerService } from "@chime/sdk";
import type { Client } from "@connectrpc/connect";
import { connect } from "@nats-io/transport-node";
import { rendezvousOwner } from "../../server/src/cluster/rendezvous.js";
import type { RawSettings } from "../../server/src/config.js";
import { type ChimeProcess, startChimeProcess } from "./chime.js";
import { chimeClient, settle, until } from "./deliveries.js";
import { awaitFires, type CheckedWindow, FireIndex } from "./fire-audit.js";
import { startTestNats, type TestNats } from "./nats-server.js";
import { recordTasks, type TaskRecorder } from "./task-recorder.js";

/** One Chime child process of a cluster, under the replica id it was started with. */
export interface Replica {
  readonly id: string;
  readonly process: ChimeProcess;
  readonly client: Client<typeof SchedulerService>;
  /** When it was started and, once it is gone, when the signal that ended it was sent. */
  readonly startedAt: number;
  endedAt: number | undefined;
}

export interface ReplicaClusterOptions {
  /** Replica ids to start (the first alone, then the others at once). Default r1, r2, r3. */
  readonly replicas?: readonly string[];
  /** Settings every replica gets (each may add its own in `add`). */
  readonly settings?: RawSettings;
}

/**
 * A real `nats-server`, several Chime replicas as child processes against it, a JetStream
 * consumer recording every stored task, and a core-NATS subscriber recording every publish
 * (the ones JetStream drops as duplicates included). Fault tests kill, stop and pause
 * replicas by id and restart them as new processes.
 */
export class ReplicaCluster implements AsyncDisposable {
  private readonly byId = new Map<string, Replica>();
  /** Every replica ever started, in order, the ended ones included (for their logs). */
  readonly history: Replica[] = [];
  private closed: Promise<void> | undefined;

  private constructor(
    readonly nats: TestNats,
    readonly settings: RawSettings,
    private taskRecorder: TaskRecorder,
    readonly publishes: PublishLog,
  ) {}

  /** The JetStream consumer recording every stored task. */
  get recorder(): TaskRecorder {
    return this.taskRecorder;
  }

  /**
   * Replaces the recorder by a new one that reads the stream again from its first message:
   * the recorder's consumer does not survive a restart of nats-server. Receipt times of the
   * messages stored before are then those of the new reading.
   */
  async rerecord(): Promise<TaskRecorder> {
    await this.taskRecorder.stop().catch(() => undefined);
    this.taskRecorder = await recordTasks(this.nats.url);
    return this.taskRecorder;
  }

  /**
   * Every task stored so far, once the windows' fires have arrived (or `timeoutMs` passed) and
   * the stream has nothing more to deliver.
   */
  async storedFires(windows: readonly CheckedWindow[], timeoutMs = 10_000): Promise<FireIndex> {
    const index = await awaitFires(new FireIndex(), this.recorder.tasks, windows, timeoutMs);
    await settle(this.recorder, this.nats.url);
    index.update(this.recorder.tasks);
    return index;
  }

  static async start(options: ReplicaClusterOptions = {}): Promise<ReplicaCluster> {
    const ids = options.replicas ?? ["r1", "r2", "r3"];
    const nats = await startTestNats();
    let publishes: PublishLog | undefined;
    let cluster: ReplicaCluster | undefined;
    try {
      publishes = await recordPublishedFires(nats.url);
      const [first, ...rest] = ids;
      // The first replica creates the stream and the buckets, alone.
      const firstProcess =
        first === undefined
          ? undefined
          : await startChimeProcess(nats.url, { ...options.settings, replicaId: first });
      let recorder: TaskRecorder;
      try {
        recorder = await recordTasks(nats.url);
      } catch (err) {
        await firstProcess?.stop("SIGKILL");
        throw err;
      }
      cluster = new ReplicaCluster(nats, options.settings ?? {}, recorder, publishes);
      if (first !== undefined && firstProcess !== undefined) cluster.track(first, firstProcess);
      await Promise.all(rest.map((id) => cluster?.add(id)));
      return cluster;
    } catch (err) {
      if (cluster !== undefined) await cluster.close();
      else {
        await publishes?.stop();
        await nats.stop();
      }
      throw err;
    }
  }

  /** Starts a replica (a new process) under `id`, waiting until it answers /readyz. */
  async add(id: string, settings: RawSettings = {}): Promise<Replica> {
    if (this.byId.has(id)) throw new Error(`replica ${id} runs already`);
    const process = await startChimeProcess(this.nats.url, {
      ...this.settings,
      replicaId: id,
      ...settings,
    });
    return this.track(id, process);
  }

  private track(id: string, process: ChimeProcess): Replica {
    // Started by a test that ran on past its timeout, after the cluster was closed: nothing
    // will stop it later.
    if (this.closed !== undefined) {
      void process.stop("SIGKILL");
      throw new Error(`replica ${id} started after the cluster was closed`);
    }
    const replica: Replica = {
      id,
      process,
      client: chimeClient(process.baseUrl),
      startedAt: Date.now(),
      endedAt: undefined,
    };
    this.byId.set(id, replica);
    this.history.push(replica);
    return replica;
  }

  replica(id: string): Replica {
    const replica = this.byId.get(id);
    if (replica === undefined) throw new Error(`no replica ${id} runs`);
    return replica;
  }

  /** Ids of the replicas that were started and not ended by this cluster, sorted. */
  get live(): string[] {
    return [...this.byId.keys()].sort();
  }

  client(id: string): Client<typeof SchedulerService> {
    return this.replica(id).client;
  }

  /**
   * Sends `signal` (SIGKILL, SIGTERM) and waits for the process to exit; returns the send time
   * and the exit code (null when the signal killed it).
   */
  async end(
    id: string,
    signal: NodeJS.Signals,
  ): Promise<{ sentAt: number; exitedAt: number; code: number | null }> {
    const replica = this.replica(id);
    this.byId.delete(id);
    const sentAt = Date.now();
    replica.endedAt = sentAt;
    const code = await replica.process.stop(signal);
    return { sentAt, exitedAt: Date.now(), code };
  }

  /**
   * SIGSTOP: the process freezes. Waits until the kernel reports it stopped; returns when the
   * signal was sent and when the process was seen stopped (nothing of it runs after that).
   */
  async pause(id: string): Promise<{ sentAt: number; stoppedAt: number }> {
    const pid = this.pidOf(id);
    const sentAt = Date.now();
    process.kill(pid, "SIGSTOP");
    await until("the replica to be stopped", async () => (await stateOf(pid)) === "T", 2_000, 5);
    return { sentAt, stoppedAt: Date.now() };
  }

  /** SIGCONT after `pause`. */
  resume(id: string): number {
    process.kill(this.pidOf(id), "SIGCONT");
    return Date.now();
  }

  private pidOf(id: string): number {
    const pid = this.replica(id).process.child.pid;
    if (pid === undefined) throw new Error(`replica ${id} has no pid`);
    return pid;
  }

  /**
   * Who fires each partition, as replica `via` sees it: GetSchedule of one schedule per
   * partition (`sample` maps a partition to one of its schedules). "" when none holds it.
   */
  async owners(via: string, sample: ReadonlyMap<number, string>): Promise<Map<number, string>> {
    const client = this.client(via);
    const entries = await Promise.all(
      [...sample].map(async ([partition, scheduleId]) => {
        const schedule = await client.getSchedule({
          target: { case: "scheduleId", value: scheduleId },
          nextFireCount: 0,
        });
        return [partition, schedule.owner] as const;
      }),
    );
    return new Map(entries);
  }

  /**
   * Waits until `via` reports every sampled partition owned where rendezvous hashing over
   * `members` puts it: the live replicas have settled on the spread they must reach.
   */
  async awaitOwners(
    via: string,
    sample: ReadonlyMap<number, string>,
    members: readonly string[],
    timeoutMs: number,
  ): Promise<Map<number, string>> {
    const wanted = new Map([...sample.keys()].map((p) => [p, rendezvousOwner(p, members)]));
    let owners = new Map<number, string>();
    try {
      await until(
        `partitions to be spread over ${members.join(", ")}`,
        async () => {
          owners = await this.owners(via, sample);
          return [...wanted].every(([p, owner]) => owners.get(p) === owner);
        },
        timeoutMs,
        100,
      );
    } catch (err) {
      throw new Error(
        `${(err as Error).message}; last seen: ${JSON.stringify(Object.fromEntries(owners))}, wanted: ${JSON.stringify(Object.fromEntries(wanted))}`,
      );
    }
    return owners;
  }

  /** The log lines of every process started under `id` (JSON lines), in order. */
  logOf(id: string): string {
    return this.history
      .filter((r) => r.id === id)
      .map((r) => r.process.output())
      .join("");
  }

  /** Replicas that exited on their own (not ended by this cluster), with their output. */
  unexpectedExits(): string[] {
    return [...this.byId.values()]
      .filter((r) => r.process.child.exitCode !== null || r.process.child.signalCode !== null)
      .map(
        (r) =>
          `${r.id} exited with ${r.process.child.exitCode ?? r.process.child.signalCode}:\n${r.process.output().slice(-4_000)}`,
      );
  }

  /** Kills every replica, stops the recorders and the NATS server. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      for (const replica of this.byId.values()) {
        const pid = replica.process.child.pid;
        if (pid !== undefined) {
          try {
            process.kill(pid, "SIGCONT");
          } catch {
            // Gone already.
          }
        }
      }
      await Promise.all([...this.byId.values()].map((r) => r.process.stop("SIGKILL")));
      this.byId.clear();
      await this.recorder.stop().catch(() => undefined);
      await this.publishes.stop().catch(() => undefined);
      await this.nats.stop();
    })();
    return this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The state letter of a process from /proc (Linux): R, S, T (stopped), … */
async function stateOf(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

/** Log lines (pino JSON) whose msg is `message`, with their time. */
export function logLines(
  output: string,
  message: string,
): { time: number; line: Record<string, unknown> }[] {
  const found: { time: number; line: Record<string, unknown> }[] = [];
  for (const text of output.split("\n")) {
    if (!text.includes(message)) continue;
    try {
      const line = JSON.parse(text) as Record<string, unknown>;
      if (line.msg === message) found.push({ time: Number(line.time), line });
    } catch {
      // Not a JSON line (a stack trace, say).
    }
  }
  return found;
}

/** One publish of a fire as a core-NATS subscriber saw it. */
export interface SeenPublish {
  readonly messageId: string;
  /** Chime-Fired-At: when the fire started; a retried publish repeats it. */
  readonly firedAt: string;
}

/**
 * A core-NATS subscriber on the task subjects: it sees every publish, those JetStream drops
 * as duplicates included.
 */
export interface PublishLog {
  readonly publishes: readonly SeenPublish[];
  stop(): Promise<void>;
}

export async function recordPublishedFires(
  natsUrl: string,
  subject = "tasks.>",
): Promise<PublishLog> {
  const nc = await connect({ servers: natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const publishes: SeenPublish[] = [];
  const sub = nc.subscribe(subject, {
    callback: (_err, msg) => {
      publishes.push({
        messageId: msg.headers?.get("Nats-Msg-Id") ?? "",
        firedAt: msg.headers?.get("Chime-Fired-At") ?? "",
      });
    },
  });
  await nc.flush();
  return {
    publishes,
    stop: async () => {
      sub.unsubscribe();
      await nc.close();
    },
  };
}

/**
 * Fires started more than once (one Nats-Msg-Id published with distinct Chime-Fired-At), with
 * their Fired-At values: a publish retried after a lost ack repeats its headers and is not one.
 */
export function refired(
  publishes: readonly SeenPublish[],
  keep: (messageId: string) => boolean = () => true,
): Record<string, string[]> {
  const byId = new Map<string, Set<string>>();
  for (const p of publishes) {
    if (!keep(p.messageId)) continue;
    const starts = byId.get(p.messageId);
    if (starts === undefined) byId.set(p.messageId, new Set([p.firedAt]));
    else starts.add(p.firedAt);
  }
  return Object.fromEntries(
    [...byId].filter(([, starts]) => starts.size > 1).map(([id, starts]) => [id, [...starts]]),
  );
}
