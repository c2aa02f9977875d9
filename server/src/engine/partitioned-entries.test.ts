import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PartitionedEntries } from "./partitioned-entries.js";

interface TestEntry {
  readonly id: string;
  readonly partition: number;
  readonly version: number;
}

const ids = (entries: Iterable<TestEntry>): string[] => [...entries].map((e) => e.id).sort();

describe("PartitionedEntries", () => {
  it("finds entries by id and by partition, and takes a partition's away", () => {
    const table = new PartitionedEntries<TestEntry>();
    table.set({ id: "a", partition: 1, version: 0 });
    table.set({ id: "b", partition: 2, version: 0 });
    table.set({ id: "c", partition: 1, version: 0 });
    table.set({ id: "a", partition: 1, version: 1 });
    expect(table.size).toBe(3);
    expect(table.get("a")?.version).toBe(1);
    expect(ids(table.ofPartition(1))).toEqual(["a", "c"]);
    expect(ids(table.takePartition(1))).toEqual(["a", "c"]);
    expect([table.has("a"), table.has("b"), table.size]).toEqual([false, true, 1]);
    expect(ids(table.takePartition(1))).toEqual([]);
    expect(table.delete("b")).toBe(true);
    expect(table.delete("b")).toBe(false);
    expect(ids(table.ofPartition(2))).toEqual([]);
  });

  it("walks a partition whose entries are deleted during the walk", () => {
    const table = new PartitionedEntries<TestEntry>();
    for (const id of ["a", "b", "c", "d"]) table.set({ id, partition: 0, version: 0 });
    const walked: string[] = [];
    for (const entry of table.ofPartition(0)) {
      walked.push(entry.id);
      table.delete(entry.id);
      if (entry.id === "a") table.delete("c");
    }
    expect(walked).toEqual(["a", "b", "d"]);
    expect(table.size).toBe(0);
  });

  it("agrees with a map of every entry through any sets, deletes and takes", () => {
    const op = fc.tuple(
      fc.constantFrom("set", "delete", "take"),
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 4 }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const table = new PartitionedEntries<TestEntry>();
        const model = new Map<string, TestEntry>();
        // An id keeps its partition, as a schedule does.
        const partitionOf = (key: number) => key % 5;
        let version = 0;
        for (const [kind, key, partition] of ops) {
          const id = `id${key}`;
          if (kind === "set") {
            const entry = { id, partition: partitionOf(key), version: version++ };
            table.set(entry);
            model.set(id, entry);
          } else if (kind === "delete") {
            expect(table.delete(id)).toBe(model.delete(id));
          } else {
            const taken = [...model.values()].filter((e) => e.partition === partition);
            expect(ids(table.takePartition(partition))).toEqual(ids(taken));
            for (const e of taken) model.delete(e.id);
          }
          expect(table.size).toBe(model.size);
          for (let p = 0; p < 5; p++) {
            const expected = [...model.values()].filter((e) => e.partition === p);
            expect([...table.ofPartition(p)].sort((x, y) => (x.id < y.id ? -1 : 1))).toEqual(
              expected.sort((x, y) => (x.id < y.id ? -1 : 1)),
            );
          }
        }
        for (const [id, entry] of model) expect(table.get(id)).toBe(entry);
        expect(ids(table.values())).toEqual(ids(model.values()));
      }),
    );
  });
});
