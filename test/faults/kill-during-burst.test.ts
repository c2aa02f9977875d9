import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChimeProcess, startChimeProcess } from "../harness/chime.js";
import {
  chimeClient,
  duplicateMessageIds,
  settle,
  sleep,
  storedTaskCount,
} from "../harness/deliveries.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { recordTasks, type TaskRecorder } from "../harness/task-recorder.js";

const BURST = 2_000;
const CREATE_CONCURRENCY = 100;
const KILL_AFTER_MS = 50;

describe("kill -9 in the middle of a burst of fires", () => {
  let nats: TestNats;
  const chimes: ChimeProcess[] = [];
  let recorder: TaskRecorder;

  beforeAll(async () => {
    nats = await startTestNats();
    chimes.push(await startChimeProcess(nats.url, { misfireThreshold: "1s" }));
    recorder = await recordTasks(nats.url);
  });
  afterAll(async () => {
    await recorder?.stop();
    for (const chime of chimes) await chime.stop("SIGKILL");
    await nats?.stop();
  });

  it("delivers each of 2,000 one-shots due at one instant exactly once after a restart", async () => {
    const first = chimes[0] as ChimeProcess;
    const client = chimeClient(first.baseUrl);
    // One instant far enough ahead for every create to land first.
    const at = Date.now() + 10_000;
    const ids: string[] = [];
    const createStarted = Date.now();
    for (let i = 0; i < BURST; i += CREATE_CONCURRENCY) {
      const batch = Array.from({ length: Math.min(CREATE_CONCURRENCY, BURST - i) }, () =>
        client.scheduleByTime({
          subject: "tasks.burst.job",
          when: { case: "at", value: timestampFromMs(at) },
        }),
      );
      for (const created of await Promise.all(batch)) ids.push(created.scheduleId);
    }
    const createMs = Date.now() - createStarted;
    expect(Date.now(), `creating ${BURST} one-shots took ${createMs} ms`).toBeLessThan(at - 500);
    expect(new Set(ids).size).toBe(BURST);

    await sleep(at + KILL_AFTER_MS - Date.now());
    const tKill = Date.now();
    expect(await first.stop("SIGKILL")).toBeNull();
    const storedAtKill = await storedTaskCount(nats.url);
    const second = await startChimeProcess(nats.url, { misfireThreshold: "1s" });
    chimes.push(second);
    const tReady = Date.now();
    console.info(
      `created ${BURST} in ${createMs} ms; kill -9 at +${tKill - at} ms: ${storedAtKill} of ${BURST} stored by then; restarted in ${tReady - tKill} ms`,
    );

    const wanted = new Set(ids);
    await recorder.waitFor((t) => wanted.has(t.headers["Chime-Schedule-Id"] ?? ""), BURST, 20_000);
    // Time for a late duplicate to show up, were there going to be one.
    await sleep(1_000);
    await settle(recorder, nats.url);
    console.info(`all ${BURST} delivered ${Date.now() - tReady} ms after the restart`);

    const tasks = recorder.tasks;
    expect(duplicateMessageIds(tasks), "Nats-Msg-Id delivered twice").toEqual({});
    expect(new Set(tasks.map((t) => t.headers["Nats-Msg-Id"])).size).toBe(tasks.length);
    expect(tasks.length).toBe(BURST);
    expect(new Set(tasks.map((t) => t.headers["Nats-Msg-Id"]))).toEqual(
      new Set(ids.map((id) => `${id}:${at}`)),
    );
    expect(tasks.every((t) => t.headers["Chime-Fire-Seq"] === "1")).toBe(true);
    expect(second.child.exitCode, second.output()).toBeNull();
  }, 45_000);
});
