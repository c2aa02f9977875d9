import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type CreatedSchedule, MisfirePolicy, type SchedulerService } from "@chime/sdk";
import type { Client } from "@connectrpc/connect";
import { expect } from "vitest";
import { anchorOf, nominalOf, sleep } from "./deliveries.js";
import type { RecordedTask } from "./task-recorder.js";

/** When a tracked schedule's occurrences fall: an anchored interval, or a cron of whole seconds. */
export type Timetable =
  | { readonly kind: "interval"; readonly anchor: number; readonly everyMs: number }
  /** `* * * * * *`: every whole second from `first` on. */
  | { readonly kind: "everySecond"; readonly first: number };

/** A schedule whose fires a test checks. */
export interface TrackedSchedule {
  readonly id: string;
  readonly partition: number;
  readonly subject: string;
  readonly timetable: Timetable;
}

/** The nominal instants of `timetable` in [from, to]. */
export function nominalsBetween(timetable: Timetable, from: number, to: number): number[] {
  const out: number[] = [];
  const [start, step] =
    timetable.kind === "interval"
      ? [timetable.anchor, timetable.everyMs]
      : [timetable.first, 1_000];
  const first = start + Math.max(0, Math.ceil((from - start) / step)) * step;
  for (let t = first; t <= to; t += step) out.push(t);
  return out;
}

/** True when `nominal` is an occurrence of `timetable`. */
export function onTimetable(timetable: Timetable, nominal: number): boolean {
  const [start, step] =
    timetable.kind === "interval"
      ? [timetable.anchor, timetable.everyMs]
      : [timetable.first, 1_000];
  return nominal >= start && (nominal - start) % step === 0;
}

/** The schedule a created response describes, with its timetable. */
export function trackedOf(created: CreatedSchedule): TrackedSchedule {
  const schedule = created.schedule;
  if (schedule === undefined) throw new Error(`created ${created.scheduleId} without a schedule`);
  let timetable: Timetable;
  if (schedule.trigger.case === "interval") {
    const every = schedule.trigger.value.every;
    timetable = {
      kind: "interval",
      anchor: anchorOf(created),
      everyMs: Number(every?.seconds ?? 0n) * 1000 + Math.round((every?.nanos ?? 0) / 1e6),
    };
  } else if (schedule.trigger.case === "cron" && schedule.trigger.value.cron === "* * * * * *") {
    const defined = schedule.definedAt;
    if (defined === undefined) throw new Error(`schedule ${created.scheduleId} has no defined_at`);
    const definedAt = Number(defined.seconds) * 1000 + Math.round(defined.nanos / 1e6);
    // The first occurrence is the first whole second at or after the definition.
    timetable = { kind: "everySecond", first: Math.ceil(definedAt / 1000) * 1000 };
  } else {
    throw new Error(`schedule ${created.scheduleId}: only intervals and "* * * * * *" are tracked`);
  }
  return {
    id: created.scheduleId,
    partition: schedule.partition,
    subject: schedule.subject,
    timetable,
  };
}

export interface LoadSpec {
  /** Schedules firing every second by interval. */
  readonly intervals: number;
  /** Schedules firing every second by the cron `* * * * * *`. */
  readonly crons: number;
  /** Subjects are `<prefix>.every` and `<prefix>.cron`. */
  readonly subjectPrefix: string;
  /** Default FIRE_ALL: every nominal occurrence must arrive. */
  readonly misfirePolicy?: MisfirePolicy;
  /** Requests in flight at once. Default 50. */
  readonly concurrency?: number;
}

/** Creates the schedules of `spec` through `client`; all of them fire every second. */
export async function createLoad(
  client: Client<typeof SchedulerService>,
  spec: LoadSpec,
): Promise<TrackedSchedule[]> {
  const misfirePolicy = spec.misfirePolicy ?? MisfirePolicy.FIRE_ALL;
  const jobs: (() => Promise<CreatedSchedule>)[] = [];
  for (let i = 0; i < spec.intervals; i++) {
    jobs.push(() =>
      client.scheduleByInterval({
        subject: `${spec.subjectPrefix}.every`,
        every: durationFromMs(1_000),
        misfirePolicy,
      }),
    );
  }
  for (let i = 0; i < spec.crons; i++) {
    jobs.push(() =>
      client.scheduleByCron({
        subject: `${spec.subjectPrefix}.cron`,
        cron: "* * * * * *",
        misfirePolicy,
      }),
    );
  }
  const created = await inBatches(jobs, spec.concurrency ?? 50);
  return created.map(trackedOf);
}

