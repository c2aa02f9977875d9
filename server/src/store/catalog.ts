import type { Schedule } from "@chime/sdk";
import type { Logger } from "pino";
import type { ScheduleStore, StoreChange } from "./schedule-store.js";
import type { Watermark } from "./watermark.js";

export interface NameEntry {
  readonly id: string;
  readonly revision: number;
}

export interface CatalogRecord {
  readonly schedule: Schedule;
  readonly revision: number;
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
 */
export class Catalog {
  private readonly records = new Map<string, CatalogRecord>();
  private readonly names = new Map<string, NameEntry>();
  private readonly watermarks = new Map<number, Watermark>();
  /** Ids in ascending order, for paging; ids sort by creation time, so new ones append. */
  private readonly sortedIds: string[] = [];
  private applied = 0;
  private readonly waiters: { revision: number; resolve: () => void }[] = [];
  private readonly observers: CatalogObserver[] = [];
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly store: ScheduleStore,
    private readonly log: Logger,
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

  get size(): number {
    return this.records.size;
  }

  get(id: string): CatalogRecord | undefined {
    return this.records.get(id);
  }

  name(name: string): NameEntry | undefined {
    return this.names.get(name);
  }

  watermark(partition: number): Watermark | undefined {
    return this.watermarks.get(partition);
  }

  all(): IterableIterator<CatalogRecord> {
    return this.records.values();
  }

  /** Ids in ascending order starting after `afterId` (from the start when it is empty). */
  *idsAfter(afterId: string): Generator<string> {
    let i = afterId === "" ? 0 : upperBound(this.sortedIds, afterId);
    while (i < this.sortedIds.length) {
      const id = this.sortedIds[i++];
      if (id !== undefined) yield id;
    }
  }

  private async follow(): Promise<void> {
    try {
      for await (const change of this.store.watch(this.abort.signal)) {
        this.apply(change);
      }
    } catch (err) {
      if (!this.abort.signal.aborted) {
        this.log.error({ err }, "the store watch ended; the process must restart to recover");
        throw err;
      }
    }
  }

  private apply(change: StoreChange): void {
    switch (change.kind) {
      case "schedule":
        this.applySchedule(change.id, change.schedule, change.revision);
        break;
      case "name":
        if (change.id === null) this.names.delete(change.name);
        else this.names.set(change.name, { id: change.id, revision: change.revision });
        break;
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

  private applySchedule(id: string, schedule: Schedule | null, revision: number): void {
    const previous = this.records.get(id) ?? null;
    let next: CatalogRecord | null = null;
    if (schedule === null) {
      if (previous === null) return;
      this.records.delete(id);
      removeSorted(this.sortedIds, id);
    } else {
      next = { schedule, revision };
      this.records.set(id, next);
      if (previous === null) insertSorted(this.sortedIds, id);
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

function upperBound(sorted: readonly string[], value: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(sorted: string[], value: string): void {
  const last = sorted[sorted.length - 1];
  if (last === undefined || last < value) {
    sorted.push(value);
    return;
  }
  sorted.splice(upperBound(sorted, value), 0, value);
}

function removeSorted(sorted: string[], value: string): void {
  const i = upperBound(sorted, value) - 1;
  if (i >= 0 && sorted[i] === value) sorted.splice(i, 1);
}
