import type { RequestListener } from "node:http";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { EngineHooks, FireReport } from "../engine/engine.js";
import type { FirePublisherHooks } from "../engine/fire-publisher.js";

/** What the gauges read when Prometheus scrapes. */
export interface MetricSources {
  /** Schedules by state: those this replica fires by their progress, the rest as `not_owned`. */
  readonly schedulesByState: () => ReadonlyMap<string, number>;
  readonly ownedPartitions: () => number;
  readonly natsConnected: () => boolean;
  /** Stored schedules left out since the start because their bytes could not be read. */
  readonly unreadableSchedules: () => number;
}

/** Chime's Prometheus metrics, every name prefixed `chime_`, and the hooks that feed them. */
export interface ChimeMetrics {
  readonly registry: Registry;
  /** Counts fires and their lateness (nominal time to PubAck). */
  readonly engineHooks: Required<EngineHooks>;
  /** Counts publish errors and retries. */
  readonly publisherHooks: Required<FirePublisherHooks>;
  /** Counts RPCs by method and code, with their latency; give it to both API paths. */
  readonly interceptor: Interceptor;
  /** `GET /metrics` in the Prometheus text format. */
  readonly route: RequestListener;
  /** Connects the gauges to the running service. */
  observe(sources: MetricSources): void;
}

export const METRICS_PREFIX = "chime_";

// Lateness spans timer precision (ms) to a NATS outage (minutes).
const LATENESS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const RPC_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(): ChimeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX });
  let sources: MetricSources | undefined;

  const fires = new Counter({
    name: `${METRICS_PREFIX}fires_total`,
    help: "Fires stored by JetStream, by trigger and result (stored, or duplicate of an earlier publish).",
    labelNames: ["trigger", "result"] as const,
    registers: [registry],
  });
  const lateness = new Histogram({
    name: `${METRICS_PREFIX}fire_lateness_seconds`,
    help: "Time from a fire's nominal instant to its PubAck.",
    labelNames: ["trigger"] as const,
    buckets: LATENESS_BUCKETS,
    registers: [registry],
  });
  const publishErrors = new Counter({
    name: `${METRICS_PREFIX}publish_errors_total`,
    help: "Failed JetStream publish attempts.",
    registers: [registry],
  });
  const publishRetries = new Counter({
    name: `${METRICS_PREFIX}publish_retries_total`,
    help: "JetStream publishes tried again after a failure.",
    registers: [registry],
  });
  const rpcs = new Counter({
    name: `${METRICS_PREFIX}rpc_requests_total`,
    help: "RPCs handled, by method and status code.",
    labelNames: ["method", "code"] as const,
    registers: [registry],
  });
  const rpcLatency = new Histogram({
    name: `${METRICS_PREFIX}rpc_duration_seconds`,
    help: "RPC latency, by method and status code (streams: until the first response).",
    labelNames: ["method", "code"] as const,
    buckets: RPC_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: `${METRICS_PREFIX}schedules`,
    help: "Schedules in the catalog, by state as this replica sees them.",
    labelNames: ["state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [state, count] of sources?.schedulesByState() ?? []) this.set({ state }, count);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}partitions_owned`,
    help: "Partitions this replica holds the lease of and fires.",
    registers: [registry],
    collect() {
      this.set(sources?.ownedPartitions() ?? 0);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}nats_connected`,
    help: "1 while the NATS connection is up, 0 while it is away.",
    registers: [registry],
    collect() {
      this.set(sources?.natsConnected() ? 1 : 0);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}store_unreadable_schedules`,
    help: "Stored schedules left out since the start because their bytes could not be read (the log names each).",
    registers: [registry],
    collect() {
      this.set(sources?.unreadableSchedules() ?? 0);
    },
  });

  // One pair of label children per method and code, made on first use: labelling anew on
  // every call (merging, validating and hashing label objects) cost more than counting.
  const byMethodAndCode = new Map<string, { observe(seconds: number): void; inc(): void }>();
  const record = (method: string, code: string, seconds: number): void => {
    const key = `${method} ${code}`;
    let series = byMethodAndCode.get(key);
    if (series === undefined) {
      const latency = rpcLatency.labels({ method, code });
      const count = rpcs.labels({ method, code });
      series = { observe: (v) => latency.observe(v), inc: () => count.inc() };
      byMethodAndCode.set(key, series);
    }
    series.observe(seconds);
    series.inc();
  };
  const interceptor: Interceptor = (next) => async (req) => {
    const method = `${req.service.typeName}/${req.method.name}`;
    const started = performance.now();
    try {
      const res = await next(req);
      record(method, "OK", (performance.now() - started) / 1000);
      return res;
    } catch (err) {
      const code = Code[ConnectError.from(err).code] ?? "Unknown";
      record(method, code, (performance.now() - started) / 1000);
      throw err;
    }
  };

  const route: RequestListener = async (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end();
      return;
    }
    const body = await registry.metrics();
    res.writeHead(200, {
      "content-type": registry.contentType,
      "content-length": Buffer.byteLength(body),
      "cache-control": "no-store",
    });
    res.end(req.method === "HEAD" ? undefined : body);
  };

  return {
    registry,
    engineHooks: {
      fired(report: FireReport) {
        fires.inc({
          trigger: report.trigger,
          result: report.ack.duplicate ? "duplicate" : "stored",
        });
        lateness.observe(
          { trigger: report.trigger },
          Math.max(0, report.ackedAt - report.nominal) / 1000,
        );
      },
    },
    publisherHooks: {
      publishFailed(_err: unknown, willRetry: boolean) {
        publishErrors.inc();
        if (willRetry) publishRetries.inc();
      },
    },
    interceptor,
    route,
    observe(next) {
      sources = next;
    },
  };
}
