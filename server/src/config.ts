import { hostname } from "node:os";
import { parseDuration } from "@chime/sdk";
import type { RequestLimits } from "./api/request-validation.js";
import type { LogFormat } from "./log.js";
import { subjectMatches, subjectPatternProblem } from "./spec/index.js";

/** Every setting of `chime serve`, resolved: nothing optional but what is truly optional. */
export interface ChimeConfig {
  readonly listen: { readonly host: string; readonly port: number };
  /** undefined: the embedded default (a local nats-server when none listens on 4222). */
  readonly natsUrl: string | undefined;
  readonly subjects: readonly string[];
  readonly stream: string;
  readonly bucket: string;
  readonly partitions: number;
  readonly dedupWindowMs: number;
  readonly streamMaxAgeMs: number;
  readonly misfireThresholdMs: number;
  readonly maxCatchupFires: number;
  readonly publishWindow: number;
  readonly checkpointIntervalMs: number;
  readonly leaseTtlMs: number;
  readonly leaseBucket: string;
  readonly natsTimeoutMs: number;
  readonly dataDir: string;
  readonly replicaId: string;
  readonly logLevel: string;
  readonly logFormat: LogFormat;
  readonly limits: RequestLimits;
}

/** One setting: its flag, environment variable, default and meaning (also the README's table). */
export interface SettingSpec {
  readonly flag: string;
  readonly env: string;
  readonly default: string | undefined;
  readonly description: string;
}

export const SETTINGS = {
  listen: {
    flag: "--listen <host:port>",
    env: "CHIME_LISTEN",
    default: "127.0.0.1:7070",
    description: "address of the one port for gRPC, Connect, gRPC-Web and HTTP",
  },
  nats: {
    flag: "--nats <url>",
    env: "CHIME_NATS_URL",
    default: undefined,
    description:
      "NATS server URL(s), comma-separated; unset: use nats://127.0.0.1:4222, or start a local nats-server with data under --data-dir when none listens there",
  },
  subjects: {
    flag: "--subjects <patterns>",
    env: "CHIME_SUBJECTS",
    default: "tasks.>",
    description: "the subject space schedules may publish to, comma-separated patterns",
  },
  stream: {
    flag: "--stream <name>",
    env: "CHIME_STREAM",
    default: "CHIME_TASKS",
    description:
      "the JetStream stream that captures the subject space (created or widened at start)",
  },
  bucket: {
    flag: "--bucket <name>",
    env: "CHIME_BUCKET",
    default: "CHIME_SCHEDULES",
    description: "the KV bucket schedules are stored in",
  },
  partitions: {
    flag: "--partitions <n>",
    env: "CHIME_PARTITIONS",
    default: "16",
    description: "partitions of a new store (an existing store keeps its count)",
  },
  dedupWindow: {
    flag: "--dedup-window <duration>",
    env: "CHIME_DEDUP_WINDOW",
    default: "10m",
    description:
      "the task stream's duplicate window: a fire published again within it reaches consumers once",
  },
  streamMaxAge: {
    flag: "--stream-max-age <duration>",
    env: "CHIME_STREAM_MAX_AGE",
    default: "7d",
    description: "how long the task stream keeps fired tasks when Chime creates it (0: forever)",
  },
  misfireThreshold: {
    flag: "--misfire-threshold <duration>",
    env: "CHIME_MISFIRE_THRESHOLD",
    default: "5s",
    description: "a recurring fire later than this follows its schedule's misfire policy",
  },
  maxCatchupFires: {
    flag: "--max-catchup-fires <n>",
    env: "CHIME_MAX_CATCHUP_FIRES",
    default: "100",
    description: "the most fires one FIRE_ALL catch-up makes up",
  },
  publishWindow: {
    flag: "--publish-window <n>",
    env: "CHIME_PUBLISH_WINDOW",
    default: "1024",
    description: "JetStream publishes awaiting their ack at once",
  },
  leaseTtl: {
    flag: "--lease-ttl <duration>",
    env: "CHIME_LEASE_TTL",
    default: "2s",
    description:
      "how long a replica's partition leases outlive it; orphaned partitions move to another replica within about this",
  },
  leaseBucket: {
    flag: "--lease-bucket <name>",
    env: "CHIME_LEASE_BUCKET",
    default: "CHIME_LEASES",
    description: "the KV bucket of partition leases and replica membership",
  },
  checkpointInterval: {
    flag: "--checkpoint-interval <duration>",
    env: "CHIME_CHECKPOINT_INTERVAL",
    default: "100ms",
    description: "how often fire progress is written to the store, in one batch",
  },
  natsTimeout: {
    flag: "--nats-timeout <duration>",
    env: "CHIME_NATS_TIMEOUT",
    default: "2s",
    description: "how long one NATS request may take before the RPC answers UNAVAILABLE",
  },
  dataDir: {
    flag: "--data-dir <path>",
    env: "CHIME_DATA_DIR",
    default: ".chime",
    description: "where the embedded nats-server keeps its data",
  },
  replicaId: {
    flag: "--replica-id <name>",
    env: "CHIME_REPLICA_ID",
    default: undefined,
    description: "this replica's name (default: host name and process id)",
  },
  logLevel: {
    flag: "--log-level <level>",
    env: "CHIME_LOG_LEVEL",
    default: "info",
    description: "trace, debug, info, warn, error or fatal",
  },
  logFormat: {
    flag: "--log-format <format>",
    env: "CHIME_LOG_FORMAT",
    default: undefined,
    description: "json or pretty (default: pretty on a terminal, else json)",
  },
  maxPageSize: {
    flag: "--max-page-size <n>",
    env: "CHIME_MAX_PAGE_SIZE",
    default: "1000",
    description: "the largest page_size ListSchedules accepts",
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;
export type RawSettings = Partial<Record<SettingName, string>>;

/** A setting that cannot be used: names it and the rule. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Resolves raw settings (flags over environment over defaults) into a full configuration. */
export function resolveConfig(raw: RawSettings, isTerminal: boolean): ChimeConfig {
  const value = (name: SettingName): string | undefined => raw[name] ?? SETTINGS[name].default;
  const required = (name: SettingName): string => value(name) ?? "";
  const logFormat = value("logFormat") ?? (isTerminal ? "pretty" : "json");
  if (logFormat !== "json" && logFormat !== "pretty") {
    throw new ConfigError(`--log-format: must be json or pretty, not ${JSON.stringify(logFormat)}`);
  }
  const leaseTtlMs = duration("leaseTtl", required("leaseTtl"));
  if (leaseTtlMs < 500) throw new ConfigError("--lease-ttl: must be at least 500ms");
  const dedupWindowMs = duration("dedupWindow", required("dedupWindow"));
  if (dedupWindowMs < minimumDedupWindowMs(leaseTtlMs)) {
    throw new ConfigError(
      `--dedup-window: must be at least ${minimumDedupWindowMs(leaseTtlMs) / 1000}s (30s, and 10 × --lease-ttl): a fire repeated after a failover must still be recognised as a duplicate`,
    );
  }
  const subjects = required("subjects")
    .split(",")
    .map((subject) => subject.trim())
    .filter((subject) => subject !== "");
  checkSubjectSpace(subjects);
  return {
    listen: parseListen(required("listen")),
    natsUrl: value("nats") || undefined,
    subjects,
    stream: required("stream"),
    bucket: required("bucket"),
    partitions: integer("partitions", required("partitions"), 1, 4096),
    dedupWindowMs,
    streamMaxAgeMs: duration("streamMaxAge", required("streamMaxAge")),
    misfireThresholdMs: duration("misfireThreshold", required("misfireThreshold")),
    maxCatchupFires: integer("maxCatchupFires", required("maxCatchupFires"), 1, 100_000),
    publishWindow: integer("publishWindow", required("publishWindow"), 1, 65_536),
    checkpointIntervalMs: duration("checkpointInterval", required("checkpointInterval")),
    leaseTtlMs,
    leaseBucket: required("leaseBucket"),
    natsTimeoutMs: duration("natsTimeout", required("natsTimeout")),
    dataDir: required("dataDir"),
    replicaId: replicaIdOf(value("replicaId")),
    logLevel: required("logLevel"),
    logFormat,
    limits: {
      // Lowered to the server's max_payload when NATS is connected.
      maxPayloadBytes: 1024 * 1024,
      maxHeaders: 32,
      maxHeaderBytes: 8 * 1024,
      maxNameLength: 200,
      maxLabels: 32,
      maxLabelKeyLength: 63,
      maxLabelValueLength: 256,
      maxPageSize: integer("maxPageSize", required("maxPageSize"), 1, 100_000),
      maxPastMs: 24 * 3600 * 1000,
    },
  };
}

function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65535) {
    throw new ConfigError(
      `--listen: must be host:port (e.g. 127.0.0.1:7070), not ${JSON.stringify(text)}`,
    );
  }
  return { host: match[1] ?? (match[2] || "0.0.0.0"), port };
}

