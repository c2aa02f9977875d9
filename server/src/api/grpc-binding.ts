import {
  create,
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageShape as MessageOf,
  toBinary,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextValues,
  createServiceImplSpec,
  decodeBinaryHeader,
  encodeBinaryHeader,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type ServiceImpl,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
// What Connect's own handlers run for a server stream, so interceptors behave the same on
// both paths. Marked internal upstream; the ~2.1 pin in package.json keeps it stable.
import { createAsyncIterable, transformInvokeImplementation } from "@connectrpc/connect/protocol";
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
  /**
   * Encoders of replies that outrun toBinary, for the messages answered most; each must write
   * the bytes toBinary would. Default: toBinary for every reply.
   */
  readonly replyEncoders?: readonly ReplyEncoder[];
}

/** An encoder of one message type, in place of toBinary: made by `replyEncoder`. */
export interface ReplyEncoder {
  readonly schema: DescMessage;
  encode(message: MessageShape): Uint8Array;
}

/** A reply encoder whose function takes the messages of its schema. */
export function replyEncoder<Desc extends DescMessage>(
  schema: Desc,
  encode: (message: MessageOf<Desc>) => Uint8Array,
): ReplyEncoder {
  // The binding calls it with messages of `schema` only (the output of the method found by it).
  return { schema, encode: encode as (message: MessageShape) => Uint8Array };
}

type Encode = (message: MessageShape) => Uint8Array;

/** What a call offers besides its messages (grpc-js does not export its own name for it). */
export type GrpcCallInfo = Pick<
  ServerUnaryCall<Buffer, Buffer>,
  "metadata" | "getPeer" | "getPath" | "getHost" | "getDeadline" | "getAuthContext"
>;
type GrpcCall = ServerUnaryCall<Buffer, Buffer>;
type MessageShape = UnaryRequest["message"];
type Next = Parameters<Interceptor>[0];
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
    const output = method.method.output;
    const encoder = options.replyEncoders?.find((e) => e.schema.typeName === output.typeName);
    const encode: Encode = encoder
      ? (message) => encoder.encode(message)
      : (message) => toBinary(output, message);
    implementation[name] =
      method.kind === "unary"
        ? unaryHandler(method, interceptors, options, encode)
        : serverStreamingHandler(method, interceptors, options, encode);
  }
  return { definition, implementation };
}

function unaryHandler(
  spec: UnarySpec,
  interceptors: Interceptor[],
  options: GrpcBindingOptions,
  encode: Encode,
) {
  return (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void => {
    const context = contextOrReply(spec, call, options, (err) => callback(err));
    if (!context) {
      return;
    }
    void answerUnary(spec, interceptors, context, call, callback, encode);
  };
}

async function answerUnary(
  spec: UnarySpec,
  interceptors: Interceptor[],
  context: GrpcHandlerContext,
  call: GrpcCall,
  callback: sendUnaryData<Buffer>,
  encode: Encode,
): Promise<void> {
  let bytes: Buffer;
  try {
    const input = parseRequest(spec.method.input, call.request);
    const output = await invokeUnary(spec, context, input, interceptors);
    bytes = asBuffer(encode(output));
  } catch (reason) {
    sendHeader(call, context.responseHeader);
    callback(errorResponse(reason, context.responseTrailer));
    context.abort(CALL_ENDED);
    return;
  }
  sendHeader(call, context.responseHeader);
  callback(null, bytes, metadataFromHeaders(context.responseTrailer));
  context.abort(CALL_ENDED);
}

/**
 * Runs the interceptors and the handler as Connect's own unary handlers do
 * (`invokeUnaryImplementation`): the same request and response shapes, the output normalised
 * to a message, the headers an interceptor returns copied to the call's. Unlike Connect's,
 * the request's and the handler's `signal` are read through the lazy context, so a call whose
 * code never looks at its signal allocates none.
 */
async function invokeUnary(
  spec: UnarySpec,
  context: GrpcHandlerContext,
  input: MessageShape,
  interceptors: readonly Interceptor[],
): Promise<MessageShape> {
  const { method } = spec;
  const service = method.parent;
  const handle: Next = async (req) => {
    if (req.stream) throw new ConnectError("a stream for a unary method", Code.Internal);
    const output = await spec.impl(req.message, handlerContextFor(context, req));
    return {
      stream: false,
      message: create(method.output, output),
      method,
      service,
      header: context.responseHeader,
      trailer: context.responseTrailer,
    } satisfies UnaryResponse;
  };
  let next = handle;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    next = (interceptors[i] as Interceptor)(next);
  }
  const request: UnaryRequest = {
    stream: false,
    message: input,
    method,
    service,
    requestMethod: context.requestMethod,
    url: context.url,
    get signal() {
      return context.signal;
    },
    header: context.requestHeader,
    contextValues: context.values,
  };
  const response = await next(request);
  if (response.stream) throw new ConnectError("a stream from a unary method", Code.Internal);
  const { message, header, trailer } = response;
  copyHeaders(header, context.responseHeader);
  copyHeaders(trailer, context.responseTrailer);
  return message;
}

