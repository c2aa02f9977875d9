import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { freePort } from "../harness/free-port.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { ofSchedule, recordTasks, type TaskRecorder } from "../harness/task-recorder.js";

// The built CLI (npx tsc -b server sdk), as a user runs it.
const CLI = fileURLToPath(new URL("../../server/dist/cli.js", import.meta.url));
const ID = /[0-9A-HJKMNP-TV-Z]{26}/;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let nats: TestNats;
let chime: TestChime;
let recorder: TaskRecorder;

beforeAll(async () => {
  nats = await startTestNats();
  chime = await startTestChime(nats.url);
  recorder = await recordTasks(nats.url);
});
afterAll(async () => {
  await recorder?.stop();
  await chime?.stop();
  await nats?.stop();
});

/** `chime …` against the test Chime (CHIME_SERVER), or as `env` says. */
function chimeCli(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        env: { ...process.env, CHIME_SERVER: chime.baseUrl, CHIME_TOKEN: "", ...env },
        timeout: 20_000,
      },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function json<T>(run: Run): T {
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as T;
}

interface JsonSchedule {
  scheduleId: string;
  name?: string;
  subject: string;
  state: string;
  labels?: Record<string, string>;
  cron?: { cron: string; timeZone: string };
  interval?: { every: string };
  time?: { at: string; localTime?: string; timeZone?: string };
  nextFireTimes?: string[];
  fireCount?: number | string;
}

