import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ScheduleState } from "@chime/sdk";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProgressState } from "../../server/src/engine/progress.js";
import { ScheduleStore } from "../../server/src/store/schedule-store.js";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { ofSchedule, recordTasks, type TaskRecorder } from "../harness/task-recorder.js";

// One-shots due further ahead than this are held without payload and headers.
const COLD_HORIZON_MS = 2_000;
const payload = new Uint8Array(300).map((_, i) => i % 251);
const headers = { "X-Tenant": "acme", "X-Trace": "t-1" };

describe("a one-shot due beyond the cold horizon", () => {
  let nats: TestNats;
  let chime: TestChime;
  let recorder: TaskRecorder;

  beforeAll(async () => {
    nats = await startTestNats();
    chime = await startTestChime(nats.url, { coldHorizon: `${COLD_HORIZON_MS}ms` });
    recorder = await recordTasks(nats.url);
  });
  afterAll(async () => {
    await recorder?.stop();
    await chime?.stop();
    await nats?.stop();
  });

  const createDueIn = (ms: number, name: string) =>
    chime.client.scheduleByTime({
      subject: "tasks.far.ahead",
      payload,
      headers,
      name,
      contentType: "application/octet-stream",
      when: { case: "at", value: timestampFromMs(Date.now() + ms) },
    });

  const isShed = (id: string): boolean => chime.service.catalog.get(id)?.complete === false;

  it("is held without its payload, and answered with it", async () => {
    const { scheduleId } = await createDueIn(3_600_000, "answered-whole");
    expect(isShed(scheduleId)).toBe(true);
    const got = await chime.client.getSchedule({
      target: { case: "scheduleId", value: scheduleId },
    });
    expect(got.payload).toEqual(payload);
    expect(got.headers).toEqual(headers);
    expect(got.contentType).toBe("application/octet-stream");
    expect(got.createdAt).toBeDefined();
    expect(got.updatedAt).toEqual(got.createdAt);
    const listed = await chime.client.listSchedules({ nameContains: "answered-whole" });
    expect(listed.schedules.map((s) => s.payload)).toEqual([payload]);
    expect(listed.schedules[0]?.headers).toEqual(headers);
  });

  it("keeps its payload through a pause and a resume, and fires with it", async () => {
    const at = Date.now() + COLD_HORIZON_MS + 3_000;
    const { scheduleId } = await chime.client.scheduleByTime({
      subject: "tasks.far.ahead",
      payload,
      headers,
      name: "paused-and-resumed",
      when: { case: "at", value: timestampFromMs(at) },
    });
    const target = { case: "scheduleId", value: scheduleId } as const;
    expect(isShed(scheduleId)).toBe(true);
    const paused = await chime.client.pauseSchedule({ target });
    expect(isShed(scheduleId)).toBe(true);
    expect(paused.pausedAt).toBeDefined();
    expect((await chime.client.getSchedule({ target })).pausedAt).toEqual(paused.pausedAt);
    await chime.client.resumeSchedule({ target });
    // Written back whole, and shed again: still due beyond the horizon.
    expect(isShed(scheduleId)).toBe(true);
    expect((await chime.client.getSchedule({ target })).payload).toEqual(payload);
    const [task] = await recorder.waitFor(ofSchedule(scheduleId), 1, 15_000);
    expect(Buffer.from(task?.data ?? [])).toEqual(Buffer.from(payload));
    expect(task?.headers).toMatchObject({
      ...headers,
      "Chime-Scheduled-At": new Date(at).toISOString(),
      "Chime-Trigger": "schedule",
    });
  });

  it("reads back a revision the store still holds, and nothing for one it has replaced", async () => {
    const { scheduleId } = await createDueIn(3_600_000, "read-back-revisions");
    const before = chime.service.catalog.get(scheduleId);
    if (before === undefined) throw new Error("not in the catalog");
    const bytesOf = (read: { payload: Uint8Array } | undefined) => Buffer.from(read?.payload ?? []);
    expect(bytesOf(await chime.service.catalog.schedule(before))).toEqual(Buffer.from(payload));
    await chime.client.pauseSchedule({ target: { case: "scheduleId", value: scheduleId } });
    // The bucket keeps one value per key: the paused one replaced the revision read before.
    expect(await chime.service.catalog.schedule(before)).toBeUndefined();
    const after = chime.service.catalog.get(scheduleId);
    if (after === undefined) throw new Error("not in the catalog");
    expect(after.revision).toBeGreaterThan(before.revision);
    expect(bytesOf(await chime.service.catalog.schedule(after))).toEqual(Buffer.from(payload));
  });

  it("fires with its payload when triggered by hand", async () => {
    const { scheduleId } = await createDueIn(3_600_000, "triggered-by-hand");
    expect(isShed(scheduleId)).toBe(true);
    await chime.client.triggerSchedule({ target: { case: "scheduleId", value: scheduleId } });
    const [task] = await recorder.waitFor(ofSchedule(scheduleId));
    expect(Buffer.from(task?.data ?? [])).toEqual(Buffer.from(payload));
    expect(task?.headers).toMatchObject({ ...headers, "Chime-Trigger": "manual" });
  });

  it("is answered from its due instant as its plan would answer", async () => {
    const { engine } = chime.service;
    const coldBefore = engine.coldCount;
    const at = Date.now() + 3_600_000;
    const created = await chime.client.scheduleByTime({
      subject: "tasks.far.ahead",
      payload,
      name: "standing",
      when: { case: "at", value: timestampFromMs(at) },
    });
    expect(engine.coldCount).toBe(coldBefore + 1);
    const progress = engine.progressOf(created.scheduleId);
    if (progress === undefined) throw new Error("not held");
    const { state, fireCount, manualFires, lastFireAt, nextDue } = progress;
    expect(engine.standingOf(created.scheduleId)).toEqual({
      state,
      fireCount,
      manualFires,
      lastFireAt,
      nextDue,
    });
    expect(nextDue).toBe(at);
    const reply = created.schedule;
    expect(reply?.state).toBe(ScheduleState.ACTIVE);
    expect(reply?.fireCount).toBe(0n);
    expect(reply?.nextFireAt).toEqual(timestampFromMs(at));
    expect(reply?.nextFireTimes).toEqual([timestampFromMs(at)]);
    const listed = await chime.client.listSchedules({
      nameContains: "standing",
      states: [ScheduleState.ACTIVE],
    });
    expect(listed.schedules.map((s) => s.scheduleId)).toEqual([created.scheduleId]);
  });

  it("is counted among the catalog's outlines until it is gone", async () => {
    const before = chime.service.catalog.outlineCount;
    const { scheduleId } = await createDueIn(3_600_000, "counted");
    expect(chime.service.catalog.outlineCount).toBe(before + 1);
    await chime.client.unschedule({ target: { case: "scheduleId", value: scheduleId } });
    expect(chime.service.catalog.outlineCount).toBe(before);
  });
});

