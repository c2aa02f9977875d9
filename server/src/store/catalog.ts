import { fromBinary } from "@bufbuild/protobuf";
import { type Schedule, ScheduleSchema } from "@chime/sdk";
import type { Logger } from "pino";
import { NamespaceCounts } from "./namespace-counts.js";
import { outlineOf, plainOneShotAt } from "./schedule-outline.js";
import type { ScheduleStore, StoreChange } from "./schedule-store.js";
import { SortedIds } from "./sorted-ids.js";
import type { Watermark } from "./watermark.js";

export interface NameEntry {
  readonly id: string;
  readonly revision: number;
}

export interface CatalogRecord {
  readonly id: string;
  readonly partition: number;
  readonly revision: number;
  /**
   * False when the catalog has shed what only a fire carries (see `Catalog`): `outline` and
   * `bytes()` then lack the payload and headers, and `Catalog.schedule()` reads them back.
   */
  readonly complete: boolean;
  /**
   * The stored definition, decoded afresh on every read (the caller may keep or change it);
   * without payload and headers unless the record is complete.
   */
  readonly outline: Schedule;
  /**
   * The stored definition as protobuf bytes, for a decoder that needs only part of it; its
   * schedule_id may be left out (the record's `id` is that), and unless the record is
   * complete, its payload and headers are.
   */
  bytes(): Uint8Array;
}

/**
 * A stored schedule as the catalog holds it: its protobuf bytes in a one-byte string (no
 * buffer object per record, and no decoded message with its nested objects), decoded only
 * when read. A million schedules cost their encoded size plus a few words each. The id, which
 * the record keeps anyway, is left out of the bytes when it leads them (as an encoder writes
 * field 1) and put back on decoding.
 */
class EncodedRecord implements CatalogRecord {
  private readonly encoded: string;

  constructor(
    readonly id: string,
    readonly partition: number,
    readonly revision: number,
    bytes: Uint8Array,
  ) {
    const start = leadingIdLength(bytes, id);
    this.encoded = Buffer.from(
      bytes.buffer,
      bytes.byteOffset + start,
      bytes.byteLength - start,
    ).toString("latin1");
  }

  get complete(): boolean {
    return true;
  }

  get outline(): Schedule {
    const schedule = fromBinary(ScheduleSchema, this.bytes());
    if (schedule.scheduleId === "") schedule.scheduleId = this.id;
    return schedule;
  }

  /** The stored definition, perhaps without its schedule_id (see the class). */
  bytes(): Uint8Array {
    return Buffer.from(this.encoded, "latin1");
  }
}

/**
 * A record whose payload and headers are left in the store: a plain one-shot due far ahead
 * needs neither until it is about to fire, and the payload is most of a typical schedule.
 * The kind is the class, so a complete record carries no flag for it.
 */
class ShedRecord extends EncodedRecord {
  override get complete(): boolean {
    return false;
  }
}

// schedule_id: field 1, length-delimited.
const SCHEDULE_ID_TAG = 0x0a;

/** How many leading bytes encode `id` as the schedule_id field; 0 when they do not. */
function leadingIdLength(bytes: Uint8Array, id: string): number {
  const length = id.length;
  if (length > 127 || bytes[0] !== SCHEDULE_ID_TAG || bytes[1] !== length) return 0;
  for (let i = 0; i < length; i++) if (bytes[2 + i] !== id.charCodeAt(i)) return 0;
  return 2 + length;
}

/** Told of every change the catalog applies, in revision order, synchronously. */
export interface CatalogObserver {
  scheduleChanged(id: string, record: CatalogRecord | null, previous: CatalogRecord | null): void;
  watermarkChanged?(partition: number, watermark: Watermark): void;
}

/**
 * The replica's view of the store: every schedule, name and watermark, kept current by one
 * watch. Reads (get by id or name, listing in id order) are served from memory; writers
 * wait for their own revision to arrive here so that a reply reflects what they wrote.
 *
 * A one-shot due further ahead than `shedBeyondMs` is held without its payload and headers
 * (most of a typical schedule, and needed only to fire it): `schedule()` reads those back
 * from the store, as the engine does when the one-shot comes within its horizon.
 */
