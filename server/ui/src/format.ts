import { type Duration, type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { toString as describeCron } from "cronstrue";
import {
  MisfirePolicy,
  type Schedule,
  ScheduleState,
} from "../../../sdk/src/gen/chime/v1/schedule_pb.js";

export function msOf(timestamp: Timestamp | undefined): number | undefined {
  return timestamp === undefined ? undefined : timestampMs(timestamp);
}

export function durationMs(duration: Duration | undefined): number | undefined {
  if (duration === undefined) return undefined;
  return Number(duration.seconds) * 1000 + Math.trunc(duration.nanos / 1_000_000);
}

const dateTime = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});
const clock = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});
const hourMinute = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

/** An instant in the viewer's time zone, e.g. "Tue 12 May, 14:05:03". */
export function localDateTime(ms: number): string {
  return dateTime.format(ms);
}

export function localClock(ms: number): string {
  return clock.format(ms);
}

export function localHourMinute(ms: number): string {
  return hourMinute.format(ms);
}

/** The viewer's IANA time zone. */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** "in 4m 03s", "in 2h 05m", "in 3d 4h"; "due now" once it is reached. */
export function countdown(dueMs: number, nowMs: number): string {
  const left = dueMs - nowMs;
  if (left <= 0) return "due now";
  return `in ${shortDuration(left)}`;
}

/** "4s ago", "3m 10s ago". */
export function ago(ms: number, nowMs: number): string {
  const past = nowMs - ms;
  return past < 1000 ? "just now" : `${shortDuration(past)} ago`;
}

export function shortDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86_400);
  const hh = Math.floor((s % 86_400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const two = (n: number): string => String(n).padStart(2, "0");
  if (d > 0) return `${d}d ${hh}h`;
  if (hh > 0) return `${hh}h ${two(mm)}m`;
  if (mm > 0) return `${mm}m ${two(ss)}s`;
  return `${ss}s`;
}

const UNITS: readonly (readonly [number, string])[] = [
  [86_400_000, "day"],
  [3_600_000, "hour"],
  [60_000, "minute"],
  [1000, "second"],
  [1, "millisecond"],
];

/** A duration in words: "5 minutes", "1 hour 30 minutes", "1 day". */
export function durationInWords(ms: number): string {
  const parts: string[] = [];
  let rest = ms;
  for (const [size, unit] of UNITS) {
    const n = Math.floor(rest / size);
    if (n === 0) continue;
    parts.push(n === 1 ? `1 ${unit}` : `${n} ${unit}s`);
    rest -= n * size;
  }
  return parts.length === 0 ? "0 seconds" : parts.join(" ");
}

// cronstrue reads fields only; Chime also takes these macros.
const CRON_MACROS: Readonly<Record<string, string>> = {
  "@yearly": "At 00:00, on January 1",
  "@annually": "At 00:00, on January 1",
  "@monthly": "At 00:00, on day 1 of the month",
  "@weekly": "At 00:00, only on Sunday",
  "@daily": "At 00:00",
  "@midnight": "At 00:00",
  "@hourly": "Every hour",
};

/** A cron expression in words, or undefined when it cannot be read. */
export function cronInWords(cron: string): string | undefined {
  const trimmed = cron.trim();
  const macro = CRON_MACROS[trimmed.toLowerCase()];
  if (macro !== undefined) return macro;
  if (trimmed === "") return undefined;
  try {
    return describeCron(trimmed, { use24HourTimeFormat: true, throwExceptionOnParseError: true });
  } catch {
    return undefined;
  }
}

/** The schedule's trigger in words: "every 5 minutes", "At 02:00 (America/New_York)". */
export function triggerInWords(schedule: Schedule): string {
  const trigger = schedule.trigger;
  switch (trigger.case) {
    case "cron": {
      const zone = trigger.value.timeZone || "UTC";
      const words = cronInWords(trigger.value.cron) ?? trigger.value.cron;
      return `${words} (${zone})`;
    }
    case "interval": {
      const every = durationMs(trigger.value.every);
      return every === undefined ? "interval" : `every ${durationInWords(every)}`;
    }
    case "time": {
      const { localTime, timeZone } = trigger.value;
      if (localTime !== "") return `once, at ${localTime.replace("T", " ")} ${timeZone}`;
      const at = msOf(trigger.value.at);
      return at === undefined ? "once" : `once, at ${localDateTime(at)}`;
    }
    default:
      return "—";
  }
}

/** The trigger as it was written: the cron line, the interval, the instant. */
export function triggerDefinition(schedule: Schedule): string {
  const trigger = schedule.trigger;
  switch (trigger.case) {
    case "cron":
      return `cron "${trigger.value.cron}" in ${trigger.value.timeZone || "UTC"}`;
    case "interval": {
      const anchor = msOf(trigger.value.anchor);
      const every = durationMs(trigger.value.every) ?? 0;
      return `every ${durationInWords(every)}${anchor === undefined ? "" : `, from ${new Date(anchor).toISOString()}`}`;
    }
    case "time": {
      const at = msOf(trigger.value.at);
      return at === undefined ? "one-shot" : `at ${new Date(at).toISOString()}`;
    }
    default:
      return "—";
  }
}

export function stateName(state: ScheduleState): string {
  switch (state) {
    case ScheduleState.ACTIVE:
      return "active";
    case ScheduleState.PAUSED:
      return "paused";
    case ScheduleState.COMPLETED:
      return "completed";
    default:
      return "unknown";
  }
}

export function misfirePolicyName(policy: MisfirePolicy): string {
  switch (policy) {
    case MisfirePolicy.SKIP:
      return "skip";
    case MisfirePolicy.FIRE_ALL:
      return "fire all";
    default:
      return "fire once";
  }
}

/** Payload bytes as text when they are UTF-8, else a note of their size. */
export function payloadText(payload: Uint8Array): string {
  if (payload.length === 0) return "(empty)";
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(payload);
  } catch {
    return `(${payload.length} bytes of binary data)`;
  }
}
