import { ScheduleState } from "../../../sdk/src/gen/chime/v1/schedule_pb.js";
import { h } from "./dom.js";
import { parseLabels } from "./labels.js";

/** The ListSchedules filters the viewer chose. */
export interface Filters {
  readonly subjectPrefix: string;
  readonly labels: Record<string, string>;
  readonly states: ScheduleState[];
  readonly nameContains: string;
  readonly pageSize: number;
}

const STATES = [
  [ScheduleState.ACTIVE, "Active"],
  [ScheduleState.PAUSED, "Paused"],
  [ScheduleState.COMPLETED, "Completed"],
] as const;

// Typing in a text filter applies it once the viewer pauses, not on every key.
const TYPING_PAUSE_MS = 350;

/** Search and filters above the table; applies on change, and on Enter at once. */
export class FilterForm {
  readonly element: HTMLFormElement;
  private readonly error: HTMLElement;
  private typing: number | undefined;

  constructor(private readonly onChange: (filters: Filters) => void) {
    const typed = (): void => {
      window.clearTimeout(this.typing);
      this.typing = window.setTimeout(() => this.apply(), TYPING_PAUSE_MS);
    };
    const text = (id: string, label: string, placeholder: string): HTMLElement =>
      h(
        "div",
        { class: "field" },
        h("label", { for: id }, label),
        h("input", { id, type: "search", placeholder, autocomplete: "off", oninput: typed }),
      );
    this.error = h("p", { id: "filter-error", class: "field-error", role: "alert" });
    this.element = h(
      "form",
      {
        id: "filters",
        role: "search",
        "aria-label": "Filter schedules",
        onsubmit: (e: Event) => {
          e.preventDefault();
          this.apply();
        },
      },
      text("filter-name", "Name contains", "report"),
      text("filter-subject", "Subject prefix", "tasks."),
      text("filter-labels", "Labels", "team=ops"),
      h(
        "fieldset",
        { class: "states" },
        h("legend", {}, "State"),
        ...STATES.map(([state, label]) =>
          h(
            "span",
            { class: "choice" },
            h("input", {
              type: "checkbox",
              id: `filter-state-${state}`,
              value: String(state),
              onchange: () => this.apply(),
            }),
            h("label", { for: `filter-state-${state}` }, label),
          ),
        ),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "filter-page-size" }, "Per page"),
        h(
          "select",
          { id: "filter-page-size", onchange: () => this.apply() },
          ...[10, 25, 50, 100].map((n) =>
            h("option", { value: String(n), selected: n === 25 }, String(n)),
          ),
        ),
      ),
      this.error,
    );
  }

  /** The filters as they stand; labels that do not parse are left out (and said so). */
  current(): Filters {
    const value = (id: string): string =>
      this.element.querySelector<HTMLInputElement | HTMLSelectElement>(`#${id}`)?.value.trim() ??
      "";
    let labels: Record<string, string> = {};
    try {
      labels = parseLabels(value("filter-labels"));
      this.error.textContent = "";
    } catch (err) {
      this.error.textContent = `Labels: ${(err as Error).message}`;
    }
    const states = [
      ...this.element.querySelectorAll<HTMLInputElement>(".states input:checked"),
    ].map((el) => Number(el.value) as ScheduleState);
    return {
      subjectPrefix: value("filter-subject"),
      labels,
      states,
      nameContains: value("filter-name"),
      pageSize: Number(value("filter-page-size")) || 25,
    };
  }

  private apply(): void {
    window.clearTimeout(this.typing);
    this.onChange(this.current());
  }
}
