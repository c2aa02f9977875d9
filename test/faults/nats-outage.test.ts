import { readFile } from "node:fs/promises";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { MisfirePolicy } from "@chime/sdk";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChimeProcess, startChimeProcess } from "../harness/chime.js";
import {
  anchorOf,
  chimeClient,
  duplicateMessageIds,
  missingOccurrences,
  nominalOf,
  probe,
  settle,
  sleep,
  triggerOf,
  until,
} from "../harness/deliveries.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { ofSchedule, recordTasks, type TaskRecorder } from "../harness/task-recorder.js";

const EVERY_MS = 1_000;
const OUTAGE_MS = 3_000;

/** How an RPC ended, and how long it took. */
interface Outcome {
  readonly code: Code | "ok";
  readonly message: string;
  readonly ms: number;
}

async function timed(call: () => Promise<unknown>): Promise<Outcome> {
  const started = performance.now();
  try {
    await call();
    return { code: "ok", message: "", ms: performance.now() - started };
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, message: e.message, ms: performance.now() - started };
  }
}

describe("NATS going away under a running Chime process", () => {
  let nats: TestNats;
  let chime: ChimeProcess;
  let recorder: TaskRecorder;

  beforeAll(async () => {
    nats = await startTestNats();
    chime = await startChimeProcess(nats.url, { misfireThreshold: "1s" });
    recorder = await recordTasks(nats.url);
  });
  afterAll(async () => {
    await recorder?.stop();
    await chime?.stop("SIGKILL");
    await nats?.stop();
  });

  it("answers UNAVAILABLE fast, stays alive and unready, then delivers what fell due", async () => {
    const client = chimeClient(chime.baseUrl);
    const every = await client.scheduleByInterval({
      subject: "tasks.outage.every",
      every: durationFromMs(EVERY_MS),
      misfirePolicy: MisfirePolicy.FIRE_ALL,
    });
    await recorder.waitFor(ofSchedule(every.scheduleId), 2, 5_000);

    const tDown = Date.now();
    const shotAt = tDown + 1_500;
    const shot = await client.scheduleByTime({
      subject: "tasks.outage.shot",
      when: { case: "at", value: timestampFromMs(shotAt) },
    });
    await nats.down();

    // A write needs NATS: it is refused at once, not left hanging.
    const refused = await timed(() =>
      client.scheduleByTime(
        { subject: "tasks.outage.refused", when: { case: "delay", value: durationFromMs(100) } },
        { timeoutMs: 10_000 },
      ),
    );
    console.info(
      `ScheduleByTime during the outage: ${refused.code} after ${Math.round(refused.ms)} ms`,
    );
    expect(refused.code, refused.message).toBe(Code.Unavailable);
    expect(refused.ms, "ScheduleByTime answered UNAVAILABLE within 2 s").toBeLessThan(2_000);

    // Live but not ready.
    expect(await probe(chime.baseUrl, "/healthz")).toBe(200);
    await until(
      "/readyz to answer 503",
      async () => (await probe(chime.baseUrl, "/readyz")) === 503,
      1_000,
    );

    // Hold the outage for its full length, checking that the process stays up throughout.
    while (Date.now() < tDown + OUTAGE_MS) {
      expect(chime.child.exitCode, chime.output()).toBeNull();
      expect(await probe(chime.baseUrl, "/healthz")).toBe(200);
      await sleep(250);
    }
    const second = await timed(() =>
      client.getSchedule({ target: { case: "scheduleId", value: every.scheduleId } }),
    );
    expect(second.ms, "an RPC late in the outage does not hang").toBeLessThan(2_000);
    expect(
      recorder.matching(ofSchedule(shot.scheduleId)),
      "nothing is stored while NATS is down",
    ).toEqual([]);

    await nats.up();
    const tUp = Date.now();
    await until(
      "/readyz to answer 200 again",
      async () => (await probe(chime.baseUrl, "/readyz")) === 200,
      5_000,
    );
    console.info(`ready again ${Date.now() - tUp} ms after NATS came back`);

    await recorder.waitFor(ofSchedule(shot.scheduleId), 1, 10_000);
    // Two more occurrences after the outage, then stop.
    await recorder.waitFor(
      (t) => ofSchedule(every.scheduleId)(t) && nominalOf(t) > tUp + EVERY_MS,
      1,
      10_000,
    );
    // And a write works again.
    const after = await client.scheduleByTime({
      subject: "tasks.outage.after",
      when: { case: "delay", value: durationFromMs(100) },
    });
    await recorder.waitFor(ofSchedule(after.scheduleId), 1, 5_000);
    await sleep(200);
    await settle(recorder, nats.url);
    expect(chime.child.exitCode, chime.output()).toBeNull();

    const shots = recorder.matching(ofSchedule(shot.scheduleId));
    expect
      .soft(shots.map((t) => t.headers["Nats-Msg-Id"]))
      .toEqual([`${shot.scheduleId}:${shotAt}`]);
    expect
      .soft(Date.parse(shots[0]?.headers["Chime-Fired-At"] ?? ""))
      .toBeGreaterThanOrEqual(shotAt);

    const anchor = anchorOf(every);
    const got = recorder.matching(ofSchedule(every.scheduleId));
    const trace = got
      .map((t) => `${nominalOf(t) - anchor} ${triggerOf(t)} seq=${t.headers["Chime-Fire-Seq"]}`)
      .join("\n");
    const nominals = got.map(nominalOf);
    const last = Math.max(...nominals);
    expect
      .soft(
        missingOccurrences(nominals, anchor, EVERY_MS, anchor, last),
        `FIRE_ALL occurrences lost across the outage:\n${trace}`,
      )
      .toEqual([]);
    expect
      .soft(nominals.filter((n) => n > tDown && n < tUp).length, trace)
      .toBeGreaterThanOrEqual(2);
    expect.soft(duplicateMessageIds(recorder.tasks), "Nats-Msg-Id delivered twice").toEqual({});

    expect(await chime.stop("SIGTERM"), chime.output()).toBe(0);
  }, 45_000);
});

