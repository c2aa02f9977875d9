import { BinaryReader } from "@bufbuild/protobuf/wire";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import type { CronTrigger, IntervalTrigger, Schedule, TimeTrigger } from "@chime/sdk";

const EMPTY = new Uint8Array(0);

/**
 * Decodes from a stored chime.v1.Schedule only what the engine plans and counts with: the
 * trigger, bounds, policies, state and progress. Everything else (subject, payload, headers,
 * labels, names) keeps its zero value. A generic decode builds every field through
 * reflection, which made admitting a million schedules at start-up take tens of seconds.
 *
 * Field numbers are those of proto/chime/v1/schedule.proto.
 */
export function decodeScheduleTiming(bytes: Uint8Array): Schedule {
  // A literal, not a copy of a created message: copying one costs as much as decoding.
  const schedule: Schedule = {
    $typeName: "chime.v1.Schedule",
    scheduleId: "",
    name: "",
    subject: "",
    payload: EMPTY,
    headers: {},
    labels: {},
    contentType: "",
    trigger: { case: undefined },
    state: 0,
    fireCount: 0n,
    nextFireTimes: [],
    maxFires: 0,
    misfirePolicy: 0,
    runImmediately: false,
    partition: 0,
    owner: "",
    manualFireCount: 0n,
    namespace: "",
    recentFires: [],
  };
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    switch (field) {
      case 10: {
        const time: TimeTrigger = {
          $typeName: "chime.v1.TimeTrigger",
          at: undefined,
          localTime: "",
          timeZone: "",
        };
        const r = new BinaryReader(reader.bytes());
        while (r.pos < r.len) {
          const [f, w] = r.tag();
          if (f === 1) time.at = timestamp(r.bytes());
          else if (f === 2) time.localTime = r.string();
          else if (f === 3) time.timeZone = r.string();
          else r.skip(w, f);
        }
        schedule.trigger = { case: "time", value: time };
        break;
      }
      case 11: {
        const cron: CronTrigger = { $typeName: "chime.v1.CronTrigger", cron: "", timeZone: "" };
        const r = new BinaryReader(reader.bytes());
        while (r.pos < r.len) {
          const [f, w] = r.tag();
          if (f === 1) cron.cron = r.string();
          else if (f === 2) cron.timeZone = r.string();
          else r.skip(w, f);
        }
        schedule.trigger = { case: "cron", value: cron };
        break;
      }
      case 12: {
        const interval: IntervalTrigger = {
          $typeName: "chime.v1.IntervalTrigger",
          every: undefined,
          anchor: undefined,
        };
        const r = new BinaryReader(reader.bytes());
        while (r.pos < r.len) {
          const [f, w] = r.tag();
          if (f === 1) interval.every = duration(r.bytes());
          else if (f === 2) interval.anchor = timestamp(r.bytes());
          else r.skip(w, f);
        }
        schedule.trigger = { case: "interval", value: interval };
        break;
      }
      case 20:
        schedule.state = reader.int32();
        break;
      case 22:
        schedule.lastFireAt = timestamp(reader.bytes());
        break;
      case 23:
        schedule.fireCount = BigInt(reader.uint64());
        break;
      case 30:
        schedule.startAt = timestamp(reader.bytes());
        break;
      case 31:
        schedule.endAt = timestamp(reader.bytes());
        break;
      case 32:
        schedule.maxFires = reader.uint32();
        break;
      case 33:
        schedule.jitter = duration(reader.bytes());
        break;
      case 34:
        schedule.misfirePolicy = reader.int32();
        break;
      case 35:
        schedule.catchupWindow = duration(reader.bytes());
        break;
      case 36:
        schedule.runImmediately = reader.bool();
        break;
      case 40:
        schedule.partition = reader.uint32();
        break;
      case 50:
        schedule.progressAt = timestamp(reader.bytes());
        break;
      case 51:
        schedule.definedAt = timestamp(reader.bytes());
        break;
      case 52:
        schedule.manualFireCount = BigInt(reader.uint64());
        break;
      default:
        reader.skip(wireType, field);
    }
  }
  return schedule;
}

function seconds(bytes: Uint8Array): { seconds: bigint; nanos: number } {
  const r = new BinaryReader(bytes);
  let s = 0n;
  let nanos = 0;
  while (r.pos < r.len) {
    const [f, w] = r.tag();
    if (f === 1) s = BigInt(r.int64());
    else if (f === 2) nanos = r.int32();
    else r.skip(w, f);
  }
  return { seconds: s, nanos };
}

function timestamp(bytes: Uint8Array): Timestamp {
  return { $typeName: "google.protobuf.Timestamp", ...seconds(bytes) };
}

function duration(bytes: Uint8Array): Duration {
  return { $typeName: "google.protobuf.Duration", ...seconds(bytes) };
}
