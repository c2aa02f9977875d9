import { rm } from "node:fs/promises";
import { join } from "node:path";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type CreatedSchedule,
  MisfirePolicy,
  type SchedulerService,
  type TriggerScheduleResponse,
} from "@chime/sdk";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { afterEach, describe, expect, it } from "vitest";
import { type ChimeProcess, startChimeProcess, startTestChime } from "../harness/chime.js";
import {
  anchorOf,
  chimeClient,
  duplicateMessageIds,
  fireSeqOf,
  missingOccurrences,
  nominalOf,
  probe,
  recordPublishes,
  repeated,
  settle,
  sleep,
  triggerOf,
  until,
} from "../harness/deliveries.js";
import { startNatsRelay } from "../harness/nats-relay.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import {
  ofSchedule,
  type RecordedTask,
  recordTasks,
  type TaskRecorder,
} from "../harness/task-recorder.js";

const EVERY_MS = 1_000;
// Short, so that a few seconds of downtime are a misfire for the recurring schedules.
const SETTINGS = { misfireThreshold: "1s" } as const;

type Scheduler = Client<typeof SchedulerService>;

/** Everything a test started, stopped in reverse order whatever happens. */
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function nats(): Promise<TestNats> {
  const server = await startTestNats();
  cleanups.push(() => server.stop());
  return server;
}

async function chime(natsUrl: string): Promise<ChimeProcess> {
  const child = await startChimeProcess(natsUrl, SETTINGS);
  cleanups.push(() => child.stop("SIGKILL"));
  return child;
}

async function recorder(natsUrl: string): Promise<TaskRecorder> {
  const r = await recordTasks(natsUrl);
  cleanups.push(() => r.stop());
  return r;
}

function interval(
  client: Scheduler,
  name: string,
  policy: MisfirePolicy,
): Promise<CreatedSchedule> {
  return client.scheduleByInterval({
    subject: `tasks.restart.${name}`,
    name,
    every: durationFromMs(EVERY_MS),
    misfirePolicy: policy,
  });
}

function oneShot(client: Scheduler, name: string, at: number): Promise<CreatedSchedule> {
  return client.scheduleByTime({
    subject: `tasks.restart.${name}`,
    name,
    when: { case: "at", value: timestampFromMs(at) },
  });
}

/** What a schedule's tasks say, in stream order, for readable failure messages. */
function describeTasks(tasks: readonly RecordedTask[], anchor = 0): string[] {
  return tasks.map(
    (t) =>
      `${nominalOf(t) - anchor} seq=${fireSeqOf(t)} ${triggerOf(t)} fired=${t.headers["Chime-Fired-At"]}`,
  );
}

/** Fire-Seq of a schedule's deliveries, in stream order: 1, 2, 3, … with no reset. */
function expectFireSeqContinues(tasks: readonly RecordedTask[], label: string): void {
  const seqs = tasks.map(fireSeqOf);
  expect.soft(seqs, `${label}: Chime-Fire-Seq in stream order`).toEqual(seqs.map((_, i) => i + 1));
}

