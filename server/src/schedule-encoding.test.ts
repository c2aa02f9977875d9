import {
  create,
  type DescField,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  ScalarType,
  toBinary,
} from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  BatchScheduleResponseSchema,
  CreatedScheduleSchema,
  ListSchedulesResponseSchema,
  ScheduleSchema,
} from "@chime/sdk";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  encodeBatchScheduleResponse,
  encodeCreatedSchedule,
  encodeListSchedulesResponse,
  encodeSchedule,
} from "./schedule-encoding.js";

/**
 * Messages of `desc` with any value in every field, read from the schema itself: a field the
 * schema gains is generated at once, and the encoder must then write it as toBinary does.
 */
function messageOf<Desc extends DescMessage>(
  desc: Desc,
  depth = 0,
): fc.Arbitrary<MessageShape<Desc>> {
  const singles: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of desc.fields) {
    if (field.oneof === undefined) singles[field.localName] = fieldValue(field, depth);
  }
  const oneofs: Record<string, fc.Arbitrary<unknown>> = {};
  for (const oneof of desc.oneofs) {
    oneofs[oneof.localName] = fc.oneof(
      fc.constant({ case: undefined }),
      ...oneof.fields.map((field) =>
        fieldValue(field, depth).map((value) => ({ case: field.localName, value })),
      ),
    );
  }
  return fc
    .record({ ...singles, ...oneofs }, { requiredKeys: [] })
    .map((init) => create(desc, init as MessageInitShape<Desc>));
}

function fieldValue(field: DescField, depth: number): fc.Arbitrary<unknown> {
  switch (field.fieldKind) {
    case "scalar":
      return scalarOf(field.scalar);
    case "enum":
      return fc.oneof(
        fc.constantFrom(...field.enum.values.map((v) => v.number)),
        fc.integer({ min: -5, max: 200 }),
      );
    case "message":
      return depth > 5 ? fc.constant(undefined) : messageOf(field.message, depth + 1);
    case "list":
      if (field.listKind !== "message") throw new Error(`no generator for ${field}`);
      return fc.array(messageOf(field.message, depth + 1), { maxLength: 3 });
    case "map":
      if (field.mapKind !== "scalar" || field.scalar !== ScalarType.STRING) {
        throw new Error(`no generator for ${field}`);
      }
      return fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 });
  }
}

function scalarOf(scalar: ScalarType): fc.Arbitrary<unknown> {
  switch (scalar) {
    case ScalarType.STRING:
      return fc.string({ unit: "binary", maxLength: 40 });
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 300 });
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.UINT32:
      return fc.nat({ max: 2 ** 32 - 1 });
    case ScalarType.INT32:
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case ScalarType.UINT64:
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case ScalarType.INT64:
      // Around 2^32 as well: timestamps' seconds below it take a shorter path.
      return fc.oneof(
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.bigInt({ min: -3n, max: 2n ** 32n + 3n }),
        fc.constantFrom(2n ** 32n - 1n, 2n ** 32n),
      );
    default:
      throw new Error(`no generator for scalar type ${scalar}`);
  }
}

/** Holds `encode` to toBinary over generated messages of `schema`. */
function writesAsToBinary<Desc extends DescMessage>(
  schema: Desc,
  encode: (message: MessageShape<Desc>) => Uint8Array,
  numRuns: number,
): void {
  fc.assert(
    fc.property(messageOf(schema), (message) => {
      expect(Buffer.from(encode(message))).toEqual(Buffer.from(toBinary(schema, message)));
    }),
    { numRuns },
  );
}

describe("encodeSchedule", () => {
  it("writes every schedule byte for byte as toBinary does", () => {
    writesAsToBinary(ScheduleSchema, encodeSchedule, 500);
  });

  it("writes the replies of creates and lists byte for byte as toBinary does", () => {
    writesAsToBinary(CreatedScheduleSchema, encodeCreatedSchedule, 200);
    writesAsToBinary(ListSchedulesResponseSchema, encodeListSchedulesResponse, 100);
    writesAsToBinary(BatchScheduleResponseSchema, encodeBatchScheduleResponse, 100);
  });

  it("keeps the fields it does not know, of the schedule and of its messages", () => {
    const known = toBinary(
      ScheduleSchema,
      create(ScheduleSchema, {
        scheduleId: "01JCHIME0000000000000000AB",
        trigger: { case: "time", value: { at: { seconds: 1_800_000_000n } } },
      }),
    );
    // Field 99 of the schedule, and field 9 of its time trigger (field 10, message).
    const later = new BinaryWriter().raw(known).tag(99, WireType.Varint).uint32(7);
    later.tag(10, WireType.LengthDelimited).fork().tag(9, WireType.Varint).uint32(3).join();
    const decoded = fromBinary(ScheduleSchema, later.finish());
    expect(decoded.$unknown).toHaveLength(1);
    expect(Buffer.from(encodeSchedule(decoded))).toEqual(
      Buffer.from(toBinary(ScheduleSchema, decoded)),
    );
  });

  it("leaves nothing of a schedule it could not write in the next", () => {
    const unwritable = create(ScheduleSchema, { subject: "tasks.a", maxFires: -1 });
    expect(() => encodeSchedule(unwritable)).toThrow();
    const next = create(ScheduleSchema, { subject: "tasks.b" });
    expect(Buffer.from(encodeSchedule(next))).toEqual(Buffer.from(toBinary(ScheduleSchema, next)));
  });

  it("leaves nothing of one schedule in the next", () => {
    const big = create(ScheduleSchema, { payload: new Uint8Array(5_000).fill(1) });
    const small = create(ScheduleSchema, { subject: "tasks.small" });
    encodeSchedule(big);
    expect(Buffer.from(encodeSchedule(small))).toEqual(
      Buffer.from(toBinary(ScheduleSchema, small)),
    );
  });
});
