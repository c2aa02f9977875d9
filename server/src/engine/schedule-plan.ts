import { MisfirePolicy as ProtoMisfirePolicy, type Schedule } from "@chime/sdk";
import { durationMs, msOf } from "../proto-time.js";
import {
  type CompiledTimetable,
  compileTimetable,
  type Instant,
  jitterOffset,
  MisfirePolicy,
  type TimetableDefinition,
  type Trigger,
} from "../spec/index.js";

/** Default of catchup_window: how far back a missed occurrence may still be made up. */
export const DEFAULT_CATCHUP_WINDOW_MS = 60 * 60 * 1000;

/** A stored schedule, turned into what the engine computes fire instants with. */
export interface SchedulePlan {
  readonly scheduleId: string;
  readonly timetable: CompiledTimetable;
  readonly oneShot: boolean;
  /** The extra first occurrence that run_immediately asks for: when the definition was written. */
  readonly immediateAt: Instant | undefined;
  readonly jitterMs: number;
  /** 0: unbounded. */
  readonly maxFires: number;
  readonly misfirePolicy: MisfirePolicy;
  readonly catchupWindowMs: number;
}

export function triggerOf(schedule: Schedule): Trigger {
  const trigger = schedule.trigger;
  switch (trigger.case) {
    case "time":
      return { kind: "once", at: msOf(trigger.value.at) ?? 0 };
    case "cron":
      return { kind: "cron", cron: trigger.value.cron, timeZone: trigger.value.timeZone || "UTC" };
    case "interval":
      return {
        kind: "interval",
        everyMs: durationMs(trigger.value.every) ?? 0,
        anchor: msOf(trigger.value.anchor) ?? 0,
      };
    default:
      throw new Error(`schedule ${schedule.scheduleId} has no trigger`);
  }
}

export function timetableDefinitionOf(schedule: Schedule): TimetableDefinition {
  return {
    trigger: triggerOf(schedule),
    startAt: msOf(schedule.startAt),
    endAt: msOf(schedule.endAt),
  };
}

export function planOf(schedule: Schedule): SchedulePlan {
  const definition = timetableDefinitionOf(schedule);
  return {
    scheduleId: schedule.scheduleId,
    timetable: compileTimetable(definition),
    oneShot: definition.trigger.kind === "once",
    immediateAt: schedule.runImmediately ? msOf(schedule.definedAt) : undefined,
    jitterMs: durationMs(schedule.jitter) ?? 0,
    maxFires: schedule.maxFires,
    misfirePolicy: misfirePolicyOf(schedule.misfirePolicy),
    catchupWindowMs: durationMs(schedule.catchupWindow) ?? DEFAULT_CATCHUP_WINDOW_MS,
  };
}

export function misfirePolicyOf(policy: ProtoMisfirePolicy): MisfirePolicy {
  switch (policy) {
    case ProtoMisfirePolicy.SKIP:
      return MisfirePolicy.skip;
    case ProtoMisfirePolicy.FIRE_ALL:
      return MisfirePolicy.fireAll;
    default:
      return MisfirePolicy.fireOnce;
  }
}

/** The first nominal occurrence strictly after `after`, run_immediately's included. */
export function nextNominal(plan: SchedulePlan, after: Instant): Instant | null {
  const scheduled = plan.timetable.next(after);
  const immediate = plan.immediateAt;
  if (immediate === undefined || immediate <= after) return scheduled;
  return scheduled === null || immediate < scheduled ? immediate : scheduled;
}

/** When an occurrence is due: its nominal time plus the schedule's jitter for it. */
export function dueOf(plan: SchedulePlan, nominal: Instant): Instant {
  if (plan.jitterMs <= 0 || nominal === plan.immediateAt) return nominal;
  return nominal + jitterOffset(plan.scheduleId, nominal, plan.jitterMs);
}
