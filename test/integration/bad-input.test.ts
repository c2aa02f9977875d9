import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  ConflictPolicy,
  type MisfirePolicy,
  type ScheduleByCronRequest,
  type ScheduleByCronRequestSchema,
  type ScheduleByIntervalRequest,
  type ScheduleByIntervalRequestSchema,
  type ScheduleByTimeRequest,
  type ScheduleByTimeRequestSchema,
  ScheduleState,
} from "@chime/sdk";
import { Code, type ConnectError } from "@connectrpc/connect";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../server/src/config.js";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { connectErrorOf } from "../harness/rpc-errors.js";
import { ofSchedule, recordTasks } from "../harness/task-recorder.js";

// The plain-object form of each request (not a message made with create()).
type TimeInit = Exclude<
  MessageInitShape<typeof ScheduleByTimeRequestSchema>,
  ScheduleByTimeRequest
>;
type CronInit = Exclude<
  MessageInitShape<typeof ScheduleByCronRequestSchema>,
  ScheduleByCronRequest
>;
type IntervalInit = Exclude<
  MessageInitShape<typeof ScheduleByIntervalRequestSchema>,
  ScheduleByIntervalRequest
>;

const seconds = (n: number) => ({ seconds: BigInt(n), nanos: 0 });
const HOUR = seconds(3600);
const UNKNOWN_ID = "00000000000000000000000000";

/** One refused request: the code, and the field and rule its message must name. */
interface BadCase {
  readonly what: string;
  readonly call: (chime: TestChime, name: string) => Promise<unknown>;
  readonly code: Code;
  /** The message starts with `<field>: `. */
  readonly field: string;
  readonly rule: RegExp;
}

const byTime = (what: string, request: Omit<TimeInit, "name">, field: string, rule: RegExp) =>
  ({
    what: `ScheduleByTime: ${what}`,
    call: (chime, name) =>
      chime.client.scheduleByTime({
        subject: "tasks.bad",
        when: { case: "delay", value: HOUR },
        ...request,
        name,
      }),
    code: Code.InvalidArgument,
    field,
    rule,
  }) satisfies BadCase;

const byCron = (what: string, request: Omit<CronInit, "name">, field: string, rule: RegExp) =>
  ({
    what: `ScheduleByCron: ${what}`,
    call: (chime, name) =>
      chime.client.scheduleByCron({ subject: "tasks.bad", cron: "0 * * * *", ...request, name }),
    code: Code.InvalidArgument,
    field,
    rule,
  }) satisfies BadCase;

const byInterval = (
  what: string,
  request: Omit<IntervalInit, "name">,
  field: string,
  rule: RegExp,
) =>
  ({
    what: `ScheduleByInterval: ${what}`,
    call: (chime, name) =>
      chime.client.scheduleByInterval({ subject: "tasks.bad", every: HOUR, ...request, name }),
    code: Code.InvalidArgument,
    field,
    rule,
  }) satisfies BadCase;

const SUBJECTS: readonly [string, RegExp][] = [
  ["", /must not be empty/],
  ["tasks.*", /wildcards/],
  ["tasks.>", /wildcards/],
  ["tasks.a*", /wildcards/],
  ["tasks..x", /empty tokens/],
  ["tasks.", /empty tokens/],
  [".tasks.x", /empty tokens/],
  ["tasks. x", /white space/],
  ["tasks.x\ty", /white space/],
  ["tasks.x\u0000", /white space or control/],
  ["other.x", /subject space \(tasks\.>\)/],
  ["tasks", /subject space/],
  ["$JS.API.STREAM.DELETE.X", /must not start with \$/],
  ["$KV.x.y", /must not start with \$/],
  ["$SYS.REQ.SERVER.PING", /must not start with \$/],
  ["$O.bucket.x", /must not start with \$/],
  ["_INBOX.x", /_INBOX/],
  // Outside the subject space here; the reserved rule itself is tested below.
  ["chime.x", /subject space/],
  ["chime.internal.x", /subject space|reserved/],
  [`tasks.${"a".repeat(9_994)}`, /at most 256 bytes/],
];

