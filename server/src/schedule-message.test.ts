import { create } from "@bufbuild/protobuf";
import { ScheduleSchema } from "@chime/sdk";
import { describe, expect, it } from "vitest";
import { newSchedule } from "./schedule-message.js";

describe("newSchedule", () => {
  it("is the zero schedule create() makes, field for field and in the same order", () => {
    const made = newSchedule();
    const reference = create(ScheduleSchema);
    expect(made).toStrictEqual(reference);
    expect(Object.keys(made)).toEqual(Object.keys(reference));
  });

  it("shares no map or list with the next one", () => {
    const first = newSchedule();
    const second = newSchedule();
    for (const key of Object.keys(first) as (keyof typeof first)[]) {
      // Empty bytes may be shared: nothing can change them.
      if (typeof first[key] === "object" && key !== "payload") {
        expect(first[key]).not.toBe(second[key]);
      }
    }
  });
});
