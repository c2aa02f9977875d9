import {
  create,
  type DescField,
  type DescMessage,
  type DescMethod,
  fromBinary,
  fromJson,
  isMessage,
  type JsonValue,
  type Message,
  ScalarType,
  toBinary,
  toJsonString,
} from "@bufbuild/protobuf";
import {
  type CreatedSchedule,
  CreatedScheduleSchema,
  SchedulerService,
  ScheduleSchema,
  UnscheduleRequestSchema,
  UnscheduleResponseSchema,
} from "@chime/sdk";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { credentials, Client as GrpcClient, Metadata, type ServiceError } from "@grpc/grpc-js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { recordTasks, type TaskRecorder } from "../harness/task-recorder.js";

// Thousands of random, mutated and adversarial requests to every RPC, over gRPC, Connect
// binary and Connect JSON. Properties: every answer is OK or a documented error code (never
// INTERNAL or UNKNOWN), the service keeps answering and firing, the schedules stored before
// are untouched, and the store holds exactly the schedules acknowledged as created and not
// unscheduled. CHIME_FUZZ_SEED reproduces a run; CHIME_FUZZ_RUNS sets the cases per RPC and
// kind of request (default 40, a few seconds; raise it for a long run).
const SEED = Number(process.env.CHIME_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.CHIME_FUZZ_RUNS ?? 40);

/** Answers bad input may get; anything else (INTERNAL, UNKNOWN, …) is a bug. */
const DOCUMENTED = new Set<Code>([
  Code.InvalidArgument,
  Code.NotFound,
  Code.AlreadyExists,
  Code.FailedPrecondition,
  Code.ResourceExhausted,
  Code.OutOfRange,
]);

const METHODS = SchedulerService.methods.filter((m) => m.methodKind === "unary");
const SEEDED_NAME = `seed-${SEED}-${Date.now()}`;

// --- adversarial values, by protobuf type -------------------------------------------------

const NOW_S = Math.floor(Date.now() / 1000);
const SANE_STRINGS = [
  "",
  "tasks.fuzz",
  "tasks.fuzz.a",
  "$JS.API.STREAM.DELETE.CHIME_TASKS",
  "$KV.CHIME_SCHEDULES.x",
  "$SYS.REQ.SERVER.PING",
  "_INBOX.x",
  "tasks.*",
  "tasks.>",
  "tasks..x",
  "tasks. x",
  "chime.internal.replica.x.applied",
  "0 0 30 2 *",
  "0 0 * 2 1#5",
  "* * * * * *",
  "@hourly",
  "UTC",
  "America/New_York",
  "Etc/GMT+14",
  "2030-02-30T09:00:00",
  "2030-03-10T02:30:00",
  "\u0000",
  "\u202etasks.x",
  "𝕏".repeat(300),
  "a".repeat(10_000),
  "Nats-Msg-Id",
  "Chime-Schedule-Id",
  "00000000000000000000000000",
];
const LONG_BYTES = new Uint8Array(3 * 1024 * 1024).fill(1);

const stringArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SANE_STRINGS) },
  { weight: 2, arbitrary: fc.stringMatching(/^tasks\.fuzz\.[a-z]{1,6}$/) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 60 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 60 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 200, maxLength: 3000 }) },
);

function scalarArb(type: ScalarType): fc.Arbitrary<unknown> {
  switch (type) {
    case ScalarType.STRING:
      return stringArb;
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.BYTES:
      return fc.oneof(
        { weight: 8, arbitrary: fc.uint8Array({ maxLength: 200 }) },
        { weight: 1, arbitrary: fc.constant(LONG_BYTES.subarray(0, 1_100_000)) },
        { weight: 1, arbitrary: fc.constant(LONG_BYTES) },
      );
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return fc.oneof(
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.constantFrom(0n, -1n, 1n, BigInt(NOW_S), BigInt(NOW_S + 3600), 253402300800n),
      );
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.oneof(fc.constantFrom(0, 1, 5, 100, 1001, 2 ** 32 - 1), fc.nat(2 ** 32 - 1));
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return fc.double();
    default:
      return fc.oneof(fc.constantFrom(0, 1, -1, 10, 1001, 2 ** 31 - 1, -(2 ** 31)), fc.integer());
  }
}