/** Runs `jobs` with at most `concurrency` in flight; results in job order. */
export async function inBatches<T>(
  jobs: readonly (() => Promise<T>)[],
  concurrency: number,
): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < jobs.length; i = next++) {
      results[i] = await (jobs[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
  return results;
}

/** One schedule per partition, to ask who owns the partition. */
export function samplePerPartition(schedules: readonly TrackedSchedule[]): Map<number, string> {
  const sample = new Map<number, string>();
  for (const s of schedules) if (!sample.has(s.partition)) sample.set(s.partition, s.id);
  return new Map([...sample].sort(([a], [b]) => a - b));
}

export function firedAtOf(task: RecordedTask): number {
  return Date.parse(task.headers["Chime-Fired-At"] ?? "");
}

export function scheduleIdOf(task: RecordedTask): string {
  return task.headers["Chime-Schedule-Id"] ?? "";
}

/**
 * The recorded tasks indexed by schedule and nominal time, fed incrementally from the
 * recorder's growing array (each call reads only what arrived since the last one).
 */
export class FireIndex {
  private readonly bySchedule = new Map<string, Map<number, RecordedTask[]>>();
  private readonly byMessageId = new Map<string, Set<number>>();
  private consumed = 0;

  /** Takes in the tasks recorded since the last call. */
  update(tasks: readonly RecordedTask[]): this {
    const end = tasks.length;
    for (let i = this.consumed; i < end; i++) {
      const task = tasks[i] as RecordedTask;
      const id = scheduleIdOf(task);
      let nominals = this.bySchedule.get(id);
      if (nominals === undefined) {
        nominals = new Map();
        this.bySchedule.set(id, nominals);
      }
      const nominal = nominalOf(task);
      const list = nominals.get(nominal);
      if (list === undefined) nominals.set(nominal, [task]);
      else list.push(task);
      const messageId = task.headers["Nats-Msg-Id"] ?? "";
      const sequences = this.byMessageId.get(messageId);
      if (sequences === undefined) this.byMessageId.set(messageId, new Set([task.streamSequence]));
      else sequences.add(task.streamSequence);
    }
    this.consumed = end;
    return this;
  }

  get size(): number {
    return this.consumed;
  }

  /** The tasks of one schedule, oldest nominal first. */
  tasksOf(scheduleId: string): RecordedTask[] {
    const nominals = this.bySchedule.get(scheduleId);
    if (nominals === undefined) return [];
    return [...nominals.entries()].sort(([a], [b]) => a - b).flatMap(([, tasks]) => tasks);
  }

  first(scheduleId: string, nominal: number): RecordedTask | undefined {
    return this.bySchedule.get(scheduleId)?.get(nominal)?.[0];
  }

  /** The occurrences of `schedule` in [from, to] that no recorded task carries. */
  missing(schedule: TrackedSchedule, from: number, to: number): number[] {
    const nominals = this.bySchedule.get(schedule.id);
    return nominalsBetween(schedule.timetable, from, to).filter((t) => !nominals?.has(t));
  }

  /** Nats-Msg-Ids stored in the stream more than once (at distinct sequences), with the count. */
  duplicates(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, sequences] of this.byMessageId)
      if (sequences.size > 1) out[id] = sequences.size;
    return out;
  }

  /** Recorded tasks of tracked schedules whose nominal time is not on their timetable. */
  offTimetable(schedules: readonly TrackedSchedule[]): string[] {
    const out: string[] = [];
    for (const s of schedules) {
      for (const nominal of this.bySchedule.get(s.id)?.keys() ?? []) {
        if (!onTimetable(s.timetable, nominal)) out.push(`${s.id}:${nominal}`);
      }
    }
    return out;
  }
}

/** A window of nominal time in which every occurrence of some schedules must be recorded. */
export interface CheckedWindow {
  readonly schedules: readonly TrackedSchedule[];
  readonly from: number;
  readonly to: number;
}

/** Every occurrence the windows expect and no task carries, as `<id>:<nominal>` (capped). */
export function missingFires(
  index: FireIndex,
  windows: readonly CheckedWindow[],
  cap = 50,
): { count: number; expected: number; sample: string[] } {
  let count = 0;
  let expected = 0;
  const sample: string[] = [];
  for (const w of windows) {
    for (const s of w.schedules) {
      expected += nominalsBetween(s.timetable, w.from, w.to).length;
      for (const nominal of index.missing(s, w.from, w.to)) {
        count++;
        if (sample.length < cap) sample.push(`${s.id}:${nominal} (p${s.partition})`);
      }
    }
  }
  return { count, expected, sample };
}

/**
 * Waits until the recorder holds every occurrence the windows expect, or `timeoutMs` passes;
 * either way returns the index, so that the caller's assertions report what is missing.
 */
export async function awaitFires(
  index: FireIndex,
  tasks: readonly RecordedTask[],
  windows: readonly CheckedWindow[],
  timeoutMs: number,
): Promise<FireIndex> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    index.update(tasks);
    if (missingFires(index, windows, 0).count === 0 || Date.now() > deadline) return index;
    await sleep(250);
  }
}

