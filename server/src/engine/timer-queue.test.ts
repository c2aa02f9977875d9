import { describe, expect, it } from "vitest";
import { type Timed, TimerQueue } from "./timer-queue.js";

interface Item extends Timed {
  readonly name: number;
}

function item(name: number): Item {
  return { name, due: 0, queueIndex: -1 };
}

describe("TimerQueue", () => {
  it("pops items in due order, only once due", () => {
    const queue = new TimerQueue<Item>();
    const dues = [50, 10, 40, 30, 20, 10];
    dues.forEach((due, i) => {
      queue.set(item(i), due);
    });
    expect(queue.popDue(5)).toBeUndefined();
    const popped: number[] = [];
    for (let next = queue.popDue(45); next; next = queue.popDue(45)) popped.push(next.due);
    expect(popped).toEqual([10, 10, 20, 30, 40]);
    expect(queue.size).toBe(1);
  });

  it("moves and deletes queued items", () => {
    const queue = new TimerQueue<Item>();
    const items = Array.from({ length: 1000 }, (_, i) => item(i));
    for (const it of items) queue.set(it, (it.name * 7919) % 1000);
    for (const it of items.filter((x) => x.name % 3 === 0)) queue.delete(it);
    for (const it of items.filter((x) => x.name % 3 === 1)) queue.set(it, 5000 - it.name);
    const order: number[] = [];
    for (let next = queue.popDue(Number.MAX_SAFE_INTEGER); next; ) {
      order.push(next.due);
      next = queue.popDue(Number.MAX_SAFE_INTEGER);
    }
    expect(order.length).toBe(items.filter((x) => x.name % 3 !== 0).length);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(items.every((x) => x.queueIndex === -1)).toBe(true);
  });
});
