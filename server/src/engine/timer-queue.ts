/** Something the queue can hold: it keeps its own position so removal is O(log n). */
export interface Timed {
  /** When it is due, in Unix ms. */
  due: number;
  /** The queue's bookkeeping: -1 while it is not queued. */
  queueIndex: number;
}

/**
 * A binary min-heap on `due`: O(log n) to add, remove or move an item, O(1) to see the
 * earliest. The engine arms one timer for `peek()` instead of one per schedule.
 */
export class TimerQueue<T extends Timed> {
  private readonly heap: T[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): T | undefined {
    return this.heap[0];
  }

  has(item: T): boolean {
    return item.queueIndex >= 0 && this.heap[item.queueIndex] === item;
  }

  /** Adds the item, or moves it if it is queued already. */
  set(item: T, due: number): void {
    if (this.has(item)) {
      const before = item.due;
      item.due = due;
      if (due < before) this.up(item.queueIndex);
      else this.down(item.queueIndex);
      return;
    }
    item.due = due;
    item.queueIndex = this.heap.length;
    this.heap.push(item);
    this.up(item.queueIndex);
  }

  /** The earliest item, if it is due at or before `now`. */
  popDue(now: number): T | undefined {
    const top = this.heap[0];
    if (top === undefined || top.due > now) return undefined;
    this.removeAt(0);
    return top;
  }

  delete(item: T): boolean {
    if (!this.has(item)) return false;
    this.removeAt(item.queueIndex);
    return true;
  }

  private removeAt(index: number): void {
    const removed = this.heap[index] as T;
    const last = this.heap.pop() as T;
    removed.queueIndex = -1;
    if (index === this.heap.length) return;
    this.heap[index] = last;
    last.queueIndex = index;
    this.up(index);
    this.down(last.queueIndex);
  }

  private up(index: number): void {
    const heap = this.heap;
    const item = heap[index] as T;
    let i = index;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex] as T;
      if (parent.due <= item.due) break;
      heap[i] = parent;
      parent.queueIndex = i;
      i = parentIndex;
    }
    heap[i] = item;
    item.queueIndex = i;
  }

  private down(index: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[index] as T;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && (heap[right] as T).due < (heap[left] as T).due) child = right;
      const c = heap[child] as T;
      if (c.due >= item.due) break;
      heap[i] = c;
      c.queueIndex = i;
      i = child;
    }
    heap[i] = item;
    item.queueIndex = i;
  }
}
