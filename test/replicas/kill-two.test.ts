import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep } from "../harness/deliveries.js";
import {
  createLoad,
  expectEachFiredOnce,
  firstReceiptAfter,
  samplePerPartition,
  spread,
  type TrackedSchedule,
} from "../harness/fire-audit.js";
import { ReplicaCluster } from "../harness/replica-cluster.js";

describe("kill -9 of one replica, then of a second", () => {
  let cluster: ReplicaCluster;

  beforeAll(async () => {
    cluster = await ReplicaCluster.start();
  }, 30_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it("the survivor takes every partition; no fire is lost or stored twice", async () => {
    const survivor = cluster.client("r3");
    const started = Date.now();
    const schedules: TrackedSchedule[] = await createLoad(survivor, {
      intervals: 1_000,
      crons: 200,
      subjectPrefix: "tasks.kill2",
    });
    const sample = samplePerPartition(schedules);
    console.info(`created ${schedules.length} schedules in ${Date.now() - started} ms`);
    await cluster.awaitOwners("r3", sample, ["r1", "r2", "r3"], 10_000);
    await sleep(2_000);

    const before = [...(await cluster.owners("r3", sample))];
    const firstKill = await cluster.end("r1", "SIGKILL");
    await cluster.awaitOwners("r3", sample, ["r2", "r3"], 10_000);
    await sleep(2_000);
    const between = [...(await cluster.owners("r3", sample))];
    const secondKill = await cluster.end("r2", "SIGKILL");
    const owners = await cluster.awaitOwners("r3", sample, ["r3"], 10_000);
    expect(new Set(owners.values())).toEqual(new Set(["r3"]));
    await sleep(2_000);
    expect(cluster.unexpectedExits()).toEqual([]);

    const to = Date.now() - 1_000;
    const windows = [{ schedules, from: 0, to }];
    const index = await cluster.storedFires(windows);

    for (const [victim, kill, owned] of [
      ["r1", firstKill, before],
      ["r2", secondKill, between],
    ] as const) {
      const orphaned = new Set(owned.filter(([, o]) => o === victim).map(([p]) => p));
      const first = firstReceiptAfter(index, schedules, orphaned, kill.sentAt);
      const failover = [...first.values()].map((t) => t - kill.sentAt);
      console.info(
        `kill -9 of ${victim}: ${orphaned.size} orphaned partitions fired again after (ms) ${JSON.stringify(spread(failover))}`,
      );
      expect(first.size, "every orphaned partition fires again").toBe(orphaned.size);
    }
    const checked = expectEachFiredOnce(index, windows);
    console.info(`checked ${checked} nominal fires, ${index.size} recorded`);
  }, 60_000);
});
