// Friendly options to chime.v1 request messages. Pure: every bad value is refused here, so
// it fails before a request is sent. Rules only Chime can check (subject space, cron
// syntax, time zones) are left to it; its INVALID_ARGUMENT names the field.
import { create } from "@bufbuild/protobuf";
import {
  type Duration,
  durationFromMs,
  type Timestamp,
  timestampFromMs,
} from "@bufbuild/protobuf/wkt";
import { parseDuration, parseInstant } from "./duration.js";
import { InvalidArgumentError, inField } from "./errors.js";
import { ConflictPolicy, MisfirePolicy, ScheduleState } from "./gen/chime/v1/schedule_pb.js";
import {
  type ListSchedulesRequest,
  ListSchedulesRequestSchema,
  type ScheduleByCronRequest,
  ScheduleByCronRequestSchema,
  type ScheduleByIntervalRequest,
  ScheduleByIntervalRequestSchema,
  type ScheduleByTimeRequest,
  ScheduleByTimeRequestSchema,
} from "./gen/chime/v1/scheduler_service_pb.js";
import type {
  DurationInput,
  InstantInput,
  ListSchedulesFilter,
  OnConflict,
  OnMisfire,
  Payload,
  RecurringOptions,
  ScheduleAtOptions,
  ScheduleCommonOptions,
  ScheduleCronOptions,
  ScheduleEveryOptions,
  ScheduleStatus,
  ScheduleTarget,
} from "./types.js";

const CONFLICT_POLICIES: Readonly<Record<OnConflict, ConflictPolicy>> = {
  keep: ConflictPolicy.KEEP,
  replace: ConflictPolicy.REPLACE,
  fail: ConflictPolicy.FAIL,
};

const MISFIRE_POLICIES: Readonly<Record<OnMisfire, MisfirePolicy>> = {
  fire_once: MisfirePolicy.FIRE_ONCE,
  skip: MisfirePolicy.SKIP,
  fire_all: MisfirePolicy.FIRE_ALL,
};

const STATES: Readonly<Record<ScheduleStatus, ScheduleState>> = {
  active: ScheduleState.ACTIVE,
  paused: ScheduleState.PAUSED,
  completed: ScheduleState.COMPLETED,
};

// What Chime assigns: 26 characters of upper-case Crockford base32 (no I, L, O, U).
const SCHEDULE_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const MAX_UINT32 = 0xffff_ffff;
const JSON_CONTENT_TYPE = "application/json";

/** Whether `text` has the form of a schedule id (rather than a name). */
export function isScheduleId(text: string): boolean {
  return SCHEDULE_ID.test(text);
}

export type TargetField = { case: "scheduleId"; value: string } | { case: "name"; value: string };

/** The `target` oneof of the by-id-or-name requests. */
export function targetOf(target: ScheduleTarget): TargetField {
  if (typeof target === "string") {
    if (target === "")
      throw new InvalidArgumentError("target", "a schedule id or name is required");
    return isScheduleId(target)
      ? { case: "scheduleId", value: target }
      : { case: "name", value: target };
  }
  if (target !== null && typeof target === "object") {
    if ("id" in target && typeof target.id === "string")
      return { case: "scheduleId", value: target.id };
    if ("name" in target && typeof target.name === "string")
      return { case: "name", value: target.name };
  }
  throw new InvalidArgumentError("target", "must be a schedule id or name, { id } or { name }");
}

/** How a target reads in messages: the id, or the name in quotes. */
export function describeTarget(target: ScheduleTarget): string {
  const field = targetOf(target);
  return field.case === "name" ? JSON.stringify(field.value) : field.value;
}

export function timeRequest(options: ScheduleAtOptions): ScheduleByTimeRequest {
  const given = (["at", "delay", "localTime"] as const).filter((k) => options[k] !== undefined);
  if (given.length === 0)
    throw new InvalidArgumentError("at", "one of at, delay or localTime is required");
  if (given.length > 1) {
    throw new InvalidArgumentError(
      given[1],
      `give only one of at, delay or localTime, not ${given.join(" and ")}`,
    );
  }
  const request = create(ScheduleByTimeRequestSchema, common(options));
  if (options.at !== undefined) {
    request.when = { case: "at", value: instant("at", options.at) };
  } else if (options.delay !== undefined) {
    request.when = { case: "delay", value: duration("delay", options.delay) };
  } else {
    request.when = { case: "localTime", value: text("localTime", options.localTime) };
    request.timeZone = text("timeZone", options.timeZone);
  }
  if (options.localTime === undefined && options.timeZone !== undefined) {
    throw new InvalidArgumentError(
      "timeZone",
      "applies only to localTime (at and delay are instants already)",
    );
  }
  return request;
}

export function cronRequest(options: ScheduleCronOptions): ScheduleByCronRequest {
  const request = create(ScheduleByCronRequestSchema, {
    ...common(options),
    ...recurring(options),
  });
  request.cron = text("cron", options.cron);
  if (options.timeZone !== undefined) request.timeZone = text("timeZone", options.timeZone);
  return request;
}

export function intervalRequest(options: ScheduleEveryOptions): ScheduleByIntervalRequest {
  const request = create(ScheduleByIntervalRequestSchema, {
    ...common(options),
    ...recurring(options),
  });
  if (options.every === undefined) throw new InvalidArgumentError("every", "is required");
  request.every = duration("every", options.every);
  return request;
}

