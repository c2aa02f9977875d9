// The `chime` client commands (schedule, ls, get, rm, pause, resume, trigger) beside
// `chime serve`: a thin shell over @chime/sdk's client, with tables for people and --json
// for scripts.
import { readFile } from "node:fs/promises";
import { toJson } from "@bufbuild/protobuf";
import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  createSchedulerClient,
  formatDuration,
  InvalidArgumentError,
  type OnConflict,
  type OnMisfire,
  type Protocol,
  parseDuration,
  parseInstant,
  type Schedule,
  type ScheduleAtOptions,
  type ScheduleCommonOptions,
  type ScheduleHandle,
  type SchedulerClient,
  ScheduleSchema,
  ScheduleState,
  type ScheduleStatus,
  type TriggerResult,
} from "@chime/sdk";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Command, type CommanderError, Option } from "commander";

/** What the exit status of a client command means. */
export const ExitCode = {
  ok: 0,
  /** Anything not listed below. */
  failed: 1,
  /** A bad command line or a value Chime refused (INVALID_ARGUMENT). */
  invalidArgument: 2,
  /** Chime could not be reached, did not answer in time, or is unavailable (NATS down). */
  unreachable: 3,
  notFound: 4,
  /** The name is taken (--on-conflict fail), or the schedule's state forbids the change. */
  conflict: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

const DEFAULT_SERVER = "http://127.0.0.1:7070";
// Node's codes for "nothing answers there": the server is down, or the URL is wrong.
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNRESET",
  "EPIPE",
]);

interface ClientFlags {
  readonly server: string;
  readonly token?: string;
  readonly protocol: string;
  readonly timeout: string;
  readonly json?: boolean;
}

interface CreateFlags extends ClientFlags {
  readonly name?: string;
  readonly data?: string;
  readonly dataFile?: string;
  readonly jsonData?: string;
  readonly contentType?: string;
  readonly header: string[];
  readonly label: string[];
  readonly onConflict?: string;
}

interface RecurringFlags extends CreateFlags {
  readonly tz?: string;
  readonly startAt?: string;
  readonly endAt?: string;
  readonly maxFires?: string;
  readonly jitter?: string;
  readonly misfire?: string;
  readonly catchupWindow?: string;
  readonly runNow?: boolean;
}

interface ListFlags extends ClientFlags {
  readonly subjectPrefix?: string;
  readonly label: string[];
  readonly state: string[];
  readonly nameContains?: string;
  readonly limit?: string;
}