describe("a one-shot due beyond the cold horizon, its partition's watermark past it", () => {
  it("is admitted as fired, not held cold to fire again (a watermark from a clock ahead)", async () => {
    await using nats = await startTestNats();
    const first = await startTestChime(nats.url, { coldHorizon: `${COLD_HORIZON_MS}ms` });
    const at = Date.now() + 3_600_000;
    const { scheduleId } = await first.client.scheduleByTime({
      subject: "tasks.far.ahead",
      payload,
      when: { case: "at", value: timestampFromMs(at) },
    });
    expect(first.service.engine.stateOf(scheduleId)).toBe(ProgressState.active);
    const record = first.service.catalog.get(scheduleId);
    if (record === undefined) throw new Error("not in the catalog");
    await first.stop();

    // As a replica whose clock ran an hour ahead would leave it, once the one-shot had fired.
    const nc = await connect({ servers: nats.url });
    try {
      const store = await ScheduleStore.open(nc, {
        bucket: "CHIME_SCHEDULES",
        partitions: 16,
        replicas: 1,
        timeoutMs: 5_000,
      });
      await store.putWatermark(record.partition, { dueAt: at, revision: record.revision });
    } finally {
      await nc.close();
    }

    await using second = await startTestChime(nats.url, { coldHorizon: `${COLD_HORIZON_MS}ms` });
    const deadline = Date.now() + 10_000;
    while (second.service.engine.stateOf(scheduleId) === undefined && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(second.service.engine.stateOf(scheduleId)).toBe(ProgressState.completed);
  });
});
