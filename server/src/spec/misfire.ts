import { type Instant, MisfirePolicy, SpecError } from "./timetable-types.js";

export const MISFIRE_POLICY_RULE = "must be one of fire_once, skip or fire_all";
export const CATCHUP_WINDOW_RULE = "must be a non-negative number of milliseconds";
export const MAX_CATCHUP_FIRES_RULE = "must be a non-negative whole number";

/** What the engine knows when it finds occurrences that came due while nobody could fire. */
export interface CatchupInput {
  /** The missed nominal occurrences, oldest first, already bounded by the caller. */
  readonly missed: readonly Instant[];
  readonly now: Instant;
  readonly policy: MisfirePolicy;
  /** How late a catch-up fire may still be; `Infinity` for no limit. */
  readonly catchupWindowMs: number;
  /** At most this many catch-up fires under `fire_all`. */
  readonly maxCatchupFires: number;
}

/** Which missed occurrences to fire now (oldest first), and how many are dropped. */
export interface CatchupPlan {
  readonly fire: Instant[];
  readonly skipped: number;
}

const isPolicy = (value: unknown): value is MisfirePolicy =>
  value === MisfirePolicy.fireOnce ||
  value === MisfirePolicy.skip ||
  value === MisfirePolicy.fireAll;

/**
 * Applies a schedule's misfire policy. `fire_once` coalesces everything into the latest
 * occurrence if that is still within the window; `skip` drops all; `fire_all` fires each
 * occurrence within the window, keeping the latest ones when there are more than
 * `maxCatchupFires`, because the most recent work is the most likely to still matter.
 */
export function planCatchup(input: CatchupInput): CatchupPlan {
  const { missed, now, policy, catchupWindowMs, maxCatchupFires } = input;
  if (!isPolicy(policy)) {
    throw new SpecError(MISFIRE_POLICY_RULE);
  }
  if (!(catchupWindowMs >= 0)) {
    throw new SpecError(CATCHUP_WINDOW_RULE);
  }
  if (!Number.isInteger(maxCatchupFires) || maxCatchupFires < 0) {
    throw new SpecError(MAX_CATCHUP_FIRES_RULE);
  }
  const total = missed.length;
  const inWindow = (t: Instant): boolean => now - t <= catchupWindowMs;
  switch (policy) {
    case MisfirePolicy.skip:
      return { fire: [], skipped: total };
    case MisfirePolicy.fireOnce: {
      if (total === 0) {
        return { fire: [], skipped: 0 };
      }
      const latest = Math.max(...missed);
      return inWindow(latest)
        ? { fire: [latest], skipped: total - 1 }
        : { fire: [], skipped: total };
    }
    case MisfirePolicy.fireAll: {
      const eligible = missed.filter(inWindow).sort((a, b) => a - b);
      const fire = maxCatchupFires === 0 ? [] : eligible.slice(-maxCatchupFires);
      return { fire, skipped: total - fire.length };
    }
  }
}
