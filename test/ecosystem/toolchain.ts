import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";

export const run = promisify(execFile);

export const PYTHON = "/usr/bin/python3";
export const GOPATH_DEBIAN = "/usr/share/gocode";
const NATS_GO = `${GOPATH_DEBIAN}/src/github.com/nats-io/nats.go`;
const INSTALL =
  "apt-get install -y python3-grpcio python3-grpc-tools golang-go golang-github-nats-io-go-nats-dev (.ci/run installs them)";

/** Why the Python example cannot run here, or null when it can. */
export async function pythonGrpcMissing(): Promise<string | null> {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing; ${INSTALL}`;
  try {
    await run(PYTHON, ["-c", "import grpc, grpc_tools.protoc"]);
    return null;
  } catch {
    return `python3-grpcio or python3-grpc-tools is missing; ${INSTALL}`;
  }
}

/** Why the Go example cannot be built here, or null when it can. */
export async function goNatsMissing(): Promise<string | null> {
  try {
    await run("go", ["version"]);
  } catch {
    return `go is missing; ${INSTALL}`;
  }
  return existsSync(NATS_GO) ? null : `${NATS_GO} is missing; ${INSTALL}`;
}

/** Says on stderr why a suite is skipped, so a skip is never silent. */
export function announceSkip(suite: string, reason: string | null): boolean {
  if (reason !== null) console.warn(`SKIPPED ${suite}: ${reason}`);
  return reason !== null;
}
