import type { Logger } from "pino";
import type { Catalog } from "../store/catalog.js";
import { type FireTemplate, fireTemplateOf } from "./fire-message.js";

// Enough reads in flight to keep the store busy, few enough not to queue up a promotion's
// worth of requests (a burst of a hundred thousand) in the client at once.
const MAX_READS_IN_FLIGHT = 256;
const MAX_RETRY_DELAY_MS = 2_000;

/**
 * Reads what a shed schedule's fires publish back from the store (a record the catalog holds
 * as its outline only, see `CatalogRecord.complete`): a bounded number at a time, and until
 * the store answers, since a fire waits on it.
 */
export class ShedTemplates {
  private inFlight = 0;
  /** Reads waiting for a slot, from `head` on (a promotion can queue a hundred thousand). */
  private waiting: (() => void)[] = [];
  private head = 0;
  /** Reads under way, by schedule id: one read serves every caller that wants it meanwhile. */
  private readonly pending = new Map<string, Promise<FireTemplate | undefined>>();

  constructor(
    private readonly catalog: Catalog,
    private readonly log: Logger,
    /** Whether to keep trying: false once the engine stops. */
    private readonly running: () => boolean,
  ) {}

  /**
   * The template of the schedule as the catalog holds it when the read answers (a record
   * changed meanwhile is read as it is now); undefined once it is gone.
   */
  read(id: string): Promise<FireTemplate | undefined> {
    // A promotion's read still under way when the fire (or a manual trigger) wants the same.
    const pending = this.pending.get(id);
    if (pending !== undefined) return pending;
    const read = this.readOnce(id).finally(() => this.pending.delete(id));
    this.pending.set(id, read);
    return read;
  }

  private async readOnce(id: string): Promise<FireTemplate | undefined> {
    await this.slot();
    try {
      for (let failures = 0; ; ) {
        const record = this.catalog.get(id);
        if (record === undefined) return undefined;
        try {
          const schedule = await this.catalog.schedule(record);
          if (schedule !== undefined) return fireTemplateOf(schedule);
          // Superseded in the store: its newer record is on its way to the catalog.
          await this.catalog.caughtUp();
          failures = 0;
        } catch (err) {
          if (!this.running()) throw err;
          failures++;
          this.log.warn({ err, scheduleId: id, failures }, "could not read a shed schedule back");
          const delay = Math.min(100 * 2 ** failures, MAX_RETRY_DELAY_MS);
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    } finally {
      this.release();
    }
  }

  private slot(): Promise<void> {
    if (this.inFlight < MAX_READS_IN_FLIGHT) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting[this.head];
    if (next === undefined) {
      this.inFlight--;
      return;
    }
    // The slot passes straight to the next read.
    this.head++;
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
    }
    next();
  }
}
