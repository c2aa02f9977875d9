// A manual "run now" from an admin route: POST /admin/schedules/<name>/run publishes one
// fire of the schedule at once (Chime-Trigger: manual); its timetable is left alone.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { SchedulerClient } from "@chime/sdk";
import { Code, ConnectError } from "@connectrpc/connect";

const RUN_ROUTE = /^\/admin\/schedules\/([^/]+)\/run$/;

export function createRunNowHandler(
  client: SchedulerClient,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const match = RUN_ROUTE.exec(new URL(req.url ?? "/", "http://admin").pathname);
    if (match === null) return reply(res, 404, { error: "no such route" });
    if (req.method !== "POST") return reply(res, 405, { error: "use POST" });
    const name = decodeURIComponent(match[1] ?? "");
    // Cancel the call when the admin gives up waiting.
    const abort = new AbortController();
    res.on("close", () => abort.abort());
    client.trigger({ name }, { signal: abort.signal }).then(
      (fired) =>
        reply(res, 202, {
          scheduleId: fired.scheduleId,
          firedAt: fired.firedAt.toISOString(),
          messageId: fired.messageId,
        }),
      (err: unknown) => {
        if (err instanceof ConnectError && err.code === Code.NotFound) {
          return reply(res, 404, { error: err.rawMessage });
        }
        const message = err instanceof Error ? err.message : String(err);
        reply(res, 502, { error: `Chime: ${message}` });
      },
    );
  };
}

/** Serves the admin route on 127.0.0.1:`port` (0: any free port) until `server.close()`. */
export async function startAdminServer(
  client: SchedulerClient,
  port = 0,
): Promise<{ server: Server; url: string }> {
  const server = createServer(createRunNowHandler(client));
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function reply(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
