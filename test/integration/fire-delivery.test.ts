import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { ofSchedule, recordTasks, type TaskRecorder } from "../harness/task-recorder.js";

const RFC3339_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe("a fired task", () => {
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

  it("reaches a JetStream consumer with the documented headers, payload unchanged", async () => {
    const at = Date.now() + 300;
    const created = await chime.client.scheduleByTime({
      subject: "tasks.email.send",
      payload: new TextEncoder().encode('{"to":"a@example.com"}'),
      headers: { "X-Tenant": "acme" },
      name: "welcome-email",
      contentType: "application/json",
      when: { case: "at", value: timestampFromMs(at) },
    });
    const [task] = await recorder.waitFor(ofSchedule(created.scheduleId));
    expect(task?.subject).toBe("tasks.email.send");
    expect(new TextDecoder().decode(task?.data)).toBe('{"to":"a@example.com"}');
    expect(task?.headers).toMatchObject({
      "Nats-Msg-Id": `${created.scheduleId}:${at}`,
      "Chime-Schedule-Id": created.scheduleId,
      "Chime-Schedule-Name": "welcome-email",
      "Chime-Scheduled-At": new Date(at).toISOString(),
      "Chime-Fire-Seq": "1",
      "Chime-Trigger": "schedule",
      "Content-Type": "application/json",
      "X-Tenant": "acme",
    });
    expect(task?.headers["Chime-Fired-At"]).toMatch(RFC3339_MS);
    const firedAt = Date.parse(task?.headers["Chime-Fired-At"] ?? "");
    expect(firedAt).toBeGreaterThanOrEqual(at);
  });
});
