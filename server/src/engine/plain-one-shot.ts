import { WireType } from "@bufbuild/protobuf/wire";
import { ScheduleSchema, ScheduleState, TimeTriggerSchema } from "@chime/sdk";
import { isInstant } from "../spec/instant.js";
import { WireReader } from "../wire-reader.js";

const field = ScheduleSchema.field;
const TIME_TRIGGER_AT = TimeTriggerSchema.field.at.number;

/**
 * When a stored one-shot that has never fired is next due, read off its bytes in one pass:
 * its time trigger's `at`, when nothing else in it (bounds, jitter, run_immediately, a pause,
 * a count, a fire) could move or cancel that fire and `at` is still ahead of its progress.
 * Undefined for any other schedule, and for bytes this pass does not read with certainty:
 * the full plan (`planOf`, `deriveProgress`) decides those.
 *
 * The engine asks it of every one-shot it admits, most of them to wait cold: through the full
 * plan each cost a decoded message, a compiled timetable and its closures, for one number.
 * Fields repeat as `decodeScheduleTiming` reads them: the last one counts.
 */
export function plainOneShotDue(bytes: Uint8Array): number | undefined {
  try {
    return scan(bytes);
  } catch {
    // Unreadable here: the full decode reads (or reports) it.
    return undefined;
  }
}

function scan(bytes: Uint8Array): number | undefined {
  const reader = new WireReader(bytes);
  let at: number | undefined;
  let timed = false;
  let paused = false;
  let immediately = false;
  let progressAt: number | undefined;
  let definedAt: number | undefined;
  while (reader.pos < bytes.length) {
    const tag = reader.uint32();
    const wireType = tag & 7;
    switch (tag >>> 3) {
      case field.time.number:
        if (wireType !== WireType.LengthDelimited) return undefined;
        at = timeTriggerAt(reader);
        timed = true;
        break;
      case field.cron.number:
      case field.interval.number:
        timed = false;
        reader.skip(wireType);
        break;
      case field.progressAt.number:
        if (wireType !== WireType.LengthDelimited) return undefined;
        progressAt = reader.timestampMs();
        break;
      case field.definedAt.number:
        if (wireType !== WireType.LengthDelimited) return undefined;
        definedAt = reader.timestampMs();
        break;
      case field.state.number: {
        if (wireType !== WireType.Varint) return undefined;
        const state = reader.varint();
        paused = state === ScheduleState.PAUSED || state === ScheduleState.COMPLETED;
        break;
      }
      case field.runImmediately.number:
        if (wireType !== WireType.Varint) return undefined;
        immediately = reader.varint() !== 0;
        break;
      case field.fireCount.number:
      case field.manualFireCount.number:
      case field.pendingManualFires.number:
      case field.lastFireAt.number:
      case field.startAt.number:
      case field.endAt.number:
      case field.jitter.number:
        // Present at all (a zero written out, say): the full plan reads it.
        return undefined;
      default:
        reader.skip(wireType);
    }
  }
  if (!timed || paused || immediately || at === undefined || !isInstant(at)) return undefined;
  // As `deriveProgress` reckons a record without progress_at.
  const accountedUpTo = progressAt ?? (definedAt ?? 0) - 1;
  return at > accountedUpTo ? at : undefined;
}

/** The `at` of the TimeTrigger the reader is at (the last one written); reads past it. */
function timeTriggerAt(reader: WireReader): number | undefined {
  const end = reader.messageEnd();
  let at: number | undefined;
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag >>> 3 !== TIME_TRIGGER_AT) reader.skip(tag & 7);
    else if ((tag & 7) === WireType.LengthDelimited) at = reader.timestampMs();
    else throw new RangeError("TimeTrigger.at is not a message");
  }
  return at;
}
