import { type AddressInfo, createServer } from "node:net";

/**
 * A TCP port that was free a moment ago on `host`. Another process may take it before the
 * caller binds, so prefer letting the server bind port 0 itself; this is for addresses that
 * must be known in advance, or must be known to have nothing listening.
 */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host, port: 0 }, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
