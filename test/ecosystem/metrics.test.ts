import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { createGrpcJsClient } from "../harness/grpc-js-client.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { ofSchedule, recordTasks, type TaskRecorder } from "../harness/task-recorder.js";

let nats: TestNats;
let chime: TestChime;
let recorder: TaskRecorder;

beforeAll(async () => {
  nats = await startTestNats();
  chime = await startTestChime(nats.url);
  recorder = await recordTasks(nats.url);
});
afterAll(async () => {
  await recorder?.stop();
  await chime?.stop();
  await nats?.stop();
});

async function scrape(): Promise<string> {
  const res = await fetch(`${chime.baseUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** The value of the sample whose name and labels start with `series`, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("/metrics", () => {
  it("reports fires, lateness, schedules, partitions, RPCs, NATS and the event loop", async () => {
    const at = Date.now() + 200;
    const created = await chime.client.scheduleByTime({
      subject: "tasks.metrics.once",
      name: "metrics-once",
      when: { case: "at", value: timestampFromMs(at) },
    });
    await chime.client.scheduleByCron({
      subject: "tasks.metrics.nightly",
      name: "metrics-nightly",
      cron: "0 2 * * *",
      timeZone: "UTC",
    });
    const refused = await chime.client
      .getSchedule({ target: { case: "name", value: "no-such-schedule" } })
      .then(
        () => expect.fail("GetSchedule of an unknown name succeeded"),
        (err: unknown) => ConnectError.from(err),
      );
    const grpc = createGrpcJsClient(chime.grpcAddress);
    await grpc.unary("ListSchedules", { pageSize: 10 }).finally(() => grpc.close());
    await recorder.waitFor(ofSchedule(created.scheduleId));

    // The fire hook runs once the PubAck is in; give it a moment after the delivery.
    await expect
      .poll(async () =>
        sample(await scrape(), 'chime_fires_total{trigger="schedule",result="stored"}'),
      )
      .toBe(1);
    const text = await scrape();
    expect(sample(text, 'chime_fire_lateness_seconds_count{trigger="schedule"}')).toBe(1);
    expect(text).toContain('chime_fire_lateness_seconds_bucket{le="0.5",trigger="schedule"}');
    expect(sample(text, "chime_publish_errors_total")).toBe(0);
    expect(sample(text, "chime_publish_retries_total")).toBe(0);
    expect(sample(text, 'chime_schedules{state="completed"}')).toBe(1);
    expect(sample(text, 'chime_schedules{state="active"}')).toBe(1);
    expect(sample(text, "chime_partitions_owned")).toBeGreaterThan(0);
    expect(sample(text, "chime_nats_connected")).toBe(1);
    // Both API paths: Connect over HTTP/1.1 and gRPC through grpc-js.
    expect(
      sample(
        text,
        'chime_rpc_requests_total{method="chime.v1.SchedulerService/ScheduleByTime",code="OK"}',
      ),
    ).toBe(1);
    expect(
      sample(
        text,
        `chime_rpc_requests_total{method="chime.v1.SchedulerService/GetSchedule",code="${Code[refused.code]}"}`,
      ),
    ).toBe(1);
    expect(
      sample(
        text,
        'chime_rpc_requests_total{method="chime.v1.SchedulerService/ListSchedules",code="OK"}',
      ),
    ).toBe(1);
    expect(text).toContain(
      'chime_rpc_duration_seconds_count{method="chime.v1.SchedulerService/ScheduleByCron",code="OK"} 1',
    );
    expect(text).toContain("chime_nodejs_eventloop_lag_seconds ");
    expect(text).toContain("chime_process_cpu_seconds_total ");
  });

  it("reports NATS away", async () => {
    await nats.down();
    try {
      await expect
        .poll(async () => sample(await scrape(), "chime_nats_connected"), { timeout: 10_000 })
        .toBe(0);
    } finally {
      await nats.up();
    }
    await expect
      .poll(async () => sample(await scrape(), "chime_nats_connected"), { timeout: 10_000 })
      .toBe(1);
  });
});
