import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { announceSkip, GOPATH_DEBIAN, goNatsMissing, run } from "./toolchain.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const skip = announceSkip("the Go consumer example", await goNatsMissing());

interface Received {
  subject: string;
  headers: Record<string, string>;
  payload: string;
  delivered: number;
  acked: boolean;
}

describe.skipIf(skip)("the Go NATS consumer (sdk/examples/go)", () => {
  let nats: TestNats;
  let chime: TestChime;
  let work: string;
  let binary: string;

  beforeAll(async () => {
    nats = await startTestNats();
    chime = await startTestChime(nats.url);
    work = await mkdtemp(join(tmpdir(), "chime-go-"));
    binary = join(work, "chime-consumer");
    // GOPATH mode against Debian's packaged nats.go: nothing is downloaded.
    await run("go", ["build", "-o", binary, "./sdk/examples/go"], {
      cwd: ROOT,
      env: {
        ...process.env,
        GO111MODULE: "off",
        GOPATH: GOPATH_DEBIAN,
        GOCACHE: join(work, "cache"),
        GOFLAGS: "",
      },
      timeout: 120_000,
    });
  }, 150_000);
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    await chime?.stop();
    await nats?.stop();
  });

  it("receives a task, reads its Chime-* headers and acknowledges it", async () => {
    const consumer = run(
      binary,
      ["-nats", nats.url, "-subject", "tasks.go.>", "-durable", "go-example", "-wait", "20s"],
      { timeout: 30_000 },
    );
    const at = Date.now() + 500;
    const created = await chime.client.scheduleByTime({
      subject: "tasks.go.greet",
      name: "go-greeting",
      payload: new TextEncoder().encode("hello from chime"),
      when: { case: "at", value: timestampFromMs(at) },
    });
    const received = JSON.parse((await consumer).stdout) as Received;

    expect(received).toMatchObject({
      subject: "tasks.go.greet",
      payload: "hello from chime",
      delivered: 1,
      acked: true,
    });
    expect(received.headers).toMatchObject({
      "Nats-Msg-Id": `${created.scheduleId}:${at}`,
      "Chime-Schedule-Id": created.scheduleId,
      "Chime-Schedule-Name": "go-greeting",
      "Chime-Scheduled-At": new Date(at).toISOString(),
      "Chime-Fire-Seq": "1",
      "Chime-Trigger": "schedule",
    });
    expect(received.headers["Chime-Fired-At"]).toMatch(/^\d{4}-\d\d-\d\dT/);

    // The ack reached the server: nothing is pending or waiting for redelivery.
    const nc = await connect({ servers: nats.url });
    try {
      const info = await (await jetstreamManager(nc)).consumers.info("CHIME_TASKS", "go-example");
      expect(info.num_ack_pending).toBe(0);
      expect(info.num_pending).toBe(0);
      expect(info.delivered.consumer_seq).toBe(1);
    } finally {
      await nc.close();
    }
  });
});
