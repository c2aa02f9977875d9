import { describe, expect, it } from "vitest";
import { SUBJECT_RULES, subjectMatches, subjectPatternProblem, subjectProblem } from "./subject.js";

const space = ["tasks.>"] as const;
const reserved = ["chime.internal.>", "tasks.chime.*"] as const;
const problem = (subject: string): string | null => subjectProblem(subject, space, reserved);

describe("subjectProblem", () => {
  it("accepts subjects inside the subject space", () => {
    expect(problem("tasks.email")).toBeNull();
    expect(problem("tasks.billing.invoice.send")).toBeNull();
    expect(problem("tasks.ünïcödé")).toBeNull();
    expect(subjectProblem("jobs.a.run", ["tasks.>", "jobs.*.run"], [])).toBeNull();
  });

  it("refuses system subjects that Chime's own credentials could act on", () => {
    expect(problem("$JS.API.STREAM.DELETE.X")).toBe(SUBJECT_RULES.system);
    expect(problem("$KV.x.y")).toBe(SUBJECT_RULES.system);
    expect(problem("$SYS.REQ.SERVER.PING")).toBe(SUBJECT_RULES.system);
    expect(problem("$O.bucket.x")).toBe(SUBJECT_RULES.system);
    // Even if an operator's subject space were to include them.
    expect(subjectProblem("$JS.API.INFO", [">"], [])).toBe(SUBJECT_RULES.system);
  });

  it("refuses inboxes", () => {
    expect(problem("_INBOX.x")).toBe(SUBJECT_RULES.inbox);
    expect(problem("_INBOX")).toBe(SUBJECT_RULES.inbox);
    expect(subjectProblem("_INBOX.abc.def", [">"], [])).toBe(SUBJECT_RULES.inbox);
  });

  it("refuses wildcards anywhere", () => {
    expect(problem("tasks.*")).toBe(SUBJECT_RULES.wildcard);
    expect(problem("tasks.>")).toBe(SUBJECT_RULES.wildcard);
    expect(problem("tasks.a*b")).toBe(SUBJECT_RULES.wildcard);
    expect(problem("tasks.a>")).toBe(SUBJECT_RULES.wildcard);
    expect(problem(">")).toBe(SUBJECT_RULES.wildcard);
  });

  it("refuses empty tokens", () => {
    expect(problem("tasks..x")).toBe(SUBJECT_RULES.emptyToken);
    expect(problem(".tasks.x")).toBe(SUBJECT_RULES.emptyToken);
    expect(problem("tasks.x.")).toBe(SUBJECT_RULES.emptyToken);
    expect(problem(".")).toBe(SUBJECT_RULES.emptyToken);
  });

  it("refuses white space and control characters", () => {
    for (const subject of [
      "tasks. x",
      "tasks.x ",
      " tasks.x",
      "tasks.\tx",
      "tasks.x\r\n",
      "tasks.\u0000",
      "tasks.\u007f",
      "tasks.\u00a0x",
      "tasks.\u2028",
    ]) {
      expect(problem(subject)).toBe(SUBJECT_RULES.whiteSpace);
    }
  });

  it("refuses empty and oversized subjects", () => {
    expect(problem("")).toBe(SUBJECT_RULES.empty);
    expect(problem(`tasks.${"x".repeat(10_000)}`)).toBe(SUBJECT_RULES.tooLong);
    expect(problem(`tasks.${"x".repeat(250)}`)).toBeNull();
    expect(problem(`tasks.${"x".repeat(251)}`)).toBe(SUBJECT_RULES.tooLong);
    // Fewer than 256 characters, but more than 256 bytes in UTF-8.
    expect(problem(`tasks.${"é".repeat(126)}`)).toBe(SUBJECT_RULES.tooLong);
    expect(problem(`tasks.${"😀".repeat(63)}`)).toBe(SUBJECT_RULES.tooLong);
    expect(problem(`tasks.${"é".repeat(125)}`)).toBeNull();
  });

  it("refuses Chime's reserved subjects", () => {
    expect(subjectProblem("chime.internal.x", [">"], reserved)).toBe(SUBJECT_RULES.reserved);
    expect(problem("tasks.chime.lease")).toBe(SUBJECT_RULES.reserved);
    expect(problem("tasks.chime.lease.more")).toBeNull();
  });

  it("refuses subjects outside the subject space, naming it", () => {
    expect(problem("jobs.x")).toBe("must lie inside the subject space (tasks.>)");
    // > needs at least one more token.
    expect(problem("tasks")).toBe("must lie inside the subject space (tasks.>)");
    expect(subjectProblem("tasks.x", [], [])).toBe("must lie inside the subject space ()");
  });

  it("never throws on random input", () => {
    let seed = 99;
    const random = (): number => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed / 4_294_967_296;
    };
    const alphabet = [
      "tasks",
      ".",
      "*",
      ">",
      "$",
      "_INBOX",
      " ",
      "\u0000",
      "é",
      "😀",
      "a",
      "chime",
      "internal",
    ];
    for (let i = 0; i < 5000; i++) {
      let subject = "";
      const count = Math.floor(random() * 12);
      for (let j = 0; j < count; j++) {
        subject += alphabet[Math.floor(random() * alphabet.length)];
      }
      const result = subjectProblem(subject, space, reserved);
      expect(result === null || typeof result === "string").toBe(true);
      expect(typeof (subjectPatternProblem(subject) ?? "")).toBe("string");
    }
  });
});

describe("subjectPatternProblem", () => {
  it("accepts whole-token wildcards", () => {
    for (const pattern of ["tasks.>", "tasks.*", "tasks.*.run", "*.x.>", ">", "tasks.email"]) {
      expect(subjectPatternProblem(pattern)).toBeNull();
    }
  });

  it("refuses misplaced wildcards and malformed patterns", () => {
    expect(subjectPatternProblem("tasks.>.x")).toBe(SUBJECT_RULES.tailWildcard);
    expect(subjectPatternProblem("tasks.a*")).toBe(SUBJECT_RULES.partialWildcard);
    expect(subjectPatternProblem("tasks.>>")).toBe(SUBJECT_RULES.partialWildcard);
    expect(subjectPatternProblem("tasks..>")).toBe(SUBJECT_RULES.emptyToken);
    expect(subjectPatternProblem("tasks. >")).toBe(SUBJECT_RULES.whiteSpace);
    expect(subjectPatternProblem("")).toBe(SUBJECT_RULES.empty);
  });
});

describe("subjectMatches", () => {
  it("follows NATS matching", () => {
    expect(subjectMatches("tasks.>", "tasks.a")).toBe(true);
    expect(subjectMatches("tasks.>", "tasks.a.b.c")).toBe(true);
    expect(subjectMatches("tasks.>", "tasks")).toBe(false);
    expect(subjectMatches("tasks.*", "tasks.a")).toBe(true);
    expect(subjectMatches("tasks.*", "tasks.a.b")).toBe(false);
    expect(subjectMatches("tasks.*", "tasks")).toBe(false);
    expect(subjectMatches("*.run", "x.run")).toBe(true);
    expect(subjectMatches("tasks.x", "tasks.x")).toBe(true);
    expect(subjectMatches("tasks.x", "tasks.y")).toBe(false);
    expect(subjectMatches("tasks.x", "tasks.x.y")).toBe(false);
    expect(subjectMatches(">", "anything.at.all")).toBe(true);
  });
});
