import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { BadRequestSchema, StatusSchema } from "@chime/sdk";
import { Code, ConnectError } from "@connectrpc/connect";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { createGrpcJsClient, type GrpcJsClient, grpcErrorOf } from "../harness/grpc-js-client.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { connectErrorOf } from "../harness/rpc-errors.js";

describe("validation errors carry google.rpc.BadRequest field violations", () => {
  let nats: TestNats;
  let chime: TestChime;
  let grpc: GrpcJsClient;

  beforeAll(async () => {
    nats = await startTestNats();
    chime = await startTestChime(nats.url);
    grpc = createGrpcJsClient(chime.grpcAddress);
  });
  afterAll(async () => {
    grpc?.close();
    await chime?.stop();
    await nats?.stop();
  });

  it("Connect: the error's details name the field and the rule", async () => {
    const err = await connectErrorOf(
      chime.client.scheduleByCron({ subject: "tasks.details", cron: "61 * * * *" }),
    );
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.code).toBe(Code.InvalidArgument);
    const [details] = err.findDetails(BadRequestSchema);
    expect(details?.fieldViolations).toHaveLength(1);
    expect(details?.fieldViolations[0]?.field).toBe("cron");
    expect(err.rawMessage).toBe(`cron: ${details?.fieldViolations[0]?.description}`);
  });

  it("gRPC: grpc-status-details-bin holds a google.rpc.Status with the same violation", async () => {
    const err = await grpcErrorOf(
      grpc.unary("ScheduleByTime", { subject: "tasks.*", delay: { seconds: "60" } }),
    );
    expect(err.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    const [bytes] = err.metadata.get("grpc-status-details-bin");
    expect(bytes).toBeInstanceOf(Buffer);
    const status = fromBinary(StatusSchema, bytes as Buffer);
    expect(status.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(status.message).toBe(err.details);
    const [detail] = status.details;
    const badRequest = detail === undefined ? undefined : anyUnpack(detail, BadRequestSchema);
    expect(badRequest?.fieldViolations.map((v) => v.field)).toEqual(["subject"]);
    expect(err.details).toBe(`subject: ${badRequest?.fieldViolations[0]?.description}`);
  });
});
