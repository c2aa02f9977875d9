import { execFile } from "node:child_process";
import { request as httpsRequest } from "node:https";
import { fileURLToPath } from "node:url";
import { SchedulerService } from "@chime/sdk";
import { Code, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { credentials, status as GrpcStatus } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestChime, type TestChime } from "../harness/chime.js";
import { createGrpcJsClient, grpcErrorOf } from "../harness/grpc-js-client.js";
import { startTestNats, type TestNats } from "../harness/nats-server.js";
import { connectErrorOf } from "../harness/rpc-errors.js";
import { createTestCerts, type TestCerts } from "../harness/tls-certs.js";
import { inAnHour, SECRET, TOKENS_JSON } from "./tokens.js";

const CLI = fileURLToPath(new URL("../../server/dist/cli.js", import.meta.url));

interface Pem {
  readonly ca: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

function bearer(token: string): Interceptor[] {
  return [
    (next) => (req) => {
      req.header.set("authorization", `Bearer ${token}`);
      return next(req);
    },
  ];
}

/** Connect JSON over HTTPS/1.1, trusting the test CA. */
function connectOverTls(baseUrl: string, pem: Pem, token = SECRET.acmeWriter) {
  return createClient(
    SchedulerService,
    createConnectTransport({
      baseUrl,
      httpVersion: "1.1",
      nodeOptions: { ...pem, agent: false },
      interceptors: bearer(token),
    }),
  );
}

/** connect-node's gRPC transport: HTTP/2 negotiated by ALPN. */
function grpcOverTls(baseUrl: string, pem: Pem, token = SECRET.acmeWriter) {
  return createClient(
    SchedulerService,
    createGrpcTransport({ baseUrl, nodeOptions: { ...pem }, interceptors: bearer(token) }),
  );
}

function getStatus(url: string, pem: Pem): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ...pem, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

let nats: TestNats;
let certs: TestCerts;
let ca: Buffer;

beforeAll(async () => {
  [nats, certs] = await Promise.all([startTestNats(), createTestCerts()]);
  ca = await certs.read(certs.caCert);
});
afterAll(async () => {
  await nats?.stop();
  await certs?.remove();
});

describe("TLS on the listening port", () => {
  let chime: TestChime;
  let baseUrl: string;

  beforeAll(async () => {
    chime = await startTestChime(nats.url, {
      authTokens: TOKENS_JSON,
      tlsCert: certs.serverCert,
      tlsKey: certs.serverKey,
      bucket: "TLS",
    });
    baseUrl = `https://127.0.0.1:${chime.service.address.port}`;
  });
  afterAll(async () => {
    await chime?.stop();
  });

  it("serves Connect over HTTPS/1.1 with a bearer token", async () => {
    const client = connectOverTls(baseUrl, { ca });
    const created = await client.scheduleByTime(inAnHour("tasks.acme.tls"));
    expect(created.schedule?.namespace).toBe("acme");
    const anonymous = createClient(
      SchedulerService,
      createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { ca, agent: false } }),
    );
    expect((await connectErrorOf(anonymous.listSchedules({}))).code).toBe(Code.Unauthenticated);
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      expect(await getStatus(`${baseUrl}${path}`, { ca })).toBe(200);
    }
  });

  it("serves gRPC over TLS (ALPN h2) to @grpc/grpc-js and connect-node", async () => {
    const grpc = createGrpcJsClient(chime.grpcAddress, {
      token: SECRET.acmeWriter,
      credentials: credentials.createSsl(ca),
    });
    try {
      const made = await grpc.unary<{ scheduleId: string }>("ScheduleByTime", {
        subject: "tasks.acme.tls-grpc",
        delay: { seconds: 3600, nanos: 0 },
      });
      const got = await grpcOverTls(baseUrl, { ca }).getSchedule({
        target: { case: "scheduleId", value: made.scheduleId },
      });
      expect(got.subject).toBe("tasks.acme.tls-grpc");
      const refused = await grpcErrorOf(
        createGrpcJsClient(chime.grpcAddress, {
          credentials: credentials.createSsl(ca),
        }).unary("ListSchedules", {}),
      );
      expect(refused.code).toBe(GrpcStatus.UNAUTHENTICATED);
    } finally {
      grpc.close();
    }
  });

  it("refuses plain-text clients and clients that do not trust its certificate", async () => {
    const plain = createClient(
      SchedulerService,
      createConnectTransport({
        baseUrl: `http://127.0.0.1:${chime.service.address.port}`,
        httpVersion: "1.1",
        interceptors: bearer(SECRET.acmeWriter),
      }),
    );
    await expect(plain.listSchedules({})).rejects.toThrow();
    const untrusting = connectOverTls(baseUrl, { ca: await certs.read(certs.strangerCert) });
    await expect(untrusting.listSchedules({})).rejects.toThrow(/certificate/);
  });

  it("serves the CLI over HTTPS with a token", async () => {
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [CLI, "ls", "--server", baseUrl, "--json"],
        {
          env: {
            ...process.env,
            CHIME_TOKEN: SECRET.acmeReader,
            // How a CLI user trusts a private CA: Node reads it at start.
            NODE_EXTRA_CA_CERTS: certs.caCert,
          },
          timeout: 20_000,
        },
        (err, stdout, stderr) =>
          resolve({ code: err === null ? 0 : Number(err.code ?? -1), stdout, stderr }),
      );
    });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("tasks.acme.tls");
  });
});

