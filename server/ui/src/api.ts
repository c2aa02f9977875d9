import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type Interceptor,
} from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { SchedulerService } from "../../../sdk/src/gen/chime/v1/scheduler_service_pb.js";
import { BadRequestSchema } from "../../../sdk/src/gen/google/rpc/error_details_pb.js";

export type SchedulerClient = Client<typeof SchedulerService>;

/** Where the bearer token comes from, when the server asks for one. */
export interface TokenSource {
  token(): string | undefined;
}

/**
 * A Connect (JSON) client for the API on the page's own origin. The page lives at `…/ui/`,
 * so the API is one level up: that also holds behind a proxy that adds a path prefix.
 */
export function createSchedulerClient(tokens: TokenSource): SchedulerClient {
  const baseUrl = new URL("..", window.location.href).href.replace(/\/$/, "");
  const bearer: Interceptor = (next) => (req) => {
    const token = tokens.token();
    if (token !== undefined) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  return createClient(
    SchedulerService,
    createConnectTransport({ baseUrl, interceptors: [bearer], defaultTimeoutMs: 15_000 }),
  );
}

/** Any failure as a ConnectError: network trouble becomes UNAVAILABLE, and so on. */
export function asConnectError(err: unknown): ConnectError {
  return ConnectError.from(err);
}

/** The message to show: the server's own words, without the code prefix ConnectError adds. */
export function errorMessage(err: unknown): string {
  const e = asConnectError(err);
  const text = e.rawMessage || Code[e.code] || "request failed";
  return e.code === Code.Unavailable && e.rawMessage === "" ? "the server cannot be reached" : text;
}

/** The field violations of an INVALID_ARGUMENT answer, by field (google.rpc.BadRequest). */
export function fieldViolations(err: unknown): Map<string, string> {
  const found = new Map<string, string>();
  for (const detail of asConnectError(err).findDetails(BadRequestSchema)) {
    for (const v of detail.fieldViolations) found.set(v.field, v.description);
  }
  return found;
}

export { Code };
