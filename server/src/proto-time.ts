import { create } from "@bufbuild/protobuf";
import { type Duration, DurationSchema, type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";

/** Unix ms of a Timestamp, or undefined when it is unset. */
export function msOf(timestamp: Timestamp | undefined): number | undefined {
  return timestamp === undefined ? undefined : timestampMs(timestamp);
}

export function timestampOf(ms: number | undefined): Timestamp | undefined {
  return ms === undefined ? undefined : timestampAt(ms);
}

/**
 * A Timestamp of Unix ms, as timestampFromMs makes it but as a literal: a create stamps four,
 * and create() costs some ten times a literal. Before 1970 the nanos stay positive, where
 * timestampFromMs makes them negative.
 */
export function timestampAt(ms: number): Timestamp {
  const seconds = Math.floor(ms / 1000);
  return {
    $typeName: "google.protobuf.Timestamp",
    seconds: BigInt(seconds),
    nanos: (ms - seconds * 1000) * 1_000_000,
  };
}

/** Milliseconds of a Duration (sub-millisecond parts are dropped), or undefined when unset. */
export function durationMs(duration: Duration | undefined): number | undefined {
  if (duration === undefined) return undefined;
  return Number(duration.seconds) * 1000 + Math.trunc(duration.nanos / 1_000_000);
}

export function durationOf(ms: number | undefined): Duration | undefined {
  if (ms === undefined) return undefined;
  const seconds = Math.trunc(ms / 1000);
  return create(DurationSchema, {
    seconds: BigInt(seconds),
    nanos: (ms - seconds * 1000) * 1_000_000,
  });
}

/** RFC 3339 in UTC with milliseconds, as every Chime-* time header carries it. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}
