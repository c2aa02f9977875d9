import { once } from "node:events";
import { request as httpRequest } from "node:http";
import { connect as http2Connect } from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  ConflictPolicy,
  MisfirePolicy,
  ScheduleByTimeRequestSchema,
  SchedulerService,
} from "@chime/sdk";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { createGrpcJsClient, type GrpcJsClient, grpcErrorOf } from "../harness/grpc-js-client.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { connectErrorOf, sleep } from "../harness/rpc-errors.js";
import { recordTasks } from "../harness/task-recorder.js";

// Small limits, so that each can be crossed cheaply; each refusal must name its setting.
const LIMITS = {
  maxRequestBytes: "65536",
  maxPayloadBytes: "1000",
  maxHeaders: "4",
  maxHeaderBytes: "100",
  maxNameLength: "20",
  maxLabels: "3",
  maxLabelKeyLength: "10",
  maxLabelValueLength: "10",
  maxPageSize: "10",
  httpHeaderTimeout: "1s",
  httpRequestTimeout: "2s",
  httpIdleTimeout: "2s",
} as const;
const HOUR = { seconds: 3600n, nanos: 0 };
const LIST_PATH = "/chime.v1.SchedulerService/ListSchedules";
const CREATE_PATH = "/chime.v1.SchedulerService/ScheduleByTime";
// Generous: only a machine that stalls for seconds comes near it, and the point is that the
// connection does not stay open for ever.
const CLOSE_SLACK_MS = 10_000;

/** How long after `start` the socket closed. */
async function closedAfter(socket: Socket, start: number): Promise<number> {
  if (!socket.destroyed) await once(socket, "close");
  return Date.now() - start;
}

async function rawSocket(port: number): Promise<Socket> {
  const socket = netConnect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  // Reads whatever the server answers (a 408, a GOAWAY), so that "close" is reached.
  socket.resume();
  await once(socket, "connect");
  return socket;
}