/** The state letter of a process from /proc (Linux): R, S, T (stopped), … */
async function processState(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

describe("a NATS server that hangs (SIGSTOP) under a running Chime process", () => {
  const NATS_TIMEOUT_MS = 1_000;
  let nats: TestNats;
  let chime: ChimeProcess;
  let pid: number;

  beforeAll(async () => {
    nats = await startTestNats();
    chime = await startChimeProcess(nats.url, { natsTimeout: `${NATS_TIMEOUT_MS}ms` });
    pid = nats.process?.pid ?? 0;
  });
  afterAll(async () => {
    if (pid > 0) process.kill(pid, "SIGCONT");
    await chime?.stop("SIGKILL");
    await nats?.stop();
  });

  // The connection stays open, so nothing tells Chime that NATS is gone: the request's own
  // timeout (--nats-timeout) is what bounds the RPC.
  it("answers a write UNAVAILABLE after about --nats-timeout, not later", async () => {
    const client = chimeClient(chime.baseUrl);
    process.kill(pid, "SIGSTOP");
    // A stop is not instant for a many-threaded process: wait until the kernel says "T".
    await until("nats-server to be stopped", async () => (await processState(pid)) === "T", 2_000);
    let outcome: Outcome;
    try {
      outcome = await timed(() =>
        client.scheduleByTime(
          { subject: "tasks.hung.write", when: { case: "delay", value: durationFromMs(60_000) } },
          { timeoutMs: 10_000 },
        ),
      );
    } finally {
      process.kill(pid, "SIGCONT");
    }
    console.info(
      `ScheduleByTime against a hung NATS: ${outcome.code} after ${Math.round(outcome.ms)} ms (--nats-timeout ${NATS_TIMEOUT_MS} ms)`,
    );
    expect(outcome.code, outcome.message).toBe(Code.Unavailable);
    expect(outcome.ms, "UNAVAILABLE within --nats-timeout plus 500 ms").toBeLessThan(
      NATS_TIMEOUT_MS + 500,
    );
    expect(chime.child.exitCode, chime.output()).toBeNull();
    // And once NATS runs again, so does a write.
    await until(
      "a write to succeed after SIGCONT",
      async () =>
        (
          await timed(() =>
            client.scheduleByTime({
              subject: "tasks.hung.after",
              when: { case: "delay", value: durationFromMs(60_000) },
            }),
          )
        ).code === "ok",
      5_000,
      100,
    );
  }, 30_000);
});
