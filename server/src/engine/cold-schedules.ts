import { IdSlotTable } from "./id-slot-table.js";
import { type Timed, TimerQueue } from "./timer-queue.js";

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
const INITIAL_PARTITION_CAPACITY = 64;

/** One partition's schedules: its slots in a heap, by due instant. */
class PartitionHeap implements Timed {
  slots = new Int32Array(INITIAL_PARTITION_CAPACITY);
  size = 0;
  /** Its earliest schedule's due instant, by which the partitions are ordered. */
  due = Number.POSITIVE_INFINITY;
  queueIndex = -1;

  constructor(readonly partition: number) {}
}

/**
 * Schedules due beyond a horizon, held as an id, a partition and a due instant in typed
 * arrays: a million one-shots due tomorrow cost a fraction of what an engine entry (an object,
 * its boxed numbers and a map entry) each would. Each partition orders its own slots in a
 * heap, and the partitions are ordered by their earliest: so a partition that changes owner
 * is dropped for the cost of its own schedules. With one heap for all, each drop was a scan
 * of every slot and a rebuild of the heap: a replica stopping with a million schedules in 16
 * partitions blocked its event loop for a second, 20-150 ms a partition.
 */
export class ColdSchedules {
  private readonly slots = new IdSlotTable((slot) => this.ids[slot]);
  private ids: (string | undefined)[] = [];
  // At most 4096 partitions (--partitions).
  private partitions = new Uint16Array(INITIAL_CAPACITY);
  private dues = new Float64Array(INITIAL_CAPACITY);
  /** Slot → its place in its partition's heap. */
  private heapIndex = new Int32Array(INITIAL_CAPACITY);
  private readonly byPartition = new Map<number, PartitionHeap>();
  /** Partitions holding schedules, by their earliest due instant. */
  private readonly order = new TimerQueue<PartitionHeap>();
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
    this.slots.set(schedule.id, slot);
    let heap = this.byPartition.get(schedule.partition);
    if (heap === undefined) {
      heap = new PartitionHeap(schedule.partition);
      this.byPartition.set(schedule.partition, heap);
    }
    if (heap.size === heap.slots.length)
      heap.slots = grown(heap.slots, new Int32Array(heap.size * 2));
    const place = heap.size++;
    heap.slots[place] = slot;
    this.heapIndex[slot] = place;
    this.up(heap, place);
    if (heap.slots[0] === slot) this.order.set(heap, schedule.due);
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
    const heap = this.byPartition.get(this.partitions[slot] as number) as PartitionHeap;
    this.removeAt(heap, this.heapIndex[slot] as number);
    return true;
  }

  /** When the earliest is due; +Infinity when none is held. */
  get earliestDue(): number {
    return this.order.peek()?.due ?? Number.POSITIVE_INFINITY;
  }

  /** Takes the earliest out. */
  pop(): ColdSchedule | undefined {
    const first = this.order.peek();
    if (first === undefined) return undefined;
    const slot = first.slots[0] as number;
    const schedule = this.at(slot, this.ids[slot] as string);
    this.removeAt(first, 0);
    return schedule;
  }

  /** Forgets a partition's schedules; returns the earliest due instant among them. */
  dropPartition(partition: number): number {
    const heap = this.byPartition.get(partition);
    if (heap === undefined) return Number.POSITIVE_INFINITY;
    for (let place = 0; place < heap.size; place++) this.free(heap.slots[place] as number);
    this.forget(heap);
    return heap.due;
  }

  private at(slot: number, id: string): ColdSchedule {
    return {
      id,
      partition: this.partitions[slot] as number,
      due: this.dues[slot] as number,
    };
  }

  private free(slot: number): void {
    this.slots.deleteSlot(slot);
    this.ids[slot] = undefined;
    this.freeSlots.push(slot);
  }

  private removeAt(heap: PartitionHeap, place: number): void {
    this.free(heap.slots[place] as number);
    const last = --heap.size;
    if (last === 0) {
      this.forget(heap);
      return;
    }
    if (place !== last) {
      const moved = heap.slots[last] as number;
      heap.slots[place] = moved;
      this.heapIndex[moved] = place;
      this.up(heap, place);
      this.down(heap, this.heapIndex[moved] as number);
    }
    // Its earliest may have changed either way.
    this.order.set(heap, this.dues[heap.slots[0] as number] as number);
  }

  /** Forgets an emptied or dropped partition. */
  private forget(heap: PartitionHeap): void {
    this.order.delete(heap);
    this.byPartition.delete(heap.partition);
  }

  private up(heap: PartitionHeap, start: number): void {
    const { heapIndex, dues } = this;
    const slots = heap.slots;
    const slot = slots[start] as number;
    const due = dues[slot] as number;
    let place = start;
    while (place > 0) {
      const parentPlace = (place - 1) >> 1;
      const parent = slots[parentPlace] as number;
      if ((dues[parent] as number) <= due) break;
      slots[place] = parent;
      heapIndex[parent] = place;
      place = parentPlace;
    }
    slots[place] = slot;
    heapIndex[slot] = place;
  }

  private down(heap: PartitionHeap, start: number): void {
    const { heapIndex, dues } = this;
    const { slots, size } = heap;
    const slot = slots[start] as number;
    const due = dues[slot] as number;
    let place = start;
    for (;;) {
      const left = 2 * place + 1;
      if (left >= size) break;
      const right = left + 1;
      let child = left;
      if (
        right < size &&
        (dues[slots[right] as number] as number) < (dues[slots[left] as number] as number)
      )
        child = right;
      const childSlot = slots[child] as number;
      if ((dues[childSlot] as number) >= due) break;
      slots[place] = childSlot;
      heapIndex[childSlot] = place;
      place = child;
    }
    slots[place] = slot;
    heapIndex[slot] = place;
  }

  private grow(): void {
    this.growTo(this.dues.length * 2);
  }

  private growTo(capacity: number): void {
    this.partitions = grown(this.partitions, new Uint16Array(capacity));
    this.dues = grown(this.dues, new Float64Array(capacity));
    this.heapIndex = grown(this.heapIndex, new Int32Array(capacity));
  }
}

function grown<T extends Uint16Array | Int32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
