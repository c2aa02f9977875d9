import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { ConflictPolicy } from "@chime/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep, until } from "../harness/deliveries.js";
import { ReplicaCluster } from "../harness/replica-cluster.js";

const NAMES = 24;
// Shorter than a lease is trusted after its renewal (ttl − ttl/5 of the default 2 s), and than
// the 2 s a replica waits for the owner's answer: the owner keeps its partitions throughout.
const OWNER_STOPPED_MS = 800;

describe("a change that stops fires, made through a replica that does not own the schedule", () => {
  let cluster: ReplicaCluster;

  beforeAll(async () => {
    cluster = await ReplicaCluster.start({ replicas: ["r1", "r2"] });
  }, 30_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it("returns only once the owner has applied it (replace, pause, unschedule)", async () => {
    const front = cluster.client("r1");
    const define = (name: string, subject: string) =>
      front.scheduleByInterval({
        name,
        conflictPolicy: ConflictPolicy.REPLACE,
        subject,
        every: durationFromMs(3_600_000),
      });
    const names = Array.from({ length: NAMES }, (_, i) => `owned-elsewhere-${i}`);
    for (const name of names) await define(name, "tasks.owner.v1");
    // Both replicas hold partitions once the leases have spread.
    let ownerOf = new Map<string, string>();
    await until(
      "the partitions to spread over both replicas",
      async () => {
        const owners = await Promise.all(
          names.map(async (name) => {
            const s = await front.getSchedule({ target: { case: "name", value: name } });
            return [name, s.owner] as const;
          }),
        );
        ownerOf = new Map(owners);
        const held = new Set(ownerOf.values());
        return held.has("r1") && held.has("r2") && !held.has("");
      },
      10_000,
      100,
    );
    const elsewhere = names.filter((name) => ownerOf.get(name) === "r2");
    expect(elsewhere.length, "schedules r2 owns").toBeGreaterThanOrEqual(3);
    const [replaced, paused, unscheduled] = elsewhere as [string, string, string];

    await cluster.pause("r2");
    const timed = async (call: () => Promise<unknown>): Promise<number> => {
      await call();
      return Date.now();
    };
    const returned = Promise.all([
      timed(() => define(replaced, "tasks.owner.v2")),
      timed(() => front.pauseSchedule({ target: { case: "name", value: paused } })),
      timed(() => front.unschedule({ target: { case: "name", value: unscheduled } })),
    ]);
    await sleep(OWNER_STOPPED_MS);
    const resumedAt = cluster.resume("r2");
    const [replacedAt, pausedAt, unscheduledAt] = await returned;

    // Until the owner applies a change it may still fire what the change stops.
    expect(replacedAt, "Replace returned before the owner applied it").toBeGreaterThanOrEqual(
      resumedAt,
    );
    expect(pausedAt, "Pause returned before the owner applied it").toBeGreaterThanOrEqual(
      resumedAt,
    );
    expect(unscheduledAt, "Unschedule returned before the owner applied it").toBeGreaterThanOrEqual(
      resumedAt,
    );
    const now = await front.getSchedule({ target: { case: "name", value: replaced } });
    expect(now.subject).toBe("tasks.owner.v2");
    expect(cluster.unexpectedExits()).toEqual([]);
  }, 60_000);
});
