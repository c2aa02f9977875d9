import { fromBinary } from "@bufbuild/protobuf";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import {
  type CronTrigger,
  FireRecordSchema,
  type IntervalTrigger,
  type Schedule,
  type TimeTrigger,
} from "@chime/sdk";
import { newSchedule } from "../schedule-message.js";
import { WireReader } from "../wire-reader.js";

/**
 * Decodes from a stored chime.v1.Schedule only what the engine plans and counts with: the
 * trigger, bounds, policies, state and progress (manual fires still to publish among it).
 * Everything else (subject, payload, headers, labels, names) keeps its zero value. A generic
 * decode builds every field through reflection, which made admitting a million schedules at
 * start-up take tens of seconds.
 *
 * Field numbers are those of proto/chime/v1/schedule.proto.
 */
export function decodeScheduleTiming(bytes: Uint8Array): Schedule {
  // A literal (newSchedule), not a copy of a created message: copying one costs as much as decoding.
  const schedule = newSchedule();
  const reader = new WireReader(bytes);
  const end = bytes.length;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    switch (field) {
      case 10: {
        const time: TimeTrigger = {
          $typeName: "chime.v1.TimeTrigger",
          at: undefined,
          localTime: "",
          timeZone: "",
        };
        const messageEnd = reader.messageEnd();
        while (reader.pos < messageEnd) {
          const t = reader.uint32();
          const f = t >>> 3;
          if (f === 1) time.at = timestamp(reader);
          else if (f === 2) time.localTime = reader.string();
          else if (f === 3) time.timeZone = reader.string();
          else reader.skip(t & 7);
        }
        schedule.trigger = { case: "time", value: time };
        break;
      }
      case 11: {
        const cron: CronTrigger = { $typeName: "chime.v1.CronTrigger", cron: "", timeZone: "" };
        const messageEnd = reader.messageEnd();
        while (reader.pos < messageEnd) {
          const t = reader.uint32();
          const f = t >>> 3;
          if (f === 1) cron.cron = reader.string();
          else if (f === 2) cron.timeZone = reader.string();
          else reader.skip(t & 7);
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
        const messageEnd = reader.messageEnd();
        while (reader.pos < messageEnd) {
          const t = reader.uint32();
          const f = t >>> 3;
          if (f === 1) interval.every = duration(reader);
          else if (f === 2) interval.anchor = timestamp(reader);
          else reader.skip(t & 7);
        }
        schedule.trigger = { case: "interval", value: interval };
        break;
      }
      case 20:
        schedule.state = reader.int32();
        break;
      case 22:
        schedule.lastFireAt = timestamp(reader);
        break;
      case 23:
        schedule.fireCount = BigInt(reader.uint64());
        break;
      case 30:
        schedule.startAt = timestamp(reader);
        break;
      case 31:
        schedule.endAt = timestamp(reader);
        break;
      case 32:
        schedule.maxFires = reader.uint32();
        break;
      case 33:
        schedule.jitter = duration(reader);
        break;
      case 34:
        schedule.misfirePolicy = reader.int32();
        break;
      case 35:
        schedule.catchupWindow = duration(reader);
        break;
      case 36:
        schedule.runImmediately = reader.varint() !== 0;
        break;
      case 40:
        schedule.partition = reader.uint32();
        break;
      case 50:
        schedule.progressAt = timestamp(reader);
        break;
      case 51:
        schedule.definedAt = timestamp(reader);
        break;
      case 52:
        schedule.manualFireCount = BigInt(reader.uint64());
        break;
      case 53:
        // Only while a manual fire is being published: rare enough for the generic decode.
        schedule.pendingManualFires.push(fromBinary(FireRecordSchema, reader.bytes()));
        break;
      default:
        reader.skip(wireType);
    }
  }
  return schedule;
}

function timestamp(reader: WireReader): Timestamp {
  const { seconds, nanos } = reader.secondsAndNanos();
  return { $typeName: "google.protobuf.Timestamp", seconds: BigInt(seconds), nanos };
}

function duration(reader: WireReader): Duration {
  const { seconds, nanos } = reader.secondsAndNanos();
  return { $typeName: "google.protobuf.Duration", seconds: BigInt(seconds), nanos };
}
