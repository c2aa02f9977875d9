// The Chime dashboard: schedules, their next and recent fires, and actions on them, over the
// Connect API of the server that serves this page.
import type { Schedule } from "../../../sdk/src/gen/chime/v1/schedule_pb.js";
import type { CreatedSchedule } from "../../../sdk/src/gen/chime/v1/scheduler_service_pb.js";
import { labelOf, type ScheduleActions } from "./actions.js";
import { asConnectError, Code, createSchedulerClient, errorMessage } from "./api.js";
import { type Access, askForToken, deniedMessage, probeAccess, TokenStore } from "./auth.js";
import { confirmAction } from "./confirm-dialog.js";
import { CreateForm } from "./create-form.js";
import { byId, h, setText } from "./dom.js";
import { FilterForm, type Filters } from "./filter-form.js";
import { durationMs, localClock, localDateTime, msOf } from "./format.js";
import { ScheduleDetail } from "./schedule-detail.js";
import { SchedulesTable } from "./schedules-table.js";
import { Timeline, type UpcomingFires } from "./timeline.js";

const REFRESH_MS = 5_000;
const HOUR_MS = 3_600_000;
// GetSchedule's largest next_fire_count: a schedule with more fires in the hour shows "+".
const TIMELINE_FIRES = 100;
// How long a schedule's upcoming fires are reused for the timeline before they are asked again.
const TIMELINE_STALE_MS = 60_000;

interface CachedUpcoming {
  readonly version: string;
  readonly fetchedAt: number;
  readonly fires: UpcomingFires;
}

class Dashboard implements ScheduleActions {
  private readonly tokens = new TokenStore();
  private readonly client = createSchedulerClient(this.tokens);
  private access: Access = "write";
  private filters: Filters;
  private pageTokens: string[] = [""];
  private nextPageToken = "";
  private detailId: string | undefined;
  private refreshing: Promise<void> | undefined;
  private again = false;
  private askingToken = false;
  private tokenDeclined = false;
  private readonly upcoming = new Map<string, CachedUpcoming>();

  private readonly status = byId("status", HTMLDivElement);
  private readonly updated = byId("updated", HTMLSpanElement);
  private readonly tokenButton = byId("token-button", HTMLButtonElement);
  private readonly accessNote = byId("access", HTMLSpanElement);
  private readonly main = byId("main", HTMLElement);
  private readonly filterForm = new FilterForm((filters) => {
    this.filters = filters;
    this.pageTokens = [""];
    void this.refresh();
  });
  private readonly table = new SchedulesTable(this);
  private readonly timeline = new Timeline();
  private readonly detail = new ScheduleDetail(this);
  private readonly createForm = new CreateForm(
    this.client,
    (created) => void this.created(created),
    (err) => this.handleAuthError(err),
  );
  private readonly listHeading = h("h2", { id: "list-heading", tabindex: "-1" }, "Schedules");
  private readonly prev = h(
    "button",
    { type: "button", onclick: () => this.page(-1) },
    "← Previous",
  );
  private readonly next = h("button", { type: "button", onclick: () => this.page(1) }, "Next →");
  private readonly pageLabel = h("span", { "aria-live": "polite" });
  private readonly listView: HTMLElement;

  constructor() {
    this.filters = this.filterForm.current();
    this.listView = h(
      "div",
      { id: "list-view" },
      h(
        "section",
        { class: "panel", "aria-labelledby": "list-heading" },
        this.listHeading,
        this.filterForm.element,
        this.table.element,
        h("nav", { class: "pager", "aria-label": "Pages" }, this.prev, this.pageLabel, this.next),
      ),
      this.timeline.element,
      this.createForm.element,
    );
    this.main.replaceChildren(this.listView, this.detail.element);
  }

