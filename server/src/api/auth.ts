import { createHash, timingSafeEqual } from "node:crypto";
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextKey,
  type Interceptor,
} from "@connectrpc/connect";
import type { Logger } from "pino";
import { subjectMatches, subjectPatternProblem } from "../spec/index.js";

/**
 * Bearer tokens, tenants and what each token may do.
 *
 * A token has a name (for logs), a namespace (its tenant), the subject prefixes it may
 * schedule on, and a role. Schedules belong to the namespace they were created in; a caller
 * never sees another namespace's schedules, by id, by name or in a listing.
 */

/** What a token may do. Every role reads its namespace. */
export const Role = {
  /** GetSchedule and ListSchedules. */
  read: "read",
  /** Also creates, and changes or removes schedules whose subject is inside its prefixes. */
  write: "write",
  /** Also changes or removes any schedule of its namespace, whatever its subject. */
  admin: "admin",
} as const;
export type Role = (typeof Role)[keyof typeof Role];

/** Where schedules created without authentication, and before namespaces existed, belong. */
export const DEFAULT_NAMESPACE = "default";
/** A token's namespace that spans every namespace (an operator's token). */
export const ALL_NAMESPACES = "*";
/**
 * Picks the namespace a cross-namespace token acts in (new schedules, names); without it,
 * "default". A token bound to one namespace may send it only with that namespace.
 */
export const NAMESPACE_HEADER = "chime-namespace";

const NAMESPACE_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const TOKEN_NAME_PATTERN = /^[A-Za-z0-9_.@-]{1,64}$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
// A raw token shorter than this is guessable; the config refuses it.
const MIN_TOKEN_LENGTH = 16;

/** Who a call acts as. */
export interface Principal {
  /** The token's name (never the token); "anonymous" without authentication. */
  readonly name: string;
  /** Its namespace, or "*" for every namespace. */
  readonly namespace: string;
  /** Subject prefixes or patterns it may schedule on; null: anywhere in the subject space. */
  readonly subjects: readonly string[] | null;
  readonly role: Role;
}

/** A configured token: the principal it stands for and the SHA-256 digest of its secret. */
export interface TokenGrant extends Principal {
  readonly digest: Buffer;
}

/** Without authentication every caller is this: an admin of every namespace. */
export const ANONYMOUS: Principal = {
  name: "anonymous",
  namespace: ALL_NAMESPACES,
  subjects: null,
  role: Role.admin,
};

/** A token configuration that cannot be used: says where and which rule. */
export class AuthConfigError extends Error {
  override readonly name = "AuthConfigError";
}

/** A namespace name must be 1 to 64 letters, digits, '-' or '_'. */
export function isNamespace(text: string): boolean {
  return NAMESPACE_PATTERN.test(text);
}

/** The namespace a stored schedule belongs to (schedules from before namespaces: default). */
export function namespaceOf(schedule: { readonly namespace: string }): string {
  return schedule.namespace === "" ? DEFAULT_NAMESPACE : schedule.namespace;
}

/**
 * Reads token definitions: a JSON array of entries, or an object with a `tokens` array.
 * Each entry: `name`, `namespace` (default "default"; "*" for every namespace), `role`
 * (read, write or admin), optional `subjects` (prefixes or NATS patterns; default: the
 * whole subject space), and either `token` (the secret itself) or `sha256` (its hex digest).
 */