/** Registers the client commands on the `chime` program. */
export function registerClientCommands(program: Command): void {
  const schedule = withUsageExit(
    program.command("schedule").description("create a schedule: at, cron or every"),
  );

  createOptions(
    schedule
      .command("at")
      .description("a one-shot")
      .argument(
        "<when>",
        "an RFC 3339 instant (2026-03-01T02:00:00Z), epoch ms, +<duration> from now (+90s), or with --tz a local date-time",
      )
      .argument("<subject>", "the NATS subject the task is published to")
      .option("--tz <zone>", "read <when> as a wall-clock time in this IANA time zone"),
  ).action((when: string, subject: string, flags: RecurringFlags) =>
    execute(flags, async (client) => {
      const options = { ...(await common(subject, flags)), ...oneShotWhen(when, flags.tz) };
      show(flags, await client.scheduleAt(options as ScheduleAtOptions));
    }),
  );

  recurringOptions(
    createOptions(
      schedule
        .command("cron")
        .description("a cron timetable in a time zone")
        .argument("<cron>", 'five fields, six (leading seconds) or a macro, e.g. "0 2 * * *"')
        .argument("<subject>", "the NATS subject each task is published to")
        .option("--tz <zone>", "the IANA time zone the fields are read in (default UTC)"),
    ),
  ).action((cron: string, subject: string, flags: RecurringFlags) =>
    execute(flags, async (client) => {
      const options = { ...(await common(subject, flags)), ...recurring(flags), cron };
      show(
        flags,
        await client.scheduleCron(
          flags.tz === undefined ? options : { ...options, timeZone: flags.tz },
        ),
      );
    }),
  );

  recurringOptions(
    createOptions(
      schedule
        .command("every")
        .description("a fixed interval, anchored so it never drifts")
        .argument("<every>", "at least 1s, e.g. 90s, 5m, 1h30m")
        .argument("<subject>", "the NATS subject each task is published to"),
    ),
  ).action((every: string, subject: string, flags: RecurringFlags) =>
    execute(flags, async (client) => {
      const options = { ...(await common(subject, flags)), ...recurring(flags) };
      show(
        flags,
        await client.scheduleEvery({
          ...options,
          every: flag("<every>", () => parseDuration(every)),
        }),
      );
    }),
  );

  clientOptions(
    withUsageExit(program.command("ls"))
      .description("list schedules")
      .option("--subject-prefix <prefix>", "only subjects starting with this")
      .option("--label <key=value>", "only schedules with this label (repeatable)", collect, [])
      .option("--state <state>", "only active, paused or completed ones (repeatable)", collect, [])
      .option("--name-contains <text>", "only names containing this, ignoring case")
      .option("--limit <n>", "at most this many"),
  ).action((flags: ListFlags) =>
    execute(flags, async (client) => {
      const limit =
        flags.limit === undefined
          ? Number.POSITIVE_INFINITY
          : positiveInteger("--limit", flags.limit);
      const schedules: Schedule[] = [];
      for await (const s of client.listSchedules({
        subjectPrefix: flags.subjectPrefix,
        nameContains: flags.nameContains,
        labels: flags.label.length === 0 ? undefined : pairs("--label", flags.label),
        states: flags.state.length === 0 ? undefined : flags.state.map(stateFlag),
      })) {
        if (schedules.length >= limit) break;
        schedules.push(s);
      }
      if (flags.json) {
        print(JSON.stringify(schedules.map(scheduleJson), null, 2));
        return;
      }
      if (schedules.length === 0) {
        print("no schedules");
        return;
      }
      print(
        table(
          ["ID", "NAME", "TRIGGER", "SUBJECT", "STATE", "NEXT FIRE", "FIRES"],
          schedules.map((s) => [
            s.scheduleId,
            s.name || "-",
            triggerText(s),
            s.subject,
            stateText(s.state),
            instantText(s.nextFireAt),
            String(s.fireCount),
          ]),
        ),
      );
    }),
  );

  targetCommand(
    program,
    "get",
    "show a schedule and its next fire times",
    async (client, target, flags) => {
      const s = await client.getSchedule(target);
      if (flags.json) {
        print(JSON.stringify(scheduleJson(s), null, 2));
        return;
      }
      print(details(s, true));
    },
  );

  targetCommand(
    program,
    "rm",
    "unschedule: no new fire starts once this returns",
    async (client, target, flags) => {
      const existed = await client.unschedule(target);
      if (!existed && !flags.force) {
        throw new ConnectError(`schedule ${target} not found (--force to ignore)`, Code.NotFound);
      }
      if (flags.json) {
        print(JSON.stringify({ existed }));
        return;
      }
      print(existed ? `removed ${target}` : `no schedule ${target}; nothing to remove`);
    },
  ).option("-f, --force", "succeed when there is no such schedule");

  targetCommand(
    program,
    "pause",
    "stop firing, keeping the schedule",
    async (client, target, flags) => {
      const s = await client.pause(target);
      if (flags.json) {
        print(JSON.stringify(scheduleJson(s), null, 2));
        return;
      }
      print(`paused ${s.scheduleId}${s.name ? ` (${s.name})` : ""}`);
    },
  );

  targetCommand(
    program,
    "resume",
    "fire again from the next occurrence after now",
    async (client, target, flags) => {
      const s = await client.resume(target);
      if (flags.json) {
        print(JSON.stringify(scheduleJson(s), null, 2));
        return;
      }
      print(
        `resumed ${s.scheduleId}${s.name ? ` (${s.name})` : ""}; next fire ${instantText(s.nextFireAt)}`,
      );
    },
  );

  targetCommand(
    program,
    "trigger",
    "publish one fire now; the timetable is left alone",
    async (client, target, flags) => {
      const fired = await client.trigger(target);
      if (flags.json) {
        print(JSON.stringify(triggerJson(fired)));
        return;
      }
      print(
        `fired ${fired.scheduleId} at ${fired.firedAt.toISOString()} (message id ${fired.messageId}, stream sequence ${fired.streamSequence})`,
      );
    },
  );
}

// ---------------------------------------------------------------------------------------
// Command building