describe("a Chime process restarted on the same NATS", () => {
  it("after SIGTERM, makes up the downtime per misfire policy, once, and keeps counting fires", async () => {
    const server = await nats();
    let a = await chime(server.url);
    const tasks = await recorder(server.url);
    const publishes = await recordPublishes(server.url);
    cleanups.push(() => publishes.stop());
    const clientA = chimeClient(a.baseUrl);

    const fireOnce = await interval(clientA, "fire-once", MisfirePolicy.FIRE_ONCE);
    const fireAll = await interval(clientA, "fire-all", MisfirePolicy.FIRE_ALL);
    const skip = await interval(clientA, "skip", MisfirePolicy.SKIP);
    // Two fires each before the stop.
    await tasks.waitFor(ofSchedule(skip.scheduleId), 2, 5_000);

    const tStop = Date.now();
    const shots = await Promise.all([
      oneShot(clientA, "shot-1", tStop + 700),
      oneShot(clientA, "shot-2", tStop + 1_700),
      oneShot(clientA, "shot-3", tStop + 2_700),
    ]);
    const shotsAt = [tStop + 700, tStop + 1_700, tStop + 2_700];
    const stoppedWith = await a.stop("SIGTERM");
    const tExit = Date.now();
    expect(stoppedWith, `SIGTERM exit code\n${a.output()}`).toBe(0);

    await sleep(3_500 - (Date.now() - tStop));
    const tSpawn = Date.now();
    a = await chime(server.url);
    const tReady = Date.now();
    for (const shot of shots) await tasks.waitFor(ofSchedule(shot.scheduleId), 1, 10_000);
    // Normal fires after the catch-up: two more occurrences of each.
    await sleep(tReady + 2_500 - Date.now());
    expect(await a.stop("SIGTERM"), `SIGTERM exit code\n${a.output()}`).toBe(0);
    await settle(tasks, server.url);

    // One-shots: exactly once each, late, by the restarted process.
    for (const [i, shot] of shots.entries()) {
      const got = tasks.matching(ofSchedule(shot.scheduleId));
      expect
        .soft(
          got.map((t) => t.headers["Nats-Msg-Id"]),
          `one-shot ${i + 1}`,
        )
        .toEqual([`${shot.scheduleId}:${shotsAt[i]}`]);
      expect.soft(["catchup", "schedule"]).toContain(triggerOf(got[0] as RecordedTask));
      expect
        .soft(Date.parse(got[0]?.headers["Chime-Fired-At"] ?? ""))
        .toBeGreaterThanOrEqual(tSpawn);
    }

    // FIRE_ONCE: on time before the stop, then one catch-up for the latest missed
    // occurrence, then on time again.
    {
      const anchor = anchorOf(fireOnce);
      const got = tasks.matching(ofSchedule(fireOnce.scheduleId));
      const trace = describeTasks(got, anchor).join("\n");
      const catchups = got.filter((t) => triggerOf(t) === "catchup");
      expect.soft(catchups.length, `FIRE_ONCE catch-ups:\n${trace}`).toBe(1);
      const latestMissed = nominalOf(catchups[0] as RecordedTask);
      expect
        .soft(latestMissed, `FIRE_ONCE catch-up is for the downtime:\n${trace}`)
        .toBeGreaterThan(tExit);
      // The latest occurrence due when the new process started, not an older one.
      expect
        .soft(latestMissed, `FIRE_ONCE catch-up is the latest missed:\n${trace}`)
        .toBeGreaterThan(tSpawn - EVERY_MS);
      expect.soft(latestMissed).toBeLessThanOrEqual(tReady);
      const before = got.filter((t) => nominalOf(t) < latestMissed);
      const after = got.filter((t) => nominalOf(t) > latestMissed);
      expect.soft(before.length, trace).toBeGreaterThanOrEqual(2);
      expect
        .soft(
          before.every((t) => triggerOf(t) === "schedule"),
          trace,
        )
        .toBe(true);
      expect
        .soft(
          after.every((t) => triggerOf(t) === "schedule"),
          trace,
        )
        .toBe(true);
      expect
        .soft(after.length, `FIRE_ONCE fires normally after the restart:\n${trace}`)
        .toBeGreaterThanOrEqual(2);
      const lastBefore = Math.max(...before.map(nominalOf));
      expect.soft(lastBefore, trace).toBeLessThan(tExit);
      expect
        .soft(
          missingOccurrences(before.map(nominalOf), anchor, EVERY_MS, anchor, lastBefore),
          trace,
        )
        .toEqual([]);
      const lastAfter = Math.max(...after.map(nominalOf));
      expect
        .soft(
          missingOccurrences(after.map(nominalOf), anchor, EVERY_MS, latestMissed + 1, lastAfter),
          `FIRE_ONCE on time after its catch-up:\n${trace}`,
        )
        .toEqual([]);
      expectFireSeqContinues(got, `FIRE_ONCE\n${trace}`);
    }

    // FIRE_ALL: every occurrence from the anchor on, the missed ones included, exactly once.
    {
      const anchor = anchorOf(fireAll);
      const got = tasks.matching(ofSchedule(fireAll.scheduleId));
      const trace = describeTasks(got, anchor).join("\n");
      const nominals = got.map(nominalOf);
      const last = Math.max(...nominals);
      expect
        .soft(last, `FIRE_ALL fires after the restart:\n${trace}`)
        .toBeGreaterThan(tReady + EVERY_MS);
      expect
        .soft(
          missingOccurrences(nominals, anchor, EVERY_MS, anchor, last),
          `FIRE_ALL lost:\n${trace}`,
        )
        .toEqual([]);
      expect.soft(new Set(nominals).size, `FIRE_ALL twice:\n${trace}`).toBe(nominals.length);
      const madeUp = got.filter((t) => nominalOf(t) > tExit && nominalOf(t) < tSpawn);
      expect
        .soft(madeUp.length, `FIRE_ALL downtime occurrences:\n${trace}`)
        .toBeGreaterThanOrEqual(2);
      expect
        .soft(
          madeUp.every((t) => triggerOf(t) === "catchup"),
          trace,
        )
        .toBe(true);
      expectFireSeqContinues(got, `FIRE_ALL\n${trace}`);
    }

    // SKIP: nothing for the downtime, on time before and after.
    {
      const anchor = anchorOf(skip);
      const got = tasks.matching(ofSchedule(skip.scheduleId));
      const trace = describeTasks(got, anchor).join("\n");
      // A fire due within a moment of the signal may still have left the old process.
      const downtime = got.filter((t) => nominalOf(t) > tStop + 250 && nominalOf(t) <= tSpawn);
      expect
        .soft(describeTasks(downtime, anchor), `SKIP fired for the downtime:\n${trace}`)
        .toEqual([]);
      expect
        .soft(
          got.every((t) => triggerOf(t) === "schedule"),
          `SKIP made something up:\n${trace}`,
        )
        .toBe(true);
      const after = got.filter((t) => nominalOf(t) > tSpawn);
      expect
        .soft(after.length, `SKIP fires normally after the restart:\n${trace}`)
        .toBeGreaterThanOrEqual(2);
      expect.soft(new Set(got.map(nominalOf)).size, trace).toBe(got.length);
      expectFireSeqContinues(got, `SKIP\n${trace}`);
    }

    expect.soft(duplicateMessageIds(tasks.tasks), "Nats-Msg-Id delivered twice").toEqual({});
    // After an orderly stop nothing is published twice: even a core subscriber sees each once.
    expect.soft(repeated(publishes.messageIds), "Nats-Msg-Id published twice").toEqual({});
  }, 45_000);

  it("after kill -9 and an immediate restart, loses no fire and delivers none twice", async () => {
    const server = await nats();
    let a = await chime(server.url);
    const tasks = await recorder(server.url);
    const clientA = chimeClient(a.baseUrl);

    const fireAll = await interval(clientA, "fire-all", MisfirePolicy.FIRE_ALL);
    const base = Date.now() + 1_500;
    const SHOTS = 200;
    const SPACING_MS = 15;
    const shotsAt = Array.from({ length: SHOTS }, (_, i) => base + i * SPACING_MS);
    const shots: CreatedSchedule[] = [];
    for (let i = 0; i < SHOTS; i += 20) {
      shots.push(
        ...(await Promise.all(
          shotsAt.slice(i, i + 20).map((at, j) => oneShot(clientA, `shot-${i + j}`, at)),
        )),
      );
    }
    expect(Date.now(), "the one-shots were created before the first was due").toBeLessThan(base);

    // Kill in the middle of the one-shots' span (3 s from `base`).
    await sleep(base + 1_000 - Date.now());
    const tKill = Date.now();
    expect(await a.stop("SIGKILL")).toBeNull();
    const seenAtKill = tasks.tasks.length;
    a = await chime(server.url);
    const tReady = Date.now();

    const allShots = new Set(shots.map((s) => s.scheduleId));
    await tasks.waitFor((t) => allShots.has(t.headers["Chime-Schedule-Id"] ?? ""), SHOTS, 15_000);
    await sleep(Math.max(tReady, shotsAt[SHOTS - 1] as number) + 2_500 - Date.now());
    await a.stop("SIGKILL");
    await settle(tasks, server.url);
    console.info(
      `kill -9 at +${tKill - base} ms into the one-shots; ${seenAtKill} tasks received by then; restarted in ${tReady - tKill} ms; ${tasks.tasks.length} tasks in all`,
    );

    for (const [i, shot] of shots.entries()) {
      const got = tasks.matching(ofSchedule(shot.scheduleId));
      expect
        .soft(
          got.map((t) => t.headers["Nats-Msg-Id"]),
          `one-shot ${i}`,
        )
        .toEqual([`${shot.scheduleId}:${shotsAt[i]}`]);
    }
    const anchor = anchorOf(fireAll);
    const got = tasks.matching(ofSchedule(fireAll.scheduleId));
    const trace = describeTasks(got, anchor).join("\n");
    const nominals = got.map(nominalOf);
    const last = Math.max(...nominals);
    expect
      .soft(last, `FIRE_ALL fires after the restart:\n${trace}`)
      .toBeGreaterThan(tReady + EVERY_MS);
    expect
      .soft(
        missingOccurrences(nominals, anchor, EVERY_MS, anchor, last),
        `FIRE_ALL lost:\n${trace}`,
      )
      .toEqual([]);
    // Fire-Seq goes on from where the killed process was, never back to 1 (whether exactly
    // 1, 2, 3, … is the SIGTERM test's business: this run may or may not take the misfire path).
    const seqs = got.map(fireSeqOf);
    expect.soft(seqs[0], trace).toBe(1);
    expect
      .soft(
        seqs.every((seq, i) => i === 0 || seq > (seqs[i - 1] as number)),
        `Fire-Seq increases in stream order, across the restart:\n${trace}`,
      )
      .toBe(true);

    const ids = new Set(tasks.tasks.map((t) => t.headers["Nats-Msg-Id"]));
    expect.soft(duplicateMessageIds(tasks.tasks), "Nats-Msg-Id delivered twice").toEqual({});
    expect.soft(ids.size).toBe(tasks.tasks.length);
    expect.soft(tasks.tasks.length).toBe(SHOTS + got.length);
  }, 45_000);
});

