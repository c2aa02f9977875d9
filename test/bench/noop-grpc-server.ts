/**
 * A chime.v1.SchedulerService served by @grpc/grpc-js whose create RPCs answer at once: the
 * server side of the create benchmark's client-bound ceiling. Run as a child process by
 * test/bench/scenarios.ts: it is sent, over IPC, the reply Chime gave to one call of each
 * method, answers every call of that method with it (so that the client decodes what it
 * decodes from Chime), and sends back its port.
 */

import { fileURLToPath } from "node:url";
import {
  type GrpcObject,
  loadPackageDefinition,
  Server,
  ServerCredentials,
  type ServiceClientConstructor,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

const PROTO_DIR = fileURLToPath(new URL("../../proto", import.meta.url));
const definition = loadSync("chime/v1/scheduler_service.proto", {
  includeDirs: [PROTO_DIR],
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const v1 = (loadPackageDefinition(definition).chime as GrpcObject).v1 as GrpcObject;
const Service = v1.SchedulerService as ServiceClientConstructor;

const replies = await new Promise<Record<string, object>>((resolve) =>
  process.once("message", (m) => resolve(m as Record<string, object>)),
);
const answer =
  (reply: object) =>
  (_call: unknown, callback: sendUnaryData<object>): void => {
    callback(null, reply);
  };
const server = new Server();
server.addService(
  Service.service,
  Object.fromEntries(Object.entries(replies).map(([method, reply]) => [method, answer(reply)])),
);
const port = await new Promise<number>((resolve, reject) => {
  server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, bound) =>
    err ? reject(err) : resolve(bound),
  );
});
process.send?.(port);
process.on("disconnect", () => process.exit(0));