/** Usage errors exit with 2, as a refused argument does; help still exits with 0. */
function withUsageExit(command: Command): Command {
  return command.exitOverride((err: CommanderError) => {
    process.exit(err.exitCode === 0 ? ExitCode.ok : ExitCode.invalidArgument);
  });
}

function clientOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--server <url>", "where Chime listens")
        .env("CHIME_SERVER")
        .default(DEFAULT_SERVER),
    )
    .addOption(new Option("--token <token>", "sent as a Bearer token").env("CHIME_TOKEN"))
    .addOption(
      new Option("--protocol <protocol>", "connect (HTTP/1.1) or grpc (HTTP/2)")
        .choices(["connect", "grpc"])
        .default("connect"),
    )
    .option("--timeout <duration>", "how long to wait for Chime", "10s")
    .option("--json", "print JSON (the chime.v1 messages' JSON form) instead of text");
}

function createOptions(command: Command): Command {
  return clientOptions(command)
    .option("--name <name>", "a unique name; a taken name follows --on-conflict")
    .option("--data <text>", "the task's data, as given")
    .option(
      "--json-data <json>",
      "the task's data as JSON (checked), with Content-Type application/json",
    )
    .option("--data-file <path>", "the task's data, read from a file")
    .option("--content-type <type>", "sent as the task's Content-Type header")
    .option("--header <name=value>", "a header of the task (repeatable)", collect, [])
    .option("--label <key=value>", "a label to select the schedule by (repeatable)", collect, [])
    .addOption(
      new Option(
        "--on-conflict <policy>",
        "when the name is taken: keep it, replace it, or fail",
      ).choices(["keep", "replace", "fail"]),
    );
}

function recurringOptions(command: Command): Command {
  return command
    .option("--start-at <instant>", "not before this instant (RFC 3339 with offset)")
    .option("--end-at <instant>", "not after this instant")
    .option("--max-fires <n>", "stop after this many fires")
    .option("--jitter <duration>", "delay each fire by a stable offset below this")
    .addOption(
      new Option("--misfire <policy>", "what missed occurrences do").choices([
        "fire_once",
        "skip",
        "fire_all",
      ]),
    )
    .option("--catchup-window <duration>", "how old a missed occurrence may be and still fire")
    .option("--run-now", "fire once on creation too");
}

type TargetFlags = ClientFlags & { readonly force?: boolean };