describe("a Chime process killed right after a TriggerSchedule answered", () => {
  it("has recorded those manual fires: no Chime-Fire-Seq is given twice", async () => {
    const server = await nats();
    // So long that only the trigger's own write can have recorded the manual fire in time.
    const settings = { ...SETTINGS, checkpointInterval: "30s" };
    const a = await startChimeProcess(server.url, settings);
    cleanups.push(() => a.stop("SIGKILL"));
    const tasks = await recorder(server.url);
    const clientA = chimeClient(a.baseUrl);
    const created = await interval(clientA, "manual-seq", MisfirePolicy.FIRE_ALL);
    const id = created.scheduleId;
    await tasks.waitFor(ofSchedule(id), 2, 10_000);
    const target = { case: "scheduleId", value: id } as const;
    // Two at once: the second's record is written while the first's may not be applied yet.
    const manuals = await Promise.all([
      clientA.triggerSchedule({ target }),
      clientA.triggerSchedule({ target }),
    ]);
    expect(await a.stop("SIGKILL")).toBeNull();
    const firedBefore = tasks.matching(ofSchedule(id)).length;

    const b = await startChimeProcess(server.url, settings);
    cleanups.push(() => b.stop("SIGKILL"));
    // Two scheduled fires after the restart, whatever it made up first.
    const restarted = Date.now();
    await tasks.waitFor((t) => ofSchedule(id)(t) && nominalOf(t) > restarted, 2, 10_000);
    const stored = await chimeClient(b.baseUrl).getSchedule({ target });
    await b.stop("SIGKILL");
    await settle(tasks, server.url);

    const got = tasks.matching(ofSchedule(id));
    const trace = describeTasks(got, anchorOf(created)).join("\n");
    expect(got.length, trace).toBeGreaterThan(firedBefore);
    expect(
      got
        .filter((t) => triggerOf(t) === "manual")
        .map((t) => t.headers["Nats-Msg-Id"])
        .sort(),
      trace,
    ).toEqual(manuals.map((m) => m.messageId).sort());
    expect(repeated(got.map((t) => String(fireSeqOf(t)))), trace).toEqual({});
    expect(stored.manualFireCount).toBe(2n);
  }, 30_000);

  it("has published and recorded every manual fire of a shed one-shot, two in one ms too", async () => {
    const server = await nats();
    const settings = { ...SETTINGS, checkpointInterval: "30s", coldHorizon: "1m" };
    const a = await startChimeProcess(server.url, settings);
    cleanups.push(() => a.stop("SIGKILL"));
    const tasks = await recorder(server.url);
    const clientA = chimeClient(a.baseUrl);
    // Held as an outline only: a checkpoint reads the rest back by the revision it knows.
    const created = await oneShot(clientA, "far-ahead", Date.now() + 3_600_000);
    const id = created.scheduleId;
    const target = { case: "scheduleId", value: id } as const;
    // Two at once (both wait for the template's read, so they often fire in one millisecond,
    // where they would share a Nats-Msg-Id), three one after another, then pairs a little apart.
    const manuals = await Promise.all([
      clientA.triggerSchedule({ target }),
      clientA.triggerSchedule({ target }),
    ]);
    for (let i = 0; i < 3; i++) manuals.push(await clientA.triggerSchedule({ target }));
    for (const apart of [1, 2, 3, 4, 6]) {
      const first = clientA.triggerSchedule({ target });
      await sleep(apart);
      manuals.push(...(await Promise.all([first, clientA.triggerSchedule({ target })])));
    }
    expect(await a.stop("SIGKILL")).toBeNull();

    const b = await startChimeProcess(server.url, settings);
    cleanups.push(() => b.stop("SIGKILL"));
    const clientB = chimeClient(b.baseUrl);
    const stored = await clientB.getSchedule({ target });
    // The killed Chime's lease holds the partition a while: a client retries UNAVAILABLE.
    let afterRestart: TriggerScheduleResponse | undefined;
    await until(
      "the restarted Chime to take the trigger",
      async () => {
        afterRestart = await clientB.triggerSchedule({ target }).catch((err: unknown) => {
          if (ConnectError.from(err).code === Code.Unavailable) return undefined;
          throw err;
        });
        return afterRestart !== undefined;
      },
      20_000,
      250,
    );
    await b.stop("SIGKILL");
    await settle(tasks, server.url);

    const got = tasks.matching(ofSchedule(id));
    const trace = describeTasks(got).join("\n");
    expect(got.map((t) => t.headers["Nats-Msg-Id"]).sort(), trace).toEqual(
      [...manuals, afterRestart].map((m) => m?.messageId).sort(),
    );
    expect(repeated(got.map((t) => String(fireSeqOf(t)))), trace).toEqual({});
    expect(stored.manualFireCount).toBe(15n);
  }, 30_000);
});