function integer(name: SettingName, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    throw new ConfigError(
      `${flagOf(name)}: must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`,
    );
  }
  return n;
}

function duration(name: SettingName, text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    throw new ConfigError(
      `${flagOf(name)}: must be a duration such as 250ms, 5s, 10m, 1h30m or 7d, not ${JSON.stringify(text)}`,
    );
  }
  return ms;
}

function flagOf(name: SettingName): string {
  return SETTINGS[name].flag.split(" ")[0] ?? name;
}

/** The shortest duplicate window that still covers a fire repeated by the next owner. */
export function minimumDedupWindowMs(leaseTtlMs: number): number {
  return Math.max(30_000, 10 * leaseTtlMs);
}

/** Replica names appear in NATS subjects and KV keys: letters, digits, '-' and '_' only. */
function replicaIdOf(given: string | undefined): string {
  if (given === undefined || given === "") {
    return `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_-]/g, "-");
  }
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(given)) {
    throw new ConfigError(
      `--replica-id: must be 1 to 64 letters, digits, '-' or '_', not ${JSON.stringify(given)}`,
    );
  }
  return given;
}

/** The subject space must be valid patterns and stay clear of Chime's own subjects. */
function checkSubjectSpace(patterns: readonly string[]): void {
  if (patterns.length === 0)
    throw new ConfigError("--subjects: must name at least one subject pattern");
  for (const pattern of patterns) {
    const problem = subjectPatternProblem(pattern);
    if (problem !== null)
      throw new ConfigError(`--subjects: ${JSON.stringify(pattern)} ${problem}`);
    if (subjectMatches(pattern, INTERNAL_PROBE) || pattern.startsWith("chime.internal")) {
      throw new ConfigError(
        `--subjects: ${JSON.stringify(pattern)} overlaps chime.internal.>, where replicas talk to each other`,
      );
    }
  }
}

const INTERNAL_PROBE = "chime.internal.replica.probe.applied";
