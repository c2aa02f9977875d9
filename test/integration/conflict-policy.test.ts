import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { ConflictPolicy, type Schedule } from "@chime/sdk";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { connectErrorOf, sleep } from "../harness/rpc-errors.js";
import { ofSchedule, recordTasks, type TaskRecorder } from "../harness/task-recorder.js";

const seconds = (n: number) => ({ seconds: BigInt(n), nanos: 0 });

function everyMs(schedule: Schedule | undefined): number | undefined {
  const trigger = schedule?.trigger;
  if (trigger?.case !== "interval" || trigger.value.every === undefined) return undefined;
  return Number(trigger.value.every.seconds) * 1000 + trigger.value.every.nanos / 1e6;
}

describe.concurrent("creating with a name that exists follows conflict_policy", () => {
  let nats: TestNats;
  let chime: TestChime;
  let recorder: TaskRecorder;

  beforeAll(async () => {
    nats = await startTestNats();
    chime = await startTestChime(nats.url);
    recorder = await recordTasks(nats.url);
  });
  afterAll(async () => {
    await recorder?.stop();
    await chime?.stop();
    await nats?.stop();
  });

  it.each([
    ["unspecified (KEEP by default)", ConflictPolicy.UNSPECIFIED],
    ["KEEP", ConflictPolicy.KEEP],
  ])("%s: created=false, the same id, the definition unchanged", async (label, conflictPolicy) => {
    const name = `keep-${label.slice(0, 4)}`;
    const first = await chime.client.scheduleByInterval({
      subject: "tasks.conflict.keep",
      name,
      payload: new TextEncoder().encode("v1"),
      labels: { version: "1" },
      every: seconds(3600),
    });
    expect(first.created).toBe(true);
    const second = await chime.client.scheduleByInterval({
      subject: "tasks.conflict.keep2",
      name,
      payload: new TextEncoder().encode("v2"),
      labels: { version: "2" },
      every: seconds(60),
      conflictPolicy,
    });
    expect(second.created).toBe(false);
    expect(second.replaced).toBe(false);
    expect(second.scheduleId).toBe(first.scheduleId);
    expect(second.schedule?.subject).toBe("tasks.conflict.keep");
    expect(everyMs(second.schedule)).toBe(3_600_000);

    // Another kind of trigger under the same name is kept out too.
    const third = await chime.client.scheduleByCron({
      subject: "tasks.conflict.keep3",
      name,
      cron: "* * * * *",
      conflictPolicy,
    });
    expect(third.created).toBe(false);
    expect(third.scheduleId).toBe(first.scheduleId);

    const stored = await chime.client.getSchedule({ target: { case: "name", value: name } });
    expect(stored.scheduleId).toBe(first.scheduleId);
    expect(stored.subject).toBe("tasks.conflict.keep");
    expect(new TextDecoder().decode(stored.payload)).toBe("v1");
    expect(stored.labels).toEqual({ version: "1" });
    expect(everyMs(stored)).toBe(3_600_000);
    expect(stored.updatedAt).toEqual(first.schedule?.updatedAt);
    const listed = await chime.client.listSchedules({ nameContains: name });
    expect(listed.schedules.map((s) => s.scheduleId)).toEqual([first.scheduleId]);
  });

  it("REPLACE: same id, created and replaced, and a shorter interval fires at once", async () => {
    const name = "replace-interval";
    const first = await chime.client.scheduleByInterval({
      subject: "tasks.conflict.replace",
      name,
      every: seconds(10),
    });
    const replacedAt = Date.now();
    const second = await chime.client.scheduleByInterval({
      subject: "tasks.conflict.replace",
      name,
      every: seconds(1),
      labels: { version: "2" },
      conflictPolicy: ConflictPolicy.REPLACE,
    });
    expect(second.scheduleId).toBe(first.scheduleId);
    expect(second.created).toBe(true);
    expect(second.replaced).toBe(true);
    expect(everyMs(second.schedule)).toBe(1000);
    expect(second.schedule?.labels).toEqual({ version: "2" });
    // The next fire is recomputed from the new timetable, not left 10 s out.
    const next = timestampMs(second.schedule?.nextFireAt ?? timestampFromMs(0));
    expect(next).toBeLessThanOrEqual(Date.now() + 1000);

    const [task] = await recorder.waitFor(ofSchedule(first.scheduleId), 1, 2_500);
    expect(task?.receivedAt).toBeLessThan(replacedAt + 1800);
    await chime.client.unschedule({ target: { case: "name", value: name } });
  });

  it("REPLACE with a new subject: the old subject receives nothing more", async () => {
    const name = "replace-subject";
    const first = await chime.client.scheduleByInterval({
      subject: "tasks.conflict.old",
      name,
      every: seconds(1),
      runImmediately: true,
    });
    const id = first.scheduleId;
    await recorder.waitFor(
      (t) => ofSchedule(id)(t) && t.subject === "tasks.conflict.old",
      1,
      2_000,
    );
    const second = await chime.client.scheduleByInterval({
      subject: "tasks.conflict.new",
      name,
      every: seconds(1),
      conflictPolicy: ConflictPolicy.REPLACE,
    });
    const returned = Date.now();
    expect(second.scheduleId).toBe(id);
    expect(second.schedule?.subject).toBe("tasks.conflict.new");
    await recorder.waitFor(
      (t) => ofSchedule(id)(t) && t.subject === "tasks.conflict.new",
      2,
      3_500,
    );
    await chime.client.unschedule({ target: { case: "scheduleId", value: id } });
    const lateOld = recorder
      .matching(ofSchedule(id))
      .filter(
        (t) =>
          t.subject === "tasks.conflict.old" &&
          Date.parse(t.headers["Chime-Fired-At"] ?? "") > returned,
      );
    expect(lateOld).toEqual([]);
  });

  it("REPLACE of a name that does not exist creates it", async () => {
    const created = await chime.client.scheduleByTime({
      subject: "tasks.conflict.fresh",
      name: "replace-fresh",
      when: { case: "delay", value: seconds(3600) },
      conflictPolicy: ConflictPolicy.REPLACE,
    });
    expect(created.created).toBe(true);
    expect(created.replaced).toBe(false);
  });

  it("FAIL: ALREADY_EXISTS naming `name`, and nothing changes", async () => {
    const name = "fail-name";
    const first = await chime.client.scheduleByInterval({
      subject: "tasks.conflict.fail",
      name,
      every: seconds(3600),
    });
    const err = await connectErrorOf(
      chime.client.scheduleByInterval({
        subject: "tasks.conflict.fail2",
        name,
        every: seconds(1),
        conflictPolicy: ConflictPolicy.FAIL,
      }),
    );
    expect(err.code).toBe(Code.AlreadyExists);
    expect(err.rawMessage).toMatch(/^name: /);
    expect(err.rawMessage).toContain(JSON.stringify(name));
    const stored = await chime.client.getSchedule({ target: { case: "name", value: name } });
    expect(stored.scheduleId).toBe(first.scheduleId);
    expect(stored.subject).toBe("tasks.conflict.fail");
    expect(everyMs(stored)).toBe(3_600_000);
    await sleep(1200);
    // The refused 1 s definition never ran.
    expect(recorder.matching(ofSchedule(first.scheduleId))).toEqual([]);
  });

  it("after Unschedule the name can be reused, by a new schedule with a new id", async () => {
    const name = "reuse-name";
    const first = await chime.client.scheduleByTime({
      subject: "tasks.conflict.reuse",
      name,
      when: { case: "delay", value: seconds(3600) },
    });
    const gone = await chime.client.unschedule({ target: { case: "name", value: name } });
    expect(gone.existed).toBe(true);
    const second = await chime.client.scheduleByTime({
      subject: "tasks.conflict.reuse2",
      name,
      when: { case: "delay", value: seconds(3600) },
      conflictPolicy: ConflictPolicy.FAIL,
    });
    expect(second.created).toBe(true);
    expect(second.scheduleId).not.toBe(first.scheduleId);
    const stored = await chime.client.getSchedule({ target: { case: "name", value: name } });
    expect(stored.scheduleId).toBe(second.scheduleId);
    expect(stored.subject).toBe("tasks.conflict.reuse2");

    // Unschedule by id releases the name as well.
    await chime.client.unschedule({ target: { case: "scheduleId", value: second.scheduleId } });
    const third = await chime.client.scheduleByTime({
      subject: "tasks.conflict.reuse3",
      name,
      when: { case: "delay", value: seconds(3600) },
      conflictPolicy: ConflictPolicy.FAIL,
    });
    expect(third.created).toBe(true);
    expect(third.scheduleId).not.toBe(second.scheduleId);
  });

  it("concurrent creates of one name make exactly one schedule", async () => {
    const name = "race-name";
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        chime.client.scheduleByTime({
          subject: `tasks.conflict.race.${i}`,
          name,
          when: { case: "delay", value: seconds(3600) },
        }),
      ),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.scheduleId)).size).toBe(1);
    const listed = await chime.client.listSchedules({ nameContains: name });
    expect(listed.schedules).toHaveLength(1);
  });
});
