import { fromBinary } from "@bufbuild/protobuf";
import { type Schedule, ScheduleSchema } from "@chime/sdk";
import { type JetStreamClient, type JetStreamManager, jetstream } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { followBucket } from "../nats/bucket-follower.js";
import { BucketPuts, EXPECTED_LAST_SUBJECT_SEQUENCE, keySubject } from "../nats/bucket-puts.js";
import { DirectReads } from "../nats/direct-reads.js";
import { KV_OPERATION_HEADER } from "../nats/kv-operation.js";
import { encodeSchedule } from "../schedule-encoding.js";
import { isWrongLastSequence, PartitionCountError, RevisionConflictError } from "./store-errors.js";
import { parseStoreKey, partitionOf, StoreKey } from "./store-keys.js";
import { decodeWatermark, encodeWatermark, type Watermark } from "./watermark.js";

export interface ScheduleStoreOptions {
  /** The KV bucket's name. */
  readonly bucket: string;
  /** Partitions to create the bucket with; an existing bucket keeps the count it was made with. */
  readonly partitions: number;
  /** Stream replicas of the bucket (1 on a single server). */
  readonly replicas: number;
  /** How long one store request may take before it fails. */
  readonly timeoutMs: number;
}

/** One change of the bucket, as a watch delivers it, in revision order. */
export type StoreChange =
  | {
      readonly kind: "schedule";
      readonly id: string;
      readonly partition: number;
      readonly revision: number;
      /** The chime.v1.Schedule, protobuf binary (decoded by whoever needs it); null: deleted. */
      readonly encoded: Uint8Array | null;
    }
  | {
      readonly kind: "name";
      readonly namespace: string;
      readonly name: string;
      readonly revision: number;
      /** null: the name was released. */
      readonly id: string | null;
    }
  | {
      readonly kind: "watermark";
      readonly partition: number;
      readonly revision: number;
      readonly watermark: Watermark | null;
    }
  | { readonly kind: "other"; readonly revision: number };

/** A schedule as read from the bucket: the same shape as a catalog record. */
export interface StoredSchedule {
  readonly id: string;
  readonly partition: number;
  readonly revision: number;
  readonly complete: true;
  readonly outline: Schedule;
  bytes(): Uint8Array;
}

export interface NameClaim {
  readonly id: string;
  readonly revision: number;
}

/**
 * Schedules in a JetStream key-value bucket: protobuf-binary values, compare-and-set on
 * revisions, and a watch that replays the bucket and then follows it.
 */
export class ScheduleStore {
  private readonly puts: BucketPuts;
  private readonly reads: DirectReads;

  private constructor(
    private readonly kv: KV,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly bucket: string,
    private readonly stream: string,
    readonly partitions: number,
    private readonly nc: NatsConnection,
    timeoutMs: number,
  ) {
    this.puts = new BucketPuts(nc, bucket, timeoutMs);
    this.reads = new DirectReads(nc, stream, timeoutMs);
  }

  /** Creates the bucket if it is missing, then opens it. */
  static async open(nc: NatsConnection, options: ScheduleStoreOptions): Promise<ScheduleStore> {
    const js = jetstream(nc, { timeout: options.timeoutMs });
    const kv = await new Kvm(js).create(options.bucket, {
      history: 1,
      replicas: options.replicas,
      storage: "file",
      timeout: options.timeoutMs,
    });
    const { streamInfo } = await kv.status();
    if (streamInfo.config.allow_direct !== true) {
      // Only a bucket made by hand lacks it; every schedule read back by revision needs it.
      throw new Error(
        `the schedule bucket's stream ${streamInfo.config.name} does not allow direct gets (allow_direct)`,
      );
    }
    const partitions = await ScheduleStore.fixPartitionCount(kv, options.partitions);
    return new ScheduleStore(
      kv,
      js,
      // Without the account-info request that checks JetStream is there: the bucket just
      // opened says it is.
      await js.jetstreamManager(false),
      options.bucket,
      streamInfo.config.name,
      partitions,
      nc,
      options.timeoutMs,
    );
  }

  private static async fixPartitionCount(kv: KV, wanted: number): Promise<number> {
    const existing = await kv.get(StoreKey.partitions);
    if (existing && existing.operation === "PUT") {
      const stored = Number(existing.string());
      if (!Number.isInteger(stored) || stored < 1) {
        throw new PartitionCountError(
          `the store's partition count "${existing.string()}" is not valid`,
        );
      }
      return stored;
    }
    try {
      await kv.create(StoreKey.partitions, String(wanted));
      return wanted;
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
      // Another replica created the bucket at the same moment: its count is the one.
      return ScheduleStore.fixPartitionCount(kv, wanted);
    }
  }

  partitionOf(id: string): number {
    return partitionOf(id, this.partitions);
  }

  /**
   * Stores a new schedule under a fresh id (`newScheduleId`: 80 random bits per millisecond).
   * A plain put, expecting no revision: no other writer can hold that key, and a put that
   * expects one carries the expectation as a header that the bucket stores with the value,
   * which every watch then delivers and parses again (52 bytes a schedule, on disk too).
   */
  create(schedule: Schedule): Promise<number> {
    return this.puts.put(
      StoreKey.schedule(schedule.partition, schedule.scheduleId),
      encodeSchedule(schedule),
    );
  }

