import { MisfirePolicy } from "@chime/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nominalOf, sleep, triggerOf } from "../harness/deliveries.js";
import {
  createLoad,
  expectEachFiredOnce,
  firedAtOf,
  fireSeqBreaks,
  nominalOfMessageId,
  samplePerPartition,
} from "../harness/fire-audit.js";
import { ReplicaCluster, refired } from "../harness/replica-cluster.js";

const DOWNTIME_MS = 6_000;
const MISFIRE_THRESHOLD_MS = 5_000;

describe("every replica killed, schedules due while none runs, replicas restarted", () => {
  let cluster: ReplicaCluster;

  beforeAll(async () => {
    cluster = await ReplicaCluster.start({
      settings: { misfireThreshold: `${MISFIRE_THRESHOLD_MS}ms` },
    });
  }, 30_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it("makes up the missed fires once per misfire policy", async () => {
    const client = cluster.client("r3");
    const all = await createLoad(client, {
      intervals: 1_000,
      crons: 200,
      subjectPrefix: "tasks.down",
    });
    const once = await createLoad(client, {
      intervals: 20,
      crons: 20,
      subjectPrefix: "tasks.down.once",
      misfirePolicy: MisfirePolicy.FIRE_ONCE,
    });
    const sample = samplePerPartition(all);
    await cluster.awaitOwners("r3", sample, ["r1", "r2", "r3"], 10_000);
    await sleep(2_000);

    const ends = await Promise.all(cluster.live.map((id) => cluster.end(id, "SIGKILL")));
    const killedAt = Math.max(...ends.map((e) => e.sentAt));
    await sleep(killedAt + DOWNTIME_MS - Date.now());
    const respawnedAt = Date.now();
    await cluster.add("r1");
    const restartedAt = Date.now();
    await Promise.all([cluster.add("r2"), cluster.add("r3")]);
    await cluster.awaitOwners("r3", sample, ["r1", "r2", "r3"], 10_000);
    console.info(
      `all killed for ${restartedAt - killedAt} ms (first replica ready again); spread again after ${Date.now() - restartedAt} ms`,
    );
    await sleep(2_500);
    expect(cluster.unexpectedExits()).toEqual([]);

    const to = Date.now() - 1_000;
    const windows = [{ schedules: all, from: 0, to }];
    const index = await cluster.storedFires(windows);

    // FIRE_ALL: every occurrence once, those of the downtime made up as catchup.
    expectEachFiredOnce(index, windows, { timetabled: [...all, ...once], seqChecked: all });
    // Due while no replica ran (the last second before the kill may have been published).
    const ofDowntime = all
      .flatMap((s) => index.tasksOf(s.id))
      .filter((t) => nominalOf(t) > killedAt + 1_000 && nominalOf(t) <= respawnedAt);
    const unmarked = ofDowntime.filter((t) => triggerOf(t) !== "catchup");
    console.info(`FIRE_ALL: ${ofDowntime.length} fires of the downtime made up`);
    expect(ofDowntime.length).toBeGreaterThan(0);
    expect(
      unmarked
        .slice(0, 10)
        .map(
          (t) =>
            `${t.headers["Nats-Msg-Id"]} ${triggerOf(t)} due ${nominalOf(t) - killedAt} ms after the kill, fired ${firedAtOf(t) - nominalOf(t)} ms late, seq ${t.headers["Chime-Fire-Seq"]}`,
        ),
      `${unmarked.length} fires of the downtime not marked catchup`,
    ).toEqual([]);

    // FIRE_ONCE: the missed occurrences coalesce into one catchup fire, of the latest one.
    for (const s of once) {
      const tasks = index.tasksOf(s.id);
      const trace = tasks.map((t) => `${nominalOf(t) - killedAt} ${triggerOf(t)}`).join(", ");
      const catchups = tasks.filter((t) => triggerOf(t) === "catchup");
      expect(catchups.length, `${s.id}: one catchup fire (ms after the kill: ${trace})`).toBe(1);
      const catchup = catchups[0];
      if (catchup === undefined) continue;
      const nominal = nominalOf(catchup);
      const fired = firedAtOf(catchup);
      expect(nominal, `${s.id}: the catchup is of the latest missed occurrence`).toBeGreaterThan(
        fired - 1_000,
      );
      expect(nominal).toBeLessThanOrEqual(fired);
      // Before the kill and after the catchup, the timetable as usual; in between, nothing.
      expect(index.missing(s, 0, killedAt - 200), `${s.id} before the kill`).toEqual([]);
      expect(index.missing(s, nominal, to), `${s.id} after the catchup`).toEqual([]);
      const between = tasks.filter((t) => nominalOf(t) > killedAt && nominalOf(t) < nominal);
      expect(
        between.map((t) => t.headers["Nats-Msg-Id"]),
        `${s.id}: skipped`,
      ).toEqual([]);
    }
    // A FIRE_ONCE fire published in the last moments before the kill, after its partition's
    // last watermark, counts among the missed ones the catchup coalesces: the catchup then
    // carries its Chime-Fire-Seq again. A known limit of watermark progress; a gap is not.
    const onceBreaks = fireSeqBreaks(index, once, { allowRepeats: true });
    console.info(
      `FIRE_ONCE: ${onceBreaks.repeats} of ${once.length} catchups repeat the seq of the fire before the kill`,
    );
    expect
      .soft(onceBreaks.sample, `FIRE_ONCE Chime-Fire-Seq skips in ${onceBreaks.count} places`)
      .toEqual([]);

    // What a JetStream consumer does not see: a fire due after the kill started twice (only
    // the restarted replicas can have fired it), its copy dropped by the stream.
    const again = refired(
      cluster.publishes.publishes,
      (id) => nominalOfMessageId(id) > killedAt + 100,
    );
    console.info(`fires due after the kill started more than once: ${Object.keys(again).length}`);
  }, 60_000);
});