describe("mutual TLS", () => {
  let chime: TestChime;
  let baseUrl: string;
  let client: Pem;
  let stranger: Pem;

  beforeAll(async () => {
    chime = await startTestChime(nats.url, {
      authTokens: TOKENS_JSON,
      tlsCert: certs.serverCert,
      tlsKey: certs.serverKey,
      tlsClientCa: certs.caCert,
      bucket: "MTLS",
    });
    baseUrl = `https://127.0.0.1:${chime.service.address.port}`;
    client = {
      ca,
      cert: await certs.read(certs.clientCert),
      key: await certs.read(certs.clientKey),
    };
    stranger = {
      ca,
      cert: await certs.read(certs.strangerCert),
      key: await certs.read(certs.strangerKey),
    };
  });
  afterAll(async () => {
    await chime?.stop();
  });

  it("serves clients whose certificate the client CA signed, over Connect and gRPC", async () => {
    const made = await connectOverTls(baseUrl, client).scheduleByTime(inAnHour("tasks.acme.mtls"));
    const grpc = createGrpcJsClient(chime.grpcAddress, {
      token: SECRET.acmeWriter,
      credentials: credentials.createSsl(ca, client.key, client.cert),
    });
    try {
      const got = await grpc.unary<{ scheduleId: string }>("GetSchedule", {
        scheduleId: made.scheduleId,
      });
      expect(got.scheduleId).toBe(made.scheduleId);
    } finally {
      grpc.close();
    }
    expect(await getStatus(`${baseUrl}/healthz`, client)).toBe(200);
  });

  it("refuses a client without a certificate, or with one from another CA", async () => {
    for (const pem of [{ ca }, stranger]) {
      await expect(connectOverTls(baseUrl, pem).listSchedules({})).rejects.toThrow();
      const grpc = createGrpcJsClient(chime.grpcAddress, {
        token: SECRET.acmeWriter,
        credentials:
          pem.cert === undefined
            ? credentials.createSsl(ca)
            : credentials.createSsl(ca, pem.key, pem.cert),
      });
      try {
        const err = await grpcErrorOf(grpc.unary("ListSchedules", {}, 5_000));
        expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
      } finally {
        grpc.close();
      }
      await expect(getStatus(`${baseUrl}/healthz`, pem)).rejects.toThrow();
    }
  });
});
