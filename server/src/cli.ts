#!/usr/bin/env node
import { Command, Option } from "commander";
import { registerClientCommands } from "./client-cli.js";
import { ConfigError, type RawSettings, resolveConfig, SETTINGS } from "./config.js";
import { createLogger } from "./log.js";

const program = new Command("chime")
  .description(
    "Chime: schedules registered over gRPC or Connect fire as task messages on NATS JetStream.",
  )
  .showHelpAfterError();

const serve = program
  .command("serve")
  .description("run the scheduling service; every flag can also be set by its environment variable")
  .action(async (options: RawSettings) => {
    await runServe(options);
  });

for (const setting of Object.values(SETTINGS)) {
  const option = new Option(setting.flag, setting.description).env(setting.env);
  if (setting.default !== undefined) option.default(setting.default);
  serve.addOption(option);
}

async function runServe(raw: RawSettings): Promise<void> {
  let config: ReturnType<typeof resolveConfig>;
  try {
    config = resolveConfig(raw, process.stdout.isTTY === true);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`chime serve: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel, config.logFormat);
  // Loaded here, not at the top: client commands start without the whole service.
  const { NatsMissingError, startChime } = await import("./chime-service.js");
  let service: Awaited<ReturnType<typeof startChime>>;
  try {
    service = await startChime(config, log);
  } catch (err) {
    if (err instanceof NatsMissingError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    log.fatal({ err }, "could not start");
    process.exit(1);
  }
  // Stopped of itself (its store gone): a supervisor's restart is what brings it back.
  void service.failure.then(() => {
    log.flush();
    process.exit(1);
  });
  let signals = 0;
  const shutdown = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, "second signal: stopping at once");
      process.exit(1);
    }
    log.info({ signal }, "stopping: draining requests and fires in flight");
    service.drain().then(
      () => {
        log.info("stopped");
        log.flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

registerClientCommands(program);

await program.parseAsync(process.argv);
