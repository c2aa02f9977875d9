import { describe, expect, it } from "vitest";
import { partitionsOf, rendezvousOwner } from "./rendezvous.js";

const PARTITIONS = 64;

describe("rendezvous hashing", () => {
  it("gives every partition exactly one owner among the members", () => {
    const members = ["chime-a-1", "chime-b-2", "chime-c-3"];
    const owned = members.map((m) => partitionsOf(m, members, PARTITIONS));
    expect(owned.flat().sort((a, b) => a - b)).toEqual(
      Array.from({ length: PARTITIONS }, (_, i) => i),
    );
    // Spread: no member gets less than half its fair share.
    for (const list of owned) expect(list.length).toBeGreaterThan(PARTITIONS / members.length / 2);
  });

  it("does not depend on the order members are listed in", () => {
    const members = ["r1", "r2", "r3", "r4"];
    for (let p = 0; p < PARTITIONS; p++) {
      expect(rendezvousOwner(p, members)).toBe(rendezvousOwner(p, [...members].reverse()));
    }
  });

  it("moves only the partitions of a member that leaves", () => {
    const before = ["r1", "r2", "r3"];
    const after = ["r1", "r3"];
    for (let p = 0; p < PARTITIONS; p++) {
      const owner = rendezvousOwner(p, before);
      if (owner !== "r2") expect(rendezvousOwner(p, after)).toBe(owner);
    }
  });

  it("has no owner without members", () => {
    expect(rendezvousOwner(0, [])).toBeUndefined();
  });
});
