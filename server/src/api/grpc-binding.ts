import { type DescMessage, type DescService, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  createHandlerContext,
  createServiceImplSpec,
  decodeBinaryHeader,
  encodeBinaryHeader,
  type Interceptor,
  type MethodImplSpec,
  type ServiceImpl,
} from "@connectrpc/connect";
// These helpers are what Connect's own handlers run, so interceptors, output normalisation
// and header copying behave the same on both paths. They are marked internal upstream;
// the ~2.1 pin in package.json keeps them stable.
import {
  createAsyncIterable,
  invokeUnaryImplementation,
  transformInvokeImplementation,
} from "@connectrpc/connect/protocol";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import {
  Metadata,
  type MethodDefinition,
  type ServerErrorResponse,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";

/** A service ready for `grpc.Server.addService`. */
export interface GrpcService {
  readonly definition: ServiceDefinition;
  readonly implementation: UntypedServiceImplementation;
}

export interface GrpcBindingOptions {
  /**
   * Connect interceptors, run around every call exactly as the Connect router runs them.
   * Pass the router's list, or auth and logging would only see the HTTP/1.1 path.
   * Default: none.
   */
  readonly interceptors?: readonly Interceptor[];
  /** Per-call context values for the handler and interceptors. Default: an empty set. */
  readonly contextValues?: (call: GrpcCallInfo) => ContextValues;
}

/** What a call offers besides its messages (grpc-js does not export its own name for it). */
export type GrpcCallInfo = Pick<
  ServerUnaryCall<Buffer, Buffer>,
  "metadata" | "getPeer" | "getPath" | "getHost" | "getDeadline" | "getAuthContext"
>;
type GrpcCall = ServerUnaryCall<Buffer, Buffer>;
type HandlerContextController = ReturnType<typeof createHandlerContext>;
type UnarySpec = MethodImplSpec & { kind: "unary" };
type ServerStreamingSpec = MethodImplSpec & { kind: "server_streaming" };

// Messages cross grpc-js as raw bytes: parsing inside the handler lets a malformed request
// become INVALID_ARGUMENT (grpc-js answers a throwing deserializer with INTERNAL).
const passBytes = (bytes: Buffer): Buffer => bytes;

/**
 * Serves a protobuf-es service implementation (the one given to the Connect router) through
 * @grpc/grpc-js: same handler, same `HandlerContext`, same `ConnectError` codes.
 *
 * Unary and server-streaming methods are served; client and bidi streaming methods are left
 * out of the definition, so grpc-js answers them UNIMPLEMENTED.
 */
export function grpcServiceFromConnect<Desc extends DescService>(
  desc: Desc,
  impl: Partial<ServiceImpl<Desc>>,
  options: GrpcBindingOptions = {},
): GrpcService {
  const interceptors = [...(options.interceptors ?? [])];
  const spec = createServiceImplSpec(desc, impl);
  const definition: Record<string, MethodDefinition<Buffer, Buffer>> = {};
  const implementation: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(spec.methods)) {
    if (method.kind !== "unary" && method.kind !== "server_streaming") {
      continue;
    }
    definition[name] = {
      path: `/${desc.typeName}/${method.method.name}`,
      originalName: name,
      requestStream: false,
      responseStream: method.kind === "server_streaming",
      requestSerialize: passBytes,
      requestDeserialize: passBytes,
      responseSerialize: passBytes,
      responseDeserialize: passBytes,
    };
    implementation[name] =
      method.kind === "unary"
        ? unaryHandler(method, interceptors, options)
        : serverStreamingHandler(method, interceptors, options);
  }
  return { definition, implementation };
}

