// The public contract of the SDK: options, results and the objects the factories return.
// Implementations live in client.ts, consumer.ts and define-schedules.ts.
import type { Client, Code, Interceptor } from "@connectrpc/connect";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Schedule } from "./gen/chime/v1/schedule_pb.js";
import type { SchedulerService } from "./gen/chime/v1/scheduler_service_pb.js";

// ---------------------------------------------------------------------------------------
// Values

/** A length of time: milliseconds, or text such as "250ms", "90s", "5m", "1h30m", "7d". */
export type DurationInput = number | string;

/** An instant: a Date, Unix epoch milliseconds, or RFC 3339 text with an offset. */
export type InstantInput = Date | string | number;

/**
 * What a fire carries as its data: bytes as they are, a string as UTF-8, anything else as
 * JSON (and then, unless `contentType` says otherwise, `Content-Type: application/json`).
 */
export type Payload = Uint8Array | string | object;

/** The wire protocol a client speaks. */
export const Protocol = {
  /** The Connect protocol over HTTP/1.1 (the default): works through any HTTP proxy. */
  connect: "connect",
  /** gRPC over HTTP/2 (prior knowledge for http:// URLs). */
  grpc: "grpc",
} as const;
export type Protocol = (typeof Protocol)[keyof typeof Protocol];

/** What creating a schedule does when its name is taken. */
export const OnConflict = {
  /** Nothing changes; the existing schedule comes back with `created: false` (the default). */
  keep: "keep",
  /** The new definition replaces the existing one at once, under the same id. */
  replace: "replace",
  /** The call fails with ALREADY_EXISTS. */
  fail: "fail",
} as const;
export type OnConflict = (typeof OnConflict)[keyof typeof OnConflict];

/** What a recurring schedule does with occurrences it missed while it could not fire. */
export const OnMisfire = {
  /** One `catchup` fire for the latest missed occurrence within the catch-up window (default). */
  fire_once: "fire_once",
  /** Missed occurrences are dropped. */
  skip: "skip",
  /** Each missed occurrence within the catch-up window fires, up to a bound. */
  fire_all: "fire_all",
} as const;
export type OnMisfire = (typeof OnMisfire)[keyof typeof OnMisfire];

/** Where a schedule stands, as a list filter takes it. */
export const ScheduleStatus = {
  active: "active",
  paused: "paused",
  /** Will never fire again. */
  completed: "completed",
} as const;
export type ScheduleStatus = (typeof ScheduleStatus)[keyof typeof ScheduleStatus];

/** Why a task was published (its `Chime-Trigger` header). */
export const TaskTrigger = {
  /** On the timetable. */
  schedule: "schedule",
  /** A missed occurrence made up after downtime. */
  catchup: "catchup",
  /** TriggerSchedule ("run now"). */
  manual: "manual",
} as const;
export type TaskTrigger = (typeof TaskTrigger)[keyof typeof TaskTrigger];

/**
 * A schedule to act on: a string is an id when it is 26 characters of upper-case Crockford
 * base32 (what Chime assigns) and a name otherwise; `{ id }` or `{ name }` says which.
 */
export type ScheduleTarget = string | { readonly id: string } | { readonly name: string };

// ---------------------------------------------------------------------------------------
// Client

export interface SchedulerClientOptions {
  /** Where Chime listens, e.g. `http://127.0.0.1:7070`. */
  readonly baseUrl: string;
  /** Default `"connect"`. */
  readonly protocol?: Protocol;
  /** Sent as `authorization: Bearer <token>` with every call. */
  readonly token?: string;
  /** The deadline of a call that does not give its own; default 30 000 ms. */
  readonly timeoutMs?: number;
  /** More interceptors (logging, metrics); they run after the one that adds the token. */
  readonly interceptors?: readonly Interceptor[];
}

/** Per call: cancellation and a deadline. */
export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this call. */
  readonly timeoutMs?: number;
}

/** Fields every create takes. */
export interface ScheduleCommonOptions {
  /** The NATS subject each fire publishes to; must lie in Chime's subject space. */
  readonly subject: string;
  readonly payload?: Payload;
  /** Default: `application/json` for a payload sent as JSON, none otherwise. */
  readonly contentType?: string;
  /** Unique; a named schedule can be addressed by name and is created idempotently. */
  readonly name?: string;
  /** Added to each fire's message; names may not start with `Nats-` or `Chime-`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Free-form labels to select schedules by; never sent with a fire. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Default `"keep"`. */
  readonly conflictPolicy?: OnConflict;
}

