import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { MisfirePolicy, ScheduleSchema, ScheduleState } from "@chime/sdk";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NamespaceCounts, namespaceOfEncoded } from "./namespace-counts.js";

type ScheduleInit = MessageInitShape<typeof ScheduleSchema>;

function encoded(fields: ScheduleInit): Uint8Array {
  return toBinary(ScheduleSchema, create(ScheduleSchema, fields));
}

/** A schedule with every kind of field set, the payload holding field 60's tag bytes. */
const FULL: ScheduleInit = {
  scheduleId: "01M879GWJA1NGQV0W7QX2S6NZ1",
  name: "nightly",
  subject: "tasks.acme.report",
  payload: new Uint8Array([0xe2, 0x03, 0x05, 0x65, 0x76, 0x69, 0x6c, 0x21]),
  headers: { "x-a": "1", "x-b": "2" },
  labels: { app: "billing" },
  contentType: "application/json",
  trigger: { case: "cron", value: { cron: "0 2 * * *", timeZone: "America/New_York" } },
  state: ScheduleState.PAUSED,
  fireCount: 123_456_789_012n,
  maxFires: 10,
  misfirePolicy: MisfirePolicy.FIRE_ALL,
  runImmediately: true,
  partition: 15,
  manualFireCount: 3n,
  createdAt: { seconds: 1_795_541_201n, nanos: 482_000_000 },
};

describe("namespaceOfEncoded", () => {
  it("reads the namespace of a stored schedule, and 'default' where it has none", () => {
    expect(namespaceOfEncoded(encoded({ ...FULL, namespace: "acme" }))).toBe("acme");
    expect(namespaceOfEncoded(encoded({ ...FULL, namespace: "" }))).toBe("default");
    expect(namespaceOfEncoded(encoded({}))).toBe("default");
    expect(namespaceOfEncoded(new Uint8Array(0))).toBe("default");
  });

  it("agrees with a full decode on any schedule", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 64 }),
        fc.string({ maxLength: 40 }),
        fc.uint8Array({ maxLength: 600 }),
        fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 20 }), {
          maxKeys: 5,
        }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        (namespace, name, payload, headers, fireCount) => {
          const bytes = encoded({ ...FULL, namespace, name, payload, headers, fireCount });
          expect(namespaceOfEncoded(bytes)).toBe(namespace === "" ? "default" : namespace);
        },
      ),
    );
  });

  it("does not throw on bytes that are not a schedule", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(typeof namespaceOfEncoded(bytes)).toBe("string");
      }),
    );
  });
});

describe("NamespaceCounts", () => {
  it("counts schedules as they come and go", () => {
    const counts = new NamespaceCounts();
    const acme = encoded({ ...FULL, namespace: "acme" });
    const legacy = encoded({ ...FULL, namespace: "" });
    counts.added(acme);
    counts.added(acme);
    counts.added(legacy);
    counts.added(encoded({ namespace: "default" }));
    expect([counts.of("acme"), counts.of("default"), counts.of("globex")]).toEqual([2, 2, 0]);
    counts.removed(acme);
    counts.removed(legacy);
    expect([counts.of("acme"), counts.of("default")]).toEqual([1, 1]);
    counts.removed(acme);
    expect(counts.of("acme")).toBe(0);
  });
});
