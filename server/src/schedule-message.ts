import type { Schedule } from "@chime/sdk";

// Shared: bytes of length 0 cannot be changed, only replaced.
const EMPTY = new Uint8Array(0);

/**
 * A zero chime.v1.Schedule, equal to `create(ScheduleSchema)`: every create request and every
 * schedule the engine admits makes one, and create() takes about 2.8 us to set its twenty
 * fields one by one from the schema, where a literal takes 0.06. A test holds the two equal,
 * key order included.
 */
export function newSchedule(): Schedule {
  return {
    $typeName: "chime.v1.Schedule",
    scheduleId: "",
    name: "",
    subject: "",
    payload: EMPTY,
    headers: {},
    labels: {},
    contentType: "",
    trigger: { case: undefined },
    state: 0,
    fireCount: 0n,
    nextFireTimes: [],
    maxFires: 0,
    misfirePolicy: 0,
    runImmediately: false,
    partition: 0,
    owner: "",
    manualFireCount: 0n,
    pendingManualFires: [],
    namespace: "",
    recentFires: [],
  };
}
