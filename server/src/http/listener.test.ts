import { Agent, request as httpRequest } from "node:http";
import { connect as netConnect } from "node:net";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { SchedulerService, ScheduleSchema } from "@chime/sdk";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createClient,
  type ServiceImpl,
  type Transport,
} from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import {
  credentials,
  loadPackageDefinition,
  Metadata,
  type ServiceClientConstructor,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpcServiceFromConnect } from "../api/grpc-binding.js";
import { type Listener, startListener } from "./listener.js";

const PAGE_SIZE_MESSAGE = "page_size: must be at most 1000";
const PROTO_DIR = fileURLToPath(new URL("../../../proto", import.meta.url));

const stub: Partial<ServiceImpl<typeof SchedulerService>> = {
  getSchedule(req, context) {
    if (req.target.case !== "scheduleId") {
      throw new ConnectError("target: schedule_id is required", Code.InvalidArgument);
    }
    context.responseTrailer.set("x-served-by", context.protocolName);
    return create(ScheduleSchema, {
      scheduleId: req.target.value,
      labels: { tenant: context.requestHeader.get("x-tenant") ?? "" },
    });
  },
  listSchedules() {
    throw new ConnectError(
      PAGE_SIZE_MESSAGE,
      Code.InvalidArgument,
      new Headers({ "x-rule": "page-size" }),
      [{ desc: ScheduleSchema, value: { name: "detail" } }],
    );
  },
  async pauseSchedule(_req, context) {
    // Outlives a short client deadline: the signal must fire.
    await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
    pauseAborted.push(ConnectError.from(context.signal.reason).code);
    throw context.signal.reason;
  },
};

const pauseAborted: Code[] = [];
const silent = pino({ level: "silent" });

