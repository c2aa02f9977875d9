import {
  createServer as createHttpServer,
  type IncomingMessage,
  type RequestListener,
  type ServerResponse,
} from "node:http";
import { type AddressInfo, createServer as createNetServer, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import type { ConnectRouter } from "@connectrpc/connect";
import { type ConnectNodeAdapterOptions, connectNodeAdapter } from "@connectrpc/connect-node";
import {
  Server as GrpcServer,
  type ServerOptions as GrpcServerOptions,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { answerBinaryParseErrorsAsInvalidArgument } from "./binary-parse-errors.js";
import { closeWhenBodyUnread, refuseOversizedBody } from "./request-limits.js";

/** A service for the gRPC path, as `grpc.Server.addService` takes it. */
export interface GrpcServiceRegistration {
  readonly definition: ServiceDefinition;
  readonly implementation: UntypedServiceImplementation;
}

/** Router options for the HTTP/1.1 path (interceptors, limits, compression, …). */
export type ConnectRouteOptions = Omit<ConnectNodeAdapterOptions, "routes" | "fallback">;

export interface ListenerOptions {
  /** Interface to bind. Default `"127.0.0.1"`; `"0.0.0.0"` or `"::"` serve other hosts. */
  readonly host?: string;
  /** TCP port; 0 lets the system pick one, reported in `Listener.address`. */
  readonly port: number;
  readonly log: Logger;
  /** Connect routes, served over HTTP/1.1 as Connect (JSON, binary) and gRPC-Web. Default: none. */
  readonly connectRoutes?: (router: ConnectRouter) => void;
  /**
   * Options for those routes. Default: connect-node's (gzip and brotli accepted).
   * Interceptors given here do not reach `grpcServices`: give them to those too.
   */
  readonly connectOptions?: ConnectRouteOptions;
  /**
   * Services for gRPC clients, which arrive as HTTP/2 with prior knowledge (h2c). Only the
   * gRPC protocol is served there: Connect and gRPC-Web clients must use HTTP/1.1.
   * Default: none.
   */
  readonly grpcServices?: readonly GrpcServiceRegistration[];
  /** Options for the @grpc/grpc-js server. Default: grpc-js's own. */
  readonly grpcServerOptions?: GrpcServerOptions;
  /**
   * Plain HTTP/1.1 handlers by exact path (the query is ignored), for any method.
   * They may replace the built-in `/healthz` and `/readyz`. Default: none.
   */
  readonly httpRoutes?: Readonly<Record<string, RequestListener>>;
  /** Whether `/readyz` answers 200 (it answers 503 while draining). Default: always ready. */
  readonly ready?: () => boolean;
  /** HTTP/1.1: time to receive a request's headers. Default 10 s. */
  readonly headersTimeoutMs?: number;
  /** HTTP/1.1: time to receive a whole request (not its response). Default 30 s. */
  readonly requestTimeoutMs?: number;
  /**
   * HTTP/1.1: how long an idle keep-alive connection stays open. Default 65 s, above the
   * 60 s idle timeout of common proxies, so the proxy closes first and never reuses a
   * connection the server is closing.
   */
  readonly keepAliveTimeoutMs?: number;
  /** Time a new connection has to send the bytes that tell its protocol. Default 10 s. */
  readonly sniffTimeoutMs?: number;
  /** How long `drain()` lets in-flight calls run before it closes abruptly. Default 10 s. */
  readonly drainTimeoutMs?: number;
  /**
   * Serve TLS instead of plain TCP. ALPN picks the protocol: a client that offers
   * http/1.1 gets it (Connect, gRPC-Web, browsers); one that offers only h2 (gRPC clients)
   * gets HTTP/2 and the gRPC services. Default: plain TCP.
   */
  readonly tls?: ListenerTlsOptions;
  /**
   * HTTP/1.1: the largest body a request may declare (Content-Length) for a Connect or
   * gRPC-Web route; a larger one is refused with RESOURCE_EXHAUSTED before it is read.
   * Default: no limit here (Connect's `readMaxBytes`, in `connectOptions`, still applies).
   */
  readonly maxRequestBytes?: number;
}

/** PEM certificate chain and key; with `clientCa`, clients must present a certificate it signed. */
export interface ListenerTlsOptions {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly clientCa?: Buffer | undefined;
}

type ResolvedListenerOptions = Required<
  Omit<ListenerOptions, "connectOptions" | "grpcServerOptions" | "tls">
> & {
  readonly tls: ListenerTlsOptions | undefined;
  readonly connectOptions: ConnectRouteOptions;
  readonly grpcServerOptions: GrpcServerOptions;
};

function resolveListenerOptions(options: ListenerOptions): ResolvedListenerOptions {
  return {
    host: options.host ?? "127.0.0.1",
    port: options.port,
    log: options.log,
    connectRoutes: options.connectRoutes ?? (() => {}),
    connectOptions: options.connectOptions ?? {},
    grpcServices: options.grpcServices ?? [],
    grpcServerOptions: options.grpcServerOptions ?? {},
    httpRoutes: options.httpRoutes ?? {},
    ready: options.ready ?? (() => true),
    headersTimeoutMs: options.headersTimeoutMs ?? 10_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 65_000,
    sniffTimeoutMs: options.sniffTimeoutMs ?? 10_000,
    drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
    tls: options.tls,
    maxRequestBytes: options.maxRequestBytes ?? Number.POSITIVE_INFINITY,
  };
}

export interface ListenerAddress {
  readonly host: string;
  readonly port: number;
}

/** One TCP port serving gRPC, gRPC-Web, Connect and plain HTTP routes. */
export interface Listener extends AsyncDisposable {
  readonly address: ListenerAddress;
  /**
   * Stops accepting connections, lets in-flight calls finish (at most `drainTimeoutMs`),
   * then closes. Idempotent; `Symbol.asyncDispose` calls it.
   */
  drain(): Promise<void>;
  /** Closes every connection at once; in-flight calls fail. Idempotent. */
  close(): Promise<void>;
  /** Resolves once the listener is closed, by `drain()` or `close()`. Never rejects. */
  closed(): Promise<void>;
}

// Every HTTP/2 connection with prior knowledge starts with this (RFC 9113 §3.4); no
// HTTP/1.x request line can, so the first bytes decide which server gets the socket.
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

type WireProtocol = "http2" | "http1";

// How often Node looks for HTTP/1.1 connections past headersTimeout/requestTimeout; its
// default (30 s) would let a slow client hold a connection that much longer.
const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000;
const DRAIN_IDLE_SWEEP_MS = 50;

/** Binds the port and serves until `drain()` or `close()`. */
export async function startListener(options: ListenerOptions): Promise<Listener> {
  const opts = resolveListenerOptions(options);
  const log = opts.log;

  // No channelz service is served, so its per-call and per-message bookkeeping (on by
  // default in grpc-js) would be paid for nothing; the options given may turn it back on.
  const grpcServer = new GrpcServer({ "grpc.enable_channelz": 0, ...opts.grpcServerOptions });
  for (const service of opts.grpcServices) {
    grpcServer.addService(service.definition, service.implementation);
  }
  const grpcInjector = grpcServer.createConnectionInjector(ServerCredentials.createInsecure());

  let state: "serving" | "draining" | "closed" = "serving";
  const httpServer = createHttpServer(
    {
      headersTimeout: opts.headersTimeoutMs,
      requestTimeout: opts.requestTimeoutMs,
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
    },
    createRequestListener(opts, () => state),
  );
  httpServer.keepAliveTimeout = opts.keepAliveTimeoutMs;
  // This server never listens itself: sockets are handed to it. Node only starts tracking
  // connections (which enforces headersTimeout and requestTimeout, and which
  // closeIdleConnections needs) on "listening", so announce it.
  httpServer.emit("listening");

  const sockets = new Set<Socket>();
  const sniffing = new Set<Socket>();
  const socketsGoneWaiters: (() => void)[] = [];

  const netServer = createNetServer(
    { noDelay: true, keepAlive: true, keepAliveInitialDelay: 30_000 },
    (socket) => {
      sockets.add(socket);
      socket.once("close", () => {
        sockets.delete(socket);
        sniffing.delete(socket);
        if (sockets.size === 0) {
          for (const resolve of socketsGoneWaiters.splice(0)) {
            resolve();
          }
        }
      });
      // Resets and timeouts on a client's socket are routine; an unhandled "error" would
      // end the process.
      socket.on("error", (err) => log.debug({ err }, "client connection error"));
      if (state !== "serving") {
        socket.destroy();
        return;
      }
      sniffing.add(socket);
      if (tlsServer === undefined) {
        route(socket, socket);
      } else {
        // The TLS server wraps the socket and emits "secureConnection" after the handshake.
        tlsServer.emit("connection", socket);
      }
    },
  );
  // `stream` carries the bytes (the socket itself, or its TLS wrapper); `socket` is the TCP one.
  const route = (stream: Socket, socket: Socket): void => {
    sniffProtocol(stream, opts.sniffTimeoutMs, (protocol) => {
      sniffing.delete(socket);
      const alpn = (stream as Partial<TLSSocket>).alpnProtocol;
      if (protocol === "http2") {
        // Node's HTTP/2 server refuses a TLS connection that did not agree on h2 by ALPN.
        if (alpn !== undefined && alpn !== "h2") {
          stream.destroy();
          return;
        }
        grpcInjector.injectConnection(stream);
      } else {
        httpServer.emit("connection", stream);
        // The HTTP/1 parser reads through "data" events; the sniffed bytes wait in the
        // paused stream.
        stream.resume();
      }
    });
  };
  const tlsServer =
    opts.tls === undefined
      ? undefined
      : createTlsServer({
          cert: opts.tls.cert,
          key: opts.tls.key,
          ca: opts.tls.clientCa,
          requestCert: opts.tls.clientCa !== undefined,
          rejectUnauthorized: opts.tls.clientCa !== undefined,
          handshakeTimeout: opts.sniffTimeoutMs,
          ALPNCallback: chooseAlpn,
        });
  tlsServer?.on("secureConnection", (tlsSocket: TLSSocket) => {
    tlsSocket.on("error", (err) => log.debug({ err }, "client TLS connection error"));
    const tcp = (tlsSocket as TLSSocket & { _parent?: Socket })._parent;
    route(tlsSocket, tcp ?? tlsSocket);
  });
  tlsServer?.on("tlsClientError", (err) => log.debug({ err }, "TLS handshake failed"));

  await new Promise<void>((resolve, reject) => {
    netServer.once("error", reject);
    netServer.listen({ host: opts.host, port: opts.port }, () => {
      netServer.off("error", reject);
      resolve();
    });
  }).catch((err: unknown) => {
    grpcServer.forceShutdown();
    httpServer.close();
    throw err;
  });
  netServer.on("error", (err) => log.error({ err }, "listener error"));

  const bound = netServer.address() as AddressInfo;
  const address: ListenerAddress = { host: bound.address, port: bound.port };
  log.debug(address, "listening: gRPC, gRPC-Web, Connect");

  const allSocketsGone = (): Promise<void> =>
    sockets.size === 0
      ? Promise.resolve()
      : new Promise((resolve) => {
          socketsGoneWaiters.push(resolve);
        });
  const stopAccepting = (): Promise<void> =>
    new Promise((resolve) => {
      netServer.close(() => resolve());
    });

  let finished: () => void = () => {};
  const closedPromise = new Promise<void>((resolve) => {
    finished = resolve;
  });
  let closing: Promise<void> | undefined;
  let draining: Promise<void> | undefined;

  const close = (): Promise<void> => {
    if (closing) {
      return closing;
    }
    state = "closed";
    const accepting = stopAccepting();
    // Sockets go first: grpc-js's forceShutdown resets open streams with CANCEL, which a
    // client reports as CANCELLED; a dropped connection reads as UNAVAILABLE, retryable.
    for (const socket of sockets) {
      socket.destroy();
    }
    grpcServer.forceShutdown();
    // Clears Node's connection checker; the server was never listening, so close() only
    // reports that through a callback we do not pass.
    httpServer.close();
    closing = Promise.all([accepting, allSocketsGone()]).then(() => {
      log.debug(address, "listener closed");
      finished();
    });
    return closing;
  };

  const drain = (): Promise<void> => {
    if (closing || draining) {
      return draining ?? closedPromise;
    }
    state = "draining";
    log.debug(address, "listener draining");
    const accepting = stopAccepting();
    for (const socket of sniffing) {
      socket.destroy();
    }
    // A connection becomes idle once its in-flight request ends; keep closing those.
    httpServer.closeIdleConnections();
    const sweep = setInterval(() => httpServer.closeIdleConnections(), DRAIN_IDLE_SWEEP_MS);
    const grpcDone = new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve()));
    const settled = Promise.all([accepting, grpcDone, allSocketsGone()]).then(() => true);
    let deadline: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      deadline = setTimeout(() => resolve(false), opts.drainTimeoutMs);
    });
    draining = Promise.race([settled, expired]).then((inTime) => {
      clearInterval(sweep);
      clearTimeout(deadline);
      if (!inTime) {
        log.warn({ ...address, open: sockets.size }, "drain timed out, closing connections");
      }
      return close();
    });
    return draining;
  };

  return {
    address,
    drain,
    close,
    closed: () => closedPromise,
    [Symbol.asyncDispose]: drain,
  };
}

