import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ColdSchedules } from "./cold-schedules.js";

function schedule(id: string, due: number, partition = 0) {
  return { id, partition, due };
}

describe("ColdSchedules", () => {
  it("gives back what it holds, by id and earliest first", () => {
    const cold = new ColdSchedules();
    cold.add(schedule("b", 20));
    cold.add(schedule("a", 10));
    cold.add(schedule("c", 30, 1));
    expect(cold.get("a")).toEqual(schedule("a", 10));
    expect(cold.earliestDue).toBe(10);
    expect(cold.pop()?.id).toBe("a");
    expect(cold.has("a")).toBe(false);
    expect(cold.size).toBe(2);
  });

  it("replaces a schedule held under the same id", () => {
    const cold = new ColdSchedules();
    cold.add(schedule("a", 10));
    cold.add(schedule("a", 50));
    expect(cold.size).toBe(1);
    expect(cold.earliestDue).toBe(50);
  });

  it("drops a partition's schedules and says when the earliest of them was due", () => {
    const cold = new ColdSchedules();
    cold.add(schedule("a", 10, 1));
    cold.add(schedule("b", 5, 2));
    cold.add(schedule("c", 7, 1));
    expect(cold.dropPartition(1)).toBe(7);
    expect(cold.dropPartition(3)).toBe(Number.POSITIVE_INFINITY);
    expect([cold.pop()?.id, cold.pop()]).toEqual(["b", undefined]);
  });

  it("pops in due order through any adds, deletes and reservations, past its first capacity, and drops partitions", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 0, max: 1e6 })), {
          maxLength: 3_000,
        }),
        (ops) => {
          const cold = new ColdSchedules();
          const model = new Map<string, number>();
          const partitionOf = (key: number) => key % 5;
          for (const [key, due] of ops) {
            const id = `id${key}`;
            if (due % 97 === 0) {
              const partition = key % 6;
              const dropped = [...model].filter(
                ([k]) => partitionOf(Number(k.slice(2))) === partition,
              );
              const earliest = Math.min(...dropped.map(([, d]) => d));
              expect(cold.dropPartition(partition)).toBe(earliest);
              for (const [k] of dropped) model.delete(k);
            } else if (due % 89 === 0) {
              cold.reserve(key);
            } else if (due % 5 === 0) {
              expect(cold.delete(id)).toBe(model.delete(id));
            } else {
              cold.add(schedule(id, due, partitionOf(key)));
              model.set(id, due);
            }
            expect(cold.earliestDue).toBe(Math.min(...model.values()));
          }
          expect(cold.size).toBe(model.size);
          const popped: number[] = [];
          for (let s = cold.pop(); s !== undefined; s = cold.pop()) {
            expect(model.get(s.id)).toBe(s.due);
            popped.push(s.due);
          }
          expect(popped).toEqual([...model.values()].sort((a, b) => a - b));
        },
      ),
      { numRuns: 30 },
    );
  });
});