/** When a one-shot fires: exactly one of an instant, a delay from now, or a wall-clock time. */
export type OneShotWhen =
  | {
      readonly at: InstantInput;
      readonly delay?: never;
      readonly localTime?: never;
      readonly timeZone?: never;
    }
  | {
      readonly delay: DurationInput;
      readonly at?: never;
      readonly localTime?: never;
      readonly timeZone?: never;
    }
  | {
      /** An ISO 8601 date-time without offset, e.g. `2026-03-29T02:30:00`. */
      readonly localTime: string;
      /** The IANA time zone `localTime` is read in, e.g. `Europe/Berlin`. */
      readonly timeZone: string;
      readonly at?: never;
      readonly delay?: never;
    };

export type ScheduleAtOptions = ScheduleCommonOptions & OneShotWhen;

/** Bounds and policies of cron and interval schedules. */
export interface RecurringOptions extends ScheduleCommonOptions {
  readonly startAt?: InstantInput;
  readonly endAt?: InstantInput;
  /** Stop after this many fires (manual ones included); default unbounded. */
  readonly maxFires?: number;
  /** Each fire is delayed by a stable offset below this. */
  readonly jitter?: DurationInput;
  /** Default `"fire_once"`. */
  readonly misfirePolicy?: OnMisfire;
  /** How far back a missed occurrence may be and still be made up; Chime's default is 1 h. */
  readonly catchupWindow?: DurationInput;
  /** Fire once on creation, then follow the timetable. */
  readonly runImmediately?: boolean;
}

export interface ScheduleCronOptions extends RecurringOptions {
  /** 5 fields, 6 (leading seconds), or a macro such as `@hourly`. */
  readonly cron: string;
  /** IANA time zone the fields are read in; default UTC. */
  readonly timeZone?: string;
}

export interface ScheduleEveryOptions extends RecurringOptions {
  /** At least 1 s. Fire k is at `startAt + k × every` (or creation time + every), never drifting. */
  readonly every: DurationInput;
}

/** A schedule just created (or found by name), with the calls that act on it. */
export interface ScheduleHandle {
  readonly id: string;
  /** Its name; undefined for an unnamed schedule. */
  readonly name: string | undefined;
  /** False when a schedule of this name existed and was kept (conflict policy `keep`). */
  readonly created: boolean;
  /** True when a schedule of this name existed and was replaced (conflict policy `replace`). */
  readonly replaced: boolean;
  /** The schedule as the latest call on this handle returned it. */
  readonly schedule: Schedule;
  /** Removes it; true when it still existed. */
  unschedule(options?: CallOptions): Promise<boolean>;
  pause(options?: CallOptions): Promise<Schedule>;
  resume(options?: CallOptions): Promise<Schedule>;
  /** Publishes one fire now; the timetable is left alone. */
  trigger(options?: CallOptions): Promise<TriggerResult>;
  /** Fetches the schedule again and keeps it in `schedule`. */
  refresh(options?: CallOptions): Promise<Schedule>;
}

export interface TriggerResult {
  readonly scheduleId: string;
  readonly firedAt: Date;
  /** The `Nats-Msg-Id` the task carried. */
  readonly messageId: string;
  /** Where the task message is stored in the stream. */
  readonly streamSequence: number;
}

export interface GetScheduleOptions extends CallOptions {
  /** How many upcoming fire times to fill in `nextFireTimes`; default 5, at most 100. */
  readonly nextFireCount?: number;
}

/** Which schedules `listSchedules` yields; all filters must match. */
export interface ListSchedulesFilter extends CallOptions {
  readonly subjectPrefix?: string;
  /** Only schedules carrying all these labels with these values. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Only schedules in one of these states; default all. */
  readonly states?: readonly ScheduleStatus[];
  /** Only schedules whose name contains this, ignoring case. */
  readonly nameContains?: string;
  /** Schedules fetched per request; default 100 (Chime's largest is 1000 by default). */
  readonly pageSize?: number;
}

