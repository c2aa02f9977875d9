import { ScheduleSchema, TimeTriggerSchema } from "@chime/sdk";
import { WireReader } from "../wire-reader.js";

// Read off the wire, not decoded: both are asked of every schedule the catalog applies, a
// million of them when a large store is loaded at start-up.

/**
 * What neither a timetable nor a listing's filters read, only a fire or a full view: the
 * payload and headers (the bulk of most stored schedules), and the times it was changed.
 */
const LEFT_OUT: ReadonlySet<number> = new Set(
  [
    ScheduleSchema.field.payload,
    ScheduleSchema.field.headers,
    ScheduleSchema.field.contentType,
    ScheduleSchema.field.createdAt,
    ScheduleSchema.field.updatedAt,
    ScheduleSchema.field.pausedAt,
  ].map((field) => field.number),
);
const PROGRESS_AT = ScheduleSchema.field.progressAt.number;
const DEFINED_AT = ScheduleSchema.field.definedAt.number;
const TIME_TRIGGER = ScheduleSchema.field.time.number;
const CRON_TRIGGER = ScheduleSchema.field.cron.number;
const INTERVAL_TRIGGER = ScheduleSchema.field.interval.number;
const RUN_IMMEDIATELY = ScheduleSchema.field.runImmediately.number;
const TIME_TRIGGER_AT = TimeTriggerSchema.field.at.number;
const WIRE_LENGTH_DELIMITED = 2;

/**
 * An encoded chime.v1.Schedule without what only a fire or a full view reads (see LEFT_OUT),
 * and without a progress_at that says no more than its absence would (see
 * `progressSaysNothing`), every other field as it was (copied as bytes). Returns the same
 * array when none is present.
 */
export function outlineOf(encoded: Uint8Array): Uint8Array {
  const leaveProgress = progressSaysNothing(encoded);
  const reader = new WireReader(encoded);
  const kept: number[] = [];
  let keptBytes = 0;
  let runStart = 0;
  while (reader.pos < encoded.length) {
    const fieldStart = reader.pos;
    const tag = reader.uint32();
    const field = tag >>> 3;
    reader.skip(tag & 7);
    if (!LEFT_OUT.has(field) && !(field === PROGRESS_AT && leaveProgress)) continue;
    if (fieldStart > runStart) {
      kept.push(runStart, fieldStart);
      keptBytes += fieldStart - runStart;
    }
    runStart = reader.pos;
  }
  if (runStart === 0) return encoded;
  kept.push(runStart, encoded.length);
  keptBytes += encoded.length - runStart;
  const outline = new Uint8Array(keptBytes);
  let at = 0;
  for (let i = 0; i < kept.length; i += 2) {
    const part = encoded.subarray(kept[i], kept[i + 1]);
    outline.set(part, at);
    at += part.length;
  }
  return outline;
}

/**
 * Whether progress_at is one millisecond before defined_at, the value read in its absence
 * (progress.ts, `deriveProgress`): what a schedule not yet fired and defined with a due time
 * still ahead is stored with. Compared in milliseconds, as everything that reads it does.
 */
function progressSaysNothing(encoded: Uint8Array): boolean {
  const reader = new WireReader(encoded);
  let progressAt: number | undefined;
  let definedAt: number | undefined;
  while (reader.pos < encoded.length) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const lengthDelimited = (tag & 7) === WIRE_LENGTH_DELIMITED;
    if (field === PROGRESS_AT && lengthDelimited) progressAt = msOf(reader.secondsAndNanos());
    else if (field === DEFINED_AT && lengthDelimited) definedAt = msOf(reader.secondsAndNanos());
    else reader.skip(tag & 7);
  }
  return progressAt !== undefined && definedAt !== undefined && progressAt === definedAt - 1;
}

/** Milliseconds as protobuf-es's `timestampMs` reckons them. */
function msOf({ seconds, nanos }: { seconds: number; nanos: number }): number {
  return seconds * 1000 + Math.round(nanos / 1e6);
}

/**
 * When an encoded schedule that fires once, at its `at`, is due (Unix ms); undefined for any
 * other kind (a cron, an interval, a one-shot that also runs at once).
 */
export function plainOneShotAt(encoded: Uint8Array): number | undefined {
  const reader = new WireReader(encoded);
  let at: number | undefined;
  while (reader.pos < encoded.length) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === CRON_TRIGGER || field === INTERVAL_TRIGGER) return undefined;
    if (field === RUN_IMMEDIATELY && reader.varint() !== 0) return undefined;
    if (field === TIME_TRIGGER && (tag & 7) === WIRE_LENGTH_DELIMITED) at = timeTriggerAt(reader);
    else if (field !== RUN_IMMEDIATELY) reader.skip(tag & 7);
  }
  return at;
}

/** TimeTrigger.at of the TimeTrigger the reader is at, in Unix ms; reads past the message. */
function timeTriggerAt(reader: WireReader): number | undefined {
  const end = reader.messageEnd();
  let at: number | undefined;
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag >>> 3 === TIME_TRIGGER_AT && (tag & 7) === WIRE_LENGTH_DELIMITED) {
      at = msOf(reader.secondsAndNanos());
    } else reader.skip(tag & 7);
  }
  return at;
}