  async start(): Promise<void> {
    this.tokenButton.addEventListener("click", () => void this.tokenClicked());
    byId("refresh-button", HTMLButtonElement).addEventListener("click", () => void this.refresh());
    window.addEventListener("hashchange", () => this.route(true));
    this.route(false);
    window.setInterval(() => {
      if (!document.hidden) void this.refresh();
    }, REFRESH_MS);
    window.setInterval(() => this.table.tick(Date.now()), 1000);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) void this.refresh();
    });
    await this.checkAccess();
    await this.refresh();
  }

  // --- actions -----------------------------------------------------------------------------

  async pause(schedule: Schedule): Promise<void> {
    await this.write(`Paused ${labelOf(schedule)}.`, () =>
      this.client.pauseSchedule({ target: { case: "scheduleId", value: schedule.scheduleId } }),
    );
  }

  async resume(schedule: Schedule): Promise<void> {
    await this.write(`Resumed ${labelOf(schedule)}.`, () =>
      this.client.resumeSchedule({ target: { case: "scheduleId", value: schedule.scheduleId } }),
    );
  }

  async trigger(schedule: Schedule): Promise<void> {
    await this.write(
      (fire) => {
        const at = msOf(fire.firedAt);
        return `Triggered ${labelOf(schedule)}: published${at === undefined ? "" : ` at ${localClock(at)}`}, stream sequence ${fire.streamSequence}.`;
      },
      () =>
        this.client.triggerSchedule({ target: { case: "scheduleId", value: schedule.scheduleId } }),
    );
  }

  async remove(schedule: Schedule): Promise<void> {
    const name = labelOf(schedule);
    const sure = await confirmAction(
      `Delete ${name}?`,
      `No further fire of ${name} will start. Fires already published stay in the stream. This cannot be undone.`,
      "Delete",
    );
    if (!sure) {
      this.say(`Kept ${name}.`);
      return;
    }
    await this.write(
      (res) => (res.existed ? `Deleted ${name}.` : `${name} was already gone.`),
      () => this.client.unschedule({ target: { case: "scheduleId", value: schedule.scheduleId } }),
    );
    if (this.detailId === schedule.scheduleId) window.location.hash = "#/";
  }

  private async write<T>(
    done: string | ((result: T) => string),
    call: () => Promise<T>,
  ): Promise<void> {
    try {
      const result = await call();
      this.say(typeof done === "string" ? done : done(result));
    } catch (err) {
      if (!this.handleAuthError(err)) this.say(`Failed: ${errorMessage(err)}`, "error");
    }
    await this.refresh();
  }

  private async created(created: CreatedSchedule): Promise<void> {
    const s = created.schedule;
    const name = s === undefined ? created.scheduleId : labelOf(s);
    const next = msOf(s?.nextFireAt);
    const when = next === undefined ? "" : ` Next fire ${localDateTime(next)}.`;
    this.say(
      created.created
        ? `Created ${name} (${created.scheduleId}).${when}`
        : `A schedule named ${name} exists already; it was kept unchanged.${when}`,
    );
    await this.refresh();
  }

  // --- credentials -------------------------------------------------------------------------

  /** True when the error was about credentials and has been dealt with. */
  private handleAuthError(err: unknown): boolean {
    const code = asConnectError(err).code;
    if (code === Code.Unauthenticated) {
      this.setAccess("signed-out");
      this.say(`Token required: ${errorMessage(err)}`, "error");
      // Asked once by itself; after a cancel, only the header's button asks again.
      if (!this.tokenDeclined) void this.promptToken(errorMessage(err));
      return true;
    }
    if (code === Code.PermissionDenied) {
      this.say(deniedMessage(err), "error");
      // Refused for the schedule's subject, or because the token may not write at all: the
      // probe tells which, and only the latter disables the write actions.
      void this.checkAccess();
      return true;
    }
    return false;
  }

  private async promptToken(reason: string | undefined): Promise<void> {
    if (this.askingToken) return;
    this.askingToken = true;
    try {
      const token = await askForToken(reason);
      this.tokenDeclined = token === undefined;
      if (token === undefined) return;
      this.tokens.set(token);
      await this.checkAccess();
      await this.refresh();
    } finally {
      this.askingToken = false;
    }
  }

  private async tokenClicked(): Promise<void> {
    if (this.tokens.token() !== undefined) {
      this.tokens.clear();
      this.say("Token forgotten.");
      await this.checkAccess();
      await this.refresh();
      return;
    }
    await this.promptToken(undefined);
  }

  private async checkAccess(): Promise<void> {
    this.setAccess(await probeAccess(this.client));
  }

  private setAccess(access: Access): void {
    const changed = access !== this.access;
    this.access = access;
    const hasToken = this.tokens.token() !== undefined;
    this.tokenButton.textContent = hasToken ? "Forget token" : "Enter token";
    this.tokenButton.hidden = !hasToken && access === "write";
    setText(
      this.accessNote,
      access === "read-only" ? "Read-only token" : access === "signed-out" ? "Token required" : "",
    );
    this.createForm.setWritable(access === "write");
    // The buttons of the rows on show follow at once.
    if (changed && access !== "signed-out") void this.refresh();
  }

  // --- views -------------------------------------------------------------------------------

  private route(moveFocus: boolean): void {
    const match = /^#\/schedules\/([0-9A-Za-z]+)$/.exec(window.location.hash);
    this.detailId = match?.[1];
    this.listView.hidden = this.detailId !== undefined;
    this.detail.element.hidden = this.detailId === undefined;
    document.title = this.detailId === undefined ? "Chime · schedules" : "Chime · schedule";
    if (moveFocus) (this.detailId === undefined ? this.listHeading : this.detail.heading).focus();
    if (moveFocus) void this.refresh();
  }

  private page(step: 1 | -1): void {
    if (step === 1 && this.nextPageToken !== "") this.pageTokens.push(this.nextPageToken);
    if (step === -1 && this.pageTokens.length > 1) this.pageTokens.pop();
    void this.refresh().then(() => this.listHeading.focus());
  }

  /** One refresh at a time; a request for another while one runs makes one more after it. */
  refresh(): Promise<void> {
    if (this.refreshing !== undefined) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = this.load().finally(() => {
      this.refreshing = undefined;
      if (this.again) {
        this.again = false;
        void this.refresh();
      }
    });
    return this.refreshing;
  }

  private async load(): Promise<void> {
    try {
      if (this.detailId !== undefined) await this.loadDetail(this.detailId);
      else await this.loadList();
      setText(this.updated, `Updated ${localClock(Date.now())}`);
      if (this.status.classList.contains("stale")) this.say("");
    } catch (err) {
      if (this.handleAuthError(err)) return;
      this.say(`Could not refresh: ${errorMessage(err)}`, "error");
      this.status.classList.add("stale");
    }
  }

  private async loadDetail(id: string): Promise<void> {
    try {
      const schedule = await this.client.getSchedule({
        target: { case: "scheduleId", value: id },
        nextFireCount: 10,
        recentFireCount: 10,
      });
      this.detail.show(schedule, this.access === "write", Date.now());
    } catch (err) {
      if (asConnectError(err).code !== Code.NotFound) throw err;
      this.say(`Schedule ${id} does not exist (any more).`, "error");
      window.location.hash = "#/";
    }
  }

  private async loadList(): Promise<void> {
    const f = this.filters;
    const res = await this.client.listSchedules({
      pageSize: f.pageSize,
      pageToken: this.pageTokens[this.pageTokens.length - 1] ?? "",
      subjectPrefix: f.subjectPrefix,
      labels: f.labels,
      states: f.states,
      nameContains: f.nameContains,
    });
    this.nextPageToken = res.nextPageToken;
    const now = Date.now();
    this.table.update(res.schedules, this.access === "write", now);
    this.prev.disabled = this.pageTokens.length <= 1;
    this.next.disabled = res.nextPageToken === "";
    setText(this.pageLabel, `Page ${this.pageTokens.length}`);
    await this.loadTimeline(res.schedules, now);
  }

  /**
   * Upcoming fires of the listed schedules whose next fire is within the hour; each is asked
   * for again only when it changed or its list grew stale, not on every refresh.
   */
  private async loadTimeline(schedules: readonly Schedule[], now: number): Promise<void> {
    const wanted = schedules.filter((s) => {
      const next = msOf(s.nextFireAt);
      return next !== undefined && next <= now + HOUR_MS;
    });
    await Promise.all(
      wanted.map(async (s) => {
        const version = `${msOf(s.updatedAt)}:${s.state}`;
        const cached = this.upcoming.get(s.scheduleId);
        if (
          cached !== undefined &&
          cached.version === version &&
          now - cached.fetchedAt < TIMELINE_STALE_MS
        )
          return;
        const full = await this.client.getSchedule({
          target: { case: "scheduleId", value: s.scheduleId },
          nextFireCount: TIMELINE_FIRES,
        });
        const dues = full.nextFireTimes.map((t) => msOf(t) ?? 0);
        let last = dues[dues.length - 1];
        const unbounded = s.maxFires === 0 && s.endAt === undefined;
        const every =
          s.trigger.case === "interval" && unbounded
            ? durationMs(s.trigger.value.every)
            : undefined;
        // An interval's timetable is plain arithmetic: carry it on to the end of the hour
        // (jitter aside) rather than show a gap after the fires asked for.
        if (dues.length === TIMELINE_FIRES && every !== undefined && every > 0) {
          while (last !== undefined && last + every <= now + HOUR_MS) {
            last += every;
            dues.push(last);
          }
        }
        this.upcoming.set(s.scheduleId, {
          version,
          fetchedAt: now,
          fires: {
            label: labelOf(s),
            dues,
            truncated:
              every === undefined &&
              dues.length === TIMELINE_FIRES &&
              last !== undefined &&
              last < now + HOUR_MS,
          },
        });
      }),
    );
    const listed = new Set(wanted.map((s) => s.scheduleId));
    for (const id of this.upcoming.keys()) if (!listed.has(id)) this.upcoming.delete(id);
    this.timeline.update(
      [...this.upcoming.values()].map((c) => c.fires),
      now,
    );
  }

  /** Announces a message to screen readers and shows it in the status line. */
  private say(message: string, kind: "info" | "error" = "info"): void {
    this.status.classList.remove("stale");
    this.status.classList.toggle("error", kind === "error");
    setText(this.status, message);
  }
}

void new Dashboard().start();