/** Per partition: the first receipt of a fire whose nominal time is after `after`. */
export function firstReceiptAfter(
  index: FireIndex,
  schedules: readonly TrackedSchedule[],
  partitions: ReadonlySet<number>,
  after: number,
): Map<number, number> {
  const first = new Map<number, number>();
  for (const s of schedules) {
    if (!partitions.has(s.partition)) continue;
    for (const task of index.tasksOf(s.id)) {
      if (nominalOf(task) <= after) continue;
      const known = first.get(s.partition);
      if (known === undefined || task.receivedAt < known) first.set(s.partition, task.receivedAt);
    }
  }
  return first;
}

/** Per partition: the greatest lateness (receipt minus nominal time) of a fire due in [from, to]. */
export function maxLateness(
  index: FireIndex,
  schedules: readonly TrackedSchedule[],
  partitions: ReadonlySet<number>,
  from: number,
  to: number,
): Map<number, number> {
  const worst = new Map<number, number>();
  for (const s of schedules) {
    if (!partitions.has(s.partition)) continue;
    for (const task of index.tasksOf(s.id)) {
      const nominal = nominalOf(task);
      if (nominal < from || nominal > to) continue;
      const late = task.receivedAt - nominal;
      if (late > (worst.get(s.partition) ?? Number.NEGATIVE_INFINITY)) worst.set(s.partition, late);
    }
  }
  return worst;
}

/** The nominal time in a Nats-Msg-Id (`<schedule_id>:<ms>`). */
export function nominalOfMessageId(id: string): number {
  return Number(id.slice(id.lastIndexOf(":") + 1));
}

/** min / median / max of some numbers, rounded, for reports. */
export function spread(values: readonly number[]): { min: number; median: number; max: number } {
  if (values.length === 0) return { min: Number.NaN, median: Number.NaN, max: Number.NaN };
  const sorted = [...values].sort((a, b) => a - b);
  return {
    min: Math.round(sorted[0] as number),
    median: Math.round(sorted[Math.floor(sorted.length / 2)] as number),
    max: Math.round(sorted[sorted.length - 1] as number),
  };
}

/**
 * Where Chime-Fire-Seq does not count 1, 2, 3, … along a schedule's stored fires in nominal
 * order (every fire of the schedule recorded, none repeated), as `<id>: <seq> then <seq>`.
 * With `allowRepeats`, a seq equal to the one before is only counted in `repeats`.
 */
export function fireSeqBreaks(
  index: FireIndex,
  schedules: readonly TrackedSchedule[],
  options: { cap?: number; allowRepeats?: boolean } = {},
): { count: number; sample: string[]; repeats: number } {
  const cap = options.cap ?? 20;
  let count = 0;
  let repeats = 0;
  const sample: string[] = [];
  for (const s of schedules) {
    let previous = 0;
    for (const task of index.tasksOf(s.id)) {
      const seq = Number(task.headers["Chime-Fire-Seq"]);
      if (seq === previous && options.allowRepeats) repeats++;
      else if (seq !== previous + 1) {
        count++;
        if (sample.length < cap) {
          sample.push(`${s.id}: seq ${previous} then ${seq} (${task.headers["Chime-Trigger"]})`);
        }
      }
      previous = seq;
    }
  }
  return { count, sample, repeats };
}

/** Which schedules the stricter checks of `expectEachFiredOnce` apply to, and what to tell. */
export interface FireChecks {
  /** Schedules whose every stored fire must be on their timetable (default: the windows'). */
  readonly timetabled?: readonly TrackedSchedule[];
  /** Schedules whose Chime-Fire-Seq must count 1, 2, 3, … (default: `timetabled`). */
  readonly seqChecked?: readonly TrackedSchedule[];
  /** What happened in the scenario, added to a failure's message. */
  readonly story?: string;
}

/**
 * The promise of the replicas, checked: every occurrence the windows expect stored once, none
 * off its schedule's timetable, and Chime-Fire-Seq counting along (soft: reported with the
 * rest). Returns how many occurrences were checked.
 */
export function expectEachFiredOnce(
  index: FireIndex,
  windows: readonly CheckedWindow[],
  checks: FireChecks = {},
): number {
  const timetabled = checks.timetabled ?? windows.flatMap((w) => w.schedules);
  const story = checks.story === undefined ? "" : `\n${checks.story}`;
  const missing = missingFires(index, windows);
  expect(missing.sample, `${missing.count} of ${missing.expected} fires missing${story}`).toEqual(
    [],
  );
  expect(index.duplicates(), `Nats-Msg-Id stored twice${story}`).toEqual({});
  expect(index.offTimetable(timetabled), `fires off the timetable${story}`).toEqual([]);
  const seqBreaks = fireSeqBreaks(index, checks.seqChecked ?? timetabled);
  expect
    .soft(seqBreaks.sample, `Chime-Fire-Seq skips or repeats in ${seqBreaks.count} places`)
    .toEqual([]);
  return missing.expected;
}