function badCases(maxPayload: number): BadCase[] {
  const now = Date.now();
  const cases: BadCase[] = [
    // When a one-shot fires.
    byTime(
      "no at, delay or local_time",
      { when: { case: undefined } },
      "at",
      /one of at, delay or local_time is required/,
    ),
    byTime(
      "negative delay",
      { when: { case: "delay", value: seconds(-1) } },
      "delay",
      /must not be negative/,
    ),
    byTime(
      "at more than a day ago",
      { when: { case: "at", value: timestampFromMs(now - 2 * 86_400_000) } },
      "at",
      /in the past/,
    ),
    byTime(
      "at with a time_zone",
      { when: { case: "at", value: timestampFromMs(now + 60_000) }, timeZone: "UTC" },
      "time_zone",
      /only to local_time/,
    ),
    byTime(
      "local_time without time_zone",
      { when: { case: "localTime", value: "2030-01-01T09:00:00" } },
      "time_zone",
      /required with local_time/,
    ),
    byTime(
      "local_time in an unknown time zone",
      { when: { case: "localTime", value: "2030-01-01T09:00:00" }, timeZone: "Mars/Olympus_Mons" },
      "time_zone",
      /IANA time zone/,
    ),
    byTime(
      "unparsable local_time",
      { when: { case: "localTime", value: "next tuesday" }, timeZone: "UTC" },
      "local_time",
      /ISO 8601/,
    ),
    byTime(
      "local_time that does not exist",
      { when: { case: "localTime", value: "2030-02-30T09:00:00" }, timeZone: "UTC" },
      "local_time",
      /does not exist/,
    ),
    // Cron.
    byCron("unparsable cron", { cron: "every tuesday" }, "cron", /5 or 6 fields/),
    byCron("cron field out of range", { cron: "61 * * * *" }, "cron", /minute/),
    byCron("cron that never fires (February 30)", { cron: "0 0 30 2 *" }, "cron", /never fires/),
    byCron("empty cron", { cron: "" }, "cron", /is required/),
    byCron("unknown time zone", { timeZone: "Europe/Atlantis" }, "time_zone", /IANA time zone/),
    byCron(
      "end_at before start_at",
      { startAt: timestampFromMs(now + 7_200_000), endAt: timestampFromMs(now + 3_600_000) },
      "end_at",
      /after start_at/,
    ),
    byCron("end_at in the past", { endAt: timestampFromMs(now - 1000) }, "end_at", /in the future/),
    byCron("jitter above 24h", { jitter: seconds(90_000) }, "jitter", /between 0 and 24h/),
    byCron(
      "unknown misfire_policy",
      { misfirePolicy: 99 as MisfirePolicy },
      "misfire_policy",
      /has no value 99/,
    ),
    // Interval.
    byInterval(
      "every below 1 s",
      { every: { seconds: 0n, nanos: 999_000_000 } },
      "every",
      /at least 1s/,
    ),
    byInterval("every 0", { every: seconds(0) }, "every", /at least 1s/),
    byInterval("negative every", { every: seconds(-5) }, "every", /at least 1s/),
    byInterval("no every", { every: undefined }, "every", /is required/),
    byInterval(
      "end_at before start_at",
      {
        every: seconds(1),
        startAt: timestampFromMs(now + 60_000),
        endAt: timestampFromMs(now + 30_000),
      },
      "end_at",
      /after start_at/,
    ),
    byInterval(
      "jitter not shorter than every",
      { every: seconds(2), jitter: seconds(2) },
      "jitter",
      /shorter than every/,
    ),
    byInterval(
      "negative catchup_window",
      { catchupWindow: seconds(-1) },
      "catchup_window",
      /must not be negative/,
    ),
    // Payload, headers, labels, names.
    byTime(
      `payload of max_payload + 1 (${maxPayload + 1} bytes)`,
      { payload: new Uint8Array(maxPayload + 1) },
      "payload",
      /must be at most \d+ bytes/,
    ),
    byCron(
      `payload of exactly max_payload (${maxPayload} bytes, no room for headers)`,
      { payload: new Uint8Array(maxPayload) },
      "payload",
      /must be at most \d+ bytes/,
    ),
    byTime(
      "a Nats-Msg-Id user header",
      { headers: { "Nats-Msg-Id": "mine" } },
      'headers["Nats-Msg-Id"]',
      /reserved/,
    ),
    byInterval(
      "a chime-foo user header",
      { headers: { "chime-foo": "x" } },
      'headers["chime-foo"]',
      /reserved/,
    ),
    byCron(
      "a NATS-Expected-Stream user header",
      { headers: { "NATS-Expected-Stream": "X" } },
      'headers["NATS-Expected-Stream"]',
      /reserved/,
    ),
    byTime(
      "a header name with a space",
      { headers: { "X Bad": "x" } },
      'headers["X Bad"]',
      /HTTP token/,
    ),
    byTime(
      "a header value with CR LF",
      { headers: { "X-Inject": "a\r\nNats-Msg-Id: b" } },
      'headers["X-Inject"]',
      /control characters/,
    ),
    byTime(
      "33 headers",
      { headers: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`X-H${i}`, "v"])) },
      "headers",
      /at most 32 entries/,
    ),
    byTime(
      "a label key starting with -",
      { labels: { "-bad": "x" } },
      'labels["-bad"]',
      /key must be/,
    ),
    byTime(
      "unknown conflict_policy",
      { conflictPolicy: 99 as ConflictPolicy },
      "conflict_policy",
      /has no value 99/,
    ),
    byTime(
      "content_type with a newline",
      { contentType: "text/plain\nX: y" },
      "content_type",
      /printable/,
    ),
  ];
  for (const [i, [subject, rule]] of SUBJECTS.entries()) {
    const label = `subject ${JSON.stringify(subject.length > 40 ? `${subject.slice(0, 20)}…(${subject.length})` : subject)}`;
    // Every create RPC shares the subject rules: spread the cases over the three.
    const make = [byTime, byCron, byInterval][i % 3] ?? byTime;
    cases.push(make(label, { subject }, "subject", rule));
  }
  return cases;
}

