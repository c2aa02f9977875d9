import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type ConnectionOptions,
  credsAuthenticator,
  nkeyAuthenticator,
  nkeys,
} from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RawSettings } from "../../server/src/config.js";
import { startTestChime } from "../harness/chime.js";
import { startTestNats } from "../harness/nats-server.js";
import { createTestCerts, type TestCerts } from "../harness/tls-certs.js";

let certs: TestCerts;

beforeAll(async () => {
  certs = await createTestCerts();
});
afterAll(async () => {
  await certs?.remove();
});

/**
 * Starts a nats-server that requires `serverConfig`'s credentials, then Chime with
 * `settings`; proves Chime works by a fire that reaches a subscriber, and that it cannot
 * start without the credentials.
 */
async function provesAuth(
  serverConfig: string,
  clientOptions: Partial<ConnectionOptions>,
  settings: RawSettings,
): Promise<void> {
  await using nats = await startTestNats({ config: serverConfig, clientOptions });
  const sub = await connect({ ...clientOptions, servers: nats.url });
  try {
    const received = new Promise<string>((resolve) => {
      sub.subscribe("tasks.nats-auth.>", {
        max: 1,
        callback: (_err, msg) => resolve(msg.headers?.get("Chime-Schedule-Id") ?? ""),
      });
    });
    await sub.flush();
    await using chime = await startTestChime(nats.url, settings);
    const created = await chime.client.scheduleByTime({
      subject: "tasks.nats-auth.fired",
      when: { case: "delay", value: { seconds: 0n, nanos: 0 } },
    });
    expect(await received).toBe(created.scheduleId);
  } finally {
    await sub.close();
  }
  // The same server refuses a Chime that does not authenticate.
  await expect(startTestChime(nats.url, { bucket: "NO_CREDENTIALS" })).rejects.toThrow();
}

type KeyPair = ReturnType<typeof nkeys.createOperator>;
const base64url = (data: Uint8Array | string): string => Buffer.from(data).toString("base64url");

/** A NATS JWT (v2) signed by `issuer`, as nsc would issue it. */
function natsJwt(issuer: KeyPair, subject: string, name: string, nats: object): string {
  const header = base64url(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" }));
  const claims = base64url(
    JSON.stringify({
      jti: base64url(crypto.getRandomValues(new Uint8Array(16))),
      iat: Math.floor(Date.now() / 1000),
      iss: issuer.getPublicKey(),
      name,
      sub: subject,
      nats,
    }),
  );
  const signature = issuer.sign(new TextEncoder().encode(`${header}.${claims}`));
  return `${header}.${claims}.${base64url(signature)}`;
}

/** An operator, one JetStream-enabled account and a user's credentials file. */
function operatorSetup(): { serverConfig: string; creds: string } {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const user = nkeys.createUser();
  const unlimited = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, conn: -1 };
  const operatorJwt = natsJwt(operator, operator.getPublicKey(), "test-operator", {
    type: "operator",
    version: 2,
  });
  const accountJwt = natsJwt(operator, account.getPublicKey(), "test-account", {
    limits: { ...unlimited, wildcards: true, leaf: -1, mem_storage: -1, disk_storage: -1 },
    default_permissions: { pub: {}, sub: {} },
    type: "account",
    version: 2,
  });
  // JetStream in operator mode needs a system account.
  const system = nkeys.createAccount();
  const systemJwt = natsJwt(operator, system.getPublicKey(), "SYS", {
    limits: { ...unlimited, wildcards: true, leaf: -1 },
    default_permissions: { pub: {}, sub: {} },
    type: "account",
    version: 2,
  });
  const userJwt = natsJwt(account, user.getPublicKey(), "chime", {
    pub: {},
    sub: {},
    subs: -1,
    data: -1,
    payload: -1,
    type: "user",
    version: 2,
  });
  return {
    serverConfig: [
      `operator: ${operatorJwt}`,
      `system_account: ${system.getPublicKey()}`,
      "resolver: MEMORY",
      `resolver_preload: { ${account.getPublicKey()}: ${accountJwt}, ${system.getPublicKey()}: ${systemJwt} }`,
      "",
    ].join("\n"),
    creds: [
      "-----BEGIN NATS USER JWT-----",
      userJwt,
      "------END NATS USER JWT------",
      "",
      "-----BEGIN USER NKEY SEED-----",
      new TextDecoder().decode(user.getSeed()),
      "------END USER NKEY SEED------",
      "",
    ].join("\n"),
  };
}

describe("Chime's own NATS credentials", () => {
  it("user and password", async () => {
    await provesAuth(
      'authorization { users = [ { user: "chime", password: "nats-password-1" } ] }',
      { user: "chime", pass: "nats-password-1" },
      { natsUser: "chime", natsPassword: "nats-password-1" },
    );
  });

  it("token", async () => {
    await provesAuth(
      'authorization { token: "nats-token-secret-2" }',
      { token: "nats-token-secret-2" },
      { natsToken: "nats-token-secret-2" },
    );
  });

  it("NKey seed from a file", async () => {
    const user = nkeys.createUser();
    const seed = new TextDecoder().decode(user.getSeed());
    const seedFile = join(certs.dir, "user.nk");
    await writeFile(seedFile, `${seed}\n`, { mode: 0o600 });
    await provesAuth(
      `authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }`,
      { authenticator: nkeyAuthenticator(user.getSeed()) },
      { natsNkeySeed: seedFile },
    );
  });

  it("credentials file (operator mode: user JWT and seed)", async () => {
    const { serverConfig, creds } = operatorSetup();
    const credsFile = join(certs.dir, "chime.creds");
    await writeFile(credsFile, creds, { mode: 0o600 });
    await provesAuth(
      serverConfig,
      { authenticator: credsAuthenticator(new TextEncoder().encode(creds)) },
      { natsCreds: credsFile },
    );
  });

  it("TLS with a CA and a client certificate (verify)", async () => {
    const tls = {
      caFile: certs.caCert,
      certFile: certs.clientCert,
      keyFile: certs.clientKey,
    };
    await provesAuth(
      `tls { cert_file: "${certs.serverCert}", key_file: "${certs.serverKey}", ca_file: "${certs.caCert}", verify: true }`,
      { tls },
      { natsTlsCa: certs.caCert, natsTlsCert: certs.clientCert, natsTlsKey: certs.clientKey },
    );
  });
});
