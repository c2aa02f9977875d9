import { create } from "@bufbuild/protobuf";
import { type FireRecord, FireRecordSchema, type Schedule, type ScheduleState } from "@chime/sdk";
import type { PubAck } from "@nats-io/jetstream";
import type { Logger } from "pino";
import type { PartitionOwner } from "../cluster/partition-leases.js";
import { msOf, rfc3339, timestampOf } from "../proto-time.js";
import { type Instant, planCatchup } from "../spec/index.js";
import type { Catalog, CatalogObserver, CatalogRecord } from "../store/catalog.js";
import type { ScheduleStore } from "../store/schedule-store.js";
import { RevisionConflictError } from "../store/store-errors.js";
import { ColdSchedules } from "./cold-schedules.js";
import {
  type FireTemplate,
  FireTrigger,
  fireHeaders,
  fireMessageId,
  fireTemplateOf,
} from "./fire-message.js";
import type { FirePublisher, Publication } from "./fire-publisher.js";
import { PartitionedEntries } from "./partitioned-entries.js";
import { plainOneShotDue } from "./plain-one-shot.js";
import {
  deriveProgress,
  type Progress,
  ProgressState,
  reachedMaxFires,
  type Standing,
} from "./progress.js";
import { dueOf, nextNominal, planOf, type SchedulePlan } from "./schedule-plan.js";
import { decodeScheduleTiming } from "./schedule-timing.js";
import { ShedTemplates } from "./shed-templates.js";
import { type Timed, TimerQueue } from "./timer-queue.js";

export interface EngineOptions {
  /** A recurring fire later than this is a misfire and follows the schedule's misfire policy. */
  readonly misfireThresholdMs: number;
  /** How often progress (watermarks, checkpoints) is written, in one batch. */
  readonly checkpointIntervalMs: number;
  /** The most fires one FIRE_ALL catch-up makes up. */
  readonly maxCatchupFires: number;
  /**
   * A plain one-shot due later than this waits among the cold schedules, not as an entry, its
   * payload and headers shed from the catalog until it comes within.
   */
  readonly coldHorizonMs: number;
}

/** What the engine tells of one fire once JetStream has stored it. */
export interface FireReport {
  readonly scheduleId: string;
  readonly trigger: FireTrigger;
  readonly nominal: Instant;
  readonly firedAt: Instant;
  readonly ackedAt: Instant;
  readonly ack: PubAck;
}

export interface EngineHooks {
  fired?(report: FireReport): void;
}

export interface ManualFire {
  readonly firedAt: Instant;
  readonly messageId: string;
  readonly streamSequence: number;
}

/** A manual fire recorded before it was published, with what it was published as. */
interface PendingManual {
  readonly at: Instant;
  readonly seq: number;
}

/**
 * A schedule as the engine holds it: its timetable and progress, not its definition (the
 * catalog keeps that encoded; what a fire publishes is read from there when it fires).
 */
