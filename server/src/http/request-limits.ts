import type { IncomingMessage, ServerResponse } from "node:http";
import { constants as http2Constants, type ServerHttp2Stream } from "node:http2";
import {
  status as GrpcStatus,
  Metadata,
  ServerInterceptingCall,
  type ServerInterceptor,
} from "@grpc/grpc-js";

/**
 * Limits on what one client may send and how slowly, for both wire paths. On HTTP/1.1 Node
 * enforces the timeouts itself and Connect's `readMaxBytes` backs up the body check here; on
 * HTTP/2 grpc-js refuses an oversized message from its length prefix, and the interceptor
 * below ends a call whose request does not arrive in time.
 */

/** The settings the messages below name, so a client knows what to ask an operator for. */
export const REQUEST_BYTES_SETTING = "--max-request-bytes";
export const REQUEST_TIMEOUT_SETTING = "--http-request-timeout";

const CONNECT_RESOURCE_EXHAUSTED_HTTP_STATUS = 429;

/**
 * Refuses an HTTP/1.1 request whose declared body is larger than `maxBytes`, before any of
 * it is read, in the protocol the client spoke (gRPC-Web, else Connect's unary error JSON).
 * Returns true when it answered. A body without a length is left to Connect's
 * `readMaxBytes`, which stops reading at the same limit.
 */
export function refuseOversizedBody(
  req: IncomingMessage,
  res: ServerResponse,
  maxBytes: number,
): boolean {
  const declared = req.headers["content-length"];
  if (declared === undefined || !/^\d+$/.test(declared)) return false;
  const bytes = Number(declared);
  if (bytes <= maxBytes) return false;
  const message = `request body: ${bytes} bytes is more than the ${maxBytes} allowed (${REQUEST_BYTES_SETTING})`;
  // The rest of the body is never read: closing the connection saves reading it to the end.
  res.setHeader("connection", "close");
  const contentType = req.headers["content-type"] ?? "";
  if (contentType.startsWith("application/grpc-web")) {
    // A trailers-only response: gRPC-Web clients read the status from the headers.
    res
      .writeHead(200, {
        "content-type": contentType.split(";", 1)[0] ?? "application/grpc-web+proto",
        "grpc-status": String(GrpcStatus.RESOURCE_EXHAUSTED),
        "grpc-message": encodeURIComponent(message),
      })
      .end();
    return true;
  }
  const body = JSON.stringify({ code: "resource_exhausted", message });
  res
    .writeHead(CONNECT_RESOURCE_EXHAUSTED_HTTP_STATUS, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
    })
    .end(body);
  return true;
}

/**
 * An answer sent before the request's body was read to its end (Connect stopped reading at
 * `readMaxBytes`, or refused the call early) closes the connection: the rest of the body is
 * never read, and a client still sending it would otherwise wait until a timeout.
 */
export function closeWhenBodyUnread(req: IncomingMessage, res: ServerResponse): void {
  const writeHead = res.writeHead;
  const closing = (...args: unknown[]): ServerResponse => {
    if (!req.complete && !res.headersSent) res.setHeader("connection", "close");
    return Reflect.apply(writeHead, res, args) as ServerResponse;
  };
  res.writeHead = closing as typeof res.writeHead;
}

/**
 * A grpc-js server interceptor that ends a call with DEADLINE_EXCEEDED when its request
 * has not arrived in full (up to the client's end of stream) within `timeoutMs`: HTTP/2 has
 * no request timeout of its own, and grpc-js's idle timeout does not count a connection
 * with a call open as idle, so a client trickling one request could hold it forever.
 */
export function requestTimeoutInterceptor(timeoutMs: number): ServerInterceptor {
  return (_method, call) => {
    let timer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    };
    return new ServerInterceptingCall(call, {
      start: (next) => {
        timer = setTimeout(() => {
          timer = undefined;
          call.sendStatus({
            code: GrpcStatus.DEADLINE_EXCEEDED,
            details: `request: not received in full within ${timeoutMs}ms (${REQUEST_TIMEOUT_SETTING})`,
            metadata: new Metadata(),
          });
          resetAfterResponse(call);
        }, timeoutMs);
        timer.unref();
        next({
          onReceiveHalfClose: (nextHalfClose) => {
            stop();
            nextHalfClose();
          },
          onCancel: stop,
        });
      },
      sendStatus: (status, nextStatus) => {
        stop();
        nextStatus(status);
      },
    });
  };
}

/**
 * grpc-js answers but leaves the stream open until the client ends its side, and an open
 * stream keeps the connection from counting as idle. RFC 9113 §8.1 lets a server that has
 * sent a complete response stop the rest of the request with RST_STREAM(NO_ERROR). grpc-js
 * does not expose the stream, so it is looked for under the calls, with care: if a later
 * grpc-js moves it, the answer above still goes out and the stream ends when the client
 * gives up.
 */
function resetAfterResponse(call: unknown): void {
  const stream = http2StreamOf(call);
  if (stream === undefined) return;
  // After the response headers, which grpc-js has just handed to the session.
  setImmediate(() => {
    if (!stream.closed && !stream.destroyed) stream.close(http2Constants.NGHTTP2_NO_ERROR);
  });
}

function http2StreamOf(call: unknown): ServerHttp2Stream | undefined {
  let current = call;
  for (let depth = 0; depth < 16 && typeof current === "object" && current !== null; depth++) {
    const stream: unknown = Reflect.get(current, "stream");
    if (isHttp2Stream(stream)) return stream;
    current = Reflect.get(current, "nextCall");
  }
  return undefined;
}

function isHttp2Stream(value: unknown): value is ServerHttp2Stream {
  return (
    typeof value === "object" &&
    value !== null &&
    "rstCode" in value &&
    typeof Reflect.get(value, "close") === "function" &&
    typeof Reflect.get(value, "respond") === "function"
  );
}