/**
 * HTTP/1.1 whenever the client offers it: Connect and gRPC-Web are served there, and a
 * browser offers both. A client offering only h2 is a gRPC client. Anything else is refused.
 */
function chooseAlpn({ protocols }: { protocols: string[] }): string | undefined {
  if (protocols.includes("http/1.1")) return "http/1.1";
  if (protocols.includes("h2")) return "h2";
  return undefined;
}

/**
 * Buffers the first bytes of a connection until they match the HTTP/2 preface or depart
 * from it (a client may send fewer bytes than the preface at first), then pauses the socket
 * with those bytes pushed back, so the chosen server reads the stream from its start.
 */
function sniffProtocol(
  socket: Socket,
  timeoutMs: number,
  onProtocol: (protocol: WireProtocol) => void,
): void {
  let head: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  const stop = () => {
    clearTimeout(timer);
    socket.off("data", onData);
    socket.off("end", onEnd);
    socket.off("close", stop);
  };
  const onEnd = () => {
    stop();
    socket.destroy();
  };
  const onData = (chunk: Buffer) => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const compared = Math.min(head.length, HTTP2_PREFACE.length);
    const matches = head.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared));
    if (matches && compared < HTTP2_PREFACE.length) {
      return;
    }
    stop();
    socket.pause();
    socket.unshift(head);
    onProtocol(matches ? "http2" : "http1");
  };
  socket.on("data", onData);
  socket.once("end", onEnd);
  socket.once("close", stop);
}

