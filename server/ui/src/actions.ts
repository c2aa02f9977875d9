import type { Schedule } from "../../../sdk/src/gen/chime/v1/schedule_pb.js";

/** What the viewer can do to a schedule, from the table or its detail. */
export interface ScheduleActions {
  pause(schedule: Schedule): Promise<void>;
  resume(schedule: Schedule): Promise<void>;
  trigger(schedule: Schedule): Promise<void>;
  /** Asks for confirmation first. */
  remove(schedule: Schedule): Promise<void>;
}

/** How a schedule is named to the viewer: its name, else its id. */
export function labelOf(schedule: Schedule): string {
  return schedule.name || schedule.scheduleId;
}
