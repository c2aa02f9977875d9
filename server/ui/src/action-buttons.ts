import { type Schedule, ScheduleState } from "../../../sdk/src/gen/chime/v1/schedule_pb.js";
import { labelOf, type ScheduleActions } from "./actions.js";
import { h } from "./dom.js";

const READ_ONLY = "Your token is read-only";

/**
 * Pause or resume, trigger now, delete: one set per schedule, kept across refreshes and
 * updated in place, so a button keeps the keyboard focus while the data under it changes.
 */
export class ActionButtons {
  readonly element: HTMLElement;
  private readonly toggle: HTMLButtonElement;
  private readonly fire: HTMLButtonElement;
  private readonly remove: HTMLButtonElement;
  private schedule: Schedule;
  private busy = false;

  constructor(schedule: Schedule, actions: ScheduleActions) {
    this.schedule = schedule;
    const run = (action: (s: Schedule) => Promise<void>) => async (): Promise<void> => {
      if (this.busy) return;
      this.busy = true;
      this.element.setAttribute("aria-busy", "true");
      try {
        await action(this.schedule);
      } finally {
        this.busy = false;
        this.element.removeAttribute("aria-busy");
      }
    };
    this.toggle = h("button", {
      type: "button",
      class: "toggle",
      onclick: run((s) =>
        s.state === ScheduleState.PAUSED ? actions.resume(s) : actions.pause(s),
      ),
    });
    this.fire = h(
      "button",
      { type: "button", class: "trigger", onclick: run((s) => actions.trigger(s)) },
      "Trigger now",
    );
    this.remove = h(
      "button",
      { type: "button", class: "danger delete", onclick: run((s) => actions.remove(s)) },
      "Delete",
    );
    this.element = h("div", { class: "actions" }, this.toggle, this.fire, this.remove);
  }

  update(schedule: Schedule, writable: boolean): void {
    this.schedule = schedule;
    const name = labelOf(schedule);
    const paused = schedule.state === ScheduleState.PAUSED;
    const completed = schedule.state === ScheduleState.COMPLETED;
    this.toggle.textContent = paused ? "Resume" : "Pause";
    this.toggle.setAttribute("aria-label", `${paused ? "Resume" : "Pause"} ${name}`);
    this.toggle.disabled = !writable || completed;
    this.toggle.title = writable
      ? completed
        ? "Completed: nothing left to pause"
        : ""
      : READ_ONLY;
    this.fire.setAttribute("aria-label", `Trigger ${name} now`);
    this.fire.disabled = !writable;
    this.fire.title = writable ? "Publish one fire now" : READ_ONLY;
    this.remove.setAttribute("aria-label", `Delete ${name}`);
    this.remove.disabled = !writable;
    this.remove.title = writable ? "" : READ_ONLY;
  }
}
