import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  createSchedulerClient,
  defineSchedules,
  InvalidArgumentError,
  type Schedule,
  type ScheduleDefinition,
  type SchedulerClient,
} from "@chime/sdk";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { sleep } from "../harness/deliveries.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { connectErrorOf } from "../harness/rpc-errors.js";
import { ofSchedule, recordTasks, type TaskRecorder } from "../harness/task-recorder.js";

let nats: TestNats;
let chime: TestChime;
let client: SchedulerClient;
let recorder: TaskRecorder;

beforeAll(async () => {
  nats = await startTestNats();
  chime = await startTestChime(nats.url);
  client = createSchedulerClient({ baseUrl: chime.baseUrl });
  recorder = await recordTasks(nats.url);
});
afterAll(async () => {
  await recorder?.stop();
  await client?.close();
  await chime?.stop();
  await nats?.stop();
});

const PRUNE = { key: "app", value: "billing" };

function definitions(
  overrides: Partial<Record<string, Partial<ScheduleDefinition>>> = {},
): ScheduleDefinition[] {
  const base: ScheduleDefinition[] = [
    {
      name: "billing-nightly",
      cron: "0 2 * * *",
      timeZone: "America/New_York",
      subject: "tasks.billing.nightly",
      payload: { full: true },
      misfirePolicy: "fire_once",
    },
    // every 1 s, so that the test can see its progress go on across runs
    { name: "billing-heartbeat", every: "1s", subject: "tasks.billing.heartbeat", jitter: 0 },
    {
      name: "billing-launch",
      at: "2099-01-01T00:00:00Z",
      subject: "tasks.billing.launch",
      payload: "go",
      headers: { "X-Env": "prod" },
    },
    {
      name: "billing-local",
      localTime: "2099-03-29T02:30:00",
      timeZone: "Europe/Berlin",
      subject: "tasks.billing.local",
    },
    {
      name: "billing-weekly",
      cron: " @weekly ",
      subject: "tasks.billing.weekly",
      endAt: "2099-01-01T00:00:00Z",
      maxFires: 7,
    },
  ];
  return base.map((d) => ({ ...d, ...overrides[d.name] }) as ScheduleDefinition);
}

async function snapshot(): Promise<Map<string, Schedule>> {
  const all = new Map<string, Schedule>();
  for await (const s of client.listSchedules({ nameContains: "billing-" })) all.set(s.name, s);
  return all;
}

/** The definitions as the second test leaves them: the nightly cron moved to 02:30. */
function current(
  change: Partial<Record<string, Partial<ScheduleDefinition>>> = {},
): ScheduleDefinition[] {
  const nightly = {
    cron: "30 2 * * *",
    ...change["billing-nightly"],
  } as Partial<ScheduleDefinition>;
  return definitions({ ...change, "billing-nightly": nightly });
}

const updatedAt = (s: Schedule | undefined) =>
  s?.updatedAt === undefined ? undefined : timestampMs(s.updatedAt);

