const INITIAL_TABLE_SIZE = 2_048;
const INITIAL_SLOT_CAPACITY = 1_024;

/**
 * Which slot of a caller's arrays holds each id: a Map<string, number> in one Int32Array
 * (open addressing, linear probing, at most half full). The ids themselves stay in the
 * caller's arrays, read back through `idOf`; each slot's hash is kept beside them, so that
 * moving entries (on a delete or a growth) reads no id. At a million ids a Map costs about 29
 * bytes each on the heap, this table 12 outside it.
 */
export class IdSlotTable {
  /** Slot + 1 at each place; 0: empty. */
  private table = new Int32Array(INITIAL_TABLE_SIZE);
  /** The hash of the id each slot holds. */
  private hashes = new Int32Array(INITIAL_SLOT_CAPACITY);
  private count = 0;

  /** `idOf(slot)` is the id the slot holds, for as long as the slot is in the table. */
  constructor(private readonly idOf: (slot: number) => string | undefined) {}

  get size(): number {
    return this.count;
  }

  get(id: string): number | undefined {
    const place = this.placeOf(id, hashOf(id));
    const entry = this.table[place] as number;
    return entry === 0 ? undefined : entry - 1;
  }

  has(id: string): boolean {
    return this.table[this.placeOf(id, hashOf(id))] !== 0;
  }

  /** Holds `slot` for `id`, instead of any slot it held. */
  set(id: string, slot: number): void {
    const hash = hashOf(id);
    const place = this.placeOf(id, hash);
    if (this.table[place] === 0) this.count++;
    this.table[place] = slot + 1;
    if (slot >= this.hashes.length) {
      let capacity = this.hashes.length * 2;
      while (capacity <= slot) capacity *= 2;
      const hashes = new Int32Array(capacity);
      hashes.set(this.hashes);
      this.hashes = hashes;
    }
    this.hashes[slot] = hash;
    if (this.count * 2 > this.table.length) this.grow();
  }

  /**
   * Makes room for `count` ids at once: filling a table of a million ids from the start
   * rehashes every id placed so far at each doubling, some two million times in all.
   */
  reserve(count: number): void {
    let length = this.table.length;
    while (count * 2 > length) length *= 2;
    if (length > this.table.length) this.rehashInto(length);
  }

  /** Removes `id`; returns the slot it held. */
  delete(id: string): number | undefined {
    const place = this.placeOf(id, hashOf(id));
    const entry = this.table[place] as number;
    if (entry === 0) return undefined;
    this.removeAt(place);
    return entry - 1;
  }

  /**
   * Removes the id `slot` holds, found by the slot's hash and number: no id is read, which
   * saves dropping many at once a cache miss each.
   */
  deleteSlot(slot: number): void {
    const { table } = this;
    const mask = table.length - 1;
    const entry = slot + 1;
    for (let place = (this.hashes[slot] as number) & mask; ; place = (place + 1) & mask) {
      const held = table[place] as number;
      if (held === 0) return;
      if (held === entry) {
        this.removeAt(place);
        return;
      }
    }
  }

  private removeAt(place: number): void {
    const { table } = this;
    const mask = table.length - 1;
    let hole = place;
    this.count--;
    // Backward-shift deletion: later entries of the same run move into the hole when their
    // home place lies cyclically outside (hole, here], so no lookup passes an empty place early.
    for (let here = (hole + 1) & mask; table[here] !== 0; here = (here + 1) & mask) {
      const home = this.hashAt(here) & mask;
      const stays = hole <= here ? hole < home && home <= here : hole < home || home <= here;
      if (stays) continue;
      table[hole] = table[here] as number;
      hole = here;
    }
    table[hole] = 0;
  }

  /** Where `id` (whose hash is `hash`) is, or the empty place where it would go. */
  private placeOf(id: string, hash: number): number {
    const { table, hashes } = this;
    const mask = table.length - 1;
    let place = hash & mask;
    for (;;) {
      const entry = table[place] as number;
      if (entry === 0 || (hashes[entry - 1] === hash && this.idOf(entry - 1) === id)) return place;
      place = (place + 1) & mask;
    }
  }

  private hashAt(place: number): number {
    return this.hashes[(this.table[place] as number) - 1] as number;
  }

  private grow(): void {
    this.rehashInto(this.table.length * 2);
  }

  private rehashInto(length: number): void {
    const old = this.table;
    this.table = new Int32Array(length);
    const mask = this.table.length - 1;
    for (const entry of old) {
      if (entry === 0) continue;
      let place = (this.hashes[entry - 1] as number) & mask;
      while (this.table[place] !== 0) place = (place + 1) & mask;
      this.table[place] = entry;
    }
  }
}

/** FNV-1a over the UTF-16 code units: ids are short, and spread well by it. */
function hashOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  // As an Int32Array holds it.
  return hash | 0;
}
