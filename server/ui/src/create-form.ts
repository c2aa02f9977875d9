import type { CreatedSchedule } from "../../../sdk/src/gen/chime/v1/scheduler_service_pb.js";
import { errorMessage, fieldViolations, type SchedulerClient } from "./api.js";
import { type Child, h } from "./dom.js";
import { cronInWords, localTimeZone } from "./format.js";
import { parseLabels } from "./labels.js";

type Kind = "cron" | "interval" | "time";

const UNIT_MS = { seconds: 1000, minutes: 60_000, hours: 3_600_000, days: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

// The request fields the server may name in a violation, and the input each one is about.
const FIELD_INPUTS: Readonly<Record<string, string>> = {
  name: "new-name",
  subject: "new-subject",
  payload: "new-payload",
  labels: "new-labels",
  cron: "new-cron",
  time_zone: "new-zone",
  every: "new-every",
  local_time: "new-at",
  at: "new-at",
  max_fires: "new-max-fires",
};

/** The "new schedule" form: one-shot, cron or interval, with the API's own refusals shown. */
export class CreateForm {
  readonly element: HTMLElement;
  private readonly form: HTMLFormElement;
  private readonly summary: HTMLElement;
  private readonly preview: HTMLElement;
  private readonly submit: HTMLButtonElement;

  constructor(
    private readonly client: SchedulerClient,
    private readonly onCreated: (created: CreatedSchedule) => void,
    private readonly onDenied: (err: unknown) => boolean,
  ) {
    this.summary = h("div", { id: "create-error", class: "form-error", role: "alert" });
    this.preview = h("p", { id: "new-cron-words", class: "hint" }, "Every hour, at minute 0");
    this.submit = h("button", { type: "submit", class: "primary" }, "Create schedule");
    const zone = localTimeZone();
    this.form = h(
      "form",
      { id: "create-form", novalidate: true, onsubmit: (e: Event) => void this.create(e) },
      this.summary,
      h(
        "fieldset",
        { class: "kinds" },
        h("legend", {}, "Trigger"),
        radio("cron", "Cron", true, () => this.showKind()),
        radio("interval", "Interval", false, () => this.showKind()),
        radio("time", "One-shot", false, () => this.showKind()),
      ),
      h(
        "div",
        { class: "grid" },
        field("new-name", "Name", "optional, unique", input("new-name", { autocomplete: "off" })),
        field(
          "new-subject",
          "Subject",
          "the NATS subject each fire publishes to",
          input("new-subject", { required: true, placeholder: "tasks.reports.daily" }),
        ),
        h(
          "div",
          { class: "field", "data-kind": "cron" },
          h("label", { for: "new-cron" }, "Cron expression"),
          input("new-cron", {
            value: "0 * * * *",
            spellcheck: "false",
            "aria-describedby": "new-cron-words err-new-cron",
            oninput: () => this.describeCron(),
          }),
          this.preview,
          errorSlot("new-cron"),
        ),
        h(
          "div",
          { class: "field", "data-kind": "interval" },
          h("label", { for: "new-every" }, "Every"),
          h(
            "div",
            { class: "inline" },
            input("new-every", {
              type: "number",
              min: "0",
              step: "any",
              value: "5",
              "aria-describedby": "err-new-every",
            }),
            h(
              "select",
              { id: "new-every-unit", "aria-label": "Unit" },
              ...Object.keys(UNIT_MS).map((u) =>
                h("option", { value: u, selected: u === "minutes" }, u),
              ),
            ),
          ),
          errorSlot("new-every"),
        ),
        h(
          "div",
          { class: "field", "data-kind": "time" },
          h("label", { for: "new-at" }, "At (local date and time)"),
          input("new-at", { type: "datetime-local", step: "1", "aria-describedby": "err-new-at" }),
          errorSlot("new-at"),
        ),
        h(
          "div",
          { class: "field", "data-kind": "cron time" },
          h("label", { for: "new-zone" }, "Time zone"),
          input("new-zone", {
            value: zone,
            list: "zones",
            autocomplete: "off",
            "aria-describedby": "new-zone-hint err-new-zone",
          }),
          h("p", { id: "new-zone-hint", class: "hint" }, "IANA name, e.g. Europe/Paris"),
          errorSlot("new-zone"),
          h("datalist", { id: "zones" }, ...timeZones().map((z) => h("option", { value: z }))),
        ),
        field(
          "new-labels",
          "Labels",
          "key=value, separated by commas",
          input("new-labels", { placeholder: "team=ops", autocomplete: "off" }),
        ),
        h(
          "div",
          { class: "field", "data-kind": "cron interval" },
          h("label", { for: "new-max-fires" }, "Max fires"),
          input("new-max-fires", {
            type: "number",
            min: "0",
            step: "1",
            placeholder: "unbounded",
            "aria-describedby": "err-new-max-fires",
          }),
          errorSlot("new-max-fires"),
        ),
        h(
          "div",
          { class: "field wide" },
          h("label", { for: "new-payload" }, "Payload"),
          h("textarea", {
            id: "new-payload",
            rows: "2",
            placeholder: '{"report": "daily"}',
            "aria-describedby": "err-new-payload",
          }),
          errorSlot("new-payload"),
        ),
        h(
          "div",
          { class: "field check", "data-kind": "cron interval" },
          h("input", { type: "checkbox", id: "new-run-now" }),
          h("label", { for: "new-run-now" }, "Fire once right away, then on the timetable"),
        ),
      ),
      h("div", { class: "buttons" }, this.submit),
    );
    this.element = h(
      "details",
      { id: "create", class: "panel" },
      h("summary", {}, h("h2", {}, "New schedule")),
      this.form,
    );
    this.showKind();
  }

  /** Read-only credentials cannot create. */
  setWritable(writable: boolean): void {
    this.submit.disabled = !writable;
    this.submit.title = writable ? "" : "Your token is read-only";
  }

  private kind(): Kind {
    const checked = this.form.querySelector<HTMLInputElement>("input[name=kind]:checked");
    return (checked?.value as Kind | undefined) ?? "cron";
  }

  private showKind(): void {
    const kind = this.kind();
    for (const el of this.form.querySelectorAll<HTMLElement>("[data-kind]")) {
      el.hidden = !(el.dataset.kind ?? "").split(" ").includes(kind);
    }
  }

  private describeCron(): void {
    const cron = this.value("new-cron");
    this.preview.textContent = cronInWords(cron) ?? "—";
  }

  private value(id: string): string {
    const el = this.form.querySelector<HTMLInputElement | HTMLTextAreaElement>(`#${id}`);
    return el?.value.trim() ?? "";
  }

  private async create(event: Event): Promise<void> {
    event.preventDefault();
    this.clearErrors();
    let labels: Record<string, string>;
    try {
      labels = parseLabels(this.value("new-labels"));
    } catch (err) {
      this.showErrors(
        `labels: ${(err as Error).message}`,
        new Map([["labels", (err as Error).message]]),
      );
      return;
    }
    const common = {
      subject: this.value("new-subject"),
      payload: new TextEncoder().encode(this.value("new-payload")),
      labels,
      name: this.value("new-name") || undefined,
    };
    const maxFires = Number(this.value("new-max-fires") || "0");
    const runImmediately =
      this.form.querySelector<HTMLInputElement>("#new-run-now")?.checked ?? false;
    this.submit.disabled = true;
    try {
      let created: CreatedSchedule;
      switch (this.kind()) {
        case "cron":
          created = await this.client.scheduleByCron({
            ...common,
            cron: this.value("new-cron"),
            timeZone: this.value("new-zone"),
            maxFires,
            runImmediately,
          });
          break;
        case "interval": {
          const unit = (this.form.querySelector<HTMLSelectElement>("#new-every-unit")?.value ??
            "minutes") as Unit;
          const ms = Math.round(Number(this.value("new-every") || "0") * UNIT_MS[unit]);
          created = await this.client.scheduleByInterval({
            ...common,
            every: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 },
            maxFires,
            runImmediately,
          });
          break;
        }
        case "time": {
          const at = this.value("new-at");
          created = await this.client.scheduleByTime({
            ...common,
            // datetime-local leaves the seconds out when they are zero.
            when: { case: "localTime", value: at.length === 16 ? `${at}:00` : at },
            timeZone: this.value("new-zone"),
          });
          break;
        }
      }
      this.onCreated(created);
    } catch (err) {
      if (!this.onDenied(err)) this.showErrors(errorMessage(err), fieldViolations(err));
    } finally {
      this.submit.disabled = false;
    }
  }

  private clearErrors(): void {
    this.summary.replaceChildren();
    for (const el of this.form.querySelectorAll(".field-error")) el.textContent = "";
    for (const el of this.form.querySelectorAll("[aria-invalid]"))
      el.removeAttribute("aria-invalid");
  }

  /** The server's message on top, and each violation beside its input, which gets the focus. */
  private showErrors(message: string, violations: ReadonlyMap<string, string>): void {
    this.summary.replaceChildren(h("p", {}, message));
    let first: HTMLElement | undefined;
    for (const [field, rule] of violations) {
      const id = FIELD_INPUTS[field.split(/[.[]/, 1)[0] ?? field];
      if (id === undefined) continue;
      const target = this.form.querySelector<HTMLElement>(`#${id}`);
      const slot = this.form.querySelector<HTMLElement>(`#err-${id}`);
      if (target === null || target.closest<HTMLElement>("[hidden]") !== null) continue;
      target.setAttribute("aria-invalid", "true");
      if (slot !== null) slot.textContent = `${field}: ${rule}`;
      first ??= target;
    }
    first?.focus();
  }
}

function radio(value: Kind, label: string, checked: boolean, onChange: () => void): HTMLElement {
  const id = `kind-${value}`;
  return h(
    "span",
    { class: "choice" },
    h("input", { type: "radio", name: "kind", id, value, checked, onchange: onChange }),
    h("label", { for: id }, label),
  );
}

function input(
  id: string,
  attrs: Readonly<Record<string, string | boolean | ((e: Event) => void)>>,
): HTMLInputElement {
  return h("input", { id, name: id, type: "text", ...attrs });
}

function errorSlot(id: string): HTMLElement {
  return h("p", { id: `err-${id}`, class: "field-error" });
}

function field(id: string, label: string, hint: string, control: HTMLElement): HTMLElement {
  control.setAttribute("aria-describedby", `${id}-hint err-${id}`);
  const children: Child[] = [
    h("label", { for: id }, label),
    control,
    h("p", { id: `${id}-hint`, class: "hint" }, hint),
    errorSlot(id),
  ];
  return h("div", { class: "field" }, ...children);
}

function timeZones(): string[] {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return ["UTC"];
  }
}