export class Catalog {
  private readonly records = new Map<string, EncodedRecord>();
  private readonly names = new Map<string, NameEntry>();
  private readonly watermarks = new Map<number, Watermark>();
  private readonly sortedIds = new SortedIds();
  /** Schedules per namespace, for its limit; read from a record only as it comes or goes. */
  private readonly namespaceCounts = new NamespaceCounts();
  private applied = 0;
  private readonly waiters: { revision: number; resolve: () => void }[] = [];
  private readonly observers: CatalogObserver[] = [];
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly store: ScheduleStore,
    private readonly log: Logger,
    private readonly shedBeyondMs = Number.POSITIVE_INFINITY,
  ) {}

  observe(observer: CatalogObserver): void {
    this.observers.push(observer);
  }

  /** Starts following the store; resolves once everything stored before the call is here. */
  async start(): Promise<void> {
    const target = await this.store.lastRevision();
    this.loop = this.follow();
    await this.waitForRevision(target);
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  get appliedRevision(): number {
    return this.applied;
  }

  /** Resolves once the change at `revision` (and every earlier one) has been applied. */
  waitForRevision(revision: number): Promise<void> {
    if (revision <= this.applied) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ revision, resolve });
    });
  }

  /** Resolves once every change stored before the call has been applied. */
  async caughtUp(): Promise<void> {
    await this.waitForRevision(await this.store.lastRevision());
  }

  /** How many schedules `namespace` holds, as far as this replica has applied. */
  countIn(namespace: string): number {
    return this.namespaceCounts.of(namespace);
  }

  get size(): number {
    return this.records.size;
  }

  get(id: string): CatalogRecord | undefined {
    return this.records.get(id);
  }

  /**
   * The complete stored definition of `record`, decoded afresh: from memory, or, for a shed
   * record, read from the store. Undefined when the store holds that revision no longer (the
   * schedule changed or went since): its newer record is the one to read.
   */
  async schedule(record: CatalogRecord): Promise<Schedule | undefined> {
    if (record.complete) return record.outline;
    return (await this.store.getAt(record.partition, record.id, record.revision)) ?? undefined;
  }

  /** The schedule a name of a namespace belongs to. */
  name(namespace: string, name: string): NameEntry | undefined {
    return this.names.get(nameKey(namespace, name));
  }

  watermark(partition: number): Watermark | undefined {
    return this.watermarks.get(partition);
  }

  all(): IterableIterator<CatalogRecord> {
    return this.records.values();
  }

  /** Ids in ascending order starting after `afterId` (from the start when it is empty). */
  idsAfter(afterId: string): Generator<string> {
    return this.sortedIds.after(afterId);
  }

  private async follow(): Promise<void> {
    for (let failures = 0; ; failures++) {
      try {
        // After a failure, on from the change after the last one applied: nothing is missed
        // and nothing applied twice (a large store's first replay can outlast a request
        // timeout of the client's push consumer on a busy machine).
        const from = this.applied > 0 ? this.applied + 1 : 0;
        for await (const change of this.store.watch(this.abort.signal, from)) {
          this.apply(change);
          failures = 0;
        }
        return;
      } catch (err) {
        if (this.abort.signal.aborted) return;
        this.log.warn(
          { err, revision: this.applied, failures: failures + 1 },
          "the store watch failed; resuming after the last change applied",
        );
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** failures, 2_000)));
      }
    }
  }

  private apply(change: StoreChange): void {
    switch (change.kind) {
      case "schedule":
        this.applySchedule(change.id, change.partition, change.encoded, change.revision);
        break;
      case "name": {
        const key = nameKey(change.namespace, change.name);
        if (change.id === null) this.names.delete(key);
        else this.names.set(key, { id: change.id, revision: change.revision });
        break;
      }
      case "watermark":
        if (change.watermark) {
          this.watermarks.set(change.partition, change.watermark);
          for (const o of this.observers) o.watermarkChanged?.(change.partition, change.watermark);
        }
        break;
      default:
        break;
    }
    this.applied = change.revision;
    this.releaseWaiters();
  }

  private applySchedule(
    key: string,
    partition: number,
    encoded: Uint8Array | null,
    revision: number,
  ): void {
    const previous = this.records.get(key) ?? null;
    // One copy of the id for the map, the record and the sorted list (the key parsed from the
    // store key is a slice of a longer string, which would keep that alive).
    const id = previous?.id ?? flatten(key);
    let next: CatalogRecord | null = null;
    if (encoded === null) {
      if (previous === null) return;
      this.records.delete(id);
      this.sortedIds.remove(id);
      this.namespaceCounts.removed(previous.bytes());
    } else {
      const record = this.sheds(encoded)
        ? new ShedRecord(id, partition, revision, outlineOf(encoded))
        : new EncodedRecord(id, partition, revision, encoded);
      next = record;
      this.records.set(id, record);
      if (previous === null) {
        this.sortedIds.add(id);
        this.namespaceCounts.added(encoded);
      }
    }
    for (const o of this.observers) o.scheduleChanged(id, next, previous);
  }

  private sheds(encoded: Uint8Array): boolean {
    if (this.shedBeyondMs === Number.POSITIVE_INFINITY) return false;
    const at = plainOneShotAt(encoded);
    return at !== undefined && at - Date.now() > this.shedBeyondMs;
  }

  private releaseWaiters(): void {
    if (this.waiters.length === 0) return;
    let kept = 0;
    for (const waiter of this.waiters) {
      if (waiter.revision <= this.applied) waiter.resolve();
      else this.waiters[kept++] = waiter;
    }
    this.waiters.length = kept;
  }
}

// Namespaces cannot hold a NUL, so the pair maps to one key without ambiguity.
function nameKey(namespace: string, name: string): string {
  return `${namespace}\u0000${name}`;
}

/** A string of its own (not a slice of another): V8 keeps a sliced string's parent alive. */
function flatten(text: string): string {
  return Buffer.from(text, "latin1").toString("latin1");
}
