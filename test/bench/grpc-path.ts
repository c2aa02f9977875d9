/**
 * What does the shared port cost a gRPC client? A @grpc/grpc-js client keeps N unary calls
 * in flight against a no-op GetSchedule served several ways, each server in its own process
 * (as in production, client and server do not share an event loop). Prints one JSON line per
 * server.
 *
 *   npx tsx test/bench/grpc-path.ts [--seconds 5] [--in-flight 64] [--only name,name]
 */

import { fork } from "node:child_process";
import { createServer as createHttp2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { GetScheduleRequestSchema, SchedulerService } from "@chime/sdk";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  Client,
  credentials,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { pino } from "pino";
import { grpcServiceFromConnect } from "../../server/src/api/grpc-binding.js";
import { type GrpcServiceRegistration, startListener } from "../../server/src/http/listener.js";

const PATH = "/chime.v1.SchedulerService/GetSchedule";
const WARMUP_MS = 1_000;

const servers = {
  /** grpc-js on its own port, handler on raw bytes: the ceiling. */
  "grpc-js/raw": () => serveGrpcJs(rawNoop()),
  /** grpc-js on its own port, our binding to a protobuf-es implementation. */
  "grpc-js/binding": () => serveGrpcJs(bindingNoop()),
  /** The shared listener (sniffing, then grpc-js), handler on raw bytes. */
  "listener/raw": () => serveListener(rawNoop()),
  /** The shared listener with the binding: what Chime serves. */
  "listener/binding": () => serveListener(bindingNoop()),
  /** connect-node's gRPC handler over h2c, for reference. */
  "connect-node/h2c": () => serveConnectNode(),
} as const;
type ServerName = keyof typeof servers;

function rawNoop(): GrpcServiceRegistration {
  return {
    definition: {
      getSchedule: {
        path: PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    },
    implementation: {
      getSchedule: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        callback(null, Buffer.alloc(0));
      },
    },
  };
}

function bindingNoop(): GrpcServiceRegistration {
  return grpcServiceFromConnect(SchedulerService, { getSchedule: () => ({}) });
}

async function serveGrpcJs(service: GrpcServiceRegistration): Promise<number> {
  const server = new Server();
  server.addService(service.definition, service.implementation);
  return new Promise((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    );
  });
}

async function serveListener(service: GrpcServiceRegistration): Promise<number> {
  const listener = await startListener({
    port: 0,
    log: pino({ level: "silent" }),
    grpcServices: [service],
  });
  return listener.address.port;
}

async function serveConnectNode(): Promise<number> {
  const server = createHttp2Server(
    connectNodeAdapter({
      routes: (router) => {
        router.service(SchedulerService, { getSchedule: () => ({}) });
      },
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

interface Result {
  server: ServerName;
  seconds: number;
  inFlight: number;
  calls: number;
  errors: number;
  callsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Server CPU time (user + system) per call: steadier than throughput on a busy machine. */
  serverCpuUsPerCall: number;
}

interface ServerProcess {
  port: Promise<number>;
  cpuMicros(): Promise<number>;
  stop(): void;
}

async function drive(server: ServerProcess, name: ServerName, ms: number, inFlight: number) {
  const port = await server.port;
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  const request = Buffer.from(
    toBinary(GetScheduleRequestSchema, create(GetScheduleRequestSchema, { nextFireCount: 5 })),
  );
  const call = () =>
    new Promise<void>((resolve, reject) => {
      client.makeUnaryRequest(
        PATH,
        (b: Buffer) => b,
        (b: Buffer) => b,
        request,
        (err) => (err ? reject(err) : resolve()),
      );
    });

  const run = async (durationMs: number) => {
    const latencies: number[] = [];
    let errors = 0;
    const end = performance.now() + durationMs;
    const worker = async () => {
      while (performance.now() < end) {
        const started = performance.now();
        try {
          await call();
          latencies.push(performance.now() - started);
        } catch {
          errors++;
        }
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: inFlight }, worker));
    return { latencies, errors, elapsed: performance.now() - t0 };
  };

  await run(WARMUP_MS);
  const cpuBefore = await server.cpuMicros();
  const { latencies, errors, elapsed } = await run(ms);
  const cpuUsed = (await server.cpuMicros()) - cpuBefore;
  client.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  const result: Result = {
    server: name,
    seconds: round(elapsed / 1000),
    inFlight,
    calls: latencies.length,
    errors,
    callsPerSec: Math.round(latencies.length / (elapsed / 1000)),
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
    serverCpuUsPerCall: round(cpuUsed / Math.max(latencies.length, 1)),
  };
  return result;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** Starts one server in a child process, which answers with its port, then CPU readings. */
function startServerProcess(server: ServerName): ServerProcess {
  const child = fork(fileURLToPath(import.meta.url), ["--serve", server], {
    execArgv: process.execArgv,
    stdio: "inherit",
  });
  const next = () =>
    new Promise<number>((resolve, reject) => {
      child.once("message", (m) => resolve(Number(m)));
      child.once("exit", (code) => reject(new Error(`${server} server exited (${code})`)));
    });
  return {
    port: next(),
    cpuMicros: () => {
      const reading = next();
      child.send("cpu");
      return reading;
    },
    stop: () => child.kill("SIGTERM"),
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      serve: { type: "string" },
      seconds: { type: "string", default: "5" },
      "in-flight": { type: "string", default: "64" },
      only: { type: "string" },
    },
  });
  if (values.serve !== undefined) {
    const port = await servers[values.serve as ServerName]();
    // Exit rather than die on the parent's SIGTERM, so `node --cpu-prof` writes its profile.
    process.once("SIGTERM", () => process.exit(0));
    process.on("message", () => {
      const { user, system } = process.cpuUsage();
      process.send?.(user + system);
    });
    process.send?.(port);
    return;
  }
  const names = (values.only?.split(",") ?? Object.keys(servers)) as ServerName[];
  for (const name of names) {
    const server = startServerProcess(name);
    try {
      const result = await drive(
        server,
        name,
        Number(values.seconds) * 1000,
        Number(values["in-flight"]),
      );
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } finally {
      server.stop();
    }
  }
}

await main();
