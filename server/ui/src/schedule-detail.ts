import { type Schedule, ScheduleState } from "../../../sdk/src/gen/chime/v1/schedule_pb.js";
import { ActionButtons } from "./action-buttons.js";
import { labelOf, type ScheduleActions } from "./actions.js";
import { h, setText } from "./dom.js";
import {
  countdown,
  durationInWords,
  durationMs,
  localDateTime,
  misfirePolicyName,
  msOf,
  payloadText,
  stateName,
  triggerDefinition,
  triggerInWords,
} from "./format.js";
import { formatLabels } from "./labels.js";

// A due fire this much past its time and still unpublished is shown as not published (yet).
const OVERDUE_MS = 5_000;

/** One schedule: its definition, its next ten fire times and its recent fires. */
export class ScheduleDetail {
  readonly element: HTMLElement;
  readonly heading: HTMLHeadingElement;
  private readonly definition: HTMLDListElement;
  private readonly upcoming: HTMLOListElement;
  private readonly fires: HTMLTableSectionElement;
  private readonly noFires: HTMLElement;
  private readonly actionsSlot: HTMLElement;
  private buttons: ActionButtons | undefined;
  private shownId: string | undefined;

  constructor(private readonly actions: ScheduleActions) {
    this.heading = h("h2", { id: "detail-heading", tabindex: "-1" });
    this.definition = h("dl", { class: "definition" });
    this.upcoming = h("ol", { id: "next-fires", class: "times" });
    this.fires = h("tbody");
    this.noFires = h("p", { class: "empty", hidden: true }, "No fires yet.");
    this.actionsSlot = h("div");
    this.element = h(
      "section",
      { id: "detail", class: "panel", "aria-labelledby": "detail-heading" },
      h("p", {}, h("a", { href: "#/" }, "← All schedules")),
      this.heading,
      this.actionsSlot,
      h(
        "div",
        { class: "detail-grid" },
        h(
          "section",
          { "aria-labelledby": "def-heading" },
          h("h3", { id: "def-heading" }, "Definition"),
          this.definition,
        ),
        h(
          "section",
          { "aria-labelledby": "next-heading" },
          h("h3", { id: "next-heading" }, "Next ten fires"),
          this.upcoming,
        ),
      ),
      h(
        "section",
        { "aria-labelledby": "recent-heading" },
        h("h3", { id: "recent-heading" }, "Recent fires"),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { id: "recent-fires" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ...["Fired at", "Scheduled for", "Trigger", "Fire #", "Outcome"].map((c) =>
                  h("th", { scope: "col" }, c),
                ),
              ),
            ),
            this.fires,
          ),
        ),
        this.noFires,
      ),
    );
  }

  show(schedule: Schedule, writable: boolean, now: number): void {
    if (this.shownId !== schedule.scheduleId || this.buttons === undefined) {
      this.shownId = schedule.scheduleId;
      this.buttons = new ActionButtons(schedule, this.actions);
      this.actionsSlot.replaceChildren(this.buttons.element);
    }
    this.buttons.update(schedule, writable);
    setText(this.heading, labelOf(schedule));
    this.definition.replaceChildren(...definitionOf(schedule, now));
    this.upcoming.replaceChildren(
      ...schedule.nextFireTimes.map((t) => {
        const ms = msOf(t) ?? 0;
        return h(
          "li",
          {},
          h("time", { datetime: new Date(ms).toISOString() }, localDateTime(ms)),
          ` (${countdown(ms, now)})`,
        );
      }),
    );
    if (schedule.nextFireTimes.length === 0)
      this.upcoming.replaceChildren(h("li", { class: "empty" }, "None to come."));
    const rows: HTMLTableRowElement[] = [];
    const due = msOf(schedule.nextFireAt);
    if (schedule.state === ScheduleState.ACTIVE && due !== undefined && now - due > OVERDUE_MS) {
      rows.push(
        h(
          "tr",
          { class: "overdue" },
          h("td", {}, "—"),
          h("td", {}, localDateTime(due)),
          h("td", {}, "schedule"),
          h("td", {}, ""),
          h("td", {}, "not published yet: retrying (NATS or the partition's owner unavailable)"),
        ),
      );
    }
    for (const fire of schedule.recentFires) {
      const fired = msOf(fire.firedAt);
      const scheduled = msOf(fire.scheduledAt);
      rows.push(
        h(
          "tr",
          {},
          h("td", {}, fired === undefined ? "—" : localDateTime(fired)),
          h("td", {}, scheduled === undefined ? "—" : localDateTime(scheduled)),
          h("td", {}, fire.trigger),
          h("td", { class: "num" }, fire.fireSeq.toString()),
          h("td", {}, `published (stream seq ${fire.streamSequence})`),
        ),
      );
    }
    this.fires.replaceChildren(...rows);
    this.noFires.hidden = rows.length > 0;
  }
}

function definitionOf(s: Schedule, now: number): HTMLElement[] {
  const time = (ms: number | undefined): string => (ms === undefined ? "—" : localDateTime(ms));
  const next = msOf(s.nextFireAt);
  const entries: [string, string][] = [
    ["ID", s.scheduleId],
    ["Name", s.name || "(unnamed)"],
    ["Subject", s.subject],
    ["Trigger", triggerInWords(s)],
    ["Defined as", triggerDefinition(s)],
    ["State", stateName(s.state)],
    ["Next fire", next === undefined ? "—" : `${localDateTime(next)} (${countdown(next, now)})`],
    ["Last fire", time(msOf(s.lastFireAt))],
    ["Fires", `${s.fireCount} (${s.manualFireCount} manual)`],
    ["Owner", s.owner || "none"],
    ["Partition", String(s.partition)],
    ["Labels", formatLabels(s.labels) || "—"],
    ["Headers", formatLabels(s.headers) || "—"],
    ["Content type", s.contentType || "—"],
    ["Payload", payloadText(s.payload)],
  ];
  if (s.trigger.case !== "time") {
    const jitter = durationMs(s.jitter);
    const window = durationMs(s.catchupWindow);
    entries.push(
      ["Starts", time(msOf(s.startAt))],
      ["Ends", time(msOf(s.endAt))],
      ["Max fires", s.maxFires === 0 ? "unbounded" : String(s.maxFires)],
      [
        "Jitter",
        jitter === undefined || jitter === 0 ? "none" : `up to ${durationInWords(jitter)}`,
      ],
      ["Misfires", misfirePolicyName(s.misfirePolicy)],
      ["Catch-up window", window === undefined ? "1 hour" : durationInWords(window)],
      ["Run immediately", s.runImmediately ? "yes" : "no"],
    );
  }
  entries.push(["Created", time(msOf(s.createdAt))], ["Updated", time(msOf(s.updatedAt))]);
  if (s.pausedAt !== undefined) entries.push(["Paused at", time(msOf(s.pausedAt))]);
  return entries.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]);
}
