import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { ConflictPolicy, MisfirePolicy } from "@chime/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nominalOf, sleep } from "../harness/deliveries.js";
import {
  type CheckedWindow,
  createLoad,
  expectEachFiredOnce,
  firedAtOf,
  missingFires,
  onTimetable,
  samplePerPartition,
  scheduleIdOf,
  type TrackedSchedule,
  trackedOf,
} from "../harness/fire-audit.js";
import { ReplicaCluster } from "../harness/replica-cluster.js";
import type { RecordedTask } from "../harness/task-recorder.js";

const CHURN_MS = 24_000;
const STEP_MS = 300;
const NAMES = 40;
const CREATES_PER_STEP = 3;
const UNSCHEDULES_PER_STEP = 2;
// A fire due shortly before an unschedule may have been lost with a killed owner: it would
// have been made up by the next owner, had the schedule not been deleted first.
const SETTLED_BEFORE_MS = 4_000;

/** One definition a name had, from its creation or replacement to what superseded it. */
interface Version {
  readonly name: string;
  readonly subject: string;
  readonly schedule: TrackedSchedule;
  /** When the request that replaced or unscheduled it was sent, and when it returned. */
  supersededCall: number | undefined;
  supersededAt: number | undefined;
}

interface Unscheduled {
  readonly schedule: TrackedSchedule;
  readonly calledAt: number;
  readonly returnedAt: number;
  readonly existed: boolean;
}

