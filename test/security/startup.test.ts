import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScheduleStore } from "../../server/src/store/schedule-store.js";
import { startChimeProcess, startTestChime } from "../harness/chime.js";
import { freePort } from "../harness/free-port.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { connectClient, inAnHour, SECRET, TOKENS_JSON } from "./tokens.js";

// The built CLI (npx tsc -b server sdk), as a user runs it.
const CLI = fileURLToPath(new URL("../../server/dist/cli.js", import.meta.url));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function chimeCli(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, CHIME_TOKEN: "", ...env }, timeout: 20_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let nats: TestNats;

beforeAll(async () => {
  nats = await startTestNats();
});
afterAll(async () => {
  await nats?.stop();
});

describe("secure by default", () => {
  it("refuses to serve a non-loopback address without tokens, naming the setting", async () => {
    const port = await freePort();
    await expect(startChimeProcess(nats.url, { listen: `0.0.0.0:${port}` })).rejects.toThrow(
      /--insecure-no-auth/,
    );
  });

  it("serves it with --insecure-no-auth, and says so", async () => {
    const port = await freePort();
    const chime = await startChimeProcess(nats.url, {
      listen: `0.0.0.0:${port}`,
      insecureNoAuth: "yes",
      bucket: "INSECURE",
    });
    try {
      expect(chime.output()).toMatch(/authentication OFF \(--insecure-no-auth\)/);
    } finally {
      await chime.stop();
    }
  });

  it("serves loopback without tokens, and the log says authentication is off", async () => {
    const chime = await startChimeProcess(nats.url, { bucket: "LOOPBACK" });
    try {
      expect(chime.output()).toMatch(/authentication off \(loopback only\)/);
      const list = await connectClient(chime.baseUrl, undefined).listSchedules({});
      expect(list.schedules).toEqual([]);
    } finally {
      await chime.stop();
    }
  });
});

describe("with tokens", () => {
  it("logs every mutation with the token's name, the RPC and the schedule id, never the token or payload", async () => {
    const chime = await startChimeProcess(nats.url, { authTokens: TOKENS_JSON, bucket: "AUDIT" });
    try {
      const acme = connectClient(chime.baseUrl, SECRET.acmeWriter);
      const payload = "payload-that-must-not-be-logged";
      const created = await acme.scheduleByTime({
        ...inAnHour("tasks.acme.audit"),
        payload: new TextEncoder().encode(payload),
      });
      const target = { target: { case: "scheduleId" as const, value: created.scheduleId } };
      await acme.pauseSchedule(target);
      await acme.unschedule(target);
      await connectClient(chime.baseUrl, SECRET.acmeReader)
        .unschedule(target)
        .catch(() => {});
      await chime.stop();
      const lines = chime
        .output()
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const mutations = lines.filter((l) => l.msg === "mutation");
      expect(mutations).toEqual(
        expect.arrayContaining(
          ["ScheduleByTime", "PauseSchedule", "Unschedule"].map((rpc) =>
            expect.objectContaining({
              rpc,
              token: "acme-writer",
              namespace: "acme",
              scheduleId: created.scheduleId,
              code: "ok",
            }),
          ),
        ),
      );
      expect(lines).toContainEqual(
        expect.objectContaining({ rpc: "Unschedule", token: "acme-reader", level: 40 }),
      );
      const output = chime.output();
      for (const secret of [...Object.values(SECRET), payload]) {
        expect(output).not.toContain(secret);
      }
      expect(output).not.toContain(Buffer.from(payload).toString("base64"));
    } finally {
      await chime.stop();
    }
  });

  it("serves the CLI with --token or CHIME_TOKEN, and refuses it without", async () => {
    const chime = await startTestChime(nats.url, { authTokens: TOKENS_JSON, bucket: "CLI" });
    try {
      const server = ["--server", chime.baseUrl];
      const made = await chimeCli([
        ...["schedule", "at", "+1h", "tasks.acme.cli", "--name", "cli-made"],
        ...[...server, "--token", SECRET.acmeWriter, "--json"],
      ]);
      expect(made.stderr).toBe("");
      expect(made.code).toBe(0);
      const listed = await chimeCli(["ls", ...server, "--json"], {
        CHIME_TOKEN: SECRET.acmeReader,
      });
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain("cli-made");
      const refused = await chimeCli(["ls", ...server]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/not allowed \(--token or CHIME_TOKEN\)/);
      const denied = await chimeCli(["rm", "cli-made", ...server, "--token", SECRET.acmeReader]);
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/role write/);
    } finally {
      await chime.stop();
    }
  });

  it("reads schedules stored before namespaces as the default namespace's", async () => {
    const bucket = "LEGACY";
    const before = await startTestChime(nats.url, { bucket });
    const created = await before.client.scheduleByTime(inAnHour("tasks.legacy.x", "legacy"));
    await before.stop();
    // Store the schedule as a version without namespaces did: no namespace field at all.
    const nc = await connect({ servers: nats.url });
    try {
      const store = await ScheduleStore.open(nc, {
        bucket,
        partitions: 16,
        replicas: 1,
        timeoutMs: 5_000,
      });
      const stored = await store.get(store.partitionOf(created.scheduleId), created.scheduleId);
      if (stored === null) throw new Error("the schedule is not stored");
      const schedule = stored.outline;
      expect(schedule.namespace).toBe("default");
      schedule.namespace = "";
      await store.update(schedule, stored.revision);
    } finally {
      await nc.close();
    }
    const tokens = JSON.stringify([
      { name: "default-reader", role: "read", token: "default-reader-secret-01" },
      { name: "acme-reader", namespace: "acme", role: "read", token: SECRET.acmeReader },
    ]);
    const after = await startTestChime(nats.url, { bucket, authTokens: tokens });
    try {
      const mine = connectClient(after.baseUrl, "default-reader-secret-01");
      const byName = await mine.getSchedule({ target: { case: "name", value: "legacy" } });
      expect(byName.scheduleId).toBe(created.scheduleId);
      expect(byName.namespace).toBe("default");
      const acme = connectClient(after.baseUrl, SECRET.acmeReader);
      expect((await acme.listSchedules({})).schedules).toEqual([]);
    } finally {
      await after.stop();
    }
  });
});
