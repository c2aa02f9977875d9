import { fromBinary } from "@bufbuild/protobuf";
import { type Schedule, ScheduleSchema } from "@chime/sdk";
import type { Logger } from "pino";
import { followResumed } from "../nats/resumed-follow.js";
import { NamespaceCounts } from "./namespace-counts.js";
import { farAheadOutline } from "./schedule-outline.js";
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
   * False when the catalog holds only the schedule's outline (see `Catalog`): everything but
   * what only a fire or a full view reads (payload, headers, content type, and when it was
   * created, updated and paused). `Catalog.schedule()` reads the rest back.
   */
  readonly complete: boolean;
  /**
   * The stored definition, decoded afresh on every read (the caller may keep or change it);
   * only its outline unless the record is complete.
   */
  readonly outline: Schedule;
  /**
   * The stored definition as protobuf bytes, for a decoder that needs only part of it; its
   * schedule_id may be left out (the record's `id` is that), and unless the record is
   * complete, all but its outline is.
   */
  bytes(): Uint8Array;
}

/**
 * A stored schedule as the catalog holds it: one one-byte string (no object, buffer or
 * decoded message per record) of a few header bytes and the protobuf bytes, decoded only
 * when read. A million schedules cost their encoded size plus a few words each. The id, which
 * the catalog keys the string by anyway, is left out of the bytes when it leads them (as an
 * encoder writes field 1) and put back on decoding.
 *
 * Header: partition (2 bytes), revision (6), whether complete (1), big-endian.
 */
type HeldRecord = string;

const HEADER_BYTES = 9;

function hold(
  id: string,
  partition: number,
  revision: number,
  complete: boolean,
  encoded: Uint8Array,
): HeldRecord {
  const start = leadingIdLength(encoded, id);
  const held = Buffer.allocUnsafe(HEADER_BYTES + encoded.length - start);
  held.writeUInt16BE(partition, 0);
  held.writeUIntBE(revision, 2, 6);
  held[8] = complete ? 1 : 0;
  held.set(encoded.subarray(start), HEADER_BYTES);
  return held.toString("latin1");
}

/** A held record as readers see it: made on each read, and as short-lived. */
class HeldRecordView implements CatalogRecord {
  constructor(
    readonly id: string,
    private readonly held: HeldRecord,
  ) {}

  get partition(): number {
    return (this.held.charCodeAt(0) << 8) | this.held.charCodeAt(1);
  }

  get revision(): number {
    let revision = 0;
    for (let i = 2; i < 8; i++) revision = revision * 256 + this.held.charCodeAt(i);
    return revision;
  }

  get complete(): boolean {
    return this.held.charCodeAt(8) === 1;
  }

  get outline(): Schedule {
    const schedule = fromBinary(ScheduleSchema, this.bytes());
    if (schedule.scheduleId === "") schedule.scheduleId = this.id;
    return schedule;
  }