interface Entry extends Timed {
  readonly id: string;
  readonly partition: number;
  revision: number;
  /** The stored state and defined_at: what tells a checkpoint from a new definition. */
  storedState: ScheduleState;
  definedAt: Instant | undefined;
  /**
   * The compiled timetable; undefined for a plain one-shot (no run_immediately), whose one
   * occurrence is `nextNominal`: a compiled timetable is several closures, and most of a
   * million one-shots' memory otherwise.
   */
  readonly plan: SchedulePlan | undefined;
  readonly oneShot: boolean;
  /** What every fire shares; kept after the first fire of a recurring schedule only. */
  template: FireTemplate | undefined;
  state: ProgressState;
  fireCount: number;
  manualFires: number;
  /** The nominal instant of the latest manual fire this process published. */
  lastManualAt: Instant | undefined;
  /** Manual fires recorded and not yet known to be stored (see `trigger`); often undefined. */
  pendingManuals: PendingManual[] | undefined;
  lastFireAt: Instant | undefined;
  progressAt: Instant;
  nextNominal: Instant | undefined;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Partitions an admission walks the catalog for: from the position (in the catalog's order)
 * at which one joined a walk to the end, then in the next walk from the start to there.
 */
type Joined = Map<
  number,
  { readonly walk: number; readonly at: number; readonly waiting: Waiter[] }
>;

/** A publish awaiting its ack: the watermark may not pass its due instant until it lands. */
interface InFlight extends Timed {
  readonly partition: number;
}

export class UnknownScheduleError extends Error {
  override readonly name = "UnknownScheduleError";
}

// setTimeout takes at most a 32-bit delay; a far timer is simply re-armed when it wakes.
const MAX_TIMER_MS = 60_000;
// How long admitting a partition's schedules runs before it lets other work in: fires due
// meanwhile (admission goes on for seconds at a million schedules) wait at most that long.
const ADMIT_SLICE_MS = 5;
// The clock is read every so many schedules: once per schedule showed in profiles of admission.
const SLICE_CHECK_EVERY = 64;

/** Whether an admission slice has run its time (looked at every SLICE_CHECK_EVERY schedules). */
function sliceOver(count: number, sliceStarted: number): boolean {
  return count % SLICE_CHECK_EVERY === 0 && performance.now() - sliceStarted >= ADMIT_SLICE_MS;
}

// The longest an admission waits for partitions acquired at the same time to join it.
const ACQUISITION_GATHER_MS = 100;
// A schedule admitted this close to its next fire keeps what it publishes ready.
const HOT_HORIZON_MS = 60_000;
// How often cold schedules coming within the horizon become entries: far within it.
const COLD_PROMOTION_INTERVAL_MS = 10_000;

/**
 * The firing engine: one timer armed for the earliest due schedule of a heap, publishes
 * pipelined through the FirePublisher, and progress recorded in batches (a watermark per
 * partition, and a checkpoint only for schedules whose progress left their timetable).
 */
export class Engine implements CatalogObserver, PartitionOwner {
  private readonly entries = new PartitionedEntries<Entry>();
  /** Admitted plain one-shots of owned partitions due beyond COLD_HORIZON_MS, not entries. */
  private readonly cold = new ColdSchedules();
  private promotionTimer: NodeJS.Timeout | undefined;
  /** Partitions this replica holds the lease of, and until when the lease is surely ours. */
  private readonly owned = new Map<number, number>();
  private readonly inFlightByPartition = new Map<number, number>();
  private readonly partitionIdle = new Map<number, (() => void)[]>();
  /**
   * Due entries of partitions whose lease this replica could no longer vouch for (it was paused
   * or cut off): parked, progress intact, until a renewal proves the lease still ours.
   */
  private readonly suspended = new Map<number, Set<Entry>>();
  /** Acquired partitions waiting for their schedules to be admitted, and who waits for that. */
  private readonly toAdmit = new Map<number, Waiter[]>();
  /** The admission under way of each partition acquired a moment ago. */
  private readonly admissions = new Map<number, Promise<void>>();
  /**
   * Acquisitions per partition whose admission has not finished (or failed): the partition is
   * loading, and no watermark is written for it meanwhile.
   */
  private readonly admissionsPending = new Map<number, number>();
  private admitting: Promise<void> | undefined;
  /** Acquisitions still catching up with the store, about to join an admission. */
  private acquiring = 0;
  /** Lets an admission waiting for those acquisitions start (see `gatherAcquisitions`). */
  private acquisitionsCaughtUp: (() => void) | undefined;
  private readonly queue = new TimerQueue<Entry>();
  private readonly inFlight = new TimerQueue<InFlight>();
  private readonly dirtyPartitions = new Set<number>();
  private readonly checkpoints = new Set<string>();
  /** Recurring schedules that fired and whose next occurrence is yet to be queued. */
  private readonly advancing = new Set<Entry>();
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Number.POSITIVE_INFINITY;
  private pumpScheduled = false;
  private running = false;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly shedTemplates: ShedTemplates;

  constructor(
    private readonly catalog: Catalog,
    private readonly store: ScheduleStore,
    private readonly publisher: FirePublisher,
    private readonly options: EngineOptions,
    private readonly log: Logger,
    private readonly hooks: EngineHooks = {},
    private readonly now: () => number = Date.now,
  ) {
    this.shedTemplates = new ShedTemplates(catalog, log, () => this.running);
  }

  /** Follows the catalog and starts firing the partitions it is handed. */
  start(): void {
    this.catalog.observe(this);
    this.running = true;
    this.checkpointTimer = setInterval(() => void this.flush(), this.options.checkpointIntervalMs);
    this.checkpointTimer.unref();
    this.promotionTimer = setInterval(
      () => this.promoteCold(),
      Math.min(COLD_PROMOTION_INTERVAL_MS, this.options.coldHorizonMs / 4),
    );
    this.promotionTimer.unref();
    this.pump();
  }

  get scheduleCount(): number {
    return this.entries.size + this.cold.size;
  }

  /** Schedules held cold: an id, a partition and a due instant each. */
  get coldCount(): number {
    return this.cold.size;
  }

  get dueCount(): number {
    return this.queue.size + this.cold.size;
  }

  /** Where a schedule stands now, or undefined when the engine does not hold it. */
  progressOf(id: string): Progress | undefined {
    const entry = this.entries.get(id);
    if (entry === undefined) {
      if (!this.cold.has(id)) return undefined;
      // Held cold, it is as its record says (a change of the record takes it out of there).
      const record = this.catalog.get(id);
      if (record === undefined) return undefined;
      const schedule = this.timingOf(record);
      return schedule === undefined ? undefined : this.derive(record, schedule)?.progress;
    }
    return {
      state: entry.state,
      fireCount: entry.fireCount,
      manualFires: entry.manualFires,
      lastFireAt: entry.lastFireAt,
      progressAt: entry.progressAt,
      nextNominal: entry.nextNominal,
      nextDue: entry.state === ProgressState.active ? entry.due : undefined,
    };
  }

  /**
   * Where a schedule stands, as a reply tells it; undefined: not held. One held cold has not
   * fired and comes due at its instant: that is answered without decoding and planning its
   * record, which `progressOf` does for the rest of its progress.
   */
  standingOf(id: string): Standing | undefined {
    const cold = this.entries.has(id) ? undefined : this.cold.get(id);
    if (cold === undefined) return this.progressOf(id);
    return {
      state: ProgressState.active,
      fireCount: 0,
      manualFires: 0,
      lastFireAt: undefined,
      nextDue: cold.due,
    };
  }

  /** Where a schedule stands, without deriving the rest of its progress; undefined: not held. */
  stateOf(id: string): ProgressState | undefined {
    const entry = this.entries.get(id);
    if (entry !== undefined) return entry.state;
    // Held cold only while active and not yet fired.
    return this.cold.has(id) ? ProgressState.active : undefined;
  }

  /** The next `count` due instants of an active schedule. */
  upcoming(id: string, count: number): Instant[] {
    const cold = this.cold.get(id);
    if (cold !== undefined) return count < 1 ? [] : [cold.due];
    const entry = this.entries.get(id);
    if (entry === undefined || entry.state !== ProgressState.active) return [];
    const { plan } = entry;
    if (plan === undefined) {
      return entry.nextNominal === undefined || count < 1 ? [] : [entry.due];
    }
    const dues: Instant[] = [];
    let fires = entry.fireCount;
    const manual = entry.manualFires;
    let nominal = entry.nextNominal;
    while (nominal !== undefined && dues.length < count) {
      if (reachedMaxFires(plan, fires, manual)) break;
      dues.push(dueOf(plan, nominal));
      fires++;
      nominal = nextNominal(plan, nominal) ?? undefined;
    }
    return dues;
  }

  /** Publishes one fire of the schedule now, outside its timetable. */
  async trigger(id: string): Promise<ManualFire> {
    this.warm(id);
    const entry = this.entries.get(id);
    if (entry === undefined) throw new UnknownScheduleError(id);
    const template = await this.templateOf(entry);
    const firedAt = manualNominal(entry, this.now());
    if (template === undefined || !this.holds(entry.partition, firedAt))
      throw new UnknownScheduleError(id);
    entry.lastManualAt = firedAt;
    entry.manualFires++;
    const fire: PendingManual = { at: firedAt, seq: this.count(entry, firedAt) };
    entry.pendingManuals ??= [];
    entry.pendingManuals.push(fire);
    // Recorded before it is published: a Chime killed after the publish and before a record
    // gave its Chime-Fire-Seq to the next fire once restarted. Whoever fires the partition next
    // publishes a recorded fire again (`republishManuals`); JetStream drops it if it landed.
    // A record that failed (the store away) is retried at the next flush, and the fire is
    // published meanwhile: the client asked for it, and its count is taken.
    await this.recordNow(id);
    // Deleted meanwhile: once Unschedule has returned, no fire of the schedule may start.
    if (!this.entries.has(id)) throw new UnknownScheduleError(id);
    const ack = await this.publishCounted(
      entry,
      firedAt,
      firedAt,
      FireTrigger.manual,
      firedAt,
      fire.seq,
      template,
    );
    settleManual(entry, fire);
    // Cleared before the reply: left pending, it would be published again after a restart
    // that came later than the task stream's duplicate window.
    await this.recordNow(id);
    return {
      firedAt,
      messageId: fireMessageId(id, firedAt),
      streamSequence: ack.seq,
    };
  }

  /** Stops starting fires, lets those in flight land, and records progress. */
  async drain(): Promise<void> {
    this.stopTimers();
    await this.publisher.whenIdle();
    await this.flush();
    await this.flushing;
  }

  /** Stops at once; fires in flight are not waited for. */
  close(): void {
    this.stopTimers();
    this.publisher.stop();
  }

  get ownedPartitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  /** Owned partitions whose schedules are still being admitted after an acquisition. */
  get loadingPartitions(): number[] {
    return [...this.admissionsPending.keys()]
      .filter((p) => this.owned.has(p))
      .sort((a, b) => a - b);
  }

  /** Owned partitions whose fires wait for a renewal to prove the lease still ours. */
  get suspendedPartitions(): number[] {
    return [...this.suspended.keys()].sort((a, b) => a - b);
  }

  async acquired(partition: number, validUntil: number): Promise<void> {
    this.acquiring++;
    try {
      // Start from the newest state of the store (the last owner's final watermark included).
      await this.catalog.waitForRevision(await this.store.lastRevision());
    } finally {
      this.acquiring--;
      if (this.acquiring === 0) this.acquisitionsCaughtUp?.();
    }
    this.owned.set(partition, validUntil);
    // Until every schedule of the partition is admitted, a watermark computed from the queue
    // would pass over the fires of those not yet in it: none is written meanwhile.
    this.admissionsPending.set(partition, (this.admissionsPending.get(partition) ?? 0) + 1);
    let failure: { err: unknown } | undefined;
    const admitted = new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject };
      const waiting = this.toAdmit.get(partition);
      if (waiting === undefined) this.toAdmit.set(partition, [waiter]);
      else waiting.push(waiter);
      this.startAdmission();
    }).then(
      () => {
        if (this.admissions.get(partition) === admitted) this.admissions.delete(partition);
        const left = (this.admissionsPending.get(partition) ?? 1) - 1;
        if (left > 0) {
          // Acquired again meanwhile: that acquisition's admission is still to come.
          this.admissionsPending.set(partition, left);
        } else {
          this.admissionsPending.delete(partition);
        }
        this.schedulePump();
      },
      (err: unknown) => {
        if (this.admissions.get(partition) === admitted) this.admissions.delete(partition);
        // Still loading, so no watermark is written for it: its fires are repeated, not lost.
        failure = { err };
        this.log.error({ err, partition }, "could not admit the partition's schedules");
      },
    );
    // A large store takes longer to admit than a lease lasts unrenewed, and the lease is not
    // renewed until this returns: it returns by half the time the lease is surely ours, and
    // the admission goes on (fires of admitted schedules start meanwhile, watermarks wait).
    this.admissions.set(partition, admitted);
    await this.withinLease(partition, admitted);
    if (failure !== undefined) throw failure.err;
  }

  /** Waits for `admission`, but no longer than half the time the lease is surely ours. */
  private async withinLease(partition: number, admission: Promise<void>): Promise<void> {
    const validUntil = this.owned.get(partition) ?? this.now();
    let patience: NodeJS.Timeout | undefined;
    await Promise.race([
      admission,
      new Promise((resolve) => {
        patience = setTimeout(resolve, Math.max(0, (validUntil - this.now()) / 2));
      }),
    ]);
    clearTimeout(patience);
  }

  private startAdmission(): void {
    if (this.admitting !== undefined) return;
    const joined: Joined = new Map();
    this.admitting = this.runAdmission(joined)
      .catch((err: unknown) => {
        for (const j of joined.values()) for (const waiter of j.waiting) waiter.reject(err);
      })
      .finally(() => {
        this.admitting = undefined;
        if (this.toAdmit.size > 0) this.startAdmission();
      });
  }

  /**
   * Admits the schedules of acquired partitions, all of them in one walk over the catalog: a
   * walk per partition would read every record once per partition. A partition that joins a
   * walk midway is admitted from there on, and by the next walk up to where it joined.
   */
  private async runAdmission(joined: Joined): Promise<void> {
    await this.gatherAcquisitions();
    for (let walk = 0; ; walk++) {
      let position = 0;
      // How far this walk must go: to the end while a partition joined it, else only as far
      // as the latecomers to the walk before need.
      let end = 0;
      const enroll = (): void => {
        let newcomers = 0;
        for (const [partition, waiting] of this.toAdmit) {
          if (joined.has(partition)) continue;
          this.toAdmit.delete(partition);
          joined.set(partition, { walk, at: position, waiting });
          newcomers++;
        }
        // The catalog's outlines are the far-ahead one-shots, which become cold schedules:
        // room for the newcomers' share of them at once.
        this.cold.reserve(
          Math.ceil((this.catalog.outlineCount * newcomers) / this.store.partitions),
        );
        end = 0;
        for (const j of joined.values())
          end = Math.max(end, j.walk === walk ? Number.POSITIVE_INFINITY : j.at);
      };
      enroll();
      if (joined.size === 0) return;
      if (walk === 0) {
        await this.admitWholeFirst(joined);
        enroll();
      }
      // A large store takes seconds to admit: yield now and then, so that lease renewals (and
      // fires already admitted) are not held up until the lease has lapsed.
      let sliceStarted = performance.now();
      for (const record of this.catalog.all()) {
        if (position >= end) break;
        const j = joined.get(record.partition);
        if (
          j !== undefined &&
          (j.walk === walk ? position >= j.at : position < j.at) &&
          this.owned.has(record.partition) &&
          !this.admitted(record.id)
        ) {
          this.admitRecord(record);
        }
        position++;
        if (!sliceOver(position, sliceStarted)) continue;
        await this.endSlice();
        enroll();
        sliceStarted = performance.now();
      }
      for (const [partition, j] of joined) {
        if (j.walk === walk && j.at > 0) continue;
        joined.delete(partition);
        for (const waiter of j.waiting) waiter.resolve();
      }
    }
  }

  /**
   * Admits the schedules held whole of the partitions joining the first walk, before the walk
   * reaches them: the store (so the catalog) is in the order of writes, and one written lately
   * (an interval whose progress was recorded, say) came last, seconds after a restart at a
   * million schedules. The rest are outlines, one-shots due beyond the cold horizon, which
   * nothing needs before the walk comes to them; the walk passes over what is admitted here.
   */
  private async admitWholeFirst(joined: Joined): Promise<void> {
    let sliceStarted = performance.now();
    let seen = 0;
    for (const record of this.catalog.all()) {
      if (
        record.complete &&
        joined.has(record.partition) &&
        this.owned.has(record.partition) &&
        !this.admitted(record.id)
      ) {
        this.admitRecord(record);
      }
      if (!sliceOver(++seen, sliceStarted)) continue;
      await this.endSlice();
      sliceStarted = performance.now();
    }
    this.schedulePump();
  }

  /** An admission walk's step for one record of an owned partition not admitted yet. */
  private admitRecord(record: CatalogRecord): void {
    const bytes = record.bytes();
    const coldDue = this.coldDueOf(record, bytes);
    if (coldDue !== undefined) {
      this.cold.add({ id: record.id, partition: record.partition, due: coldDue });
      return;
    }
    const schedule = this.timingOf(record, bytes);
    if (schedule !== undefined) this.admit(record, schedule);
  }

  /**
   * When a record not admitted yet is due, if it can wait cold: a plain one-shot (read off its
   * bytes, see `plainOneShotDue`) due beyond the horizon and not passed by its partition's
   * watermark. Undefined sends it through `admit`, which decides the same for these.
   */
  private coldDueOf(record: CatalogRecord, bytes: Uint8Array): number | undefined {
    const due = plainOneShotDue(bytes);
    if (due === undefined || due - this.now() <= this.options.coldHorizonMs) return undefined;
    const watermark = this.catalog.watermark(record.partition);
    const passed =
      watermark !== undefined && record.revision <= watermark.revision && due <= watermark.dueAt;
    return passed ? undefined : due;
  }

  /** Lets fires due meanwhile, lease renewals and I/O in, between slices of an admission. */
  private async endSlice(): Promise<void> {
    this.schedulePump();
    await new Promise((resolve) => setImmediate(resolve));
  }

  /**
   * Waits (briefly) for the partitions being acquired with the first one, so that all of them
   * join the walk at its start: a partition joining midway has the schedules before that point
   * admitted only in the next walk, and at a million schedules, after a restart, the ones at
   * the start of the catalog then stayed unfired for the whole first walk (about 2 s).
   */
  private async gatherAcquisitions(): Promise<void> {
    if (this.acquiring === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(caughtUp, ACQUISITION_GATHER_MS);
      function caughtUp(): void {
        clearTimeout(timer);
        resolve();
      }
      this.acquisitionsCaughtUp = caughtUp;
    });
    this.acquisitionsCaughtUp = undefined;
  }

  renewed(partition: number, validUntil: number): void {
    if (!this.owned.has(partition)) return;
    this.owned.set(partition, validUntil);
    const parked = this.suspended.get(partition);
    if (parked === undefined) return;
    this.suspended.delete(partition);
    for (const entry of parked) {
      if (this.entries.get(entry.id) === entry && !this.queue.has(entry))
        this.queue.set(entry, entry.due);
    }
    this.log.info({ partition, parked: parked.size }, "lease renewed; partition resumed");
    this.schedulePump();
  }

  async release(partition: number): Promise<void> {
    if (!this.owned.has(partition)) return;
    // Handed back moments after it was acquired, its schedules still being admitted: the
    // admission may finish first (within the lease), so that the final watermark can pass the
    // fires started meanwhile rather than stop below the first one not admitted yet.
    const admission = this.admissions.get(partition);
    if (admission !== undefined) await this.withinLease(partition, admission);
    if (!this.owned.has(partition)) return;
    const now = this.now();
    // Handed back before all its schedules were admitted: those not admitted yet have not
    // fired since the last watermark, so the final one must stay below their next fires.
    const earliestUnadmitted = this.admissionsPending.has(partition)
      ? this.earliestDueOfUnadmitted(partition)
      : Number.POSITIVE_INFINITY;
    // Its fires already due start now, whatever the window: one left queued would hold the
    // final watermark below every fire started after it, and the next owner would repeat those.
    if (this.holds(partition, now)) this.fireDueOf(partition, now);
    this.owned.delete(partition);
    // Progress off the timetable (a catch-up, a manual fire) is recorded before the hand-over,
    // or the next owner would derive it from the timetable and start those fires again.
    const pending = [...this.checkpoints]
      .map((id) => this.entries.get(id))
      .filter((entry): entry is Entry => entry?.partition === partition);
    const earliestQueued = this.dropEntries(partition);
    await this.partitionIdleFor(partition);
    await Promise.all([this.flushing, ...pending.map((entry) => this.checkpoint(entry))]);
    // Every fire of the partition due before its earliest unstarted one has landed now.
    const watermark = {
      dueAt: Math.min(now, earliestQueued - 1, earliestUnadmitted - 1),
      revision: this.catalog.appliedRevision,
    };
    this.dirtyPartitions.delete(partition);
    await this.store.putWatermark(partition, watermark).catch((err: unknown) => {
      this.log.warn(
        { err, partition },
        "final watermark write failed; the next owner repeats a few fires",
      );
    });
  }

  lost(partition: number): void {
    this.owned.delete(partition);
    this.dirtyPartitions.delete(partition);
    this.dropEntries(partition);
  }

  /** Starts the partition's fires that are due but still queued (the engine is behind). */
  private fireDueOf(partition: number, now: number): void {
    const earliest = this.queue.peek();
    if (earliest === undefined || earliest.due > now) return;
    for (const entry of this.entries.ofPartition(partition)) {
      if (!this.queue.has(entry) || entry.due > now) continue;
      this.queue.delete(entry);
      this.fireDue(entry, now);
    }
  }

  /** The earliest next fire among the partition's schedules the engine has not admitted. */
  private earliestDueOfUnadmitted(partition: number): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const record of this.catalog.all()) {
      if (record.partition !== partition || this.admitted(record.id)) continue;
      const schedule = this.timingOf(record);
      if (schedule === undefined) continue;
      const nextDue = this.derive(record, schedule)?.progress.nextDue;
      if (nextDue !== undefined) earliest = Math.min(earliest, nextDue);
    }
    return earliest;
  }

  /** Forgets a partition's schedules; returns the earliest due instant among them. */
  private dropEntries(partition: number): number {
    let earliest = this.cold.dropPartition(partition);
    const parked = this.suspended.get(partition);
    this.suspended.delete(partition);
    for (const entry of this.entries.takePartition(partition)) {
      if (this.queue.has(entry) || parked?.has(entry)) earliest = Math.min(earliest, entry.due);
      else if (this.advancing.has(entry)) earliest = Math.min(earliest, followingDue(entry));
      this.advancing.delete(entry);
      this.queue.delete(entry);
      this.checkpoints.delete(entry.id);
    }
    return earliest;
  }

  private partitionIdleFor(partition: number): Promise<void> {
    if ((this.inFlightByPartition.get(partition) ?? 0) === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const waiters = this.partitionIdle.get(partition) ?? [];
      waiters.push(resolve);
      this.partitionIdle.set(partition, waiters);
    });
  }

  /** True while this replica may fire the partition: its lease cannot have passed on yet. */
  private holds(partition: number, now: number): boolean {
    const validUntil = this.owned.get(partition);
    return validUntil !== undefined && now < validUntil;
  }

  scheduleChanged(id: string, record: CatalogRecord | null, previous: CatalogRecord | null): void {
    // Held cold, it has neither fired nor been counted: the change is admitted afresh. Only a
    // schedule the catalog held can be held cold (a look-up less for each one created).
    if (previous !== null && this.cold.size > 0) this.cold.delete(id);
    if (record === null) {
      this.forget(id);
      return;
    }
    const existing = this.entries.get(id);
    if (existing === undefined) {
      // Nothing to decode for a partition another replica fires.
      if (!this.owned.has(record.partition)) return;
      this.admitRecord(record);
      this.schedulePump();
      return;
    }
    const schedule = this.timingOf(record);
    if (schedule === undefined) {
      this.forget(id);
      return;
    }
    const definedAt = msOf(schedule.definedAt);
    if (
      existing !== undefined &&
      existing.storedState === schedule.state &&
      existing.definedAt === definedAt
    ) {
      // A checkpoint (ours) or a change that leaves the timetable alone: what the engine
      // counted since is at least as far along as the record.
      existing.revision = record.revision;
      existing.template = undefined;
      // Written from a record read before the engine published one of them, say.
      if (!samePendingManuals(existing, schedule)) this.checkpoints.add(id);
      return;
    }
    if (existing !== undefined) this.queue.delete(existing);
    if (!this.owned.has(record.partition)) {
      if (existing !== undefined) this.entries.delete(id);
      return;
    }
    // A pause or resume written from a count read a moment earlier may miss a fire that
    // started since: the engine's own count is the truth for the same definition.
    const sameDefinition = existing !== undefined && existing.definedAt === definedAt;
    this.admit(record, schedule, sameDefinition ? existing : undefined);
    this.schedulePump();
  }

  /** Drops the schedule's entry, if it has one: it fires no more. */
  private forget(id: string): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    this.queue.delete(entry);
    this.entries.delete(id);
    this.checkpoints.delete(id);
  }

  /**
   * The record's timing fields, or undefined (logged) when its bytes cannot be read: such a
   * schedule is not fired, and the rest of its partition is, as for one that cannot be planned.
   */
  private timingOf(record: CatalogRecord, bytes = record.bytes()): Schedule | undefined {
    try {
      return decodeScheduleTiming(bytes);
    } catch (err) {
      this.log.error({ err, scheduleId: record.id }, "stored schedule cannot be read; not fired");
      return undefined;
    }
  }

  /** A stored schedule's timetable, and its progress as the partition's watermark tells it. */
  private derive(
    record: CatalogRecord,
    schedule: Schedule,
  ): { plan: SchedulePlan; progress: Progress } | undefined {
    // The catalog's copy of the id, not another one per decoded message.
    schedule.scheduleId = record.id;
    let plan: SchedulePlan;
    try {
      plan = planOf(schedule);
    } catch (err) {
      this.log.error({ err, scheduleId: schedule.scheduleId }, "stored schedule cannot be planned");
      return undefined;
    }
    const watermark = this.catalog.watermark(schedule.partition);
    const known = watermark !== undefined && record.revision <= watermark.revision;
    return { plan, progress: deriveProgress(schedule, plan, known ? watermark.dueAt : undefined) };
  }

  private admit(
    record: CatalogRecord,
    schedule: Schedule,
    carried?: Entry,
    mayWaitCold = true,
  ): void {
    const { revision } = record;
    const derived = this.derive(record, schedule);
    if (derived === undefined) return;
    const { plan, progress } = derived;
    if (
      mayWaitCold &&
      carried === undefined &&
      plan.oneShot &&
      plan.immediateAt === undefined &&
      progress.state === ProgressState.active &&
      progress.nextDue !== undefined &&
      progress.nextNominal !== undefined &&
      progress.nextDue - this.now() > this.options.coldHorizonMs &&
      progress.fireCount === 0 &&
      progress.manualFires === 0 &&
      progress.lastFireAt === undefined
    ) {
      // Nothing fired or counted yet, and nothing due for a while: an id and a few numbers.
      // Looked up once: at a million schedules each look-up is a few cache misses.
      this.forget(record.id);
      this.cold.add({ id: record.id, partition: record.partition, due: progress.nextDue });
      return;
    }
    const entry: Entry = {
      id: record.id,
      partition: record.partition,
      revision,
      storedState: schedule.state,
      definedAt: msOf(schedule.definedAt),
      plan: plan.oneShot && plan.immediateAt === undefined ? undefined : plan,
      oneShot: plan.oneShot,
      template: undefined,
      state: progress.state,
      fireCount: progress.fireCount,
      manualFires: progress.manualFires,
      lastManualAt: carried?.lastManualAt,
      // The engine's own list for the same definition: it may have published some since.
      pendingManuals: carried === undefined ? pendingManualsOf(schedule) : carried.pendingManuals,
      lastFireAt: progress.lastFireAt,
      progressAt: progress.progressAt,
      nextNominal: progress.nextNominal,
      due: 0,
      queueIndex: -1,
    };
    if (carried !== undefined && carried.fireCount > entry.fireCount) {
      entry.fireCount = carried.fireCount;
      entry.manualFires = Math.max(entry.manualFires, carried.manualFires);
      entry.lastFireAt = carried.lastFireAt;
      this.checkpoints.add(entry.id);
    }
    if (carried !== undefined && !samePendingManuals(entry, schedule))
      this.checkpoints.add(entry.id);
    this.entries.set(entry);
    if (carried === undefined) this.republishManuals(entry);
    if (progress.nextDue !== undefined) this.queue.set(entry, progress.nextDue);
    // Due soon (a burst being set up, say): what it publishes is ready before it fires, rather
    // than decoded from the catalog then, in the hot loop. A shed record's is read back now.
    if (progress.nextDue === undefined) return;
    if (!record.complete) this.readTemplate(entry);
    else if (progress.nextDue - this.now() < HOT_HORIZON_MS)
      entry.template = ownTemplate(fireTemplateOf(record.outline));
  }

  /**
   * Publishes again the manual fires the schedule's record says were recorded and perhaps not
   * published (a Chime stopped in between): as the same Chime-Fire-Seq and Nats-Msg-Id, which
   * JetStream drops if the first copy landed.
   */
  private republishManuals(entry: Entry): void {
    if (entry.pendingManuals === undefined || !this.holds(entry.partition, this.now())) return;
    // Read once for them all: a shed record's template is read back from the store.
    const template = this.templateOf(entry);
    if (template === undefined) return;
    for (const fire of [...entry.pendingManuals]) {
      const now = this.now();
      this.publishCounted(entry, fire.at, now, FireTrigger.manual, now, fire.seq, template).then(
        () => {
          settleManual(entry, fire);
          // Cleared at once rather than at the next flush, as `trigger` does.
          void this.recordNow(entry.id);
        },
        // Stopped, or the schedule is gone: the record keeps it for whoever fires it next.
        () => undefined,
      );
    }
  }

  /** Reads a shed schedule's template back into its entry, ahead of its fire. */
  private readTemplate(entry: Entry): void {
    this.shedTemplates.read(entry.id).then(
      (template) => {
        // Redefined, deleted or fired meanwhile: the template is no longer this entry's to keep.
        if (
          template === undefined ||
          this.entries.get(entry.id) !== entry ||
          entry.state !== ProgressState.active
        )
          return;
        entry.template ??= ownTemplate(template);
      },
      // Stopped: nothing is fired any more.
      () => undefined,
    );
  }

  /** Whether the schedule is the engine's: an entry, or waiting cold. */
  private admitted(id: string): boolean {
    return this.entries.has(id) || this.cold.has(id);
  }

  /** A cold schedule becomes an entry now (it is triggered, say). */
  private warm(id: string): void {
    if (!this.cold.delete(id)) return;
    const record = this.catalog.get(id);
    if (record === undefined || !this.owned.has(record.partition)) return;
    const schedule = this.timingOf(record);
    if (schedule !== undefined) this.admit(record, schedule, undefined, false);
  }

  /** Cold schedules coming within the horizon become entries, a slice of them at a time. */
  private promoteCold(): void {
    if (!this.running) return;
    const horizon = this.now() + this.options.coldHorizonMs;
    const sliceStarted = performance.now();
    while (this.cold.earliestDue <= horizon) {
      const cold = this.cold.pop();
      if (cold === undefined) break;
      const record = this.catalog.get(cold.id);
      // Deleted since it went cold: a change takes it out of the cold ones, so it is the same.
      const schedule =
        record !== undefined && this.owned.has(record.partition) && !this.entries.has(cold.id)
          ? this.timingOf(record)
          : undefined;
      if (record !== undefined && schedule !== undefined)
        this.admit(record, schedule, undefined, false);
      if (performance.now() - sliceStarted >= ADMIT_SLICE_MS) {
        setImmediate(() => this.promoteCold());
        break;
      }
    }
    this.schedulePump();
  }

  private schedulePump(): void {
    if (this.pumpScheduled || !this.running) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Starts every due fire the publish window has room for, then arms the timer. */
  private pump(): void {
    if (!this.running) return;
    const now = this.now();
    while (this.publisher.room > 0) {
      const entry = this.queue.popDue(now);
      if (entry === undefined) break;
      if (!this.holds(entry.partition, now)) {
        this.suspend(entry);
        continue;
      }
      this.fireDue(entry, now);
    }
    this.arm(now);
  }

  /**
   * The lease may have passed to another replica (we were paused or cut off): fire nothing
   * more of the partition until a renewal or a new acquisition proves it ours again.
   */
  private suspend(entry: Entry): void {
    const { partition } = entry;
    if (!this.owned.has(partition)) {
      this.entries.delete(entry.id);
      return;
    }
    let parked = this.suspended.get(partition);
    if (parked === undefined) {
      parked = new Set();
      this.suspended.set(partition, parked);
      this.log.warn({ partition }, "lease not current; partition suspended");
    }
    parked.add(entry);
  }

  private arm(now: number): void {
    const next = this.queue.peek();
    if (next === undefined || this.publisher.room <= 0) {
      // Nothing due, or the window is full: a landing publish pumps again.
      this.disarm();
      return;
    }
    if (this.timer !== undefined && this.timerDue === next.due) return;
    this.disarm();
    this.timerDue = next.due;
    const delay = Math.min(Math.max(next.due - now, 0), MAX_TIMER_MS);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Number.POSITIVE_INFINITY;
      this.pump();
    }, delay);
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
  }

  private fireDue(entry: Entry, now: number): void {
    const nominal = entry.nextNominal;
    if (nominal === undefined) return;
    // Late measured from when the schedule could first have fired: a one-shot created with an
    // `at` already past is on time when it fires at once, not a made-up fire.
    const since = Math.max(entry.due, entry.definedAt ?? entry.due);
    const late = now - since > this.options.misfireThresholdMs;
    if (late && !entry.oneShot) {
      this.catchUp(entry, nominal, now);
      return;
    }
    void this.publish(
      entry,
      nominal,
      entry.due,
      late ? FireTrigger.catchup : FireTrigger.schedule,
      now,
    ).catch(() => undefined);
    if (entry.plan === undefined) {
      this.advance(entry, nominal);
      return;
    }
    // The next occurrence of a recurring schedule (a cron in a time zone costs tens of µs) is
    // computed once the fires due together are on the wire, not between them.
    entry.progressAt = nominal;
    this.advancing.add(entry);
    if (this.advancing.size === 1) setImmediate(() => this.advancePending());
  }

  private advancePending(): void {
    const entries = [...this.advancing];
    this.advancing.clear();
    for (const entry of entries) {
      // Deleted, redefined, paused or handed over since it fired: nothing to queue.
      if (this.entries.get(entry.id) !== entry || entry.state !== ProgressState.active) continue;
      this.advance(entry, entry.progressAt);
    }
    this.schedulePump();
  }

  /** The schedule missed occurrences: its misfire policy says which are made up. */
  private catchUp(entry: Entry, oldest: Instant, now: number): void {
    const { plan } = entry;
    // Only recurring schedules catch up, and they keep their plan.
    if (plan === undefined) return;
    const windowStart = Math.max(oldest - 1, now - plan.catchupWindowMs);
    const missed = plan.timetable.occurrencesBetween(windowStart, now, 100_000);
    // The oldest may be run_immediately's occurrence, which the timetable itself lacks.
    if (windowStart < oldest && missed[0] !== oldest) missed.unshift(oldest);
    const decision = planCatchup({
      missed,
      now,
      policy: plan.misfirePolicy,
      catchupWindowMs: plan.catchupWindowMs,
      maxCatchupFires: this.options.maxCatchupFires,
    });
    for (const nominal of decision.fire) {
      if (reachedMaxFires(plan, entry.fireCount, entry.manualFires)) break;
      void this.publish(entry, nominal, dueOf(plan, nominal), FireTrigger.catchup, now).catch(
        () => undefined,
      );
    }
    this.log.info(
      { scheduleId: entry.id, missed: missed.length, made_up: decision.fire.length },
      "misfire: caught up per policy",
    );
    this.advance(entry, now);
    this.checkpoints.add(entry.id);
  }

  /** Moves the schedule past `after` and queues its next occurrence, if any. */
  private advance(entry: Entry, after: Instant): void {
    entry.progressAt = after;
    const { plan } = entry;
    // A plain one-shot has had its one occurrence.
    const next =
      plan === undefined || reachedMaxFires(plan, entry.fireCount, entry.manualFires)
        ? null
        : nextNominal(plan, after);
    if (next === null || plan === undefined) {
      entry.state = ProgressState.completed;
      entry.nextNominal = undefined;
      // Nothing more to publish: a payload kept would stay in memory for good.
      entry.template = undefined;
      return;
    }
    entry.nextNominal = next;
    this.queue.set(entry, dueOf(plan, next));
  }

  private publish(
    entry: Entry,
    nominal: Instant,
    due: Instant,
    trigger: FireTrigger,
    firedAt: Instant,
  ): Promise<PubAck> {
    const template = this.templateOf(entry);
    // Gone from the catalog: deleted, and the engine is told of it at once.
    if (template === undefined) return Promise.reject(new UnknownScheduleError(entry.id));
    const seq = this.count(entry, nominal);
    return this.publishCounted(entry, nominal, due, trigger, firedAt, seq, template);
  }

  /** Counts a fire of the schedule at `nominal`; returns its Chime-Fire-Seq. */
  private count(entry: Entry, nominal: Instant): number {
    entry.fireCount++;
    entry.lastFireAt = nominal;
    return entry.fireCount;
  }

  /** Publishes a fire counted already, as `seq`. */
  private publishCounted(
    entry: Entry,
    nominal: Instant,
    due: Instant,
    trigger: FireTrigger,
    firedAt: Instant,
    seq: number,
    template: FireTemplate | Promise<FireTemplate | undefined>,
  ): Promise<PubAck> {
    const flight: InFlight = { due, queueIndex: -1, partition: entry.partition };
    this.inFlight.set(flight, due);
    this.inFlightByPartition.set(
      flight.partition,
      (this.inFlightByPartition.get(flight.partition) ?? 0) + 1,
    );
    // A shed schedule's template still being read back: the fire is in flight meanwhile (the
    // watermark stays below it), and published once the read answers.
    const promise =
      template instanceof Promise
        ? template.then((read) =>
            read === undefined
              ? Promise.reject(new UnknownScheduleError(entry.id))
              : this.publisher.publish(this.publication(read, nominal, due, trigger, firedAt, seq)),
          )
        : this.publisher.publish(this.publication(template, nominal, due, trigger, firedAt, seq));
    promise.then(
      (ack) => {
        this.landed(flight);
        if (this.owned.has(flight.partition)) this.dirtyPartitions.add(flight.partition);
        this.hooks.fired?.({
          scheduleId: entry.id,
          trigger,
          nominal,
          firedAt,
          ackedAt: this.now(),
          ack,
        });
        this.schedulePump();
      },
      () => {
        // Only a stopped publisher or engine gives up (the fire stays below the watermark, so
        // whoever owns the partition next publishes it again), or the schedule is gone.
        this.landed(flight);
      },
    );
    return promise;
  }

  private publication(
    template: FireTemplate,
    nominal: Instant,
    due: Instant,
    trigger: FireTrigger,
    firedAt: Instant,
    seq: number,
  ): Publication {
    return {
      subject: template.subject,
      payload: template.payload,
      headers: fireHeaders(template, nominal, firedAt, seq, trigger),
      messageId: fireMessageId(template.scheduleId, nominal),
      // Chime-Fired-At says when the message was really published, also after retries; a
      // fire held up past the misfire threshold (NATS away) arrives as the made-up fire it is.
      beforeRetry: (headers) => {
        const now = this.now();
        headers.set("Chime-Fired-At", rfc3339(now));
        if (trigger === FireTrigger.schedule && now - due > this.options.misfireThresholdMs)
          headers.set("Chime-Trigger", FireTrigger.catchup);
      },
    };
  }

  private landed(flight: InFlight): void {
    this.inFlight.delete(flight);
    const left = (this.inFlightByPartition.get(flight.partition) ?? 1) - 1;
    this.inFlightByPartition.set(flight.partition, left);
    if (left === 0) {
      for (const resolve of this.partitionIdle.get(flight.partition) ?? []) resolve();
      this.partitionIdle.delete(flight.partition);
    }
  }

  /** Writes the progress gathered since the last flush, as one batch. */
  private flush(): Promise<void> {
    if (this.flushing !== undefined) return this.flushing;
    if (this.dirtyPartitions.size === 0 && this.checkpoints.size === 0) return Promise.resolve();
    this.flushing = this.writeProgress().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /**
   * Resolves once what is queued now is written. A flush in flight took its list earlier; the
   * one after it takes the rest, whether this call or another caller starts it.
   */
  private async flushQueued(): Promise<void> {
    await this.flushing;
    await this.flush();
  }

  /** Writes the schedule's progress now rather than at the next flush, with what else is queued. */
  private recordNow(id: string): Promise<void> {
    this.checkpoints.add(id);
    return this.flushQueued();
  }

  private async writeProgress(): Promise<void> {
    const now = this.now();
    const queued = this.queue.peek();
    const flying = this.inFlight.peek();
    let dueAt = now;
    if (queued !== undefined) dueAt = Math.min(dueAt, queued.due - 1);
    if (flying !== undefined) dueAt = Math.min(dueAt, flying.due - 1);
    // Promoted long before they are due, but a watermark must never pass one left cold.
    dueAt = Math.min(dueAt, this.cold.earliestDue - 1);
    // Their next occurrence is not queued yet; it is due after the one that fired.
    for (const entry of this.advancing) dueAt = Math.min(dueAt, entry.due - 1);
    const watermark = { dueAt, revision: this.catalog.appliedRevision };
    // Only partitions whose lease is surely ours: a stale owner must not write progress.
    const partitions = [...this.dirtyPartitions].filter(
      (p) => this.holds(p, now) && !this.admissionsPending.has(p),
    );
    this.dirtyPartitions.clear();
    const ids = [...this.checkpoints];
    this.checkpoints.clear();
    const writes: Promise<unknown>[] = partitions.map((p) =>
      this.store.putWatermark(p, watermark).catch((err: unknown) => {
        this.dirtyPartitions.add(p);
        this.log.warn({ err, partition: p }, "watermark write failed; will retry");
      }),
    );
    for (const id of ids) {
      const entry = this.entries.get(id);
      if (entry !== undefined) writes.push(this.checkpoint(entry));
    }
    await Promise.all(writes);
  }

  /**
   * What the schedule's fires publish, from the catalog's record: read back from the store
   * when the record is shed (the read did not land before the fire). Undefined: it is gone.
   */
  private templateOf(entry: Entry): FireTemplate | Promise<FireTemplate | undefined> | undefined {
    if (entry.template !== undefined) return entry.template;
    const record = this.catalog.get(entry.id);
    if (record === undefined) return undefined;
    if (!record.complete) return this.shedTemplates.read(entry.id);
    const template = fireTemplateOf(record.outline);
    // A one-shot fires once: keeping its template would only hold its payload in memory.
    if (!entry.oneShot) entry.template = ownTemplate(template);
    return template;
  }

  private async checkpoint(entry: Entry): Promise<void> {
    const record = this.catalog.get(entry.id);
    if (record === undefined) return;
    try {
      // Written back whole: a shed record's payload and headers are read back first.
      const schedule = await this.catalog.schedule(record);
      // Superseded: a newer definition carries progress of its own.
      if (schedule === undefined) return;
      schedule.fireCount = BigInt(entry.fireCount);
      schedule.manualFireCount = BigInt(entry.manualFires);
      schedule.lastFireAt = timestampOf(entry.lastFireAt);
      schedule.progressAt = timestampOf(entry.progressAt);
      schedule.pendingManualFires = (entry.pendingManuals ?? []).map((fire) =>
        pendingFireRecord(entry.id, fire),
      );
      const written = await this.store.update(schedule, entry.revision);
      // The next checkpoint expects this revision, which the catalog may not have applied by
      // then: expecting the one before, it would be refused as if a newer definition had come.
      entry.revision = Math.max(entry.revision, written);
    } catch (err) {
      // A newer definition carries progress of its own: nothing to record.
      if (err instanceof RevisionConflictError) return;
      this.checkpoints.add(entry.id);
      this.log.warn({ err, scheduleId: entry.id }, "checkpoint failed; will retry");
    }
  }

  private stopTimers(): void {
    this.running = false;
    this.disarm();
    if (this.checkpointTimer !== undefined) clearInterval(this.checkpointTimer);
    this.checkpointTimer = undefined;
    if (this.promotionTimer !== undefined) clearInterval(this.promotionTimer);
    this.promotionTimer = undefined;
  }
}