// Timestamps and durations: near now (so some requests get far enough to be stored), and
// the extremes of their ranges and beyond.
const wktArb: Record<string, fc.Arbitrary<object>> = {
  "google.protobuf.Timestamp": fc.oneof(
    fc
      .integer({ min: -7200, max: 30 * 86400 })
      .map((d) => ({ seconds: BigInt(NOW_S + d), nanos: 0 })),
    fc.record({
      seconds: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      nanos: fc.integer(),
    }),
    fc.constantFrom(
      { seconds: 253402300799n, nanos: 999_999_999 },
      { seconds: -62135596800n, nanos: 0 },
      { seconds: 0n, nanos: -1 },
    ),
  ),
  "google.protobuf.Duration": fc.oneof(
    fc.integer({ min: -10, max: 86400 }).map((s) => ({ seconds: BigInt(s), nanos: 0 })),
    fc.record({
      seconds: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      nanos: fc.integer(),
    }),
    fc.constantFrom(
      { seconds: 315576000000n, nanos: 999_999_999 },
      { seconds: -315576000000n, nanos: -999_999_999 },
      { seconds: 0n, nanos: 1 },
    ),
  ),
};

function valueArb(
  field: DescField,
  kind: "scalar" | "enum" | "message",
  depth: number,
): fc.Arbitrary<unknown> {
  if (kind === "scalar") return scalarArb(field.scalar ?? ScalarType.STRING);
  if (kind === "enum" && field.enum !== undefined) {
    const known = field.enum.values.map((v) => v.number);
    return fc.oneof(fc.constantFrom(...known), fc.integer());
  }
  if (field.message === undefined) return fc.constant(undefined);
  return messageArb(field.message, depth + 1);
}

function fieldArb(field: DescField, depth: number): fc.Arbitrary<unknown> {
  switch (field.fieldKind) {
    case "list":
      return fc.array(valueArb(field, field.listKind, depth), {
        maxLength: depth > 0 ? 3 : 12,
      });
    case "map":
      return fc.oneof(
        fc.dictionary(stringArb, valueArb(field, field.mapKind, depth), { maxKeys: 8 }),
        // A map with very many entries.
        fc
          .integer({ min: 100, max: 3000 })
          .map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`K${i}`, "v"]))),
      );
    default:
      return valueArb(field, field.fieldKind, depth);
  }
}

/** A message init object for `schema`, every field random (and possibly absent). */
function messageArb(schema: DescMessage, depth = 0): fc.Arbitrary<object> {
  const wkt = wktArb[schema.typeName];
  if (wkt !== undefined) return wkt;
  if (depth > 3) return fc.constant({});
  const plain = schema.fields.filter((f) => f.oneof === undefined);
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of plain) record[field.localName] = fieldArb(field, depth);
  const oneofs: Record<string, fc.Arbitrary<unknown>> = {};
  for (const oneof of schema.oneofs) {
    oneofs[oneof.localName] = fc.oneof(
      fc.constant(undefined),
      ...oneof.fields.map((f) => fieldArb(f, depth).map((value) => ({ case: f.localName, value }))),
    );
  }
  return fc
    .tuple(fc.record(record, { requiredKeys: [] }), fc.record(oneofs, { requiredKeys: [] }))
    .map(([a, b]) => ({ ...a, ...b }));
}

/** A well-formed request per RPC, for the mutations to start from. */
function baseRequest(method: DescMethod, pool: readonly Created[]): object {
  const target = pool.length === 0 ? undefined : pool[pool.length - 1];
  const byTarget =
    target === undefined
      ? {}
      : target.name !== ""
        ? { target: { case: "name", value: target.name } }
        : { target: { case: "scheduleId", value: target.id } };
  const common = { subject: "tasks.fuzz.base", payload: new Uint8Array([1, 2, 3]) };
  switch (method.name) {
    case "ScheduleByTime":
      return { ...common, when: { case: "delay", value: { seconds: 3600n, nanos: 0 } } };
    case "ScheduleByCron":
      return { ...common, cron: "0 * * * *", timeZone: "Europe/Paris" };
    case "ScheduleByInterval":
      return { ...common, every: { seconds: 60n, nanos: 0 } };
    case "ListSchedules":
      return { pageSize: 5 };
    default:
      return byTarget;
  }
}

/** One mutation: a random field of the base request set to a random value. */
function mutationArb(method: DescMethod): fc.Arbitrary<{ field: string; value: unknown }> {
  const fields = method.input.fields;
  if (fields.length === 0) return fc.constant({ field: "", value: undefined });
  return fc.oneof(
    ...fields.map((f) =>
      fieldArb(f, 0).map((value) =>
        f.oneof === undefined
          ? { field: f.localName, value }
          : { field: f.oneof.localName, value: { case: f.localName, value } },
      ),
    ),
  );
}

