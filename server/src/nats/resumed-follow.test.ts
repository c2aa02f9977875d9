import { describe, expect, it } from "vitest";
import { followResumed } from "./resumed-follow.js";

describe("followResumed", () => {
  it("runs the follow again after each failure, counting failures until one makes progress", async () => {
    const reported: number[] = [];
    let runs = 0;
    await followResumed(
      new AbortController().signal,
      async (progressed) => {
        runs++;
        if (runs === 3) progressed();
        if (runs <= 3) throw new Error(`run ${runs} failed`);
      },
      (_err, failures) => reported.push(failures),
    );
    expect(runs).toBe(4);
    expect(reported).toEqual([1, 2, 1]);
  });

  it("ends at once when aborted during its pause", async () => {
    const controller = new AbortController();
    let runs = 0;
    const following = followResumed(
      controller.signal,
      async () => {
        runs++;
        setTimeout(() => controller.abort(), 10);
        throw new Error("failed");
      },
      () => {},
    );
    // Due when the first pause (100 ms) would end: timers run in order of their due times, so
    // this comes second unless the abort ended the pause.
    const pauseOver = new Promise<string>((resolve) => setTimeout(() => resolve("paused"), 100));
    expect(await Promise.race([following.then(() => "ended"), pauseOver])).toBe("ended");
    expect(runs).toBe(1);
  });

  it("does not run an aborted follow", async () => {
    const controller = new AbortController();
    controller.abort();
    let runs = 0;
    await followResumed(
      controller.signal,
      async () => {
        runs++;
      },
      () => {},
    );
    expect(runs).toBe(0);
  });
});
