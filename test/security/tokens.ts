import { createHash } from "node:crypto";
import { SchedulerService } from "@chime/sdk";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";

/** The secrets of the tokens the security tests configure (test values, not real ones). */
export const SECRET = {
  acmeWriter: "acme-writer-secret-000001",
  acmeReader: "acme-reader-secret-000002",
  acmeAdmin: "acme-admin-secret-0000003",
  globexWriter: "globex-writer-secret-0004",
  ops: "ops-cross-namespace-000005",
} as const;

/**
 * Two tenants (acme, globex) and one operator token across both. The operator's secret is
 * configured as its SHA-256 only, as an operator would keep it.
 */
export const TOKENS_JSON = JSON.stringify({
  tokens: [
    {
      name: "acme-writer",
      namespace: "acme",
      role: "write",
      subjects: ["tasks.acme"],
      token: SECRET.acmeWriter,
    },
    { name: "acme-reader", namespace: "acme", role: "read", token: SECRET.acmeReader },
    {
      name: "acme-admin",
      namespace: "acme",
      role: "admin",
      subjects: ["tasks.acme", "tasks.shared"],
      token: SECRET.acmeAdmin,
    },
    {
      name: "globex-writer",
      namespace: "globex",
      role: "write",
      subjects: ["tasks.globex", "tasks.shared"],
      token: SECRET.globexWriter,
    },
    {
      name: "ops",
      namespace: "*",
      role: "admin",
      sha256: createHash("sha256").update(SECRET.ops).digest("hex"),
    },
  ],
});

export type SchedulerClient = Client<typeof SchedulerService>;

/** A Connect client (JSON over HTTP/1.1) that sends `token`, and any more headers, on every call. */
export function connectClient(
  baseUrl: string,
  token: string | undefined,
  headers: Readonly<Record<string, string>> = {},
): SchedulerClient {
  return createClient(
    SchedulerService,
    createConnectTransport({
      baseUrl,
      httpVersion: "1.1",
      useBinaryFormat: false,
      interceptors: [
        (next) => (req) => {
          if (token !== undefined) req.header.set("authorization", `Bearer ${token}`);
          for (const [key, value] of Object.entries(headers)) req.header.set(key, value);
          return next(req);
        },
      ],
    }),
  );
}

/** A one-shot an hour away: it exists for the test, and never fires during it. */
export function inAnHour(subject: string, name?: string) {
  return {
    subject,
    ...(name === undefined ? {} : { name }),
    when: { case: "delay" as const, value: { seconds: 3600n, nanos: 0 } },
  };
}
