import { create, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import {
  FileDescriptorProtoSchema,
  file_google_protobuf_wrappers,
  type StringValue,
  StringValueSchema,
} from "@bufbuild/protobuf/wkt";
import {
  GetScheduleRequestSchema,
  SchedulerService,
  ScheduleSchema,
  UnscheduleResponseSchema,
} from "@chime/sdk";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  Client,
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { type GrpcService, grpcServiceFromConnect, replyEncoder } from "./grpc-binding.js";

const GET_SCHEDULE = "/chime.v1.SchedulerService/GetSchedule";
const UNSCHEDULE = "/chime.v1.SchedulerService/Unschedule";
const identity = (bytes: Buffer): Buffer => bytes;

let server: Server | undefined;
let client: Client | undefined;

afterEach(() => {
  client?.close();
  server?.forceShutdown();
  client = undefined;
  server = undefined;
});

async function serve(service: GrpcService): Promise<Client> {
  server = new Server();
  server.addService(service.definition, service.implementation);
  const port = await new Promise<number>((resolve, reject) => {
    server?.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    );
  });
  client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  return client;
}

/** One unary call with raw bytes, so a test can send what no generated client would. */
function rawUnary(
  c: Client,
  path: string,
  bytes: Buffer,
  metadata = new Metadata(),
): Promise<{ response: Buffer; trailer: Metadata }> {
  return new Promise((resolve, reject) => {
    let response: Buffer | undefined;
    const call = c.makeUnaryRequest(path, identity, identity, bytes, metadata, (err, res) => {
      if (err) {
        reject(err);
      } else {
        response = res;
      }
    });
    call.on("status", (s) => {
      if (response) {
        resolve({ response, trailer: s.metadata });
      }
    });
  });
}

