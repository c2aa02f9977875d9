import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNats, type TestNats } from "../../../test/harness/nats-server.js";
import { PartitionLeases, type PartitionOwner } from "./partition-leases.js";

const idleOwner: PartitionOwner = {
  acquired: async () => {},
  renewed: () => {},
  release: async () => {},
  lost: () => {},
};

describe("PartitionLeases.currentHolderOf", () => {
  let nats: TestNats;
  beforeAll(async () => {
    nats = await startTestNats();
  });
  afterAll(async () => {
    await nats.stop();
  });

  it("answers its own lease from memory only while it is valid, then reads the bucket", async () => {
    const nc = await connect({ servers: nats.url });
    let clock = Date.now();
    const options = {
      bucket: "LEASES_HOLDER",
      replicaId: "r1",
      partitions: 1,
      ttlMs: 2_000,
      // No renewal during the test: the lease lapses when the clock says so.
      renewIntervalMs: 600_000,
      marginMs: 200,
      timeoutMs: 5_000,
    };
    const leases = await PartitionLeases.open(
      nc,
      options,
      idleOwner,
      pino({ level: "silent" }),
      () => clock,
    );
    try {
      await leases.start();
      expect(await leases.currentHolderOf(0)).toBe("r1");
      // Another replica took the partition over while this one stalled past its lease.
      const kv = await new Kvm(nc).open(options.bucket);
      await kv.put("l.0", "r2");
      expect(await leases.currentHolderOf(0)).toBe("r1");
      clock += options.ttlMs;
      expect(await leases.currentHolderOf(0)).toBe("r2");
    } finally {
      leases.close();
      await nc.close();
    }
  });
});
