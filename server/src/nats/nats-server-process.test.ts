import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../../test/harness/free-port.js";
import { startTestNats, type TestNats } from "../../../test/harness/nats-server.js";
import {
  findNatsServerBinary,
  isPortOpen,
  type NatsServerProcess,
  NatsServerStartError,
  startNatsServer,
} from "./nats-server-process.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "chime-nats-test-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function start(storeDir: string, port = 0): Promise<NatsServerProcess> {
  const server = await startNatsServer({ port, storeDir });
  cleanups.push(() => server.kill9());
  return server;
}

/** Creates a stream, publishes one message through JetStream, and returns its sequence. */
async function publishOne(url: string, stream: string): Promise<number> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.>`] });
    const ack = await jetstream(nc).publish(`${stream.toLowerCase()}.one`, "hello");
    return ack.seq;
  } finally {
    await nc.close();
  }
}

async function streamMessages(url: string, stream: string): Promise<number> {
  const nc = await connect({ servers: url });
  try {
    const info = await (await jetstreamManager(nc)).streams.info(stream);
    return info.state.messages;
  } finally {
    await nc.close();
  }
}

describe("findNatsServerBinary and isPortOpen", () => {
  it("finds the binary this machine has", () => {
    const binary = findNatsServerBinary();
    expect(binary).not.toBeNull();
    expect(binary).toMatch(/nats-server$/);
  });

  it("tells an open port from a closed one", async () => {
    const dir = await tempDir();
    const server = await start(dir);
    expect(await isPortOpen(server.host, server.port)).toBe(true);
    expect(await isPortOpen("127.0.0.1", await freePort())).toBe(false);
  });
});

describe("startNatsServer", () => {
  it("starts on a free port with JetStream ready, and stops cleanly", async () => {
    const dir = await tempDir();
    const server = await start(dir);
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    expect(server.pid).toBeGreaterThan(0);
    expect(await publishOne(server.url, "READY")).toBe(1);
    expect(existsSync(join(dir, "jetstream"))).toBe(true);

    const exit = await server.stop();
    // nats-server 2.9 shuts down cleanly on SIGTERM and then exits with code 1.
    expect(exit.signal).not.toBe("SIGKILL");
    expect(server.logTail()).toMatch(/Server Exiting/);
    expect(await server.stop()).toBe(exit);
    expect(await isPortOpen(server.host, server.port)).toBe(false);
  });

  it("keeps a stream across a restart on the same store and port", async () => {
    const dir = await tempDir();
    const first = await start(dir);
    await publishOne(first.url, "KEPT");
    await first.stop();

    const second = await start(dir, first.port);
    expect(second.url).toBe(first.url);
    expect(await streamMessages(second.url, "KEPT")).toBe(1);
  });

  it("keeps a stream across kill -9", async () => {
    const dir = await tempDir();
    const first = await start(dir);
    await publishOne(first.url, "CRASHED");
    const exit = await first.kill9();
    expect(exit.signal).toBe("SIGKILL");
    expect(await first.closed()).toBe(exit);

    const second = await start(dir, first.port);
    expect(await streamMessages(second.url, "CRASHED")).toBe(1);
  });

  it("fails with the server's own words when it cannot start", async () => {
    const dir = await tempDir();
    const err = await startNatsServer({ storeDir: dir, extraArgs: ["--no-such-flag"] }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NatsServerStartError);
    expect((err as NatsServerStartError).message).toMatch(/exited before it was ready/);
    expect((err as NatsServerStartError).logTail).toMatch(/flag provided but not defined/);
  });

  it("fails clearly when the port is taken", async () => {
    const dir = await tempDir();
    const running = await start(dir);
    const err = await startNatsServer({
      port: running.port,
      storeDir: await tempDir(),
      readyTimeoutMs: 5_000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatsServerStartError);
    expect((err as Error).message).toMatch(/address already in use/);
  });

  it("fails clearly when the binary is missing", async () => {
    const err = await startNatsServer({
      storeDir: await tempDir(),
      binary: "/nonexistent/nats-server",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatsServerStartError);
    expect((err as Error).message).toMatch(/cannot run \/nonexistent\/nats-server/);
    expect(findNatsServerBinary()).not.toBe("/nonexistent/nats-server");
  });
});

describe("test harness", () => {
  let nats: TestNats | undefined;
  afterEach(async () => {
    await nats?.stop();
  });

  it("goes down and comes back on the same port and store; stop removes the store", async () => {
    nats = await startTestNats();
    await publishOne(nats.url, "HARNESS");
    await nats.down();
    expect(nats.process).toBeNull();
    expect(await isPortOpen("127.0.0.1", nats.port)).toBe(false);
    await nats.up();
    expect(await streamMessages(nats.url, "HARNESS")).toBe(1);
    await nats.crash();
    await nats.restart();
    expect(await streamMessages(nats.url, "HARNESS")).toBe(1);

    const dir = nats.storeDir;
    await nats.stop();
    expect(existsSync(dir)).toBe(false);
    await expect(nats.up()).rejects.toThrow(/stopped for good/);
  });
});
