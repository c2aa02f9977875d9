import { type Duration, durationMs, type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { InvalidArgumentError } from "./errors.js";
import { MisfirePolicy, type Schedule } from "./gen/chime/v1/schedule_pb.js";
import type {
  ScheduleByCronRequest,
  ScheduleByIntervalRequest,
  ScheduleByTimeRequest,
} from "./gen/chime/v1/scheduler_service_pb.js";
import { cronRequest, intervalRequest, timeRequest } from "./requests.js";
import type {
  CallOptions,
  DefineSchedulesOptions,
  DefineSchedulesResult,
  ScheduleAtOptions,
  ScheduleDefinition,
  SchedulerClient,
} from "./types.js";

type Planned =
  | { readonly kind: "cron"; readonly request: ScheduleByCronRequest }
  | { readonly kind: "interval"; readonly request: ScheduleByIntervalRequest }
  | { readonly kind: "time"; readonly request: ScheduleByTimeRequest };

/**
 * Declares the named schedules an application needs, for its start-up: safe to run on
 * every start and from several instances at once.
 *
 * Each definition is compared with the stored schedule of its name. Unchanged: left alone
 * (no write, so its progress and `updatedAt` stay). Changed: replaced (conflict policy
 * `replace`: same id, the new timetable applies at once). Missing: created. State is not
 * part of a definition, so a schedule an operator paused stays paused. With `pruneLabel`,
 * every definition carries that label, and named schedules carrying it that are no longer
 * defined are unscheduled.
 *
 * Definitions are applied one after another; the first failure rejects (a ConnectError
 * from Chime, or an InvalidArgumentError before any request) and later ones are not applied.
 */
export async function defineSchedules(
  client: SchedulerClient,
  definitions: readonly ScheduleDefinition[],
  options: DefineSchedulesOptions = {},
): Promise<DefineSchedulesResult> {
  const call: CallOptions = { signal: options.signal, timeoutMs: options.timeoutMs };
  const prune = options.pruneLabel;
  if (
    prune !== undefined &&
    (typeof prune.key !== "string" || prune.key === "" || typeof prune.value !== "string")
  ) {
    throw new InvalidArgumentError("pruneLabel", "must be { key, value } with a non-empty key");
  }
  // Every definition is checked before the first request, so a typo changes nothing.
  const planned = new Map<string, Planned>();
  definitions.forEach((definition, index) => {
    const name = definition?.name;
    if (typeof name !== "string" || name === "") {
      throw new InvalidArgumentError(
        `definitions[${index}].name`,
        "is required: defined schedules are found by name",
      );
    }
    if (planned.has(name))
      throw new InvalidArgumentError(
        `definitions[${index}].name`,
        `${JSON.stringify(name)} is defined twice`,
      );
    const labels =
      prune === undefined ? definition.labels : { ...definition.labels, [prune.key]: prune.value };
    planned.set(name, plan({ ...definition, labels }, index));
  });

  const created: string[] = [];
  const replaced: string[] = [];
  const unchanged: string[] = [];
  for (const [name, step] of planned) {
    const stored = await client.getSchedule({ name }, call).catch((err: unknown) => {
      if (err instanceof ConnectError && err.code === Code.NotFound) return undefined;
      throw err;
    });
    if (stored !== undefined && sameDefinition(stored, step)) {
      unchanged.push(name);
      continue;
    }
    // Replace in both cases: if another instance created it since we looked, ours wins.
    const outcome = await apply(client, step, call);
    (outcome.replaced ? replaced : created).push(name);
  }

  const pruned: string[] = [];
  if (prune !== undefined) {
    // Listed in full before the first removal, so removals cannot shift the pages.
    const stale: Schedule[] = [];
    for await (const schedule of client.listSchedules({
      ...call,
      labels: { [prune.key]: prune.value },
    })) {
      if (schedule.name !== "" && !planned.has(schedule.name)) stale.push(schedule);
    }
    for (const schedule of stale) {
      if (await client.unschedule({ id: schedule.scheduleId }, call)) pruned.push(schedule.name);
    }
  }
  return { created, replaced, unchanged, pruned };
}

function plan(definition: ScheduleDefinition, index: number): Planned {
  const kinds = (["cron", "every", "at", "localTime"] as const).filter(
    (k) => (definition as Partial<Record<typeof k, unknown>>)[k] !== undefined,
  );
  const field = `definitions[${index}]`;
  if ((definition as { delay?: unknown }).delay !== undefined) {
    throw new InvalidArgumentError(
      `${field}.delay`,
      "cannot be defined: it would differ on every start; use at",
    );
  }
  if (kinds.length === 0)
    throw new InvalidArgumentError(field, "needs one of cron, every, at or localTime");
  if (kinds.length > 1)
    throw new InvalidArgumentError(
      field,
      `give one of cron, every, at or localTime, not ${kinds.join(" and ")}`,
    );
  const options = { ...definition, conflictPolicy: "replace" as const };
  if ("cron" in options && options.cron !== undefined)
    return { kind: "cron", request: cronRequest(options) };
  if ("every" in options && options.every !== undefined)
    return { kind: "interval", request: intervalRequest(options) };
  return { kind: "time", request: timeRequest(options as ScheduleAtOptions) };
}

async function apply(client: SchedulerClient, step: Planned, call: CallOptions) {
  switch (step.kind) {
    case "cron":
      return client.rpc.scheduleByCron(step.request, call);
    case "interval":
      return client.rpc.scheduleByInterval(step.request, call);
    case "time":
      return client.rpc.scheduleByTime(step.request, call);
  }
}

/**
 * Whether the stored schedule is what the definition would create. Fields are compared as
 * Chime stores them (a cron is trimmed, the time zone defaults to UTC, the misfire policy
 * to fire_once), so a definition that was never changed is never rewritten.
 */
function sameDefinition(stored: Schedule, step: Planned): boolean {
  const request = step.request;
  const common =
    stored.subject === request.subject &&
    stored.contentType === request.contentType &&
    sameBytes(stored.payload, request.payload) &&
    sameMap(stored.headers, request.headers) &&
    sameMap(stored.labels, request.labels);
  if (!common) return false;
  const trigger = stored.trigger;
  switch (step.kind) {
    case "time": {
      if (trigger.case !== "time") return false;
      const when = step.request.when;
      if (when.case === "localTime") {
        return (
          trigger.value.localTime === when.value && trigger.value.timeZone === step.request.timeZone
        );
      }
      return (
        when.case === "at" &&
        trigger.value.localTime === "" &&
        ms(trigger.value.at) === ms(when.value)
      );
    }
    case "cron":
      return (
        trigger.case === "cron" &&
        trigger.value.cron === step.request.cron.trim() &&
        trigger.value.timeZone === (step.request.timeZone || "UTC") &&
        sameRecurring(stored, step.request)
      );
    case "interval":
      return (
        trigger.case === "interval" &&
        dms(trigger.value.every) === dms(step.request.every) &&
        sameRecurring(stored, step.request)
      );
  }
}

function sameRecurring(
  stored: Schedule,
  request: ScheduleByCronRequest | ScheduleByIntervalRequest,
): boolean {
  const misfire = (p: MisfirePolicy) =>
    p === MisfirePolicy.UNSPECIFIED ? MisfirePolicy.FIRE_ONCE : p;
  return (
    ms(stored.startAt) === ms(request.startAt) &&
    ms(stored.endAt) === ms(request.endAt) &&
    stored.maxFires === request.maxFires &&
    (dms(stored.jitter) ?? 0) === (dms(request.jitter) ?? 0) &&
    misfire(stored.misfirePolicy) === misfire(request.misfirePolicy) &&
    dms(stored.catchupWindow) === dms(request.catchupWindow) &&
    stored.runImmediately === request.runImmediately
  );
}

function ms(timestamp: Timestamp | undefined): number | undefined {
  return timestamp === undefined ? undefined : timestampMs(timestamp);
}

function dms(duration: Duration | undefined): number | undefined {
  return duration === undefined ? undefined : durationMs(duration);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function sameMap(
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
}
