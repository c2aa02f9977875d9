import { durationMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "./errors.js";
import { ConflictPolicy, MisfirePolicy, ScheduleState } from "./gen/chime/v1/schedule_pb.js";
import {
  cronRequest,
  encodePayload,
  intervalRequest,
  isScheduleId,
  listRequest,
  targetOf,
  timeRequest,
} from "./requests.js";
import type { ScheduleAtOptions } from "./types.js";

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("payloads", () => {
  it("sends objects as JSON with a JSON content type, unless one is given", () => {
    const json = encodePayload({ to: "a@example.com" }, undefined);
    expect(decode(json.payload)).toBe('{"to":"a@example.com"}');
    expect(json.contentType).toBe("application/json");
    expect(encodePayload([1, 2], "application/vnd.list+json").contentType).toBe(
      "application/vnd.list+json",
    );
  });

  it("sends strings as UTF-8 and bytes unchanged, without a content type", () => {
    expect(encodePayload("héllo", undefined)).toEqual({
      payload: new TextEncoder().encode("héllo"),
      contentType: "",
    });
    const bytes = new Uint8Array([0, 255, 7]);
    expect(encodePayload(bytes, undefined).payload).toBe(bytes);
    expect(encodePayload(undefined, undefined).payload.length).toBe(0);
  });

  it("refuses what JSON cannot carry", () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => encodePayload(circular, undefined)).toThrow(/payload: cannot be sent as JSON/);
    expect(() => encodePayload({ n: 1n }, undefined)).toThrow(InvalidArgumentError);
  });
});

describe("one-shot requests", () => {
  it("take at as a Date, RFC 3339 text or epoch ms", () => {
    const at = Date.UTC(2030, 0, 1);
    for (const value of [new Date(at), "2030-01-01T00:00:00Z", at]) {
      const req = timeRequest({ subject: "tasks.a", at: value });
      expect(req.when.case).toBe("at");
      expect(req.when.case === "at" && timestampMs(req.when.value)).toBe(at);
    }
  });

  it("take delay as text or ms, and localTime with timeZone", () => {
    const delay = timeRequest({ subject: "tasks.a", delay: "1m30s" });
    expect(delay.when.case === "delay" && durationMs(delay.when.value)).toBe(90_000);
    const local = timeRequest({
      subject: "tasks.a",
      localTime: "2030-03-31T02:30:00",
      timeZone: "Europe/Berlin",
    });
    expect(local.when).toEqual({ case: "localTime", value: "2030-03-31T02:30:00" });
    expect(local.timeZone).toBe("Europe/Berlin");
  });

  it("name the field of a bad value", () => {
    expect(() => timeRequest({ subject: "tasks.a", delay: "soon" })).toThrow(
      /^delay: must be a duration/,
    );
    expect(() => timeRequest({ subject: "tasks.a", at: "next tuesday" })).toThrow(
      /^at: must be an instant/,
    );
    expect(() => timeRequest({ subject: "tasks.a" } as ScheduleAtOptions)).toThrow(
      /one of at, delay or localTime is required/,
    );
    expect(() =>
      timeRequest({ subject: "tasks.a", at: 1, delay: 1 } as unknown as ScheduleAtOptions),
    ).toThrow(/give only one of at, delay or localTime/);
    expect(() =>
      timeRequest({ subject: "tasks.a", at: 1, timeZone: "UTC" } as unknown as ScheduleAtOptions),
    ).toThrow(/^timeZone: applies only to localTime/);
    expect(() => timeRequest({ subject: "", delay: 1 })).toThrow(/^subject: is required/);
    expect(() =>
      timeRequest({ subject: "tasks.a", delay: 1, conflictPolicy: "merge" as "keep" }),
    ).toThrow(/^conflictPolicy: must be one of keep, replace, fail/);
  });

  it("map the conflict policy and carry headers, labels and name", () => {
    const req = timeRequest({
      subject: "tasks.a",
      delay: 0,
      name: "n",
      headers: { "X-A": "1" },
      labels: { team: "x" },
      conflictPolicy: "replace",
    });
    expect(req.conflictPolicy).toBe(ConflictPolicy.REPLACE);
    expect(req.name).toBe("n");
    expect(req.headers).toEqual({ "X-A": "1" });
    expect(req.labels).toEqual({ team: "x" });
  });
});

