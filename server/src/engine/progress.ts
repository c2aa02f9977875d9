import { type Schedule, ScheduleState } from "@chime/sdk";
import { msOf } from "../proto-time.js";
import type { Instant } from "../spec/index.js";
import { dueOf, nextNominal, type SchedulePlan } from "./schedule-plan.js";

export const ProgressState = {
  active: "active",
  paused: "paused",
  completed: "completed",
} as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

/** Where a schedule stands: how many fires it has had and which one comes next. */
export interface Progress {
  readonly state: ProgressState;
  readonly fireCount: number;
  /** How many of them were manual: those do not count toward max_fires. */
  readonly manualFires: number;
  readonly lastFireAt: Instant | undefined;
  /** Occurrences with a nominal time at or before this are accounted for. */
  readonly progressAt: Instant;
  /** The next occurrence (active only). */
  readonly nextNominal: Instant | undefined;
  readonly nextDue: Instant | undefined;
}

/** What a reply tells of a schedule: `Progress` without what only a write of it needs. */
export type Standing = Pick<
  Progress,
  "state" | "fireCount" | "manualFires" | "lastFireAt" | "nextDue"
>;

// Beyond this many fires behind a stored record, its count is rebuilt no further: the
// engine checkpoints long before a schedule gets that far behind its record.
const MAX_REPLAYED_FIRES = 1_000_000;

/**
 * Rebuilds a schedule's progress from its stored record and its partition's watermark:
 * every occurrence after the record's progress_at that was due at or before the watermark
 * has been published. Pure, so any replica computes the same from the same store.
 *
 * `watermark` must be omitted when the record is newer than the revision the watermark
 * speaks for.
 */
export function deriveProgress(
  schedule: Schedule,
  plan: SchedulePlan,
  watermark: Instant | undefined,
): Progress {
  const base = {
    fireCount: Number(schedule.fireCount),
    manualFires: Number(schedule.manualFireCount),
    lastFireAt: msOf(schedule.lastFireAt),
    progressAt: msOf(schedule.progressAt) ?? (msOf(schedule.definedAt) ?? 0) - 1,
  };
  if (schedule.state === ScheduleState.PAUSED) {
    return { ...base, state: ProgressState.paused, nextNominal: undefined, nextDue: undefined };
  }
  if (schedule.state === ScheduleState.COMPLETED) {
    return { ...base, state: ProgressState.completed, nextNominal: undefined, nextDue: undefined };
  }
  let { fireCount, lastFireAt, progressAt } = base;
  const { manualFires } = base;
  for (let replayed = 0; replayed < MAX_REPLAYED_FIRES; replayed++) {
    if (reachedMaxFires(plan, fireCount, manualFires)) break;
    const nominal = nextNominal(plan, progressAt);
    if (nominal === null) break;
    const due = dueOf(plan, nominal);
    if (watermark === undefined || due > watermark) {
      return {
        state: ProgressState.active,
        fireCount,
        manualFires,
        lastFireAt,
        progressAt,
        nextNominal: nominal,
        nextDue: due,
      };
    }
    fireCount++;
    lastFireAt = nominal;
    progressAt = nominal;
  }
  return {
    state: ProgressState.completed,
    fireCount,
    manualFires,
    lastFireAt,
    progressAt,
    nextNominal: undefined,
    nextDue: undefined,
  };
}

/** max_fires bounds the timetable's fires; manual ones are extra. */
export function reachedMaxFires(
  plan: SchedulePlan,
  fireCount: number,
  manualFires: number,
): boolean {
  return plan.maxFires > 0 && fireCount - manualFires >= plan.maxFires;
}