describe("a Chime cut off from NATS in the midst of a manual fire", () => {
  /**
   * Triggers a recurring schedule on a Chime reaching NATS through a relay that is cut at
   * `when`, as if its process died there, then lets a second Chime take the partition over.
   */
  async function triggerCutOff(name: string, when: "before its publish" | "after its ack") {
    const server = await nats();
    const relay = await startNatsRelay(server.port);
    cleanups.push(() => relay.close());
    // A short lease, so that the second Chime takes the partition soon after the first is gone.
    const settings = { ...SETTINGS, checkpointInterval: "30s", leaseTtl: "1s" };
    const a = await startTestChime(relay.url, settings, {
      fired: (report) => {
        // Before the engine takes its next step, as if the process died with the ack.
        if (report.trigger === "manual" && when === "after its ack") relay.cut();
      },
    });
    cleanups.push(() => a.service.close());
    const tasks = await recorder(server.url);
    const created = await interval(a.client, name, MisfirePolicy.FIRE_ALL);
    const id = created.scheduleId;
    const target = { case: "scheduleId", value: id } as const;
    await tasks.waitFor(ofSchedule(id), 2, 10_000);
    if (when === "before its publish") {
      relay.cutBefore((sent) => sent.includes("Chime-Trigger: manual"));
    }
    const asked = a.client.triggerSchedule({ target }).catch(() => undefined);
    await until("the cut", () => relay.isCut, 5_000, 5);
    await a.service.close();
    await asked;

    const takeover = Date.now();
    const b = await startTestChime(server.url, settings);
    cleanups.push(() => b.stop());
    const restarted = Date.now();
    await tasks.waitFor((t) => ofSchedule(id)(t) && nominalOf(t) > restarted, 2, 15_000);
    const stored = await b.client.getSchedule({ target });
    await b.stop();
    await settle(tasks, server.url);

    const got = tasks.matching(ofSchedule(id));
    const trace = describeTasks(got, anchorOf(created)).join("\n");
    expect(
      got.filter((t) => triggerOf(t) === "manual"),
      trace,
    ).toHaveLength(1);
    expect(repeated(got.map((t) => String(fireSeqOf(t)))), trace).toEqual({});
    expectFireSeqContinues(got, trace);
    expect(stored.manualFireCount).toBe(1n);
    expect(stored.pendingManualFires).toEqual([]);
    return { got, takeover };
  }

  it("stored but not recorded: another Chime gives its Chime-Fire-Seq to no other fire", async () => {
    const { got, takeover } = await triggerCutOff("manual-stored", "after its ack");
    const manual = got.find((t) => triggerOf(t) === "manual");
    expect(Date.parse(manual?.headers["Chime-Fired-At"] ?? "")).toBeLessThan(takeover);
  }, 30_000);

  it("recorded but never sent: another Chime publishes it, once, as the same fire", async () => {
    const { got, takeover } = await triggerCutOff("manual-unsent", "before its publish");
    const manual = got.find((t) => triggerOf(t) === "manual");
    expect(Date.parse(manual?.headers["Chime-Fired-At"] ?? "")).toBeGreaterThanOrEqual(takeover);
    expect(nominalOf(manual as RecordedTask)).toBeLessThan(takeover);
  }, 30_000);
});

