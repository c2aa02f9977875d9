import type { Schedule } from "../../../sdk/src/gen/chime/v1/schedule_pb.js";
import { ActionButtons } from "./action-buttons.js";
import type { ScheduleActions } from "./actions.js";
import { h, setText } from "./dom.js";
import { ago, countdown, localDateTime, msOf, stateName, triggerInWords } from "./format.js";

const COLUMNS = [
  "Name",
  "ID",
  "Subject",
  "Trigger",
  "State",
  "Next fire",
  "Last fire",
  "Fires",
  "Owner",
  "Actions",
] as const;

type CellName =
  | "name"
  | "id"
  | "subject"
  | "trigger"
  | "state"
  | "next"
  | "last"
  | "fires"
  | "owner"
  | "actions";

interface Row {
  readonly tr: HTMLTableRowElement;
  readonly link: HTMLAnchorElement;
  readonly cells: Readonly<Record<CellName, HTMLTableCellElement>>;
  readonly next: HTMLTimeElement;
  readonly nextIn: HTMLElement;
  readonly last: HTMLTimeElement;
  readonly buttons: ActionButtons;
  nextDue: number | undefined;
  lastAt: number | undefined;
}

/** The schedules of the current page; rows are keyed by id and updated in place. */
export class SchedulesTable {
  readonly element: HTMLElement;
  private readonly body: HTMLTableSectionElement;
  private readonly empty: HTMLElement;
  private readonly rows = new Map<string, Row>();

  constructor(private readonly actions: ScheduleActions) {
    this.body = h("tbody");
    this.empty = h("p", { class: "empty", hidden: true }, "No schedules match.");
    this.element = h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "schedules" },
        h("caption", { class: "visually-hidden" }, "Schedules, with their next and last fires"),
        h("thead", {}, h("tr", {}, ...COLUMNS.map((c) => h("th", { scope: "col" }, c)))),
        this.body,
      ),
      this.empty,
    );
  }

  update(schedules: readonly Schedule[], writable: boolean, now: number): void {
    const seen = new Set<string>();
    let previous: HTMLTableRowElement | undefined;
    for (const schedule of schedules) {
      seen.add(schedule.scheduleId);
      let row = this.rows.get(schedule.scheduleId);
      if (row === undefined) {
        row = this.createRow(schedule);
        this.rows.set(schedule.scheduleId, row);
      }
      this.fill(row, schedule, writable);
      // Keep the server's order without re-inserting rows that are already in place.
      const expected =
        previous === undefined ? this.body.firstElementChild : previous.nextElementSibling;
      if (expected !== row.tr) {
        if (previous === undefined) this.body.prepend(row.tr);
        else previous.after(row.tr);
      }
      previous = row.tr;
    }
    for (const [id, row] of this.rows) {
      if (seen.has(id)) continue;
      row.tr.remove();
      this.rows.delete(id);
    }
    this.empty.hidden = schedules.length > 0;
    this.tick(now);
  }

  /** Moves the countdowns on, between refreshes. */
  tick(now: number): void {
    for (const row of this.rows.values()) {
      setText(row.nextIn, row.nextDue === undefined ? "" : countdown(row.nextDue, now));
      if (row.lastAt !== undefined) row.last.title = ago(row.lastAt, now);
    }
  }

  private createRow(schedule: Schedule): Row {
    const cell = (column: string, ...content: (Node | string)[]): HTMLTableCellElement =>
      h("td", { "data-label": column }, ...content);
    const link = h("a", { href: `#/schedules/${schedule.scheduleId}` });
    const next = h("time");
    const nextIn = h("span", { class: "countdown" });
    const last = h("time");
    const buttons = new ActionButtons(schedule, this.actions);
    const cells: Record<CellName, HTMLTableCellElement> = {
      name: h("th", { scope: "row", "data-label": "Name" }, link),
      id: cell("ID"),
      subject: cell("Subject"),
      trigger: cell("Trigger"),
      state: cell("State"),
      next: cell("Next fire", next, h("br"), nextIn),
      last: cell("Last fire", last),
      fires: cell("Fires"),
      owner: cell("Owner"),
      actions: cell("Actions", buttons.element),
    };
    cells.id.classList.add("mono");
    cells.fires.classList.add("num");
    const tr = h("tr", { "data-schedule-id": schedule.scheduleId }, ...Object.values(cells));
    return { tr, link, cells, next, nextIn, last, buttons, nextDue: undefined, lastAt: undefined };
  }

  private fill(row: Row, schedule: Schedule, writable: boolean): void {
    setText(row.link, schedule.name || "(unnamed)");
    setText(row.cells.id, schedule.scheduleId);
    setText(row.cells.subject, schedule.subject);
    setText(row.cells.trigger, triggerInWords(schedule));
    const state = stateName(schedule.state);
    const stateCell = row.cells.state;
    setText(stateCell, state);
    stateCell.className = `state state-${state}`;
    row.nextDue = msOf(schedule.nextFireAt);
    setText(row.next, row.nextDue === undefined ? "—" : localDateTime(row.nextDue));
    row.next.dateTime = row.nextDue === undefined ? "" : new Date(row.nextDue).toISOString();
    row.lastAt = msOf(schedule.lastFireAt);
    setText(row.last, row.lastAt === undefined ? "never" : localDateTime(row.lastAt));
    row.last.dateTime = row.lastAt === undefined ? "" : new Date(row.lastAt).toISOString();
    setText(row.cells.fires, schedule.fireCount.toString());
    setText(row.cells.owner, schedule.owner || "none");
    row.buttons.update(schedule, writable);
  }
}
