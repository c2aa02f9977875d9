import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));

export const REFLECT_PROTOCOLS = ["grpc-v1", "grpc-v1alpha"] as const;
export type ReflectProtocol = (typeof REFLECT_PROTOCOLS)[number];

/**
 * Runs `buf curl` over gRPC with HTTP/2 prior knowledge, its schema from server reflection
 * (no --schema), and resolves with what it printed on stdout.
 */
export async function bufCurl(
  reflectProtocol: ReflectProtocol,
  args: readonly string[],
): Promise<string> {
  const { stdout } = await run(
    BUF,
    [
      "curl",
      "--http2-prior-knowledge",
      "--protocol",
      "grpc",
      "--reflect-protocol",
      reflectProtocol,
      ...args,
    ],
    { timeout: 20_000 },
  );
  return stdout;
}
