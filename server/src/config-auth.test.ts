import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, isLoopback, type RawSettings, resolveConfig } from "./config.js";

let dir: string;
const TOKEN = JSON.stringify([{ name: "a", role: "admin", token: "a-token-of-enough-length" }]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "chime-config-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const resolve = (raw: RawSettings) => resolveConfig(raw, false);

describe("authentication settings", () => {
  it("tells loopback addresses from the rest", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "localhost", "::ffff:127.0.0.1"]) {
      expect(isLoopback(host)).toBe(true);
    }
    for (const host of ["0.0.0.0", "::", "10.0.0.1", "example.com", "128.0.0.1"]) {
      expect(isLoopback(host)).toBe(false);
    }
  });

  it("refuses a non-loopback port without tokens unless told to serve it open", () => {
    expect(() => resolve({ listen: "0.0.0.0:7070" })).toThrow(ConfigError);
    expect(() => resolve({ listen: "0.0.0.0:7070" })).toThrow(/--insecure-no-auth/);
    expect(resolve({ listen: "0.0.0.0:7070", insecureNoAuth: "yes" }).auth.insecureNoAuth).toBe(
      true,
    );
    expect(resolve({ listen: "0.0.0.0:7070", authTokens: TOKEN }).auth.tokens).toHaveLength(1);
    expect(resolve({}).auth.tokens).toEqual([]);
    expect(() => resolve({ listen: "0.0.0.0:7070", insecureNoAuth: "maybe" })).toThrow(
      /--insecure-no-auth: must be yes or no/,
    );
  });

  it("reads tokens from a file and from the environment's JSON together", async () => {
    const file = join(dir, "tokens.json");
    await writeFile(
      file,
      JSON.stringify({ tokens: [{ name: "b", role: "read", token: "b-token-of-enough-length" }] }),
    );
    const config = resolve({ authFile: file, authTokens: TOKEN });
    expect(config.auth.tokens.map((t) => t.name).sort()).toEqual(["a", "b"]);
    expect(() => resolve({ authFile: join(dir, "missing.json") })).toThrow(
      /--auth-file: cannot read/,
    );
    expect(() => resolve({ authFile: file, authTokens: file })).toThrow(/--auth-tokens/);
  });
});

describe("TLS and NATS credential settings", () => {
  it("wants a certificate and its key together", () => {
    expect(() => resolve({ tlsCert: "/x.pem" })).toThrow(/give both/);
    expect(() => resolve({ tlsClientCa: "/x.pem" })).toThrow(/needs --tls-cert/);
    expect(() => resolve({ tlsCert: join(dir, "no.pem"), tlsKey: join(dir, "no.key") })).toThrow(
      /--tls-cert: cannot read/,
    );
  });

  it("takes one way to authenticate to NATS", async () => {
    expect(() => resolve({ natsUser: "u" })).toThrow(/--nats-user and --nats-password/);
    expect(() => resolve({ natsUser: "u", natsPassword: "p", natsToken: "t" })).toThrow(
      /at most one way/,
    );
    const seed = join(dir, "bad.nk");
    await writeFile(seed, "not a seed");
    expect(() => resolve({ natsNkeySeed: seed })).toThrow(/user NKey seed/);
    const creds = join(dir, "bad.creds");
    await writeFile(creds, "nothing here");
    expect(() => resolve({ natsCreds: creds })).toThrow(/not a NATS credentials file/);
    expect(() => resolve({ natsTlsCert: "/c.pem" })).toThrow(/--nats-tls-cert and --nats-tls-key/);
    const auth = resolve({ natsUser: "u", natsPassword: "p" }).natsAuth;
    expect(auth).toMatchObject({ user: "u", password: "p", tls: undefined });
  });
});