function createRequestListener(
  opts: ResolvedListenerOptions,
  state: () => "serving" | "draining" | "closed",
): RequestListener {
  const rpc = connectNodeAdapter({ ...opts.connectOptions, routes: opts.connectRoutes });
  const routes = new Map<string, RequestListener>([
    ["/healthz", healthz],
    ["/readyz", readyz(() => state() === "serving" && opts.ready())],
    ...Object.entries(opts.httpRoutes),
  ]);
  return (req, res) => {
    if (state() !== "serving") {
      // Lets the client finish this request and open its next one elsewhere.
      res.setHeader("connection", "close");
    }
    const route = routes.get((req.url ?? "/").split("?", 1)[0] ?? "/");
    if (!route) {
      if (refuseOversizedBody(req, res, opts.maxRequestBytes)) return;
      closeWhenBodyUnread(req, res);
      answerBinaryParseErrorsAsInvalidArgument(req, res);
      rpc(req, res);
      return;
    }
    try {
      const result: unknown = route(req, res);
      if (result instanceof Promise) {
        result.catch((err: unknown) => failRoute(opts.log, req, res, err));
      }
    } catch (err) {
      failRoute(opts.log, req, res, err);
    }
  };
}

function failRoute(log: Logger, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  log.error({ err, path: req.url }, "http route failed");
  if (res.headersSent) {
    res.destroy();
  } else {
    res.writeHead(500, { "content-type": "text/plain" }).end("internal error\n");
  }
}

const healthz: RequestListener = (req, res) => {
  plainText(req, res, 200, "ok\n");
};

function readyz(isReady: () => boolean): RequestListener {
  return (req, res) => {
    if (isReady()) {
      plainText(req, res, 200, "ready\n");
    } else {
      plainText(req, res, 503, "not ready\n");
    }
  };
}

function plainText(req: IncomingMessage, res: ServerResponse, status: number, body: string) {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end();
    return;
  }
  res.writeHead(status, {
    "content-type": "text/plain",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  res.end(req.method === "HEAD" ? undefined : body);
}
