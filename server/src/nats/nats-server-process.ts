import type { ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants } from "node:fs";
import { mkdir } from "node:fs/promises";
import { connect as netConnect } from "node:net";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import { jetstreamManager } from "@nats-io/jetstream";
import type { ConnectionOptions } from "@nats-io/nats-core";
import { connect as natsConnect } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { spawnTiedToParent } from "../tied-process.js";

export interface NatsServerOptions {
  /** Interface to bind. Default `"127.0.0.1"`. */
  readonly host?: string;
  /** Client port; 0 lets the server pick a free one. Default 0. */
  readonly port?: number;
  /** JetStream store directory (`-sd`); created if missing. */
  readonly storeDir: string;
  /** The executable. Default: `findNatsServerBinary()`. */
  readonly binary?: string;
  /** More command-line arguments, after the ones above. Default: none. */
  readonly extraArgs?: readonly string[];
  /**
   * Credentials and TLS the readiness probe connects with, for a server whose configuration
   * (`-c` in `extraArgs`) requires them. Default: none.
   */
  readonly clientOptions?: Partial<ConnectionOptions>;
  /** How long to wait for client connections and JetStream. Default 20 s. */
  readonly readyTimeoutMs?: number;
  /** How long `stop()` waits after its signal before it sends SIGKILL. Default 10 s. */
  readonly stopTimeoutMs?: number;
  /** Receives the server's log lines (INF as debug, WRN as warn, ERR and FTL as error). Default: none. */
  readonly log?: Logger;
}

export interface NatsServerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A running `nats-server -js` child process. */
export interface NatsServerProcess extends AsyncDisposable {
  /** `nats://host:port` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly storeDir: string;
  readonly pid: number;
  /**
   * Sends `signal` (default SIGTERM: nats-server shuts down cleanly) and waits for the exit,
   * sending SIGKILL after `stopTimeoutMs`. Idempotent; `Symbol.asyncDispose` calls it.
   */
  stop(signal?: NodeJS.Signals): Promise<NatsServerExit>;
  /** SIGKILL, as a crash would end it; waits for the exit. */
  kill9(): Promise<NatsServerExit>;
  /** Resolves when the process has exited, for whatever reason. Never rejects. */
  closed(): Promise<NatsServerExit>;
  /** The server's first and last log lines. */
  logTail(): string;
}

/** The server could not be started, or did not become ready in time. */
export class NatsServerStartError extends Error {
  override readonly name = "NatsServerStartError";
  constructor(
    message: string,
    readonly logTail: string,
    options?: ErrorOptions,
  ) {
    super(
      logTail ? `${message}\n--- nats-server log (last lines) ---\n${logTail}` : message,
      options,
    );
  }
}

const FALLBACK_BINARY = "/usr/sbin/nats-server";
// A usage error prints its reason first and then a long help text: keep both ends.
const LOG_HEAD_LINES = 5;
const LOG_TAIL_LINES = 40;
const READY_POLL_MS = 50;
const LISTENING_LINE = /Listening for client connections on (\S+):(\d+)/;

/** `nats-server` from PATH, else `/usr/sbin/nats-server`; null when neither is executable. */
export function findNatsServerBinary(): string | null {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter((d) => d !== "");
  for (const candidate of [...dirs.map((d) => join(d, "nats-server")), FALLBACK_BINARY]) {
    if (isExecutable(candidate)) {
      return candidate;
    }
  }
  return null;
}

