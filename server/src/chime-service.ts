import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  BatchScheduleResponseSchema,
  CreatedScheduleSchema,
  ListSchedulesResponseSchema,
  SchedulerService,
  ScheduleSchema,
} from "@chime/sdk";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { authInterceptor, TokenVerifier } from "./api/auth.js";
import { grpcServiceFromConnect, type ReplyEncoder, replyEncoder } from "./api/grpc-binding.js";
import { createGrpcHealth, healthFileDescriptorProtos } from "./api/health.js";
import { rateLimitInterceptor } from "./api/rate-limit.js";
import { reflectionServices } from "./api/reflection.js";
import { requestLogInterceptor } from "./api/request-log.js";
import { RequestValidator } from "./api/request-validation.js";
import { SchedulerApi } from "./api/scheduler-service.js";
import { PartitionLeases } from "./cluster/partition-leases.js";
import { INTERNAL_SUBJECT_SPACE, ReplicaLink } from "./cluster/replica-link.js";
import type { ChimeConfig, HttpLimits } from "./config.js";
import { Engine, type EngineHooks } from "./engine/engine.js";
import { FireHistory } from "./engine/fire-history.js";
import { FirePublisher } from "./engine/fire-publisher.js";
import { ensureTaskStream } from "./engine/task-stream.js";
import { type Listener, type ListenerOptions, startListener } from "./http/listener.js";
import { createMetrics } from "./http/metrics.js";
import { replicaStatusRoute } from "./http/replica-status.js";
import { requestTimeoutInterceptor } from "./http/request-limits.js";
import { staticFileRoutes } from "./http/static-files.js";
import { bucketStream } from "./nats/bucket-puts.js";
import { LostStreamWatch } from "./nats/lost-streams.js";
import { describeNatsAuth, natsConnectOptions } from "./nats/nats-auth.js";
import {
  findNatsServerBinary,
  isPortOpen,
  type NatsServerProcess,
  startNatsServer,
} from "./nats/nats-server-process.js";
import { noStreamTook } from "./nats/pub-ack.js";
import {
  encodeBatchScheduleResponse,
  encodeCreatedSchedule,
  encodeListSchedulesResponse,
  encodeSchedule,
} from "./schedule-encoding.js";
import { Catalog } from "./store/catalog.js";
import { ScheduleStore } from "./store/schedule-store.js";

/** Subjects Chime keeps for itself; no schedule may publish to them. */
export const RESERVED_SUBJECTS = [INTERNAL_SUBJECT_SPACE];
// Room left in a message for the Chime-* headers and the user's headers.
const HEADER_ROOM_BYTES = 16 * 1024;
const DEFAULT_NATS = { host: "127.0.0.1", port: 4222 };
// The dashboard's built files (npm run build): server/dist/ui, from src/ and from dist/ alike.
const DASHBOARD_DIR = fileURLToPath(new URL("../dist/ui/", import.meta.url));
// GetSchedule's recent_fires: how many, and how many task messages it may read to find them.
const RECENT_FIRES = 10;
/** The replies of creates, reads and lists over gRPC, written without toBinary's reflection. */
const replyEncoders: ReplyEncoder[] = [
  replyEncoder(CreatedScheduleSchema, encodeCreatedSchedule),
  replyEncoder(ScheduleSchema, encodeSchedule),
  replyEncoder(ListSchedulesResponseSchema, encodeListSchedulesResponse),
  replyEncoder(BatchScheduleResponseSchema, encodeBatchScheduleResponse),
];
const RECENT_FIRES_MAX_SCANNED = 20_000;

/** A running Chime. */
export interface ChimeService {
  readonly address: { readonly host: string; readonly port: number };
  readonly natsUrl: string;
  readonly engine: Engine;
  readonly catalog: Catalog;
  /**
   * Settles, with why, once the service has stopped of itself: NATS no longer has a stream it
   * keeps its store or fires in. Never settles otherwise.
   */
  readonly failure: Promise<Error>;
  /** Stops taking requests, lets fires in flight land, records progress, and disconnects. */
  drain(): Promise<void>;
  /** Stops at once. */
  close(): Promise<void>;
}

/** NATS no longer has a stream Chime keeps its schedules, leases or fires in. */
export class StoreLostError extends Error {
  override readonly name = "StoreLostError";
}

/** Thrown when the embedded default cannot find NATS: its message is the one line to show. */
export class NatsMissingError extends Error {
  override readonly name = "NatsMissingError";
}

