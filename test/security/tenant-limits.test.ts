import { ConflictPolicy } from "@chime/sdk";
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
const HOUR = { seconds: 3600n, nanos: 0 };

describe("schedules per namespace", () => {
  const LIMIT = 3;
  let nats: TestNats;
  let chime: TestChime;
  let acme: SchedulerClient;
  let globex: SchedulerClient;
  let ops: SchedulerClient;

  /** Every schedule of acme, as the operator lists them (page size well above the limit). */
  const acmeIds = async (): Promise<string[]> =>
    (await ops.listSchedules({ pageSize: 100 })).schedules
      .filter((s) => s.namespace === "acme")
      .map((s) => s.scheduleId)
      .sort();

  const expectFull = (err: { code: Code; rawMessage: string }) => {
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toContain("namespace acme");
    expect(err.rawMessage).toContain(`${LIMIT}`);
    expect(err.rawMessage).toContain("--max-schedules-per-namespace");
  };

  beforeAll(async () => {
    nats = await startTestNats();
    chime = await startTestChime(nats.url, {
      authTokens: TOKENS_JSON,
      maxSchedulesPerNamespace: String(LIMIT),
    });
    acme = connectClient(chime.baseUrl, SECRET.acmeWriter);
    globex = connectClient(chime.baseUrl, SECRET.globexWriter);
    ops = connectClient(chime.baseUrl, SECRET.ops);
  });
  afterAll(async () => {
    await chime?.stop();
    await nats?.stop();
  });

  it("refuses a create on every path once the namespace is full, and stores nothing", async () => {
    const a = await acme.scheduleByTime(inAnHour("tasks.acme.one"));
    const b = await acme.scheduleByCron({
      subject: "tasks.acme.two",
      name: "nightly",
      cron: "0 2 * * *",
    });
    const c = await acme.scheduleByInterval({ subject: "tasks.acme.three", every: HOUR });
    const stored = [a.scheduleId, b.scheduleId, c.scheduleId].sort();
    expect(await acmeIds()).toEqual(stored);

    expectFull(await connectErrorOf(acme.scheduleByTime(inAnHour("tasks.acme.four"))));
    expectFull(
      await connectErrorOf(
        acme.scheduleByCron({ subject: "tasks.acme.four", name: "refused", cron: "0 3 * * *" }),
      ),
    );
    expectFull(
      await connectErrorOf(
        acme.scheduleByInterval({ subject: "tasks.acme.four", name: "refused", every: HOUR }),
      ),
    );
    const batch = await acme.batchSchedule({
      items: [
        { request: { case: "byTime", value: inAnHour("tasks.acme.batch", "batch-1") } },
        { request: { case: "byTime", value: inAnHour("tasks.acme.batch") } },
      ],
    });
    expect(batch.results).toHaveLength(2);
    for (const result of batch.results) {
      expect(result.outcome.case).toBe("error");
      if (result.outcome.case === "error") {
        expect(result.outcome.value.code).toBe(Code.ResourceExhausted);
        expect(result.outcome.value.message).toContain("--max-schedules-per-namespace");
      }
    }

    // Over gRPC too.
    const grpc = createGrpcJsClient(chime.grpcAddress, { token: SECRET.acmeWriter });
    try {
      const err = await grpcErrorOf(
        grpc.unary("ScheduleByTime", {
          subject: "tasks.acme.grpc",
          name: "refused",
          delay: { seconds: 3600, nanos: 0 },
        }),
      );
      expect(err.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
      expect(err.details).toContain("--max-schedules-per-namespace");
    } finally {
      grpc.close();
    }

    // Nothing of the refused calls was kept: no schedule, and no name left taken.
    expect(await acmeIds()).toEqual(stored);
    for (const name of ["refused", "batch-1"]) {
      expect((await connectErrorOf(acme.getSchedule(byName(name)))).code).toBe(Code.NotFound);
    }
  });

  it("still answers KEEP and REPLACE of an existing name when the namespace is full", async () => {
    expect(await acmeIds()).toHaveLength(LIMIT);
    const kept = await acme.scheduleByCron({
      subject: "tasks.acme.two",
      name: "nightly",
      cron: "0 2 * * *",
    });
    expect(kept.created).toBe(false);
    const replaced = await acme.scheduleByCron({
      subject: "tasks.acme.two",
      name: "nightly",
      cron: "30 2 * * *",
      conflictPolicy: ConflictPolicy.REPLACE,
    });
    expect(replaced.replaced).toBe(true);
    expect(replaced.scheduleId).toBe(kept.scheduleId);
    expect((await acme.getSchedule(byName("nightly"))).trigger.case).toBe("cron");
    expect(await acmeIds()).toHaveLength(LIMIT);
  });

  it("leaves other namespaces alone, and a cross-namespace token is held to each one", async () => {
    const g1 = await globex.scheduleByTime(inAnHour("tasks.globex.one"));
    const g2 = await globex.scheduleByTime(inAnHour("tasks.globex.two", "g2"));
    expect(g1.created && g2.created).toBe(true);
    const opsInAcme = connectClient(chime.baseUrl, SECRET.ops, { "chime-namespace": "acme" });
    expectFull(await connectErrorOf(opsInAcme.scheduleByTime(inAnHour("tasks.ops.x"))));
    const opsInGlobex = connectClient(chime.baseUrl, SECRET.ops, { "chime-namespace": "globex" });
    expect((await opsInGlobex.scheduleByTime(inAnHour("tasks.ops.x"))).created).toBe(true);
    // globex is full now, and acme still is.
    const err = await connectErrorOf(globex.scheduleByTime(inAnHour("tasks.globex.three")));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toContain("namespace globex");
    expect(await acmeIds()).toHaveLength(LIMIT);
  });

  it("takes a create again once a schedule is removed, up to the limit", async () => {
    const [first] = await acmeIds();
    expect((await acme.unschedule(byId(first ?? ""))).existed).toBe(true);
    const again = await acme.scheduleByTime(inAnHour("tasks.acme.again", "again"));
    expect(again.created).toBe(true);
    expectFull(await connectErrorOf(acme.scheduleByTime(inAnHour("tasks.acme.more"))));

    // Room for one: of a batch of three pipelined creates exactly one is stored.
    expect((await acme.unschedule(byName("again"))).existed).toBe(true);
    const before = await acmeIds();
    const batch = await acme.batchSchedule({
      items: [1, 2, 3].map((i) => ({
        request: { case: "byTime" as const, value: inAnHour(`tasks.acme.batch${i}`) },
      })),
    });
    const created = batch.results.filter((r) => r.outcome.case === "created");
    const refused = batch.results.filter(
      (r) => r.outcome.case === "error" && r.outcome.value.code === Code.ResourceExhausted,
    );
    expect([created.length, refused.length]).toEqual([1, 2]);
    const after = await acmeIds();
    expect(after).toHaveLength(LIMIT);
    const added = after.filter((id) => !before.includes(id));
    const [one] = created;
    expect(added).toEqual([one?.outcome.case === "created" ? one.outcome.value.scheduleId : ""]);
  });
});

describe("RPC rate per token", () => {
  let nats: TestNats;
  let chime: TestChime;
  let open: TestChime;

  beforeAll(async () => {
    nats = await startTestNats();
    // One call per 1000 s after a burst of 3: nothing refills while the test runs.
    chime = await startTestChime(nats.url, {
      authTokens: TOKENS_JSON,
      rpcRatePerToken: "0.001",
      rpcBurstPerToken: "3",
    });
    // Without authentication, on the same store: the rate limit does not apply.
    open = await startTestChime(nats.url, { rpcRatePerToken: "0.001", rpcBurstPerToken: "1" });
  });
  afterAll(async () => {
    await open?.stop();
    await chime?.stop();
    await nats?.stop();
  });

  it("refuses a token's calls after its burst while other tokens still get through", async () => {
    const acme = connectClient(chime.baseUrl, SECRET.acmeWriter);
    const globex = connectClient(chime.baseUrl, SECRET.globexWriter);
    await acme.listSchedules({});
    await acme.scheduleByTime(inAnHour("tasks.acme.rate"));
    await acme.batchSchedule({ items: [] });
    for (const call of [acme.listSchedules({}), acme.scheduleByTime(inAnHour("tasks.acme.x"))]) {
      const err = await connectErrorOf(call);
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(err.rawMessage).toContain("token acme-writer");
      expect(err.rawMessage).toContain("--rpc-rate-per-token");
      expect(err.rawMessage).toContain("--rpc-burst-per-token");
    }
    // The refused create was not stored; the operator's token has its own bucket.
    const ops = connectClient(chime.baseUrl, SECRET.ops);
    const listed = await ops.listSchedules({});
    expect(listed.schedules.map((s) => s.subject)).toEqual(["tasks.acme.rate"]);
    await globex.scheduleByTime(inAnHour("tasks.globex.rate"));
    expect((await globex.listSchedules({})).schedules).toHaveLength(1);
    // A refused or failed call spends its token like any other.
    expect((await connectErrorOf(globex.getSchedule(byName("none")))).code).toBe(Code.NotFound);
    expect((await connectErrorOf(globex.listSchedules({}))).code).toBe(Code.ResourceExhausted);
  });

  it("limits gRPC calls per token the same way", async () => {
    const grpc = createGrpcJsClient(chime.grpcAddress, { token: SECRET.acmeReader });
    try {
      for (let i = 0; i < 3; i++) await grpc.unary("ListSchedules", {});
      const err = await grpcErrorOf(grpc.unary("ListSchedules", {}));
      expect(err.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
      expect(err.details).toContain("token acme-reader");
    } finally {
      grpc.close();
    }
    // A token refused on one path is refused on the other: the bucket is the token's.
    const reader = connectClient(chime.baseUrl, SECRET.acmeReader);
    expect((await connectErrorOf(reader.listSchedules({}))).code).toBe(Code.ResourceExhausted);
  });

  it("does not limit calls without authentication", async () => {
    for (let i = 0; i < 10; i++) await open.client.listSchedules({});
  });
});
