import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { gzipSync } from "node:zlib";

export interface StaticFilesOptions {
  /** The folder whose files are served (not its subfolders). */
  readonly dir: string;
  /** The URL path they are served under, ending in `/`, e.g. `/ui/`; `index.html` answers it. */
  readonly mount: string;
  /** Paths that redirect to `mount`, e.g. `/` and `/ui`. Default: none. */
  readonly redirects?: readonly string[];
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
};

// The page loads its own script and style and calls the API on the same origin, nothing else.
const PAGE_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

// Bundled assets carry a content hash in their name: a new build gets new names, so a
// browser may keep these for good. index.html names them and is revalidated every time.
const HASHED_NAME = /-[A-Z0-9]{8,}\.[a-z0-9]+$/;
const IMMUTABLE = "public, max-age=31536000, immutable";
const REVALIDATE = "no-cache";
// Below this, gzip's header costs more than it saves.
const MIN_COMPRESSED_BYTES = 1024;

interface StaticFile {
  readonly body: Buffer;
  readonly gzipped: Buffer | undefined;
  readonly contentType: string;
  readonly etag: string;
  readonly cacheControl: string;
  readonly page: boolean;
}

/**
 * Routes for the built files of a folder, read once into memory (the dashboard is a few
 * small files): correct content types, strong ETags, long caching for hashed names, gzip when
 * the client takes it. A missing folder gives routes that say the files were not built.
 */
export async function staticFileRoutes(
  options: StaticFilesOptions,
): Promise<Record<string, RequestListener>> {
  const routes: Record<string, RequestListener> = {};
  const redirect = redirectTo(options.mount);
  for (const path of options.redirects ?? []) routes[path] = redirect;
  let names: string[];
  try {
    names = (await readdir(options.dir, { withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => e.name);
  } catch {
    routes[options.mount] = notBuilt;
    return routes;
  }
  for (const name of names) {
    const file = await loadFile(join(options.dir, name), name);
    const handler = serveFile(file);
    routes[options.mount + name] = handler;
    if (name === "index.html") routes[options.mount] = handler;
  }
  routes[options.mount] ??= notBuilt;
  return routes;
}

async function loadFile(path: string, name: string): Promise<StaticFile> {
  const body = await readFile(path);
  const compressed = body.length >= MIN_COMPRESSED_BYTES ? gzipSync(body, { level: 9 }) : undefined;
  const ext = extname(name);
  return {
    body,
    gzipped: compressed !== undefined && compressed.length < body.length ? compressed : undefined,
    contentType: CONTENT_TYPES[ext] ?? "application/octet-stream",
    etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
    cacheControl: HASHED_NAME.test(name) ? IMMUTABLE : REVALIDATE,
    page: ext === ".html",
  };
}

function serveFile(file: StaticFile): RequestListener {
  return (req, res) => {
    if (!readOnlyMethod(req, res)) return;
    const headers: Record<string, string | number> = {
      "content-type": file.contentType,
      "cache-control": file.cacheControl,
      etag: file.etag,
      vary: "accept-encoding",
      "x-content-type-options": "nosniff",
    };
    if (file.page) {
      headers["content-security-policy"] = PAGE_POLICY;
      headers["referrer-policy"] = "no-referrer";
    }
    if (matchesEtag(req.headers["if-none-match"], file.etag)) {
      res.writeHead(304, headers).end();
      return;
    }
    const gzip = file.gzipped !== undefined && acceptsGzip(req.headers["accept-encoding"]);
    const body = gzip && file.gzipped !== undefined ? file.gzipped : file.body;
    if (gzip) headers["content-encoding"] = "gzip";
    headers["content-length"] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === "HEAD" ? undefined : body);
  };
}

/** A relative Location, so the redirect also holds behind a proxy that adds a path prefix. */
function redirectTo(mount: string): RequestListener {
  return (req, res) => {
    if (!readOnlyMethod(req, res)) return;
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    const parent = path.slice(0, path.lastIndexOf("/") + 1);
    const location = mount.startsWith(parent) ? mount.slice(parent.length) || "." : mount;
    res.writeHead(302, { location, "cache-control": REVALIDATE, "content-length": 0 }).end();
  };
}

const notBuilt: RequestListener = (req, res) => {
  if (!readOnlyMethod(req, res)) return;
  const body = "The dashboard is not built: run `npm run build`.\n";
  res.writeHead(404, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  res.end(req.method === "HEAD" ? undefined : body);
};

function readOnlyMethod(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === "GET" || req.method === "HEAD") return true;
  res.writeHead(405, { allow: "GET, HEAD", "content-length": 0 }).end();
  return false;
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header === "*" || header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
}

function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(",").some((part) => {
    const [coding, ...params] = part.trim().split(";");
    if (coding?.trim().toLowerCase() !== "gzip") return false;
    const q = params.find((p) => p.trim().startsWith("q="));
    return q === undefined || Number(q.trim().slice(2)) > 0;
  });
}
