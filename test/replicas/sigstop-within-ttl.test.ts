import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep } from "../harness/deliveries.js";
import {
  createLoad,
  expectEachFiredOnce,
  maxLateness,
  samplePerPartition,
} from "../harness/fire-audit.js";
import { logLines, ReplicaCluster } from "../harness/replica-cluster.js";

const LEASE_TTL_MS = 2_000;
// Longer than a lease is trusted (ttl − ttl/5 after the renewal was sent), shorter than the
// bucket keeps the lease: on waking the replica has fenced itself, but its renewal still lands.
const PAUSE_MS = 1_650;
const PAUSES = 5;
const BETWEEN_MS = 3_500;
// A paused owner's partitions are late by the pause and, at worst, a lease TTL and a renewal.
const MAX_LATENESS_MS = 5_000;

describe("a replica paused (SIGSTOP) for less than its lease TTL", () => {
  let cluster: ReplicaCluster;

  beforeAll(async () => {
    cluster = await ReplicaCluster.start({ settings: { leaseTtl: `${LEASE_TTL_MS}ms` } });
  }, 30_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it("fires its partitions again once it is awake, whether it kept its leases or not", async () => {
    const schedules = await createLoad(cluster.client("r3"), {
      intervals: 800,
      crons: 200,
      subjectPrefix: "tasks.blip",
    });
    const sample = samplePerPartition(schedules);
    const before = await cluster.awaitOwners("r3", sample, ["r1", "r2", "r3"], 10_000);
    const mine = new Set([...before].filter(([, o]) => o === "r1").map(([p]) => p));
    await sleep(1_500);

    const firstPause = Date.now();
    for (let i = 0; i < PAUSES; i++) {
      const { sentAt: stoppedAt } = await cluster.pause("r1");
      await sleep(stoppedAt + PAUSE_MS - Date.now());
      cluster.resume("r1");
      await sleep(BETWEEN_MS);
    }
    expect(cluster.unexpectedExits()).toEqual([]);

    const to = Date.now() - 1_000;
    const windows = [{ schedules, from: 0, to }];
    const index = await cluster.storedFires(windows, 8_000);

    const log = cluster.logOf("r1");
    const times = (message: string): string =>
      logLines(log, message)
        .filter((l) => l.time >= firstPause)
        .map((l) => `+${l.time - firstPause}ms p${l.line.partition}`)
        .join(", ");
    const story = [
      `r1 held partitions ${[...mine].join(", ")}`,
      `suspended (fenced): ${times("lease not current; partition suspended")}`,
      `lease lost: ${times("partition lease lost")}`,
    ].join("\n");
    const late = maxLateness(index, schedules, mine, firstPause, to);
    const tooLate = [...late].filter(([, ms]) => ms > MAX_LATENESS_MS);
    expect(
      tooLate.map(([p, ms]) => `p${p}: ${ms} ms`),
      `partitions of the paused replica that stopped firing\n${story}`,
    ).toEqual([]);
    expectEachFiredOnce(index, windows, { story });
  }, 60_000);
});