export function listRequest(filter: ListSchedulesFilter): ListSchedulesRequest {
  const request = create(ListSchedulesRequestSchema, {});
  if (filter.pageSize !== undefined) request.pageSize = uint32("pageSize", filter.pageSize);
  if (filter.subjectPrefix !== undefined)
    request.subjectPrefix = text("subjectPrefix", filter.subjectPrefix, true);
  if (filter.nameContains !== undefined)
    request.nameContains = text("nameContains", filter.nameContains, true);
  if (filter.labels !== undefined) request.labels = stringMap("labels", filter.labels);
  if (filter.states !== undefined) {
    request.states = filter.states.map((state) => {
      const value = STATES[state];
      if (value === undefined) {
        throw new InvalidArgumentError(
          "states",
          `has no state ${JSON.stringify(state)}; use ${Object.keys(STATES).join(", ")}`,
        );
      }
      return value;
    });
  }
  return request;
}

/** The bytes and content type of a payload (see `Payload`). */
export function encodePayload(
  payload: Payload | undefined,
  contentType: string | undefined,
): { payload: Uint8Array; contentType: string } {
  if (payload === undefined) return { payload: new Uint8Array(), contentType: contentType ?? "" };
  if (payload instanceof Uint8Array) return { payload, contentType: contentType ?? "" };
  if (typeof payload === "string")
    return { payload: new TextEncoder().encode(payload), contentType: contentType ?? "" };
  let json: string | undefined;
  try {
    json = JSON.stringify(payload);
  } catch (err) {
    throw new InvalidArgumentError("payload", `cannot be sent as JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (json === undefined) {
    throw new InvalidArgumentError(
      "payload",
      "must be bytes, a string or a value JSON.stringify accepts",
    );
  }
  return { payload: new TextEncoder().encode(json), contentType: contentType ?? JSON_CONTENT_TYPE };
}

function common(options: ScheduleCommonOptions) {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError(undefined, "schedule options must be an object");
  }
  const encoded = encodePayload(
    options.payload,
    options.contentType === undefined ? undefined : text("contentType", options.contentType, true),
  );
  return {
    subject: text("subject", options.subject),
    payload: encoded.payload,
    contentType: encoded.contentType,
    headers: options.headers === undefined ? {} : stringMap("headers", options.headers),
    labels: options.labels === undefined ? {} : stringMap("labels", options.labels),
    name: options.name === undefined ? undefined : text("name", options.name),
    conflictPolicy: conflictPolicy(options.conflictPolicy),
  };
}

function recurring(options: RecurringOptions) {
  return {
    startAt: options.startAt === undefined ? undefined : instant("startAt", options.startAt),
    endAt: options.endAt === undefined ? undefined : instant("endAt", options.endAt),
    maxFires: options.maxFires === undefined ? 0 : uint32("maxFires", options.maxFires),
    jitter: options.jitter === undefined ? undefined : duration("jitter", options.jitter),
    misfirePolicy: misfirePolicy(options.misfirePolicy),
    catchupWindow:
      options.catchupWindow === undefined
        ? undefined
        : duration("catchupWindow", options.catchupWindow),
    runImmediately:
      options.runImmediately === undefined ? false : bool("runImmediately", options.runImmediately),
  };
}

export function conflictPolicy(value: OnConflict | undefined): ConflictPolicy {
  if (value === undefined) return ConflictPolicy.UNSPECIFIED;
  const policy = CONFLICT_POLICIES[value];
  if (policy === undefined) {
    throw new InvalidArgumentError(
      "conflictPolicy",
      `must be one of ${Object.keys(CONFLICT_POLICIES).join(", ")}, not ${JSON.stringify(value)}`,
    );
  }
  return policy;
}

function misfirePolicy(value: OnMisfire | undefined): MisfirePolicy {
  if (value === undefined) return MisfirePolicy.UNSPECIFIED;
  const policy = MISFIRE_POLICIES[value];
  if (policy === undefined) {
    throw new InvalidArgumentError(
      "misfirePolicy",
      `must be one of ${Object.keys(MISFIRE_POLICIES).join(", ")}, not ${JSON.stringify(value)}`,
    );
  }
  return policy;
}

function instant(field: string, value: InstantInput): Timestamp {
  return timestampFromMs(inField(field, () => parseInstant(value)).getTime());
}

function duration(field: string, value: DurationInput): Duration {
  return durationFromMs(inField(field, () => parseDuration(value)));
}

function text(field: string, value: unknown, emptyAllowed = false): string {
  if (typeof value !== "string")
    throw new InvalidArgumentError(
      field,
      `must be a string, not ${value === null ? "null" : typeof value}`,
    );
  if (!emptyAllowed && value === "") throw new InvalidArgumentError(field, "is required");
  return value;
}

function bool(field: string, value: unknown): boolean {
  if (typeof value !== "boolean")
    throw new InvalidArgumentError(field, `must be true or false, not ${JSON.stringify(value)}`);
  return value;
}

function uint32(field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_UINT32) {
    throw new InvalidArgumentError(
      field,
      `must be a whole number from 0 to ${MAX_UINT32}, not ${String(value)}`,
    );
  }
  return value;
}

function stringMap(field: string, value: Readonly<Record<string, string>>): Record<string, string> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidArgumentError(field, "must be an object of string values");
  }
  const copy: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== "string")
      throw new InvalidArgumentError(
        `${field}[${JSON.stringify(key)}]`,
        `must be a string, not ${typeof v}`,
      );
    copy[key] = v;
  }
  return copy;
}
