import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IdSlotTable } from "./id-slot-table.js";

describe("IdSlotTable", () => {
  it("answers as a Map would through any sets, deletes (by id or by slot) and reservations, past its first size", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 4_000 }),
            fc.constantFrom("set", "set", "delete", "deleteSlot", "reserve"),
          ),
          { maxLength: 6_000 },
        ),
        (ops) => {
          // The caller's arrays: slot → id, as ColdSchedules keeps them.
          const ids: (string | undefined)[] = [];
          const table = new IdSlotTable((slot) => ids[slot]);
          const model = new Map<string, number>();
          for (const [key, op] of ops) {
            const id = `01J${key.toString(32).padStart(6, "0")}`;
            if (op === "reserve") {
              table.reserve(key);
            } else if (op === "set") {
              const slot = model.get(id) ?? ids.length;
              ids[slot] = id;
              table.set(id, slot);
              model.set(id, slot);
            } else if (op === "deleteSlot") {
              // By the slot alone, as a partition's schedules are dropped.
              const slot = model.get(id);
              if (slot !== undefined) {
                table.deleteSlot(slot);
                ids[slot] = undefined;
                model.delete(id);
              }
            } else {
              expect(table.delete(id)).toBe(model.get(id));
              const slot = model.get(id);
              if (slot !== undefined) ids[slot] = undefined;
              model.delete(id);
            }
          }
          expect(table.size).toBe(model.size);
          for (let key = 0; key <= 4_000; key++) {
            const id = `01J${key.toString(32).padStart(6, "0")}`;
            expect(table.get(id)).toBe(model.get(id));
            expect(table.has(id)).toBe(model.has(id));
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("finds every id left after deleting others by slot from a table close to half full", () => {
    // Near half full, runs of neighbouring entries are long: a delete that left a gap in one
    // would hide the entries after it.
    const ids: (string | undefined)[] = [];
    const table = new IdSlotTable((slot) => ids[slot]);
    const count = 1_000;
    for (let slot = 0; slot < count; slot++) {
      ids[slot] = `01J${slot.toString(32).padStart(6, "0")}`;
      table.set(ids[slot] as string, slot);
    }
    for (let slot = 0; slot < count; slot += 3) {
      table.deleteSlot(slot);
      ids[slot] = undefined;
    }
    expect(table.size).toBe(count - Math.ceil(count / 3));
    for (let slot = 0; slot < count; slot++) {
      const id = `01J${slot.toString(32).padStart(6, "0")}`;
      expect(table.get(id)).toBe(slot % 3 === 0 ? undefined : slot);
    }
  });
});
