import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReplicaStatus } from "../../server/src/http/replica-status.js";
import { sleep } from "../harness/deliveries.js";
import { createLoad } from "../harness/fire-audit.js";
import { ReplicaCluster } from "../harness/replica-cluster.js";

async function statusOf(
  cluster: ReplicaCluster,
  id: string,
): Promise<{ code: number; status: ReplicaStatus }> {
  const res = await fetch(`${cluster.replica(id).process.baseUrl}/status`);
  return { code: res.status, status: (await res.json()) as ReplicaStatus };
}

async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(100);
  }
}

describe("GET /status of each replica", () => {
  let cluster: ReplicaCluster;

  beforeAll(async () => {
    cluster = await ReplicaCluster.start({ replicas: ["r1", "r2"] });
  }, 30_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it("says which partitions each holds, who it sees, and whether its catalog is caught up", async () => {
    await createLoad(cluster.client("r1"), { intervals: 50, crons: 10, subjectPrefix: "tasks.st" });
    const both = async () => [await statusOf(cluster, "r1"), await statusOf(cluster, "r2")];
    const spread = await until(
      both,
      (all) =>
        all.every(
          ({ status }) =>
            status.members.length === 2 &&
            status.store.caughtUp &&
            status.partitions.loading.length === 0,
        ) &&
        all.reduce((n, { status }) => n + status.partitions.owned.length, 0) ===
          all[0]?.status.partitions.total,
      10_000,
    );
    for (const { code, status } of spread) {
      expect(code).toBe(200);
      expect(status.ready).toBe(true);
      expect(status.nats).toBe("connected");
      expect(status.members).toEqual(["r1", "r2"]);
      expect(status.store.caughtUp).toBe(true);
      expect(status.store.schedules).toBe(60);
      expect(status.partitions.owned.length).toBeGreaterThan(0);
      expect(status.partitions.suspended).toEqual([]);
      expect(status.partitions.loading).toEqual([]);
    }
    const [one, two] = spread.map(({ status }) => new Set(status.partitions.owned));
    const total = spread[0]?.status.partitions.total ?? 0;
    expect([...(one ?? [])].filter((p) => two?.has(p))).toEqual([]);
    expect(new Set([...(one ?? []), ...(two ?? [])]).size).toBe(total);
    // Between them, the replicas hold every schedule of their partitions in memory.
    expect(spread.reduce((n, { status }) => n + status.engine.scheduled, 0)).toBe(60);

    await cluster.end("r2", "SIGTERM");
    const alone = await until(
      () => statusOf(cluster, "r1"),
      ({ status }) =>
        status.partitions.owned.length === total && status.partitions.loading.length === 0,
      5_000,
    );
    expect(alone.status.members).toEqual(["r1"]);
    expect(alone.status.partitions.owned).toEqual([...Array(total).keys()]);
    expect(alone.status.engine.scheduled).toBe(60);
  }, 40_000);
});
