import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";

/**
 * Which of `streams` JetStream says it does not have. Only its own "stream not found" counts:
 * a timeout, or a cluster still electing a stream's leader, says nothing of the stream.
 */
export async function missingStreams(
  jsm: JetStreamManager,
  streams: readonly string[],
): Promise<string[]> {
  const missing: string[] = [];
  for (const name of streams) {
    try {
      await jsm.streams.info(name);
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)
        missing.push(name);
    }
  }
  return missing;
}

// Failures come in runs (every fire due, every retry of a watch): at most one look a second.
const SUSPICION_LOOK_INTERVAL_MS = 1_000;

/**
 * Looks for streams gone from JetStream (a nats-server that lost its store, a stream removed by
 * hand) when told to, and tells `lost` of them once, the first time a look finds any. Looks
 * begin once `arm` has been called.
 */
export class LostStreamWatch {
  private lost: ((gone: string[]) => void) | undefined;
  private found = false;
  private looking = false;
  private lookedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly streams: readonly string[],
  ) {}

  arm(lost: (gone: string[]) => void): void {
    this.lost = lost;
  }

  /** Looks now (after a reconnect, say). */
  async look(): Promise<void> {
    if (this.lost === undefined || this.found) return;
    const gone = await missingStreams(this.jsm, this.streams).catch(() => []);
    if (gone.length === 0 || this.found) return;
    this.found = true;
    this.lost(gone);
  }

  /**
   * Something failed for want of a stream, or may have (a watch, a write or a fire): looks,
   * unless a look is under way or one began within the last second (with NATS away, each waits
   * out its requests' timeout).
   */
  suspect(): void {
    if (this.looking || Date.now() - this.lookedAt < SUSPICION_LOOK_INTERVAL_MS) return;
    this.looking = true;
    this.lookedAt = Date.now();
    void this.look().finally(() => {
      this.looking = false;
    });
  }
}
