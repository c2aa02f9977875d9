import { once } from "node:events";
import { connect as connectTcp, createServer, type Socket } from "node:net";

/**
 * A TCP relay to a NATS server that a test can cut between two steps of a client: from the
 * cut on, nothing any client sends arrives, and its connections are closed, as when its
 * process dies; the server and its other clients go on.
 */
export interface CutProxy {
  /** `nats://127.0.0.1:<port>` of the relay. */
  readonly url: string;
  /** Cuts at once (synchronously): for a hook that must stop a client before its next write. */
  cut(): void;
  /** Cuts as a client sends bytes that `sent` matches, before they arrive. */
  cutBefore(sent: (bytes: Buffer) => boolean): void;
  readonly isCut: boolean;
  close(): Promise<void>;
}

export async function startCutProxy(targetPort: number): Promise<CutProxy> {
  const sockets = new Set<Socket>();
  let cut = false;
  let cutsBefore: ((bytes: Buffer) => boolean) | undefined;
  const server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = connectTcp(targetPort, "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => undefined);
    }
    client.on("data", (chunk: Buffer) => {
      if (!cut && cutsBefore?.(chunk)) cutNow();
      if (!cut) upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!cut) client.write(chunk);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port to relay on");
  const cutNow = (): void => {
    cut = true;
    for (const socket of sockets) socket.destroy();
  };
  return {
    url: `nats://127.0.0.1:${address.port}`,
    cut: cutNow,
    cutBefore: (sent) => {
      cutsBefore = sent;
    },
    get isCut() {
      return cut;
    },
    close: async () => {
      cutNow();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
