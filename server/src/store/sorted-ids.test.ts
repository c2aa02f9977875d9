import { describe, expect, it } from "vitest";
import { SortedIds } from "./sorted-ids.js";

const id = (n: number): string => `s${String(n).padStart(7, "0")}`;

/** A deterministic shuffle within windows of `spread`, as concurrent writers interleave. */
function interleaved(count: number, spread: number): string[] {
  const ids = Array.from({ length: count }, (_, i) => id(i));
  let seed = 7;
  for (let i = 0; i < count; i++) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = Math.min(count - 1, i + (seed % spread));
    [ids[i], ids[j]] = [ids[j] as string, ids[i] as string];
  }
  return ids;
}

describe("SortedIds", () => {
  it.each([1, 8, 2_000])(
    "lists ids in order however far back they arrive (spread %i)",
    (spread) => {
      const order = interleaved(10_000, spread);
      const sorted = new SortedIds();
      for (const x of order) sorted.add(x);
      expect(sorted.size).toBe(10_000);
      expect([...sorted.after("")]).toEqual([...order].sort());
    },
  );

  it("pages from after an id, whether or not that id is held", () => {
    const sorted = new SortedIds();
    for (const x of interleaved(1_000, 300)) sorted.add(x);
    expect([...sorted.after(id(499))].slice(0, 2)).toEqual([id(500), id(501)]);
    sorted.remove(id(500));
    expect([...sorted.after(id(499))].slice(0, 2)).toEqual([id(501), id(502)]);
    expect([...sorted.after(id(500))][0]).toBe(id(501));
    expect([...sorted.after(id(999))]).toEqual([]);
  });

  it("stays in order through removals that empty whole chunks", () => {
    const sorted = new SortedIds();
    const order = interleaved(5_000, 3_000);
    for (const x of order) sorted.add(x);
    for (let i = 0; i < 5_000; i++)
      if (i % 3 !== 0 || (i > 1_000 && i < 3_500)) sorted.remove(id(i));
    sorted.remove(id(5_001));
    const kept = [...order].sort().filter((_, i) => i % 3 === 0 && (i <= 1_000 || i >= 3_500));
    expect(sorted.size).toBe(kept.length);
    expect([...sorted.after("")]).toEqual(kept);
    expect([...sorted.after(id(999))][0]).toBe(id(3_501));
    sorted.add(id(2_000));
    expect([...sorted.after(id(999))].slice(0, 2)).toEqual([id(2_000), id(3_501)]);
  });
});