function unaryHandler(spec: UnarySpec, interceptors: Interceptor[], options: GrpcBindingOptions) {
  return (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void => {
    const context = contextOrReply(spec, call, options, (err) => callback(err));
    if (!context) {
      return;
    }
    const respond = async (): Promise<Buffer> => {
      const input = parseRequest(spec.method.input, call.request);
      const output = await invokeUnaryImplementation(spec, context, input, interceptors);
      return asBuffer(toBinary(spec.method.output, output));
    };
    respond()
      .then(
        (bytes) => {
          sendHeader(call, context.responseHeader);
          callback(null, bytes, metadataFromHeaders(context.responseTrailer));
        },
        (reason: unknown) => {
          sendHeader(call, context.responseHeader);
          callback(errorResponse(reason, context.responseTrailer));
        },
      )
      .finally(() => context.abort(CALL_ENDED));
  };
}

function serverStreamingHandler(
  spec: ServerStreamingSpec,
  interceptors: Interceptor[],
  options: GrpcBindingOptions,
) {
  return (call: ServerWritableStream<Buffer, Buffer>): void => {
    const context = contextOrReply(spec, call, options, (err) => call.emit("error", err));
    if (!context) {
      return;
    }
    let headerSent = false;
    const stream = async (): Promise<void> => {
      const input = parseRequest(spec.method.input, call.request);
      const output = transformInvokeImplementation(
        spec,
        context,
        interceptors,
      )(createAsyncIterable([input]));
      for await (const message of output) {
        if (!headerSent) {
          sendHeader(call, context.responseHeader);
          headerSent = true;
        }
        if (!call.write(asBuffer(toBinary(spec.method.output, message)))) {
          await waitForDrain(call, context.signal);
        }
      }
    };
    stream()
      .then(
        () => {
          if (!headerSent) {
            sendHeader(call, context.responseHeader);
          }
          call.end(metadataFromHeaders(context.responseTrailer));
        },
        (reason: unknown) => {
          if (!headerSent) {
            sendHeader(call, context.responseHeader);
          }
          // grpc-js turns an "error" event on a server stream into the call's final status.
          call.emit("error", errorResponse(reason, context.responseTrailer));
        },
      )
      .finally(() => context.abort(CALL_ENDED));
  };
}

/** The call's context, or undefined after replying with the error that prevented it. */
function contextOrReply(
  spec: MethodImplSpec,
  call: GrpcCall,
  options: GrpcBindingOptions,
  reply: (err: ServerErrorResponse) => void,
): HandlerContextController | undefined {
  try {
    return contextFor(spec, call, options);
  } catch (err) {
    reply(errorResponse(err, new Headers()));
    return undefined;
  }
}

function contextFor(
  spec: MethodImplSpec,
  call: GrpcCall,
  options: GrpcBindingOptions,
): HandlerContextController {
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  const context = createHandlerContext({
    service: spec.method.parent,
    method: spec.method,
    protocolName: "grpc",
    requestMethod: "POST",
    url: `http://${call.getHost()}${call.getPath()}`,
    timeoutMs: Number.isFinite(deadlineMs) ? deadlineMs - Date.now() : undefined,
    requestHeader: headerEntriesFromMetadata(call.metadata),
    contextValues: options.contextValues?.(call),
  });
  // grpc-js emits "cancelled" after every call, also after it sent the status; by then the
  // signal has fired with CALL_ENDED. Otherwise the client went away or the deadline passed
  // (grpc-js's own timer may beat the context's by a moment).
  call.once("cancelled", () => {
    if (context.signal.aborted) {
      return;
    }
    context.abort(
      Date.now() >= deadlineMs
        ? new ConnectError("the operation timed out", Code.DeadlineExceeded)
        : new ConnectError("the client cancelled the call", Code.Canceled),
    );
  });
  return context;
}

// Connect aborts a handler's signal when its call ends, also after success. One shared
// reason spares a DOMException (and its stack trace) per call.
const CALL_ENDED = new ConnectError("the call has ended", Code.Canceled);

function parseRequest<I extends DescMessage>(schema: I, bytes: Buffer) {
  try {
    return fromBinary(schema, bytes);
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw new ConnectError(
      `parse binary: ${detail}`,
      Code.InvalidArgument,
      undefined,
      undefined,
      e,
    );
  }
}

/** The status grpc-js sends for a failed call, with Connect's trailers (metadata, details). */
function errorResponse(reason: unknown, trailer: Headers): ServerErrorResponse {
  const error = ConnectError.from(reason, Code.Internal);
  const withStatus = setTrailerStatus(new Headers(trailer), error);
  return Object.assign(new Error(error.rawMessage), {
    code: error.code.valueOf(),
    details: error.rawMessage,
    metadata: metadataFromHeaders(withStatus),
  });
}

function sendHeader(call: GrpcCall, header: Headers): void {
  if (!isEmpty(header)) {
    call.sendMetadata(metadataFromHeaders(header));
  }
}

function isEmpty(headers: Headers): boolean {
  return headers.keys().next().done === true;
}

function waitForDrain(call: ServerWritableStream<Buffer, Buffer>, signal: AbortSignal) {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      call.off("drain", onDrain);
      reject(signal.reason);
    };
    const onDrain = () => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    };
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    call.once("drain", onDrain);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Request metadata as Connect handlers see headers: binary values base64-encoded. */
function headerEntriesFromMetadata(metadata: Metadata): [string, string][] {
  const entries: [string, string][] = [];
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    for (const value of values) {
      const text = typeof value === "string" ? value : encodeBinaryHeader(value);
      // The Fetch API refuses control characters; such a value cannot reach a handler.
      if (LEGAL_HEADER_VALUE.test(text)) {
        entries.push([key, text]);
      }
    }
  }
  return entries;
}

// Set by grpc-js or HTTP/2 itself; a handler's copy would be rejected or duplicated.
const RESERVED_KEYS = new Set([
  "grpc-status",
  "grpc-message",
  "grpc-timeout",
  "grpc-encoding",
  "grpc-accept-encoding",
  "content-type",
  "content-length",
  "content-encoding",
  "te",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "host",
]);
const LEGAL_KEY = /^[0-9a-z_.-]+$/;
const LEGAL_ASCII_VALUE = /^[ -~]*$/;
const LEGAL_HEADER_VALUE = /^[^\0\r\n]*$/;

/** Response headers or trailers as grpc-js metadata; `-bin` values are decoded from base64. */
function metadataFromHeaders(headers: Headers): Metadata {
  const metadata = new Metadata();
  if (isEmpty(headers)) {
    return metadata;
  }
  headers.forEach((value, key) => {
    if (RESERVED_KEYS.has(key) || !LEGAL_KEY.test(key)) {
      return;
    }
    if (key.endsWith("-bin")) {
      try {
        metadata.add(key, Buffer.from(decodeBinaryHeader(value)));
      } catch {
        // Not base64: nothing faithful to send.
      }
    } else if (LEGAL_ASCII_VALUE.test(value)) {
      metadata.add(key, value);
    }
  });
  return metadata;
}
