// Large enough that a million ids make only a few thousand chunks, small enough that putting an
// id in its place moves at most this many.
const MAX_CHUNK = 1_024;

/**
 * Schedule ids in ascending order, for paging, in sorted chunks. Ids sort by creation time, but
 * concurrent writers land them in the store (and a replay brings them back) up to thousands of
 * places out of order: in one array each such id would move everything after it, in chunks it
 * moves at most a chunk. No change costs time in proportion to the number of ids, so none
 * stalls the event loop at a million.
 */
export class SortedIds {
  /** Each sorted and not empty; every id of a chunk sorts before every id of the next. */
  private readonly chunks: string[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(id: string): void {
    this.count++;
    if (this.chunks.length === 0) {
      this.chunks.push([id]);
      return;
    }
    // Most ids are the newest yet: one comparison puts them in place.
    const lastChunk = this.chunks.length - 1;
    const last = this.chunks[lastChunk] as string[];
    if (id > (last[last.length - 1] as string) && last.length >= MAX_CHUNK) {
      // A full chunk that only ever grew at its end starts the next one, copied to its exact
      // size: split in halves, chunks filled in id order would hold twice the slots they use.
      this.chunks[lastChunk] = last.slice();
      this.chunks.push([id]);
      return;
    }
    const c = id > (last[last.length - 1] as string) ? lastChunk : this.chunkFor(id);
    const chunk = this.chunks[c] as string[];
    const i = upperBound(chunk, id);
    if (i === chunk.length) chunk.push(id);
    else chunk.splice(i, 0, id);
    if (chunk.length > MAX_CHUNK) this.chunks.splice(c + 1, 0, chunk.splice(MAX_CHUNK / 2));
  }

  remove(id: string): void {
    if (this.chunks.length === 0) return;
    const c = this.chunkFor(id);
    const chunk = this.chunks[c] as string[];
    const i = upperBound(chunk, id) - 1;
    if (i < 0 || chunk[i] !== id) return;
    chunk.splice(i, 1);
    this.count--;
    if (chunk.length === 0) this.chunks.splice(c, 1);
  }

  /** Ids in ascending order starting after `afterId` (from the start when it is empty). */
  *after(afterId: string): Generator<string> {
    if (this.chunks.length === 0) return;
    let c = afterId === "" ? 0 : this.chunkFor(afterId);
    let i = afterId === "" ? 0 : upperBound(this.chunks[c] as string[], afterId);
    for (; c < this.chunks.length; c++, i = 0) {
      const chunk = this.chunks[c] as string[];
      while (i < chunk.length) yield chunk[i++] as string;
    }
  }

  /** The chunk `id` belongs in: the last whose first id is not after it (else the first). */
  private chunkFor(id: string): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (((this.chunks[mid] as string[])[0] as string) <= id) lo = mid + 1;
      else hi = mid;
    }
    return Math.max(0, lo - 1);
  }
}

function upperBound(sorted: readonly string[], value: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