describe("one port: gRPC, gRPC-Web, Connect, plain HTTP", () => {
  let listener: Listener;
  let baseUrl: string;

  beforeAll(async () => {
    listener = await startListener({
      port: 0,
      log: silent,
      connectRoutes: (router: ConnectRouter) => {
        router.service(SchedulerService, stub);
      },
      grpcServices: [grpcServiceFromConnect(SchedulerService, stub)],
      httpRoutes: {
        "/version": (_req, res) => {
          res.writeHead(200, { "content-type": "text/plain" }).end("0.1.0\n");
        },
      },
    });
    baseUrl = `http://${listener.address.host}:${listener.address.port}`;
  });

  afterAll(async () => {
    await listener.close();
  });

  it("reports the port it bound", () => {
    expect(listener.address.host).toBe("127.0.0.1");
    expect(listener.address.port).toBeGreaterThan(0);
  });

  describe.each([
    [
      "Connect over HTTP/1.1",
      (url: string) => createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
    ],
    [
      "gRPC-Web over HTTP/1.1",
      (url: string) => createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }),
    ],
    // HTTP/2 with prior knowledge: served by grpc-js through the binding.
    ["gRPC over h2c (connect-node client)", (url: string) => createGrpcTransport({ baseUrl: url })],
  ] as const)("%s", (_name, transport: (url: string) => Transport) => {
    it("answers a call", async () => {
      const client = createClient(SchedulerService, transport(baseUrl));
      const schedule = await client.getSchedule(
        { target: { case: "scheduleId", value: "s-1" } },
        { headers: { "x-tenant": "acme" } },
      );
      expect(schedule.scheduleId).toBe("s-1");
      expect(schedule.labels).toEqual({ tenant: "acme" });
    });

    it("carries the error code, message, metadata and details", async () => {
      const client = createClient(SchedulerService, transport(baseUrl));
      const err = await client.listSchedules({ pageSize: 5000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      const connectErr = err as ConnectError;
      expect(connectErr.code).toBe(Code.InvalidArgument);
      expect(connectErr.rawMessage).toBe(PAGE_SIZE_MESSAGE);
      expect(connectErr.metadata.get("x-rule")).toBe("page-size");
      expect(connectErr.findDetails(ScheduleSchema).map((d) => d.name)).toEqual(["detail"]);
    });
  });

  describe("@grpc/grpc-js client from the .proto files", () => {
    let client: GrpcTestClient;
    beforeAll(() => {
      client = grpcClientFromProto(`${listener.address.host}:${listener.address.port}`);
    });
    afterAll(() => client.close());

    it("answers a call and passes metadata both ways", async () => {
      const md = new Metadata();
      md.set("x-tenant", "acme");
      const { response, trailer } = await client.unary(
        "GetSchedule",
        { scheduleId: "s-2", nextFireCount: 0 },
        md,
      );
      expect(response).toMatchObject({ scheduleId: "s-2", labels: { tenant: "acme" } });
      expect(trailer.get("x-served-by")).toEqual(["grpc"]);
    });

    it("carries the error code, message and metadata", async () => {
      const err = await client.unary("ListSchedules", { pageSize: 5000 }).catch((e: unknown) => e);
      const serviceErr = err as ServiceError;
      expect(serviceErr.code).toBe(status.INVALID_ARGUMENT);
      expect(serviceErr.details).toBe(PAGE_SIZE_MESSAGE);
      expect(serviceErr.metadata.get("x-rule")).toEqual(["page-size"]);
    });

    it("aborts the handler's signal at the client's deadline", async () => {
      const started = Date.now();
      const err = await client
        .unary("PauseSchedule", { scheduleId: "s-3" }, new Metadata(), Date.now() + 200)
        .catch((e: unknown) => e);
      expect((err as ServiceError).code).toBe(status.DEADLINE_EXCEEDED);
      expect(Date.now() - started).toBeLessThan(5_000);
      await expect.poll(() => pauseAborted.length).toBe(1);
      expect([Code.DeadlineExceeded, Code.Canceled]).toContain(pauseAborted[0]);
    });

    it("answers UNIMPLEMENTED for a method the implementation lacks", async () => {
      const err = await client.unary("TriggerSchedule", { scheduleId: "s-4" }).catch((e) => e);
      expect((err as ServiceError).code).toBe(status.UNIMPLEMENTED);
    });
  });

  describe("plain fetch", () => {
    it("posts Connect JSON", async () => {
      const res = await fetch(`${baseUrl}/chime.v1.SchedulerService/GetSchedule`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ scheduleId: "s-5" }),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ scheduleId: "s-5" });
    });

    it("gets a Connect JSON error body", async () => {
      const res = await fetch(`${baseUrl}/chime.v1.SchedulerService/ListSchedules`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ pageSize: 5000 }),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({
        code: "invalid_argument",
        message: PAGE_SIZE_MESSAGE,
      });
    });

    it("serves /healthz, /readyz and extra routes, 404 otherwise", async () => {
      const health = await fetch(`${baseUrl}/healthz`);
      expect([health.status, await health.text()]).toEqual([200, "ok\n"]);
      const ready = await fetch(`${baseUrl}/readyz?verbose=1`);
      expect(ready.status).toBe(200);
      await ready.arrayBuffer();
      const version = await fetch(`${baseUrl}/version`);
      expect(await version.text()).toBe("0.1.0\n");
      const missing = await fetch(`${baseUrl}/nope`);
      expect(missing.status).toBe(404);
      await missing.arrayBuffer();
    });

    it("keeps HTTP/1.1 connections alive between requests", async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const first = await getWith(agent, `${baseUrl}/healthz`);
        const second = await getWith(agent, `${baseUrl}/healthz`);
        expect(first.reused).toBe(false);
        expect(second.reused).toBe(true);
      } finally {
        agent.destroy();
      }
    });
  });

  describe("raw sockets", () => {
    it("routes a preface that arrives a few bytes at a time", async () => {
      const reply = await rawExchange(listener.address, [
        "GE",
        "T /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      ]);
      expect(reply).toMatch(/^HTTP\/1\.1 200 OK/);
      const h2 = await rawExchange(
        listener.address,
        [
          "PRI * HT",
          "TP/2.0\r\n",
          "\r\nSM\r\n\r\n",
          // An empty SETTINGS frame: the server must answer with its own SETTINGS.
          Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
        ],
        (received) => received.length >= 9,
      );
      expect(h2.length).toBeGreaterThanOrEqual(9);
      // The first frame from the server is SETTINGS (type 4).
      expect(Buffer.from(h2, "latin1")[3]).toBe(4);
    });

    it("survives a client that resets mid-request", async () => {
      const socket = netConnect(listener.address.port, listener.address.host);
      await new Promise((resolve) => socket.once("connect", resolve));
      socket.write("POST /chime.v1.SchedulerService/GetSchedule HTTP/1.1\r\nHost: x\r\n");
      socket.resetAndDestroy();
      const res = await fetch(`${baseUrl}/healthz`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    });
  });
});

describe("listener lifecycle", () => {
  it("times out a client that never finishes its headers", async () => {
    const listener = await startListener({ port: 0, log: silent, headersTimeoutMs: 300 });
    try {
      const started = Date.now();
      const reply = await rawExchange(listener.address, ["GET /healthz HTTP/1.1\r\nHost: x\r\n"]);
      expect(reply).toMatch(/^HTTP\/1\.1 408/);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await listener.close();
    }
  });

  it("drains: in-flight calls finish, new connections are refused", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const impl: Partial<ServiceImpl<typeof SchedulerService>> = {
      async getSchedule(req) {
        await gate;
        return { scheduleId: req.target.case === "scheduleId" ? req.target.value : "" };
      },
    };
    const listener = await startListener({
      port: 0,
      log: silent,
      connectRoutes: (router) => {
        router.service(SchedulerService, impl);
      },
      grpcServices: [grpcServiceFromConnect(SchedulerService, impl)],
    });
    const url = `http://${listener.address.host}:${listener.address.port}`;
    const connectClient = createClient(
      SchedulerService,
      createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
    );
    const grpcClient = grpcClientFromProto(`${listener.address.host}:${listener.address.port}`);
    try {
      const viaConnect = connectClient.getSchedule({ target: { case: "scheduleId", value: "a" } });
      const viaGrpc = grpcClient.unary("GetSchedule", { scheduleId: "b" });
      await new Promise((resolve) => setTimeout(resolve, 100));

      const drained = listener.drain();
      expect(listener.drain()).toBe(drained);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();

      release();
      expect((await viaConnect).scheduleId).toBe("a");
      expect((await viaGrpc).response).toMatchObject({ scheduleId: "b" });
      await drained;
      await listener.closed();
    } finally {
      grpcClient.close();
      await listener.close();
    }
  });

  it("bounds a drain: a call that never ends is cut at drainTimeoutMs", async () => {
    const impl: Partial<ServiceImpl<typeof SchedulerService>> = {
      getSchedule: () => new Promise(() => {}),
    };
    const listener = await startListener({
      port: 0,
      log: silent,
      drainTimeoutMs: 200,
      connectRoutes: (router) => {
        router.service(SchedulerService, impl);
      },
      grpcServices: [grpcServiceFromConnect(SchedulerService, impl)],
    });
    const url = `http://${listener.address.host}:${listener.address.port}`;
    const grpcClient = grpcClientFromProto(`${listener.address.host}:${listener.address.port}`);
    try {
      const viaConnect = createClient(
        SchedulerService,
        createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
      )
        .getSchedule({})
        .catch((e: unknown) => ConnectError.from(e));
      const viaGrpc = grpcClient.unary("GetSchedule", {}).catch((e: unknown) => e as ServiceError);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = Date.now();
      await listener.drain();
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(await viaConnect).toBeInstanceOf(ConnectError);
      expect((await viaGrpc) as ServiceError).toMatchObject({ code: status.UNAVAILABLE });
    } finally {
      grpcClient.close();
      await listener.close();
    }
  });

  it("answers /readyz from the ready callback, GET and HEAD only", async () => {
    let ready = false;
    const listener = await startListener({ port: 0, log: silent, ready: () => ready });
    const url = `http://${listener.address.host}:${listener.address.port}/readyz`;
    try {
      const notReady = await fetch(url);
      expect([notReady.status, await notReady.text()]).toEqual([503, "not ready\n"]);
      ready = true;
      const head = await fetch(url, { method: "HEAD" });
      expect(head.status).toBe(200);
      const post = await fetch(url, { method: "POST" });
      expect(post.status).toBe(405);
      await post.arrayBuffer();
    } finally {
      await listener.close();
    }
  });

  it("ends a drain as soon as close() cuts it short", async () => {
    const impl: Partial<ServiceImpl<typeof SchedulerService>> = {
      getSchedule: () => new Promise(() => {}),
    };
    const listener = await startListener({
      port: 0,
      log: silent,
      grpcServices: [grpcServiceFromConnect(SchedulerService, impl)],
    });
    const grpcClient = grpcClientFromProto(`${listener.address.host}:${listener.address.port}`);
    try {
      const call = grpcClient.unary("GetSchedule", {}).catch((e: unknown) => e);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = Date.now();
      const drained = listener.drain();
      await listener.close();
      await drained;
      expect(Date.now() - started).toBeLessThan(1_000);
      await call;
    } finally {
      grpcClient.close();
    }
  });

  it("closes abruptly and idempotently", async () => {
    const listener = await startListener({ port: 0, log: silent });
    const socket = netConnect(listener.address.port, listener.address.host);
    socket.on("error", () => {});
    await new Promise((resolve) => socket.once("connect", resolve));
    const gone = new Promise((resolve) => socket.once("close", resolve));
    const first = listener.close();
    expect(listener.close()).toBe(first);
    await first;
    await gone;
    await listener.closed();
    await listener.drain();
  });

  it("rejects when the port is taken", async () => {
    const first = await startListener({ port: 0, log: silent });
    try {
      await expect(startListener({ port: first.address.port, log: silent })).rejects.toThrow(
        /EADDRINUSE/,
      );
    } finally {
      await first.close();
    }
  });

  it("drains through await using", async () => {
    let address: { host: string; port: number } | undefined;
    {
      await using listener = await startListener({ port: 0, log: silent });
      address = listener.address;
    }
    await expect(fetch(`http://${address.host}:${address.port}/healthz`)).rejects.toThrow();
  });
});

