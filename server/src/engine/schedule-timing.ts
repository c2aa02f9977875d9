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
      default:
        reader.skip(wireType);
    }
  }
  return schedule;
}

/** The seconds and nanos of a Timestamp or Duration message, read in place. */
function seconds(reader: WireReader): { seconds: bigint; nanos: number } {
  const messageEnd = reader.messageEnd();
  let s = 0;
  let nanos = 0;
  while (reader.pos < messageEnd) {
    const t = reader.uint32();
    const f = t >>> 3;
    if (f === 1) s = reader.int64();
    else if (f === 2) nanos = reader.int32();
    else reader.skip(t & 7);
  }
  return { seconds: BigInt(s), nanos };
}

function timestamp(reader: WireReader): Timestamp {
  return { $typeName: "google.protobuf.Timestamp", ...seconds(reader) };
}

function duration(reader: WireReader): Duration {
  return { $typeName: "google.protobuf.Duration", ...seconds(reader) };
}

const utf8 = new TextDecoder();
// A varint this long may exceed 2^53 (or be a negative number): decoded exactly, as a bigint.
const EXACT_VARINT_BYTES = 7;

/**
 * Protobuf wire reading in place: no reader, view or buffer per nested message (those made
 * most of the cost of admitting a million schedules).
 */
class WireReader {
  pos = 0;

  constructor(private readonly buf: Uint8Array) {}

  /** An unsigned varint as a number; exact below 2^53, which every field read here stays. */
  varint(): number {
    const buf = this.buf;
    const start = this.pos;
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = buf[this.pos++];
      if (byte === undefined) throw new RangeError("truncated varint");
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 128;
    }
    return this.pos - start > EXACT_VARINT_BYTES ? Number(this.bigVarint(start)) : result;
  }

  uint32(): number {
    return this.varint() % 2 ** 32;
  }

  int32(): number {
    return this.uint32() | 0;
  }

  uint64(): number {
    return this.varint();
  }

  /** An int64 as a number: negative values are ten-byte varints, read exactly. */
  int64(): number {
    const start = this.pos;
    const value = this.varint();
    if (this.pos - start <= EXACT_VARINT_BYTES) return value;
    return Number(BigInt.asIntN(64, this.bigVarint(start)));
  }

  string(): string {
    const end = this.messageEnd();
    const text = utf8.decode(this.buf.subarray(this.pos, end));
    this.pos = end;
    return text;
  }

  /** Reads a length prefix; returns where the value it announces ends. */
  messageEnd(): number {
    const length = this.varint();
    const end = this.pos + length;
    if (end > this.buf.length) throw new RangeError("truncated message");
    return end;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        break;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.pos = this.messageEnd();
        break;
      case 5:
        this.pos += 4;
        break;
      default:
        throw new RangeError(`unsupported wire type ${wireType}`);
    }
  }

  private bigVarint(start: number): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = start; i < this.pos; i++) {
      result |= BigInt((this.buf[i] as number) & 0x7f) << shift;
      shift += 7n;
    }
    return BigInt.asUintN(64, result);
  }
}