/** Whether something accepts TCP connections at host:port. */
export function isPortOpen(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Starts `nats-server -js` and resolves once it accepts clients and JetStream answers. */
export async function startNatsServer(options: NatsServerOptions): Promise<NatsServerProcess> {
  const host = options.host ?? "127.0.0.1";
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const binary = options.binary ?? findNatsServerBinary();
  if (binary === null) {
    throw new NatsServerStartError(`nats-server not found on PATH or at ${FALLBACK_BINARY}`, "");
  }
  // Through setpriv, a missing binary would only show as exit code 127.
  if (binary.includes("/") && !isExecutable(binary)) {
    throw new NatsServerStartError(`cannot run ${binary}: not an executable file`, "");
  }
  await mkdir(options.storeDir, { recursive: true });
  const args = [
    "-js",
    "-sd",
    options.storeDir,
    "-a",
    host,
    // -1: nats-server picks a free port itself and logs it, so no other process can take
    // it between our choosing and its binding.
    "-p",
    options.port === undefined || options.port === 0 ? "-1" : String(options.port),
    ...(options.extraArgs ?? []),
  ];
  const child = spawnTiedToParent(binary, args);
  const tail = new LineTail(LOG_HEAD_LINES, LOG_TAIL_LINES);
  const exit = new Promise<NatsServerExit>((resolve) => {
    child.once("close", (code, signal) => {
      liveChildren.delete(child);
      resolve({ code, signal });
    });
  });
  liveChildren.add(child);
  installExitHook();

  let onListening: (port: number) => void = () => {};
  const listening = new Promise<number>((resolve) => {
    onListening = resolve;
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) {
      continue;
    }
    createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
      tail.push(line);
      forwardLogLine(options.log, line);
      const match = LISTENING_LINE.exec(line);
      if (match?.[2]) {
        onListening(Number(match[2]));
      }
    });
  }

  const started = Date.now();
  let readyTimer: NodeJS.Timeout | undefined;
  const settled = new AbortController();
  try {
    const spawned = new Promise<never>((_, reject) => {
      child.once("error", (err) =>
        reject(
          new NatsServerStartError(`cannot run ${binary}: ${err.message}`, "", { cause: err }),
        ),
      );
    });
    const exitedEarly = exit.then((e): never => {
      throw new NatsServerStartError(
        `nats-server exited before it was ready (${describeExit(e)})`,
        tail.text(),
      );
    });
    const timedOut = new Promise<never>((_, reject) => {
      readyTimer = setTimeout(
        () =>
          reject(
            new NatsServerStartError(
              `nats-server was not ready within ${readyTimeoutMs} ms`,
              tail.text(),
            ),
          ),
        readyTimeoutMs,
      );
    });
    const failed = Promise.race([spawned, exitedEarly, timedOut]);
    // The server exits long after a successful start; that must not count as unhandled.
    failed.catch(() => {});
    const port = await Promise.race([listening, failed]);
    const url = `nats://${host.includes(":") ? `[${host}]` : host}:${port}`;
    await Promise.race([
      waitForJetStream(url, started + readyTimeoutMs, settled.signal, options.clientOptions),
      failed,
    ]);
    return runningServer(child, exit, tail, {
      url,
      host,
      port,
      storeDir: options.storeDir,
      stopTimeoutMs,
    });
  } catch (err) {
    if (child.pid === undefined) {
      // Never started: there is no process to wait for.
      liveChildren.delete(child);
    } else {
      child.kill("SIGKILL");
      await exit;
    }
    throw err;
  } finally {
    clearTimeout(readyTimer);
    settled.abort();
  }
}

function runningServer(
  child: ChildProcess,
  exit: Promise<NatsServerExit>,
  tail: LineTail,
  info: { url: string; host: string; port: number; storeDir: string; stopTimeoutMs: number },
): NatsServerProcess {
  let stopping: Promise<NatsServerExit> | undefined;
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const stop = (signal: NodeJS.Signals = "SIGTERM"): Promise<NatsServerExit> => {
    if (!stopping) {
      if (!exited()) {
        child.kill(signal);
      }
      const escalate = setTimeout(() => child.kill("SIGKILL"), info.stopTimeoutMs);
      stopping = exit.finally(() => clearTimeout(escalate));
    }
    return stopping;
  };
  return {
    url: info.url,
    host: info.host,
    port: info.port,
    storeDir: info.storeDir,
    pid: child.pid ?? -1,
    stop,
    kill9: () => {
      if (!exited()) {
        child.kill("SIGKILL");
      }
      return exit;
    },
    closed: () => exit,
    logTail: () => tail.text(),
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
}

/** Polls until a client can connect and JetStream answers an account-info request. */
async function waitForJetStream(
  url: string,
  deadline: number,
  stop: AbortSignal,
  clientOptions: Partial<ConnectionOptions> = {},
): Promise<void> {
  while (!stop.aborted) {
    const remaining = Math.max(deadline - Date.now(), 1);
    try {
      const nc = await natsConnect({
        ...clientOptions,
        servers: url,
        timeout: remaining,
        reconnect: false,
      });
      try {
        const jsm = await jetstreamManager(nc, { timeout: remaining });
        await jsm.getAccountInfo();
        return;
      } finally {
        await nc.close();
      }
    } catch (err) {
      if (Date.now() >= deadline) {
        throw err;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
}

// One process-wide hook for every server still running, so a normal exit (or an exit after
// a handled signal) never leaves one behind and many servers add no listeners.
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) {
    return;
  }
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of liveChildren) {
      child.kill("SIGTERM");
    }
  });
}

function forwardLogLine(log: Logger | undefined, line: string): void {
  if (!log) {
    return;
  }
  if (line.includes("[ERR]") || line.includes("[FTL]")) {
    log.error({ nats: line }, "nats-server");
  } else if (line.includes("[WRN]")) {
    log.warn({ nats: line }, "nats-server");
  } else {
    log.debug({ nats: line }, "nats-server");
  }
}

function describeExit(exit: NatsServerExit): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first and last lines of a process's output, for error messages. */
class LineTail {
  private readonly head: string[] = [];
  private readonly tail: string[] = [];
  private dropped = 0;
  constructor(
    private readonly headMax: number,
    private readonly tailMax: number,
  ) {}
  push(line: string): void {
    if (this.head.length < this.headMax) {
      this.head.push(line);
      return;
    }
    this.tail.push(line);
    if (this.tail.length > this.tailMax) {
      this.tail.shift();
      this.dropped++;
    }
  }
  text(): string {
    const gap = this.dropped > 0 ? [`… (${this.dropped} lines left out)`] : [];
    return [...this.head, ...gap, ...this.tail].join("\n");
  }
}
