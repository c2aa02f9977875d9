import { clone, create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  ConflictPolicy,
  type CreatedSchedule,
  CreatedScheduleSchema,
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
import type { ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import { type Engine, type ManualFire, UnknownScheduleError } from "../engine/engine.js";
import { deriveProgress, type Progress, ProgressState } from "../engine/progress.js";
import { planOf } from "../engine/schedule-plan.js";
import { msOf, timestampOf } from "../proto-time.js";
import type { Catalog, CatalogRecord } from "../store/catalog.js";
import { isScheduleId, newScheduleId } from "../store/schedule-id.js";
import type { ScheduleStore } from "../store/schedule-store.js";
import { RevisionConflictError } from "../store/store-errors.js";
import {
  AlreadyExistsError,
  InvalidFieldError,
  NotFoundError,
  PreconditionError,
  toConnectError,
  UnavailableError,
} from "./api-errors.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import type { RequestValidator, ScheduleDraft } from "./request-validation.js";

/** Who fires which partition, and how to reach them (the replica group). */
export interface Ownership {
  holderOf(partition: number): string | undefined;
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
  readonly log: Logger;
  readonly now?: () => number;
}

type Target =
  | { case: "scheduleId"; value: string }
  | { case: "name"; value: string }
  | { case: undefined; value?: undefined };

const DEFAULT_PAGE_SIZE = 100;
const DEFAULT_NEXT_FIRE_COUNT = 5;
const MAX_NEXT_FIRE_COUNT = 100;
// How long a name may point at a schedule that is not stored before it is taken as left
// over from a create that died half-way (a concurrent create stores its schedule sooner).
const DANGLING_NAME_GRACE_MS = 2_000;
const MAX_WRITE_ATTEMPTS = 5;

/** The chime.v1.SchedulerService: one implementation behind gRPC, gRPC-Web and Connect. */
export class SchedulerApi {
  private readonly now: () => number;

  constructor(private readonly deps: SchedulerApiDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The service as Connect and the gRPC binding take it; every error leaves as a ConnectError. */
  service(): ServiceImpl<typeof SchedulerService> {
    const guard =
      <Req, Res>(method: (req: Req) => Promise<Res>) =>
      async (req: Req): Promise<Res> => {
        try {
          return await method.call(this, req);
        } catch (err) {
          throw toConnectError(err);
        }
      };
    return {
      scheduleByTime: guard((req) => this.create((now) => this.deps.validator.byTime(req, now))),
      scheduleByCron: guard((req) => this.create((now) => this.deps.validator.byCron(req, now))),
      scheduleByInterval: guard((req) =>
        this.create((now) => this.deps.validator.byInterval(req, now)),
      ),
      unschedule: guard((req) => this.unschedule(req.target)),
      getSchedule: guard((req) => this.getSchedule(req)),
      listSchedules: guard((req) => this.listSchedules(req)),
      pauseSchedule: guard((req) => this.pause(req.target)),
      resumeSchedule: guard((req) => this.resume(req.target)),
      triggerSchedule: guard((req) => this.trigger(req.target)),
    };
  }

  /** One clock reading per request: validation and the stored times agree to the ms. */
  private create(validate: (now: number) => ScheduleDraft): Promise<CreatedSchedule> {
    const now = this.now();
    return this.createSchedule(validate(now), now);
  }

  private async createSchedule(draft: ScheduleDraft, now: number): Promise<CreatedSchedule> {
    this.requireNats();
    const id = newScheduleId(now);
    const schedule = draft.schedule;
    schedule.scheduleId = id;
    schedule.partition = this.deps.store.partitionOf(id);
    schedule.createdAt = timestampFromMs(now);
    stampDefinition(schedule, now);
    if (draft.name === undefined) {
      const revision = await this.deps.store.create(schedule);
      return this.created(id, revision, { created: true });
    }
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const claimed = await this.deps.store.claimName(draft.name, id);
      if (claimed !== null) {
        const revision = await this.deps.store.create(schedule);
        return this.created(id, revision, { created: true });
      }
      const existing = await this.existingForName(draft.name);
      if (existing === null) continue;
      switch (draft.conflictPolicy) {
        case ConflictPolicy.FAIL:
          throw new AlreadyExistsError(
            `name: a schedule named ${JSON.stringify(draft.name)} already exists (schedule_id ${existing.schedule.scheduleId})`,
          );
        case ConflictPolicy.REPLACE: {
          const replaced = await this.replace(existing, schedule, now);
          if (replaced === null) continue;
          return this.created(existing.schedule.scheduleId, replaced, {
            created: true,
            replaced: true,
          });
        }
        default:
          return this.created(existing.schedule.scheduleId, existing.revision, { created: false });
      }
    }
    throw new RevisionConflictError(`name ${draft.name}`);
  }

  /** The stored schedule a taken name points at, or null after clearing a dangling name. */
  private async existingForName(name: string): Promise<CatalogRecord | null> {
    const claim = await this.deps.store.readName(name);
    if (claim === null) return null;
    const deadline = this.now() + DANGLING_NAME_GRACE_MS;
    for (;;) {
      const found = await this.deps.store.get(this.deps.store.partitionOf(claim.id), claim.id);
      if (found !== null) return found;
      if (this.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    this.deps.log.warn(
      { name, scheduleId: claim.id },
      "releasing a name whose schedule was never stored",
    );
    await this.deps.store.releaseName(name, claim.revision).catch((err: unknown) => {
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
    const old = existing.schedule;
    const progress = this.progressOf(existing);
    const schedule = clone(ScheduleSchema, draft);
    schedule.scheduleId = old.scheduleId;
    schedule.partition = old.partition;
    schedule.createdAt = old.createdAt;
    schedule.fireCount = BigInt(progress.fireCount);
    schedule.manualFireCount = BigInt(progress.manualFires);
    schedule.lastFireAt = timestampOf(progress.lastFireAt);
    stampDefinition(schedule, now);
    try {
      return await this.deps.store.update(schedule, existing.revision);
    } catch (err) {
      if (err instanceof RevisionConflictError) return null;
      throw err;
    }
  }

  private async created(
    id: string,
    revision: number,
    outcome: { created: boolean; replaced?: boolean },
  ): Promise<CreatedSchedule> {
    await this.deps.catalog.waitForRevision(revision);
    return create(CreatedScheduleSchema, {
      scheduleId: id,
      created: outcome.created,
      replaced: outcome.replaced ?? false,
      schedule: this.view(
        this.mustFind({ case: "scheduleId", value: id }),
        DEFAULT_NEXT_FIRE_COUNT,
      ),
    });
  }

  private async unschedule(target: Target): Promise<UnscheduleResponse> {
    this.requireNats();
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const record = this.find(target);
      if (record === undefined) return create(UnscheduleResponseSchema, { existed: false });
      const { schedule } = record;
      try {
        const revision = await this.deps.store.delete(
          schedule.partition,
          schedule.scheduleId,
          record.revision,
        );
        if (schedule.name !== "") await this.releaseNameOf(schedule);
        // The owner drops the schedule as it applies this revision: after it, no new fire starts.
        await this.ownerApplied(schedule.partition, revision);
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
    const claim = await this.deps.store.readName(schedule.name);
    if (claim === null || claim.id !== schedule.scheduleId) return;
    await this.deps.store.releaseName(schedule.name, claim.revision).catch((err: unknown) => {
      if (!(err instanceof RevisionConflictError)) throw err;
    });
  }

  private async getSchedule(req: GetScheduleRequest): Promise<Schedule> {
    if (req.nextFireCount > MAX_NEXT_FIRE_COUNT) {
      throw new InvalidFieldError("next_fire_count", `must be at most ${MAX_NEXT_FIRE_COUNT}`);
    }
    const record = this.mustFind(req.target);
    return this.view(record, req.nextFireCount || DEFAULT_NEXT_FIRE_COUNT);
  }

  private async listSchedules(req: ListSchedulesRequest): Promise<ListSchedulesResponse> {
    const maxPageSize = this.deps.validator.maxPageSize;
    if (req.pageSize > maxPageSize) {
      throw new InvalidFieldError("page_size", `must be at most ${maxPageSize}`);
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
    const page: Schedule[] = [];
    let more = false;
    for (const id of this.deps.catalog.idsAfter(after)) {
      const record = this.deps.catalog.get(id);
      if (record === undefined) continue;
      const s = record.schedule;
      if (req.subjectPrefix !== "" && !s.subject.startsWith(req.subjectPrefix)) continue;
      if (labels.some(([k, v]) => s.labels[k] !== v)) continue;
      if (nameNeedle !== "" && !s.name.toLowerCase().includes(nameNeedle)) continue;
      const view = states.size === 0 ? undefined : this.view(record, 0);
      if (view !== undefined && !states.has(view.state)) continue;
      if (page.length === pageSize) {
        more = true;
        break;
      }
      page.push(view ?? this.view(record, 0));
    }
    const last = page[page.length - 1];
    return create(ListSchedulesResponseSchema, {
      schedules: page,
      nextPageToken: more && last !== undefined ? encodePageToken(last.scheduleId) : "",
    });
  }

  private async pause(target: Target): Promise<Schedule> {
    return this.changeState(target, (schedule, progress, now) => {
      if (progress.state === ProgressState.paused) return false;
      if (progress.state === ProgressState.completed) {
        throw new PreconditionError(
          `schedule ${schedule.scheduleId} is completed and cannot be paused`,
        );
      }
      schedule.state = ScheduleState.PAUSED;
      schedule.pausedAt = timestampFromMs(now);
      return true;
    });
  }

  private async resume(target: Target): Promise<Schedule> {
    return this.changeState(target, (schedule, progress, now) => {
      if (progress.state === ProgressState.active) return false;
      if (progress.state === ProgressState.completed) {
        throw new PreconditionError(
          `schedule ${schedule.scheduleId} is completed and cannot be resumed`,
        );
      }
      schedule.state = ScheduleState.ACTIVE;
      schedule.pausedAt = undefined;
      // Occurrences while it was paused are skipped: the timetable goes on from now.
      schedule.progressAt = timestampFromMs(now);
      return true;
    });
  }

  /** Applies `change` to the stored schedule (compare-and-set, retried); unchanged: no write. */
  private async changeState(
    target: Target,
    change: (schedule: Schedule, progress: Progress, now: number) => boolean,
  ): Promise<Schedule> {
    this.requireNats();
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const record = this.mustFind(target);
      const progress = this.progressOf(record);
      const schedule = clone(ScheduleSchema, record.schedule);
      schedule.fireCount = BigInt(progress.fireCount);
      schedule.manualFireCount = BigInt(progress.manualFires);
      schedule.lastFireAt = timestampOf(progress.lastFireAt);
      schedule.progressAt = timestampOf(progress.progressAt);
      const now = this.now();
      if (!change(schedule, progress, now)) return this.view(record, DEFAULT_NEXT_FIRE_COUNT);
      schedule.updatedAt = timestampFromMs(now);
      try {
        const revision = await this.deps.store.update(schedule, record.revision);
        await this.ownerApplied(schedule.partition, revision);
        this.deps.log.info(
          { scheduleId: schedule.scheduleId, state: ScheduleState[schedule.state] },
          "state changed",
        );
        return this.view(
          this.mustFind({ case: "scheduleId", value: schedule.scheduleId }),
          DEFAULT_NEXT_FIRE_COUNT,
        );
      } catch (err) {
        if (!(err instanceof RevisionConflictError)) throw err;
        await this.catchUpWithStore();
      }
    }
    throw new RevisionConflictError(`schedule ${describe(target)}`);
  }

  private async trigger(target: Target): Promise<TriggerScheduleResponse> {
    this.requireNats();
    const record = this.mustFind(target);
    const { scheduleId, partition } = record.schedule;
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
        scheduleId: record.schedule.scheduleId,
        firedAt: timestampFromMs(fire.firedAt),
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

  /** The schedule as clients see it: stored definition plus where it stands now. */
  private view(record: CatalogRecord, nextFireCount: number): Schedule {
    const schedule = clone(ScheduleSchema, record.schedule);
    const progress = this.progressOf(record);
    schedule.state = stateOf(progress.state);
    schedule.fireCount = BigInt(progress.fireCount);
    schedule.manualFireCount = BigInt(progress.manualFires);
    schedule.lastFireAt = timestampOf(progress.lastFireAt);
    schedule.nextFireAt = timestampOf(progress.nextDue);
    schedule.progressAt = undefined;
    schedule.owner = this.deps.ownership.holderOf(schedule.partition) ?? "";
    if (nextFireCount > 0) {
      schedule.nextFireTimes = this.deps.engine
        .upcoming(schedule.scheduleId, nextFireCount)
        .map((due) => timestampFromMs(due));
    }
    return schedule;
  }

  private progressOf(record: CatalogRecord): Progress {
    const live = this.deps.engine.progressOf(record.schedule.scheduleId);
    if (live !== undefined) return live;
    const watermark = this.deps.catalog.watermark(record.schedule.partition);
    const known = watermark !== undefined && record.revision <= watermark.revision;
    return deriveProgress(
      record.schedule,
      planOf(record.schedule),
      known ? watermark.dueAt : undefined,
    );
  }

  private find(target: Target): CatalogRecord | undefined {
    switch (target.case) {
      case "scheduleId":
        if (!isScheduleId(target.value)) {
          throw new InvalidFieldError(
            "schedule_id",
            "is not a schedule id (26 characters of Crockford base32)",
          );
        }
        return this.deps.catalog.get(target.value);
      case "name": {
        this.deps.validator.checkName(target.value);
        const entry = this.deps.catalog.name(target.value);
        return entry === undefined ? undefined : this.deps.catalog.get(entry.id);
      }
      default:
        throw new InvalidFieldError("schedule_id", "or name is required");
    }
  }

  private mustFind(target: Target): CatalogRecord {
    const record = this.find(target);
    if (record === undefined) throw this.notFound(target);
    return record;
  }

  private notFound(target: Target): NotFoundError {
    return new NotFoundError(`schedule ${describe(target)} not found`);
  }

  /** Waits until this replica, and the partition's owner if another, have applied `revision`. */
  private async ownerApplied(partition: number, revision: number): Promise<void> {
    await this.deps.catalog.waitForRevision(revision);
    const owner = this.deps.ownership.holderOf(partition);
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
  schedule.updatedAt = timestampFromMs(now);
  schedule.definedAt = timestampFromMs(now);
  schedule.state = ScheduleState.ACTIVE;
  schedule.pausedAt = undefined;
  const at = schedule.trigger.case === "time" ? msOf(schedule.trigger.value.at) : undefined;
  // Occurrences after progress_at are still to fire; a one-shot in the recent past is one.
  schedule.progressAt = timestampFromMs(Math.min(at ?? now, now) - 1);
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
