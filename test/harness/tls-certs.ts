import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** PEM files of one throw-away CA and the certificates it signed, in a temporary directory. */
export interface TestCerts extends AsyncDisposable {
  readonly dir: string;
  /** Paths of the PEM files. */
  readonly caCert: string;
  /** For `127.0.0.1` and `localhost`. */
  readonly serverCert: string;
  readonly serverKey: string;
  /** A client certificate (CN `chime-test-client`), for mutual TLS. */
  readonly clientCert: string;
  readonly clientKey: string;
  /** A client certificate from another CA, which mutual TLS must refuse. */
  readonly strangerCert: string;
  readonly strangerKey: string;
  /** The contents of a file, for APIs that take PEM bytes. */
  read(path: string): Promise<Buffer>;
  remove(): Promise<void>;
}

/** Makes the certificates with the `openssl` command; EC P-256 keys, valid for one day. */
export async function createTestCerts(): Promise<TestCerts> {
  const dir = await mkdtemp(join(tmpdir(), "chime-tls-"));
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => run("openssl", args, { cwd: dir });
  const newKey = (name: string) =>
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name);
  try {
    await newKey("ca.key");
    await openssl(
      ...["req", "-x509", "-new", "-key", "ca.key", "-days", "1", "-subj", "/CN=chime-test-ca"],
      ...["-out", "ca.crt"],
    );
    await newKey("stranger-ca.key");
    await openssl(
      ...["req", "-x509", "-new", "-key", "stranger-ca.key", "-days", "1"],
      ...["-subj", "/CN=stranger-ca", "-out", "stranger-ca.crt"],
    );
    await writeFile(
      path("server.ext"),
      "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    );
    await writeFile(path("client.ext"), "extendedKeyUsage=clientAuth\n");
    const issue = async (name: string, cn: string, ca: string, ext: string) => {
      await newKey(`${name}.key`);
      await openssl(
        "req",
        "-new",
        "-key",
        `${name}.key`,
        "-subj",
        `/CN=${cn}`,
        "-out",
        `${name}.csr`,
      );
      await openssl(
        ...["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`],
        ...["-CAcreateserial", "-days", "1", "-extfile", ext, "-out", `${name}.crt`],
      );
    };
    await issue("server", "localhost", "ca", "server.ext");
    await issue("client", "chime-test-client", "ca", "client.ext");
    await issue("stranger", "stranger", "stranger-ca", "client.ext");
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const remove = () => rm(dir, { recursive: true, force: true });
  return {
    dir,
    caCert: path("ca.crt"),
    serverCert: path("server.crt"),
    serverKey: path("server.key"),
    clientCert: path("client.crt"),
    clientKey: path("client.key"),
    strangerCert: path("stranger.crt"),
    strangerKey: path("stranger.key"),
    read: (file) => readFile(file),
    remove,
    [Symbol.asyncDispose]: remove,
  };
}
