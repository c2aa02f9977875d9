import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection, headers as natsHeaders } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FireHistory } from "../../server/src/engine/fire-history.js";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";

const SUBJECT = "tasks.history.shared";
const byId = (id: string) => ({ target: { case: "scheduleId" as const, value: id } });
// recent_fires is filled only when asked for.
const withFires = (id: string) => ({ ...byId(id), recentFireCount: 10 });

describe("GetSchedule's recent_fires, read back from the task stream", () => {
  let nats: TestNats;
  let chime: TestChime;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startTestNats();
    chime = await startTestChime(nats.url);
    nc = await connect({ servers: nats.url });
  });

  afterAll(async () => {
    await nc?.close();
    await chime?.stop();
    await nats?.stop();
  });

  it("lists the latest ten fires, newest first, past other schedules' messages on the subject", async () => {
    const created = await chime.client.scheduleByCron({
      subject: SUBJECT,
      cron: "0 0 1 1 *",
      name: "history-yearly",
    });
    const id = created.scheduleId;
    expect((await chime.client.getSchedule(withFires(id))).recentFires).toEqual([]);

    const triggered = [];
    for (let i = 0; i < 12; i++) triggered.push(await chime.client.triggerSchedule(byId(id)));
    const fires = (await chime.client.getSchedule(withFires(id))).recentFires;
    expect(fires.map((f) => f.fireSeq)).toEqual([12n, 11n, 10n, 9n, 8n, 7n, 6n, 5n, 4n, 3n]);
    // Not asked for, not read: a plain GetSchedule stays a lookup in memory.
    expect((await chime.client.getSchedule(byId(id))).recentFires).toEqual([]);
    const newest = triggered[triggered.length - 1];
    expect(fires[0]).toMatchObject({
      trigger: "manual",
      streamSequence: newest?.streamSequence,
      messageId: newest?.messageId,
    });
    const ms = (t: Timestamp | undefined) => (t === undefined ? undefined : timestampMs(t));
    expect(ms(fires[0]?.firedAt)).toBe(ms(newest?.firedAt));

    // Another schedule's 1,000 messages land after them on the same subject: the look-up
    // reads further back and still finds the same ten.
    await publishOthers(nc, 1_000);
    const after = (await chime.client.getSchedule(withFires(id))).recentFires;
    expect(after.map((f) => f.streamSequence)).toEqual(fires.map((f) => f.streamSequence));

    // With a budget smaller than the messages in between, it gives up rather than read on.
    const jsm = await jetstreamManager(nc);
    const bounded = new FireHistory(jetstream(nc), jsm, {
      stream: "CHIME_TASKS",
      limit: 10,
      maxScanned: 500,
      timeoutMs: 2_000,
    });
    expect(await bounded.recent(id, SUBJECT)).toEqual([]);
  });

  it("lists nothing for a subject without messages", async () => {
    const jsm = await jetstreamManager(nc);
    const history = new FireHistory(jetstream(nc), jsm, {
      stream: "CHIME_TASKS",
      limit: 10,
      maxScanned: 1_000,
      timeoutMs: 2_000,
    });
    expect(await history.recent("01ARZ3NDEKTSV4RRFFQ69G5FAV", "tasks.history.silent")).toEqual([]);
  });
});

async function publishOthers(nc: NatsConnection, count: number): Promise<void> {
  const js = jetstream(nc);
  const acks = [];
  for (let i = 0; i < count; i++) {
    const h = natsHeaders();
    h.set("Chime-Schedule-Id", "01ARZ3NDEKTSV4RRFFQ69G5FAV");
    h.set("Chime-Trigger", "schedule");
    acks.push(js.publish(SUBJECT, new Uint8Array(0), { headers: h }));
  }
  await Promise.all(acks);
}
