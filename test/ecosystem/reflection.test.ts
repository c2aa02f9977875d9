import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { bufCurl, REFLECT_PROTOCOLS } from "./buf-curl.js";

let nats: TestNats;
let chime: TestChime;

beforeAll(async () => {
  nats = await startTestNats();
  chime = await startTestChime(nats.url);
});
afterAll(async () => {
  await chime?.stop();
  await nats?.stop();
});

describe.each(REFLECT_PROTOCOLS)("server reflection through buf curl (%s)", (protocol) => {
  it("lists the services", async () => {
    const out = await bufCurl(protocol, ["--list-services", chime.baseUrl]);
    const services = out.trim().split("\n");
    // The reflection services describe the others, not themselves (as in grpc-js).
    expect(services.sort()).toEqual(["chime.v1.SchedulerService", "grpc.health.v1.Health"]);
  });

  it("lists every SchedulerService method", async () => {
    const out = await bufCurl(protocol, ["--list-methods", chime.baseUrl]);
    const methods = out.trim().split("\n");
    for (const name of [
      "ScheduleByTime",
      "ScheduleByCron",
      "ScheduleByInterval",
      "Unschedule",
      "GetSchedule",
      "ListSchedules",
      "PauseSchedule",
      "ResumeSchedule",
      "TriggerSchedule",
    ]) {
      expect(methods).toContain(`chime.v1.SchedulerService/${name}`);
    }
  });

  it("makes calls whose messages it only knows from reflection", async () => {
    const name = `reflect-${protocol}`;
    const created = JSON.parse(
      await bufCurl(protocol, [
        "-d",
        JSON.stringify({
          subject: "tasks.reflect",
          cron: "0 2 * * *",
          timeZone: "America/New_York",
          name,
        }),
        `${chime.baseUrl}/chime.v1.SchedulerService/ScheduleByCron`,
      ]),
    ) as { scheduleId: string; created: boolean; schedule: { cron: { timeZone: string } } };
    expect(created.created).toBe(true);
    expect(created.schedule.cron.timeZone).toBe("America/New_York");

    const got = JSON.parse(
      await bufCurl(protocol, [
        "-d",
        JSON.stringify({ name }),
        `${chime.baseUrl}/chime.v1.SchedulerService/GetSchedule`,
      ]),
    ) as { scheduleId: string; nextFireAt: string };
    expect(got.scheduleId).toBe(created.scheduleId);
    // A google.protobuf.Timestamp, formatted by buf from the reflected well-known type.
    expect(got.nextFireAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("reports the standard health status", async () => {
    const out = await bufCurl(protocol, [
      "-d",
      "{}",
      `${chime.baseUrl}/grpc.health.v1.Health/Check`,
    ]);
    expect(JSON.parse(out)).toEqual({ status: "SERVING" });
  });
});
