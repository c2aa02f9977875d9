import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nominalOf, probe, sleep, triggerOf, until } from "../harness/deliveries.js";
import {
  createLoad,
  expectEachFiredOnce,
  firedAtOf,
  samplePerPartition,
} from "../harness/fire-audit.js";
import { ReplicaCluster } from "../harness/replica-cluster.js";

const OUTAGE_MS = 10_000;
const MISFIRE_THRESHOLD_MS = 5_000;
// Fires started before the leases lapsed (up to ttl − ttl/5 after the last renewal) are
// retried until NATS takes them, with their original Chime-Fired-At.
const FENCED_AFTER_MS = 2_000;

describe("nats-server stopped for 10 s under three replicas, restarted on its store", () => {
  let cluster: ReplicaCluster;

  beforeAll(async () => {
    cluster = await ReplicaCluster.start({
      settings: { misfireThreshold: `${MISFIRE_THRESHOLD_MS}ms` },
    });
  }, 30_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it("keeps every replica up and makes up each missed fire once, marked catchup", async () => {
    const schedules = await createLoad(cluster.client("r3"), {
      intervals: 1_000,
      crons: 200,
      subjectPrefix: "tasks.outage",
    });
    const sample = samplePerPartition(schedules);
    await cluster.awaitOwners("r3", sample, ["r1", "r2", "r3"], 10_000);
    await sleep(2_000);

    const downAt = Date.now();
    await cluster.nats.down();
    while (Date.now() < downAt + OUTAGE_MS) {
      expect(cluster.unexpectedExits(), "a replica exited during the outage").toEqual([]);
      await sleep(500);
    }
    await cluster.nats.up();
    const upAt = Date.now();
    for (const id of cluster.live) {
      const { baseUrl } = cluster.replica(id).process;
      await until(
        `${id} to be ready again`,
        async () => (await probe(baseUrl, "/readyz")) === 200,
        10_000,
      );
    }
    await cluster.awaitOwners("r3", sample, ["r1", "r2", "r3"], 10_000);
    console.info(
      `outage ${upAt - downAt} ms; ready and spread again ${Date.now() - upAt} ms after`,
    );
    await sleep(3_000);
    expect(cluster.unexpectedExits()).toEqual([]);
    // The recorder's ordered consumer does not outlive the server: read the stream afresh.
    await cluster.rerecord();

    const to = Date.now() - 1_000;
    const windows = [{ schedules, from: 0, to }];
    const index = await cluster.storedFires(windows, 15_000);
    expectEachFiredOnce(index, windows);

    const tasks = schedules.flatMap((s) => index.tasksOf(s.id));
    // What fell due once the leases had lapsed, and until NATS came back, was made up.
    const ofOutage = tasks.filter((t) => {
      const nominal = nominalOf(t);
      return nominal >= downAt + FENCED_AFTER_MS && nominal <= upAt;
    });
    const unmarked = ofOutage.filter((t) => triggerOf(t) !== "catchup");
    console.info(
      `${ofOutage.length} fires due during the outage, ${ofOutage.length - unmarked.length} marked catchup`,
    );
    expect(ofOutage.length).toBeGreaterThan(0);
    expect(
      unmarked.slice(0, 10).map((t) => `${t.headers["Nats-Msg-Id"]} ${triggerOf(t)}`),
      `${unmarked.length} fires of the outage not marked catchup`,
    ).toEqual([]);
    // And no fire started later than the misfire threshold passes for an ordinary one.
    const lateScheduled = tasks.filter(
      (t) =>
        triggerOf(t) === "schedule" && firedAtOf(t) - nominalOf(t) > MISFIRE_THRESHOLD_MS + 500,
    );
    expect(
      lateScheduled
        .slice(0, 10)
        .map((t) => `${t.headers["Nats-Msg-Id"]} fired ${firedAtOf(t) - nominalOf(t)} ms late`),
      `${lateScheduled.length} fires late beyond the misfire threshold yet marked schedule`,
    ).toEqual([]);
  }, 60_000);
});
