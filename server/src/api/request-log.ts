import { randomFillSync } from "node:crypto";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";

/** The header a caller may set to follow its request through Chime's logs; echoed back. */
export const REQUEST_ID_HEADER = "x-request-id";

// A caller's id is logged verbatim: keep it short and printable so it cannot forge lines.
const ACCEPTABLE_REQUEST_ID = /^[\w.:/+=-]{1,128}$/;

/** RPCs that change state: logged at info. Reads are logged at debug, to keep logs useful. */
const MUTATIONS = new Set([
  "ScheduleByTime",
  "ScheduleByCron",
  "ScheduleByInterval",
  "BatchSchedule",
  "Unschedule",
  "PauseSchedule",
  "ResumeSchedule",
  "TriggerSchedule",
]);

/**
 * One log line per RPC, with a request id (the caller's `x-request-id`, or a new one, echoed
 * in the response headers or the error's metadata), the method, the resulting code, the
 * duration and the schedule it was about. Never the payload: only ids are read from messages.
 */
export function requestLogInterceptor(log: Logger): Interceptor {
  return (next) => async (req) => {
    const offered = req.header.get(REQUEST_ID_HEADER);
    const requestId =
      offered !== null && ACCEPTABLE_REQUEST_ID.test(offered) ? offered : newRequestId();
    const rpc = req.method.name;
    const level = MUTATIONS.has(rpc) ? "info" : "debug";
    const started = performance.now();
    const ms = () => Math.round((performance.now() - started) * 100) / 100;
    try {
      const res = await next(req);
      res.header.set(REQUEST_ID_HEADER, requestId);
      if (log.isLevelEnabled(level)) {
        const scheduleId = scheduleIdOf(res.stream ? undefined : res.message) ?? targetOf(req);
        log[level]({ requestId, rpc, code: "ok", ms: ms(), scheduleId }, "rpc");
      }
      return res;
    } catch (err) {
      const error = ConnectError.from(err);
      error.metadata.set(REQUEST_ID_HEADER, requestId);
      const code = Code[error.code];
      const scheduleId = targetOf(req);
      if (error.code === Code.Internal || error.code === Code.Unknown) {
        log.error({ requestId, rpc, code, ms: ms(), scheduleId, err }, "rpc failed");
      } else if (log.isLevelEnabled(level)) {
        log[level](
          { requestId, rpc, code, ms: ms(), scheduleId, reason: error.rawMessage },
          "rpc refused",
        );
      }
      throw error;
    }
  };
}

// Random bytes drawn 4 KiB at a time: one system call per 512 ids instead of one per call.
const ID_BYTES = 8;
const idPool = Buffer.alloc(4096);
let idPoolOffset = idPool.length;

/** 16 hex digits, as `randomBytes(8)` would give. */
function newRequestId(): string {
  if (idPoolOffset + ID_BYTES > idPool.length) {
    randomFillSync(idPool);
    idPoolOffset = 0;
  }
  const id = idPool.toString("hex", idPoolOffset, idPoolOffset + ID_BYTES);
  idPoolOffset += ID_BYTES;
  return id;
}

/** The schedule id a response carries, if any (CreatedSchedule, Schedule, trigger). */
function scheduleIdOf(message: unknown): string | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const id = (message as { scheduleId?: unknown }).scheduleId;
  return typeof id === "string" && id !== "" ? id : undefined;
}

/** The schedule id a request names as its target (`target.case === "scheduleId"`). */
function targetOf(req: { stream: boolean; message?: unknown }): string | undefined {
  if (req.stream || typeof req.message !== "object" || req.message === null) return undefined;
  const target = (req.message as { target?: { case?: unknown; value?: unknown } }).target;
  return target?.case === "scheduleId" && typeof target.value === "string"
    ? target.value
    : undefined;
}
