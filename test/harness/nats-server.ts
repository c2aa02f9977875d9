import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type NatsServerOptions,
  type NatsServerProcess,
  startNatsServer,
} from "../../server/src/nats/nats-server-process.js";

/**
 * A real `nats-server -js` for one test file, on a loopback port with its own temporary
 * store. Fault tests take it down and bring it back on the same port and store.
 */
export interface TestNats extends AsyncDisposable {
  /** `nats://127.0.0.1:<port>`; stays the same across `down()`/`up()`. */
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** The running process, or null while the server is down. */
  readonly process: NatsServerProcess | null;
  /** Stops the server cleanly (SIGTERM), keeping its store. */
  down(): Promise<void>;
  /** Ends the server with SIGKILL, as a crash would, keeping its store. */
  crash(): Promise<void>;
  /** Starts it again on the same port and store; a no-op while it runs. */
  up(): Promise<void>;
  /** `down()` then `up()`. */
  restart(): Promise<void>;
  /** Stops the server and removes its store. Idempotent; `Symbol.asyncDispose` calls it. */
  stop(): Promise<void>;
}

export type TestNatsOptions = Pick<
  NatsServerOptions,
  "extraArgs" | "readyTimeoutMs" | "log" | "clientOptions"
> & {
  /**
   * A nats-server configuration file's text (authorization, TLS, …), passed with `-c`;
   * give `clientOptions` if it makes the server require credentials. Default: none.
   */
  readonly config?: string;
};

export async function startTestNats(testOptions: TestNatsOptions = {}): Promise<TestNats> {
  const storeDir = await mkdtemp(join(tmpdir(), "chime-nats-"));
  const { config, ...rest } = testOptions;
  // Beside the store, so stop() removes it with the store.
  const configFile = join(storeDir, "nats-server.conf");
  const options: Omit<TestNatsOptions, "config"> =
    config === undefined
      ? rest
      : { ...rest, extraArgs: [...(rest.extraArgs ?? []), "-c", configFile] };
  let current: NatsServerProcess | null;
  try {
    if (config !== undefined) await writeFile(configFile, config);
    current = await startNatsServer({ ...options, host: "127.0.0.1", port: 0, storeDir });
  } catch (err) {
    await rm(storeDir, { recursive: true, force: true });
    throw err;
  }
  const { port, url } = current;
  let stopped: Promise<void> | undefined;

  const down = async (how: "stop" | "kill9"): Promise<void> => {
    const server = current;
    current = null;
    if (server) {
      await (how === "stop" ? server.stop() : server.kill9());
    }
  };
  const up = async (): Promise<void> => {
    if (stopped) {
      throw new Error("the test NATS server was stopped for good");
    }
    current ??= await startNatsServer({ ...options, host: "127.0.0.1", port, storeDir });
  };
  const stop = (): Promise<void> => {
    stopped ??= down("stop").finally(() => rm(storeDir, { recursive: true, force: true }));
    return stopped;
  };

  return {
    url,
    port,
    storeDir,
    get process() {
      return current;
    },
    down: () => down("stop"),
    crash: () => down("kill9"),
    up,
    restart: async () => {
      await down("stop");
      await up();
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