/** One create of a `batchSchedule` call: the options of `scheduleAt`, `scheduleCron` or `scheduleEvery`. */
export type BatchCreate =
  | ({ readonly kind: "at" } & ScheduleAtOptions)
  | ({ readonly kind: "cron" } & ScheduleCronOptions)
  | ({ readonly kind: "every" } & ScheduleEveryOptions);

/** What became of one item of a batch: created (or kept, or replaced), or refused. */
export type BatchCreateResult =
  | {
      readonly ok: true;
      readonly id: string;
      /** False when a schedule of this name existed and was kept (conflict policy `keep`). */
      readonly created: boolean;
      readonly replaced: boolean;
    }
  | {
      readonly ok: false;
      /** The code the item's own create call would have failed with. */
      readonly code: Code;
      readonly message: string;
    };

/** A Chime client. `close()` (or `await using`) releases its connections. */
export interface SchedulerClient extends AsyncDisposable {
  readonly baseUrl: string;
  readonly protocol: Protocol;
  /** The generated chime.v1 client on the same transport, for anything this one does not cover. */
  readonly rpc: Client<typeof SchedulerService>;

  /** A one-shot: `at`, `delay` or `localTime` with `timeZone`. */
  scheduleAt(options: ScheduleAtOptions, call?: CallOptions): Promise<ScheduleHandle>;
  /** The same as `scheduleAt`, under the RPC's name. */
  scheduleByTime(options: ScheduleAtOptions, call?: CallOptions): Promise<ScheduleHandle>;
  scheduleCron(options: ScheduleCronOptions, call?: CallOptions): Promise<ScheduleHandle>;
  scheduleEvery(options: ScheduleEveryOptions, call?: CallOptions): Promise<ScheduleHandle>;
  /**
   * Creates up to 1000 schedules in one call; each result, in the order of `items`, says
   * what became of its item, so one refused item does not sink the others.
   */
  batchSchedule(items: readonly BatchCreate[], call?: CallOptions): Promise<BatchCreateResult[]>;

  /** Rejects with ConnectError NOT_FOUND when there is no such schedule. */
  getSchedule(target: ScheduleTarget, options?: GetScheduleOptions): Promise<Schedule>;
  /** Every matching schedule, page after page, in id (creation) order. */
  listSchedules(filter?: ListSchedulesFilter): AsyncIterable<Schedule>;
  /** Idempotent: true when the schedule existed. */
  unschedule(target: ScheduleTarget, options?: CallOptions): Promise<boolean>;
  pause(target: ScheduleTarget, options?: CallOptions): Promise<Schedule>;
  resume(target: ScheduleTarget, options?: CallOptions): Promise<Schedule>;
  trigger(target: ScheduleTarget, options?: CallOptions): Promise<TriggerResult>;

