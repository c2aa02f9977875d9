import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { InvalidArgumentError } from "./errors.js";
import { type Schedule, ScheduleSchema } from "./gen/chime/v1/schedule_pb.js";
import {
  type BatchScheduleResult,
  type CreatedSchedule,
  SchedulerService,
} from "./gen/chime/v1/scheduler_service_pb.js";
import { cronRequest, intervalRequest, listRequest, targetOf, timeRequest } from "./requests.js";
import {
  type BatchCreate,
  type BatchCreateResult,
  type CallOptions,
  type GetScheduleOptions,
  type ListSchedulesFilter,
  Protocol,
  type ScheduleAtOptions,
  type ScheduleHandle,
  type SchedulerClient,
  type SchedulerClientOptions,
  type ScheduleTarget,
  type TriggerResult,
} from "./types.js";

const DEFAULT_TIMEOUT_MS = 30_000;

interface ResolvedClientOptions {
  readonly baseUrl: string;
  readonly protocol: Protocol;
  readonly token: string | undefined;
  readonly timeoutMs: number;
  readonly interceptors: Interceptor[];
}

function resolveOptions(options: SchedulerClientOptions): ResolvedClientOptions {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError(undefined, "createSchedulerClient takes an options object");
  }
  let url: URL;
  try {
    url = new URL(options.baseUrl);
  } catch (err) {
    throw new InvalidArgumentError(
      "baseUrl",
      `must be an http:// or https:// URL, not ${JSON.stringify(options.baseUrl)}`,
      { cause: err },
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidArgumentError(
      "baseUrl",
      `must be an http:// or https:// URL, not ${JSON.stringify(options.baseUrl)}`,
    );
  }
  const protocol = options.protocol ?? Protocol.connect;
  if (protocol !== Protocol.connect && protocol !== Protocol.grpc) {
    throw new InvalidArgumentError(
      "protocol",
      `must be "connect" or "grpc", not ${JSON.stringify(protocol)}`,
    );
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new InvalidArgumentError(
      "timeoutMs",
      `must be a positive number of milliseconds, not ${timeoutMs}`,
    );
  }
  const token = options.token === undefined || options.token === "" ? undefined : options.token;
  const interceptors = [
    ...(token === undefined ? [] : [bearer(token)]),
    ...(options.interceptors ?? []),
  ];
  return { baseUrl: url.href.replace(/\/$/, ""), protocol, token, timeoutMs, interceptors };
}

/** Adds the token to every call; an interceptor keeps auth out of each method. */
function bearer(token: string): Interceptor {
  const value = `Bearer ${token}`;
  return (next) => (req) => {
    req.header.set("authorization", value);
    return next(req);
  };
}

/** The transport and how to release its connections. */
function createTransport(options: ResolvedClientOptions): {
  transport: Transport;
  release: () => void;
} {
  const common = {
    baseUrl: options.baseUrl,
    interceptors: options.interceptors,
    defaultTimeoutMs: options.timeoutMs,
  };
  if (options.protocol === Protocol.grpc) {
    // Our own session manager, so close() can end the HTTP/2 connection.
    const sessionManager = new Http2SessionManager(options.baseUrl);
    return {
      transport: createGrpcTransport({ ...common, sessionManager }),
      release: () => sessionManager.abort(),
    };
  }
  // Our own keep-alive agent, so close() can end its sockets instead of waiting for them.
  const agent = options.baseUrl.startsWith("https:")
    ? new HttpsAgent({ keepAlive: true })
    : new HttpAgent({ keepAlive: true });
  return {
    transport: createConnectTransport({ ...common, httpVersion: "1.1", nodeOptions: { agent } }),
    release: () => agent.destroy(),
  };
}

/**
 * A client for Chime's SchedulerService over Connect (HTTP/1.1, the default) or gRPC
 * (HTTP/2). Errors are `ConnectError`s with Chime's code and message, or
 * `InvalidArgumentError` for values refused before any request is sent.
 *
 * @example
 * await using chime = createSchedulerClient({ baseUrl: "http://127.0.0.1:7070" });
 * await chime.scheduleCron({ name: "nightly", cron: "0 2 * * *", timeZone: "America/New_York", subject: "tasks.nightly" });
 */