describe("a schedule deleted while its manual fire was being recorded", () => {
  it("is not fired: once the deletion is applied, no fire of it starts", async () => {
    const server = await nats();
    const relay = await startNatsRelay(server.port);
    cleanups.push(() => relay.close());
    const a = await startTestChime(relay.url, { ...SETTINGS, checkpointInterval: "30s" });
    cleanups.push(() => a.stop());
    const tasks = await recorder(server.url);
    const created = await a.client.scheduleByInterval({
      subject: "tasks.restart.deleted-midway",
      every: durationFromMs(3_600_000),
    });
    const id = created.scheduleId;
    const key = `s.${created.schedule?.partition}.${id}`;
    // The trigger's record of its fire is the Chime's next write of the schedule's key.
    relay.holdFrom((sent) => sent.includes(`$KV.CHIME_SCHEDULES.${key}`));
    const asked = a.client.triggerSchedule({ target: { case: "scheduleId", value: id } }).then(
      () => "answered",
      (err: unknown) => ConnectError.from(err).code,
    );
    await until("the manual fire's record to be held", () => relay.isHolding, 5_000, 5);
    const nc = await connect({ servers: server.url });
    cleanups.push(() => nc.close());
    await (await new Kvm(nc).open("CHIME_SCHEDULES")).delete(key);
    await until("the deletion to reach the Chime", () => !a.service.catalog.get(id), 5_000, 5);
    relay.release();

    expect(await asked).toBe(Code.NotFound);
    await settle(tasks, server.url);
    expect(tasks.matching(ofSchedule(id))).toEqual([]);
  }, 30_000);
});

