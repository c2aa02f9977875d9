import { Match, headers as natsHeaders } from "@nats-io/nats-core";
import { describe, expect, it } from "vitest";
import { HeaderList } from "./header-list.js";

const decoder = new TextDecoder();

describe("HeaderList", () => {
  it("encodes the same header block as the NATS client's own headers", () => {
    const fire = new HeaderList(
      [
        ["Nats-Msg-Id", "01ABC:1700000000000"],
        ["Chime-Trigger", "schedule"],
      ],
      [["X-Tenant", "acme corp"]],
    );
    const reference = natsHeaders();
    reference.set("Nats-Msg-Id", "01ABC:1700000000000");
    reference.set("Chime-Trigger", "schedule");
    reference.set("X-Tenant", "acme corp");
    expect(decoder.decode(fire.encode())).toBe(reference.toString());
  });

  it("encodes once, and anew after any change", () => {
    const put = new HeaderList([["Nats-Expected-Last-Subject-Sequence", "0"]]);
    const block = put.encode();
    expect(put.encode()).toBe(block);
    const lines = () => decoder.decode(put.encode()).split("\r\n");
    put.set("Nats-Expected-Last-Subject-Sequence", "7");
    expect(lines()).toContain("Nats-Expected-Last-Subject-Sequence: 7");
    put.append("Nats-Msg-Id", "a");
    expect(lines()).toContain("Nats-Msg-Id: a");
    put.delete("Nats-Msg-Id");
    expect(lines()).not.toContain("Nats-Msg-Id: a");
  });

  it("replaces a header in place and leaves the shared ones of other fires alone", () => {
    const shared = [["Content-Type", "application/json"]] as const;
    const first = new HeaderList(
      [
        ["Chime-Fired-At", "a"],
        ["Chime-Trigger", "schedule"],
      ],
      shared,
    );
    first.set("Chime-Fired-At", "b");
    first.set("content-type", "text/plain", Match.IgnoreCase);
    expect(first.get("Chime-Fired-At")).toBe("b");
    expect(first.keys()).toEqual(["Chime-Fired-At", "Chime-Trigger", "content-type"]);
    expect([...first]).toContainEqual(["content-type", ["text/plain"]]);
    const second = new HeaderList([], shared);
    expect(second.get("Content-Type")).toBe("application/json");
  });

  it("reads names as the client does: exact, canonical or ignoring case", () => {
    const fire = new HeaderList([["X-Request-Id", "1"]]);
    fire.append("X-Request-Id", "2");
    expect(fire.values("X-Request-Id")).toEqual(["1", "2"]);
    expect(fire.last("X-Request-Id")).toBe("2");
    expect(fire.has("x-request-id")).toBe(false);
    expect(fire.has("x-request-id", Match.IgnoreCase)).toBe(true);
    expect(fire.get("x-request-id", Match.CanonicalMIME)).toBe("1");
    fire.delete("X-Request-Id");
    expect(fire.keys()).toEqual([]);
    expect(() => fire.set("X-Evil", "a\r\nInjected: yes")).toThrow(/\\r or \\n/);
  });
});