describe("recurring requests", () => {
  it("fill every field of a cron", () => {
    const req = cronRequest({
      subject: "tasks.c",
      cron: "0 2 * * *",
      timeZone: "America/New_York",
      startAt: "2030-01-01T00:00:00Z",
      endAt: Date.UTC(2031, 0, 1),
      maxFires: 10,
      jitter: "30s",
      misfirePolicy: "fire_all",
      catchupWindow: "2h",
      runImmediately: true,
    });
    expect(req.cron).toBe("0 2 * * *");
    expect(req.timeZone).toBe("America/New_York");
    expect(timestampMs(req.startAt ?? ({ seconds: 0n, nanos: 0 } as never))).toBe(
      Date.UTC(2030, 0, 1),
    );
    expect(req.maxFires).toBe(10);
    expect(durationMs(req.jitter as never)).toBe(30_000);
    expect(req.misfirePolicy).toBe(MisfirePolicy.FIRE_ALL);
    expect(durationMs(req.catchupWindow as never)).toBe(7_200_000);
    expect(req.runImmediately).toBe(true);
  });

  it("take every as text or ms and refuse bad bounds before any request", () => {
    expect(durationMs(intervalRequest({ subject: "tasks.i", every: "5m" }).every as never)).toBe(
      300_000,
    );
    expect(durationMs(intervalRequest({ subject: "tasks.i", every: 1500 }).every as never)).toBe(
      1500,
    );
    expect(() => intervalRequest({ subject: "tasks.i", every: "often" })).toThrow(/^every: /);
    expect(() => intervalRequest({ subject: "tasks.i", every: "1m", maxFires: -1 })).toThrow(
      /^maxFires: /,
    );
    expect(() => intervalRequest({ subject: "tasks.i", every: "1m", jitter: "lots" })).toThrow(
      /^jitter: /,
    );
    expect(() =>
      cronRequest({ subject: "tasks.c", cron: "@daily", misfirePolicy: "later" as "skip" }),
    ).toThrow(/^misfirePolicy: must be one of fire_once, skip, fire_all/);
    expect(() =>
      cronRequest({ subject: "tasks.c", cron: "@daily", startAt: "2030-01-01" }),
    ).toThrow(/^startAt: .*no offset/);
  });
});

describe("targets", () => {
  it("read 26 characters of Crockford base32 as an id, anything else as a name", () => {
    const id = "01JH0000000000000000000000";
    expect(isScheduleId(id)).toBe(true);
    expect(targetOf(id)).toEqual({ case: "scheduleId", value: id });
    expect(targetOf("nightly-report")).toEqual({ case: "name", value: "nightly-report" });
    // I, L, O and U are not Crockford digits, and ids are upper case.
    expect(targetOf("01JH000000000000000000000I").case).toBe("name");
    expect(targetOf(id.toLowerCase()).case).toBe("name");
    expect(targetOf({ name: id })).toEqual({ case: "name", value: id });
    expect(targetOf({ id: "x" })).toEqual({ case: "scheduleId", value: "x" });
    expect(() => targetOf("")).toThrow(InvalidArgumentError);
  });
});

describe("list filters", () => {
  it("map states and refuse unknown ones", () => {
    const req = listRequest({
      states: ["active", "completed"],
      labels: { a: "b" },
      pageSize: 2,
      nameContains: "x",
    });
    expect(req.states).toEqual([ScheduleState.ACTIVE, ScheduleState.COMPLETED]);
    expect(req.labels).toEqual({ a: "b" });
    expect(req.pageSize).toBe(2);
    expect(() => listRequest({ states: ["sleeping" as "active"] })).toThrow(
      /^states: has no state "sleeping"/,
    );
  });
});
