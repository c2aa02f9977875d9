import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { ClosedConnectionError, TimeoutError } from "@nats-io/nats-core";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DirectReads } from "../../server/src/nats/direct-reads.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";

describe("DirectReads", () => {
  let nats: TestNats;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: "READS",
      subjects: ["reads.>"],
      storage: StorageType.File,
      allow_direct: true,
      max_msgs_per_subject: 1,
    });
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it("reads a stored message's data by its sequence, and null once a newer one replaced it", async () => {
    const js = jetstream(nc);
    const first = await js.publish("reads.a", new Uint8Array([1, 2, 3]));
    const other = await js.publish("reads.b", new Uint8Array([9]));
    const reads = new DirectReads(nc, "READS", 2_000);
    expect(Array.from((await reads.bySequence(first.seq)) ?? [])).toEqual([1, 2, 3]);
    expect(Array.from((await reads.bySequence(other.seq)) ?? [])).toEqual([9]);
    // One message per subject: the newer value of reads.a takes the first one's place.
    const second = await js.publish("reads.a", new Uint8Array([4]));
    expect(await reads.bySequence(first.seq)).toBeNull();
    expect(Array.from((await reads.bySequence(second.seq)) ?? [])).toEqual([4]);
    expect(await reads.bySequence(second.seq + 1000)).toBeNull();
  });

  it("fails as the NATS client does when no stream answers, or the connection is gone", async () => {
    // JetStream's API takes the request, but no stream of that name answers it.
    const missing = new DirectReads(nc, "NO_SUCH_STREAM", 300);
    await expect(missing.bySequence(1)).rejects.toBeInstanceOf(TimeoutError);
    const own = await connect({ servers: nats.url });
    const reads = new DirectReads(own, "READS", 2_000);
    await own.close();
    await expect(reads.bySequence(1)).rejects.toBeInstanceOf(ClosedConnectionError);
  });
});