describe("chime schedule", () => {
  it("cron: prints what it created; --json gives the CreatedSchedule", async () => {
    const run = await chimeCli([
      "schedule",
      "cron",
      "0 2 * * *",
      "tasks.cli.nightly",
      "--tz",
      "America/New_York",
      "--name",
      "cli-nightly",
      "--label",
      "team=ops",
      "--jitter",
      "30s",
      "--misfire",
      "skip",
    ]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^created ${ID.source}\\n`));
    expect(run.stdout).toMatch(/^name\s+cli-nightly$/m);
    expect(run.stdout).toMatch(/^trigger\s+cron 0 2 \* \* \* America\/New_York$/m);
    expect(run.stdout).toMatch(/^state\s+active$/m);
    expect(run.stdout).toMatch(/^next fire\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \(in \w+\)$/m);
    expect(run.stdout).toMatch(/^labels\s+team=ops$/m);

    const again = json<{
      created: boolean;
      replaced: boolean;
      scheduleId: string;
      schedule: JsonSchedule;
    }>(
      await chimeCli([
        "schedule",
        "cron",
        "@hourly",
        "tasks.cli.nightly",
        "--name",
        "cli-nightly",
        "--json",
      ]),
    );
    expect(again.created).toBe(false);
    expect(again.schedule.cron?.cron).toBe("0 2 * * *");
    const replaced = json<{ replaced: boolean; schedule: JsonSchedule }>(
      await chimeCli([
        "schedule",
        "cron",
        "@hourly",
        "tasks.cli.nightly",
        "--name",
        "cli-nightly",
        "--on-conflict",
        "replace",
        "--json",
      ]),
    );
    expect(replaced.replaced).toBe(true);
    expect(replaced.schedule.cron).toEqual({ cron: "@hourly", timeZone: "UTC" });
  });

  it("every: takes a duration; a taken name with --on-conflict fail exits 5", async () => {
    const created = json<{ scheduleId: string; schedule: JsonSchedule }>(
      await chimeCli([
        "schedule",
        "every",
        "90s",
        "tasks.cli.every",
        "--name",
        "cli-every",
        "--json",
      ]),
    );
    expect(created.schedule.interval?.every).toBe("90s");
    const taken = await chimeCli([
      "schedule",
      "every",
      "5m",
      "tasks.cli.every",
      "--name",
      "cli-every",
      "--on-conflict",
      "fail",
    ]);
    expect(taken.code).toBe(5);
    expect(taken.stdout).toBe("");
    expect(taken.stderr).toMatch(/^chime: name: a schedule named "cli-every" already exists/);
  });

  it("at: +duration, an instant, or a local time with --tz; the task carries the data", async () => {
    const soon = await chimeCli([
      "schedule",
      "at",
      "+200ms",
      "tasks.cli.once",
      "--json-data",
      '{"to":"a@example.com"}',
      "--header",
      "X-Tenant=acme",
    ]);
    expect(soon.code).toBe(0);
    const id = ID.exec(soon.stdout)?.[0] ?? "";
    const [task] = await recorder.waitFor(ofSchedule(id));
    expect(new TextDecoder().decode(task?.data)).toBe('{"to":"a@example.com"}');
    expect(task?.headers).toMatchObject({ "Content-Type": "application/json", "X-Tenant": "acme" });

    const at = json<{ schedule: JsonSchedule }>(
      await chimeCli([
        "schedule",
        "at",
        "2099-01-01T00:00:00Z",
        "tasks.cli.later",
        "--data",
        "hi",
        "--json",
      ]),
    );
    expect(at.schedule.time?.at).toBe("2099-01-01T00:00:00Z");
    const local = json<{ schedule: JsonSchedule }>(
      await chimeCli([
        "schedule",
        "at",
        "2099-03-29T02:30:00",
        "tasks.cli.local",
        "--tz",
        "Europe/Berlin",
        "--json",
      ]),
    );
    expect(local.schedule.time).toMatchObject({
      localTime: "2099-03-29T02:30:00",
      timeZone: "Europe/Berlin",
    });

    const file = join(tmpdir(), `chime-cli-${process.pid}.bin`);
    await writeFile(file, new Uint8Array([1, 2, 3]));
    const bytes = await chimeCli([
      "schedule",
      "at",
      "+100ms",
      "tasks.cli.file",
      "--data-file",
      file,
    ]);
    const [fromFile] = await recorder.waitFor(ofSchedule(ID.exec(bytes.stdout)?.[0] ?? ""));
    expect([...(fromFile?.data ?? [])]).toEqual([1, 2, 3]);
  });

  it("exits 2 with the field for bad values, before or at Chime", async () => {
    const cases: [string[], RegExp][] = [
      [["schedule", "every", "often", "tasks.cli.x"], /^chime: <every>: must be a duration/],
      [["schedule", "at", "2026-03-01T02:00:00", "tasks.cli.x"], /^chime: <when>: .*no offset/],
      [["schedule", "at", "+soon", "tasks.cli.x"], /^chime: <when>: must be a duration/],
      [["schedule", "cron", "@daily", "tasks.cli.x", "--jitter", "lots"], /^chime: --jitter: /],
      [
        ["schedule", "cron", "@daily", "tasks.cli.x", "--max-fires", "-3"],
        /^chime: --max-fires: must be a whole number/,
      ],
      [
        ["schedule", "cron", "@daily", "tasks.cli.x", "--header", "novalue"],
        /^chime: --header: must be key=value/,
      ],
      [
        ["schedule", "cron", "@daily", "tasks.cli.x", "--json-data", "{nope"],
        /^chime: --json-data: is not JSON/,
      ],
      [
        ["schedule", "cron", "@daily", "tasks.cli.x", "--data", "a", "--json-data", "1"],
        /give only one of --data/,
      ],
      [["schedule", "every", "1h", "elsewhere.x"], /^chime: invalid argument: subject: /],
      [["schedule", "cron", "0 0 30 2 *", "tasks.cli.x"], /^chime: invalid argument: cron: /],
      [
        ["schedule", "cron", "@daily", "tasks.cli.x", "--tz", "Mars/Base"],
        /^chime: invalid argument: time_zone: /,
      ],
      [
        ["schedule", "cron", "@daily", "tasks.cli.x", "--misfire", "later"],
        /error: option '--misfire <policy>' argument 'later' is invalid/,
      ],
      [["schedule", "cron", "@daily"], /error: missing required argument 'subject'/],
      [["ls", "--state", "sleeping"], /^chime: --state: must be one of active, paused, completed/],
      [["ls", "--timeout", "0"], /^chime: --timeout: must be longer than 0/],
      [
        ["get", "x", "--protocol", "soap"],
        /error: option '--protocol <protocol>' argument 'soap' is invalid/,
      ],
    ];
    for (const [args, message] of cases) {
      const run = await chimeCli(args);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr, args.join(" ")).toMatch(message);
    }
  });
});

describe("chime ls, get, pause, resume, trigger, rm", () => {
  let id = "";
  beforeAll(async () => {
    const run = await chimeCli([
      "schedule",
      "every",
      "1h",
      "tasks.cli.ops",
      "--name",
      "cli-ops",
      "--label",
      "suite=ops",
    ]);
    id = ID.exec(run.stdout)?.[0] ?? "";
    await chimeCli([
      "schedule",
      "every",
      "2h",
      "tasks.cli.ops2",
      "--name",
      "cli-ops-2",
      "--label",
      "suite=ops",
    ]);
  });

  it("ls prints a table, filters, limits, and --json gives the schedules", async () => {
    const run = await chimeCli(["ls", "--label", "suite=ops"]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+NAME\s+TRIGGER\s+SUBJECT\s+STATE\s+NEXT FIRE\s+FIRES$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(
      new RegExp(
        `^${id}\\s+cli-ops\\s+every 1h\\s+tasks\\.cli\\.ops\\s+active\\s+\\S+Z \\(in \\w+\\)\\s+0$`,
      ),
    );
    const listed = json<JsonSchedule[]>(
      await chimeCli(["ls", "--label", "suite=ops", "--json", "--limit", "1"]),
    );
    expect(listed.map((s) => s.name)).toEqual(["cli-ops"]);
    expect((await chimeCli(["ls", "--name-contains", "no-such-thing"])).stdout).toBe(
      "no schedules\n",
    );
    const active = json<JsonSchedule[]>(
      await chimeCli(["ls", "--subject-prefix", "tasks.cli.ops", "--state", "active", "--json"]),
    );
    expect(active).toHaveLength(2);
  });

  it("get shows one schedule by id or name with its upcoming fires", async () => {
    const run = await chimeCli(["get", "cli-ops"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^id\\s+${id}$`, "m"));
    expect(run.stdout).toMatch(/^upcoming\s+(\S+Z, ){4}\S+Z$/m);
    const got = json<JsonSchedule>(await chimeCli(["get", id, "--json"]));
    expect(got.name).toBe("cli-ops");
    expect(got.nextFireTimes).toHaveLength(5);
  });

  it("pause and resume say what they did", async () => {
    const paused = await chimeCli(["pause", "cli-ops"]);
    expect(paused).toEqual({ code: 0, stdout: `paused ${id} (cli-ops)\n`, stderr: "" });
    expect(json<JsonSchedule>(await chimeCli(["get", id, "--json"])).state).toBe(
      "SCHEDULE_STATE_PAUSED",
    );
    const resumed = await chimeCli(["resume", id]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(
      new RegExp(`^resumed ${id} \\(cli-ops\\); next fire \\S+Z \\(in \\w+\\)\\n$`),
    );
    expect(json<JsonSchedule>(await chimeCli(["resume", id, "--json"])).state).toBe(
      "SCHEDULE_STATE_ACTIVE",
    );
  });

  it("trigger publishes a manual fire", async () => {
    const run = await chimeCli(["trigger", "cli-ops"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(`^fired ${id} at \\S+Z \\(message id ${id}:\\d+, stream sequence \\d+\\)\\n$`),
    );
    const [task] = await recorder.waitFor(ofSchedule(id));
    expect(task?.headers["Chime-Trigger"]).toBe("manual");
    const fired = json<{
      scheduleId: string;
      messageId: string;
      streamSequence: number;
      firedAt: string;
    }>(await chimeCli(["trigger", id, "--json"]));
    expect(fired.scheduleId).toBe(id);
    expect(fired.streamSequence).toBeGreaterThan(0);
  });

  it("rm removes; a second rm exits 4 unless --force", async () => {
    expect(await chimeCli(["rm", "cli-ops"])).toEqual({
      code: 0,
      stdout: "removed cli-ops\n",
      stderr: "",
    });
    const again = await chimeCli(["rm", "cli-ops"]);
    expect(again.code).toBe(4);
    expect(again.stderr).toBe("chime: schedule cli-ops not found (--force to ignore)\n");
    expect(await chimeCli(["rm", "cli-ops", "--force", "--json"])).toEqual({
      code: 0,
      stdout: '{"existed":false}\n',
      stderr: "",
    });
  });

  it.each(["get", "pause", "resume", "trigger"])(
    "%s of an unknown schedule exits 4",
    async (command) => {
      const run = await chimeCli([command, "no-such-schedule"]);
      expect(run).toEqual({
        code: 4,
        stdout: "",
        stderr: 'chime: schedule named "no-such-schedule" not found\n',
      });
    },
  );

  it("pausing a completed schedule exits 5", async () => {
    const once = await chimeCli(["schedule", "at", "+0s", "tasks.cli.done"]);
    const doneId = ID.exec(once.stdout)?.[0] ?? "";
    await recorder.waitFor(ofSchedule(doneId));
    const run = await chimeCli(["pause", doneId]);
    expect(run.code).toBe(5);
    expect(run.stderr).toMatch(/completed and cannot be paused/);
  });
});

describe("reaching Chime", () => {
  it.each(["connect", "grpc"])(
    "over %s, an unreachable server exits 3 and says where it looked",
    async (protocol) => {
      const url = `http://127.0.0.1:${await freePort()}`;
      const run = await chimeCli(["ls", "--protocol", protocol], { CHIME_SERVER: url });
      expect(run.code).toBe(3);
      expect(run.stdout).toBe("");
      expect(run.stderr).toBe(
        `chime: cannot reach Chime at ${url} (ECONNREFUSED); is it running? Set --server or CHIME_SERVER\n`,
      );
    },
  );

  it("--server overrides CHIME_SERVER, and gRPC works as Connect does", async () => {
    const run = await chimeCli(["ls", "--server", chime.baseUrl, "--protocol", "grpc", "--json"], {
      CHIME_SERVER: "http://127.0.0.1:1",
    });
    expect(run.code).toBe(0);
    expect(Array.isArray(JSON.parse(run.stdout))).toBe(true);
  });

  it("help exits 0", async () => {
    const run = await chimeCli(["schedule", "every", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Usage: chime schedule every \[options\] <every> <subject>/);
  });
});