describe("NATS restarted under a running Chime", () => {
  it("keeps every schedule, and they keep firing", async () => {
    const server = await nats();
    const a = await chime(server.url);
    const tasks = await recorder(server.url);
    const client = chimeClient(a.baseUrl);

    const every = await interval(client, "every", MisfirePolicy.FIRE_ALL);
    await tasks.waitFor(ofSchedule(every.scheduleId), 1, 5_000);
    const tRestart = Date.now();
    const shot = await oneShot(client, "after-restart", tRestart + 2_000);

    await server.restart();
    const tUp = Date.now();
    // Writes answer UNAVAILABLE until Chime has reconnected: a client retries.
    await until(
      "Chime to report ready again",
      async () => (await probe(a.baseUrl, "/readyz")) === 200,
      5_000,
    );

    // Both schedules are still there…
    const kept = await client.getSchedule(
      { target: { case: "scheduleId", value: every.scheduleId } },
      { timeoutMs: 5_000 },
    );
    expect(kept.scheduleId).toBe(every.scheduleId);
    const list = await client.listSchedules({}, { timeoutMs: 5_000 });
    expect(list.schedules.map((s) => s.scheduleId).sort()).toEqual(
      [every.scheduleId, shot.scheduleId].sort(),
    );
    // …the one-shot fires once, the interval goes on, and a schedule made now fires too.
    const late = await client.scheduleByTime(
      {
        subject: "tasks.restart.created-after",
        when: { case: "delay", value: durationFromMs(300) },
      },
      { timeoutMs: 5_000 },
    );
    await tasks.waitFor(ofSchedule(shot.scheduleId), 1, 10_000);
    await tasks.waitFor(ofSchedule(late.scheduleId), 1, 10_000);
    await tasks.waitFor(
      (t) => ofSchedule(every.scheduleId)(t) && nominalOf(t) > tUp + EVERY_MS,
      1,
      10_000,
    );
    await sleep(300);
    await settle(tasks, server.url);
    expect.soft(a.child.exitCode, a.output()).toBeNull();

    const anchor = anchorOf(every);
    const got = tasks.matching(ofSchedule(every.scheduleId));
    const trace = describeTasks(got, anchor).join("\n");
    const nominals = got.map(nominalOf);
    expect
      .soft(missingOccurrences(nominals, anchor, EVERY_MS, anchor, Math.max(...nominals)), trace)
      .toEqual([]);
    expect.soft(tasks.matching(ofSchedule(shot.scheduleId)).length).toBe(1);
    expect.soft(tasks.matching(ofSchedule(late.scheduleId)).length).toBe(1);
    expect.soft(duplicateMessageIds(tasks.tasks), "Nats-Msg-Id delivered twice").toEqual({});
  }, 45_000);
});