export async function startChime(
  config: ChimeConfig,
  log: Logger,
  hooks: EngineHooks = {},
): Promise<ChimeService> {
  const cleanups: (() => Promise<void>)[] = [];
  const metrics = createMetrics();
  try {
    const { url, embedded } = await resolveNats(config, log);
    if (embedded !== undefined)
      cleanups.unshift(async () => {
        await embedded.stop();
      });

    const nc = await connect({
      servers: url.split(","),
      name: `chime ${config.replicaId}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: config.natsTimeoutMs,
      // Otherwise every request (each fire's publish among them) builds two Error objects with
      // stack traces up front, in case it fails: a tenth of the CPU of a burst.
      noAsyncTraces: true,
      ...natsConnectOptions(config.natsAuth),
    });
    cleanups.unshift(() => nc.close());
    let onConnectionChange: (connected: boolean) => void = () => {};
    const connection = trackConnection(nc, log, (connected) => onConnectionChange(connected));
    log.info(
      { nats: url, server: nc.info?.server_name, auth: describeNatsAuth(config.natsAuth) },
      "connected to NATS",
    );

    const jsm = await jetstreamManager(nc, { timeout: config.natsTimeoutMs });
    await ensureTaskStream(jsm, {
      name: config.stream,
      subjects: config.subjects,
      duplicateWindowMs: config.dedupWindowMs,
      maxAgeMs: config.streamMaxAgeMs,
      replicas: 1,
    });
    const store = await ScheduleStore.open(nc, {
      bucket: config.bucket,
      partitions: config.partitions,
      replicas: 1,
      timeoutMs: config.natsTimeoutMs,
    });
    // A failed watch, or a fire or write that no stream took, may mean a stream is gone.
    const lostStreams = new LostStreamWatch(jsm, [
      bucketStream(config.bucket),
      bucketStream(config.leaseBucket),
      config.stream,
    ]);
    const catalog = new Catalog(store, log, config.coldHorizonMs, () => lostStreams.suspect());
    await catalog.start();
    cleanups.unshift(() => catalog.close());

    const publisher = new FirePublisher(
      nc,
      { window: config.publishWindow, ackTimeoutMs: config.natsTimeoutMs, maxRetryDelayMs: 2_000 },
      log,
      {
        publishFailed: (err, willRetry) => {
          metrics.publisherHooks.publishFailed(err, willRetry);
          if (noStreamTook(err)) lostStreams.suspect();
        },
      },
    );
    const engine = new Engine(
      catalog,
      store,
      publisher,
      {
        misfireThresholdMs: config.misfireThresholdMs,
        checkpointIntervalMs: config.checkpointIntervalMs,
        coldHorizonMs: config.coldHorizonMs,
        maxCatchupFires: config.maxCatchupFires,
      },
      log,
      {
        fired: (report) => {
          metrics.engineHooks.fired(report);
          hooks.fired?.(report);
        },
      },
    );
    engine.start();
    cleanups.unshift(async () => engine.close());

    const link = new ReplicaLink(
      nc,
      config.replicaId,
      {
        applied: (revision) => catalog.waitForRevision(revision),
        trigger: (id) => engine.trigger(id),
      },
      log,
    );
    link.start();
    cleanups.unshift(async () => link.close());
    const leases = await PartitionLeases.open(
      nc,
      {
        bucket: config.leaseBucket,
        replicaId: config.replicaId,
        partitions: store.partitions,
        ttlMs: config.leaseTtlMs,
        renewIntervalMs: Math.max(100, Math.floor(config.leaseTtlMs / 4)),
        marginMs: Math.floor(config.leaseTtlMs / 5),
        timeoutMs: config.natsTimeoutMs,
        watchFailed: () => lostStreams.suspect(),
      },
      engine,
      log,
    );
    await leases.start();
    cleanups.unshift(async () => leases.close());
    log.info(
      {
        schedules: catalog.size,
        partitions: store.partitions,
        owned: engine.ownedPartitions.length,
      },
      "store loaded; firing the partitions this replica holds",
    );

    const maxPayload = nc.info?.max_payload ?? config.limits.maxPayloadBytes;
    const validator = new RequestValidator(
      {
        ...config.limits,
        maxPayloadBytes: Math.min(config.limits.maxPayloadBytes, maxPayload - HEADER_ROOM_BYTES),
      },
      { subjectSpace: config.subjects, reserved: RESERVED_SUBJECTS },
    );
    const api = new SchedulerApi({
      store,
      catalog,
      engine,
      ownership: {
        holderOf: (partition) => leases.holderOf(partition),
        currentHolderOf: (partition) => leases.currentHolderOf(partition),
        appliedBy: async (owner, revision) => {
          await link.applied(owner, revision, config.natsTimeoutMs);
        },
        triggerAt: (owner, id) => link.trigger(owner, id, config.natsTimeoutMs),
      },
      validator,
      natsConnected: connection.isConnected,
      replicaId: config.replicaId,
      fireHistory: new FireHistory(jetstream(nc, { timeout: config.natsTimeoutMs }), jsm, {
        stream: config.stream,
        limit: RECENT_FIRES,
        maxScanned: RECENT_FIRES_MAX_SCANNED,
        timeoutMs: config.natsTimeoutMs,
      }),
      log,
      maxSchedulesPerNamespace: config.tenantLimits.maxSchedulesPerNamespace,
      noStream: () => lostStreams.suspect(),
    });
    const impl = api.service();
    metrics.observe({
      schedulesByState: () => schedulesByState(catalog, engine),
      ownedPartitions: () => engine.ownedPartitions.length,
      natsConnected: connection.isConnected,
      unreadableSchedules: () => catalog.unreadableCount,
    });
    // The store is loaded by now: health follows the NATS connection from here on.
    const health = createGrpcHealth([SchedulerService.typeName], connection.isConnected());
    onConnectionChange = (connected) => health.setServing(connected);
    const interceptors = [
      metrics.interceptor,
      requestLogInterceptor(log),
      authOf(config, log),
      ...rateLimitOf(config, log),
    ];
    let draining = false;
    const listener: Listener = await startListener({
      tls: config.tls,
      host: config.listen.host,
      port: config.listen.port,
      connectRoutes: (router: ConnectRouter) => {
        router.service(SchedulerService, impl);
      },
      connectOptions: { interceptors, readMaxBytes: config.http.maxRequestBytes },
      grpcServices: [
        grpcServiceFromConnect(SchedulerService, impl, { interceptors, replyEncoders }),
        health.registration,
        ...reflectionServices([SchedulerService], healthFileDescriptorProtos),
      ],
      httpRoutes: {
        ...(await staticFileRoutes({ dir: DASHBOARD_DIR, mount: "/ui/", redirects: ["/", "/ui"] })),
        "/metrics": metrics.route,
        "/status": replicaStatusRoute({
          replica: config.replicaId,
          partitions: store.partitions,
          ready: () => !draining && connection.isConnected(),
          natsConnected: connection.isConnected,
          catalog: () => ({ schedules: catalog.size, appliedRevision: catalog.appliedRevision }),
          lastRevision: () => store.lastRevision(),
          ownedPartitions: () => engine.ownedPartitions,
          suspendedPartitions: () => engine.suspendedPartitions,
          loadingPartitions: () => engine.loadingPartitions,
          members: () => leases.liveMembers(),
          engine: () => ({ scheduled: engine.scheduleCount, queued: engine.dueCount }),
        }),
      },
      ready: connection.isConnected,
      log,
      ...listenerLimits(config.http),
    });
    log.info(
      { address: `${listener.address.host}:${listener.address.port}` },
      config.tls === undefined
        ? "listening (gRPC, Connect, gRPC-Web)"
        : `listening with TLS${config.tls.clientCa === undefined ? "" : " (client certificates required)"} (gRPC, Connect, gRPC-Web)`,
    );

    let stopping: Promise<void> | undefined;
    const stop = (orderly: boolean): Promise<void> => {
      stopping ??= (async () => {
        draining = true;
        onConnectionChange = () => {};
        health.setServing(false);
        if (orderly) {
          await listener.drain();
          // Handing partitions over lets their fires in flight land and records progress, so
          // the next owners start where this replica stopped, without waiting out a lease.
          await leases.stop();
          await engine.drain();
        } else {
          await listener.close();
        }
        await runCleanups(cleanups, log);
      })();
      return stopping;
    };
    let reportFailure: (err: Error) => void = () => {};
    const failure = new Promise<Error>((resolve) => {
      reportFailure = resolve;
    });
    // A nats-server that lost its store comes back without Chime's streams, and a stream may be
    // removed under a running Chime. Writes would fail from then on, and the catalog and the
    // engine hold what the store no longer does: only a fresh start makes the streams anew and
    // agrees with them again.
    lostStreams.arm((gone) => {
      if (stopping !== undefined) return;
      const err = new StoreLostError(
        `NATS no longer has stream${gone.length > 1 ? "s" : ""} ${gone.join(", ")} (its JetStream store was lost, or removed): stopping, as a restarted Chime makes ${gone.length > 1 ? "them" : "it"} anew`,
      );
      log.fatal({ err }, "stopping: the store is gone");
      void stop(false)
        .catch((stopErr: unknown) => log.warn({ err: stopErr }, "error while stopping"))
        .then(() => reportFailure(err));
    });
    onConnectionChange = (connected) => {
      health.setServing(connected);
      if (connected) void lostStreams.look();
    };
    return {
      address: listener.address,
      natsUrl: url,
      engine,
      catalog,
      failure,
      drain: () => stop(true),
      close: () => stop(false),
    };
  } catch (err) {
    await runCleanups(cleanups, log);
    throw err;
  }
}

/** The listener's share of the limits: sizes and timeouts on both wire paths. */
function listenerLimits(http: HttpLimits): Partial<ListenerOptions> {
  return {
    maxRequestBytes: http.maxRequestBytes,
    sniffTimeoutMs: http.headerTimeoutMs,
    headersTimeoutMs: http.headerTimeoutMs,
    requestTimeoutMs: http.requestTimeoutMs,
    keepAliveTimeoutMs: http.idleTimeoutMs,
    grpcServerOptions: {
      // grpc-js refuses a larger message from its length prefix, before reading it.
      "grpc.max_receive_message_length": http.maxRequestBytes,
      "grpc.max_connection_idle_ms": http.idleTimeoutMs,
      interceptors: [requestTimeoutInterceptor(http.requestTimeoutMs)],
    },
  };
}

/** The auth interceptor, and one line at start-up that says whether calls need a token. */
function authOf(config: ChimeConfig, log: Logger): Interceptor {
  const { tokens, insecureNoAuth } = config.auth;
  if (tokens.length > 0) {
    log.info(
      { tokens: tokens.length, names: tokens.map((t) => t.name) },
      "authentication on: every SchedulerService call needs a bearer token",
    );
    return authInterceptor({ verifier: new TokenVerifier(tokens), log });
  }
  const where = `${config.listen.host}:${config.listen.port}`;
  if (insecureNoAuth) {
    log.warn(
      { listen: where },
      "authentication OFF (--insecure-no-auth): anyone who reaches this port can manage every schedule",
    );
  } else {
    log.info(
      { listen: where },
      "authentication off (loopback only): every local caller can manage every schedule; configure tokens with --auth-file",
    );
  }
  return authInterceptor({ verifier: null, log });
}

/**
 * The rate limit per token, after authentication (it counts against the token the call
 * proved). Without tokens every caller is the one anonymous principal, and one shared bucket
 * would let any local client starve the others: no limit then.
 */
function rateLimitOf(config: ChimeConfig, log: Logger): Interceptor[] {
  const limit = config.tenantLimits.rpcRatePerToken;
  if (limit === null || config.auth.tokens.length === 0) return [];
  return [rateLimitInterceptor(limit, log)];
}

async function runCleanups(cleanups: (() => Promise<void>)[], log: Logger): Promise<void> {
  for (const cleanup of cleanups.splice(0)) {
    await cleanup().catch((err: unknown) => log.warn({ err }, "error while stopping"));
  }
}

/** The configured NATS, or the embedded default: 127.0.0.1:4222, or a local nats-server. */
async function resolveNats(
  config: ChimeConfig,
  log: Logger,
): Promise<{ url: string; embedded: NatsServerProcess | undefined }> {
  if (config.natsUrl !== undefined) return { url: config.natsUrl, embedded: undefined };
  const url = `nats://${DEFAULT_NATS.host}:${DEFAULT_NATS.port}`;
  if (await isPortOpen(DEFAULT_NATS.host, DEFAULT_NATS.port)) {
    log.info({ nats: url }, "no --nats given; using the NATS server on the default port");
    return { url, embedded: undefined };
  }
  const binary = findNatsServerBinary();
  if (binary === null) {
    throw new NatsMissingError(
      `No NATS server answers at ${url} and no nats-server binary is on PATH: install nats-server (e.g. 'apt-get install nats-server' or 'brew install nats-server') or pass --nats <url>.`,
    );
  }
  const storeDir = join(config.dataDir, "nats");
  const embedded = await startNatsServer({ ...DEFAULT_NATS, storeDir, binary });
  log.info({ nats: embedded.url, storeDir }, "started an embedded nats-server -js");
  return { url: embedded.url, embedded };
}

interface ConnectionState {
  readonly isConnected: () => boolean;
}

function trackConnection(
  nc: NatsConnection,
  log: Logger,
  onChange: (connected: boolean) => void,
): ConnectionState {
  let connected = true;
  void (async () => {
    for await (const status of nc.status()) {
      switch (status.type) {
        case "disconnect":
          connected = false;
          onChange(false);
          log.warn("NATS disconnected; fires wait until it is back");
          break;
        case "reconnect":
          connected = true;
          onChange(true);
          log.info("NATS reconnected");
          break;
        default:
          break;
      }
    }
  })();
  return { isConnected: () => connected && !nc.isClosed() };
}

/** Schedules this replica fires, by progress; the others as `not_owned`. */
function schedulesByState(catalog: Catalog, engine: Engine): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of catalog.ids()) {
    const state = engine.stateOf(id) ?? "not_owned";
    counts.set(state, (counts.get(state) ?? 0) + 1);
  }
  return counts;
}