interface GrpcTestClient {
  unary(
    method: string,
    request: object,
    metadata?: Metadata,
    deadline?: number,
  ): Promise<{ response: unknown; trailer: Metadata }>;
  close(): void;
}

type UnaryMethod = (
  request: object,
  metadata: Metadata,
  options: { deadline?: number },
  callback: (err: ServiceError | null, response?: unknown) => void,
) => { on(event: "status", listener: (s: { metadata: Metadata }) => void): void };

/** A client the way another team would build one: from the .proto files. */
function grpcClientFromProto(address: string): GrpcTestClient {
  const definition = loadSync("chime/v1/scheduler_service.proto", {
    includeDirs: [PROTO_DIR],
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = loadPackageDefinition(definition) as unknown as {
    chime: { v1: { SchedulerService: ServiceClientConstructor } };
  };
  const client = new loaded.chime.v1.SchedulerService(address, credentials.createInsecure());
  return {
    unary(method, request, metadata = new Metadata(), deadline) {
      const call = client[method] as UnaryMethod;
      return new Promise((resolve, reject) => {
        let response: unknown;
        let settled = false;
        const stream = call.call(
          client,
          request,
          metadata,
          deadline === undefined ? {} : { deadline },
          (err, res) => {
            if (err) {
              settled = true;
              reject(err);
            }
            response = res;
          },
        );
        stream.on("status", (s) => {
          if (!settled) {
            resolve({ response, trailer: s.metadata });
          }
        });
      });
    },
    close: () => client.close(),
  };
}

function getWith(agent: Agent, url: string): Promise<{ reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent }, (res) => {
      res.resume();
      res.on("end", () => resolve({ reused: req.reusedSocket }));
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * Writes the chunks with pauses between them; returns what came back once the server closes,
 * `enough` says so, or 2 s pass.
 */
async function rawExchange(
  address: { host: string; port: number },
  chunks: (string | Buffer)[],
  enough: (received: Buffer) => boolean = () => false,
): Promise<string> {
  const socket = netConnect(address.port, address.host);
  socket.on("error", () => {});
  await new Promise((resolve) => socket.once("connect", resolve));
  let received = Buffer.alloc(0);
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2_000);
    const finish = () => {
      clearTimeout(timer);
      resolve();
    };
    socket.once("close", finish);
    socket.on("data", (d: Buffer) => {
      received = Buffer.concat([received, d]);
      if (enough(received)) {
        finish();
      }
    });
  });
  for (const chunk of chunks) {
    socket.write(chunk);
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  await done;
  socket.destroy();
  return received.toString("latin1");
}
