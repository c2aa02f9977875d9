import {
  type Client,
  type ClientReadableStream,
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";

interface HealthResponse {
  status: "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";
}
type HealthClient = Client & {
  check(
    request: { service: string },
    callback: (err: ServiceError | null, res?: HealthResponse) => void,
  ): void;
  watch(request: { service: string }): ClientReadableStream<HealthResponse>;
};

let nats: TestNats;
let chime: TestChime;
let health: HealthClient;

beforeAll(async () => {
  nats = await startTestNats();
  chime = await startTestChime(nats.url);
  const definition = loadSync(protoPath, { enums: String, defaults: true });
  const v1 = ((loadPackageDefinition(definition).grpc as GrpcObject).health as GrpcObject)
    .v1 as GrpcObject;
  const Health = v1.Health as ServiceClientConstructor;
  health = new Health(chime.grpcAddress, credentials.createInsecure()) as unknown as HealthClient;
});
afterAll(async () => {
  health?.close();
  await chime?.stop();
  await nats?.stop();
});

function check(service: string): Promise<HealthResponse> {
  return new Promise((resolve, reject) => {
    health.check({ service }, (err, res) => (err || !res ? reject(err) : resolve(res)));
  });
}

async function eventually(service: string, status: HealthResponse["status"]): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await check(service).catch(() => undefined);
    if (res?.status === status) return;
    if (Date.now() > deadline) throw new Error(`${service || "server"} never became ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("grpc.health.v1.Health", () => {
  it("answers SERVING for the server and for chime.v1.SchedulerService", async () => {
    expect(await check("")).toEqual({ status: "SERVING" });
    expect(await check("chime.v1.SchedulerService")).toEqual({ status: "SERVING" });
  });

  it("answers NOT_FOUND for a service it does not know", async () => {
    await expect(check("no.such.Service")).rejects.toMatchObject({ code: 5 });
  });

  it("follows NATS: NOT_SERVING while it is away, SERVING once it is back (Check and Watch)", async () => {
    const seen: string[] = [];
    const watch = health.watch({ service: "" });
    watch.on("data", (res: HealthResponse) => seen.push(res.status));
    watch.on("error", () => {});
    try {
      await expect.poll(() => seen, { timeout: 5_000 }).toEqual(["SERVING"]);

      await nats.down();
      await eventually("", "NOT_SERVING");
      await eventually("chime.v1.SchedulerService", "NOT_SERVING");
      expect((await fetch(`${chime.baseUrl}/readyz`)).status).toBe(503);
      expect((await fetch(`${chime.baseUrl}/healthz`)).status).toBe(200);

      await nats.up();
      await eventually("", "SERVING");
      expect((await fetch(`${chime.baseUrl}/readyz`)).status).toBe(200);
      await expect
        .poll(() => seen, { timeout: 5_000 })
        .toEqual(["SERVING", "NOT_SERVING", "SERVING"]);
    } finally {
      watch.cancel();
    }
  });
});
