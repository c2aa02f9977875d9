import { fileURLToPath } from "node:url";
import {
  type ChannelCredentials,
  type Client,
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  Metadata,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

const PROTO_DIR = fileURLToPath(new URL("../../proto", import.meta.url));

/**
 * A chime.v1.SchedulerService client built by @grpc/grpc-js from the .proto files with
 * @grpc/proto-loader: a gRPC implementation the project did not write, with messages as
 * plain objects (camelCase fields, 64-bit integers and enums as strings, defaults filled,
 * a virtual field naming each set oneof).
 */
export interface GrpcJsClient {
  /** Calls `method` (e.g. "ScheduleByTime") and resolves with the response object. */
  unary<Res = GrpcObjectMessage>(method: string, request: object, timeoutMs?: number): Promise<Res>;
  close(): void;
}

/** A message as proto-loader decodes it. */
export type GrpcObjectMessage = Record<string, unknown>;

export interface GrpcJsClientOptions {
  /** Sent as `authorization: Bearer <token>` with every call. Default: none. */
  readonly token?: string;
  /** More metadata for every call (e.g. `chime-namespace`). Default: none. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** TLS (`credentials.createSsl(...)`). Default: plain HTTP/2. */
  readonly credentials?: ChannelCredentials;
  /** Channel options, e.g. `grpc.ssl_target_name_override`. Default: none. */
  readonly channelOptions?: Readonly<Record<string, string | number>>;
}

export function createGrpcJsClient(
  address: string,
  options: GrpcJsClientOptions = {},
): GrpcJsClient {
  const definition = loadSync("chime/v1/scheduler_service.proto", {
    includeDirs: [PROTO_DIR],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const root = loadPackageDefinition(definition);
  const chime = root.chime as GrpcObject;
  const v1 = chime.v1 as GrpcObject;
  const Service = v1.SchedulerService as ServiceClientConstructor;
  const client: Client = new Service(
    address,
    options.credentials ?? credentials.createInsecure(),
    options.channelOptions,
  );
  const metadata = new Metadata();
  if (options.token !== undefined) metadata.set("authorization", `Bearer ${options.token}`);
  for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
  return {
    unary<Res>(method: string, request: object, timeoutMs = 10_000): Promise<Res> {
      // grpc-js names the methods of a generated client after the proto's RPC names.
      const call = (client as unknown as Record<string, unknown>)[method];
      if (typeof call !== "function") throw new Error(`no RPC ${method} in the service definition`);
      return new Promise<Res>((resolve, reject) => {
        call.call(
          client,
          request,
          metadata.clone(),
          { deadline: Date.now() + timeoutMs },
          (err: ServiceError | null, response: Res) => {
            if (err) reject(err);
            else resolve(response);
          },
        );
      });
    },
    close: () => client.close(),
  };
}

/** The ServiceError a gRPC call failed with; fails the test when the call succeeded. */
export async function grpcErrorOf(call: Promise<unknown>): Promise<ServiceError> {
  let response: unknown;
  try {
    response = await call;
  } catch (err) {
    if (isServiceError(err)) return err;
    throw err;
  }
  throw new Error(`expected the call to fail, it answered ${JSON.stringify(response)}`);
}

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === "number";
}
