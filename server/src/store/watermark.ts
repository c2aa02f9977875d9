/**
 * A partition's progress, written by its owner in batches instead of one store write per
 * fire: every fire of the partition's schedules whose due instant is at or before `dueAt`
 * has been published, counting every schedule whose stored revision is at most
 * `revision` (later revisions had not reached the owner yet, so it promises nothing for
 * them).
 */
export interface Watermark {
  readonly dueAt: number;
  readonly revision: number;
}

export function encodeWatermark(mark: Watermark): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setFloat64(0, mark.dueAt);
  view.setFloat64(8, mark.revision);
  return bytes;
}

export function decodeWatermark(bytes: Uint8Array): Watermark | null {
  if (bytes.byteLength !== 16) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { dueAt: view.getFloat64(0), revision: view.getFloat64(8) };
}
