import { create } from "@bufbuild/protobuf";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import {
  ConflictPolicy,
  CronTriggerSchema,
  IntervalTriggerSchema,
  MisfirePolicy,
  type Schedule,
  type ScheduleByCronRequest,
  type ScheduleByIntervalRequest,
  type ScheduleByTimeRequest,
  ScheduleState,
} from "@chime/sdk";
import { timetableDefinitionOf } from "../engine/schedule-plan.js";
import { durationMs, durationOf, msOf, timestampOf } from "../proto-time.js";
import { newSchedule } from "../schedule-message.js";
import {
  assertTimeZone,
  CRON_BEYOND_HORIZON_RULE,
  CRON_HORIZON_MS,
  compileTimetable,
  parseLocalDateTime,
  subjectProblem,
  wallClockToInstant,
} from "../spec/index.js";
import { InvalidFieldError, inField } from "./api-errors.js";

/** Bounds on what a request may carry; each is a setting. */
export interface RequestLimits {
  /** Payload bytes: the server's max_payload less room for headers. */
  readonly maxPayloadBytes: number;
  readonly maxHeaders: number;
  /** Names and values of user headers together. */
  readonly maxHeaderBytes: number;
  readonly maxNameLength: number;
  readonly maxLabels: number;
  readonly maxLabelKeyLength: number;
  readonly maxLabelValueLength: number;
  readonly maxPageSize: number;
  /** How far in the past a one-shot's `at` may be and still fire at once. */
  readonly maxPastMs: number;
}

export interface SubjectRules {
  /** Patterns a subject must match one of, e.g. tasks.> */
  readonly subjectSpace: readonly string[];
  /** Chime's own subjects, never allowed. */
  readonly reserved: readonly string[];
}

/** A validated create request: the schedule to store (id and bookkeeping still unset). */
export interface ScheduleDraft {
  readonly schedule: Schedule;
  readonly name: string | undefined;
  readonly conflictPolicy: ConflictPolicy;
}

type CommonFields = Pick<
  ScheduleByTimeRequest,
  "subject" | "payload" | "headers" | "labels" | "name" | "conflictPolicy" | "contentType"
>;

const RESERVED_HEADER_PREFIXES = ["nats-", "chime-"];
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/;
// Timestamps outside 0001-01-01 … 9999-12-31 are not valid protobuf Timestamps.
const MAX_INSTANT = 253402300799999;
const MAX_EVERY_MS = 366 * 24 * 3600 * 1000 * 100;
const MAX_JITTER_MS = 24 * 3600 * 1000;
const CONTROL = /\p{Cc}/u;
const VALID_SUBJECTS_KEPT = 1024;

export class RequestValidator {
  /**
   * Subjects found valid (the rules never change): most creates name one of a few subjects,
   * and checking one splits it once for every pattern of the subject space.
   */
  private readonly validSubjects = new Set<string>();

  constructor(
    private readonly limits: RequestLimits,
    private readonly subjects: SubjectRules,
  ) {}

  get maxPageSize(): number {
    return this.limits.maxPageSize;
  }

  byTime(request: ScheduleByTimeRequest, now: number): ScheduleDraft {
    const schedule = this.common(request);
    const when = request.when;
    let at: number;
    let localTime = "";
    let timeZone = "";
    switch (when.case) {
      case "at": {
        at = instantField("at", when.value);
        if (at < now - this.limits.maxPastMs) {
          throw new InvalidFieldError(
            "at",
            `must not be more than ${formatMs(this.limits.maxPastMs)} in the past`,
          );
        }
        if (request.timeZone !== "") {
          throw new InvalidFieldError("time_zone", "applies only to local_time");
        }
        break;
      }
      case "delay": {
        const delay = durationField("delay", when.value);
        if (delay < 0) throw new InvalidFieldError("delay", "must not be negative");
        at = now + delay;
        if (request.timeZone !== "") {
          throw new InvalidFieldError("time_zone", "applies only to local_time");
        }
        break;
      }
      case "localTime": {
        if (request.timeZone === "") {
          throw new InvalidFieldError("time_zone", "is required with local_time");
        }
        timeZone = request.timeZone;
        inField("time_zone", () => assertTimeZone(timeZone));
        localTime = when.value;
        const wall = inField("local_time", () => parseLocalDateTime(when.value));
        at = wallClockToInstant(wall, timeZone);
        if (at < now - this.limits.maxPastMs) {
          throw new InvalidFieldError(
            "local_time",
            `must not be more than ${formatMs(this.limits.maxPastMs)} in the past`,
          );
        }
        break;
      }
      default:
        throw new InvalidFieldError("at", "one of at, delay or local_time is required");
    }
    if (at > MAX_INSTANT)
      throw new InvalidFieldError(fieldOf(when.case), "must be before year 10000");
    schedule.trigger = {
      case: "time",
      value: { $typeName: "chime.v1.TimeTrigger", at: timestampOf(at), localTime, timeZone },
    };
    return this.draft(schedule, request);
  }

