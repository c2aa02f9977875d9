import type { JetStreamManager } from "@nats-io/jetstream";
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { keySubject } from "./bucket-puts.js";
import { isDeleteMarker } from "./kv-operation.js";
import { followStream } from "./stream-follower.js";

export interface BucketFollowOptions {
  readonly bucket: string;
  /** The bucket's stream (`KV_<bucket>`). */
  readonly stream: string;
  /** The first revision to hand over; 0 (or 1) from the start. */
  readonly fromRevision: number;
  /** Ends the follow (which then resolves). */
  readonly signal: AbortSignal;
}

/**
 * Hands `take` every write to a KV bucket from a revision on, in order, as `followStream`
 * does for its stream: the key, the message, whether it is a delete or purge marker, and
 * its revision. Every message of the stream rather than the last per key, as the client's
 * watch asks: a bucket of history 1 keeps one per key anyway, and the last-per-subject
 * search made creating the consumer outlast the request timeout at a million keys.
 */
export function followBucket(
  nc: NatsConnection,
  jsm: JetStreamManager,
  options: BucketFollowOptions,
  take: (key: string, msg: Msg, deleted: boolean, revision: number) => void,
): Promise<void> {
  const prefixLength = keySubject(options.bucket, "").length;
  const streamOptions = {
    stream: options.stream,
    filterSubject: keySubject(options.bucket, ">"),
    fromSequence: options.fromRevision,
    signal: options.signal,
  };
  return followStream(nc, jsm, streamOptions, (msg, revision) =>
    take(msg.subject.slice(prefixLength), msg, isDeleteMarker(msg), revision),
  );
}