export function parseTokenConfig(text: string, source: string): TokenGrant[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new AuthConfigError(
      `${source}: not valid JSON (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  const entries = Array.isArray(parsed) ? parsed : isRecord(parsed) ? parsed.tokens : undefined;
  if (!Array.isArray(entries)) {
    throw new AuthConfigError(`${source}: must be a JSON array of tokens, or {"tokens": [...]}`);
  }
  return entries.map((entry: unknown, i) => parseGrant(entry, `${source}: tokens[${i}]`));
}

function parseGrant(entry: unknown, where: string): TokenGrant {
  if (!isRecord(entry)) throw new AuthConfigError(`${where}: must be an object`);
  const known = new Set(["name", "namespace", "subjects", "role", "token", "sha256"]);
  for (const key of Object.keys(entry)) {
    if (!known.has(key))
      throw new AuthConfigError(`${where}: unknown field ${JSON.stringify(key)}`);
  }
  const name = entry.name;
  if (typeof name !== "string" || !TOKEN_NAME_PATTERN.test(name)) {
    throw new AuthConfigError(
      `${where}.name: must be 1 to 64 letters, digits, '.', '@', '-' or '_'`,
    );
  }
  const at = `${where} (${name})`;
  const namespace = entry.namespace ?? DEFAULT_NAMESPACE;
  if (typeof namespace !== "string" || (namespace !== ALL_NAMESPACES && !isNamespace(namespace))) {
    throw new AuthConfigError(
      `${at}.namespace: must be "*" or 1 to 64 letters, digits, '-' or '_'`,
    );
  }
  const role = entry.role;
  if (role !== Role.read && role !== Role.write && role !== Role.admin) {
    throw new AuthConfigError(`${at}.role: must be "read", "write" or "admin"`);
  }
  return {
    name,
    namespace,
    role,
    subjects: parseSubjects(entry.subjects, at),
    digest: parseSecret(entry.token, entry.sha256, at),
  };
}

function parseSubjects(value: unknown, at: string): readonly string[] | null {
  if (value === undefined) return null;
  if (!Array.isArray(value) || value.length === 0) {
    throw new AuthConfigError(`${at}.subjects: must be a non-empty array of subject prefixes`);
  }
  return value.map((prefix: unknown) => {
    if (typeof prefix !== "string" || prefix === "" || /\s/.test(prefix)) {
      throw new AuthConfigError(
        `${at}.subjects: ${JSON.stringify(prefix)} is not a subject prefix (no spaces, not empty)`,
      );
    }
    const pattern = prefix.endsWith(".") ? prefix.slice(0, -1) : prefix;
    const problem = subjectPatternProblem(pattern);
    if (problem !== null) {
      throw new AuthConfigError(`${at}.subjects: ${JSON.stringify(prefix)} ${problem}`);
    }
    return pattern;
  });
}

function parseSecret(token: unknown, sha256: unknown, at: string): Buffer {
  if ((token === undefined) === (sha256 === undefined)) {
    throw new AuthConfigError(`${at}: give exactly one of "token" and "sha256"`);
  }
  if (token !== undefined) {
    if (typeof token !== "string" || token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
      throw new AuthConfigError(
        `${at}.token: must be at least ${MIN_TOKEN_LENGTH} characters without white space`,
      );
    }
    return digestOf(token);
  }
  if (typeof sha256 !== "string" || !SHA256_HEX.test(sha256)) {
    throw new AuthConfigError(`${at}.sha256: must be 64 hex digits (the SHA-256 of the token)`);
  }
  return Buffer.from(sha256, "hex");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function digestOf(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** Finds the grant a presented token belongs to, in time that does not depend on the match. */
export class TokenVerifier {
  private readonly grants: readonly TokenGrant[];

  constructor(grants: readonly TokenGrant[]) {
    const names = new Set<string>();
    const digests = new Set<string>();
    for (const grant of grants) {
      if (names.has(grant.name))
        throw new AuthConfigError(`token name ${JSON.stringify(grant.name)} is used twice`);
      const hex = grant.digest.toString("hex");
      if (digests.has(hex)) {
        throw new AuthConfigError(
          `token ${JSON.stringify(grant.name)} has the same secret as another token`,
        );
      }
      names.add(grant.name);
      digests.add(hex);
    }
    this.grants = [...grants];
  }

  get size(): number {
    return this.grants.length;
  }

  /**
   * Comparing fixed-size digests, and every one of them, means neither the token's length
   * nor how much of it matches changes how long the answer takes.
   */
  verify(presented: string): TokenGrant | undefined {
    const digest = digestOf(presented);
    let found: TokenGrant | undefined;
    for (const grant of this.grants) {
      if (timingSafeEqual(digest, grant.digest) && found === undefined) found = grant;
    }
    return found;
  }
}

/** The token of an `authorization: Bearer <token>` header; null when absent or another scheme. */
export function bearerTokenOf(authorization: string | null): string | null {
  if (authorization === null) return null;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  return match?.[1] ?? null;
}

/** Whether `subject` lies under `prefix`: whole tokens (or a NATS pattern's match). */
export function subjectUnder(prefix: string, subject: string): boolean {
  if (prefix.includes("*") || prefix.includes(">")) return subjectMatches(prefix, subject);
  return subject === prefix || subject.startsWith(`${prefix}.`);
}

/** A call's principal, and the namespace it acts in. */
export class Access {
  /** The namespace new schedules and name look-ups belong to. */
  readonly home: string;
  /** The one namespace the call sees; null: every namespace. */
  private readonly visible: string | null;
  private readonly touched: string[] = [];

  /** @param requested the namespace the call asked for (header), if any. */
  constructor(
    readonly principal: Principal,
    requested: string | undefined,
  ) {
    if (requested !== undefined && !isNamespace(requested)) {
      throw new ConnectError(
        `${NAMESPACE_HEADER}: must be 1 to 64 letters, digits, '-' or '_'`,
        Code.InvalidArgument,
      );
    }
    if (principal.namespace === ALL_NAMESPACES) {
      this.home = requested ?? DEFAULT_NAMESPACE;
      this.visible = requested ?? null;
      return;
    }
    if (requested !== undefined && requested !== principal.namespace) {
      throw new ConnectError(
        `token ${principal.name} may not act in namespace ${requested}`,
        Code.PermissionDenied,
      );
    }
    this.home = principal.namespace;
    this.visible = principal.namespace;
  }

  /** Whether the call sees every namespace: then `sees` needs no namespace to answer. */
  get seesAllNamespaces(): boolean {
    return this.visible === null;
  }

  /** Whether a schedule of `namespace` exists for this call (otherwise: NOT_FOUND). */
  sees(namespace: string): boolean {
    return this.visible === null || this.visible === namespace;
  }

  /** Refuses a subject outside the token's prefixes with PERMISSION_DENIED. */
  requireSubject(subject: string): void {
    const { subjects, name } = this.principal;
    if (subjects === null || subjects.some((prefix) => subjectUnder(prefix, subject))) return;
    throw new ConnectError(
      `subject: ${subject} is outside the subjects token ${name} may schedule on (${subjects.join(", ")})`,
      Code.PermissionDenied,
    );
  }

  /** Before changing an existing schedule: a write token only touches its own subjects. */
  requireManage(schedule: { readonly subject: string }): void {
    if (this.principal.role === Role.admin) return;
    this.requireSubject(schedule.subject);
  }

  /** Records a schedule the call changed, for the audit line. */
  note(scheduleId: string): void {
    this.touched.push(scheduleId);
  }

  get scheduleIds(): readonly string[] {
    return this.touched;
  }
}

/** Without an interceptor (unit tests of the service), calls act as the anonymous admin. */
const accessKey = createContextKey<Access | undefined>(undefined, { description: "chime access" });

/** The access the auth interceptor established for this call. */
export function accessOf(values: ContextValues): Access {
  return values.get(accessKey) ?? new Access(ANONYMOUS, undefined);
}

/** RPCs that only read; every other one (including any added later) counts as a write. */
const READ_METHODS: ReadonlySet<string> = new Set(["GetSchedule", "ListSchedules"]);

export interface AuthOptions {
  /** null: authentication is off and every call acts as `ANONYMOUS`. */
  readonly verifier: TokenVerifier | null;
  readonly log: Logger;
}

/**
 * Authenticates each call (UNAUTHENTICATED), checks its role against the RPC
 * (PERMISSION_DENIED), fixes its namespace, and writes one audit line per write: the RPC,
 * the token's name and the schedules it changed. Never the payload, never the token.
 */
export function authInterceptor(options: AuthOptions): Interceptor {
  const { verifier, log } = options;
  return (next) => async (req) => {
    const rpc = req.method.name;
    const write = !READ_METHODS.has(rpc);
    let principal: Principal = ANONYMOUS;
    if (verifier !== null) {
      const token = bearerTokenOf(req.header.get("authorization"));
      const grant = token === null ? undefined : verifier.verify(token);
      if (grant === undefined) {
        log.warn(
          { rpc, reason: token === null ? "no bearer token" : "unknown token" },
          "call refused: not authenticated",
        );
        throw new ConnectError(
          token === null
            ? "authentication required: send the header 'authorization: Bearer <token>'"
            : "the bearer token is not valid",
          Code.Unauthenticated,
        );
      }
      principal = grant;
    }
    if (write && principal.role === Role.read) {
      log.warn({ rpc, token: principal.name }, "call refused: read-only token");
      throw new ConnectError(
        `token ${principal.name} may only read (role read); ${rpc} needs role write`,
        Code.PermissionDenied,
      );
    }
    const access = new Access(principal, req.header.get(NAMESPACE_HEADER) ?? undefined);
    req.contextValues.set(accessKey, access);
    // The audit line is written at info; below that there is nothing to wait for.
    if (!write || !log.isLevelEnabled("info")) return next(req);
    const audit = (code: string) => {
      const ids = access.scheduleIds;
      log.info(
        {
          rpc,
          token: principal.name,
          namespace: access.home,
          ...(ids.length === 1 ? { scheduleId: ids[0] } : { scheduleIds: ids }),
          code,
        },
        "mutation",
      );
    };
    try {
      const res = await next(req);
      audit("ok");
      return res;
    } catch (err) {
      audit(Code[ConnectError.from(err).code] ?? "unknown");
      throw err;
    }
  };
}
