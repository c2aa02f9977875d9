import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { sleep } from "../harness/deliveries.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { ofSchedule, recordTasks, type TaskRecorder } from "../harness/task-recorder.js";

const COLD_HORIZON_MS = 2_000;
const payload = new Uint8Array(300).map((_, i) => (i * 7) % 256);

describe("a far-ahead one-shot whose payload is read back while NATS is away", () => {
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

  it("fires once, whole, when NATS is back", async () => {
    // Comes within the horizon (and is read back) about a second into the outage, and falls
    // due within it.
    const at = Date.now() + COLD_HORIZON_MS + 1_000;
    const { scheduleId } = await chime.client.scheduleByTime({
      subject: "tasks.far.outage",
      payload,
      headers: { "X-Tenant": "acme" },
      when: { case: "at", value: timestampFromMs(at) },
    });
    expect(chime.service.catalog.get(scheduleId)?.complete).toBe(false);
    await nats.down();
    await sleep(at + 1_500 - Date.now());
    expect(recorder.matching(ofSchedule(scheduleId))).toEqual([]);
    await nats.up();

    const [task] = await recorder.waitFor(ofSchedule(scheduleId), 1, 20_000);
    expect(Buffer.from(task?.data ?? [])).toEqual(Buffer.from(payload));
    expect(task?.headers).toMatchObject({
      "X-Tenant": "acme",
      "Chime-Scheduled-At": new Date(at).toISOString(),
    });
    // Published once: a copy would show within the recorder's next reads.
    await sleep(1_000);
    expect(recorder.matching(ofSchedule(scheduleId))).toHaveLength(1);
  });
});
