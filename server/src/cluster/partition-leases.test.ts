import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNats, type TestNats } from "../../../test/harness/nats-server.js";
import { type LeaseOptions, PartitionLeases, type PartitionOwner } from "./partition-leases.js";

const idleOwner: PartitionOwner = {
  acquired: async () => {},
  renewed: () => {},
  release: async () => {},
  lost: () => {},
};

const silent = pino({ level: "silent" });

let nats: TestNats;
beforeAll(async () => {
  nats = await startTestNats();
});
afterAll(async () => {
  await nats.stop();
});

/** Options for a replica of a test group that renews nothing after it starts. */
function replica(bucket: string, replicaId: string): LeaseOptions {
  return {
    bucket,
    replicaId,
    partitions: 2,
    ttlMs: 2_000,
    renewIntervalMs: 600_000,
    marginMs: 200,
    timeoutMs: 5_000,
  };
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("PartitionLeases, following the bucket", () => {
  it("takes what was written before it watched as only as fresh as the server stored it", async () => {
    const nc = await connect({ servers: nats.url });
    const early = await PartitionLeases.open(nc, replica("FRESH", "r1"), idleOwner, silent);
    // A replica whose clock runs a minute ahead: r1's membership, written before it watched,
    // is a minute old to it, while one written after is news.
    const late = await PartitionLeases.open(
      nc,
      replica("FRESH", "r2"),
      idleOwner,
      silent,
      () => Date.now() + 60_000,
    );
    try {
      await early.start();
      // Gone before r2 comes (seeing r2 join, it would write its membership again).
      early.close();
      await late.start();
      await (await new Kvm(nc).open("FRESH")).put("m.r3", "");
      await until(() => late.liveMembers().includes("r3"), "r2 sees r3 join");
      expect(late.liveMembers()).toEqual(["r2", "r3"]);
    } finally {
      early.close();
      late.close();
      await nc.close();
    }
  });

  it("goes on following after nats-server restarts", async () => {
    const connectToNats = () =>
      connect({ servers: nats.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    const [nc1, nc2] = await Promise.all([connectToNats(), connectToNats()]);
    const r1 = await PartitionLeases.open(nc1, replica("RESTART", "r1"), idleOwner, silent);
    const r2 = await PartitionLeases.open(nc2, replica("RESTART", "r2"), idleOwner, silent);
    try {
      await r1.start();
      await r2.start();
      await until(() => r1.liveMembers().includes("r2"), "r1 sees r2");
      const reconnected = (async () => {
        for await (const status of nc1.status()) if (status.type === "reconnect") return;
      })();
      await nats.restart();
      await reconnected;
      // Written after r1 reconnected: r1 sees it only if its watch went on.
      const nc3 = await connectToNats();
      await (await new Kvm(nc3).open("RESTART")).put("m.r3", "");
      await nc3.close();
      await until(() => r1.liveMembers().includes("r3"), "r1 sees r3 join after the restart");
    } finally {
      r1.close();
      r2.close();
      await Promise.all([nc1.close(), nc2.close()]);
    }
  });
  it("follows a bucket made anew from its first write", async () => {
    const nc = await connect({ servers: nats.url });
    // Entries live 30 s here: one written once is still news when r1 comes back to it.
    const options = { ...replica("ANEW", "r1"), ttlMs: 30_000 };
    const r1 = await PartitionLeases.open(nc, options, idleOwner, silent);
    try {
      await r1.start();
      const kvm = new Kvm(nc);
      const kv = await kvm.open(options.bucket);
      for (let i = 0; i < 20; i++) await kv.put(`x.${i}`, "");
      await (await jetstreamManager(nc)).streams.delete(`KV_${options.bucket}`);
      const anew = await kvm.create(options.bucket, { history: 1, ttl: options.ttlMs });
      // Written before r1 notices the lost consumer (by its missing heartbeats): r1 sees it
      // only if it follows the new bucket from its start, not from where it left the old one.
      await anew.put("m.r3", "");
      await until(() => r1.liveMembers().includes("r3"), "r1 sees r3 in the new bucket", 25_000);
    } finally {
      r1.close();
      await nc.close();
    }
  }, 40_000);
});

describe("PartitionLeases.currentHolderOf", () => {
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
