// A JetStream message as the Task a handler receives: the wire contract's headers read once.
import type { JsMsg } from "@nats-io/jetstream";
import { type Task, TaskTrigger } from "./types.js";

/** The headers Chime sets on every fired task (see the wire contract in the README). */
export const TaskHeader = {
  messageId: "Nats-Msg-Id",
  scheduleId: "Chime-Schedule-Id",
  scheduleName: "Chime-Schedule-Name",
  scheduledAt: "Chime-Scheduled-At",
  firedAt: "Chime-Fired-At",
  fireSeq: "Chime-Fire-Seq",
  trigger: "Chime-Trigger",
  contentType: "Content-Type",
} as const;

const TRIGGERS: ReadonlySet<string> = new Set(Object.values(TaskTrigger));

/** Every header of a message, first value of each. */
export function headersOf(msg: Pick<JsMsg, "headers">): Record<string, string> {
  const headers: Record<string, string> = {};
  if (msg.headers === undefined) return headers;
  for (const [name, values] of msg.headers) headers[name] = values[0] ?? "";
  return headers;
}

export function toTask(msg: JsMsg, signal: AbortSignal): Task {
  const headers = headersOf(msg);
  const stored = msg.time;
  const data = msg.data;
  const trigger = headers[TaskHeader.trigger] ?? "";
  const name = headers[TaskHeader.scheduleName];
  return {
    subject: msg.subject,
    scheduleId: headers[TaskHeader.scheduleId] ?? "",
    name: name === undefined || name === "" ? undefined : name,
    scheduledAt: dateOf(headers[TaskHeader.scheduledAt], stored),
    firedAt: dateOf(headers[TaskHeader.firedAt], stored),
    seq: Number(headers[TaskHeader.fireSeq] ?? 0) || 0,
    trigger: TRIGGERS.has(trigger) ? (trigger as TaskTrigger) : TaskTrigger.schedule,
    attempt: msg.info.deliveryCount,
    messageId: headers[TaskHeader.messageId] ?? "",
    streamSequence: msg.seq,
    headers,
    data,
    signal,
    text: () => new TextDecoder().decode(data),
    json: <T>() => JSON.parse(new TextDecoder().decode(data)) as T,
  };
}

function dateOf(header: string | undefined, fallback: Date): Date {
  const ms = header === undefined ? Number.NaN : Date.parse(header);
  return new Date(Number.isNaN(ms) ? fallback.getTime() : ms);
}