/** What the handler sees, after the interceptors: Connect's `mergeRequest`, signal kept lazy. */
function handlerContextFor(context: GrpcHandlerContext, req: Parameters<Next>[0]): HandlerContext {
  return {
    method: context.method,
    service: req.service,
    requestMethod: context.requestMethod,
    url: context.url,
    protocolName: context.protocolName,
    get signal() {
      return req.signal;
    },
    timeoutMs: context.timeoutMs,
    requestHeader: req.header,
    responseHeader: context.responseHeader,
    responseTrailer: context.responseTrailer,
    values: req.contextValues,
  };
}

function copyHeaders(from: Headers, to: Headers): void {
  if (from === to) {
    return;
  }
  for (const key of [...to.keys()]) {
    to.delete(key);
  }
  from.forEach((value, key) => {
    to.set(key, value);
  });
}

function serverStreamingHandler(
  spec: ServerStreamingSpec,
  interceptors: Interceptor[],
  options: GrpcBindingOptions,
  encode: Encode,
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
        if (!call.write(asBuffer(encode(message)))) {
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
): GrpcHandlerContext | undefined {
  try {
    return contextFor(spec, call, options);
  } catch (err) {
    reply(errorResponse(err, new Headers()));
    return undefined;
  }
}

/**
 * A call's `HandlerContext`, as Connect's `createHandlerContext` makes it, but with its abort
 * signal made only when something reads it: most calls never do, and two abort controllers,
 * their listeners and a deadline timer per call were a sizeable share of a call's cost.
 * The deadline needs no timer of its own: grpc-js ends the call at the deadline and reports
 * it as "cancelled", which aborts the context with DEADLINE_EXCEEDED (see `contextFor`).
 */
class GrpcHandlerContext implements HandlerContext {
  readonly protocolName = "grpc";
  readonly requestMethod = "POST";
  readonly responseHeader = new Headers();
  readonly responseTrailer = new Headers();
  readonly timeoutMs: () => number | undefined;
  private controller: AbortController | undefined;
  private ended = false;
  private reason: unknown;

  constructor(
    readonly method: MethodImplSpec["method"],
    readonly url: string,
    readonly requestHeader: Headers,
    readonly values: ContextValues,
    deadlineMs: number,
  ) {
    this.timeoutMs = Number.isFinite(deadlineMs) ? () => deadlineMs - Date.now() : () => undefined;
  }

  get service(): DescService {
    return this.method.parent;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.ended) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.ended;
  }

  /** Aborts the signal (now, or as it is made); the first reason stays. */
  abort(reason: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}

function contextFor(
  spec: MethodImplSpec,
  call: GrpcCall,
  options: GrpcBindingOptions,
): GrpcHandlerContext {
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  const context = new GrpcHandlerContext(
    spec.method,
    `http://${call.getHost()}${call.getPath()}`,
    headersFromMetadata(call.metadata),
    options.contextValues?.(call) ?? createContextValues(),
    deadlineMs,
  );
  // A deadline already past when the call arrives: aborted from the start, as Connect does.
  if (deadlineMs <= Date.now()) {
    context.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
  }
  // grpc-js emits "cancelled" after every call, also after it sent the status; by then the
  // context has ended with CALL_ENDED. Otherwise the client went away or the deadline passed.
  call.once("cancelled", () => {
    if (context.aborted) {
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
function headersFromMetadata(metadata: Metadata): Headers {
  const headers = new Headers();
  const map = metadata.toJSON();
  for (const key in map) {
    for (const value of map[key] ?? []) {
      const text = typeof value === "string" ? value : encodeBinaryHeader(value);
      // The Fetch API refuses control characters; such a value cannot reach a handler.
      if (LEGAL_HEADER_VALUE.test(text)) {
        headers.append(key, text);
      }
    }
  }
  return headers;
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
