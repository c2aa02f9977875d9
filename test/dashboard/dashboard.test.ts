import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { SchedulerService, ScheduleState } from "@chime/sdk";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";

// Debian's chromium package; .ci/run installs it when it is missing.
const CHROMIUM = "/usr/bin/chromium";
// The screenshots of docs/ are taken again only when asked (CHIME_SCREENSHOTS=1 npm test), so
// that a test run leaves the working tree as it found it.
const SCREENSHOTS =
  process.env.CHIME_SCREENSHOTS === "1"
    ? fileURLToPath(new URL("../../docs/", import.meta.url))
    : `${tmpdir()}/`;
// Waits for the page to catch up: generous, since the machine may be busy; never a sleep.
const UI_TIMEOUT_MS = 20_000;
const LAPTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };

const byName = (name: string) => ({ target: { case: "name" as const, value: name } });

describe("the dashboard, in a real Chromium against a real Chime and NATS", () => {
  let nats: TestNats;
  let chime: TestChime;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    nats = await startTestNats();
    chime = await startTestChime(nats.url);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    await seedSchedules(chime);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await chime?.stop();
    await nats?.stop();
  });

  it("serves the page from the API's port, with content types and caching", async () => {
    const root = await fetch(`${chime.baseUrl}/`, { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("ui/");
    const page = await fetch(`${chime.baseUrl}/ui/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await page.text();
    const script = /src="(app-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${chime.baseUrl}/ui/${script}`, {
      headers: { "accept-encoding": "gzip" },
    });
    expect(asset.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(asset.headers.get("cache-control")).toContain("immutable");
    const etag = asset.headers.get("etag") ?? "";
    const again = await fetch(`${chime.baseUrl}/ui/${script}`, {
      headers: { "if-none-match": etag },
    });
    expect(again.status).toBe(304);
    expect((await fetch(`${chime.baseUrl}/ui/`, { method: "POST" })).status).toBe(405);
  });

  it("creates, shows, triggers, pauses and deletes a schedule; shows the server's refusals", async () => {
    const page = await browser.newPage({ viewport: LAPTOP });
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await page.goto(`${chime.baseUrl}/`);
    await page.getByRole("heading", { name: "Schedules" }).waitFor();

    const form = page.locator("#create-form");
    const filters = page.locator("#filters");

    // Create through the form.
    await page.locator("#create summary").click();
    await form.getByLabel("Name", { exact: true }).fill("nightly-report");
    await form.getByLabel("Subject", { exact: true }).fill("tasks.reports.nightly");
    await form.getByLabel("Cron expression").fill("30 2 * * *");
    await form.getByLabel("Time zone").fill("America/New_York");
    await form.getByLabel("Labels").fill("team=reports");
    await form.getByLabel("Payload").fill('{"report":"nightly"}');
    await form.getByRole("button", { name: "Create schedule" }).click();
    await page.locator("#status", { hasText: "Created nightly-report" }).waitFor();

    // In the table, with the next fire time the API gives.
    const stored = await chime.client.getSchedule(byName("nightly-report"));
    const row = page.locator(`tr[data-schedule-id="${stored.scheduleId}"]`);
    await row.waitFor();
    expect(await row.locator('td[data-label="Trigger"]').textContent()).toBe(
      "At 02:30 (America/New_York)",
    );
    const nextFire = row.locator('td[data-label="Next fire"] time');
    await expect
      .poll(() => nextFire.getAttribute("datetime"), { timeout: UI_TIMEOUT_MS })
      .toBe(new Date(timestampMs(stored.nextFireAt ?? timestampFromMs(0))).toISOString());
    expect(await row.locator(".countdown").textContent()).toMatch(/^in \d/);
    expect(await row.locator('td[data-label="State"]').textContent()).toBe("active");
    expect(await row.locator('td[data-label="Owner"]').textContent()).toBe(stored.owner);

    // Trigger now: the fire count rises.
    const fires = row.locator('td[data-label="Fires"]');
    const before = Number(await fires.textContent());
    await row.getByRole("button", { name: "Trigger nightly-report now" }).click();
    await expect
      .poll(async () => Number(await fires.textContent()), { timeout: UI_TIMEOUT_MS })
      .toBeGreaterThan(before);
    await page.locator("#status", { hasText: "Triggered nightly-report" }).waitFor();

    // Filters and search narrow the table to it.
    const listedNames = () => page.locator("#schedules tbody tr th a").allTextContents();
    await filters.getByLabel("Name contains").fill("nightly");
    await expect.poll(listedNames, { timeout: UI_TIMEOUT_MS }).toEqual(["nightly-report"]);
    await filters.getByLabel("Name contains").fill("");
    await filters.getByLabel("Labels").fill("team=billing");
    await expect.poll(listedNames, { timeout: UI_TIMEOUT_MS }).toEqual(["invoice-reminders"]);
    await filters.getByLabel("Labels").fill("");
    await filters.getByLabel("Paused").check();
    await expect.poll(listedNames, { timeout: UI_TIMEOUT_MS }).toEqual(["legacy-export"]);
    await filters.getByLabel("Paused").uncheck();
    await filters.getByLabel("Labels").fill("");
    await row.waitFor();

    // Detail: definition, the next ten fire times, and the manual fire just published.
    await row.getByRole("link", { name: "nightly-report" }).click();
    await page.getByRole("heading", { name: "nightly-report" }).waitFor();
    await expect
      .poll(() => page.locator("#next-fires li time").count(), { timeout: UI_TIMEOUT_MS })
      .toBe(10);
    const manual = page.locator("#recent-fires tbody tr", { hasText: "manual" });
    await manual.first().waitFor({ timeout: UI_TIMEOUT_MS });
    expect(await manual.first().textContent()).toContain("published (stream seq");
    const viaApi = await chime.client.getSchedule({
      ...byName("nightly-report"),
      recentFireCount: 10,
    });
    expect(viaApi.recentFires.some((f) => f.trigger === "manual")).toBe(true);
    await page.screenshot({ path: `${SCREENSHOTS}dashboard-detail.png`, fullPage: true });

    // Back to the list, and pause it.
    await page.getByRole("link", { name: "← All schedules" }).click();
    await row.waitFor();
    await row.getByRole("button", { name: "Pause nightly-report" }).click();
    await expect
      .poll(() => row.locator('td[data-label="State"]').textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe("paused");
    expect((await chime.client.getSchedule(byName("nightly-report"))).state).toBe(
      ScheduleState.PAUSED,
    );
    await row.getByRole("button", { name: "Resume nightly-report" }).waitFor();
    await page.locator("#create summary").click();
    await page.locator("#list-heading").scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SCREENSHOTS}dashboard-table.png`, fullPage: true });

    // A bad cron: the form shows the server's own message, beside the field.
    const refused = await chime.client
      .scheduleByCron({ subject: "tasks.reports.bad", cron: "61 * * * *", timeZone: "UTC" })
      .then(
        () => undefined,
        (err: unknown) => ConnectError.from(err),
      );
    expect(refused?.code).toBe(Code.InvalidArgument);
    await page.locator("#create summary").click();
    await form.getByLabel("Name", { exact: true }).fill("");
    await form.getByLabel("Subject", { exact: true }).fill("tasks.reports.bad");
    await form.getByLabel("Cron expression").fill("61 * * * *");
    await form.getByLabel("Time zone").fill("UTC");
    await form.getByLabel("Labels").fill("");
    await form.getByRole("button", { name: "Create schedule" }).click();
    await page.locator("#create-error", { hasText: refused?.rawMessage ?? "?" }).waitFor();
    expect(await form.getByLabel("Cron expression").getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("#err-new-cron").textContent()).toContain("cron:");

    // Delete, after confirming in the dialog (Cancel has the focus first).
    await row.getByRole("button", { name: "Delete nightly-report" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete nightly-report?" });
    await dialog.waitFor();
    expect(await page.evaluate("document.activeElement?.id")).toBe("confirm-cancel");
    await dialog.getByRole("button", { name: "Delete" }).click();
    await row.waitFor({ state: "detached", timeout: UI_TIMEOUT_MS });
    const gone = await chime.client.getSchedule(byName("nightly-report")).then(
      () => undefined,
      (err: unknown) => ConnectError.from(err).code,
    );
    expect(gone).toBe(Code.NotFound);

    // A phone's width: the table becomes cards, nothing scrolls sideways.
    await page.setViewportSize(PHONE);
    expect(await page.locator("#schedules thead").isVisible()).toBe(false);
    // Evaluated in the page, so given as text: the tests are compiled without the DOM's types.
    const overflow = await page.evaluate(
      "document.documentElement.scrollWidth - document.documentElement.clientWidth",
    );
    expect(overflow).toBeLessThanOrEqual(0);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 120_000);
});

describe("the dashboard when the server asks for tokens", () => {
  const TOKENS = [
    { name: "viewer", role: "read", token: "dashboard-read-token" },
    { name: "ops", role: "write", token: "dashboard-write-token" },
  ];
  let nats: TestNats;
  let chime: TestChime;
  let browser: Browser;

  beforeAll(async () => {
    nats = await startTestNats();
    // Refused calls are logged as warnings, which this test makes on purpose.
    chime = await startTestChime(nats.url, {
      authTokens: JSON.stringify(TOKENS),
      logLevel: "error",
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await chime?.stop();
    await nats?.stop();
  });

  it("asks for a token, honours a read-only one, and writes with a write token", async () => {
    const writer = createClient(
      SchedulerService,
      createConnectTransport({
        baseUrl: chime.baseUrl,
        httpVersion: "1.1",
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", "Bearer dashboard-write-token");
            return next(req);
          },
        ],
      }),
    );
    const created = await writer.scheduleByCron({
      name: "guarded",
      subject: "tasks.guarded",
      cron: "0 3 * * *",
    });
    const page = await browser.newPage({ viewport: LAPTOP });
    await page.goto(`${chime.baseUrl}/`);

    // No token: the page asks for one, with the server's reason.
    const dialog = page.getByRole("dialog", { name: "Token" });
    await dialog.waitFor({ timeout: UI_TIMEOUT_MS });
    expect(await dialog.textContent()).toContain("authentication required");
    await dialog.getByLabel("Bearer token").fill("dashboard-read-token");
    await dialog.getByRole("button", { name: "Use token" }).click();

    // A read token: the schedules show, every write is disabled.
    const row = page.locator(`tr[data-schedule-id="${created.scheduleId}"]`);
    await row.waitFor({ timeout: UI_TIMEOUT_MS });
    await page.locator("#access", { hasText: "Read-only token" }).waitFor();
    const pause = row.getByRole("button", { name: "Pause guarded" });
    await expect.poll(() => pause.isDisabled(), { timeout: UI_TIMEOUT_MS }).toBe(true);
    expect(await row.getByRole("button", { name: "Delete guarded" }).isDisabled()).toBe(true);
    expect(await page.locator("#create-form button[type=submit]").isDisabled()).toBe(true);

    // Forget it; a write token enables the actions, and they work.
    await page.getByRole("button", { name: "Forget token" }).click();
    await dialog.waitFor({ timeout: UI_TIMEOUT_MS });
    await dialog.getByLabel("Bearer token").fill("dashboard-write-token");
    await dialog.getByRole("button", { name: "Use token" }).click();
    await expect.poll(() => pause.isDisabled(), { timeout: UI_TIMEOUT_MS }).toBe(false);
    await pause.click();
    await expect
      .poll(() => row.locator('td[data-label="State"]').textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe("paused");
    expect(await page.evaluate("sessionStorage.getItem('chime.token')")).toBe(
      "dashboard-write-token",
    );
    await page.close();
  }, 120_000);
});

/** A few schedules of each kind, so the table and the timeline have something to show. */
async function seedSchedules(chime: TestChime): Promise<void> {
  const client = chime.client;
  const text = (s: string) => new TextEncoder().encode(s);
  await client.scheduleByCron({
    name: "invoice-reminders",
    subject: "tasks.billing.reminders",
    cron: "0 * * * *",
    timeZone: "America/New_York",
    labels: { team: "billing" },
    payload: text('{"kind":"reminder"}'),
  });
  await client.scheduleByCron({
    name: "cache-warmup",
    subject: "tasks.web.cache",
    cron: "*/10 * * * *",
    timeZone: "Europe/Paris",
    labels: { team: "web" },
  });
  await client.scheduleByInterval({
    name: "heartbeat",
    subject: "tasks.health.ping",
    every: { seconds: 30n, nanos: 0 },
    labels: { team: "ops" },
  });
  await client.scheduleByTime({
    name: "launch-email",
    subject: "tasks.mail.launch",
    when: { case: "delay", value: { seconds: 40n * 60n, nanos: 0 } },
    labels: { team: "marketing" },
  });
  const legacy = await client.scheduleByCron({
    name: "legacy-export",
    subject: "tasks.exports.legacy",
    cron: "15 4 * * 1",
    labels: { team: "data" },
  });
  await client.pauseSchedule({ target: { case: "scheduleId", value: legacy.scheduleId } });
}
