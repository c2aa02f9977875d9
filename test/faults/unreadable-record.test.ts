import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { ofSchedule, recordTasks, type TaskRecorder } from "../harness/task-recorder.js";

// Wire bytes no protobuf reader accepts: a varint that never ends.
const UNREADABLE = new Uint8Array([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
// A cron trigger (field 11) whose inside is such a varint: whole as far as the catalog's scan
// of the top-level fields goes, unreadable to the engine, which decodes the trigger.
const UNREADABLE_TRIGGER = new Uint8Array([0x5a, 0x03, 0x08, 0xff, 0xff]);

describe("a stored schedule whose bytes cannot be read (put into the bucket by hand)", () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let chime: TestChime;
  let recorder: TaskRecorder;

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connect({ servers: nats.url });
    chime = await startTestChime(nats.url);
    recorder = await recordTasks(nats.url);
  });
  afterAll(async () => {
    await chime?.stop();
    await recorder?.stop();
    await nc?.close();
    await nats?.stop();
  });

  it("is left out, logged and counted, and stops neither the changes after it nor a restart", async () => {
    const kv = await new Kvm(nc).open("CHIME_SCHEDULES");
    // One in each partition, ahead of every schedule below in the store's order.
    for (const p of chime.service.engine.ownedPartitions) {
      await kv.put(`s.${p}.bad-trigger`, UNREADABLE_TRIGGER);
    }
    const every = (subject: string) =>
      chime.client.scheduleByInterval({ subject, every: durationFromMs(1_000) });
    const kept = await every("tasks.unreadable.kept");
    const overwritten = await every("tasks.unreadable.overwritten");
    const partition = chime.service.catalog.get(overwritten.scheduleId)?.partition;
    expect(partition).toBeDefined();

    await kv.put(`s.${partition}.${overwritten.scheduleId}`, UNREADABLE);
    await kv.put(`s.${partition}.by-hand`, UNREADABLE);

    // Applied after them: the watch went on past both.
    const after = await every("tasks.unreadable.after");
    expect(chime.service.catalog.unreadableCount).toBe(2);
    const metrics = await (await fetch(`${chime.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^chime_store_unreadable_schedules 2$/m);
    // The overwritten definition is gone, not kept firing from what was held before.
    const lookUp = chime.client.getSchedule({
      target: { case: "scheduleId", value: overwritten.scheduleId },
    });
    await expect(lookUp).rejects.toSatisfy(
      (e) => e instanceof ConnectError && e.code === Code.NotFound,
    );
    await recorder.waitFor(ofSchedule(after.scheduleId), 2, 5_000);
    const overwrittenFires = recorder.matching(ofSchedule(overwritten.scheduleId)).length;

    // A restart loads the store past them too, and fires what is readable.
    await chime.stop();
    chime = await startTestChime(nats.url);
    expect(chime.service.catalog.unreadableCount).toBe(2);
    const firedBefore = recorder.matching(ofSchedule(kept.scheduleId)).length;
    await recorder.waitFor(ofSchedule(kept.scheduleId), firedBefore + 2, 5_000);
    await recorder.waitFor(ofSchedule(after.scheduleId), 4, 5_000);
    expect(recorder.matching(ofSchedule(overwritten.scheduleId))).toHaveLength(overwrittenFires);
  });
});
