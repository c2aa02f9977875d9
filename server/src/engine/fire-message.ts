import type { Schedule } from "@chime/sdk";
import type { MsgHdrs } from "@nats-io/nats-core";
import { HeaderList } from "../nats/header-list.js";
import { rfc3339 } from "../proto-time.js";

export const FireTrigger = {
  schedule: "schedule",
  catchup: "catchup",
  manual: "manual",
} as const;
export type FireTrigger = (typeof FireTrigger)[keyof typeof FireTrigger];

/** What every fire of a schedule shares, prepared once rather than on every fire. */
export interface FireTemplate {
  readonly scheduleId: string;
  readonly subject: string;
  readonly payload: Uint8Array;
  /** Fixed headers: the schedule's name, content type and user headers. */
  readonly fixed: readonly (readonly [string, string])[];
}

export function fireTemplateOf(schedule: Schedule): FireTemplate {
  const fixed: [string, string][] = [];
  if (schedule.name !== "") fixed.push(["Chime-Schedule-Name", schedule.name]);
  if (schedule.contentType !== "") fixed.push(["Content-Type", schedule.contentType]);
  for (const [name, value] of Object.entries(schedule.headers)) fixed.push([name, value]);
  return {
    scheduleId: schedule.scheduleId,
    subject: schedule.subject,
    payload: schedule.payload,
    fixed,
  };
}

/** `<schedule id>:<nominal Unix ms>`: the same fire gets the same id on every replica. */
export function fireMessageId(scheduleId: string, nominal: number): string {
  return `${scheduleId}:${nominal}`;
}

/** The headers of one fire, as the wire contract in DESIGN.md lists them. */
export function fireHeaders(
  template: FireTemplate,
  nominal: number,
  firedAt: number,
  seq: number,
  trigger: FireTrigger,
): MsgHdrs {
  return new HeaderList(
    [
      ["Nats-Msg-Id", fireMessageId(template.scheduleId, nominal)],
      ["Chime-Schedule-Id", template.scheduleId],
      ["Chime-Scheduled-At", instantText(nominal)],
      ["Chime-Fired-At", instantText(firedAt)],
      ["Chime-Fire-Seq", String(seq)],
      ["Chime-Trigger", trigger],
    ],
    template.fixed,
  );
}

// A burst formats the same few instants thousands of times: remember the last two.
let recentMs = Number.NaN;
let recentText = "";
let olderMs = Number.NaN;
let olderText = "";

function instantText(ms: number): string {
  if (ms === recentMs) return recentText;
  if (ms === olderMs) return olderText;
  olderMs = recentMs;
  olderText = recentText;
  recentMs = ms;
  recentText = rfc3339(ms);
  return recentText;
}