/**
 * The nominal instant of a manual fire asked for at `now`: a millisecond on from any other
 * fire of the schedule there, whose Nats-Msg-Id it would share (JetStream would drop it as a
 * copy). Two triggers in one millisecond publish two fires, as two triggers ask.
 */
function manualNominal(entry: Entry, now: Instant): Instant {
  let at = now;
  while (at === entry.lastManualAt || at === entry.lastFireAt || at === entry.nextNominal) at++;
  return at;
}

/** A manual fire is stored: it is no longer the schedule's to publish again. */
function settleManual(entry: Entry, fire: PendingManual): void {
  const pending = entry.pendingManuals ?? [];
  const index = pending.indexOf(fire);
  if (index >= 0) pending.splice(index, 1);
  // Nothing held again, as for every schedule without a manual fire in flight.
  if (pending.length === 0) entry.pendingManuals = undefined;
}

function pendingFireRecord(scheduleId: string, fire: PendingManual): FireRecord {
  return create(FireRecordSchema, {
    scheduledAt: timestampOf(fire.at),
    trigger: FireTrigger.manual,
    fireSeq: BigInt(fire.seq),
    messageId: fireMessageId(scheduleId, fire.at),
  });
}

/** The manual fires a stored record says are still to be published. */
function pendingManualsOf(schedule: Schedule): PendingManual[] | undefined {
  // Nearly always: nothing allocated for each of a million schedules admitted at a start.
  if (schedule.pendingManualFires.length === 0) return undefined;
  const pending: PendingManual[] = [];
  for (const fire of schedule.pendingManualFires) {
    const at = msOf(fire.scheduledAt);
    if (at !== undefined) pending.push({ at, seq: Number(fire.fireSeq) });
  }
  return pending.length === 0 ? undefined : pending;
}

/** Whether the record lists the same manual fires still to publish as the entry. */
function samePendingManuals(entry: Entry, schedule: Schedule): boolean {
  const held = entry.pendingManuals ?? [];
  const stored = schedule.pendingManualFires;
  return (
    held.length === stored.length &&
    held.every((fire, i) => Number(stored[i]?.fireSeq) === fire.seq)
  );
}

/** When a recurring schedule that has just fired is due next (its occurrence not queued yet). */
function followingDue(entry: Entry): number {
  const { plan } = entry;
  if (plan === undefined || reachedMaxFires(plan, entry.fireCount, entry.manualFires))
    return Number.POSITIVE_INFINITY;
  const next = nextNominal(plan, entry.progressAt);
  return next === null ? Number.POSITIVE_INFINITY : dueOf(plan, next);
}

/** The template with a payload of its own: a decoded payload is a view of a larger buffer. */
function ownTemplate(template: FireTemplate): FireTemplate {
  return { ...template, payload: template.payload.slice() };
}
