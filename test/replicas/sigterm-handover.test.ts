import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep } from "../harness/deliveries.js";
import {
  createLoad,
  expectEachFiredOnce,
  maxLateness,
  nominalOfMessageId,
  samplePerPartition,
  spread,
} from "../harness/fire-audit.js";
import { ReplicaCluster, refired } from "../harness/replica-cluster.js";

describe("SIGTERM of a replica while it fires", () => {
  let cluster: ReplicaCluster;

  beforeAll(async () => {
    cluster = await ReplicaCluster.start();
  }, 30_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it("hands its partitions over without a gap, a lost or a repeated fire", async () => {
    const schedules = await createLoad(cluster.client("r3"), {
      intervals: 1_000,
      crons: 200,
      subjectPrefix: "tasks.term",
    });
    const sample = samplePerPartition(schedules);
    const before = await cluster.awaitOwners("r3", sample, ["r1", "r2", "r3"], 10_000);
    await sleep(2_500);

    const term = await cluster.end("r1", "SIGTERM");
    expect(term.code, cluster.logOf("r1")).toBe(0);
    const owners = await cluster.awaitOwners("r3", sample, ["r2", "r3"], 5_000);
    await sleep(2_500);
    expect(cluster.unexpectedExits()).toEqual([]);

    const to = Date.now() - 1_000;
    const windows = [{ schedules, from: 0, to }];
    const index = await cluster.storedFires(windows);

    const moved = new Set([...before].filter(([, o]) => o === "r1").map(([p]) => p));
    expect(moved.size).toBeGreaterThan(0);
    for (const p of moved) expect(["r2", "r3"]).toContain(owners.get(p));
    // A fire due while the partition changed hands waited only as long as the hand-over.
    const late = maxLateness(index, schedules, moved, term.sentAt, term.exitedAt + 1_000);
    const lateness = spread([...late.values()]);
    console.info(
      `SIGTERM: exited after ${term.exitedAt - term.sentAt} ms; worst lateness per moved partition (${moved.size}), ms: ${JSON.stringify(lateness)}`,
    );
    expect(late.size).toBe(moved.size);
    expect(lateness.max, "a hand-over gap").toBeLessThan(1_000);

    expectEachFiredOnce(index, windows);
    // An orderly hand-over repeats nothing: the next owner starts at the final watermark, so
    // not even a core subscriber (which sees what JetStream drops) sees a fire started twice.
    const partitionOf = new Map(schedules.map((s) => [s.id, s.partition]));
    const again = Object.entries(refired(cluster.publishes.publishes)).map(([id, starts]) => {
      const p = partitionOf.get(id.slice(0, id.lastIndexOf(":")));
      const nominal = nominalOfMessageId(id);
      return `${id} (p${p}${p !== undefined && moved.has(p) ? ", moved" : ""}) due ${nominal - term.sentAt} ms after SIGTERM, started at ${starts.map((t) => Date.parse(t) - term.sentAt).join(" and ")} ms`;
    });
    expect(again.slice(0, 10), `${again.length} fires started twice`).toEqual([]);
  }, 60_000);
});
