import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { SchedulerService } from "@chime/sdk";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { type ChimeService, startChime } from "../../server/src/chime-service.js";
import { type RawSettings, resolveConfig } from "../../server/src/config.js";
import type { EngineHooks } from "../../server/src/engine/engine.js";
import { spawnTiedToParent } from "../../server/src/tied-process.js";
import { freePort } from "./free-port.js";

/** A Chime running inside the test process, on a free loopback port. */
export interface TestChime extends AsyncDisposable {
  readonly service: ChimeService;
  /** http://127.0.0.1:<port> */
  readonly baseUrl: string;
  /** 127.0.0.1:<port>, for gRPC clients. */
  readonly grpcAddress: string;
  /** A Connect client (HTTP/1.1, JSON). */
  readonly client: Client<typeof SchedulerService>;
  /** Orderly stop, as on SIGTERM. */
  stop(): Promise<void>;
}

/** Settings every test Chime shares: quiet logs, and its own stream and bucket names. */
function testSettings(natsUrl: string, settings: RawSettings): RawSettings {
  return {
    nats: natsUrl,
    subjects: "tasks.>",
    logLevel: process.env.CHIME_TEST_LOG ?? "warn",
    logFormat: "json",
    checkpointInterval: "50ms",
    ...settings,
  };
}

export async function startTestChime(
  natsUrl: string,
  settings: RawSettings = {},
  hooks: EngineHooks = {},
): Promise<TestChime> {
  const port =
    settings.listen === undefined ? await freePort() : Number(settings.listen.split(":")[1]);
  const config = resolveConfig(
    testSettings(natsUrl, { listen: `127.0.0.1:${port}`, ...settings }),
    false,
  );
  const service = await startChime(config, pino({ level: config.logLevel }), hooks);
  const baseUrl = `http://127.0.0.1:${service.address.port}`;
  const client = createClient(
    SchedulerService,
    createConnectTransport({ baseUrl, httpVersion: "1.1" }),
  );
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= service.drain();
    return stopped;
  };
  return {
    service,
    baseUrl,
    grpcAddress: `127.0.0.1:${service.address.port}`,
    client,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Chime as its own process (`node server/dist/cli.js serve`), for kill -9 and restarts. */
export interface ChimeProcess {
  readonly baseUrl: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Sends a signal and waits for the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** What it printed on stderr and stdout, for failure messages. */
  output(): string;
}

const CLI = fileURLToPath(new URL("../../server/dist/cli.js", import.meta.url));

export async function startChimeProcess(
  natsUrl: string,
  settings: RawSettings = {},
  /** How long to wait for /readyz (a large store takes a while to load); default 15 s. */
  readyTimeoutMs = 15_000,
): Promise<ChimeProcess> {
  const port =
    settings.listen === undefined ? await freePort() : Number(settings.listen.split(":")[1]);
  const all = testSettings(natsUrl, { listen: `127.0.0.1:${port}`, logLevel: "info", ...settings });
  const args = ["serve"];
  for (const [name, value] of Object.entries(all)) {
    if (value !== undefined)
      args.push(`--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, value);
  }
  // CHIME_NODE_ARGS: extra node flags for the Chime process (e.g. "--cpu-prof"), for profiling.
  const nodeArgs = (process.env.CHIME_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
  // Killed with the test worker, should a test that timed out leave it running.
  const child = spawnTiedToParent(process.execPath, [...nodeArgs, CLI, ...args], "SIGKILL");
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = once(child, "exit").then(([code]) => code as number | null);
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`chime exited with ${child.exitCode}:\n${output}`);
    const ready = await fetch(`${baseUrl}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`chime did not become ready:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    baseUrl,
    port,
    child,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    output: () => output,
  };
}