  byCron(request: ScheduleByCronRequest, now: number): ScheduleDraft {
    const schedule = this.common(request);
    const timeZone = request.timeZone === "" ? "UTC" : request.timeZone;
    inField("time_zone", () => assertTimeZone(timeZone));
    if (request.cron.trim() === "") throw new InvalidFieldError("cron", "is required");
    // Through the timetable's cache of compiled crons: the same few expressions come again
    // and again, and parsing one costs more than the rest of a create.
    inField("cron", () =>
      compileTimetable({ trigger: { kind: "cron", cron: request.cron, timeZone } }),
    );
    schedule.trigger = {
      case: "cron",
      value: create(CronTriggerSchema, { cron: request.cron.trim(), timeZone }),
    };
    this.recurring(schedule, request, now);
    this.assertFires(schedule, now);
    return this.draft(schedule, request);
  }

  byInterval(request: ScheduleByIntervalRequest, now: number): ScheduleDraft {
    const schedule = this.common(request);
    if (request.every === undefined) throw new InvalidFieldError("every", "is required");
    const every = durationField("every", request.every);
    if (every < 1000) throw new InvalidFieldError("every", "must be at least 1s");
    if (every > MAX_EVERY_MS) throw new InvalidFieldError("every", "must be at most 100 years");
    if (request.every.nanos % 1_000_000 !== 0) {
      throw new InvalidFieldError("every", "must be a whole number of milliseconds");
    }
    this.recurring(schedule, request, now);
    const anchor = msOf(schedule.startAt) ?? now + every;
    schedule.trigger = {
      case: "interval",
      value: create(IntervalTriggerSchema, {
        every: durationOf(every),
        anchor: timestampOf(anchor),
      }),
    };
    const jitter = durationMs(schedule.jitter) ?? 0;
    if (jitter >= every) throw new InvalidFieldError("jitter", "must be shorter than every");
    this.assertFires(schedule, now);
    return this.draft(schedule, request);
  }

  private draft(schedule: Schedule, request: CommonFields): ScheduleDraft {
    const policy = request.conflictPolicy;
    if (ConflictPolicy[policy] === undefined) {
      throw new InvalidFieldError("conflict_policy", `has no value ${policy}`);
    }
    return {
      schedule,
      name: request.name,
      conflictPolicy: policy === ConflictPolicy.UNSPECIFIED ? ConflictPolicy.KEEP : policy,
    };
  }

  /** The fields every create request shares. */
  private common(request: CommonFields): Schedule {
    this.checkSubject(request.subject);
    if (request.payload.byteLength > this.limits.maxPayloadBytes) {
      throw new InvalidFieldError(
        "payload",
        `must be at most ${this.limits.maxPayloadBytes} bytes (--max-payload-bytes, and no more than the NATS server's max_payload less room for headers)`,
      );
    }
    this.checkHeaders(request.headers);
    this.checkLabels(request.labels);
    if (request.name !== undefined) this.checkName(request.name);
    if (request.contentType.length > 255 || CONTROL.test(request.contentType)) {
      throw new InvalidFieldError("content_type", "must be at most 255 printable characters");
    }
    const schedule = newSchedule();
    schedule.name = request.name ?? "";
    schedule.subject = request.subject;
    schedule.payload = request.payload;
    schedule.headers = request.headers;
    schedule.labels = request.labels;
    schedule.contentType = request.contentType;
    schedule.state = ScheduleState.ACTIVE;
    return schedule;
  }

  private checkSubject(subject: string): void {
    if (this.validSubjects.has(subject)) return;
    const problem = subjectProblem(subject, this.subjects.subjectSpace, this.subjects.reserved);
    if (problem !== null) throw new InvalidFieldError("subject", problem);
    if (this.validSubjects.size >= VALID_SUBJECTS_KEPT) this.validSubjects.clear();
    this.validSubjects.add(subject);
  }

  private recurring(
    schedule: Schedule,
    request: ScheduleByCronRequest | ScheduleByIntervalRequest,
    now: number,
  ): void {
    const startAt =
      request.startAt === undefined ? undefined : instantField("start_at", request.startAt);
    const endAt = request.endAt === undefined ? undefined : instantField("end_at", request.endAt);
    if (startAt !== undefined && endAt !== undefined && endAt <= startAt) {
      throw new InvalidFieldError("end_at", "must be after start_at");
    }
    if (endAt !== undefined && endAt <= now)
      throw new InvalidFieldError("end_at", "must be in the future");
    const jitter =
      request.jitter === undefined ? undefined : durationField("jitter", request.jitter);
    if (jitter !== undefined && (jitter < 0 || jitter > MAX_JITTER_MS)) {
      throw new InvalidFieldError("jitter", "must be between 0 and 24h");
    }
    const catchupWindow =
      request.catchupWindow === undefined
        ? undefined
        : durationField("catchup_window", request.catchupWindow);
    if (catchupWindow !== undefined && catchupWindow < 0) {
      throw new InvalidFieldError("catchup_window", "must not be negative");
    }
    if (MisfirePolicy[request.misfirePolicy] === undefined) {
      throw new InvalidFieldError("misfire_policy", `has no value ${request.misfirePolicy}`);
    }
    schedule.startAt = timestampOf(startAt);
    schedule.endAt = timestampOf(endAt);
    schedule.maxFires = request.maxFires;
    schedule.jitter = durationOf(jitter);
    schedule.misfirePolicy =
      request.misfirePolicy === MisfirePolicy.UNSPECIFIED
        ? MisfirePolicy.FIRE_ONCE
        : request.misfirePolicy;
    schedule.catchupWindow = durationOf(catchupWindow);
    schedule.runImmediately = request.runImmediately;
  }

