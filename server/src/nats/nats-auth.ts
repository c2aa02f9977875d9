import { type ConnectionOptions, credsAuthenticator, nkeyAuthenticator } from "@nats-io/nats-core";

/** How Chime proves itself to NATS: at most one of the four ways, and TLS as needed. */
export interface NatsAuth {
  readonly user: string | undefined;
  readonly password: string | undefined;
  readonly token: string | undefined;
  /** The user NKey seed (SU…), read from its file. */
  readonly nkeySeed: string | undefined;
  /** A credentials file's contents (user JWT and NKey seed). */
  readonly creds: string | undefined;
  /** Set: the connection requires TLS, verified against `caFile` when given. */
  readonly tls:
    | { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string }
    | undefined;
}

export const NO_NATS_AUTH: NatsAuth = {
  user: undefined,
  password: undefined,
  token: undefined,
  nkeySeed: undefined,
  creds: undefined,
  tls: undefined,
};

/** The part of the client's connect options that authentication and TLS decide. */
export function natsConnectOptions(auth: NatsAuth): Partial<ConnectionOptions> {
  const options: Partial<ConnectionOptions> = {};
  if (auth.user !== undefined) {
    options.user = auth.user;
    options.pass = auth.password;
  }
  if (auth.token !== undefined) options.token = auth.token;
  const encoder = new TextEncoder();
  if (auth.nkeySeed !== undefined)
    options.authenticator = nkeyAuthenticator(encoder.encode(auth.nkeySeed));
  if (auth.creds !== undefined)
    options.authenticator = credsAuthenticator(encoder.encode(auth.creds));
  if (auth.tls !== undefined) options.tls = { ...auth.tls };
  return options;
}

/** Whether any credential is set, for the start-up log (never the credential itself). */
export function describeNatsAuth(auth: NatsAuth): string {
  const way =
    auth.user !== undefined
      ? `user ${auth.user}`
      : auth.token !== undefined
        ? "token"
        : auth.nkeySeed !== undefined
          ? "nkey"
          : auth.creds !== undefined
            ? "creds file"
            : "none";
  return auth.tls === undefined ? way : `${way}, TLS`;
}
