import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { subjectMatches } from "../spec/index.js";

export interface TaskStreamOptions {
  /** The stream every fire is stored in. */
  readonly name: string;
  /** The subject space schedules may publish to; the stream must capture all of it. */
  readonly subjects: readonly string[];
  /** JetStream drops a second copy of a Nats-Msg-Id within this window. */
  readonly duplicateWindowMs: number;
  /** How long fired tasks are kept (0: until limits remove them). */
  readonly maxAgeMs: number;
  readonly replicas: number;
}

/** The stream's configuration does not fit Chime's: says which setting and why. */
export class TaskStreamError extends Error {
  override readonly name = "TaskStreamError";
}

/**
 * Makes sure a stream captures the whole subject space with a duplicate window at least as
 * long as configured, creating the stream or widening it. A stream Chime cannot widen (its
 * subjects overlap another stream's, say) stops start-up with the server's reason.
 */
export async function ensureTaskStream(
  jsm: JetStreamManager,
  options: TaskStreamOptions,
): Promise<StreamConfig> {
  const wanted: Partial<StreamConfig> = {
    subjects: [...options.subjects],
    duplicate_window: nanos(options.duplicateWindowMs),
    max_age: nanos(options.maxAgeMs),
  };
  let existing: StreamConfig;
  try {
    existing = (await jsm.streams.info(options.name)).config;
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound))
      throw err;
    try {
      const info = await jsm.streams.add({
        ...wanted,
        name: options.name,
        storage: "file",
        num_replicas: options.replicas,
      });
      return info.config;
    } catch (addErr) {
      throw new TaskStreamError(
        `cannot create stream ${options.name} over ${options.subjects.join(", ")}: ${(addErr as Error).message}`,
        { cause: addErr },
      );
    }
  }
  const missing = options.subjects.filter(
    (s) => !existing.subjects.some((p) => p === s || subjectMatches(p, s)),
  );
  const windowTooShort = existing.duplicate_window < nanos(options.duplicateWindowMs);
  if (missing.length === 0 && !windowTooShort) return existing;
  try {
    const info = await jsm.streams.update(options.name, {
      ...existing,
      subjects: [...existing.subjects, ...missing],
      duplicate_window: windowTooShort
        ? nanos(options.duplicateWindowMs)
        : existing.duplicate_window,
    });
    return info.config;
  } catch (err) {
    throw new TaskStreamError(
      `stream ${options.name} does not capture ${missing.join(", ") || "the subject space"} or its duplicate window is below --dedup-window, and updating it failed: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