describe("a stream of Chime's gone from NATS", () => {
  it("stops Chime, naming the streams gone; a Chime started then makes them anew", async () => {
    const server = await nats();
    const a = await chime(server.url);
    const before = await chimeClient(a.baseUrl).scheduleByTime({
      subject: "tasks.store-lost.before",
      when: { case: "at", value: timestampFromMs(Date.now() + 3_600_000) },
    });

    await server.down();
    await rm(join(server.storeDir, "jetstream"), { recursive: true, force: true });
    await server.up();
    await until("Chime to stop", () => a.child.exitCode !== null, 15_000);
    expect(a.child.exitCode, a.output()).toBe(1);
    expect(a.output()).toMatch(
      /NATS no longer has streams KV_CHIME_SCHEDULES, KV_CHIME_LEASES, CHIME_TASKS \(its JetStream store was lost, or removed\)/,
    );

    const b = await chime(server.url);
    expect(await probe(b.baseUrl, "/readyz")).toBe(200);
    const tasks = await recorder(server.url);
    const client = chimeClient(b.baseUrl);
    const after = await client.scheduleByTime({
      subject: "tasks.store-lost.after",
      when: { case: "at", value: timestampFromMs(Date.now() + 500) },
    });
    await tasks.waitFor(ofSchedule(after.scheduleId), 1, 10_000);
    const listed = await client.listSchedules({});
    expect(listed.schedules.map((s) => s.scheduleId)).toEqual([after.scheduleId]);
    expect(listed.schedules.map((s) => s.scheduleId)).not.toContain(before.scheduleId);
  }, 45_000);

  it("stops Chime when its task stream is removed under it, at the first fire no stream takes", async () => {
    const server = await nats();
    const a = await chime(server.url);
    const tasks = await recorder(server.url);
    const every = await interval(chimeClient(a.baseUrl), "stream-removed", MisfirePolicy.FIRE_ALL);
    await tasks.waitFor(ofSchedule(every.scheduleId), 1, 5_000);
    await removeStream(server.url, "CHIME_TASKS");
    await expectStoppedNaming(a, "CHIME_TASKS", 15_000);
  }, 30_000);

  it("stops Chime when its schedule bucket is removed under it, once the watch fails", async () => {
    const server = await nats();
    const a = await chime(server.url);
    await removeStream(server.url, "KV_CHIME_SCHEDULES");
    // The watch notices when its heartbeats stop (10 s).
    await expectStoppedNaming(a, "KV_CHIME_SCHEDULES", 25_000);
  }, 40_000);

  it("stops Chime at the first write to a removed schedule bucket, before its watch fails", async () => {
    const server = await nats();
    const a = await chime(server.url);
    await removeStream(server.url, "KV_CHIME_SCHEDULES");
    const write = await chimeClient(a.baseUrl)
      .scheduleByTime({
        subject: "tasks.store-lost.write",
        when: { case: "at", value: timestampFromMs(Date.now() + 60_000) },
      })
      .then(
        () => "created",
        (err: unknown) => Code[ConnectError.from(err).code],
      );
    expect(write).toBe("Unavailable");
    await expectStoppedNaming(a, "KV_CHIME_SCHEDULES", 25_000);
    // Stopped by the write's answer: the watch had not failed yet.
    expect(a.output()).not.toContain("the store watch failed");
  }, 40_000);
});

async function removeStream(natsUrl: string, stream: string): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    await (await jetstreamManager(nc)).streams.delete(stream);
  } finally {
    await nc.close();
  }
}

/** Waits for a Chime process to stop of itself, saying that `stream` is gone. */
async function expectStoppedNaming(
  chimeProcess: ChimeProcess,
  stream: string,
  timeoutMs: number,
): Promise<void> {
  await until("Chime to stop", () => chimeProcess.child.exitCode !== null, timeoutMs);
  expect(chimeProcess.child.exitCode, chimeProcess.output()).toBe(1);
  expect(chimeProcess.output()).toContain(`NATS no longer has stream ${stream} (`);
}
