import { WireType } from "@bufbuild/protobuf/wire";
import { ScheduleSchema, TimeTriggerSchema } from "@chime/sdk";
import { WireReader } from "../wire-reader.js";

// Read off the wire, not decoded: the catalog asks it of every schedule it applies, a
// million of them when a large store is loaded at start-up.

/**
 * What neither a timetable nor a listing's filters read, only a fire or a full view: the
 * payload and headers (the bulk of most stored schedules), and the times it was changed.
 * Indexed by field number.
 */
const LEFT_OUT = new Uint8Array(128);
for (const field of [
  ScheduleSchema.field.payload,
  ScheduleSchema.field.headers,
  ScheduleSchema.field.contentType,
  ScheduleSchema.field.createdAt,
  ScheduleSchema.field.updatedAt,
  ScheduleSchema.field.pausedAt,
]) {
  LEFT_OUT[field.number] = 1;
}
const PROGRESS_AT = ScheduleSchema.field.progressAt.number;
const DEFINED_AT = ScheduleSchema.field.definedAt.number;
const TIME_TRIGGER = ScheduleSchema.field.time.number;
const CRON_TRIGGER = ScheduleSchema.field.cron.number;
const INTERVAL_TRIGGER = ScheduleSchema.field.interval.number;
const RUN_IMMEDIATELY = ScheduleSchema.field.runImmediately.number;
const TIME_TRIGGER_AT = TimeTriggerSchema.field.at.number;

/**
 * What one pass over an encoded schedule found: whether it is a plain one-shot and when, and
 * where the fields an outline may leave out lie. Module state, reused (nothing here awaits):
 * it is asked of a million schedules when a large store is loaded.
 */
const scan = {
  /** Its time trigger's `at`, in Unix ms. */
  at: undefined as number | undefined,
  /** No cron, no interval, no run_immediately. */
  plain: true,
  progressAt: Number.NaN,
  definedAt: Number.NaN,
  /** Fields an outline may leave out, as (start, end, is progress_at) triples, in order. */
  droppable: [] as number[],
};

function scanSchedule(encoded: Uint8Array): void {
  scan.at = undefined;
  scan.plain = true;
  scan.progressAt = Number.NaN;
  scan.definedAt = Number.NaN;
  scan.droppable.length = 0;
  const reader = new WireReader(encoded);
  while (reader.pos < encoded.length) {
    const start = reader.pos;
    const tag = reader.uint32();
    const field = tag >>> 3;
    const lengthDelimited = (tag & 7) === WireType.LengthDelimited;
    if (field === TIME_TRIGGER && lengthDelimited) scan.at = timeTriggerAt(reader);
    else if (field === RUN_IMMEDIATELY) {
      if (reader.varint() !== 0) scan.plain = false;
    } else if (field === PROGRESS_AT && lengthDelimited) {
      scan.progressAt = reader.timestampMs();
      scan.droppable.push(start, reader.pos, 1);
      continue;
    } else if (field === DEFINED_AT && lengthDelimited) {
      scan.definedAt = reader.timestampMs();
    } else {
      if (field === CRON_TRIGGER || field === INTERVAL_TRIGGER) scan.plain = false;
      reader.skip(tag & 7);
    }
    if (field < LEFT_OUT.length && LEFT_OUT[field] === 1) scan.droppable.push(start, reader.pos, 0);
  }
}

/** Where outlines are built: grown as needed, reused by the next (see `farAheadOutline`). */
let outlineBuffer = new Uint8Array(1_024);

/**
 * The scanned schedule without what only a fire or a full view reads (see LEFT_OUT), and
 * without a progress_at one millisecond before defined_at: the value read in its absence
 * (progress.ts, `deriveProgress`), what a schedule not yet fired and defined with a due time
 * still ahead is stored with. Every other field as it was, copied byte by byte (the fields
 * kept are short, and a view per field cost more than the copy); the same array when there
 * is nothing to leave out.
 */
function outlineOfScanned(encoded: Uint8Array): Uint8Array {
  const leaveProgress = scan.progressAt === scan.definedAt - 1;
  const { droppable } = scan;
  let keptBytes = encoded.length;
  for (let i = 0; i < droppable.length; i += 3) {
    if (droppable[i + 2] === 0 || leaveProgress)
      keptBytes -= (droppable[i + 1] as number) - (droppable[i] as number);
  }
  if (keptBytes === encoded.length) return encoded;
  if (outlineBuffer.length < keptBytes) outlineBuffer = new Uint8Array(keptBytes * 2);
  const outline = outlineBuffer;
  let at = 0;
  let from = 0;
  for (let i = 0; i <= droppable.length; i += 3) {
    const last = i === droppable.length;
    if (!last && droppable[i + 2] === 1 && !leaveProgress) continue;
    const to = last ? encoded.length : (droppable[i] as number);
    for (let b = from; b < to; b++) outline[at++] = encoded[b] as number;
    if (!last) from = droppable[i + 1] as number;
  }
  return outline.subarray(0, keptBytes);
}

/**
 * The outline of an encoded plain one-shot (no cron, no interval, no run_immediately) due
 * after `dueAfter` (Unix ms), from one pass over its bytes; undefined for any other schedule.
 * Unless it is `encoded` itself, the outline is a view of a buffer the next call writes over:
 * the caller copies what it keeps.
 */
export function farAheadOutline(encoded: Uint8Array, dueAfter: number): Uint8Array | undefined {
  scanSchedule(encoded);
  if (!scan.plain || scan.at === undefined || scan.at <= dueAfter) return undefined;
  return outlineOfScanned(encoded);
}

/** TimeTrigger.at of the TimeTrigger the reader is at, in Unix ms; reads past the message. */
function timeTriggerAt(reader: WireReader): number | undefined {
  const end = reader.messageEnd();
  let at: number | undefined;
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag >>> 3 === TIME_TRIGGER_AT && (tag & 7) === WireType.LengthDelimited) {
      at = reader.timestampMs();
    } else reader.skip(tag & 7);
  }
  return at;
}