describe("defineSchedules", () => {
  it("creates what is missing, then leaves everything alone when run again", async () => {
    const first = await defineSchedules(client, definitions(), { pruneLabel: PRUNE });
    expect(first).toEqual({
      created: [
        "billing-nightly",
        "billing-heartbeat",
        "billing-launch",
        "billing-local",
        "billing-weekly",
      ],
      replaced: [],
      unchanged: [],
      pruned: [],
    });
    const before = await snapshot();
    expect(before.get("billing-nightly")?.labels).toEqual({ app: "billing" });

    // Let the heartbeat fire a few times: an unchanged definition keeps its progress.
    const heartbeat = before.get("billing-heartbeat")?.scheduleId ?? "";
    await recorder.waitFor(ofSchedule(heartbeat), 2, 5_000);
    const second = await defineSchedules(client, definitions(), { pruneLabel: PRUNE });
    expect(second).toEqual({
      created: [],
      replaced: [],
      unchanged: [
        "billing-nightly",
        "billing-heartbeat",
        "billing-launch",
        "billing-local",
        "billing-weekly",
      ],
      pruned: [],
    });
    const after = await snapshot();
    for (const [name, s] of before) {
      expect(after.get(name)?.scheduleId, name).toBe(s.scheduleId);
      expect(updatedAt(after.get(name)), name).toBe(updatedAt(s));
      expect(after.get(name)?.definedAt, name).toEqual(s.definedAt);
    }
    // Its interval anchor did not move, and the fires went on being counted.
    expect(after.get("billing-heartbeat")?.trigger).toEqual(
      before.get("billing-heartbeat")?.trigger,
    );
    expect(Number(after.get("billing-heartbeat")?.fireCount)).toBeGreaterThanOrEqual(2);
    await client.pause("billing-heartbeat");
  });

  it("replaces only the definition whose spec changed, under the same id", async () => {
    const before = await snapshot();
    await sleep(5);
    const result = await defineSchedules(
      client,
      definitions({ "billing-nightly": { cron: "30 2 * * *" } }),
      {
        pruneLabel: PRUNE,
      },
    );
    expect(result.replaced).toEqual(["billing-nightly"]);
    expect(result.created).toEqual([]);
    expect(result.unchanged).toHaveLength(4);
    const after = await snapshot();
    const nightly = after.get("billing-nightly");
    expect(nightly?.scheduleId).toBe(before.get("billing-nightly")?.scheduleId);
    expect(nightly?.trigger).toMatchObject({ case: "cron", value: { cron: "30 2 * * *" } });
    expect(updatedAt(nightly)).toBeGreaterThan(updatedAt(before.get("billing-nightly")) ?? 0);
    for (const name of ["billing-heartbeat", "billing-launch", "billing-local", "billing-weekly"]) {
      expect(updatedAt(after.get(name)), name).toBe(updatedAt(before.get(name)));
    }
  });

  it.each([
    ["payload", { "billing-launch": { payload: "went" } }],
    ["headers", { "billing-launch": { headers: { "X-Env": "staging" } } }],
    ["subject", { "billing-weekly": { subject: "tasks.billing.weekly2" } }],
    ["time zone", { "billing-nightly": { timeZone: "Europe/Paris" } }],
    ["every", { "billing-heartbeat": { every: "2s" } }],
    ["jitter", { "billing-heartbeat": { jitter: "100ms" } }],
    ["at", { "billing-launch": { at: "2099-01-02T00:00:00Z" } }],
    ["local time", { "billing-local": { localTime: "2099-03-29T03:30:00" } }],
    ["max fires", { "billing-weekly": { maxFires: 8 } }],
    ["misfire policy", { "billing-nightly": { misfirePolicy: "skip" } }],
    ["labels", { "billing-weekly": { labels: { tier: "gold" } } }],
  ] as const)("sees a change of %s", async (_what, change) => {
    const [name] = Object.keys(change);
    const result = await defineSchedules(client, current(change as never), { pruneLabel: PRUNE });
    expect(result.replaced).toEqual([name]);
    // Back again: replaced once more, and only that one.
    expect((await defineSchedules(client, current(), { pruneLabel: PRUNE })).replaced).toEqual([
      name,
    ]);
  });

  it("prunes named schedules with the label that are no longer defined, and nothing else", async () => {
    const unlabelled = await client.scheduleEvery({
      name: "billing-manual",
      subject: "tasks.billing.manual",
      every: "1h",
    });
    const otherApp = await client.scheduleEvery({
      name: "reports-hourly",
      subject: "tasks.reports.hourly",
      every: "1h",
      labels: { app: "reports" },
    });
    const kept = current().filter((d) => d.name !== "billing-weekly");
    const result = await defineSchedules(client, kept, { pruneLabel: PRUNE });
    expect(result.pruned).toEqual(["billing-weekly"]);
    expect(result.unchanged).toHaveLength(4);
    expect((await connectErrorOf(client.getSchedule("billing-weekly"))).code).toBe(Code.NotFound);
    expect((await client.getSchedule(unlabelled.id)).name).toBe("billing-manual");
    expect((await client.getSchedule(otherApp.id)).name).toBe("reports-hourly");
    // Without pruneLabel, nothing is pruned.
    expect((await defineSchedules(client, [])).pruned).toEqual([]);
  });

  it("refuses bad definitions before any request", async () => {
    const before = await snapshot();
    const bad: [unknown[], RegExp][] = [
      [[{ subject: "tasks.billing.x", every: "1h" }], /definitions\[0\]\.name: is required/],
      [
        [{ name: "billing-a", subject: "tasks.billing.x" }],
        /needs one of cron, every, at or localTime/,
      ],
      [
        [{ name: "billing-a", subject: "tasks.billing.x", cron: "@daily", every: "1h" }],
        /not cron and every/,
      ],
      [
        [{ name: "billing-a", subject: "tasks.billing.x", delay: "1h" }],
        /delay: cannot be defined/,
      ],
      [
        [
          { name: "billing-new", subject: "tasks.billing.x", every: "1h" },
          { name: "billing-new", subject: "tasks.billing.x", every: "2h" },
        ],
        /defined twice/,
      ],
      [
        [
          { name: "billing-new", subject: "tasks.billing.x", every: "1h" },
          { name: "billing-b", subject: "tasks.billing.x", every: "often" },
        ],
        /^every: /,
      ],
    ];
    for (const [defs, message] of bad) {
      const err = await defineSchedules(client, defs as ScheduleDefinition[]).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toMatch(message);
    }
    expect([...(await snapshot()).keys()].sort()).toEqual([...before.keys()].sort());
  });

  it("passes Chime's errors on as ConnectErrors", async () => {
    const err = await connectErrorOf(
      defineSchedules(client, [
        { name: "billing-bad", cron: "0 0 30 2 *", subject: "tasks.billing.bad" },
      ]),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/^cron: /);
  });
});
