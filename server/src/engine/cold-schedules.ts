import { IdSlotTable } from "./id-slot-table.js";

/**
 * A plain one-shot waiting for its fire, not yet fired: what the engine orders and hands over
 * by. The rest (its progress, what it publishes) is derived again from its catalog record,
 * which cannot change while it is held here (a change takes it out).
 */
export interface ColdSchedule {
  readonly id: string;
  readonly partition: number;
  readonly due: number;
}

const INITIAL_CAPACITY = 1_024;

/**
 * Schedules due beyond a horizon, held as an id, a partition and a due instant in typed
 * arrays, ordered by due instant in a heap of slots: a million one-shots due tomorrow cost a
 * fraction of what an engine entry (an object, its boxed numbers and a map entry) each would.
 */
export class ColdSchedules {
  private readonly slots = new IdSlotTable((slot) => this.ids[slot]);
  private ids: (string | undefined)[] = [];
  // At most 4096 partitions (--partitions).
  private partitions = new Uint16Array(INITIAL_CAPACITY);
  private dues = new Float64Array(INITIAL_CAPACITY);
  /** Slot → its place in the heap. */
  private heapIndex = new Int32Array(INITIAL_CAPACITY);
  /** Place in the heap → slot. */
  private heap = new Int32Array(INITIAL_CAPACITY);
  private freeSlots: number[] = [];
  private used = 0;

  get size(): number {
    return this.slots.size;
  }

  has(id: string): boolean {
    return this.slots.has(id);
  }

  get(id: string): ColdSchedule | undefined {
    const slot = this.slots.get(id);
    return slot === undefined ? undefined : this.at(slot, id);
  }

  /** Adds the schedule, or replaces the one held under its id. */
  add(schedule: ColdSchedule): void {
    this.delete(schedule.id);
    const slot = this.freeSlots.pop() ?? this.used++;
    if (slot >= this.dues.length) this.grow();
    this.ids[slot] = schedule.id;
    this.partitions[slot] = schedule.partition;
    this.dues[slot] = schedule.due;
    const place = this.slots.size;
    this.slots.set(schedule.id, slot);
    this.heap[place] = slot;
    this.heapIndex[slot] = place;
    this.up(place);
  }

  /** Makes room for `count` more schedules at once, rather than by doubling as they come. */
  reserve(count: number): void {
    const wanted = this.slots.size + count;
    this.slots.reserve(wanted);
    let capacity = this.dues.length;
    while (capacity < wanted) capacity *= 2;
    if (capacity > this.dues.length) this.growTo(capacity);
  }

  delete(id: string): boolean {
    const slot = this.slots.get(id);
    if (slot === undefined) return false;
    this.removeAt(this.heapIndex[slot] as number);
    return true;
  }

  /** When the earliest is due; +Infinity when none is held. */
  get earliestDue(): number {
    return this.slots.size === 0
      ? Number.POSITIVE_INFINITY
      : (this.dues[this.heap[0] as number] as number);
  }

  /** Takes the earliest out. */
  pop(): ColdSchedule | undefined {
    if (this.slots.size === 0) return undefined;
    const slot = this.heap[0] as number;
    const schedule = this.at(slot, this.ids[slot] as string);
    this.removeAt(0);
    return schedule;
  }

  /** Forgets a partition's schedules; returns the earliest due instant among them. */
  dropPartition(partition: number): number {
    let earliest = Number.POSITIVE_INFINITY;
    let removed = 0;
    // A scan of the typed arrays and one rebuild of the heap: a delete at a time through the
    // map costs a hundred times more for a partition of a large store.
    for (let slot = 0; slot < this.used; slot++) {
      const id = this.ids[slot];
      if (id === undefined || this.partitions[slot] !== partition) continue;
      earliest = Math.min(earliest, this.dues[slot] as number);
      this.slots.delete(id);
      this.ids[slot] = undefined;
      this.freeSlots.push(slot);
      removed++;
    }
    if (removed === 0) return earliest;
    const n = this.slots.size + removed;
    let kept = 0;
    for (let place = 0; place < n; place++) {
      const slot = this.heap[place] as number;
      if (this.ids[slot] === undefined) continue;
      this.heap[kept] = slot;
      this.heapIndex[slot] = kept;
      kept++;
    }
    for (let place = (kept >> 1) - 1; place >= 0; place--) this.down(place);
    return earliest;
  }

  private at(slot: number, id: string): ColdSchedule {
    return {
      id,
      partition: this.partitions[slot] as number,
      due: this.dues[slot] as number,
    };
  }

  private removeAt(place: number): void {
    const slot = this.heap[place] as number;
    const id = this.ids[slot] as string;
    this.slots.delete(id);
    this.ids[slot] = undefined;
    this.freeSlots.push(slot);
    const last = this.slots.size;
    if (place === last) return;
    const moved = this.heap[last] as number;
    this.heap[place] = moved;
    this.heapIndex[moved] = place;
    this.up(place);
    this.down(this.heapIndex[moved] as number);
  }

  private up(start: number): void {
    const { heap, heapIndex, dues } = this;
    const slot = heap[start] as number;
    const due = dues[slot] as number;
    let place = start;
    while (place > 0) {
      const parentPlace = (place - 1) >> 1;
      const parent = heap[parentPlace] as number;
      if ((dues[parent] as number) <= due) break;
      heap[place] = parent;
      heapIndex[parent] = place;
      place = parentPlace;
    }
    heap[place] = slot;
    heapIndex[slot] = place;
  }

  private down(start: number): void {
    const { heap, heapIndex, dues } = this;
    const n = this.slots.size;
    const slot = heap[start] as number;
    const due = dues[slot] as number;
    let place = start;
    for (;;) {
      const left = 2 * place + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (
        right < n &&
        (dues[heap[right] as number] as number) < (dues[heap[left] as number] as number)
      )
        child = right;
      const childSlot = heap[child] as number;
      if ((dues[childSlot] as number) >= due) break;
      heap[place] = childSlot;
      heapIndex[childSlot] = place;
      place = child;
    }
    heap[place] = slot;
    heapIndex[slot] = place;
  }

  private grow(): void {
    this.growTo(this.dues.length * 2);
  }

  private growTo(capacity: number): void {
    this.partitions = grown(this.partitions, new Uint16Array(capacity));
    this.dues = grown(this.dues, new Float64Array(capacity));
    this.heapIndex = grown(this.heapIndex, new Int32Array(capacity));
    this.heap = grown(this.heap, new Int32Array(capacity));
  }
}

function grown<T extends Uint16Array | Int32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
