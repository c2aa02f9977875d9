// Changing an interval at run time: an inventory sync whose period an operator tunes. The
// same name with conflict policy "replace" swaps the timetable in place (same id, the new
// interval counts from now), with no unschedule/schedule gap in between.
import type { DurationInput, ScheduleHandle, SchedulerClient } from "@chime/sdk";

export async function setInventorySyncInterval(
  client: SchedulerClient,
  every: DurationInput,
): Promise<ScheduleHandle> {
  return client.scheduleEvery({
    name: "inventory-sync",
    every,
    subject: "tasks.inventory.sync",
    conflictPolicy: "replace",
  });
}
