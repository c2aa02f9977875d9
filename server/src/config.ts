import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { createSecureContext } from "node:tls";
import { parseDuration } from "@chime/sdk";
import { AuthConfigError, parseTokenConfig, type TokenGrant, TokenVerifier } from "./api/auth.js";
import type { RateLimit } from "./api/rate-limit.js";
import type { RequestLimits } from "./api/request-validation.js";
import type { LogFormat } from "./log.js";
import type { NatsAuth } from "./nats/nats-auth.js";
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
  readonly coldHorizonMs: number;
  readonly leaseTtlMs: number;
  readonly leaseBucket: string;
  readonly natsTimeoutMs: number;
  readonly dataDir: string;
  readonly replicaId: string;
  readonly logLevel: string;
  readonly logFormat: LogFormat;
  readonly limits: RequestLimits;
  readonly http: HttpLimits;
  readonly tenantLimits: TenantLimits;
  readonly auth: AuthSettings;
  /** TLS on the listening port; undefined: plain TCP. */
  readonly tls: ListenerTls | undefined;
  /** How Chime proves itself to NATS. */
  readonly natsAuth: NatsAuth;
}

export interface AuthSettings {
  /** No tokens: authentication is off (allowed on loopback, or with --insecure-no-auth). */
  readonly tokens: readonly TokenGrant[];
  readonly insecureNoAuth: boolean;
}

/** PEM contents, read when the configuration is resolved so a bad path stops the start. */
export interface ListenerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Mutual TLS: clients must present a certificate signed by this CA. */
  readonly clientCa: Buffer | undefined;
}

