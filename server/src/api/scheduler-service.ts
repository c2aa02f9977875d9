import { clone, create } from "@bufbuild/protobuf";
import {
  type BatchScheduleItem,
  type BatchScheduleRequest,
  type BatchScheduleResponse,
  BatchScheduleResponseSchema,
  type BatchScheduleResult,
  BatchScheduleResultSchema,
  ConflictPolicy,
  type CreatedSchedule,
  CreatedScheduleSchema,
  type FireRecord,
  type GetScheduleRequest,
  type ListSchedulesRequest,
  type ListSchedulesResponse,
  ListSchedulesResponseSchema,
  type Schedule,
  type SchedulerService,
  ScheduleSchema,
  ScheduleState,
  type TriggerScheduleResponse,
  TriggerScheduleResponseSchema,
  type UnscheduleResponse,
  UnscheduleResponseSchema,
} from "@chime/sdk";
import type { ConnectError, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import { type Engine, type ManualFire, UnknownScheduleError } from "../engine/engine.js";
import { deriveProgress, type Progress, ProgressState, type Standing } from "../engine/progress.js";
import { planOf } from "../engine/schedule-plan.js";
import { noStreamTook } from "../nats/pub-ack.js";
import { msOf, timestampAt, timestampOf } from "../proto-time.js";
import type { Catalog, CatalogRecord } from "../store/catalog.js";
import { namespaceOfEncoded } from "../store/namespace-counts.js";
import { isScheduleId, newScheduleId } from "../store/schedule-id.js";
import type { ScheduleStore } from "../store/schedule-store.js";
import { RevisionConflictError } from "../store/store-errors.js";
import {
  AlreadyExistsError,
  InvalidFieldError,
  LimitReachedError,
  NotFoundError,
  PreconditionError,
  toConnectError,
  UnavailableError,
} from "./api-errors.js";
import { type Access, accessOf, namespaceOf } from "./auth.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import type { RequestValidator, ScheduleDraft } from "./request-validation.js";

/** Who fires which partition, and how to reach them (the replica group). */
export interface Ownership {
  holderOf(partition: number): string | undefined;
  /** The holder as the lease bucket has it now, not as this replica last saw it. */
  currentHolderOf(partition: number): Promise<string | undefined>;
  /** Resolves once `owner` has applied the store change at `revision` (or cannot answer). */
  appliedBy(owner: string, revision: number): Promise<void>;
  triggerAt(owner: string, scheduleId: string): Promise<ManualFire>;
}

export interface SchedulerApiDeps {
  readonly store: ScheduleStore;
  readonly catalog: Catalog;
  readonly engine: Engine;
  readonly ownership: Ownership;
  readonly validator: RequestValidator;
  /** True while NATS is connected: requests that need it fail fast otherwise. */
  readonly natsConnected: () => boolean;
  /** This replica's name, reported as the owner of the partitions it fires. */
  readonly replicaId: string;
  /** Where GetSchedule reads a schedule's recent fires from. Default: none are listed. */
  readonly fireHistory?: {
    recent(scheduleId: string, subject: string, limit: number): Promise<FireRecord[]>;
  };
  readonly log: Logger;
  readonly now?: () => number;
  /** The most schedules one namespace may hold (--max-schedules-per-namespace); 0: no limit. */
  readonly maxSchedulesPerNamespace?: number;
  /** Told when a write found no stream to take it: a stream may be gone. Default: nothing. */
  readonly noStream?: () => void;
}

type Target =
  | { case: "scheduleId"; value: string }
  | { case: "name"; value: string }
  | { case: undefined; value?: undefined };

const DEFAULT_PAGE_SIZE = 100;
const DEFAULT_NEXT_FIRE_COUNT = 5;
const MAX_NEXT_FIRE_COUNT = 100;
const MAX_RECENT_FIRE_COUNT = 100;
// How long a name may point at a schedule that is not stored before it is taken as left
// over from a create that died half-way (a concurrent create stores its schedule sooner).
const DANGLING_NAME_GRACE_MS = 2_000;
const MAX_WRITE_ATTEMPTS = 5;
/** The most items one BatchSchedule takes: a reply stays well below gRPC's 4 MiB default. */
const MAX_BATCH_ITEMS = 1000;
/**
 * Writes of one BatchSchedule call in flight at once. 256 rather than 64: nats-server answers
 * larger bursts of puts with fewer, larger writes, and four calls of 500 items went through
 * 6-10 % faster; 512 gained nothing more.
 */
const BATCH_WRITE_WINDOW = 256;

/** A create written to the store: the id, the revision to wait for, and what happened. */
interface Written {
  readonly id: string;
  readonly revision: number;
  readonly created: boolean;
  readonly replaced?: boolean;
  /**
   * The schedule exactly as stored at `revision`, when this call made it: the reply is built
   * from it instead of decoding the stored bytes back (which cost more than storing them).
   */
  readonly stored?: Schedule;
}

/** The chime.v1.SchedulerService: one implementation behind gRPC, gRPC-Web and Connect. */
export class SchedulerApi {
  private readonly now: () => number;
  /** Creates per namespace stored by this replica but not yet applied to its catalog. */
  private readonly creating = new Map<string, number>();

  constructor(private readonly deps: SchedulerApiDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The service as Connect and the gRPC binding take it; every error leaves as a ConnectError. */
  service(): ServiceImpl<typeof SchedulerService> {
    const guard =
      <Req, Res>(method: (req: Req, access: Access) => Promise<Res>) =>
      async (req: Req, context: HandlerContext): Promise<Res> => {
        try {
          // The auth interceptor fixed who the call acts as and which namespace it sees.
          return await method.call(this, req, accessOf(context.values));
        } catch (err) {
          throw this.answerTo(err);
        }
      };
    return {
      scheduleByTime: guard((req, access) =>
        this.create((now) => this.deps.validator.byTime(req, now), access),
      ),
      scheduleByCron: guard((req, access) =>
        this.create((now) => this.deps.validator.byCron(req, now), access),
      ),
      scheduleByInterval: guard((req, access) =>
        this.create((now) => this.deps.validator.byInterval(req, now), access),
      ),
      unschedule: guard((req, access) => this.unschedule(req.target, access)),
      getSchedule: guard((req, access) => this.getSchedule(req, access)),
      listSchedules: guard((req, access) => this.listSchedules(req, access)),
      pauseSchedule: guard((req, access) => this.pause(req.target, access)),
      resumeSchedule: guard((req, access) => this.resume(req.target, access)),
      triggerSchedule: guard((req, access) => this.trigger(req.target, access)),
      batchSchedule: guard((req, access) => this.batchSchedule(req, access)),
    };
  }

  /** What a client is told of `err`; a write that no stream took is passed on too. */
  private answerTo(err: unknown): ConnectError {
    if (noStreamTook(err)) this.deps.noStream?.();
    return toConnectError(err);
  }

  /** One clock reading per request: validation and the stored times agree to the ms. */
  private create(
    validate: (now: number) => ScheduleDraft,
    access: Access,
  ): Promise<CreatedSchedule> {
    const now = this.now();
    return this.createSchedule(validate(now), now, access);
  }

  private async createSchedule(
    draft: ScheduleDraft,
    now: number,
    access: Access,
  ): Promise<CreatedSchedule> {
    const written = await this.writeSchedule(draft, now, access);
    return this.created(written, access);
  }

  /**
   * BatchSchedule: every item validated and written as its own create would be, the writes
   * pipelined (not one awaited after another), then one wait for this replica to have applied
   * them all. Items naming the same name run one after another, in order.
   */
  private async batchSchedule(
    req: BatchScheduleRequest,
    access: Access,
  ): Promise<BatchScheduleResponse> {
    if (req.items.length > MAX_BATCH_ITEMS) {
      throw new InvalidFieldError("items", `must hold at most ${MAX_BATCH_ITEMS} items`);
    }
    this.requireNats();
    const now = this.now();
    const results: BatchScheduleResult[] = new Array(req.items.length);
    const byName = new Map<string, Promise<unknown>>();
    let newest = 0;
    const refuse = (i: number, err: unknown): void => {
      const e = this.answerTo(err);
      const message =
        err instanceof InvalidFieldError
          ? `items[${i}].${err.field}: ${err.rule}`
          : `items[${i}]: ${e.rawMessage}`;
      results[i] = create(BatchScheduleResultSchema, {
        outcome: { case: "error", value: { code: e.code, message } },
      });
    };
    const store = async (i: number): Promise<void> => {
      let draft: ScheduleDraft;
      try {
        draft = this.validateItem(req.items[i] as BatchScheduleItem, now);
        // Let go of the decoded item once its draft is made: held by the request until the
        // whole call ends, the items of four calls in flight survived young collections and
        // were copied into the old generation, to die there.
        (req.items as (BatchScheduleItem | undefined)[])[i] = undefined;
      } catch (err) {
        refuse(i, err);
        return;
      }
      const stored = (written: Written): void => {
        newest = Math.max(newest, written.revision);
        // Literals rather than create(): a batch makes one per item, and a literal costs a
        // tenth as much.
        results[i] = {
          $typeName: "chime.v1.BatchScheduleResult",
          outcome: {
            case: "created",
            value: {
              $typeName: "chime.v1.CreatedSchedule",
              scheduleId: written.id,
              created: written.created,
              replaced: written.replaced ?? false,
            },
          },
        };
      };
      const write = (): Promise<void> => {
        try {
          return this.writeSchedule(draft, now, access).then(stored, (err: unknown) =>
            refuse(i, err),
          );
        } catch (err) {
          refuse(i, err);
          return Promise.resolve();
        }
      };
      if (draft.name === undefined) return write();
      const done = (byName.get(draft.name) ?? Promise.resolve()).then(write);
      byName.set(draft.name, done);
      return done;
    };
    // A window of writes rather than all at once: items are validated as they are written,
    // so only a window's worth of drafts and pending writes is alive when the young
    // generation is collected, not the whole batch (which it would copy and promote).
    let next = 0;
    const writer = async (): Promise<void> => {
      while (next < req.items.length) await store(next++);
    };
    await Promise.all(
      Array.from({ length: Math.min(BATCH_WRITE_WINDOW, req.items.length) }, writer),
    );
    // As with a single create: once the reply is out, reads on this replica see the schedules.
    await this.deps.catalog.waitForRevision(newest);
    return create(BatchScheduleResponseSchema, { results });
  }

  private validateItem(item: BatchScheduleItem, now: number): ScheduleDraft {
    const { request } = item;
    switch (request.case) {
      case "byTime":
        return this.deps.validator.byTime(request.value, now);
      case "byCron":
        return this.deps.validator.byCron(request.value, now);
      case "byInterval":
        return this.deps.validator.byInterval(request.value, now);
      default:
        throw new InvalidFieldError("request", "is required (by_time, by_cron or by_interval)");
    }
  }

  /**
   * Stores a new schedule (or follows the name's conflict policy); does not wait to see it.
   * Not async: a schedule without a name (most of a batch) goes through one promise, not three.
   */
  private writeSchedule(draft: ScheduleDraft, now: number, access: Access): Promise<Written> {
    if (draft.name === undefined) {
      const schedule = this.stampNew(draft, now, access);
      const id = schedule.scheduleId;
      return this.createNew(schedule, schedule.namespace).then((revision) => {
        access.note(id);
        return { id, revision, created: true, stored: schedule };
      });
    }
    return this.writeNamed(draft, draft.name, now, access).then((written) => {
      access.note(written.id);
      return written;
    });
  }

  private async writeNamed(
    draft: ScheduleDraft,
    name: string,
    now: number,
    access: Access,
  ): Promise<Written> {
    const schedule = this.stampNew(draft, now, access);
    const id = schedule.scheduleId;
    const namespace = schedule.namespace;
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const claimed = await this.deps.store.claimName(namespace, name, id);
      if (claimed !== null) {
        // Counted only now: a name that exists (KEEP, REPLACE) adds nothing to the namespace.
        const revision = await this.createNew(schedule, namespace, () =>
          this.deps.store.releaseName(namespace, name, claimed),
        );
        return { id, revision, created: true, stored: schedule };
      }
      const existing = await this.existingForName(namespace, name);
      if (existing === null) continue;
      switch (draft.conflictPolicy) {
        case ConflictPolicy.FAIL:
          throw new AlreadyExistsError(
            `name: a schedule named ${JSON.stringify(name)} already exists (schedule_id ${existing.id})`,
          );
        case ConflictPolicy.REPLACE: {
          access.requireManage(existing.outline);
          const replaced = await this.replace(existing, schedule, now);
          if (replaced === null) continue;
          // The old definition stops firing as its owner applies the change, not before.
          await this.ownerApplied(existing.partition, replaced);
          return {
            id: existing.id,
            revision: replaced,
            created: true,
            replaced: true,
          };
        }
        default:
          return {
            id: existing.id,
            revision: existing.revision,
            created: false,
          };
      }
    }
    throw new RevisionConflictError(`name ${name}`);
  }

  /** The draft's schedule, under a new id in the caller's namespace, ready to store. */
  private stampNew(draft: ScheduleDraft, now: number, access: Access): Schedule {
    const schedule = draft.schedule;
    access.requireSubject(schedule.subject);
    this.requireNats();
    const id = newScheduleId(now);
    schedule.namespace = access.home;
    schedule.scheduleId = id;
    schedule.partition = this.deps.store.partitionOf(id);
    schedule.createdAt = timestampAt(now);
    stampDefinition(schedule, now);
    return schedule;
  }

  /**
   * Stores a schedule that adds one to its namespace, or refuses it with RESOURCE_EXHAUSTED
   * when the namespace holds --max-schedules-per-namespace already (calling `release` first,
   * to free what the create had claimed). Creates this replica has stored but not yet applied
   * count too, so a batch or concurrent calls here cannot pass the limit together; creates
   * racing on other replicas can, each counting what it has applied (README, "Security").
   */
  private createNew(
    schedule: Schedule,
    namespace: string,
    release?: () => Promise<unknown>,
  ): Promise<number> {
    const limit = this.deps.maxSchedulesPerNamespace ?? 0;
    if (limit === 0) return this.deps.store.create(schedule);
    return this.createWithinLimit(schedule, namespace, limit, release);
  }

  private async createWithinLimit(
    schedule: Schedule,
    namespace: string,
    limit: number,
    release?: () => Promise<unknown>,
  ): Promise<number> {
    const inFlight = this.creating.get(namespace) ?? 0;
    if (this.deps.catalog.countIn(namespace) + inFlight >= limit) {
      await release?.().catch((err: unknown) => {
        if (!(err instanceof RevisionConflictError)) throw err;
      });
      throw new LimitReachedError(
        `namespace ${namespace} holds the most schedules allowed, ${limit} (--max-schedules-per-namespace); unschedule some first`,
      );
    }
    this.creating.set(namespace, inFlight + 1);
    const settle = (): void => {
      const left = (this.creating.get(namespace) ?? 1) - 1;
      if (left > 0) this.creating.set(namespace, left);
      else this.creating.delete(namespace);
    };
    let revision: number;
    try {
      revision = await this.deps.store.create(schedule);
    } catch (err) {
      settle();
      throw err;
    }
    // From the revision on, the catalog's count holds it.
    void this.deps.catalog.waitForRevision(revision).then(settle);
    return revision;
  }

  /** The stored schedule a taken name points at, or null after clearing a dangling name. */
  private async existingForName(namespace: string, name: string): Promise<CatalogRecord | null> {
    const claim = await this.deps.store.readName(namespace, name);
    if (claim === null) return null;
    const deadline = this.now() + DANGLING_NAME_GRACE_MS;
    for (;;) {
      const found = await this.deps.store.get(this.deps.store.partitionOf(claim.id), claim.id);
      if (found !== null) return found;
      if (this.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    this.deps.log.warn(
      { namespace, name, scheduleId: claim.id },
      "releasing a name whose schedule was never stored",
    );
    await this.deps.store.releaseName(namespace, name, claim.revision).catch((err: unknown) => {
      if (!(err instanceof RevisionConflictError)) throw err;
    });
    return null;
  }

  /** REPLACE: the new definition under the existing id, progress carried over. */
  private async replace(
    existing: CatalogRecord,
    draft: Schedule,
    now: number,
  ): Promise<number | null> {
    // Its creation time is carried over: read whole, from the store if the record is shed.
    const old = await this.deps.catalog.schedule(existing);
    if (old === undefined) return null;
    const progress = this.standingOf(existing, old);
    const schedule = clone(ScheduleSchema, draft);
    schedule.scheduleId = old.scheduleId;
    schedule.partition = old.partition;
    schedule.createdAt = old.createdAt;
    schedule.fireCount = BigInt(progress.fireCount);
    schedule.manualFireCount = BigInt(progress.manualFires);
    schedule.lastFireAt = timestampOf(progress.lastFireAt);
    // Counted in fire_count already: dropped, a crash before they land would leave them unsent.
    schedule.pendingManualFires = old.pendingManualFires;
    stampDefinition(schedule, now);
    try {
      return await this.deps.store.update(schedule, existing.revision);
    } catch (err) {
      if (err instanceof RevisionConflictError) return null;
      throw err;
    }
  }

  private async created(written: Written, access: Access): Promise<CreatedSchedule> {
    const { id, revision } = written;
    await this.deps.catalog.waitForRevision(revision);
    const record = this.mustFind({ case: "scheduleId", value: id }, access);
    // Still the revision this call stored (nothing changed it since): what it stored is what
    // a decode would give, so the reply is built from that.
    const stored = record.revision === revision ? written.stored : undefined;
    return create(CreatedScheduleSchema, {
      scheduleId: id,
      created: written.created,
      replaced: written.replaced ?? false,
      schedule: await this.view(record, DEFAULT_NEXT_FIRE_COUNT, stored),
    });
  }

  private async unschedule(target: Target, access: Access): Promise<UnscheduleResponse> {
    this.requireNats();
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const record = this.find(target, access);
      if (record === undefined) return create(UnscheduleResponseSchema, { existed: false });
      const schedule = record.outline;
      access.requireManage(schedule);
      try {
        const revision = await this.deps.store.delete(
          schedule.partition,
          schedule.scheduleId,
          record.revision,
        );
        if (schedule.name !== "") await this.releaseNameOf(schedule);
        // The owner drops the schedule as it applies this revision: after it, no new fire starts.
        await this.ownerApplied(schedule.partition, revision);
        access.note(schedule.scheduleId);
        this.deps.log.info({ scheduleId: schedule.scheduleId }, "unscheduled");
        return create(UnscheduleResponseSchema, { existed: true });
      } catch (err) {
        if (!(err instanceof RevisionConflictError)) throw err;
        await this.catchUpWithStore();
      }
    }
    throw new RevisionConflictError(`schedule ${describe(target)}`);
  }

  private async releaseNameOf(schedule: Schedule): Promise<void> {
    const namespace = namespaceOf(schedule);
    const claim = await this.deps.store.readName(namespace, schedule.name);
    if (claim === null || claim.id !== schedule.scheduleId) return;
    await this.deps.store
      .releaseName(namespace, schedule.name, claim.revision)
      .catch((err: unknown) => {
        if (!(err instanceof RevisionConflictError)) throw err;
      });
  }

  private async getSchedule(req: GetScheduleRequest, access: Access): Promise<Schedule> {
    if (req.nextFireCount > MAX_NEXT_FIRE_COUNT) {
      throw new InvalidFieldError("next_fire_count", `must be at most ${MAX_NEXT_FIRE_COUNT}`);
    }
    if (req.recentFireCount > MAX_RECENT_FIRE_COUNT) {
      throw new InvalidFieldError("recent_fire_count", `must be at most ${MAX_RECENT_FIRE_COUNT}`);
    }
    const record = this.mustFind(req.target, access);
    const schedule = await this.view(record, req.nextFireCount || DEFAULT_NEXT_FIRE_COUNT);
    // Only on request: reading the history back costs a few reads of the task stream.
    if (req.recentFireCount > 0)
      schedule.recentFires = await this.recentFires(schedule, req.recentFireCount);
    return schedule;
  }

  /** Best effort: the schedule itself is answered from memory even when NATS cannot say more. */
  private async recentFires(schedule: Schedule, count: number): Promise<FireRecord[]> {
    const history = this.deps.fireHistory;
    if (history === undefined || schedule.fireCount === 0n || !this.deps.natsConnected()) return [];
    try {
      return await history.recent(schedule.scheduleId, schedule.subject, count);
    } catch (err) {
      this.deps.log.debug({ err, scheduleId: schedule.scheduleId }, "recent fires unavailable");
      return [];
    }
  }

  private async listSchedules(
    req: ListSchedulesRequest,
    access: Access,
  ): Promise<ListSchedulesResponse> {
    const maxPageSize = this.deps.validator.maxPageSize;
    if (req.pageSize > maxPageSize) {
      throw new InvalidFieldError("page_size", `must be at most ${maxPageSize} (--max-page-size)`);
    }
    for (const state of req.states) {
      if (ScheduleState[state] === undefined)
        throw new InvalidFieldError("states", `has no value ${state}`);
    }
    const pageSize = req.pageSize || DEFAULT_PAGE_SIZE;
    const after = req.pageToken === "" ? "" : decodePageToken(req.pageToken);
    const states = new Set(req.states);
    const labels = Object.entries(req.labels);
    const nameNeedle = req.nameContains.toLowerCase();
    const filtered =
      req.subjectPrefix !== "" || labels.length > 0 || nameNeedle !== "" || states.size > 0;
    const page: CatalogRecord[] = [];
    let more = false;
    for (const id of this.deps.catalog.idsAfter(after)) {
      const record = this.deps.catalog.get(id);
      if (record === undefined) continue;
      // The namespace alone is read without decoding; the rest only when a filter asks.
      if (!access.seesAllNamespaces && !access.sees(namespaceOfEncoded(record.bytes()))) continue;
      if (filtered) {
        const s = record.outline;
        if (req.subjectPrefix !== "" && !s.subject.startsWith(req.subjectPrefix)) continue;
        if (labels.some(([k, v]) => s.labels[k] !== v)) continue;
        if (nameNeedle !== "" && !s.name.toLowerCase().includes(nameNeedle)) continue;
        if (states.size > 0 && !states.has(stateOf(this.standingOf(record, s).state))) continue;
      }
      if (page.length === pageSize) {
        more = true;
        break;
      }
      page.push(record);
    }
    const last = page[page.length - 1];
    return create(ListSchedulesResponseSchema, {
      // Shed records are read back from the store together, not one after another.
      schedules: await Promise.all(page.map((record) => this.view(record, 0))),
      nextPageToken: more && last !== undefined ? encodePageToken(last.id) : "",
    });
  }

  private async pause(target: Target, access: Access): Promise<Schedule> {
    return this.changeState(target, access, (schedule, progress, now) => {
      if (progress.state === ProgressState.paused) return false;
      if (progress.state === ProgressState.completed) {
        throw new PreconditionError(
          `schedule ${schedule.scheduleId} is completed and cannot be paused`,
        );
      }
      schedule.state = ScheduleState.PAUSED;
      schedule.pausedAt = timestampAt(now);
      return true;
    });
  }

  private async resume(target: Target, access: Access): Promise<Schedule> {
    return this.changeState(target, access, (schedule, progress, now) => {
      if (progress.state === ProgressState.active) return false;
      if (progress.state === ProgressState.completed) {
        throw new PreconditionError(
          `schedule ${schedule.scheduleId} is completed and cannot be resumed`,
        );
      }
      schedule.state = ScheduleState.ACTIVE;
      schedule.pausedAt = undefined;
      // Occurrences while it was paused are skipped: the timetable goes on from now.
      schedule.progressAt = timestampAt(now);
      return true;
    });
  }

  /** Applies `change` to the stored schedule (compare-and-set, retried); unchanged: no write. */
  private async changeState(
    target: Target,
    access: Access,
    change: (schedule: Schedule, progress: Progress, now: number) => boolean,
  ): Promise<Schedule> {
    this.requireNats();
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const record = this.mustFind(target, access);
      access.requireManage(record.outline);
      // Written back whole, so read whole: a shed record's payload comes from the store.
      const schedule = await this.deps.catalog.schedule(record);
      if (schedule === undefined) {
        await this.catchUpWithStore();
        continue;
      }
      const progress = this.progressOf(record, schedule);
      schedule.fireCount = BigInt(progress.fireCount);
      schedule.manualFireCount = BigInt(progress.manualFires);
      schedule.lastFireAt = timestampOf(progress.lastFireAt);
      schedule.progressAt = timestampOf(progress.progressAt);
      const now = this.now();
      if (!change(schedule, progress, now))
        return this.view(record, DEFAULT_NEXT_FIRE_COUNT, schedule);
      schedule.updatedAt = timestampAt(now);
      try {
        const revision = await this.deps.store.update(schedule, record.revision);
        await this.ownerApplied(schedule.partition, revision);
        access.note(schedule.scheduleId);
        this.deps.log.info(
          { scheduleId: schedule.scheduleId, state: ScheduleState[schedule.state] },
          "state changed",
        );
        return await this.view(
          this.mustFind({ case: "scheduleId", value: schedule.scheduleId }, access),
          DEFAULT_NEXT_FIRE_COUNT,
        );
      } catch (err) {
        if (!(err instanceof RevisionConflictError)) throw err;
        await this.catchUpWithStore();
      }
    }
    throw new RevisionConflictError(`schedule ${describe(target)}`);
  }

  private async trigger(target: Target, access: Access): Promise<TriggerScheduleResponse> {
    this.requireNats();
    const record = this.mustFind(target, access);
    access.requireManage(record.outline);
    const { id: scheduleId, partition } = record;
    access.note(scheduleId);
    const owner = this.deps.ownership.holderOf(partition);
    if (owner === undefined) {
      throw new UnavailableError(
        `partition ${partition} has no owner right now; try again shortly`,
      );
    }
    try {
      const fire =
        owner === this.deps.replicaId
          ? await this.deps.engine.trigger(scheduleId)
          : await this.deps.ownership.triggerAt(owner, scheduleId);
      return create(TriggerScheduleResponseSchema, {
        scheduleId,
        firedAt: timestampAt(fire.firedAt),
        messageId: fire.messageId,
        streamSequence: BigInt(fire.streamSequence),
      });
    } catch (err) {
      if (
        err instanceof UnknownScheduleError ||
        (err instanceof Error && err.name === UnknownScheduleError.name)
      ) {
        throw this.notFound(target);
      }
      throw err;
    }
  }

  /**
   * The schedule as clients see it: stored definition plus where it stands now. `decoded` is
   * the record's complete schedule if the caller has it already (it is changed into the
   * view); the catalog decodes a fresh copy on every read, so that one needs no clone either.
   */
  private async view(
    record: CatalogRecord,
    nextFireCount: number,
    decoded?: Schedule,
  ): Promise<Schedule> {
    if (decoded !== undefined) return this.viewOf(record, nextFireCount, decoded);
    let current = record;
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const schedule = await this.deps.catalog.schedule(current);
      if (schedule !== undefined) return this.viewOf(current, nextFireCount, schedule);
      // Changed or deleted since it was found: the view is of the record as it is now.
      await this.catchUpWithStore();
      const newer = this.deps.catalog.get(record.id);
      if (newer === undefined) throw this.notFound({ case: "scheduleId", value: record.id });
      current = newer;
    }
    throw new RevisionConflictError(`schedule ${record.id}`);
  }

  private viewOf(record: CatalogRecord, nextFireCount: number, schedule: Schedule): Schedule {
    const progress = this.standingOf(record, schedule);
    schedule.state = stateOf(progress.state);
    schedule.fireCount = BigInt(progress.fireCount);
    schedule.manualFireCount = BigInt(progress.manualFires);
    schedule.lastFireAt = timestampOf(progress.lastFireAt);
    schedule.nextFireAt = timestampOf(progress.nextDue);
    schedule.progressAt = undefined;
    schedule.namespace = namespaceOf(schedule);
    schedule.owner = this.deps.ownership.holderOf(schedule.partition) ?? "";
    if (nextFireCount > 0) {
      schedule.nextFireTimes = this.deps.engine
        .upcoming(schedule.scheduleId, nextFireCount)
        .map((due) => timestampAt(due));
    }
    return schedule;
  }

  /** `schedule`: the record's, if the caller has decoded it already (it is only read). */
  private progressOf(record: CatalogRecord, schedule?: Schedule): Progress {
    return this.deps.engine.progressOf(record.id) ?? this.derivedProgress(record, schedule);
  }

  /** `progressOf` as a reply tells it, which the engine answers for less. */
  private standingOf(record: CatalogRecord, schedule?: Schedule): Standing {
    return this.deps.engine.standingOf(record.id) ?? this.derivedProgress(record, schedule);
  }

  /** The progress of a schedule the engine does not hold, from its record and watermark. */
  private derivedProgress(record: CatalogRecord, schedule?: Schedule): Progress {
    const definition = schedule ?? record.outline;
    const watermark = this.deps.catalog.watermark(definition.partition);
    const known = watermark !== undefined && record.revision <= watermark.revision;
    return deriveProgress(definition, planOf(definition), known ? watermark.dueAt : undefined);
  }

  /** Another namespace's schedule is not found, exactly as one that does not exist. */
  private find(target: Target, access: Access): CatalogRecord | undefined {
    switch (target.case) {
      case "scheduleId": {
        if (!isScheduleId(target.value)) {
          throw new InvalidFieldError(
            "schedule_id",
            "is not a schedule id (26 characters of Crockford base32)",
          );
        }
        const record = this.deps.catalog.get(target.value);
        if (record === undefined) return undefined;
        // The namespace alone, read without decoding the rest of the schedule.
        return access.seesAllNamespaces || access.sees(namespaceOfEncoded(record.bytes()))
          ? record
          : undefined;
      }
      case "name": {
        this.deps.validator.checkName(target.value);
        const entry = this.deps.catalog.name(access.home, target.value);
        return entry === undefined ? undefined : this.deps.catalog.get(entry.id);
      }
      default:
        throw new InvalidFieldError("schedule_id", "or name is required");
    }
  }

  private mustFind(target: Target, access: Access): CatalogRecord {
    const record = this.find(target, access);
    if (record === undefined) throw this.notFound(target);
    return record;
  }

  private notFound(target: Target): NotFoundError {
    return new NotFoundError(`schedule ${describe(target)} not found`);
  }

  /** Waits until this replica, and the partition's owner if another, have applied `revision`. */
  private async ownerApplied(partition: number, revision: number): Promise<void> {
    await this.deps.catalog.waitForRevision(revision);
    // Read after the write: a replica that takes the partition over from here on loads the
    // store from a revision at least this one, so only the holder now can still fire the old
    // definition. The lease watch could still show the previous holder, or none.
    const owner = await this.deps.ownership
      .currentHolderOf(partition)
      .catch(() => this.deps.ownership.holderOf(partition));
    if (owner !== undefined && owner !== this.deps.replicaId) {
      await this.deps.ownership.appliedBy(owner, revision);
    }
  }

  private requireNats(): void {
    if (!this.deps.natsConnected()) throw new UnavailableError("not connected; try again shortly");
  }

  /** After a lost compare-and-set, waits until this replica has seen the winning write. */
  private async catchUpWithStore(): Promise<void> {
    await this.deps.catalog.waitForRevision(await this.deps.store.lastRevision());
  }
}

/** Marks a definition as written now: its timetable starts here. */
function stampDefinition(schedule: Schedule, now: number): void {
  schedule.updatedAt = timestampAt(now);
  schedule.definedAt = timestampAt(now);
  schedule.state = ScheduleState.ACTIVE;
  schedule.pausedAt = undefined;
  const at = schedule.trigger.case === "time" ? msOf(schedule.trigger.value.at) : undefined;
  // Occurrences after progress_at are still to fire; a one-shot in the recent past is one.
  schedule.progressAt = timestampAt(Math.min(at ?? now, now) - 1);
}

function stateOf(state: ProgressState): ScheduleState {
  switch (state) {
    case ProgressState.paused:
      return ScheduleState.PAUSED;
    case ProgressState.completed:
      return ScheduleState.COMPLETED;
    default:
      return ScheduleState.ACTIVE;
  }
}

function describe(target: Target): string {
  return target.case === "name" ? `named ${JSON.stringify(target.value)}` : String(target.value);
}
