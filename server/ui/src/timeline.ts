import { h, setText } from "./dom.js";
import { localHourMinute } from "./format.js";

/** The upcoming due instants of one listed schedule (as many as were asked for). */
export interface UpcomingFires {
  readonly label: string;
  readonly dues: readonly number[];
  /** True when the schedule has more fires in the hour than `dues` holds. */
  readonly truncated: boolean;
}

const MINUTE_MS = 60_000;
const HOUR_MINUTES = 60;

/**
 * The next hour's fires across the listed schedules, one bar a minute, so a burst at the top
 * of the hour stands out. Screen readers get the summary and the list of busy minutes.
 */
export class Timeline {
  readonly element: HTMLElement;
  private readonly bars: HTMLElement;
  private readonly axis: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly busiest: HTMLOListElement;

  constructor() {
    this.bars = h("div", { class: "bars", "aria-hidden": "true" });
    this.axis = h("div", { class: "axis", "aria-hidden": "true" });
    this.summary = h("p", { id: "timeline-summary" });
    this.busiest = h("ol", { class: "busiest" });
    this.element = h(
      "section",
      { class: "panel", "aria-labelledby": "timeline-heading" },
      h("h2", { id: "timeline-heading" }, "Next hour"),
      this.summary,
      h("div", { class: "timeline" }, this.bars, this.axis),
      h("details", {}, h("summary", {}, "Busiest minutes"), this.busiest),
    );
  }

  update(upcoming: readonly UpcomingFires[], now: number): void {
    const start = Math.floor(now / MINUTE_MS) * MINUTE_MS;
    const end = now + HOUR_MINUTES * MINUTE_MS;
    const buckets: { count: number; names: Map<string, number> }[] = Array.from(
      { length: HOUR_MINUTES + 1 },
      () => ({ count: 0, names: new Map() }),
    );
    let total = 0;
    let capped = false;
    for (const schedule of upcoming) {
      capped ||= schedule.truncated;
      for (const due of schedule.dues) {
        if (due < now || due > end) continue;
        const bucket = buckets[Math.floor((due - start) / MINUTE_MS)];
        if (bucket === undefined) continue;
        bucket.count++;
        bucket.names.set(schedule.label, (bucket.names.get(schedule.label) ?? 0) + 1);
        total++;
      }
    }
    const max = Math.max(1, ...buckets.map((b) => b.count));
    this.bars.replaceChildren(
      ...buckets.map((bucket, i) => {
        const at = start + i * MINUTE_MS;
        const names = [...bucket.names].map(([name, n]) => (n > 1 ? `${name} ×${n}` : name));
        const bar = h("div", {
          class: bucket.count === 0 ? "bar idle" : "bar",
          title: `${localHourMinute(at)}: ${bucket.count} fire${bucket.count === 1 ? "" : "s"}${names.length > 0 ? ` (${names.join(", ")})` : ""}`,
        });
        bar.style.height = `${Math.max(bucket.count === 0 ? 0 : 6, (bucket.count / max) * 100)}%`;
        return bar;
      }),
    );
    this.axis.replaceChildren(
      ...[0, 15, 30, 45, 60].map((m) => {
        const tick = h("span", {}, localHourMinute(start + m * MINUTE_MS));
        tick.style.left = `${(m / HOUR_MINUTES) * 100}%`;
        return tick;
      }),
    );
    const busy = buckets
      .map((bucket, i) => ({ at: start + i * MINUTE_MS, bucket }))
      .filter((b) => b.bucket.count > 0)
      .sort((a, b) => b.bucket.count - a.bucket.count || a.at - b.at)
      .slice(0, 5);
    const top = busy[0];
    setText(
      this.summary,
      total === 0
        ? "No fires in the next hour among the listed schedules."
        : `${total}${capped ? "+" : ""} fire${total === 1 ? "" : "s"} in the next hour among the listed schedules; busiest minute ${top === undefined ? "" : `${localHourMinute(top.at)} (${top.bucket.count})`}.`,
    );
    this.busiest.replaceChildren(
      ...busy.map(({ at, bucket }) =>
        h(
          "li",
          {},
          `${localHourMinute(at)}: ${bucket.count} — ${[...bucket.names.keys()].join(", ")}`,
        ),
      ),
    );
  }
}