describe("grpcServiceFromConnect", () => {
  it("names each method by its full gRPC path", () => {
    const { definition } = grpcServiceFromConnect(SchedulerService, {});
    expect(definition.getSchedule?.path).toBe(GET_SCHEDULE);
    expect(Object.keys(definition)).toHaveLength(SchedulerService.methods.length);
  });

  it("answers malformed request bytes with INVALID_ARGUMENT, without calling the handler", async () => {
    let called = false;
    const c = await serve(
      grpcServiceFromConnect(SchedulerService, {
        getSchedule() {
          called = true;
          return {};
        },
      }),
    );
    // Field 1 (schedule_id), length-delimited, claims 127 bytes and brings 2.
    const err = await rawUnary(c, GET_SCHEDULE, Buffer.from([0x0a, 0x7f, 0x61, 0x62])).catch(
      (e: unknown) => e as ServiceError,
    );
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect((err as ServiceError).details).toMatch(/^parse binary: /);
    expect(called).toBe(false);
    // The server still answers.
    const ok = await rawUnary(c, GET_SCHEDULE, Buffer.alloc(0));
    expect(ok.response.length).toBe(0);
  });

  it("answers with a reply encoder's bytes for its message type, and toBinary's for others", async () => {
    const seen: string[] = [];
    const c = await serve(
      grpcServiceFromConnect(
        SchedulerService,
        {
          getSchedule: (req) => ({ scheduleId: req.target.value ?? "" }),
          unschedule: () => ({ existed: true }),
        },
        {
          replyEncoders: [
            replyEncoder(ScheduleSchema, (schedule) => {
              seen.push(schedule.scheduleId);
              return toBinary(ScheduleSchema, { ...schedule, subject: "tasks.encoded" });
            }),
          ],
        },
      ),
    );
    const request = toBinary(
      GetScheduleRequestSchema,
      create(GetScheduleRequestSchema, { target: { case: "scheduleId", value: "s-1" } }),
    );
    const { response } = await rawUnary(c, GET_SCHEDULE, Buffer.from(request));
    expect(fromBinary(ScheduleSchema, response)).toMatchObject({
      scheduleId: "s-1",
      subject: "tasks.encoded",
    });
    expect(seen).toEqual(["s-1"]);
    const unscheduled = await rawUnary(c, UNSCHEDULE, Buffer.alloc(0));
    expect(fromBinary(UnscheduleResponseSchema, unscheduled.response).existed).toBe(true);
  });

  it("maps a ConnectError to the same status code, message and metadata", async () => {
    const c = await serve(
      grpcServiceFromConnect(SchedulerService, {
        getSchedule() {
          throw new ConnectError(
            "schedule s-9 not found",
            Code.NotFound,
            new Headers({ "x-hint": "list", "x-blob-bin": "AQID" }),
          );
        },
      }),
    );
    const err = (await rawUnary(c, GET_SCHEDULE, Buffer.alloc(0)).catch(
      (e: unknown) => e,
    )) as ServiceError;
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toBe("schedule s-9 not found");
    expect(err.metadata.get("x-hint")).toEqual(["list"]);
    expect(err.metadata.get("x-blob-bin")).toEqual([Buffer.from([1, 2, 3])]);
  });

  it("maps any other thrown value to INTERNAL", async () => {
    const c = await serve(
      grpcServiceFromConnect(SchedulerService, {
        async getSchedule() {
          throw new TypeError("cannot read properties of undefined");
        },
      }),
    );
    const err = (await rawUnary(c, GET_SCHEDULE, Buffer.alloc(0)).catch(
      (e: unknown) => e,
    )) as ServiceError;
    expect(err.code).toBe(status.INTERNAL);
    expect(err.details).toBe("cannot read properties of undefined");
  });

  it("gives the handler a real context: headers, method, protocol", async () => {
    const seen: string[] = [];
    const c = await serve(
      grpcServiceFromConnect(SchedulerService, {
        getSchedule(req, context) {
          seen.push(
            context.method.name,
            context.protocolName,
            context.requestHeader.get("x-tenant") ?? "",
            context.requestHeader.get("x-key-bin") ?? "",
            String(context.timeoutMs() !== undefined),
          );
          context.responseHeader.set("x-header", "h");
          context.responseTrailer.set("x-trailer", "t");
          return { scheduleId: req.target.case === "scheduleId" ? req.target.value : "" };
        },
      }),
    );
    const md = new Metadata();
    md.set("x-tenant", "acme");
    md.set("x-key-bin", Buffer.from([0xff, 0x00]));
    const { trailer } = await rawUnary(c, GET_SCHEDULE, Buffer.alloc(0), md);
    expect(seen).toEqual(["GetSchedule", "grpc", "acme", "/wA", "false"]);
    expect(trailer.get("x-trailer")).toEqual(["t"]);
  });

  it("runs Connect interceptors around the handler", async () => {
    const order: string[] = [];
    const auth: Interceptor = (next) => async (req) => {
      order.push(`interceptor ${req.method.name} ${req.header.get("authorization")}`);
      if (req.header.get("authorization") !== "Bearer ok") {
        throw new ConnectError("missing token", Code.Unauthenticated);
      }
      return next(req);
    };
    const c = await serve(
      grpcServiceFromConnect(
        SchedulerService,
        {
          getSchedule() {
            order.push("handler");
            return {};
          },
        },
        { interceptors: [auth] },
      ),
    );
    const err = (await rawUnary(c, GET_SCHEDULE, Buffer.alloc(0)).catch(
      (e: unknown) => e,
    )) as ServiceError;
    expect(err.code).toBe(status.UNAUTHENTICATED);
    const md = new Metadata();
    md.set("authorization", "Bearer ok");
    await rawUnary(c, GET_SCHEDULE, Buffer.alloc(0), md);
    expect(order).toEqual([
      "interceptor GetSchedule null",
      "interceptor GetSchedule Bearer ok",
      "handler",
    ]);
  });

  it("aborts the handler's signal when the client cancels", async () => {
    let aborted: unknown;
    const c = await serve(
      grpcServiceFromConnect(SchedulerService, {
        async getSchedule(_req, context) {
          await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
          aborted = context.signal.reason;
          return {};
        },
      }),
    );
    const call = c.makeUnaryRequest(GET_SCHEDULE, identity, identity, Buffer.alloc(0), () => {});
    await new Promise((resolve) => setTimeout(resolve, 100));
    call.cancel();
    await expect.poll(() => aborted).toBeInstanceOf(ConnectError);
    expect((aborted as ConnectError).code).toBe(Code.Canceled);
  });

  it("streams a server-streaming method's messages", async () => {
    const { service, count } = countingService();
    const c = await serve(
      grpcServiceFromConnect(service, {
        count: async function* (req: StringValue) {
          for (let i = 1; i <= Number(req.value); i++) {
            yield create(StringValueSchema, { value: `${i}` });
          }
        },
      }),
    );
    const received: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const request = Buffer.from([0x0a, 0x01, 0x33]); // StringValue{value: "3"}
      const stream = c.makeServerStreamRequest(count, identity, identity, request);
      stream.on("data", (b: Buffer) => received.push(b.subarray(2).toString()));
      stream.on("error", reject);
      stream.on("end", () => resolve());
    });
    expect(received).toEqual(["1", "2", "3"]);
  });
});

/** A server-streaming service built at run time; chime.v1 has none yet. */
type CountingService = GenService<{
  count: {
    methodKind: "server_streaming";
    input: typeof StringValueSchema;
    output: typeof StringValueSchema;
  };
}>;

function countingService(): { service: CountingService; count: string } {
  const registry = createFileRegistry(
    create(FileDescriptorProtoSchema, {
      name: "test/v1/counting.proto",
      package: "test.v1",
      syntax: "proto3",
      dependency: ["google/protobuf/wrappers.proto"],
      service: [
        {
          name: "CountingService",
          method: [
            {
              name: "Count",
              inputType: ".google.protobuf.StringValue",
              outputType: ".google.protobuf.StringValue",
              serverStreaming: true,
            },
          ],
        },
      ],
    }),
    (name) =>
      name === "google/protobuf/wrappers.proto" ? file_google_protobuf_wrappers : undefined,
  );
  const service = registry.getService("test.v1.CountingService");
  if (!service) {
    throw new Error("test.v1.CountingService did not register");
  }
  // What generated code asserts too: the descriptor has exactly this shape.
  return { service: service as CountingService, count: "/test.v1.CountingService/Count" };
}
