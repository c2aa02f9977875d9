// A health check every 60 s: Chime publishes `tasks.health.check` once a minute, and
// whichever worker consumes it pings the database and the cache.
import type { ScheduleHandle, SchedulerClient } from "@chime/sdk";

export async function scheduleHealthCheck(client: SchedulerClient): Promise<ScheduleHandle> {
  return client.scheduleEvery({
    // Named, so that every replica of the app can run this at start-up: the first call
    // creates it, later ones get the existing schedule back (created: false).
    name: "health-check",
    every: "60s",
    subject: "tasks.health.check",
    payload: { checks: ["database", "cache"] },
    // A health check missed while Chime was down is worthless later: do not make it up.
    misfirePolicy: "skip",
  });
}