/** Limits of the listening port, against clients that are slow or send too much. */
export interface HttpLimits {
  /** The largest request body (one message), refused before it is parsed. */
  readonly maxRequestBytes: number;
  readonly headerTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

/** Limits per tenant: what a namespace may hold, and how fast a token may call. */
export interface TenantLimits {
  /** 0: no limit. */
  readonly maxSchedulesPerNamespace: number;
  /** null: calls are not rate-limited. Applies to authenticated calls only. */
  readonly rpcRatePerToken: RateLimit | null;
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
  coldHorizon: {
    flag: "--cold-horizon <duration>",
    env: "CHIME_COLD_HORIZON",
    default: "10m",
    description:
      "a one-shot due further ahead than this is held compactly, its payload and headers read back from the store as it comes within",
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
  // Limits on what one client request may hold or take (DESIGN, "Safety").
  maxRequestBytes: {
    flag: "--max-request-bytes <n>",
    env: "CHIME_MAX_REQUEST_BYTES",
    default: "4194304",
    description:
      "the largest request body (one message) accepted, refused before it is parsed (RESOURCE_EXHAUSTED)",
  },
  maxPayloadBytes: {
    flag: "--max-payload-bytes <n>",
    env: "CHIME_MAX_PAYLOAD_BYTES",
    default: "1048576",
    description:
      "the largest schedule payload; lowered to the NATS server's max_payload less 16 KiB for headers",
  },
  maxHeaders: {
    flag: "--max-headers <n>",
    env: "CHIME_MAX_HEADERS",
    default: "32",
    description: "the most user headers one schedule may carry",
  },
  maxHeaderBytes: {
    flag: "--max-header-bytes <n>",
    env: "CHIME_MAX_HEADER_BYTES",
    default: "8192",
    description: "the most bytes of user header names and values together",
  },
  maxNameLength: {
    flag: "--max-name-length <n>",
    env: "CHIME_MAX_NAME_LENGTH",
    default: "200",
    description: "the longest schedule name, in characters",
  },
  maxLabels: {
    flag: "--max-labels <n>",
    env: "CHIME_MAX_LABELS",
    default: "32",
    description: "the most labels one schedule may carry",
  },
  maxLabelKeyLength: {
    flag: "--max-label-key-length <n>",
    env: "CHIME_MAX_LABEL_KEY_LENGTH",
    default: "63",
    description: "the longest label key, in characters",
  },
  maxLabelValueLength: {
    flag: "--max-label-value-length <n>",
    env: "CHIME_MAX_LABEL_VALUE_LENGTH",
    default: "256",
    description: "the longest label value, in characters",
  },
  httpHeaderTimeout: {
    flag: "--http-header-timeout <duration>",
    env: "CHIME_HTTP_HEADER_TIMEOUT",
    default: "10s",
    description:
      "how long a new connection may take to send its first bytes, and an HTTP/1.1 request its headers",
  },
  httpRequestTimeout: {
    flag: "--http-request-timeout <duration>",
    env: "CHIME_HTTP_REQUEST_TIMEOUT",
    default: "30s",
    description:
      "how long a request (HTTP/1.1) or a call's request message (gRPC) may take to arrive in full",
  },
  httpIdleTimeout: {
    flag: "--http-idle-timeout <duration>",
    env: "CHIME_HTTP_IDLE_TIMEOUT",
    default: "65s",
    description:
      "how long a connection without a call in progress stays open (HTTP/1.1 keep-alive and HTTP/2)",
  },
  maxSchedulesPerNamespace: {
    flag: "--max-schedules-per-namespace <n>",
    env: "CHIME_MAX_SCHEDULES_PER_NAMESPACE",
    default: "1000000",
    description:
      "the most schedules one namespace may hold; more creates are refused with RESOURCE_EXHAUSTED (0: no limit)",
  },
  rpcRatePerToken: {
    flag: "--rpc-rate-per-token <n>",
    env: "CHIME_RPC_RATE_PER_TOKEN",
    default: "1000",
    description:
      "calls per second one token may make, sustained; more are refused with RESOURCE_EXHAUSTED (0: no limit; not applied without authentication)",
  },
  rpcBurstPerToken: {
    flag: "--rpc-burst-per-token <n>",
    env: "CHIME_RPC_BURST_PER_TOKEN",
    default: "2000",
    description: "calls one token may make at once, above --rpc-rate-per-token",
  },
  // Authentication, TLS and NATS credentials (README, "Security").
  authFile: {
    flag: "--auth-file <path>",
    env: "CHIME_AUTH_FILE",
    default: undefined,
    description:
      "a JSON file of bearer tokens (name, namespace, subjects, role, token or sha256); without tokens, authentication is off",
  },
  authTokens: {
    flag: "--auth-tokens <json>",
    env: "CHIME_AUTH_TOKENS",
    default: undefined,
    description:
      "more tokens, as JSON in the --auth-file format (use the environment variable: a flag shows in the process list)",
  },
  insecureNoAuth: {
    flag: "--insecure-no-auth [yes]",
    env: "CHIME_INSECURE_NO_AUTH",
    default: undefined,
    description:
      "serve without authentication on an address other than loopback (Chime refuses to otherwise)",
  },
  tlsCert: {
    flag: "--tls-cert <path>",
    env: "CHIME_TLS_CERT",
    default: undefined,
    description: "PEM certificate chain: the port serves TLS (ALPN h2 and http/1.1)",
  },
  tlsKey: {
    flag: "--tls-key <path>",
    env: "CHIME_TLS_KEY",
    default: undefined,
    description: "PEM private key of --tls-cert",
  },
  tlsClientCa: {
    flag: "--tls-client-ca <path>",
    env: "CHIME_TLS_CLIENT_CA",
    default: undefined,
    description: "PEM CA bundle: clients must present a certificate it signed (mutual TLS)",
  },
  natsUser: {
    flag: "--nats-user <user>",
    env: "CHIME_NATS_USER",
    default: undefined,
    description: "NATS user name (with --nats-password)",
  },
  natsPassword: {
    flag: "--nats-password <password>",
    env: "CHIME_NATS_PASSWORD",
    default: undefined,
    description: "NATS password (prefer the environment variable)",
  },
  natsToken: {
    flag: "--nats-token <token>",
    env: "CHIME_NATS_TOKEN",
    default: undefined,
    description: "NATS authentication token (prefer the environment variable)",
  },
  natsNkeySeed: {
    flag: "--nats-nkey-seed <path>",
    env: "CHIME_NATS_NKEY_SEED",
    default: undefined,
    description: "file holding the NATS user NKey seed (SU…)",
  },
  natsCreds: {
    flag: "--nats-creds <path>",
    env: "CHIME_NATS_CREDS",
    default: undefined,
    description: "NATS credentials file (user JWT and seed, as nsc writes it)",
  },
  natsTlsCa: {
    flag: "--nats-tls-ca <path>",
    env: "CHIME_NATS_TLS_CA",
    default: undefined,
    description: "PEM CA that signed the NATS server's certificate (connects with TLS)",
  },
  natsTlsCert: {
    flag: "--nats-tls-cert <path>",
    env: "CHIME_NATS_TLS_CERT",
    default: undefined,
    description: "PEM client certificate for NATS (with --nats-tls-key)",
  },
  natsTlsKey: {
    flag: "--nats-tls-key <path>",
    env: "CHIME_NATS_TLS_KEY",
    default: undefined,
    description: "PEM private key of --nats-tls-cert",
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
  const listen = parseListen(required("listen"));
  const auth = authSettings(value, listen.host);
  return {
    listen,
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
    coldHorizonMs: coldHorizon(duration("coldHorizon", required("coldHorizon"))),
    leaseTtlMs,
    leaseBucket: required("leaseBucket"),
    natsTimeoutMs: duration("natsTimeout", required("natsTimeout")),
    dataDir: required("dataDir"),
    replicaId: replicaIdOf(value("replicaId")),
    logLevel: required("logLevel"),
    logFormat,
    limits: {
      // Lowered to the server's max_payload when NATS is connected.
      maxPayloadBytes: integer("maxPayloadBytes", required("maxPayloadBytes"), 1, 64 * MIB),
      maxHeaders: integer("maxHeaders", required("maxHeaders"), 0, 1024),
      maxHeaderBytes: integer("maxHeaderBytes", required("maxHeaderBytes"), 0, 64 * 1024),
      maxNameLength: integer("maxNameLength", required("maxNameLength"), 1, 1024),
      maxLabels: integer("maxLabels", required("maxLabels"), 0, 1024),
      maxLabelKeyLength: integer("maxLabelKeyLength", required("maxLabelKeyLength"), 1, 1024),
      maxLabelValueLength: integer(
        "maxLabelValueLength",
        required("maxLabelValueLength"),
        0,
        64 * 1024,
      ),
      maxPageSize: integer("maxPageSize", required("maxPageSize"), 1, 100_000),
      maxPastMs: 24 * 3600 * 1000,
    },
    http: httpLimits(required),
    tenantLimits: tenantLimits(required),
    auth,
    tls: listenerTls(value),
    natsAuth: natsAuth(value),
  };
}

const MIB = 1024 * 1024;

function httpLimits(required: (name: SettingName) => string): HttpLimits {
  const headerTimeoutMs = duration("httpHeaderTimeout", required("httpHeaderTimeout"));
  const requestTimeoutMs = duration("httpRequestTimeout", required("httpRequestTimeout"));
  const idleTimeoutMs = duration("httpIdleTimeout", required("httpIdleTimeout"));
  for (const [name, ms] of [
    ["httpHeaderTimeout", headerTimeoutMs],
    ["httpRequestTimeout", requestTimeoutMs],
    ["httpIdleTimeout", idleTimeoutMs],
  ] as const) {
    // 0 would mean "no timeout" to Node, which is what these settings exist to prevent.
    if (ms < 100) throw new ConfigError(`${flagOf(name)}: must be at least 100ms`);
  }
  // Node refuses a header timeout above the request timeout: the headers are part of it.
  if (headerTimeoutMs > requestTimeoutMs) {
    throw new ConfigError("--http-header-timeout: must not be longer than --http-request-timeout");
  }
  return {
    maxRequestBytes: integer("maxRequestBytes", required("maxRequestBytes"), 1024, 256 * MIB),
    headerTimeoutMs,
    requestTimeoutMs,
    idleTimeoutMs,
  };
}

function tenantLimits(required: (name: SettingName) => string): TenantLimits {
  const rateText = required("rpcRatePerToken");
  const perSecond = Number(rateText);
  // Fractions allowed: a rate below one call per second is a real setting (and a test's).
  if (!/^\d+(\.\d+)?$/.test(rateText) || perSecond > 1_000_000) {
    throw new ConfigError(
      `--rpc-rate-per-token: must be a number of calls per second from 0 to 1000000, not ${JSON.stringify(rateText)}`,
    );
  }
  const burst = integer("rpcBurstPerToken", required("rpcBurstPerToken"), 1, 1_000_000);
  return {
    maxSchedulesPerNamespace: integer(
      "maxSchedulesPerNamespace",
      required("maxSchedulesPerNamespace"),
      0,
      1_000_000_000,
    ),
    rpcRatePerToken: perSecond === 0 ? null : { perSecond, burst },
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

function coldHorizon(ms: number): number {
  // Within a second, a read of the store would race the fire it prepares.
  if (ms < 1_000) throw new ConfigError("--cold-horizon: must be at least 1s");
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

/** Tokens from --auth-file and --auth-tokens; refuses an open port that is not loopback. */
function authSettings(
  value: (name: SettingName) => string | undefined,
  listenHost: string,
): AuthSettings {
  const tokens: TokenGrant[] = [];
  try {
    const file = value("authFile");
    if (file) tokens.push(...parseTokenConfig(readSettingFile("authFile", file), "--auth-file"));
    const inline = value("authTokens");
    if (inline) tokens.push(...parseTokenConfig(inline, "--auth-tokens"));
    // Refuses the same name or secret twice, across both sources.
    new TokenVerifier(tokens);
  } catch (err) {
    if (err instanceof AuthConfigError) throw new ConfigError(err.message);
    throw err;
  }
  const insecureNoAuth = flagValue("insecureNoAuth", value("insecureNoAuth"));
  if (tokens.length === 0 && !insecureNoAuth && !isLoopback(listenHost)) {
    throw new ConfigError(
      `--listen: ${listenHost} is not a loopback address and no tokens are configured: give tokens with --auth-file (CHIME_AUTH_FILE) or CHIME_AUTH_TOKENS, or pass --insecure-no-auth (CHIME_INSECURE_NO_AUTH=yes) to serve without authentication`,
    );
  }
  return { tokens, insecureNoAuth };
}

/** Only these addresses keep an unauthenticated port on this machine. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return (
    h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127\./.test(h)
  );
}

// Commander hands a flag given without a value over as `true`, not as a string.
function flagValue(name: SettingName, raw: string | boolean | undefined): boolean {
  if (raw === undefined || raw === "" || raw === false) return false;
  const text = String(raw).toLowerCase();
  if (["true", "yes", "1", "on"].includes(text)) return true;
  if (["false", "no", "0", "off"].includes(text)) return false;
  throw new ConfigError(`${flagOf(name)}: must be yes or no, not ${JSON.stringify(raw)}`);
}

function readSettingFile(name: SettingName, path: string): string {
  return readSettingBytes(name, path).toString("utf8");
}

function readSettingBytes(name: SettingName, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(
      `${flagOf(name)}: cannot read ${path} (${err instanceof Error ? err.message : String(err)})`,
    );
  }
}

function listenerTls(value: (name: SettingName) => string | undefined): ListenerTls | undefined {
  const certPath = value("tlsCert");
  const keyPath = value("tlsKey");
  const caPath = value("tlsClientCa");
  if (!certPath && !keyPath) {
    if (caPath) throw new ConfigError("--tls-client-ca: needs --tls-cert and --tls-key");
    return undefined;
  }
  if (!certPath || !keyPath) throw new ConfigError("--tls-cert and --tls-key: give both");
  const tls: ListenerTls = {
    cert: readSettingBytes("tlsCert", certPath),
    key: readSettingBytes("tlsKey", keyPath),
    clientCa: caPath ? readSettingBytes("tlsClientCa", caPath) : undefined,
  };
  try {
    // A key that does not match its certificate, or a file that is not PEM, stops the start.
    createSecureContext({ cert: tls.cert, key: tls.key, ca: tls.clientCa });
  } catch (err) {
    throw new ConfigError(
      `--tls-cert, --tls-key: not a usable certificate and key (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  return tls;
}

function natsAuth(value: (name: SettingName) => string | undefined): NatsAuth {
  const user = value("natsUser") || undefined;
  const password = value("natsPassword") || undefined;
  const token = value("natsToken") || undefined;
  const seedPath = value("natsNkeySeed");
  const credsPath = value("natsCreds");
  if ((user === undefined) !== (password === undefined)) {
    throw new ConfigError("--nats-user and --nats-password: give both");
  }
  const ways = [user, token, seedPath, credsPath].filter((v) => v !== undefined && v !== "");
  if (ways.length > 1) {
    throw new ConfigError(
      "--nats-user, --nats-token, --nats-nkey-seed, --nats-creds: give at most one way to authenticate to NATS",
    );
  }
  let nkeySeed: string | undefined;
  if (seedPath) {
    nkeySeed = readSettingFile("natsNkeySeed", seedPath).trim();
    if (!/^SU[A-Z2-7]{56}$/.test(nkeySeed)) {
      throw new ConfigError(`--nats-nkey-seed: ${seedPath} does not hold a user NKey seed (SU…)`);
    }
  }
  let creds: string | undefined;
  if (credsPath) {
    creds = readSettingFile("natsCreds", credsPath);
    if (!creds.includes("BEGIN NATS USER JWT") || !creds.includes("BEGIN USER NKEY SEED")) {
      throw new ConfigError(
        `--nats-creds: ${credsPath} is not a NATS credentials file (user JWT and NKey seed)`,
      );
    }
  }
  const caFile = value("natsTlsCa") || undefined;
  const certFile = value("natsTlsCert") || undefined;
  const keyFile = value("natsTlsKey") || undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError("--nats-tls-cert and --nats-tls-key: give both");
  }
  for (const [name, path] of [
    ["natsTlsCa", caFile],
    ["natsTlsCert", certFile],
    ["natsTlsKey", keyFile],
  ] as const) {
    if (path !== undefined) readSettingBytes(name, path);
  }
  const tls =
    caFile || certFile
      ? {
          ...(caFile ? { caFile } : {}),
          ...(certFile && keyFile ? { certFile, keyFile } : {}),
        }
      : undefined;
  return { user, password, token, nkeySeed, creds, tls };
}