  /** The stored definition, perhaps without its schedule_id (see `HeldRecord`). */
  bytes(): Uint8Array {
    return Buffer.from(this.held, "latin1").subarray(HEADER_BYTES);
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
 * A one-shot due further ahead than `shedBeyondMs` is held as its outline, without payload
 * and headers (most of a typical schedule, needed only to fire it) and what only a full view
 * shows: `schedule()` reads the rest back from the store, as the engine does when the
 * one-shot comes within its horizon.
 */
export class Catalog {
  private readonly records = new Map<string, HeldRecord>();
  private readonly names = new Map<string, NameEntry>();
  private readonly watermarks = new Map<number, Watermark>();
  private readonly sortedIds = new SortedIds();
  /** Schedules per namespace, for its limit; read from a record only as it comes or goes. */
  private readonly namespaceCounts = new NamespaceCounts();
  private applied = 0;
  private outlines = 0;
  private unreadable = 0;
  private readonly waiters: { revision: number; resolve: () => void }[] = [];
  private readonly observers: CatalogObserver[] = [];
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly store: ScheduleStore,
    private readonly log: Logger,
    private readonly shedBeyondMs = Number.POSITIVE_INFINITY,
    /** Told of each failure of the store watch, before it is resumed. */
    private readonly watchFailed: (err: unknown) => void = () => {},
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

  /** How many stored schedules could not be read, and were left out, since the start. */
  get unreadableCount(): number {
    return this.unreadable;
  }

  /** How many records are held as outlines only (far-ahead plain one-shots). */
  get outlineCount(): number {
    return this.outlines;
  }

  get(id: string): CatalogRecord | undefined {
    const held = this.records.get(id);
    return held === undefined ? undefined : new HeldRecordView(id, held);
  }

  /**
   * The complete stored definition of `record`, decoded afresh: from memory, or, for a shed
   * record, read from the store. Undefined when the store holds that revision no longer (the
   * schedule changed or went since): its newer record is the one to read.
   */
  async schedule(record: CatalogRecord): Promise<Schedule | undefined> {
    if (record.complete) return record.outline;
    return (await this.store.getAt(record.id, record.revision)) ?? undefined;
  }

  /** The schedule a name of a namespace belongs to. */
  name(namespace: string, name: string): NameEntry | undefined {
    return this.names.get(nameKey(namespace, name));
  }

  watermark(partition: number): Watermark | undefined {
    return this.watermarks.get(partition);
  }

  all(): IterableIterator<CatalogRecord> {
    return this.views();
  }

  /** Every id, in no particular order: no record view made for each. */
  ids(): IterableIterator<string> {
    return this.records.keys();
  }

  private *views(): Generator<CatalogRecord, undefined, undefined> {
    for (const [id, held] of this.records) yield new HeldRecordView(id, held);
  }

  /** Ids in ascending order starting after `afterId` (from the start when it is empty). */
  idsAfter(afterId: string): Generator<string> {
    return this.sortedIds.after(afterId);
  }

  private follow(): Promise<void> {
    return followResumed(
      this.abort.signal,
      // After a failure, on from the change after the last one applied: nothing is missed and
      // nothing applied twice (a large store's first replay can outlast a request timeout of
      // the client's push consumer on a busy machine).
      (progressed) =>
        this.store.follow(this.abort.signal, this.applied > 0 ? this.applied + 1 : 0, (change) => {
          this.apply(change);
          progressed();
        }),
      (err, failures) => {
        this.log.warn(
          { err, revision: this.applied, failures },
          "the store watch failed; resuming after the last change applied",
        );
        this.watchFailed(err);
      },
    );
  }

  private apply(change: StoreChange): void {
    switch (change.kind) {
      case "schedule":
        try {
          this.applySchedule(change.id, change.partition, change.encoded, change.revision);
        } catch (err) {
          // Bytes no version of Chime wrote (put by hand, say): left out as if deleted, and
          // the watch goes on. Retried, the same value would stop every change after it.
          this.unreadable++;
          this.log.error(
            { err, scheduleId: change.id, partition: change.partition, revision: change.revision },
            "a stored schedule cannot be read; it is left out until it is written anew",
          );
          this.applySchedule(change.id, change.partition, null, change.revision);
        }
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
    // A copy of its own for the map, the sorted list and the observers (the key parsed from the
    // store key is a slice of a longer string, which would keep that alive). On a change of a
    // held schedule the map keeps the copy it was keyed by first.
    const id = flatten(key);
    const held = this.records.get(id);
    const previous = held === undefined ? null : new HeldRecordView(id, held);
    // Read before anything changes: bytes that cannot be read throw here, and leave all as it was.
    const outline =
      encoded === null || this.shedBeyondMs === Number.POSITIVE_INFINITY
        ? undefined
        : farAheadOutline(encoded, Date.now() + this.shedBeyondMs);
    if (previous?.complete === false) this.outlines--;
    let next: CatalogRecord | null = null;
    if (encoded === null) {
      if (previous === null) return;
      this.records.delete(id);
      this.sortedIds.remove(id);
      this.namespaceCounts.removed(previous.bytes());
    } else {
      const complete = outline === undefined;
      const record = hold(id, partition, revision, complete, outline ?? encoded);
      next = new HeldRecordView(id, record);
      this.records.set(id, record);
      if (!complete) this.outlines++;
      if (previous === null) {
        this.sortedIds.add(id);
        this.namespaceCounts.added(encoded);
      }
    }
    for (const o of this.observers) o.scheduleChanged(id, next, previous);
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