  /** Closes the client's connections; calls after it fail. Idempotent. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Consumer

/** One fired task, as a handler receives it. */
export interface Task {
  readonly subject: string;
  /** `Chime-Schedule-Id`; empty for a message Chime did not publish. */
  readonly scheduleId: string;
  /** `Chime-Schedule-Name`; undefined for an unnamed schedule. */
  readonly name: string | undefined;
  /** The nominal fire time (`Chime-Scheduled-At`); the stream's timestamp when absent. */
  readonly scheduledAt: Date;
  /** When Chime published it (`Chime-Fired-At`); the stream's timestamp when absent. */
  readonly firedAt: Date;
  /** `Chime-Fire-Seq`: 1 for the schedule's first fire, then 2, 3, …; 0 when absent. */
  readonly seq: number;
  readonly trigger: TaskTrigger;
  /** 1 on the first delivery, then 2, 3, … (JetStream's delivery count). */
  readonly attempt: number;
  /** `Nats-Msg-Id`: unique per occurrence, the key to deduplicate side effects on. */
  readonly messageId: string;
  /** Where the task is stored in the stream. */
  readonly streamSequence: number;
  /** Every header, first value of each. */
  readonly headers: Readonly<Record<string, string>>;
  readonly data: Uint8Array;
  /** Aborted when the consumer is closed abruptly (`close()`): stop early if you can. */
  readonly signal: AbortSignal;
  /** The data as UTF-8. */
  text(): string;
  /** The data parsed as JSON. */
  json<T = unknown>(): T;
}

/** Handles one task: return (or resolve) to acknowledge, throw (or reject) to retry. */
export type TaskHandler = (task: Task) => void | Promise<void>;

/** How failed tasks are retried: attempt n waits `delay × backoff^(n-1)` before attempt n+1. */
export interface RetryPolicy {
  /** Attempts in all, the first included; default 5. After the last the task is terminated. */
  readonly maxAttempts: number;
  /** Before the second attempt; default 1 s. */
  readonly delay: DurationInput;
  /** Multiplies the delay after each failure; default 2. */
  readonly backoff: number;
}

/** Where a consumer first created starts in the stream. */
export const DeliverFrom = {
  /** Every task the stream holds for the subjects, those stored before it existed too. */
  all: "all",
  /** Only tasks stored after it was created. */
  new: "new",
} as const;
export type DeliverFrom = (typeof DeliverFrom)[keyof typeof DeliverFrom];

export interface ConsumeTasksOptions {
  readonly nats: NatsConnection;
  /** Default `CHIME_TASKS`. */
  readonly stream?: string;
  /** The JetStream durable consumer; instances with the same durable share the work. */
  readonly durable: string;
  /**
   * One subject pattern (`tasks.email.>`), or several on NATS servers 2.10 and later; on 2.9
   * a consumer takes one filter, so give the pattern that covers them.
   */
  readonly subjects: string | readonly string[];
  /** Handlers running at once in this instance; default 1. */
  readonly concurrency?: number;
  readonly handler: TaskHandler;
  readonly retry?: Partial<RetryPolicy>;
  /**
   * After the last attempt, the task's data is published here through JetStream (so a
   * stream must capture this subject), with its headers and the error in `Chime-Error`,
   * before the task is terminated.
   */
  readonly deadLetterSubject?: string;
  /** The consumer's ack wait, when this call creates it; default 30 s. Running handlers extend it. */
  readonly ackWait?: DurationInput;
  /** Where a consumer this call creates starts; default `"all"`. */
  readonly deliverFrom?: DeliverFrom;
  /**
   * Told of every failure: a handler that threw (with its task), a dead-letter publish or
   * an acknowledgement that failed, a fetch that failed and is being retried. Default: one
   * line on stderr (console.error).
   */
  readonly onError?: (error: Error, task: Task | undefined) => void;
}

/** A running consumer. */
export interface TaskConsumer extends AsyncDisposable {
  readonly stream: string;
  readonly durable: string;
  /** Handlers running now. */
  readonly running: number;
  /** Orderly stop: fetches no more, waits for running handlers and their acks. Idempotent. */
  stop(): Promise<void>;
  /** Abrupt stop: fetches no more and aborts `task.signal`; does not wait. Idempotent. */
  close(): Promise<void>;
  /** Resolves once the consumer has stopped: with the error that ended it, if any. Never rejects. */
  closed(): Promise<Error | undefined>;
}

// ---------------------------------------------------------------------------------------
// Declarative schedules

/** The options of a create, less the conflict policy (defineSchedules decides), named. */
type Defined<T> = Omit<T, "conflictPolicy" | "name"> & { readonly name: string };

export type CronDefinition = Defined<ScheduleCronOptions>;
export type EveryDefinition = Defined<ScheduleEveryOptions>;
/** A one-shot at a fixed instant or wall-clock time (a `delay` would differ on every start). */
export type AtDefinition = Defined<ScheduleCommonOptions> &
  (
    | { readonly at: InstantInput; readonly localTime?: never; readonly timeZone?: never }
    | { readonly localTime: string; readonly timeZone: string; readonly at?: never }
  );

/** One schedule the application wants to exist: `cron`, `every` or `at`/`localTime`. */
export type ScheduleDefinition = CronDefinition | EveryDefinition | AtDefinition;

export interface DefineSchedulesOptions extends CallOptions {
  /**
   * Added to the labels of every definition; a named schedule carrying it that is not in
   * the definitions is unscheduled.
   */
  readonly pruneLabel?: { readonly key: string; readonly value: string };
}

/** Names, by what defineSchedules did with them. */
export interface DefineSchedulesResult {
  readonly created: readonly string[];
  readonly replaced: readonly string[];
  readonly unchanged: readonly string[];
  readonly pruned: readonly string[];
}