/** Bad names: each create refuses them (the name is checked before anything is stored). */
const BAD_NAMES: readonly [string, string, RegExp][] = [
  ["an empty name", "", /must not be empty/],
  ["a 201-character name", "n".repeat(201), /at most 200 characters/],
  ["a name with surrounding white space", " padded ", /white space/],
  ["a name with a control character", "a\u0007b", /control characters/],
];

describe("bad input is refused with the field and the rule, and changes nothing", () => {
  let nats: TestNats;
  let chime: TestChime;
  let maxPayload: number;
  let completedId: string;

  async function snapshot(): Promise<string[]> {
    const page = await chime.client.listSchedules({ pageSize: 1000 });
    expect(page.nextPageToken).toBe("");
    return page.schedules
      .map(
        (s) =>
          `${s.scheduleId} ${s.name} ${s.subject} ${ScheduleState[s.state]} ${s.fireCount} ${s.updatedAt?.seconds}.${s.updatedAt?.nanos}`,
      )
      .sort();
  }

  async function expectRefused(
    call: Promise<unknown>,
    code: Code,
    field: string,
    rule: RegExp,
  ): Promise<ConnectError> {
    const err = await connectErrorOf(call);
    expect(err.code, err.message).toBe(code);
    expect(err.rawMessage.startsWith(`${field}: `), err.rawMessage).toBe(true);
    expect(err.rawMessage.slice(field.length + 2)).toMatch(rule);
    return err;
  }

  beforeAll(async () => {
    nats = await startTestNats();
    chime = await startTestChime(nats.url);
    const nc = await connect({ servers: nats.url });
    maxPayload = nc.info?.max_payload ?? Number.NaN;
    await nc.close();
    // Something to leave unchanged, a name to collide with, and a completed schedule.
    await chime.client.scheduleByInterval({
      subject: "tasks.seed",
      name: "seed",
      every: HOUR,
      labels: { keep: "me" },
    });
    await chime.client.scheduleByCron({ subject: "tasks.seed.cron", cron: "0 0 1 1 *" });
    const recorder = await recordTasks(nats.url);
    const once = await chime.client.scheduleByTime({
      subject: "tasks.seed.once",
      when: { case: "delay", value: { seconds: 0n, nanos: 50_000_000 } },
    });
    completedId = once.scheduleId;
    await recorder.waitFor(ofSchedule(completedId));
    await recorder.stop();
  });
  afterAll(async () => {
    await chime?.stop();
    await nats?.stop();
  });

  it("the server's max_payload is the default 1 MiB", () => {
    expect(maxPayload).toBe(1024 * 1024);
  });

  describe("create requests", () => {
    // Built when the file is collected, for the default max_payload the first test checks.
    const table = badCases(1024 * 1024);
    it.each(table.map((c, i) => [c.what, i] as const))("%s", async (_what, i) => {
      const bad = table[i] as BadCase;
      expect(maxPayload).toBe(1024 * 1024);
      const before = await snapshot();
      const name = `bad-${i}`;
      await expectRefused(bad.call(chime, name), bad.code, bad.field, bad.rule);
      expect(await snapshot()).toEqual(before);
      // The name was not taken either.
      const lookup = await connectErrorOf(
        chime.client.getSchedule({ target: { case: "name", value: name } }),
      );
      expect(lookup.code).toBe(Code.NotFound);
    });

    it.each(BAD_NAMES)("%s", async (_what, name, rule) => {
      const before = await snapshot();
      await expectRefused(
        chime.client.scheduleByTime({
          subject: "tasks.bad",
          name,
          when: { case: "delay", value: HOUR },
        }),
        Code.InvalidArgument,
        "name",
        rule,
      );
      await expectRefused(
        chime.client.getSchedule({ target: { case: "name", value: name } }),
        Code.InvalidArgument,
        "name",
        rule,
      );
      expect(await snapshot()).toEqual(before);
    });

    it("a name that exists, under CONFLICT_POLICY_FAIL: ALREADY_EXISTS naming name", async () => {
      const before = await snapshot();
      await expectRefused(
        chime.client.scheduleByCron({
          subject: "tasks.other",
          name: "seed",
          cron: "* * * * * *",
          conflictPolicy: ConflictPolicy.FAIL,
        }),
        Code.AlreadyExists,
        "name",
        /"seed" already exists/,
      );
      expect(await snapshot()).toEqual(before);
    });
  });

  describe("other requests", () => {
    const cases: readonly [string, (c: TestChime) => Promise<unknown>, Code, string, RegExp][] = [
      [
        "ListSchedules page_size above the cap",
        (c) => c.client.listSchedules({ pageSize: 1001 }),
        Code.InvalidArgument,
        "page_size",
        /at most 1000/,
      ],
      [
        "ListSchedules malformed page_token",
        (c) => c.client.listSchedules({ pageToken: "not a token!" }),
        Code.InvalidArgument,
        "page_token",
        /malformed/,
      ],
      [
        "ListSchedules page_token that is not ours",
        (c) => c.client.listSchedules({ pageToken: Buffer.from("v1:hello").toString("base64url") }),
        Code.InvalidArgument,
        "page_token",
        /malformed/,
      ],
      [
        "ListSchedules page_token of 10,000 characters",
        (c) => c.client.listSchedules({ pageToken: "A".repeat(10_000) }),
        Code.InvalidArgument,
        "page_token",
        /malformed/,
      ],
      [
        "ListSchedules unknown state",
        (c) => c.client.listSchedules({ states: [99 as ScheduleState] }),
        Code.InvalidArgument,
        "states",
        /has no value 99/,
      ],
      [
        "GetSchedule next_fire_count above 100",
        (c) =>
          c.client.getSchedule({ target: { case: "name", value: "seed" }, nextFireCount: 101 }),
        Code.InvalidArgument,
        "next_fire_count",
        /at most 100/,
      ],
      [
        "GetSchedule without a target",
        (c) => c.client.getSchedule({}),
        Code.InvalidArgument,
        "schedule_id",
        /or name is required/,
      ],
      [
        "GetSchedule of an id that is not an id",
        (c) => c.client.getSchedule({ target: { case: "scheduleId", value: "seed" } }),
        Code.InvalidArgument,
        "schedule_id",
        /is not a schedule id/,
      ],
      [
        "Unschedule without a target",
        (c) => c.client.unschedule({}),
        Code.InvalidArgument,
        "schedule_id",
        /or name is required/,
      ],
      [
        "PauseSchedule without a target",
        (c) => c.client.pauseSchedule({}),
        Code.InvalidArgument,
        "schedule_id",
        /or name is required/,
      ],
      [
        "GetSchedule of an unknown id",
        (c) => c.client.getSchedule({ target: { case: "scheduleId", value: UNKNOWN_ID } }),
        Code.NotFound,
        "schedule",
        /not found/,
      ],
      [
        "GetSchedule of an unknown name",
        (c) => c.client.getSchedule({ target: { case: "name", value: "nobody" } }),
        Code.NotFound,
        "schedule",
        /"nobody" not found/,
      ],
      [
        "PauseSchedule of an unknown id",
        (c) => c.client.pauseSchedule({ target: { case: "scheduleId", value: UNKNOWN_ID } }),
        Code.NotFound,
        "schedule",
        /not found/,
      ],
      [
        "ResumeSchedule of an unknown name",
        (c) => c.client.resumeSchedule({ target: { case: "name", value: "nobody" } }),
        Code.NotFound,
        "schedule",
        /not found/,
      ],
      [
        "TriggerSchedule of an unknown id",
        (c) => c.client.triggerSchedule({ target: { case: "scheduleId", value: UNKNOWN_ID } }),
        Code.NotFound,
        "schedule",
        /not found/,
      ],
    ];

    it.each(cases)("%s", async (_what, call, code, field, rule) => {
      const before = await snapshot();
      const err = await connectErrorOf(call(chime));
      expect(err.code, err.message).toBe(code);
      if (code === Code.NotFound) {
        expect(err.rawMessage).toMatch(new RegExp(`^${field} `));
        expect(err.rawMessage).toMatch(rule);
      } else {
        expect(err.rawMessage.startsWith(`${field}: `), err.rawMessage).toBe(true);
        expect(err.rawMessage).toMatch(rule);
      }
      expect(await snapshot()).toEqual(before);
    });

    it.each(["pause", "resume"] as const)(
      "%s of a completed schedule: FAILED_PRECONDITION",
      async (verb) => {
        const before = await snapshot();
        const target = { target: { case: "scheduleId" as const, value: completedId } };
        const call =
          verb === "pause"
            ? chime.client.pauseSchedule(target)
            : chime.client.resumeSchedule(target);
        const err = await connectErrorOf(call);
        expect(err.code).toBe(Code.FailedPrecondition);
        expect(err.rawMessage).toContain(completedId);
        expect(err.rawMessage).toMatch(/completed/);
        expect(await snapshot()).toEqual(before);
        const got = await chime.client.getSchedule(target);
        expect(got.state).toBe(ScheduleState.COMPLETED);
      },
    );
  });

  it("the largest request every limit allows is accepted, and fires", async () => {
    // 32 headers of 8 KiB in all, a 256-byte subject, a 200-character name, a 255-character
    // content type and the largest payload the validator accepts (max_payload less 16 KiB).
    const headers = Object.fromEntries(
      Array.from({ length: 32 }, (_, i) => [`X-H${String(i).padStart(2, "0")}`, "v".repeat(251)]),
    );
    const payload = new Uint8Array(maxPayload - 16 * 1024).fill(7);
    const recorder = await recordTasks(nats.url);
    try {
      const created = await chime.client.scheduleByTime({
        subject: `tasks.${"s".repeat(250)}`,
        name: "n".repeat(200),
        contentType: "c".repeat(255),
        headers,
        payload,
        when: { case: "delay", value: { seconds: 0n, nanos: 100_000_000 } },
      });
      const [task] = await recorder.waitFor(ofSchedule(created.scheduleId), 1, 5_000);
      expect(task?.data.length).toBe(payload.length);
      expect(task?.headers["X-H31"]).toBe("v".repeat(251));
      // One byte more is refused.
      await expectRefused(
        chime.client.scheduleByTime({
          subject: "tasks.big",
          payload: new Uint8Array(payload.length + 1),
          when: { case: "delay", value: HOUR },
        }),
        Code.InvalidArgument,
        "payload",
        new RegExp(`must be at most ${payload.length} bytes`),
      );
    } finally {
      await recorder.stop();
    }
  });

  it("the service still works after all of it, and the seed schedules are as they were", async () => {
    const seed = await chime.client.getSchedule({ target: { case: "name", value: "seed" } });
    expect(seed.subject).toBe("tasks.seed");
    expect(seed.labels).toEqual({ keep: "me" });
    expect(seed.state).toBe(ScheduleState.ACTIVE);
    const all = await chime.client.listSchedules({});
    // seed, the cron, the completed one-shot and the largest request.
    expect(all.schedules).toHaveLength(4);
    const ok = await chime.client.scheduleByTime({
      subject: "tasks.fine",
      payload: new Uint8Array(64 * 1024),
      when: { case: "delay", value: HOUR },
    });
    expect(ok.created).toBe(true);
    await chime.client.unschedule({ target: { case: "scheduleId", value: ok.scheduleId } });
  });
});

describe("a subject space that would cover Chime's internal subjects", () => {
  it.each(["tasks.>,chime.>", ">", "chime.internal.>", "*.internal.>"])(
    "--subjects %s is refused at start-up, naming the setting",
    (subjects) => {
      expect(() => resolveConfig({ subjects }, false)).toThrow(
        /^--subjects: .* overlaps chime\.internal\.>/,
      );
    },
  );
});
