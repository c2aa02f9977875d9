import { type JetStreamManager, jetstream } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { Empty, type Msg, type NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import { followBucket } from "../nats/bucket-follower.js";
import { BucketPuts, bucketStream } from "../nats/bucket-puts.js";
import { followResumed } from "../nats/resumed-follow.js";
import { storedAtOfReply } from "../nats/stream-follower.js";
import { isWrongLastSequence } from "../store/store-errors.js";
import { rendezvousOwner } from "./rendezvous.js";

export interface LeaseOptions {
  /** The KV bucket of leases and members; its entries expire after `ttlMs`. */
  readonly bucket: string;
  readonly replicaId: string;
  readonly partitions: number;
  /** How long a lease or a membership lasts unless renewed. */
  readonly ttlMs: number;
  /** How often leases and membership are renewed (and ownership reconsidered). */
  readonly renewIntervalMs: number;
  /**
   * A lease counts as ours only until `sent + ttl - margin`, where `sent` is when the write that
   * renewed it left: the margin covers clock-rate drift and a pause between the check and the
   * publish it guards.
   */
  readonly marginMs: number;
  readonly timeoutMs: number;
  /** Told of each failure of the watch of leases and members, before it is resumed. */
  readonly watchFailed?: (err: unknown) => void;
}

/** What the owner of partitions does as leases come and go (the engine). */
export interface PartitionOwner {
  /** The partition is ours until `validUntil`: load its schedules and fire them. */
  acquired(partition: number, validUntil: number): Promise<void>;
  renewed(partition: number, validUntil: number): void;
  /** Hand the partition over: stop firing it, let its fires in flight land, record progress. */
  release(partition: number): Promise<void>;
  /** The lease is gone (someone else holds it): stop firing it at once. */
  lost(partition: number): void;
}

interface HeldLease {
  revision: number;
  validUntil: number;
}

interface SeenLease {
  readonly holder: string;
  readonly revision: number;
  /** Local time it was last written, as far as this replica heard. */
  readonly seenAt: number;
}

const MEMBER = "m.";
const LEASE = "l.";

/**
 * Partition ownership for a group of replicas: each announces itself with a membership key,
 * partitions are spread by rendezvous hashing over the live members, and a partition's owner
 * holds a lease key renewed by compare-and-set. Entries expire with the bucket's TTL (NATS 2.9
 * has no per-key TTL), so a replica that dies loses its leases within one TTL.
 */
export class PartitionLeases {
  private readonly members = new Map<string, number>();
  private readonly seen = new Map<number, SeenLease>();
  private readonly held = new Map<number, HeldLease>();
  private readonly releasing = new Set<number>();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private watching: Promise<void> | undefined;
  /**
   * The membership heartbeat and the lease renewals, some 34 writes a second at the default
   * TTL, bypass the client's KV: its request per write (a timer, a promise race, an error
   * with a stack, a header map) was half of what an idle replica allocated.
   */
  private readonly puts: BucketPuts;
  private readonly holderValue: Uint8Array;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly kv: KV,
    private readonly options: LeaseOptions,
    private readonly owner: PartitionOwner,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {
    this.puts = new BucketPuts(nc, options.bucket, options.timeoutMs);
    this.holderValue = new TextEncoder().encode(options.replicaId);
  }

  static async open(
    nc: NatsConnection,
    options: LeaseOptions,
    owner: PartitionOwner,
    log: Logger,
    now: () => number = Date.now,
  ): Promise<PartitionLeases> {
    const js = jetstream(nc, { timeout: options.timeoutMs });
    const kv = await new Kvm(js).create(options.bucket, {
      history: 1,
      ttl: options.ttlMs,
      storage: "file",
      timeout: options.timeoutMs,
    });
    return new PartitionLeases(nc, await js.jetstreamManager(), kv, options, owner, log, now);
  }

  /** Joins the group and starts taking its share of partitions. */
  async start(): Promise<void> {
    this.members.set(this.options.replicaId, this.now());
    this.watching = this.follow();
    // Through poke, like every later tick: the watch pokes as soon as it sees the other
    // members, and two ticks at once could hand a partition back while it is being loaded.
    this.poke();
    await this.ticksDone();
    this.timer = setInterval(() => this.poke(), this.options.renewIntervalMs);
  }

  /**
   * Who holds the partition's lease now, read from the bucket: this replica's view of the
   * leases can lag a hand-over by a few milliseconds. Its own lease is answered from memory
   * only while it is surely valid: one that lapsed unrenewed (a stalled event loop) may be
   * another replica's already, before this one learns of it at its next renewal.
   */
  async currentHolderOf(partition: number): Promise<string | undefined> {
    const own = this.held.get(partition);
    if (own !== undefined && own.validUntil > this.now()) return this.options.replicaId;
    const entry = await this.kv.get(LEASE + partition);
    return entry === null || entry.operation !== "PUT" ? undefined : entry.string();
  }

  /** The replica holding a partition's lease, as far as this one knows. */
  holderOf(partition: number): string | undefined {
    if (this.held.has(partition)) return this.options.replicaId;
    const lease = this.seen.get(partition);
    if (lease === undefined || this.now() - lease.seenAt > this.options.ttlMs) return undefined;
    return lease.holder;
  }

  get ownedCount(): number {
    return this.held.size;
  }

  liveMembers(): string[] {
    const now = this.now();
    const live = [this.options.replicaId];
    for (const [member, seenAt] of this.members) {
      if (member !== this.options.replicaId && now - seenAt <= this.options.ttlMs)
        live.push(member);
    }
    return live.sort();
  }

  /** Hands every partition over and leaves the group, so others take over at once. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.ticksDone();
    await Promise.all([...this.held.keys()].map((p) => this.releasePartition(p)));
    await this.kv.delete(MEMBER + this.options.replicaId).catch(() => undefined);
    this.abort.abort();
    await this.watching;
  }

  /** Stops at once, as a crash would, without releasing anything. */
  close(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.abort.abort();
  }

  private async ticksDone(): Promise<void> {
    while (this.ticking !== undefined) await this.ticking;
  }

  private poke(): void {
    if (this.stopped) return;
    if (this.ticking !== undefined) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .catch((err: unknown) => this.log.error({ err }, "partition lease round failed"))
      .finally(() => {
        this.ticking = undefined;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  private async tick(): Promise<void> {
    const now = this.now();
    const heartbeat = this.puts.put(MEMBER + this.options.replicaId, Empty).then(
      () => undefined,
      (err: unknown) => {
        this.log.warn({ err }, "membership heartbeat failed");
      },
    );
    const members = this.liveMembers();
    const work: Promise<void>[] = [heartbeat];
    for (let p = 0; p < this.options.partitions; p++) {
      if (this.releasing.has(p)) continue;
      const mine = this.held.get(p);
      const desired = rendezvousOwner(p, members) === this.options.replicaId;
      if (mine !== undefined) {
        work.push(desired ? this.renew(p, mine, now) : this.releasePartition(p));
      } else if (desired && this.isFree(p, now)) {
        work.push(this.acquire(p, now));
      } else if (desired && this.seen.get(p)?.holder === this.options.replicaId) {
        // Held under our name by an earlier run of this replica (restarted with a fixed
        // --replica-id): that run is gone, so take the lease over instead of waiting it out.
        work.push(this.adopt(p, this.seen.get(p)?.revision ?? 0, now));
      }
    }
    await Promise.all(work);
  }

  private isFree(partition: number, now: number): boolean {
    const lease = this.seen.get(partition);
    return lease === undefined || now - lease.seenAt > this.options.ttlMs;
  }

  private validUntil(sentAt: number): number {
    return sentAt + this.options.ttlMs - this.options.marginMs;
  }

  private async acquire(partition: number, sentAt: number): Promise<void> {
    let revision: number;
    try {
      revision = await this.kv.create(LEASE + partition, this.options.replicaId);
    } catch (err) {
      // Held by a replica whose lease has not expired yet: try again next tick.
      if (!isWrongLastSequence(err)) this.log.warn({ err, partition }, "lease acquisition failed");
      return;
    }
    const lease: HeldLease = { revision, validUntil: this.validUntil(sentAt) };
    this.held.set(partition, lease);
    this.log.debug({ partition }, "partition acquired");
    try {
      await this.owner.acquired(partition, lease.validUntil);
    } catch (err) {
      this.log.error({ err, partition }, "could not load the acquired partition; handing it back");
      await this.releasePartition(partition);
    }
  }

  private async adopt(partition: number, revision: number, sentAt: number): Promise<void> {
    let next: number;
    try {
      next = await this.kv.update(LEASE + partition, this.options.replicaId, revision);
    } catch (err) {
      if (!isWrongLastSequence(err)) this.log.warn({ err, partition }, "lease adoption failed");
      return;
    }
    const lease: HeldLease = { revision: next, validUntil: this.validUntil(sentAt) };
    this.held.set(partition, lease);
    await this.owner.acquired(partition, lease.validUntil).catch(async (err: unknown) => {
      this.log.error({ err, partition }, "could not load the adopted partition; handing it back");
      await this.releasePartition(partition);
    });
  }

  private async renew(partition: number, lease: HeldLease, sentAt: number): Promise<void> {
    try {
      lease.revision = await this.puts.put(LEASE + partition, this.holderValue, lease.revision);
      lease.validUntil = this.validUntil(sentAt);
      this.owner.renewed(partition, lease.validUntil);
    } catch (err) {
      if (isWrongLastSequence(err)) {
        // It expired (we were stalled or cut off) and may be someone else's already.
        this.held.delete(partition);
        this.owner.lost(partition);
        this.log.warn({ partition }, "partition lease lost");
        return;
      }
      // NATS is slow or away: the lease lapses by itself unless a later renewal lands.
      this.log.warn({ err, partition }, "lease renewal failed");
    }
  }

  private async releasePartition(partition: number): Promise<void> {
    const lease = this.held.get(partition);
    if (lease === undefined || this.releasing.has(partition)) return;
    this.releasing.add(partition);
    try {
      await this.owner.release(partition);
      this.held.delete(partition);
      await this.kv
        .delete(LEASE + partition, { previousSeq: lease.revision })
        .catch(() => undefined);
      this.log.debug({ partition }, "partition released");
    } finally {
      this.releasing.delete(partition);
    }
  }

  /**
   * Follows every write to the bucket, resuming after the last one taken when the follow is
   * interrupted (a reconnect, say). Read straight off the consumer's subscription, as the
   * catalog reads its bucket: through the client's KV watch, each message of the 34 a second
   * made a watch entry, a split reply subject and a decoded header map.
   */
  private async follow(): Promise<void> {
    const { bucket } = this.options;
    const stream = bucketStream(bucket);
    const { signal } = this.abort;
    let from = 0;
    await followResumed(
      signal,
      async (progressed) => {
        // What was written before the follow began (or resumed) is only as fresh as the
        // server says it is; what comes after is news now.
        const written = (await this.jsm.streams.info(stream)).state.last_seq;
        // A bucket made anew (nats-server lost its store) numbers its writes from 1 again: a
        // resume point past its end would wait, blind, for writes it has already had.
        if (from > written + 1) from = 0;
        const options = { bucket, stream, fromRevision: from, signal };
        await followBucket(this.nc, this.jsm, options, (key, msg, deleted, revision) => {
          from = revision + 1;
          progressed();
          const now = this.now();
          const seenAt = revision > written ? now : Math.min(now, storedAtOfReply(msg.reply ?? ""));
          this.noteWrite(key, deleted ? null : msg, revision, seenAt);
        });
      },
      (err, failures) => {
        this.log.warn({ err, failures }, "the lease watch failed; resuming");
        this.options.watchFailed?.(err);
      },
    );
  }

  /** A membership or lease written (`msg`) or deleted (null), as the follow hands it over. */
  private noteWrite(key: string, msg: Msg | null, revision: number, seenAt: number): void {
    if (key.startsWith(MEMBER)) {
      const member = key.slice(MEMBER.length);
      const known = this.members.has(member);
      if (msg === null) this.members.delete(member);
      else this.members.set(member, seenAt);
      // A member that joins or leaves moves partitions: reconsider now, not at the next tick.
      if (msg === null || !known) this.poke();
    } else if (key.startsWith(LEASE)) {
      const partition = Number(key.slice(LEASE.length));
      if (msg === null) {
        this.seen.delete(partition);
        this.poke();
      } else {
        this.seen.set(partition, { holder: msg.string(), revision, seenAt });
      }
    }
  }
}
