import type { Msg } from "@nats-io/nats-core";

/** The header a KV bucket's delete and purge markers carry (`DEL`, `PURGE`); puts carry none. */
export const KV_OPERATION_HEADER = "KV-Operation";

/**
 * Whether a message read from a KV bucket's stream is a delete or purge marker. A marker is
 * empty, so the headers (which cost a decode each) are read only for empty messages.
 */
export function isDeleteMarker(msg: Msg): boolean {
  return msg.data.length === 0 && (msg.headers?.get(KV_OPERATION_HEADER) || "PUT") !== "PUT";
}