function targetCommand(
  program: Command,
  name: string,
  description: string,
  run: (client: SchedulerClient, target: string, flags: TargetFlags) => Promise<void>,
): Command {
  const command = clientOptions(withUsageExit(program.command(name)))
    .description(description)
    .argument("<id-or-name>", "a schedule id (26 characters) or name");
  command.action((target: string, flags: TargetFlags) =>
    execute(flags, (client) => run(client, target, flags)),
  );
  return command;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

// ---------------------------------------------------------------------------------------
// Running

/** Runs one command against Chime; failures become a line on stderr and an exit code. */
async function execute(
  flags: ClientFlags,
  work: (client: SchedulerClient) => Promise<void>,
): Promise<void> {
  let client: SchedulerClient | undefined;
  try {
    client = createSchedulerClient({
      baseUrl: flags.server,
      token: flags.token,
      protocol: flags.protocol as Protocol,
      timeoutMs: timeoutOf(flags.timeout),
    });
    await work(client);
  } catch (err) {
    const failure = describeFailure(err, flags.server);
    process.stderr.write(`chime: ${failure.message}\n`);
    process.exitCode = failure.code;
  } finally {
    await client?.close();
  }
}

/** The exit code and the one line that say what went wrong. */
export function describeFailure(err: unknown, server: string): { code: ExitCode; message: string } {
  if (err instanceof InvalidArgumentError)
    return { code: ExitCode.invalidArgument, message: err.message };
  if (!(err instanceof ConnectError)) {
    return { code: ExitCode.failed, message: err instanceof Error ? err.message : String(err) };
  }
  const nodeCode = nodeErrorCode(err);
  if (nodeCode !== undefined && UNREACHABLE_CODES.has(nodeCode)) {
    return {
      code: ExitCode.unreachable,
      message: `cannot reach Chime at ${server} (${nodeCode}); is it running? Set --server or CHIME_SERVER`,
    };
  }
  switch (err.code) {
    case Code.InvalidArgument:
      return { code: ExitCode.invalidArgument, message: `invalid argument: ${err.rawMessage}` };
    case Code.NotFound:
      return { code: ExitCode.notFound, message: err.rawMessage };
    case Code.AlreadyExists:
    case Code.FailedPrecondition:
      return { code: ExitCode.conflict, message: err.rawMessage };
    case Code.DeadlineExceeded:
      return {
        code: ExitCode.unreachable,
        message: `Chime at ${server} did not answer in time (--timeout)`,
      };
    case Code.Unavailable:
      return {
        code: ExitCode.unreachable,
        message: `Chime at ${server} is unavailable: ${err.rawMessage}`,
      };
    case Code.Unauthenticated:
    case Code.PermissionDenied:
      return {
        code: ExitCode.failed,
        message: `not allowed (--token or CHIME_TOKEN): ${err.rawMessage}`,
      };
    default:
      return { code: ExitCode.failed, message: `${Code[err.code]}: ${err.rawMessage}` };
  }
}

function nodeErrorCode(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  for (let e: unknown = err; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

function timeoutOf(text: string): number {
  const ms = flag("--timeout", () => parseDuration(text));
  if (ms <= 0) throw new InvalidArgumentError("--timeout", "must be longer than 0");
  return ms;
}

/** Runs a parser and names the flag in its error. */
function flag<T>(name: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof InvalidArgumentError)
      throw new InvalidArgumentError(name, err.rule, { cause: err });
    throw err;
  }
}

async function common(subject: string, flags: CreateFlags): Promise<ScheduleCommonOptions> {
  const sources = [flags.data, flags.jsonData, flags.dataFile].filter((v) => v !== undefined);
  if (sources.length > 1) {
    throw new InvalidArgumentError(
      "--data",
      "give only one of --data, --json-data and --data-file",
    );
  }
  let payload: ScheduleCommonOptions["payload"];
  if (flags.data !== undefined) payload = flags.data;
  if (flags.dataFile !== undefined) payload = new Uint8Array(await readFile(flags.dataFile));
  if (flags.jsonData !== undefined) {
    try {
      payload = JSON.parse(flags.jsonData) as object;
    } catch (err) {
      throw new InvalidArgumentError("--json-data", `is not JSON: ${(err as Error).message}`);
    }
  }
  return {
    subject,
    payload,
    contentType: flags.contentType,
    name: flags.name,
    headers: pairs("--header", flags.header),
    labels: pairs("--label", flags.label),
    conflictPolicy: flags.onConflict as OnConflict | undefined,
  };
}

function recurring(flags: RecurringFlags) {
  return {
    startAt:
      flags.startAt === undefined
        ? undefined
        : flag("--start-at", () => parseInstant(flags.startAt ?? "")),
    endAt:
      flags.endAt === undefined
        ? undefined
        : flag("--end-at", () => parseInstant(flags.endAt ?? "")),
    maxFires:
      flags.maxFires === undefined ? undefined : positiveInteger("--max-fires", flags.maxFires),
    jitter:
      flags.jitter === undefined
        ? undefined
        : flag("--jitter", () => parseDuration(flags.jitter ?? "")),
    misfirePolicy: flags.misfire as OnMisfire | undefined,
    catchupWindow:
      flags.catchupWindow === undefined
        ? undefined
        : flag("--catchup-window", () => parseDuration(flags.catchupWindow ?? "")),
    runImmediately: flags.runNow === true ? true : undefined,
  };
}

/** `<when>` of `schedule at`: +duration, epoch ms, an RFC 3339 instant, or with --tz a local time. */
function oneShotWhen(when: string, tz: string | undefined) {
  if (tz !== undefined) return { localTime: when, timeZone: tz };
  const delay = /^(?:\+|in\s+)(.+)$/.exec(when);
  if (delay !== null) return { delay: flag("<when>", () => parseDuration(delay[1] ?? "")) };
  if (/^\d+$/.test(when)) return { at: Number(when) };
  return { at: flag("<when>", () => parseInstant(when)) };
}

const STATUSES: readonly string[] = ["active", "paused", "completed"] satisfies ScheduleStatus[];

function stateFlag(value: string): ScheduleStatus {
  if (!STATUSES.includes(value)) {
    throw new InvalidArgumentError(
      "--state",
      `must be one of ${STATUSES.join(", ")}, not ${JSON.stringify(value)}`,
    );
  }
  return value as ScheduleStatus;
}

function pairs(name: string, values: readonly string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf("=");
    if (eq <= 0)
      throw new InvalidArgumentError(name, `must be key=value, not ${JSON.stringify(value)}`);
    result[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return result;
}

function positiveInteger(name: string, value: string): number {
  if (!/^\d+$/.test(value))
    throw new InvalidArgumentError(name, `must be a whole number, not ${JSON.stringify(value)}`);
  return Number(value);
}

// ---------------------------------------------------------------------------------------
// Output

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function show(flags: ClientFlags, handle: ScheduleHandle): void {
  if (flags.json) {
    const json = {
      scheduleId: handle.id,
      created: handle.created,
      replaced: handle.replaced,
      schedule: scheduleJson(handle.schedule),
    };
    print(JSON.stringify(json, null, 2));
    return;
  }
  const what = handle.replaced
    ? "replaced"
    : handle.created
      ? "created"
      : "kept the existing schedule of that name (--on-conflict replace to change it):";
  print(`${what} ${handle.id}\n${details(handle.schedule, false)}`);
}

function scheduleJson(schedule: Schedule): unknown {
  return toJson(ScheduleSchema, schedule);
}

function triggerJson(fired: TriggerResult): unknown {
  return { ...fired, firedAt: fired.firedAt.toISOString() };
}

function details(s: Schedule, upcoming: boolean): string {
  const rows: [string, string][] = [
    ["id", s.scheduleId],
    ["name", s.name || "-"],
    ["subject", s.subject],
    ["trigger", triggerText(s)],
    ["state", stateText(s.state)],
    ["next fire", instantText(s.nextFireAt)],
    ["last fire", instantText(s.lastFireAt)],
    ["fires", String(s.fireCount)],
  ];
  const labels = Object.entries(s.labels);
  if (labels.length > 0) rows.push(["labels", labels.map(([k, v]) => `${k}=${v}`).join(", ")]);
  const headers = Object.entries(s.headers);
  if (headers.length > 0) rows.push(["headers", headers.map(([k, v]) => `${k}: ${v}`).join(", ")]);
  if (s.contentType !== "") rows.push(["content type", s.contentType]);
  if (s.payload.length > 0) rows.push(["data", `${s.payload.length} bytes`]);
  if (upcoming && s.nextFireTimes.length > 0) {
    rows.push([
      "upcoming",
      s.nextFireTimes.map((t) => new Date(timestampMs(t)).toISOString()).join(", "),
    ]);
  }
  rows.push(["created", instantText(s.createdAt)], ["updated", instantText(s.updatedAt)]);
  return table(undefined, rows);
}

function triggerText(s: Schedule): string {
  const t = s.trigger;
  switch (t.case) {
    case "cron":
      return `cron ${t.value.cron} ${t.value.timeZone}`;
    case "interval":
      return `every ${t.value.every === undefined ? "?" : formatDuration(Number(t.value.every.seconds) * 1000 + t.value.every.nanos / 1e6)}`;
    case "time":
      return t.value.localTime === ""
        ? `at ${instantText(t.value.at, false)}`
        : `at ${t.value.localTime} ${t.value.timeZone}`;
    default:
      return "-";
  }
}

function stateText(state: ScheduleState): string {
  return (ScheduleState[state] ?? String(state)).toLowerCase();
}

function instantText(t: Timestamp | undefined, relative = true): string {
  if (t === undefined) return "-";
  const ms = timestampMs(t);
  const iso = new Date(ms).toISOString();
  if (!relative) return iso;
  const delta = ms - Date.now();
  const rounded =
    Math.abs(delta) < 1000 ? Math.abs(delta) : Math.round(Math.abs(delta) / 1000) * 1000;
  return `${iso} (${delta >= 0 ? `in ${formatDuration(rounded)}` : `${formatDuration(rounded)} ago`})`;
}

/** Left-aligned columns; the header row, where given, in capitals. */
function table(
  header: readonly string[] | undefined,
  rows: readonly (readonly string[])[],
): string {
  const all = header === undefined ? rows : [header, ...rows];
  const widths: number[] = [];
  for (const row of all) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return all
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
