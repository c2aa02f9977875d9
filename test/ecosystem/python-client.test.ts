import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { announceSkip, PYTHON, pythonGrpcMissing, run } from "./toolchain.js";

const EXAMPLE = fileURLToPath(new URL("../../sdk/examples/python/", import.meta.url));
const skip = announceSkip("the Python client example", await pythonGrpcMissing());

interface Step {
  step: string;
  [key: string]: unknown;
}

describe.skipIf(skip)("the Python gRPC client (sdk/examples/python)", () => {
  let nats: TestNats;
  let chime: TestChime;
  let stubs: string;

  beforeAll(async () => {
    nats = await startTestNats();
    chime = await startTestChime(nats.url);
    stubs = await mkdtemp(join(tmpdir(), "chime-pystubs-"));
    // The stubs are generated from proto/ on every run, never committed.
    await run(join(EXAMPLE, "generate.sh"), [stubs], { env: { ...process.env, PYTHON } });
  });
  afterAll(async () => {
    if (stubs) await rm(stubs, { recursive: true, force: true });
    await chime?.stop();
    await nats?.stop();
  });

  it("creates a cron schedule, finds it in the list and unschedules it", async () => {
    const { stdout } = await run(
      PYTHON,
      [join(EXAMPLE, "cron_client.py"), "--address", chime.grpcAddress, "--name", "py-nightly"],
      { env: { ...process.env, PYTHONPATH: stubs }, timeout: 30_000 },
    );
    const steps = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Step);
    expect(steps.map((s) => s.step)).toEqual(["created", "listed", "unscheduled", "gone"]);
    const [created, listed, unscheduled, gone] = steps;
    expect(created).toMatchObject({ created: true });
    expect(created?.nextFireAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:00:00Z$/);
    expect(listed).toMatchObject({ found: 1, names: ["py-nightly"] });
    expect(unscheduled).toMatchObject({ existed: true });
    expect(gone).toMatchObject({ code: "NOT_FOUND" });

    // Chime agrees: the schedule the script created is gone.
    const list = await chime.client.listSchedules({ pageSize: 100 });
    expect(list.schedules.map((s) => s.scheduleId)).not.toContain(created?.scheduleId);
  });
});
