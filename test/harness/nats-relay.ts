import { once } from "node:events";
import { connect as connectTcp, createServer, type Socket } from "node:net";

/**
 * A TCP relay to a NATS server that a test can fault between two steps of a client: cut it
 * off (nothing more it sends arrives and its connections close, as when its process dies), or
 * hold what it sends for a while. The server, its other clients, and everything the server
 * sends the client go on.
 */
export interface NatsRelay {
  /** `nats://127.0.0.1:<port>` of the relay. */
  readonly url: string;
  /** Cuts at once (synchronously): for a hook that must stop a client before its next write. */
  cut(): void;
  /** Cuts as a client sends bytes that `sent` matches, before they arrive. */
  cutBefore(sent: (bytes: Buffer) => boolean): void;
  readonly isCut: boolean;
  /** Holds back, in order, the bytes a client sends from the first that `sent` matches on. */
  holdFrom(sent: (bytes: Buffer) => boolean): void;
  readonly isHolding: boolean;
  /** Sends on what was held, and stops holding. */
  release(): void;
  close(): Promise<void>;
}

export async function startNatsRelay(targetPort: number): Promise<NatsRelay> {
  const sockets = new Set<Socket>();
  const held: { upstream: Socket; chunk: Buffer }[] = [];
  let cut = false;
  let cutsBefore: ((bytes: Buffer) => boolean) | undefined;
  let holdsFrom: ((bytes: Buffer) => boolean) | undefined;
  let holding = false;
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
      if (cut) return;
      if (!holding && holdsFrom?.(chunk)) {
        holding = true;
        holdsFrom = undefined;
      }
      if (holding) held.push({ upstream, chunk });
      else upstream.write(chunk);
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
    held.length = 0;
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
    holdFrom: (sent) => {
      holdsFrom = sent;
    },
    get isHolding() {
      return holding;
    },
    release: () => {
      holding = false;
      for (const { upstream, chunk } of held.splice(0)) upstream.write(chunk);
    },
    close: async () => {
      cutNow();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
