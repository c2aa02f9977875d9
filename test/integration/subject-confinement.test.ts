import { ConflictPolicy, ScheduleState } from "@chime/sdk";
import { Code } from "@connectrpc/connect";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { createGrpcJsClient, type GrpcJsClient, grpcErrorOf } from "../harness/grpc-js-client.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { connectErrorOf } from "../harness/rpc-errors.js";

// Every subject a client could use to make Chime's NATS credentials do harm, or to leave the
// subject space: refused on every path that takes a subject, over Connect and over gRPC.
const HOSTILE: readonly [string, RegExp][] = [
  ["$JS.API.STREAM.DELETE.X", /must not start with \$/],
  ["$KV.x.y", /must not start with \$/],
  ["$SYS.REQ.SERVER.PING", /must not start with \$/],
  ["$O.bucket.x", /must not start with \$/],
  ["$JS.ACK.CHIME_TASKS.c.1.1.1.1.0", /must not start with \$/],
  ["_INBOX.x", /_INBOX/],
  ["_INBOX", /_INBOX/],
  ["tasks.*", /wildcards/],
  ["tasks.>", /wildcards/],
  ["tasks..x", /empty tokens/],
  ["tasks. x", /white space/],
  ["tasks.x\r\nPUB evil 1", /white space or control/],
  [`tasks.${"a".repeat(9_994)}`, /at most 256 bytes/],
  ["chime.internal.replica.r1.applied", /reserved for Chime's internal use/],
  ["chime.internal.x", /reserved for Chime's internal use/],
  ["chime.internal", /subject space/],
  ["other.x", /subject space \(tasks\.>\)/],
];

const HOUR = { seconds: 3600n, nanos: 0 };
const label = (subject: string): string =>
  JSON.stringify(subject.length > 40 ? `${subject.slice(0, 20)}…(${subject.length})` : subject);
const cases = HOSTILE.map(([subject, rule]) => [label(subject), subject, rule] as const);

describe("subject confinement", () => {
  let nats: TestNats;
  let chime: TestChime;
  let grpc: GrpcJsClient;
  let existingId: string;

  /** The whole store as clients see it, to prove a refusal changed nothing. */
  async function snapshot(): Promise<string[]> {
    const page = await chime.client.listSchedules({ pageSize: 1000 });
    return page.schedules
      .map(
        (s) =>
          `${s.scheduleId} ${s.name} ${s.subject} ${ScheduleState[s.state]} ${s.trigger.case} ${s.updatedAt?.seconds}.${s.updatedAt?.nanos}`,
      )
      .sort();
  }

  beforeAll(async () => {
    nats = await startTestNats();
    chime = await startTestChime(nats.url);
    grpc = createGrpcJsClient(chime.grpcAddress);
    const existing = await chime.client.scheduleByInterval({
      name: "target",
      subject: "tasks.target",
      every: HOUR,
    });
    existingId = existing.scheduleId;
  });
  afterAll(async () => {
    grpc?.close();
    await chime?.stop();
    await nats?.stop();
  });

  describe("over Connect", () => {
    const creates = {
      ScheduleByTime: (c: TestChime, subject: string, name?: string, replace = false) =>
        c.client.scheduleByTime({
          subject,
          name,
          conflictPolicy: replace ? ConflictPolicy.REPLACE : ConflictPolicy.UNSPECIFIED,
          when: { case: "delay", value: HOUR },
        }),
      ScheduleByCron: (c: TestChime, subject: string, name?: string, replace = false) =>
        c.client.scheduleByCron({
          subject,
          name,
          conflictPolicy: replace ? ConflictPolicy.REPLACE : ConflictPolicy.UNSPECIFIED,
          cron: "0 * * * *",
        }),
      ScheduleByInterval: (c: TestChime, subject: string, name?: string, replace = false) =>
        c.client.scheduleByInterval({
          subject,
          name,
          conflictPolicy: replace ? ConflictPolicy.REPLACE : ConflictPolicy.UNSPECIFIED,
          every: HOUR,
        }),
    };

    for (const [rpc, create] of Object.entries(creates)) {
      it.each(cases)(
        `${rpc} with subject %s: INVALID_ARGUMENT, nothing stored`,
        async (_l, subject, rule) => {
          const before = await snapshot();
          const err = await connectErrorOf(create(chime, subject));
          expect(err.code, err.message).toBe(Code.InvalidArgument);
          expect(err.rawMessage.startsWith("subject: "), err.rawMessage).toBe(true);
          expect(err.rawMessage).toMatch(rule);
          expect(await snapshot()).toEqual(before);
        },
      );

      it.each(cases)(
        `${rpc} REPLACE of an existing schedule with subject %s: refused, the schedule unchanged`,
        async (_l, subject, rule) => {
          const before = await snapshot();
          const err = await connectErrorOf(create(chime, subject, "target", true));
          expect(err.code, err.message).toBe(Code.InvalidArgument);
          expect(err.rawMessage).toMatch(/^subject: /);
          expect(err.rawMessage).toMatch(rule);
          expect(await snapshot()).toEqual(before);
          const target = await chime.client.getSchedule({
            target: { case: "scheduleId", value: existingId },
          });
          expect(target.subject).toBe("tasks.target");
          expect(target.trigger.case).toBe("interval");
        },
      );
    }
  });

  describe("over gRPC (@grpc/grpc-js)", () => {
    const requests: Record<string, (subject: string) => object> = {
      ScheduleByTime: (subject) => ({ subject, delay: { seconds: 3600 } }),
      ScheduleByCron: (subject) => ({ subject, cron: "0 * * * *" }),
      ScheduleByInterval: (subject) => ({ subject, every: { seconds: 3600 } }),
    };

    for (const [rpc, request] of Object.entries(requests)) {
      it.each(cases)(
        `${rpc} with subject %s: INVALID_ARGUMENT, nothing stored`,
        async (_l, subject, rule) => {
          const before = await snapshot();
          const err = await grpcErrorOf(grpc.unary(rpc, request(subject)));
          expect(err.code, err.details).toBe(status.INVALID_ARGUMENT);
          expect(err.details).toMatch(/^subject: /);
          expect(err.details).toMatch(rule);
          expect(await snapshot()).toEqual(before);
        },
      );

      it.each(cases)(
        `${rpc} REPLACE of an existing schedule with subject %s: refused, the schedule unchanged`,
        async (_l, subject, rule) => {
          const before = await snapshot();
          const err = await grpcErrorOf(
            grpc.unary(rpc, {
              ...request(subject),
              name: "target",
              conflictPolicy: "CONFLICT_POLICY_REPLACE",
            }),
          );
          expect(err.code, err.details).toBe(status.INVALID_ARGUMENT);
          expect(err.details).toMatch(/^subject: /);
          expect(err.details).toMatch(rule);
          expect(await snapshot()).toEqual(before);
        },
      );
    }
  });

  it("a subject inside the space is still accepted, and REPLACE with one takes effect", async () => {
    const replaced = await chime.client.scheduleByInterval({
      name: "target",
      subject: "tasks.target.moved",
      every: HOUR,
      conflictPolicy: ConflictPolicy.REPLACE,
    });
    expect(replaced.scheduleId).toBe(existingId);
    expect(replaced.schedule?.subject).toBe("tasks.target.moved");
  });
});
