import { consumeTasks, InvalidArgumentError } from "@chime/sdk";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNats, type TestNats } from "../harness/nats-server.js";

// A dead letter is published with the consumer's own NATS credentials: the SDK holds its
// subject to the same rules Chime holds a schedule's subject to, before it touches NATS.
const BAD: readonly [string, RegExp][] = [
  ["$JS.API.STREAM.DELETE.CHIME_TASKS", /must not start with \$/],
  ["$KV.x.y", /must not start with \$/],
  ["$SYS.REQ.SERVER.PING", /must not start with \$/],
  ["_INBOX.x", /_INBOX/],
  ["tasks.*", /wildcards/],
  ["tasks.>", /wildcards/],
  ["tasks..x", /empty tokens/],
  ["tasks. x", /white space/],
  [`tasks.${"a".repeat(9_994)}`, /at most 256 bytes/],
  ["chime.internal.replica.x", /reserved for Chime's internal use/],
  // The consumer reads tasks.mail.>: its dead letters would come back to it.
  ["tasks.mail.dead", /must not match the consumer's own subjects \(tasks\.mail\.>\)/],
];

describe("consumeTasks deadLetterSubject", () => {
  let nats: TestNats;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it.each(BAD)(
    "%s is refused with InvalidArgumentError naming the option",
    async (subject, rule) => {
      const started = consumeTasks({
        nats: nc,
        durable: "dlq-check",
        subjects: "tasks.mail.>",
        deadLetterSubject: subject,
        handler: () => undefined,
      });
      const err = await started.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InvalidArgumentError);
      const invalid = err as InvalidArgumentError;
      expect(invalid.field).toBe("deadLetterSubject");
      expect(invalid.message).toMatch(/^deadLetterSubject: /);
      expect(invalid.rule).toMatch(rule);
    },
  );

  it("nothing was created on the NATS server by the refused calls", async () => {
    const jsm = await jetstreamManager(nc);
    const streams = await jsm.streams.list().next();
    expect(streams.map((s) => s.config.name)).toEqual([]);
  });
});
