import { ConflictPolicy, createSchedulerClient, Protocol } from "@chime/sdk";
import { Code } from "@connectrpc/connect";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { createGrpcJsClient, grpcErrorOf } from "../harness/grpc-js-client.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { connectErrorOf } from "../harness/rpc-errors.js";
import { connectClient, inAnHour, type SchedulerClient, SECRET, TOKENS_JSON } from "./tokens.js";

const byId = (value: string) => ({ target: { case: "scheduleId" as const, value } });
const byName = (value: string) => ({ target: { case: "name" as const, value } });

describe("authentication and tenant isolation", () => {
  let nats: TestNats;
  let chime: TestChime;
  let acme: SchedulerClient;
  let acmeReader: SchedulerClient;
  let acmeAdmin: SchedulerClient;
  let globex: SchedulerClient;
  let ops: SchedulerClient;

  beforeAll(async () => {
    nats = await startTestNats();
    chime = await startTestChime(nats.url, { authTokens: TOKENS_JSON });
    acme = connectClient(chime.baseUrl, SECRET.acmeWriter);
    acmeReader = connectClient(chime.baseUrl, SECRET.acmeReader);
    acmeAdmin = connectClient(chime.baseUrl, SECRET.acmeAdmin);
    globex = connectClient(chime.baseUrl, SECRET.globexWriter);
    ops = connectClient(chime.baseUrl, SECRET.ops);
  });
  afterAll(async () => {
    await chime?.stop();
    await nats?.stop();
  });

  it("answers UNAUTHENTICATED without a token or with a wrong one, on Connect and gRPC", async () => {
    const calls = [
      (c: SchedulerClient) => c.listSchedules({}),
      (c: SchedulerClient) => c.scheduleByTime(inAnHour("tasks.acme.x")),
    ];
    for (const call of calls) {
      for (const client of [
        connectClient(chime.baseUrl, undefined),
        connectClient(chime.baseUrl, "not-a-configured-token-000"),
        connectClient(chime.baseUrl, `${SECRET.acmeWriter}x`),
        connectClient(chime.baseUrl, undefined, { authorization: `Basic ${SECRET.acmeWriter}` }),
      ]) {
        expect((await connectErrorOf(call(client))).code).toBe(Code.Unauthenticated);
      }
    }
    for (const token of [undefined, "not-a-configured-token-000"]) {
      const grpc = createGrpcJsClient(chime.grpcAddress, token === undefined ? {} : { token });
      try {
        const err = await grpcErrorOf(grpc.unary("ListSchedules", {}));
        expect(err.code).toBe(GrpcStatus.UNAUTHENTICATED);
      } finally {
        grpc.close();
      }
    }
    // Nothing was created by the refused calls.
    expect((await ops.listSchedules({})).schedules).toEqual([]);
  });

  it("lets a read token read and refuses its writes with PERMISSION_DENIED", async () => {
    const created = await acme.scheduleByTime(inAnHour("tasks.acme.read-check"));
    const got = await acmeReader.getSchedule(byId(created.scheduleId));
    expect(got.namespace).toBe("acme");
    for (const write of [
      acmeReader.scheduleByTime(inAnHour("tasks.acme.x")),
      acmeReader.unschedule(byId(created.scheduleId)),
      acmeReader.pauseSchedule(byId(created.scheduleId)),
      acmeReader.triggerSchedule(byId(created.scheduleId)),
    ]) {
      const err = await connectErrorOf(write);
      expect(err.code).toBe(Code.PermissionDenied);
      expect(err.rawMessage).toMatch(/acme-reader/);
    }
    expect((await acmeReader.getSchedule(byId(created.scheduleId))).state).toBeGreaterThan(0);
  });

  it("refuses a subject outside the token's prefixes, on Connect and gRPC", async () => {
    for (const subject of ["tasks.globex.x", "tasks.acmex", "tasks.other.acme"]) {
      const err = await connectErrorOf(acme.scheduleByTime(inAnHour(subject)));
      expect(err.code).toBe(Code.PermissionDenied);
      expect(err.rawMessage).toContain("subject");
    }
    const grpc = createGrpcJsClient(chime.grpcAddress, { token: SECRET.acmeWriter });
    try {
      const err = await grpcErrorOf(
        grpc.unary("ScheduleByTime", {
          subject: "tasks.globex.x",
          delay: { seconds: 3600, nanos: 0 },
        }),
      );
      expect(err.code).toBe(GrpcStatus.PERMISSION_DENIED);
      const ok = await grpc.unary<{ scheduleId: string; schedule: { namespace: string } }>(
        "ScheduleByTime",
        { subject: "tasks.acme.grpc", delay: { seconds: 3600, nanos: 0 } },
      );
      expect(ok.schedule.namespace).toBe("acme");
    } finally {
      grpc.close();
    }
  });

  it("hides another namespace's schedules: NOT_FOUND by id and name, never listed", async () => {
    const mine = await acme.scheduleByTime(inAnHour("tasks.acme.secret", "acme-only"));
    expect(mine.schedule?.namespace).toBe("acme");
    for (const call of [
      globex.getSchedule(byId(mine.scheduleId)),
      globex.getSchedule(byName("acme-only")),
      globex.pauseSchedule(byId(mine.scheduleId)),
      globex.resumeSchedule(byName("acme-only")),
      globex.triggerSchedule(byId(mine.scheduleId)),
    ]) {
      expect((await connectErrorOf(call)).code).toBe(Code.NotFound);
    }
    expect((await globex.unschedule(byId(mine.scheduleId))).existed).toBe(false);
    expect((await globex.unschedule(byName("acme-only"))).existed).toBe(false);
    const listed = await globex.listSchedules({ pageSize: 1000 });
    expect(listed.schedules.map((s) => s.scheduleId)).not.toContain(mine.scheduleId);
    expect(listed.schedules.every((s) => s.namespace === "globex")).toBe(true);
    // Still there for its owner, untouched.
    expect((await acme.getSchedule(byName("acme-only"))).scheduleId).toBe(mine.scheduleId);

    const grpc = createGrpcJsClient(chime.grpcAddress, { token: SECRET.globexWriter });
    try {
      const err = await grpcErrorOf(
        grpc.unary("GetSchedule", { scheduleId: mine.scheduleId, nextFireCount: 0 }),
      );
      expect(err.code).toBe(GrpcStatus.NOT_FOUND);
    } finally {
      grpc.close();
    }
  });

  it("keeps names unique per namespace, not across namespaces", async () => {
    const a = await acme.scheduleByTime(inAnHour("tasks.acme.nightly", "nightly"));
    const g = await globex.scheduleByTime(inAnHour("tasks.globex.nightly", "nightly"));
    expect(a.created && g.created).toBe(true);
    expect(a.scheduleId).not.toBe(g.scheduleId);
    const again = await connectErrorOf(
      acme.scheduleByTime({
        ...inAnHour("tasks.acme.nightly", "nightly"),
        conflictPolicy: ConflictPolicy.FAIL,
      }),
    );
    expect(again.code).toBe(Code.AlreadyExists);
    expect((await acme.getSchedule(byName("nightly"))).subject).toBe("tasks.acme.nightly");
    expect((await globex.getSchedule(byName("nightly"))).subject).toBe("tasks.globex.nightly");
    // Removing one namespace's name leaves the other's alone, and frees the name.
    expect((await globex.unschedule(byName("nightly"))).existed).toBe(true);
    expect((await acme.getSchedule(byName("nightly"))).scheduleId).toBe(a.scheduleId);
    const reborn = await globex.scheduleByTime(inAnHour("tasks.globex.nightly", "nightly"));
    expect(reborn.created).toBe(true);
    expect(reborn.scheduleId).not.toBe(g.scheduleId);
  });

  it("confines every item of a BatchSchedule to the token's subjects and namespace", async () => {
    const item = (subject: string, name: string) => ({
      request: {
        case: "byTime" as const,
        value: { ...inAnHour(subject, name) },
      },
    });
    const batch = await acme.batchSchedule({
      items: [item("tasks.acme.batch", "batch-ok"), item("tasks.globex.batch", "batch-denied")],
    });
    const [ok, denied] = batch.results;
    expect(ok?.outcome.case).toBe("created");
    expect(denied?.outcome.case === "error" && denied.outcome.value.code).toBe(
      Code.PermissionDenied,
    );
    expect((await acme.getSchedule(byName("batch-ok"))).namespace).toBe("acme");
    expect((await connectErrorOf(globex.getSchedule(byName("batch-ok")))).code).toBe(Code.NotFound);
    expect((await connectErrorOf(acmeReader.batchSchedule({ items: [] }))).code).toBe(
      Code.PermissionDenied,
    );
  });

  it("lets a write token change only schedules on its subjects; admin any in its namespace", async () => {
    const shared = await acmeAdmin.scheduleByTime(inAnHour("tasks.shared.report", "shared"));
    for (const call of [
      acme.pauseSchedule(byId(shared.scheduleId)),
      acme.triggerSchedule(byId(shared.scheduleId)),
      acme.unschedule(byId(shared.scheduleId)),
      acme.scheduleByTime({
        ...inAnHour("tasks.acme.takeover", "shared"),
        conflictPolicy: ConflictPolicy.REPLACE,
      }),
    ]) {
      expect((await connectErrorOf(call)).code).toBe(Code.PermissionDenied);
    }
    expect((await acme.getSchedule(byName("shared"))).subject).toBe("tasks.shared.report");
    const paused = await acmeAdmin.pauseSchedule(byId(shared.scheduleId));
    expect(paused.pausedAt).toBeDefined();
    expect((await acmeAdmin.unschedule(byName("shared"))).existed).toBe(true);
  });

  it("lets a cross-namespace token see every namespace, or pick one with chime-namespace", async () => {
    const a = await acme.scheduleByTime(inAnHour("tasks.acme.ops-view"));
    const g = await globex.scheduleByTime(inAnHour("tasks.globex.ops-view"));
    const all = (await ops.listSchedules({ pageSize: 1000 })).schedules.map((s) => s.scheduleId);
    expect(all).toEqual(expect.arrayContaining([a.scheduleId, g.scheduleId]));
    expect((await ops.getSchedule(byId(g.scheduleId))).namespace).toBe("globex");

    const opsInGlobex = connectClient(chime.baseUrl, SECRET.ops, { "chime-namespace": "globex" });
    const listed = (await opsInGlobex.listSchedules({ pageSize: 1000 })).schedules;
    expect(listed.map((s) => s.scheduleId)).toContain(g.scheduleId);
    expect(listed.every((s) => s.namespace === "globex")).toBe(true);
    expect((await connectErrorOf(opsInGlobex.getSchedule(byId(a.scheduleId)))).code).toBe(
      Code.NotFound,
    );
    const made = await opsInGlobex.scheduleByTime(inAnHour("tasks.any.thing", "ops-made"));
    expect(made.schedule?.namespace).toBe("globex");
    expect((await globex.getSchedule(byName("ops-made"))).scheduleId).toBe(made.scheduleId);
    // Without the header a cross-namespace token creates in "default".
    const plain = await ops.scheduleByTime(inAnHour("tasks.any.default"));
    expect(plain.schedule?.namespace).toBe("default");

    // A token bound to a namespace may not name another one.
    const sneaky = connectClient(chime.baseUrl, SECRET.acmeWriter, { "chime-namespace": "globex" });
    expect((await connectErrorOf(sneaky.listSchedules({}))).code).toBe(Code.PermissionDenied);
  });

  it("accepts the bearer token in plain Connect JSON over HTTP/1.1; health and metrics stay open", async () => {
    const post = (token: string | undefined) =>
      fetch(`${chime.baseUrl}/chime.v1.SchedulerService/ListSchedules`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        body: "{}",
      });
    const refused = await post(undefined);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { code: string }).code).toBe("unauthenticated");
    const ok = await post(SECRET.acmeReader);
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { schedules?: { namespace: string }[] };
    expect((body.schedules ?? []).every((s) => s.namespace === "acme")).toBe(true);
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      expect((await fetch(`${chime.baseUrl}${path}`)).status).toBe(200);
    }
  });

  it("works through the SDK client's token option, over Connect and gRPC", async () => {
    for (const protocol of [Protocol.connect, Protocol.grpc]) {
      await using sdk = createSchedulerClient({
        baseUrl: chime.baseUrl,
        protocol,
        token: SECRET.acmeWriter,
      });
      const handle = await sdk.scheduleAt({ delay: "1h", subject: `tasks.acme.sdk.${protocol}` });
      expect(handle.schedule.namespace).toBe("acme");
      await handle.pause();
      expect(await handle.unschedule()).toBe(true);
      await using anonymous = createSchedulerClient({ baseUrl: chime.baseUrl, protocol });
      const err = await connectErrorOf(
        anonymous.scheduleAt({ delay: "1h", subject: "tasks.acme.x" }),
      );
      expect(err.code).toBe(Code.Unauthenticated);
    }
  });
});
