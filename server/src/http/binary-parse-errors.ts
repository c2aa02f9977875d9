import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";

/**
 * connect-es answers a Connect binary request body that does not parse as protobuf with
 * INTERNAL ("parse binary: premature EOF"), where the same bytes over gRPC get
 * INVALID_ARGUMENT and a malformed JSON body does too. The fault is the client's, and
 * INTERNAL would send it looking for a server bug, so such an answer is rewritten before it
 * leaves: HTTP 400, `invalid_argument`, the message unchanged. Connect builds the error
 * before any interceptor runs, which is why this sits on the response.
 */
export function answerBinaryParseErrorsAsInvalidArgument(
  req: IncomingMessage,
  res: ServerResponse,
): void {
  if (!/^application\/proto\b/.test(req.headers["content-type"] ?? "")) return;
  const writeHead = res.writeHead;
  const write = res.write;
  const end = res.end;
  let held: OutgoingHttpHeaders | undefined;
  const chunks: Buffer[] = [];
  const restore = (): void => {
    res.writeHead = writeHead;
    res.write = write;
    res.end = end;
  };
  // connect-node calls writeHead(status, headers), write(chunk, "binary", callback), end().
  const holdHead = (status: number, headers?: OutgoingHttpHeaders): ServerResponse => {
    if (status !== 500) {
      restore();
      return writeHead.call(res, status, headers);
    }
    held = headers ?? {};
    return res;
  };
  const holdWrite = (chunk: unknown, ...rest: unknown[]): boolean => {
    if (held === undefined) return Reflect.apply(write, res, [chunk, ...rest]) as boolean;
    if (chunk instanceof Uint8Array || typeof chunk === "string") chunks.push(Buffer.from(chunk));
    const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
    callback?.();
    return true;
  };
  const release = (...args: unknown[]): ServerResponse => {
    restore();
    if (held === undefined) return Reflect.apply(end, res, args) as ServerResponse;
    const [status, body] = rewritten(Buffer.concat(chunks));
    writeHead.call(res, status, { ...held, "content-length": body.byteLength });
    return Reflect.apply(end, res, [body]) as ServerResponse;
  };
  res.writeHead = holdHead as typeof res.writeHead;
  res.write = holdWrite as typeof res.write;
  res.end = release as typeof res.end;
}

function rewritten(body: Buffer): [number, Buffer] {
  let error: unknown;
  try {
    error = JSON.parse(body.toString("utf8"));
  } catch {
    return [500, body];
  }
  if (
    typeof error === "object" &&
    error !== null &&
    Reflect.get(error, "code") === "internal" &&
    /^parse binary: /.test(String(Reflect.get(error, "message")))
  ) {
    return [400, Buffer.from(JSON.stringify({ ...error, code: "invalid_argument" }))];
  }
  return [500, body];
}
