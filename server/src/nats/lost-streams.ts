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
