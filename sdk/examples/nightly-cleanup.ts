// A nightly cleanup at 02:00 New York time, all year: Chime keeps it at 02:00 local
// across daylight-saving changes (07:00 UTC in winter, 06:00 UTC in summer).
import type { ScheduleHandle, SchedulerClient } from "@chime/sdk";

export async function scheduleNightlyCleanup(client: SchedulerClient): Promise<ScheduleHandle> {
  return client.scheduleCron({
    name: "nightly-cleanup",
    cron: "0 2 * * *",
    timeZone: "America/New_York",
    subject: "tasks.maintenance.cleanup",
    payload: { deleteSessionsOlderThanDays: 30 },
    // A deploy that changes the definition takes effect; an unchanged one rewrites nothing
    // that matters (use defineSchedules to skip the write altogether).
    conflictPolicy: "replace",
    // If Chime was down at 02:00, run once when it is back, up to six hours late.
    misfirePolicy: "fire_once",
    catchupWindow: "6h",
  });
}