// JSON bodies: anything, deeply nested, and valid requests with one member replaced.
// Written out: JSON.stringify itself would overflow the stack on it.
const DEEP = `${'{"labels":'.repeat(20_000)}{}${"}".repeat(20_000)}`;
const jsonAnyArb = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.constantFrom(DEEP, "[".repeat(50_000), "{", "", "null", '"x"') },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
);

// --- the run --------------------------------------------------------------------------------

interface Created {
  readonly id: string;
  readonly name: string;
}

interface Tally {
  requests: number;
  codes: Map<string, number>;
}

describe(`fuzzing every RPC (seed ${SEED}, ${RUNS} cases per RPC and kind)`, () => {
  let nats: TestNats;
  let chime: TestChime;
  let grpc: GrpcClient;
  let recorder: TaskRecorder;
  let ticking: string;
  const seeds = new Map<string, string>();
  /** What the store must hold: every schedule acknowledged as created and not unscheduled. */
  const expected = new Map<string, string>();
  const pool: Created[] = [];
  const tallies = new Map<string, Tally>();
  const failures: string[] = [];
  let fuzzStart = 0;
  let fuzzEnd = 0;

  const connectBinary = () =>
    createClient(
      SchedulerService,
      createConnectTransport({ baseUrl: chime.baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
    );

  function count(method: DescMethod, code: string): void {
    const tally = tallies.get(method.name) ?? { requests: 0, codes: new Map() };
    tally.requests += 1;
    tally.codes.set(code, (tally.codes.get(code) ?? 0) + 1);
    tallies.set(method.name, tally);
  }

  /** Checks one answer and keeps the model of the store up to date. */
  function answered(
    method: DescMethod,
    how: string,
    request: () => Message | undefined,
    outcome: { ok: true; response: Message } | { ok: false; code: number; message: string },
  ): void {
    if (!outcome.ok) {
      count(method, Code[outcome.code] ?? String(outcome.code));
      if (!DOCUMENTED.has(outcome.code)) {
        failures.push(
          `${method.name} via ${how}: ${Code[outcome.code] ?? outcome.code} ${outcome.message.slice(0, 300)}`,
        );
      }
      return;
    }
    count(method, "OK");
    visitCreated(outcome.response, (created) => {
      if (!created.created) return;
      const name = created.schedule?.name ?? "";
      expected.set(created.scheduleId, name);
      pool.push({ id: created.scheduleId, name });
    });
    if (isMessage(outcome.response, UnscheduleResponseSchema) && outcome.response.existed) {
      const req = request();
      if (req === undefined || !isMessage(req, UnscheduleRequestSchema)) return;
      const target = req.target;
      if (target.case === "scheduleId") expected.delete(target.value);
      if (target.case === "name") {
        for (const [id, name] of expected) if (name === target.value) expected.delete(id);
      }
    }
  }

  async function viaConnect(method: DescMethod, init: object, how: string): Promise<void> {
    let request: Message;
    try {
      request = create(method.input, init as never);
      toBinary(method.input, request);
    } catch {
      return; // Not representable on the wire: nothing to send.
    }
    const rpc = (connectBinary() as unknown as Record<string, (r: Message) => Promise<Message>>)[
      method.localName
    ];
    if (rpc === undefined) throw new Error(`no ${method.localName}`);
    try {
      const response = await rpc(request);
      answered(method, how, () => request, { ok: true, response });
    } catch (err) {
      const e = ConnectError.from(err);
      answered(method, how, () => request, { ok: false, code: e.code, message: e.rawMessage });
    }
  }

  function grpcCall(method: DescMethod, body: Buffer): Promise<Buffer | ServiceError> {
    return new Promise((resolve) => {
      grpc.makeUnaryRequest(
        `/${SchedulerService.typeName}/${method.name}`,
        (b: Buffer) => b,
        (b: Buffer) => b,
        body,
        new Metadata(),
        { deadline: Date.now() + 20_000 },
        (err, value) => resolve(err ?? value ?? Buffer.alloc(0)),
      );
    });
  }

  async function viaGrpc(method: DescMethod, body: Buffer, how: string): Promise<void> {
    const answer = await grpcCall(method, body);
    const request = () => {
      try {
        return fromBinary(method.input, body);
      } catch {
        return undefined;
      }
    };
    if (Buffer.isBuffer(answer)) {
      answered(method, how, request, { ok: true, response: fromBinary(method.output, answer) });
    } else {
      answered(method, how, request, { ok: false, code: answer.code, message: answer.details });
    }
  }

  async function viaHttp(
    method: DescMethod,
    body: Uint8Array | string,
    contentType: "application/json" | "application/proto",
    how: string,
  ): Promise<void> {
    const res = await fetch(`${chime.baseUrl}/${SchedulerService.typeName}/${method.name}`, {
      method: "POST",
      headers: { "content-type": contentType },
      body,
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    const request = () => {
      try {
        return typeof body === "string"
          ? fromJson(method.input, JSON.parse(body) as JsonValue)
          : fromBinary(method.input, body);
      } catch {
        return undefined;
      }
    };
    if (res.status === 200) {
      const response =
        contentType === "application/json"
          ? fromJson(method.output, JSON.parse(new TextDecoder().decode(bytes)) as JsonValue)
          : fromBinary(method.output, bytes);
      answered(method, how, request, { ok: true, response });
      return;
    }
    let error: { code?: string; message?: string };
    try {
      error = JSON.parse(new TextDecoder().decode(bytes)) as { code?: string; message?: string };
    } catch {
      error = { code: `http ${res.status}`, message: new TextDecoder().decode(bytes) };
    }
    const code = codeOf(error.code ?? "");
    answered(method, how, request, {
      ok: false,
      code: code ?? Code.Unknown,
      message: `${error.code}: ${error.message ?? ""} (HTTP ${res.status})`,
    });
  }

  beforeAll(async () => {
    console.info(
      `rpc fuzz: seed ${SEED}, ${RUNS} cases per RPC and kind (CHIME_FUZZ_SEED=${SEED} to repeat)`,
    );
    nats = await startTestNats();
    chime = await startTestChime(nats.url);
    grpc = new GrpcClient(chime.grpcAddress, credentials.createInsecure());
    recorder = await recordTasks(nats.url);
    const client = chime.client;
    const made = [
      await client.scheduleByCron({
        subject: "tasks.seed.cron",
        cron: "0 0 1 1 *",
        name: SEEDED_NAME,
      }),
      await client.scheduleByInterval({
        subject: "tasks.seed.interval",
        every: { seconds: 86_400n, nanos: 0 },
        labels: { keep: "me" },
        headers: { "X-Seed": "1" },
      }),
      await client.scheduleByTime({
        subject: "tasks.seed.once",
        when: { case: "delay", value: { seconds: 7n * 86_400n, nanos: 0 } },
        payload: new Uint8Array([9, 9, 9]),
      }),
    ];
    for (const created of made) {
      const got = await client.getSchedule({
        target: { case: "scheduleId", value: created.scheduleId },
      });
      seeds.set(created.scheduleId, toJsonString(ScheduleSchema, got));
      expected.set(created.scheduleId, got.name);
    }
    // Fires every second all through the fuzzing: it must keep firing, on time.
    const tick = await client.scheduleByInterval({
      subject: "tasks.seed.tick",
      every: { seconds: 1n, nanos: 0 },
    });
    ticking = tick.scheduleId;
    expected.set(ticking, "");
    fuzzStart = Date.now();
  });
  afterAll(async () => {
    grpc?.close();
    await recorder?.stop();
    await chime?.stop();
    await nats?.stop();
  });

  const options = (offset: number): fc.Parameters<unknown> => ({
    seed: SEED + offset,
    numRuns: RUNS,
    // One failure is enough to report; shrinking would resend many requests.
    endOnFailure: true,
  });

  for (const [index, method] of METHODS.entries()) {
    describe(method.name, () => {
      it("typed requests with random and extreme fields, over Connect binary and gRPC", async () => {
        await fc.assert(
          fc.asyncProperty(messageArb(method.input), async (init) => {
            await viaConnect(method, init, "Connect binary (typed)");
            let bytes: Uint8Array;
            try {
              bytes = toBinary(method.input, create(method.input, init as never));
            } catch {
              return;
            }
            await viaGrpc(method, Buffer.from(bytes), "gRPC (typed)");
          }),
          options(index * 10 + 1),
        );
      });

      it("valid requests with one field mutated, over Connect binary and JSON", async () => {
        await fc.assert(
          fc.asyncProperty(mutationArb(method), async ({ field, value }) => {
            const init = { ...baseRequest(method, pool), ...(field ? { [field]: value } : {}) };
            await viaConnect(method, init, "Connect binary (mutated)");
            let json: string;
            try {
              json = toJsonString(method.input, create(method.input, init as never));
            } catch {
              return; // Outside what JSON can carry (a Timestamp past year 9999).
            }
            await viaHttp(method, json, "application/json", "Connect JSON (mutated)");
          }),
          options(index * 10 + 2),
        );
      });

      it("random bytes as the protobuf body, over gRPC and Connect binary", async () => {
        await fc.assert(
          fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
            await viaGrpc(method, Buffer.from(bytes), "gRPC (random bytes)");
            await viaHttp(method, bytes, "application/proto", "Connect binary (random bytes)");
          }),
          options(index * 10 + 3),
        );
      });

      it("random JSON bodies over HTTP/1.1", async () => {
        await fc.assert(
          fc.asyncProperty(jsonAnyArb, async (json) => {
            await viaHttp(method, json, "application/json", "Connect JSON (random)");
          }),
          options(index * 10 + 4),
        );
      });
    });
  }

  describe("afterwards", () => {
    it("every answer was OK or a documented error code", () => {
      fuzzEnd = Date.now();
      const lines = [...tallies].map(
        ([name, t]) =>
          `${name}: ${t.requests} requests (${[...t.codes].map(([c, n]) => `${c} ${n}`).join(", ")})`,
      );
      console.info(`rpc fuzz, seed ${SEED}:\n  ${lines.join("\n  ")}`);
      for (const method of METHODS)
        expect(tallies.get(method.name)?.requests ?? 0).toBeGreaterThan(0);
      expect(failures.slice(0, 20), `seed ${SEED}`).toEqual([]);
    });

    it("the service still answers, on both paths", async () => {
      expect((await fetch(`${chime.baseUrl}/healthz`)).status).toBe(200);
      expect((await fetch(`${chime.baseUrl}/readyz`)).status).toBe(200);
      const answer = await grpcCall(
        METHODS.find((m) => m.name === "GetSchedule") as DescMethod,
        Buffer.from(
          toBinary(
            SchedulerService.method.getSchedule.input,
            create(SchedulerService.method.getSchedule.input, {
              target: { case: "name", value: SEEDED_NAME },
            }),
          ),
        ),
      );
      expect(answer).toBeInstanceOf(Buffer);
    });

    it("the schedules stored before the fuzzing are unchanged", async () => {
      for (const [id, before] of seeds) {
        const after = await chime.client.getSchedule({ target: { case: "scheduleId", value: id } });
        expect(toJsonString(ScheduleSchema, after), `seed ${SEED}`).toBe(before);
      }
    });

    it("the store holds exactly the schedules acknowledged as created and not unscheduled", async () => {
      const stored = new Set<string>();
      let pageToken = "";
      do {
        const page = await chime.client.listSchedules({ pageSize: 1000, pageToken });
        for (const s of page.schedules) stored.add(s.scheduleId);
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      expect([...stored].sort(), `seed ${SEED}`).toEqual([...expected.keys()].sort());
    });

    it("the schedule ticking every second kept firing through the fuzzing, each on time", async () => {
      const ticks = recorder
        .matching((t) => t.headers["Chime-Schedule-Id"] === ticking)
        .map((t) => ({
          nominal: Date.parse(t.headers["Chime-Scheduled-At"] ?? ""),
          trigger: t.headers["Chime-Trigger"],
        }))
        .filter((t) => t.nominal >= fuzzStart + 1000 && t.nominal <= fuzzEnd - 1000);
      const nominals = ticks.map((t) => t.nominal).sort((a, b) => a - b);
      // One fire per second, none missing and none twice, none made up late as a catch-up.
      expect(nominals.length).toBeGreaterThan(0);
      for (let i = 1; i < nominals.length; i++) {
        expect((nominals[i] ?? 0) - (nominals[i - 1] ?? 0)).toBe(1000);
      }
      expect(ticks.every((t) => t.trigger === "schedule")).toBe(true);
    });
  });
});

/** Every CreatedSchedule inside a response (one, or a batch's). */
function visitCreated(message: Message, visit: (created: CreatedSchedule) => void): void {
  if (isMessage(message, CreatedScheduleSchema)) {
    visit(message);
    return;
  }
  for (const value of Object.values(message)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (typeof item === "object" && item !== null && "$typeName" in item) {
        visitCreated(item as Message, visit);
      } else if (
        typeof item === "object" &&
        item !== null &&
        "value" in item &&
        typeof item.value === "object" &&
        item.value !== null &&
        "$typeName" in item.value
      ) {
        visitCreated(item.value as Message, visit);
      }
    }
  }
}

/** The Code of a Connect error's JSON `code` ("invalid_argument"). */
function codeOf(name: string): Code | undefined {
  for (const [key, value] of Object.entries(Code)) {
    if (typeof value !== "number") continue;
    if (key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).slice(1) === name) return value;
  }
  return undefined;
}