export function createSchedulerClient(options: SchedulerClientOptions): SchedulerClient {
  const resolved = resolveOptions(options);
  const { transport, release } = createTransport(resolved);
  const rpc = createClient(SchedulerService, transport);
  let closed = false;

  const call = (options: CallOptions | undefined) => {
    if (closed) throw new ConnectError("the client is closed", Code.FailedPrecondition);
    return { signal: options?.signal, timeoutMs: options?.timeoutMs };
  };

  // Every method is async, so that a bad argument rejects like a failed call does.
  const getSchedule = async (
    target: ScheduleTarget,
    options?: GetScheduleOptions,
  ): Promise<Schedule> => {
    const request = { target: targetOf(target), nextFireCount: options?.nextFireCount ?? 0 };
    return rpc.getSchedule(request, call(options));
  };
  const unschedule = async (target: ScheduleTarget, options?: CallOptions): Promise<boolean> => {
    const request = { target: targetOf(target) };
    return (await rpc.unschedule(request, call(options))).existed;
  };
  const pause = async (target: ScheduleTarget, options?: CallOptions): Promise<Schedule> => {
    const request = { target: targetOf(target) };
    return rpc.pauseSchedule(request, call(options));
  };
  const resume = async (target: ScheduleTarget, options?: CallOptions): Promise<Schedule> => {
    const request = { target: targetOf(target) };
    return rpc.resumeSchedule(request, call(options));
  };
  const trigger = async (target: ScheduleTarget, options?: CallOptions): Promise<TriggerResult> => {
    const request = { target: targetOf(target) };
    const response = await rpc.triggerSchedule(request, call(options));
    return {
      scheduleId: response.scheduleId,
      firedAt:
        response.firedAt === undefined ? new Date(Number.NaN) : timestampDate(response.firedAt),
      messageId: response.messageId,
      streamSequence: Number(response.streamSequence),
    };
  };

  const handle = (created: CreatedSchedule): ScheduleHandle => {
    const id = created.scheduleId;
    // Acting by id, not by name: the handle keeps pointing at this schedule even if the
    // name is later given to another.
    const target = { id };
    // Chime always fills `schedule`; an empty one keeps the handle usable if it ever does not.
    let schedule = created.schedule ?? create(ScheduleSchema, { scheduleId: id });
    const keep = (next: Schedule): Schedule => {
      schedule = next;
      return next;
    };
    return {
      id,
      name: schedule.name === "" ? undefined : schedule.name,
      created: created.created,
      replaced: created.replaced,
      get schedule() {
        return schedule;
      },
      unschedule: (options) => unschedule(target, options),
      pause: async (options) => keep(await pause(target, options)),
      resume: async (options) => keep(await resume(target, options)),
      trigger: (options) => trigger(target, options),
      refresh: async (options) => keep(await getSchedule(target, options)),
    };
  };

  const scheduleAt = async (
    options: ScheduleAtOptions,
    callOptions?: CallOptions,
  ): Promise<ScheduleHandle> => {
    const request = timeRequest(options);
    return handle(await rpc.scheduleByTime(request, call(callOptions)));
  };

  const client: SchedulerClient = {
    baseUrl: resolved.baseUrl,
    protocol: resolved.protocol,
    rpc,
    scheduleAt,
    scheduleByTime: scheduleAt,
    scheduleCron: async (options, callOptions) => {
      const request = cronRequest(options);
      return handle(await rpc.scheduleByCron(request, call(callOptions)));
    },
    scheduleEvery: async (options, callOptions) => {
      const request = intervalRequest(options);
      return handle(await rpc.scheduleByInterval(request, call(callOptions)));
    },
    batchSchedule: async (items, callOptions) => {
      const request = { items: items.map(batchItemRequest) };
      const response = await rpc.batchSchedule(request, call(callOptions));
      return response.results.map(batchResultOf);
    },
    getSchedule,
    listSchedules: (filter: ListSchedulesFilter = {}) => {
      // Built now, so a bad filter throws here rather than at the first iteration.
      const request = listRequest(filter);
      return pages(request, filter);
    },
    unschedule,
    pause,
    resume,
    trigger,
    close: async () => {
      if (closed) return;
      closed = true;
      release();
    },
    [Symbol.asyncDispose]: () => client.close(),
  };

  async function* pages(
    request: ReturnType<typeof listRequest>,
    options: CallOptions,
  ): AsyncGenerator<Schedule> {
    for (;;) {
      const response = await rpc.listSchedules(request, call(options));
      yield* response.schedules;
      if (response.nextPageToken === "") return;
      request.pageToken = response.nextPageToken;
    }
  }

  return client;
}

function batchItemRequest(item: BatchCreate) {
  switch (item.kind) {
    case "at":
      return { request: { case: "byTime" as const, value: timeRequest(item) } };
    case "cron":
      return { request: { case: "byCron" as const, value: cronRequest(item) } };
    case "every":
      return { request: { case: "byInterval" as const, value: intervalRequest(item) } };
    default:
      throw new InvalidArgumentError(
        "kind",
        `must be "at", "cron" or "every", not ${JSON.stringify((item as { kind: unknown }).kind)}`,
      );
  }
}

function batchResultOf(result: BatchScheduleResult): BatchCreateResult {
  const { outcome } = result;
  if (outcome.case === "created") {
    return {
      ok: true,
      id: outcome.value.scheduleId,
      created: outcome.value.created,
      replaced: outcome.value.replaced,
    };
  }
  if (outcome.case === "error") {
    return { ok: false, code: outcome.value.code as Code, message: outcome.value.message };
  }
  return { ok: false, code: Code.Unknown, message: "the server gave no outcome for this item" };
}
