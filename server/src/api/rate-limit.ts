import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { accessOf } from "./auth.js";

/** The settings the refusal names, so a client knows what to ask an operator for. */
export const RATE_SETTING = "--rpc-rate-per-token";
export const BURST_SETTING = "--rpc-burst-per-token";

/** A sustained rate and the burst above it that a bucket absorbs. */
export interface RateLimit {
  /** Calls per second a key may make for as long as it likes; more than 0. */
  readonly perSecond: number;
  /** Calls a key may make at once after being quiet; at least 1. */
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date, in the clock's milliseconds. */
  at: number;
}

/**
 * Token buckets, one per key: each holds up to `burst` tokens, refills at `perSecond`, and
 * every call takes one. Pure arithmetic on an injected monotonic clock, so it is tested
 * without waiting. Keys are token names, which the configuration bounds, so the map cannot
 * grow with what clients send.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(
    readonly limit: RateLimit,
    // A monotonic clock: a wall clock stepped back would refill nothing for a while.
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(limit.perSecond > 0) || !Number.isFinite(limit.perSecond)) {
      throw new RangeError(`rate: must be a finite number above 0, not ${limit.perSecond}`);
    }
    if (!Number.isInteger(limit.burst) || limit.burst < 1) {
      throw new RangeError(`burst: must be a whole number of at least 1, not ${limit.burst}`);
    }
    this.perMs = limit.perSecond / 1000;
  }

  /**
   * Takes a token from `key`'s bucket. Returns 0 when the call may go ahead; otherwise how
   * many milliseconds until a token is back (nothing is taken).
   */
  take(key: string): number {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.limit.burst, at: now };
      this.buckets.set(key, bucket);
    } else if (now > bucket.at) {
      bucket.tokens = Math.min(this.limit.burst, bucket.tokens + (now - bucket.at) * this.perMs);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs));
  }
}

/**
 * Refuses a call with RESOURCE_EXHAUSTED when its token has spent its bucket. Runs after the
 * auth interceptor, which fixed the token the call is counted against; BatchSchedule counts
 * as one call, like any other RPC.
 */
export function rateLimitInterceptor(limit: RateLimit, log: Logger): Interceptor {
  const buckets = new TokenBuckets(limit);
  // Tokens refused since their last accepted call: one warning when a token starts being
  // refused, not one per refused call (a flood of calls would otherwise flood the log).
  const limited = new Set<string>();
  return (next) => async (req) => {
    const token = accessOf(req.contextValues).principal.name;
    const waitMs = buckets.take(token);
    if (waitMs === 0) {
      limited.delete(token);
      return next(req);
    }
    if (!limited.has(token)) {
      limited.add(token);
      log.warn({ rpc: req.method.name, token }, "calls refused: the token is over its rate limit");
    }
    throw new ConnectError(
      `rate limit: token ${token} may make ${limit.perSecond} calls per second with bursts of ${limit.burst} (${RATE_SETTING}, ${BURST_SETTING}); try again in ${waitMs}ms`,
      Code.ResourceExhausted,
    );
  };
}
