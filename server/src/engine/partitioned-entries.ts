/** What the table keys an entry by: its id, and the partition it belongs to for good. */
export interface PartitionedEntry {
  readonly id: string;
  readonly partition: number;
}

/**
 * Entries by id, each also in a set of its partition's: a partition handed over or lost costs
 * its own entries, not a walk of every entry the engine holds (a replica stopping walked them
 * all once for each of its partitions).
 */
export class PartitionedEntries<E extends PartitionedEntry> {
  private readonly byId = new Map<string, E>();
  private readonly byPartition = new Map<number, Set<E>>();

  get size(): number {
    return this.byId.size;
  }

  get(id: string): E | undefined {
    return this.byId.get(id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Holds `entry`, in place of the one with its id if there is one. */
  set(entry: E): void {
    const previous = this.byId.get(entry.id);
    if (previous !== undefined) this.byPartition.get(previous.partition)?.delete(previous);
    this.byId.set(entry.id, entry);
    let partition = this.byPartition.get(entry.partition);
    if (partition === undefined) {
      partition = new Set();
      this.byPartition.set(entry.partition, partition);
    }
    partition.add(entry);
  }

  delete(id: string): boolean {
    const entry = this.byId.get(id);
    if (entry === undefined) return false;
    this.byId.delete(id);
    const partition = this.byPartition.get(entry.partition);
    partition?.delete(entry);
    if (partition?.size === 0) this.byPartition.delete(entry.partition);
    return true;
  }

  values(): IterableIterator<E> {
    return this.byId.values();
  }

  /** The partition's entries; one deleted while they are walked is not met later in the walk. */
  ofPartition(partition: number): Iterable<E> {
    return this.byPartition.get(partition) ?? NONE;
  }

  /** Removes the partition's entries and returns them. */
  takePartition(partition: number): Iterable<E> {
    const entries = this.byPartition.get(partition);
    if (entries === undefined) return NONE;
    this.byPartition.delete(partition);
    for (const entry of entries) this.byId.delete(entry.id);
    return entries;
  }
}

const NONE: readonly never[] = [];
