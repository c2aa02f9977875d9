import { Code } from "@connectrpc/connect";
import { JetStreamError } from "@nats-io/jetstream";
import { NoRespondersError } from "@nats-io/nats-core";
import { describe, expect, it } from "vitest";
import { toConnectError } from "./api-errors.js";

describe("toConnectError", () => {
  it("answers a write no stream took UNAVAILABLE, for the client to retry", () => {
    const noStream = new JetStreamError("jetstream is not enabled", {
      cause: new NoRespondersError("$KV.CHIME_SCHEDULES.s.0.x"),
    });
    const answered = toConnectError(noStream);
    expect(answered.code).toBe(Code.Unavailable);
    expect(answered.rawMessage).toBe("NATS is unavailable: jetstream is not enabled");
  });

  it("leaves an error it does not know INTERNAL", () => {
    expect(toConnectError(new JetStreamError("invalid ack response")).code).toBe(Code.Internal);
  });
});
