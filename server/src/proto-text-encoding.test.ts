import { create, toBinary } from "@bufbuild/protobuf";
import { configureTextEncoding, getTextEncoding } from "@bufbuild/protobuf/wire";
import { ScheduleSchema } from "@chime/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { encodeProtobufStringsWithBuffer } from "./proto-text-encoding.js";

describe("encodeProtobufStringsWithBuffer", () => {
  const standard = getTextEncoding();
  afterEach(() => configureTextEncoding(standard));

  it("encodes every string exactly as TextEncoder does, lone surrogates included", () => {
    const schedule = create(ScheduleSchema, {
      scheduleId: "01M87W1RGK244BEW9G7V9W2X36",
      name: "nächtlich \u{1f514} \ud800 end",
      subject: "tasks.report",
      labels: { team: "données", odd: "\udfff" },
    });
    const before = toBinary(ScheduleSchema, schedule);
    encodeProtobufStringsWithBuffer();
    expect(getTextEncoding().encodeUtf8).not.toBe(standard.encodeUtf8);
    expect(toBinary(ScheduleSchema, schedule)).toEqual(before);
  });
});
