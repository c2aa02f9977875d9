// The pure scheduling math: what the engine, store and API use. Internals (the wall-clock
// cron matcher, calendar arithmetic, cron-parser glue) stay unexported.

export type { CompiledCron } from "./cron.js";
export {
  CRON_BEYOND_HORIZON_RULE,
  CRON_HORIZON_MS,
  compileCron,
  nextCronOccurrence,
} from "./cron.js";
export { INSTANT_RULE, isInstant } from "./instant.js";
export { intervalOccurrencesBetween, nextIntervalOccurrence } from "./interval.js";
export { jitterOffset } from "./jitter.js";
export { formatLocalDateTime, parseLocalDateTime } from "./local-date-time.js";
export type { CatchupInput, CatchupPlan } from "./misfire.js";
export { planCatchup } from "./misfire.js";
export {
  MAX_SUBJECT_BYTES,
  SUBJECT_RULES,
  subjectMatches,
  subjectPatternProblem,
  subjectProblem,
} from "./subject.js";
export type { CompiledTimetable } from "./timetable.js";
export {
  compileTimetable,
  countOccurrencesBetween,
  MAX_OCCURRENCE_LIMIT,
  MIN_INTERVAL_MS,
  nextOccurrence,
  occurrencesBetween,
  upcoming,
} from "./timetable.js";
export type {
  Instant,
  TimetableDefinition,
  Trigger,
  TriggerKind,
} from "./timetable-types.js";
export { MAX_INSTANT, MIN_INSTANT, MisfirePolicy, SpecError } from "./timetable-types.js";
export {
  assertTimeZone,
  instantToWallClock,
  isTimeZone,
  offsetAt,
  wallClockToInstant,
} from "./zoned-time.js";