describe("limits", () => {
  let nats: TestNats;
  let chime: TestChime;
  let grpc: GrpcJsClient;
  let port: number;

  async function storedIds(): Promise<string[]> {
    const page = await chime.client.listSchedules({ pageSize: 10 });
    return page.schedules.map((s) => s.scheduleId).sort();
  }

  beforeAll(async () => {
    nats = await startTestNats();
    chime = await startTestChime(nats.url, LIMITS);
    grpc = createGrpcJsClient(chime.grpcAddress);
    port = chime.service.address.port;
    await chime.client.scheduleByInterval({ subject: "tasks.seed", name: "seed", every: HOUR });
  });
  afterAll(async () => {
    grpc?.close();
    await chime?.stop();
    await nats?.stop();
  });

  describe("what one schedule may hold: INVALID_ARGUMENT naming the field and the setting", () => {
    const base = { subject: "tasks.limit", when: { case: "delay" as const, value: HOUR } };
    const cases = [
      [
        "payload",
        { payload: new Uint8Array(1001) },
        "payload",
        /at most 1000 bytes \(--max-payload-bytes/,
      ],
      [
        "header count",
        { headers: { A: "1", B: "2", C: "3", D: "4", E: "5" } },
        "headers",
        /at most 4 entries \(--max-headers\)/,
      ],
      [
        "header bytes",
        { headers: { "X-Big": "v".repeat(96) } },
        "headers",
        /at most 100 bytes \(--max-header-bytes\)/,
      ],
      [
        "name length",
        { name: "n".repeat(21) },
        "name",
        /at most 20 characters \(--max-name-length\)/,
      ],
      [
        "label count",
        { labels: { a: "1", b: "2", c: "3", d: "4" } },
        "labels",
        /at most 3 entries \(--max-labels\)/,
      ],
      [
        "label key length",
        { labels: { abcdefghijk: "1" } },
        'labels["abcdefghijk"]',
        /1 to 10 \(--max-label-key-length\)/,
      ],
      [
        "label value length",
        { labels: { k: "v".repeat(11) } },
        'labels["k"]',
        /at most 10 printable characters \(--max-label-value-length\)/,
      ],
    ] as const;

    it.each(cases)("%s, over Connect", async (_what, fields, field, rule) => {
      const before = await storedIds();
      const err = await connectErrorOf(chime.client.scheduleByTime({ ...base, ...fields }));
      expect(err.code, err.message).toBe(Code.InvalidArgument);
      expect(err.rawMessage.startsWith(`${field}: `), err.rawMessage).toBe(true);
      expect(err.rawMessage).toMatch(rule);
      expect(await storedIds()).toEqual(before);
    });

    it.each(cases)("%s, over gRPC", async (_what, fields, field, rule) => {
      const before = await storedIds();
      const { payload, ...rest } = fields as { payload?: Uint8Array };
      const err = await grpcErrorOf(
        grpc.unary("ScheduleByTime", {
          subject: "tasks.limit",
          delay: { seconds: 3600 },
          ...rest,
          ...(payload === undefined ? {} : { payload: Buffer.from(payload) }),
        }),
      );
      expect(err.code, err.details).toBe(status.INVALID_ARGUMENT);
      expect(err.details.startsWith(`${field}: `), err.details).toBe(true);
      expect(err.details).toMatch(rule);
      expect(await storedIds()).toEqual(before);
    });

    it("page size: INVALID_ARGUMENT naming page_size and --max-page-size", async () => {
      const err = await connectErrorOf(chime.client.listSchedules({ pageSize: 11 }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toBe("page_size: must be at most 10 (--max-page-size)");
      const grpcErr = await grpcErrorOf(grpc.unary("ListSchedules", { pageSize: 11 }));
      expect(grpcErr.code).toBe(status.INVALID_ARGUMENT);
      expect(grpcErr.details).toMatch(/--max-page-size/);
    });

    it("each limit itself is allowed", async () => {
      const created = await chime.client.scheduleByTime({
        ...base,
        name: "n".repeat(20),
        payload: new Uint8Array(1000),
        headers: { A: "1", B: "2", C: "3", "X-Big": "v".repeat(86) },
        labels: { abcdefghij: "v".repeat(10), b: "2", c: "3" },
      });
      expect(created.created).toBe(true);
      await chime.client.unschedule({ target: { case: "scheduleId", value: created.scheduleId } });
    });
  });

  describe("request body size: RESOURCE_EXHAUSTED before the body is parsed", () => {
    // A well-formed request larger than --max-request-bytes (64 KiB).
    const big = create(ScheduleByTimeRequestSchema, {
      subject: "tasks.big",
      payload: new Uint8Array(100_000),
      when: { case: "delay", value: HOUR },
    });

    it("Connect JSON: HTTP 429 resource_exhausted naming --max-request-bytes, nothing stored", async () => {
      const before = await storedIds();
      const body = JSON.stringify({
        subject: "tasks.big",
        delay: "3600s",
        payload: Buffer.alloc(100_000).toString("base64"),
      });
      const res = await fetch(`${chime.baseUrl}${CREATE_PATH}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      expect(res.status).toBe(429);
      const error = (await res.json()) as { code: string; message: string };
      expect(error.code).toBe("resource_exhausted");
      expect(error.message).toBe(
        `request body: ${Buffer.byteLength(body)} bytes is more than the 65536 allowed (--max-request-bytes)`,
      );
      expect(await storedIds()).toEqual(before);
    });

    // connect-node's client streams its body without a Content-Length: Connect's readMaxBytes
    // stops it at the same limit, in its own words.
    it("Connect binary, through connect-node's own client", async () => {
      const before = await storedIds();
      const client = createClient(
        SchedulerService,
        createConnectTransport({
          baseUrl: chime.baseUrl,
          httpVersion: "1.1",
          useBinaryFormat: true,
        }),
      );
      const err = await connectErrorOf(client.scheduleByTime(big));
      expect(err.code, err.message).toBe(Code.ResourceExhausted);
      expect(err.rawMessage).toMatch(/larger than configured readMaxBytes 65536/);
      expect(await storedIds()).toEqual(before);
    });

    it("gRPC-Web: grpc-status 8 naming --max-request-bytes", async () => {
      const message = toBinary(ScheduleByTimeRequestSchema, big);
      const frame = Buffer.alloc(5 + message.length);
      frame.writeUInt32BE(message.length, 1);
      frame.set(message, 5);
      const res = await fetch(`${chime.baseUrl}${CREATE_PATH}`, {
        method: "POST",
        headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
        body: frame,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("grpc-status")).toBe(String(status.RESOURCE_EXHAUSTED));
      expect(decodeURIComponent(res.headers.get("grpc-message") ?? "")).toMatch(
        /--max-request-bytes/,
      );
    });

    it("a body without Content-Length is cut off at the same limit", async () => {
      const before = await storedIds();
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(
          {
            host: "127.0.0.1",
            port,
            path: CREATE_PATH,
            method: "POST",
            headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
          },
          (res) => {
            let body = "";
            res.on("data", (chunk: Buffer) => {
              body += chunk.toString();
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on("error", reject);
        req.write(`{"subject":"tasks.big","delay":"3600s","payload":"`);
        for (let i = 0; i < 10; i++) req.write("A".repeat(10_000));
        req.end(`"}`);
      });
      expect(answer.status).toBe(429);
      expect(JSON.parse(answer.body)).toMatchObject({ code: "resource_exhausted" });
      expect(answer.body).toMatch(/65536/);
      expect(await storedIds()).toEqual(before);
    });

    it("gRPC: RESOURCE_EXHAUSTED from the message's length prefix", async () => {
      const before = await storedIds();
      const err = await grpcErrorOf(
        grpc.unary("ScheduleByTime", {
          subject: "tasks.big",
          delay: { seconds: 3600 },
          payload: Buffer.alloc(100_000),
        }),
      );
      expect(err.code, err.details).toBe(status.RESOURCE_EXHAUSTED);
      expect(err.details).toMatch(/larger than max \(\d+ vs\.? 65536\)/);
      expect(await storedIds()).toEqual(before);
    });

    it("just under the limit, a request is read and validated as usual", async () => {
      const err = await connectErrorOf(
        chime.client.scheduleByTime({
          subject: "tasks.big",
          payload: new Uint8Array(40_000),
          when: { case: "delay", value: HOUR },
        }),
      );
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toMatch(/^payload: /);
    });
  });

  describe("slow clients cannot hold a connection open", () => {
    it("a connection that sends nothing is closed after --http-header-timeout", async () => {
      const start = Date.now();
      const socket = await rawSocket(port);
      const elapsed = await closedAfter(socket, start);
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(1_000 + CLOSE_SLACK_MS);
    });

    it("HTTP/1.1: half the headers, then nothing: closed after --http-header-timeout", async () => {
      const socket = await rawSocket(port);
      const start = Date.now();
      socket.write(`POST ${LIST_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: applic`);
      const elapsed = await closedAfter(socket, start);
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(1_000 + CLOSE_SLACK_MS);
    });

    it("HTTP/1.1: the headers and half the body: closed after --http-request-timeout", async () => {
      const socket = await rawSocket(port);
      const start = Date.now();
      socket.write(
        `POST ${LIST_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"pageSize":`,
      );
      const elapsed = await closedAfter(socket, start);
      expect(elapsed).toBeGreaterThanOrEqual(1_900);
      expect(elapsed).toBeLessThan(2_000 + CLOSE_SLACK_MS);
    });

    it("HTTP/1.1: an idle keep-alive connection is closed after --http-idle-timeout", async () => {
      const socket = await rawSocket(port);
      const body = "{}";
      socket.write(
        `POST ${LIST_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      const start = Date.now();
      const elapsed = await closedAfter(socket, start);
      expect(elapsed).toBeGreaterThanOrEqual(1_900);
      expect(elapsed).toBeLessThan(2_000 + CLOSE_SLACK_MS);
    });

    it("HTTP/2: the preface and then nothing: closed after --http-idle-timeout", async () => {
      const socket = await rawSocket(port);
      const start = Date.now();
      socket.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
      // An empty SETTINGS frame, as every client sends next.
      socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
      const elapsed = await closedAfter(socket, start);
      expect(elapsed).toBeGreaterThanOrEqual(1_900);
      expect(elapsed).toBeLessThan(2_000 + CLOSE_SLACK_MS);
    });

    it("HTTP/2: half a gRPC request: DEADLINE_EXCEEDED after --http-request-timeout, then closed", async () => {
      const session = http2Connect(`http://127.0.0.1:${port}`);
      session.on("error", () => {});
      const sessionClosed = once(session, "close");
      const stream = session.request({
        ":method": "POST",
        ":path": LIST_PATH,
        "content-type": "application/grpc",
        te: "trailers",
      });
      stream.on("error", () => {});
      const start = Date.now();
      // A length prefix promising 100 bytes, and 10 of them.
      stream.write(Buffer.concat([Buffer.from([0, 0, 0, 0, 100]), Buffer.alloc(10)]));
      const headers: Record<string, unknown> = {};
      stream.on("response", (h) => Object.assign(headers, h));
      stream.on("trailers", (h) => Object.assign(headers, h));
      stream.resume();
      await once(stream, "close");
      const ended = Date.now() - start;
      expect(headers["grpc-status"]).toBe(String(status.DEADLINE_EXCEEDED));
      expect(decodeURIComponent(String(headers["grpc-message"]))).toMatch(
        /not received in full within 2000ms \(--http-request-timeout\)/,
      );
      expect(ended).toBeGreaterThanOrEqual(1_900);
      expect(ended).toBeLessThan(2_000 + CLOSE_SLACK_MS);
      // No call in progress any more: the idle timeout closes the connection.
      await sessionClosed;
      expect(Date.now() - start).toBeLessThan(4_000 + CLOSE_SLACK_MS);
    });

    it("after all of it the service answers", async () => {
      const page = await chime.client.listSchedules({});
      expect(page.schedules.map((s) => s.name)).toContain("seed");
      const got = await grpc.unary<{ name: string }>("GetSchedule", { name: "seed" });
      expect(got.name).toBe("seed");
    });
  });
});

describe("FIRE_ALL catch-up is capped by --max-catchup-fires", () => {
  let nats: TestNats;

  beforeAll(async () => {
    nats = await startTestNats();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it("after a long outage, a per-second FIRE_ALL schedule makes up only the latest 2 fires", async () => {
    const first = await startTestChime(nats.url, { misfireThreshold: "1s" });
    const recorder = await recordTasks(nats.url);
    try {
      const created = await first.client.scheduleByInterval({
        subject: "tasks.catchup",
        name: "every-second",
        every: { seconds: 1n, nanos: 0 },
        misfirePolicy: MisfirePolicy.FIRE_ALL,
        catchupWindow: HOUR,
        conflictPolicy: ConflictPolicy.FAIL,
      });
      const id = created.scheduleId;
      const ofIt = (t: { headers: Readonly<Record<string, string>> }) =>
        t.headers["Chime-Schedule-Id"] === id;
      await recorder.waitFor(ofIt, 1, 10_000);
      await first.stop();
      const stoppedAt = Date.now();
      // Down for about 6 occurrences, well past the misfire threshold.
      await sleep(6_000);
      const second = await startTestChime(nats.url, {
        misfireThreshold: "1s",
        maxCatchupFires: "2",
      });
      try {
        const restartedAt = Date.now();
        // The first on-time fire after the restart comes after the catch-up.
        await recorder.waitFor(
          (t) =>
            ofIt(t) &&
            t.headers["Chime-Trigger"] === "schedule" &&
            Date.parse(t.headers["Chime-Scheduled-At"] ?? "") > restartedAt,
          1,
          15_000,
        );
        const madeUp = recorder.matching(
          (t) =>
            ofIt(t) &&
            t.headers["Chime-Trigger"] === "catchup" &&
            Date.parse(t.headers["Chime-Scheduled-At"] ?? "") > stoppedAt,
        );
        const missed = Math.floor((restartedAt - stoppedAt) / 1000);
        expect(missed).toBeGreaterThanOrEqual(5);
        expect(madeUp).toHaveLength(2);
        // The latest ones: the most recent work is the most likely to still matter.
        const nominals = madeUp.map((t) => Date.parse(t.headers["Chime-Scheduled-At"] ?? ""));
        expect(Math.max(...nominals)).toBeGreaterThan(restartedAt - 3_000);
      } finally {
        await second.stop();
      }
    } finally {
      await recorder.stop();
    }
  });
});