  /** Replaces a schedule if it is still at `revision`. */
  async update(schedule: Schedule, revision: number): Promise<number> {
    const key = StoreKey.schedule(schedule.partition, schedule.scheduleId);
    try {
      if (revision <= 0) throw new Error("version must be greater than 0");
      return await this.puts.put(key, encodeSchedule(schedule), revision);
    } catch (err) {
      if (isWrongLastSequence(err)) throw new RevisionConflictError(key, { cause: err });
      throw err;
    }
  }

  /** Deletes a schedule if it is still at `revision`; returns the deletion's revision. */
  async delete(partition: number, id: string, revision: number): Promise<number> {
    return this.deleteKey(StoreKey.schedule(partition, id), revision);
  }

  async get(partition: number, id: string): Promise<StoredSchedule | null> {
    const entry = await this.kv.get(StoreKey.schedule(partition, id));
    if (entry?.operation !== "PUT") return null;
    const { value } = entry;
    return {
      id,
      partition,
      revision: entry.revision,
      complete: true,
      get outline() {
        return fromBinary(ScheduleSchema, value);
      },
      bytes: () => value,
    };
  }

  /**
   * The schedule as stored at `revision`; null when that is no longer its newest value (the
   * bucket keeps one per key: a newer one, or a deletion, has replaced it).
   */
  async getAt(id: string, revision: number): Promise<Schedule | null> {
    // A revision is the stream sequence of one put of this key (deletes hold no value), so the
    // message there, while stored, is that value: neither its key nor its operation need reading.
    const value = await this.reads.bySequence(revision);
    if (value === null) return null;
    const schedule = fromBinary(ScheduleSchema, value);
    if (schedule.scheduleId === "") schedule.scheduleId = id;
    return schedule;
  }

  /** Takes a name of a namespace for an id; returns null when it is taken (see `readName`). */
  async claimName(namespace: string, name: string, id: string): Promise<number | null> {
    // kv.create() would follow a timed-out write with a read that waits out a second
    // timeout; this is one compare-and-set, plus one more over a released name's marker.
    const key = StoreKey.name(namespace, name);
    const value = encoder.encode(id);
    try {
      return await this.puts.put(key, value, 0);
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
    }
    const entry = await this.kv.get(key);
    if (entry === null || entry.operation === "PUT") return null;
    try {
      return await this.puts.put(key, value, entry.revision);
    } catch (err) {
      if (isWrongLastSequence(err)) return null;
      throw err;
    }
  }

  async readName(namespace: string, name: string): Promise<NameClaim | null> {
    const entry = await this.kv.get(StoreKey.name(namespace, name));
    if (entry?.operation !== "PUT") return null;
    return { id: entry.string(), revision: entry.revision };
  }

  async releaseName(namespace: string, name: string, revision: number): Promise<number> {
    return this.deleteKey(StoreKey.name(namespace, name), revision);
  }

  async putWatermark(partition: number, watermark: Watermark): Promise<number> {
    // Written by the partition's owner only, ten times a second: no revision to expect.
    return this.puts.put(StoreKey.watermark(partition), encodeWatermark(watermark));
  }

  /** The revision of the newest change in the bucket (0 when it is empty). */
  async lastRevision(): Promise<number> {
    const status = await this.kv.status();
    return status.streamInfo.state.last_seq;
  }

  /**
   * Hands every current key, then every change as it happens, to `apply`, in revision order,
   * one at a time; resolves once `signal` aborts, and rejects with what `apply` or the watch
   * throws, or as soon as a change may have been missed (a reconnect, say: see
   * `followStream`). From `fromRevision` (> 0): every change from that revision on, to resume
   * a failed watch. A callback rather than a generator of changes: at a million keys, the
   * second layer of async iteration was a tenth of the time to load the store.
   */
  async follow(
    signal: AbortSignal,
    fromRevision: number,
    apply: (change: StoreChange) => void,
  ): Promise<void> {
    const options = { bucket: this.bucket, stream: this.stream, fromRevision, signal };
    await followBucket(this.nc, this.jsm, options, (storeKey, msg, deleted, revision) => {
      const value = msg.data;
      const key = parseStoreKey(storeKey);
      switch (key.kind) {
        case "schedule":
          apply({
            kind: "schedule",
            id: key.id,
            partition: key.partition,
            revision,
            encoded: deleted ? null : value,
          });
          break;
        case "name":
          apply({
            kind: "name",
            namespace: key.namespace,
            name: key.name,
            revision,
            id: deleted ? null : msg.string(),
          });
          break;
        case "watermark":
          apply({
            kind: "watermark",
            partition: key.partition,
            revision,
            watermark: deleted ? null : decodeWatermark(value),
          });
          break;
        default:
          // Still counted: readers wait for revisions, and this one has arrived.
          apply({ kind: "other", revision });
          break;
      }
    });
  }

  // kv.delete() does not return the revision of the deletion, which callers need to know
  // when every replica has seen it; this publishes the same delete marker and keeps the ack.
  private async deleteKey(key: string, revision: number): Promise<number> {
    const h = headers();
    h.set(KV_OPERATION_HEADER, "DEL");
    h.set(EXPECTED_LAST_SUBJECT_SEQUENCE, String(revision));
    try {
      const ack = await this.js.publish(keySubject(this.bucket, key), undefined, {
        headers: h,
      });
      return ack.seq;
    } catch (err) {
      if (isWrongLastSequence(err)) throw new RevisionConflictError(key, { cause: err });
      throw err;
    }
  }
}

const encoder = new TextEncoder();