  /** A recurring schedule that would never fire is refused rather than stored. */
  private assertFires(schedule: Schedule, now: number): void {
    const isCron = schedule.trigger.case === "cron";
    const first = compileTimetable(timetableDefinitionOf(schedule)).next(now);
    if (first === null) {
      if (schedule.runImmediately) return;
      throw new InvalidFieldError(
        isCron ? "cron" : "end_at",
        "never fires between start_at and end_at",
      );
    }
    const start = Math.max(now, msOf(schedule.startAt) ?? now);
    if (isCron && first - start > CRON_HORIZON_MS) {
      throw new InvalidFieldError(
        "cron",
        `${CRON_BEYOND_HORIZON_RULE}: its first fire would be ${new Date(first).toISOString()}`,
      );
    }
  }

  private checkHeaders(headers: Record<string, string>): void {
    const entries = Object.entries(headers);
    if (entries.length > this.limits.maxHeaders) {
      throw new InvalidFieldError(
        "headers",
        `must have at most ${this.limits.maxHeaders} entries (--max-headers)`,
      );
    }
    let bytes = 0;
    for (const [name, value] of entries) {
      if (!HEADER_NAME.test(name)) {
        throw new InvalidFieldError(
          `headers[${quote(name)}]`,
          "name must be an HTTP token (letters, digits, -)",
        );
      }
      const lower = name.toLowerCase();
      if (RESERVED_HEADER_PREFIXES.some((p) => lower.startsWith(p))) {
        throw new InvalidFieldError(
          `headers[${quote(name)}]`,
          "names starting with Nats- or Chime- are reserved",
        );
      }
      if (/[\r\n]/.test(value) || CONTROL.test(value.replaceAll("\t", ""))) {
        throw new InvalidFieldError(
          `headers[${quote(name)}]`,
          "value must not contain control characters",
        );
      }
      bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
    }
    if (bytes > this.limits.maxHeaderBytes) {
      throw new InvalidFieldError(
        "headers",
        `must total at most ${this.limits.maxHeaderBytes} bytes (--max-header-bytes)`,
      );
    }
  }

  private checkLabels(labels: Record<string, string>): void {
    const entries = Object.entries(labels);
    if (entries.length > this.limits.maxLabels) {
      throw new InvalidFieldError(
        "labels",
        `must have at most ${this.limits.maxLabels} entries (--max-labels)`,
      );
    }
    for (const [key, value] of entries) {
      if (key.length > this.limits.maxLabelKeyLength || !LABEL_KEY.test(key)) {
        throw new InvalidFieldError(
          `labels[${quote(key)}]`,
          `key must be 1 to ${this.limits.maxLabelKeyLength} (--max-label-key-length) of letters, digits, '.', '_', '/', '-', starting and ending with a letter or digit`,
        );
      }
      if (value.length > this.limits.maxLabelValueLength || CONTROL.test(value)) {
        throw new InvalidFieldError(
          `labels[${quote(key)}]`,
          `value must be at most ${this.limits.maxLabelValueLength} printable characters (--max-label-value-length)`,
        );
      }
    }
  }

  checkName(name: string): void {
    if (name.length === 0) throw new InvalidFieldError("name", "must not be empty when set");
    if (name.length > this.limits.maxNameLength) {
      throw new InvalidFieldError(
        "name",
        `must be at most ${this.limits.maxNameLength} characters (--max-name-length)`,
      );
    }
    if (CONTROL.test(name) || name.trim() !== name) {
      throw new InvalidFieldError(
        "name",
        "must not contain control characters or surrounding white space",
      );
    }
  }
}

function instantField(field: string, timestamp: Timestamp): number {
  if (timestamp.nanos < 0 || timestamp.nanos > 999_999_999) {
    throw new InvalidFieldError(field, "nanos must be in 0 to 999999999");
  }
  const ms = msOf(timestamp) as number;
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_INSTANT) {
    throw new InvalidFieldError(field, "must be between 1970-01-01 and 9999-12-31");
  }
  return ms;
}

function durationField(field: string, duration: Duration): number {
  if (duration.nanos < -999_999_999 || duration.nanos > 999_999_999) {
    throw new InvalidFieldError(field, "nanos must be in -999999999 to 999999999");
  }
  const ms = durationMs(duration) as number;
  if (!Number.isSafeInteger(ms)) throw new InvalidFieldError(field, "is out of range");
  return ms;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

function fieldOf(whenCase: "at" | "delay" | "localTime"): string {
  return whenCase === "localTime" ? "local_time" : whenCase;
}
