import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep } from "../harness/deliveries.js";
import {
  createLoad,
  expectEachFiredOnce,
  nominalOfMessageId,
  samplePerPartition,
} from "../harness/fire-audit.js";
import { logLines, ReplicaCluster, refired } from "../harness/replica-cluster.js";

const LEASE_TTL_MS = 2_000;
const PAUSE_MS = 4_000;

describe("a replica paused (SIGSTOP) past its lease TTL, then resumed", () => {
  let cluster: ReplicaCluster;

  beforeAll(async () => {
    cluster = await ReplicaCluster.start({ settings: { leaseTtl: `${LEASE_TTL_MS}ms` } });
  }, 30_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it("fires nothing after waking until it holds a lease again", async () => {
    const schedules = await createLoad(cluster.client("r3"), {
      intervals: 1_000,
      crons: 200,
      subjectPrefix: "tasks.pause",
    });
    const sample = samplePerPartition(schedules);
    const before = await cluster.awaitOwners("r3", sample, ["r1", "r2", "r3"], 10_000);
    const paused = [...before].filter(([, o]) => o === "r1").map(([p]) => p);
    await sleep(2_000);

    const { sentAt: stoppedAt, stoppedAt: frozenAt } = await cluster.pause("r1");
    // While it sleeps, the others take its partitions once its leases have expired.
    const during = await cluster.awaitOwners("r3", sample, ["r2", "r3"], PAUSE_MS - 500);
    const takenAt = Date.now();
    await sleep(stoppedAt + PAUSE_MS - Date.now());
    const resumedAt = cluster.resume("r1");
    console.info(
      `r1 paused ${resumedAt - stoppedAt} ms; its ${paused.length} partitions were taken over ${takenAt - stoppedAt} ms after the pause: ${JSON.stringify(paused.map((p) => `${p}:${during.get(p)}`))}`,
    );

    // Awake, it rejoins and gets its share back, by hand-over.
    await cluster.awaitOwners("r3", sample, ["r1", "r2", "r3"], 10_000);
    await sleep(2_000);
    expect(cluster.unexpectedExits()).toEqual([]);

    const to = Date.now() - 1_000;
    const windows = [{ schedules, from: 0, to }];
    const index = await cluster.storedFires(windows);
    expectEachFiredOnce(index, windows);

    // Every fire due after r1 froze was started by another replica: had r1 fired one of them
    // after waking, a core subscriber would have seen it published again, with another
    // Chime-Fired-At. Before that, the new owners may repeat what r1 had published past its
    // last watermark.
    const again = refired(cluster.publishes.publishes, (id) => nominalOfMessageId(id) > frozenAt);
    expect(again, "fires due after the pause started twice").toEqual({});

    // It noticed that its leases had lapsed rather than firing on.
    const log = cluster.logOf("r1");
    const fenced = [
      ...logLines(log, "lease not current; partition suspended"),
      ...logLines(log, "partition lease lost"),
    ].filter((l) => l.time >= resumedAt - 50);
    expect(fenced.length, log.slice(-4_000)).toBeGreaterThan(0);
  }, 60_000);
});
