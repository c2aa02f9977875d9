import { createHash } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  Access,
  ANONYMOUS,
  AuthConfigError,
  bearerTokenOf,
  namespaceOf,
  type Principal,
  parseTokenConfig,
  Role,
  subjectUnder,
  TokenVerifier,
} from "./auth.js";

const SECRET_A = "a-token-of-enough-length-1";
const SECRET_B = "b-token-of-enough-length-2";
const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

function codeOf(run: () => unknown): Code | undefined {
  try {
    run();
  } catch (err) {
    if (err instanceof ConnectError) return err.code;
    throw err;
  }
  return undefined;
}

describe("parseTokenConfig", () => {
  it("reads raw tokens and SHA-256 digests, as an array or under tokens", () => {
    const grants = parseTokenConfig(
      JSON.stringify({
        tokens: [
          {
            name: "billing",
            namespace: "acme",
            role: "write",
            subjects: ["tasks.billing"],
            token: SECRET_A,
          },
          { name: "ops", namespace: "*", role: "admin", sha256: sha256(SECRET_B) },
        ],
      }),
      "test",
    );
    expect(grants.map((g) => [g.name, g.namespace, g.role, g.subjects])).toEqual([
      ["billing", "acme", "write", ["tasks.billing"]],
      ["ops", "*", "admin", null],
    ]);
    const verifier = new TokenVerifier(grants);
    expect(verifier.verify(SECRET_A)?.name).toBe("billing");
    expect(verifier.verify(SECRET_B)?.name).toBe("ops");
    expect(verifier.verify(`${SECRET_A}x`)).toBeUndefined();
    expect(verifier.verify("")).toBeUndefined();
    const plain = parseTokenConfig(
      JSON.stringify([{ name: "r", role: "read", token: SECRET_A }]),
      "t",
    );
    expect(plain[0]?.namespace).toBe("default");
  });

  it.each([
    ["not JSON", "{", /not valid JSON/],
    ["no list", '{"token":"x"}', /must be a JSON array/],
    ["missing role", [{ name: "a", token: SECRET_A }], /role: must be/],
    ["bad role", [{ name: "a", role: "root", token: SECRET_A }], /role: must be/],
    [
      "both secrets",
      [{ name: "a", role: "read", token: SECRET_A, sha256: sha256(SECRET_A) }],
      /exactly one/,
    ],
    ["no secret", [{ name: "a", role: "read" }], /exactly one/],
    ["short token", [{ name: "a", role: "read", token: "short" }], /at least 16/],
    ["bad digest", [{ name: "a", role: "read", sha256: "abc" }], /64 hex digits/],
    [
      "bad namespace",
      [{ name: "a", role: "read", namespace: "a b", token: SECRET_A }],
      /namespace/,
    ],
    ["bad name", [{ name: "a b", role: "read", token: SECRET_A }], /name: must be/],
    ["unknown field", [{ name: "a", role: "read", token: SECRET_A, rol: "x" }], /unknown field/],
    [
      "wildcard inside a token",
      [{ name: "a", role: "read", token: SECRET_A, subjects: ["tasks.a*"] }],
      /subjects/,
    ],
    ["empty subjects", [{ name: "a", role: "read", token: SECRET_A, subjects: [] }], /non-empty/],
  ])("refuses %s", (_, config, message) => {
    const text = typeof config === "string" ? config : JSON.stringify(config);
    expect(() => parseTokenConfig(text, "test")).toThrow(AuthConfigError);
    expect(() => parseTokenConfig(text, "test")).toThrow(message);
  });

  it("refuses a name or a secret used twice", () => {
    const twice = (a: object, b: object) => () =>
      new TokenVerifier(parseTokenConfig(JSON.stringify([a, b]), "t"));
    expect(
      twice(
        { name: "a", role: "read", token: SECRET_A },
        { name: "a", role: "read", token: SECRET_B },
      ),
    ).toThrow(/used twice/);
    expect(
      twice(
        { name: "a", role: "read", token: SECRET_A },
        { name: "b", role: "read", sha256: sha256(SECRET_A) },
      ),
    ).toThrow(/same secret/);
  });
});

describe("bearerTokenOf", () => {
  it("takes the token of a Bearer header only", () => {
    expect(bearerTokenOf("Bearer abc")).toBe("abc");
    expect(bearerTokenOf("bearer   abc ")).toBe("abc");
    expect(bearerTokenOf(null)).toBeNull();
    expect(bearerTokenOf("Basic abc")).toBeNull();
    expect(bearerTokenOf("Bearer")).toBeNull();
    expect(bearerTokenOf("Bearer a b")).toBeNull();
  });
});

describe("subjectUnder", () => {
  it("matches whole tokens, or a NATS pattern", () => {
    expect(subjectUnder("tasks.billing", "tasks.billing")).toBe(true);
    expect(subjectUnder("tasks.billing", "tasks.billing.invoice")).toBe(true);
    expect(subjectUnder("tasks.billing", "tasks.billingx")).toBe(false);
    expect(subjectUnder("tasks.billing", "tasks")).toBe(false);
    expect(subjectUnder("tasks.*.email", "tasks.acme.email")).toBe(true);
    expect(subjectUnder("tasks.*.email", "tasks.acme.sms")).toBe(false);
    expect(subjectUnder("tasks.>", "tasks.a.b")).toBe(true);
  });
});

describe("Access", () => {
  const writer: Principal = {
    name: "billing",
    namespace: "acme",
    subjects: ["tasks.billing"],
    role: Role.write,
  };

  it("keeps a namespaced token in its namespace", () => {
    const access = new Access(writer, undefined);
    expect(access.home).toBe("acme");
    expect(access.sees("acme")).toBe(true);
    expect(access.sees("default")).toBe(false);
    expect(new Access(writer, "acme").home).toBe("acme");
    expect(codeOf(() => new Access(writer, "other"))).toBe(Code.PermissionDenied);
    expect(codeOf(() => new Access(writer, "bad ns"))).toBe(Code.InvalidArgument);
  });

  it("lets a cross-namespace token see everything, or pick one namespace", () => {
    const all = new Access(ANONYMOUS, undefined);
    expect(all.home).toBe("default");
    expect(all.sees("acme") && all.sees("default")).toBe(true);
    const one = new Access(ANONYMOUS, "acme");
    expect(one.home).toBe("acme");
    expect(one.sees("default")).toBe(false);
  });

  it("confines subjects; an admin manages any schedule of its namespace", () => {
    const access = new Access(writer, undefined);
    expect(codeOf(() => access.requireSubject("tasks.billing.run"))).toBeUndefined();
    expect(codeOf(() => access.requireSubject("tasks.email"))).toBe(Code.PermissionDenied);
    expect(codeOf(() => access.requireManage({ subject: "tasks.email" }))).toBe(
      Code.PermissionDenied,
    );
    const admin = new Access({ ...writer, role: Role.admin }, undefined);
    expect(codeOf(() => admin.requireManage({ subject: "tasks.email" }))).toBeUndefined();
    expect(codeOf(() => admin.requireSubject("tasks.email"))).toBe(Code.PermissionDenied);
  });

  it("reads a schedule stored before namespaces as the default namespace's", () => {
    expect(namespaceOf({ namespace: "" })).toBe("default");
    expect(namespaceOf({ namespace: "acme" })).toBe("acme");
  });
});