describe("creating, replacing and unscheduling while replicas come and go", () => {
  let cluster: ReplicaCluster;

  beforeAll(async () => {
    cluster = await ReplicaCluster.start();
  }, 30_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it("fires each definition in its time, and nothing of a schedule once Unschedule returned", async () => {
    // Requests go to replicas that stay; the owners they reach through come and go.
    const fronts = ["r3"];
    const front = (i: number) => cluster.client(fronts[i % fronts.length] as string);
    const base = await createLoad(front(0), {
      intervals: 600,
      crons: 100,
      subjectPrefix: "tasks.churn.base",
    });
    const sample = samplePerPartition(base);
    await cluster.awaitOwners("r3", sample, ["r1", "r2", "r3"], 10_000);

    const created: TrackedSchedule[] = [];
    const unscheduled: Unscheduled[] = [];
    const versions = new Map<string, Version[]>();
    // The schedules that tell partition owners stay; any other may be unscheduled.
    const sampled = new Set(sample.values());
    const pool = base.filter((s) => !sampled.has(s.id));
    const perName = new Map<string, Promise<void>>();
    const pending: Promise<unknown>[] = [];
    const errors: string[] = [];
    let generation = 0;

    const define = async (name: string, i: number): Promise<void> => {
      const subject = `tasks.churn.named.${name}.v${++generation}`;
      const calledAt = Date.now();
      const reply = await front(i).scheduleByInterval({
        name,
        conflictPolicy: ConflictPolicy.REPLACE,
        subject,
        every: durationFromMs(1_000),
        misfirePolicy: MisfirePolicy.FIRE_ALL,
      });
      const returnedAt = Date.now();
      const history = versions.get(name) ?? [];
      const last = history[history.length - 1];
      if (last !== undefined && last.supersededAt === undefined) {
        last.supersededCall = calledAt;
        last.supersededAt = returnedAt;
      }
      history.push({
        name,
        subject,
        schedule: trackedOf(reply),
        supersededCall: undefined,
        supersededAt: undefined,
      });
      versions.set(name, history);
    };
    const unscheduleName = async (name: string, i: number): Promise<void> => {
      const calledAt = Date.now();
      await front(i).unschedule({ target: { case: "name", value: name } });
      const returnedAt = Date.now();
      const last = versions.get(name)?.at(-1);
      if (last !== undefined && last.supersededAt === undefined) {
        last.supersededCall = calledAt;
        last.supersededAt = returnedAt;
      }
    };
    const unscheduleOne = async (schedule: TrackedSchedule, i: number): Promise<void> => {
      const calledAt = Date.now();
      const reply = await front(i).unschedule({
        target: { case: "scheduleId", value: schedule.id },
      });
      unscheduled.push({ schedule, calledAt, returnedAt: Date.now(), existed: reply.existed });
    };
    /** Per name, one request at a time, in order: what superseded what stays clear. */
    const onName = (name: string, op: () => Promise<void>): void => {
      const next = (perName.get(name) ?? Promise.resolve()).then(op).catch((err: unknown) => {
        errors.push(`${name}: ${String(err)}`);
      });
      perName.set(name, next);
      pending.push(next);
    };
    const track = (op: Promise<void>): void => {
      pending.push(op.catch((err: unknown) => errors.push(String(err))));
    };

    for (let n = 0; n < NAMES; n++) onName(`job-${n}`, () => define(`job-${n}`, n));
    await Promise.all(pending);

    const churnStart = Date.now();
    const events: Promise<void>[] = [];
    const at = (ms: number, event: () => Promise<void>): void => {
      events.push(sleep(churnStart + ms - Date.now()).then(event));
    };
    const log: string[] = [];
    at(4_000, async () => {
      await cluster.add("r4");
      fronts.push("r4");
      log.push(`+${Date.now() - churnStart} ms r4 ready`);
    });
    at(10_000, async () => {
      const { code } = await cluster.end("r1", "SIGTERM");
      log.push(`+${Date.now() - churnStart} ms r1 stopped by SIGTERM (exit ${code})`);
    });
    at(16_000, async () => {
      await cluster.end("r2", "SIGKILL");
      log.push(`+${Date.now() - churnStart} ms r2 killed`);
    });

    for (let step = 0; Date.now() < churnStart + CHURN_MS; step++) {
      const stepAt = churnStart + step * STEP_MS;
      await sleep(stepAt - Date.now());
      for (let c = 0; c < CREATES_PER_STEP; c++) {
        track(
          front(step + c)
            .scheduleByInterval({
              subject: "tasks.churn.new",
              every: durationFromMs(1_000),
              misfirePolicy: MisfirePolicy.FIRE_ALL,
            })
            .then((reply) => {
              const schedule = trackedOf(reply);
              created.push(schedule);
              pool.push(schedule);
            }),
        );
      }
      for (let u = 0; u < UNSCHEDULES_PER_STEP && pool.length > 0; u++) {
        const [victim] = pool.splice(Math.floor(Math.random() * pool.length), 1);
        if (victim !== undefined) track(unscheduleOne(victim, step + u));
      }
      const name = `job-${step % NAMES}`;
      if (step % 7 === 3) onName(name, () => unscheduleName(name, step));
      else onName(name, () => define(name, step));
    }
    await Promise.all(events);
    await Promise.all(pending);
    console.info(log.join("\n"));
    expect(errors, "requests that failed").toEqual([]);
    const owners = await cluster.awaitOwners("r3", sample, ["r3", "r4"], 10_000);
    expect(new Set(owners.values())).toEqual(new Set(["r3", "r4"]));
    await sleep(2_000);
    expect(cluster.unexpectedExits()).toEqual([]);

    const to = Date.now() - 1_000;
    const gone = new Map(unscheduled.map((u) => [u.schedule.id, u]));
    const windows: CheckedWindow[] = [];
    const kept = [...base, ...created].filter((s) => !gone.has(s.id));
    windows.push({ schedules: kept, from: 0, to });
    for (const u of unscheduled) {
      windows.push({ schedules: [u.schedule], from: 0, to: u.calledAt - SETTLED_BEFORE_MS });
    }
    const index = await cluster.storedFires(windows);

    const missing = missingFires(index, windows);
    console.info(
      `${base.length} base, ${created.length} created, ${unscheduled.length} unscheduled, ${[...versions.values()].flat().length} named definitions; ${missing.expected} fires checked`,
    );
    expectEachFiredOnce(index, windows, { timetabled: [...base, ...created] });

    // Once Unschedule returned, no fire of the schedule starts.
    const afterUnschedule: string[] = [];
    for (const u of unscheduled) {
      for (const task of index.tasksOf(u.schedule.id)) {
        const late = firedAtOf(task) - u.returnedAt;
        if (late > 0) afterUnschedule.push(`${task.headers["Nats-Msg-Id"]} fired ${late} ms after`);
      }
    }
    expect(afterUnschedule, "fires started after Unschedule returned").toEqual([]);
    expect(unscheduled.every((u) => u.existed)).toBe(true);

    // Each named definition fires on its own timetable until replaced or unscheduled.
    const bySubject = new Map<string, RecordedTask[]>();
    for (const task of cluster.recorder.tasks) {
      if (!task.subject.startsWith("tasks.churn.named.")) continue;
      const list = bySubject.get(task.subject) ?? [];
      list.push(task);
      bySubject.set(task.subject, list);
    }
    const afterReplace: string[] = [];
    const namedMissing: string[] = [];
    const namedOff: string[] = [];
    for (const v of [...versions.values()].flat()) {
      const tasks = bySubject.get(v.subject) ?? [];
      const seen = new Set(tasks.map(nominalOf));
      const until = v.supersededCall === undefined ? to : v.supersededCall - SETTLED_BEFORE_MS;
      for (
        let t = v.schedule.timetable.kind === "interval" ? v.schedule.timetable.anchor : 0;
        t <= until;
        t += 1_000
      ) {
        if (!seen.has(t)) namedMissing.push(`${v.subject}:${t}`);
      }
      for (const task of tasks) {
        if (
          scheduleIdOf(task) !== v.schedule.id ||
          !onTimetable(v.schedule.timetable, nominalOf(task))
        )
          namedOff.push(`${v.subject} ${task.headers["Nats-Msg-Id"]}`);
        const late = v.supersededAt === undefined ? 0 : firedAtOf(task) - v.supersededAt;
        if (late > 0)
          afterReplace.push(`${v.subject} ${task.headers["Nats-Msg-Id"]} fired ${late} ms after`);
      }
    }
    expect(
      namedMissing.slice(0, 20),
      `${namedMissing.length} fires of named definitions missing`,
    ).toEqual([]);
    expect(namedOff.slice(0, 20), "named fires off their definition's timetable").toEqual([]);
    expect(
      afterReplace.slice(0, 20),
      "fires of a definition started after its replacement or Unschedule returned",
    ).toEqual([]);
  }, 60_000);
});
