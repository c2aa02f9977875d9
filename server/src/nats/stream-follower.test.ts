import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestNats, type TestNats } from "../../../test/harness/nats-server.js";
import {
  FollowInterruptedError,
  followStream,
  sequencesOfReply,
  storedAtOfReply,
} from "./stream-follower.js";

let server: TestNats;
let nc: NatsConnection;
let jsm: JetStreamManager;
let streams = 0;
const aborts: AbortController[] = [];

beforeAll(async () => {
  server = await startTestNats();
  nc = await connect({ servers: server.url, reconnectTimeWait: 100 });
  jsm = await jetstreamManager(nc);
});

afterEach(() => {
  for (const abort of aborts.splice(0)) abort.abort();
});

afterAll(async () => {
  await nc.close();
  await server.stop();
});

/** A new stream on `<name>.>`, holding `count` messages `<name>.<i>` with payload i. */
async function streamOf(count: number, bytes = 0): Promise<string> {
  const name = `S${++streams}`;
  await jsm.streams.add({ name, subjects: [`${name}.>`] });
  await publish(name, 1, count, bytes);
  return name;
}

async function publish(name: string, from: number, to: number, bytes = 0): Promise<void> {
  const js = jetstream(nc);
  const acks: Promise<unknown>[] = [];
  for (let i = from; i <= to; i++) {
    const payload = bytes > 0 ? new Uint8Array(bytes).fill(i % 256) : String(i);
    acks.push(js.publish(`${name}.${i}`, payload));
  }
  await Promise.all(acks);
}

interface Taken {
  readonly subject: string;
  readonly sequence: number;
}

/** Follows `stream` from `fromSequence`, keeping what it takes, until the test ends. */
function follow(stream: string, fromSequence: number, idleHeartbeatMs?: number) {
  const abort = new AbortController();
  aborts.push(abort);
  const taken: Taken[] = [];
  const done = followStream(
    nc,
    jsm,
    { stream, filterSubject: `${stream}.>`, fromSequence, signal: abort.signal, idleHeartbeatMs },
    (msg, sequence) => {
      taken.push({ subject: msg.subject, sequence });
    },
  );
  return { taken, done, abort };
}

async function consumersOf(stream: string): Promise<string[]> {
  const names: string[] = [];
  for await (const info of jsm.consumers.list(stream)) names.push(info.name);
  return names;
}

async function until(what: string, condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("followStream", () => {
  it("hands over every message from a sequence on, in order, then each one stored later", async () => {
    const stream = await streamOf(10);
    const { taken, done, abort } = follow(stream, 4);
    await until("the stored messages", () => taken.length === 7);
    await publish(stream, 11, 12);
    await until("the later messages", () => taken.length === 9);
    expect(taken).toEqual(
      Array.from({ length: 9 }, (_, i) => ({ subject: `${stream}.${i + 4}`, sequence: i + 4 })),
    );
    abort.abort();
    await done;
    // Its consumer goes with it.
    await expect.poll(() => consumersOf(stream)).toEqual([]);
  });

  it("follows from the start when the sequence is 0", async () => {
    const stream = await streamOf(3);
    const { taken } = follow(stream, 0);
    await until("every message", () => taken.length === 3);
    expect(taken.map((t) => t.sequence)).toEqual([1, 2, 3]);
  });

  it("keeps taking past flow control, a message at a time", async () => {
    // 80 MB: past the 64 MB a server sends a subscriber before it waits for an answer.
    const count = 8_000;
    const stream = await streamOf(count, 10_000);
    const { taken } = follow(stream, 0);
    await until("every message", () => taken.length === count, 20_000);
    expect(taken.every((t, i) => t.sequence === i + 1)).toBe(true);
  });

  it("rejects with what the taker throws, and hands over nothing after it", async () => {
    const stream = await streamOf(50);
    const abort = new AbortController();
    aborts.push(abort);
    const failure = new Error("cannot take this one");
    const taken: number[] = [];
    const done = followStream(
      nc,
      jsm,
      { stream, filterSubject: `${stream}.>`, fromSequence: 0, signal: abort.signal },
      (_msg, sequence) => {
        taken.push(sequence);
        if (sequence === 2) throw failure;
      },
    );
    await expect(done).rejects.toBe(failure);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(taken).toEqual([1, 2]);
  });

  it("rejects as interrupted when its consumer is deleted under it", async () => {
    const stream = await streamOf(2);
    const { taken, done } = follow(stream, 0, 200);
    await until("every message", () => taken.length === 2);
    for (const name of await consumersOf(stream)) await jsm.consumers.delete(stream, name);
    await expect(done).rejects.toBeInstanceOf(FollowInterruptedError);
  });

  it("rejects, leaving no rejection unhandled, when NATS comes back while it makes its consumer", async () => {
    const stream = await streamOf(1);
    await server.down();
    const { done } = follow(stream, 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await server.up();
    await expect(done).rejects.toThrow(/reconnected/);
  });

  it("rejects as interrupted when NATS comes back after a restart", async () => {
    const stream = await streamOf(2);
    const { taken, done } = follow(stream, 0);
    await until("every message", () => taken.length === 2);
    await server.restart();
    await expect(done).rejects.toThrow(/reconnected/);
  });
});

describe("sequencesOfReply", () => {
  it("reads the stream and delivery sequences of each form of reply subject", () => {
    expect(sequencesOfReply("$JS.ACK.KV_chime.c_1.1.1234567.89.1765012345678901234.0")).toEqual([
      1_234_567, 89,
    ]);
    expect(
      sequencesOfReply("$JS.ACK.hub.ACCHASH.KV_chime.c_1.2.1234567.89.1765012345678901234.5"),
    ).toEqual([1_234_567, 89]);
    expect(
      sequencesOfReply("$JS.ACK._.ACCHASH.KV_chime.c_1.1.42.7.1765012345678901234.0.Xy3"),
    ).toEqual([42, 7]);
  });

  it("refuses a subject that is not a JetStream delivery", () => {
    for (const reply of ["", "_INBOX.abc", "$JS.ACK.S.c.1.x.2.3.4", "$JS.ACK.S.c.1..2.3.4"]) {
      expect(() => sequencesOfReply(reply)).toThrow(FollowInterruptedError);
    }
  });
});

describe("storedAtOfReply", () => {
  it("reads the time the server stored a delivery, in ms, from each form of reply subject", () => {
    expect(storedAtOfReply("$JS.ACK.KV_chime.c_1.1.1234567.89.1765012345678901234.0")).toBe(
      1_765_012_345_678,
    );
    expect(
      storedAtOfReply("$JS.ACK.hub.ACCHASH.KV_chime.c_1.2.1234567.89.1765012345999999999.5"),
    ).toBe(1_765_012_345_999);
    expect(storedAtOfReply("$JS.ACK._.ACCHASH.KV_chime.c_1.1.42.7.1765012345000000001.0.Xy3")).toBe(
      1_765_012_345_000,
    );
  });
});
