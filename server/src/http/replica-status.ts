import type { RequestListener } from "node:http";

/** Where one replica stands in its group, as `GET /status` reports it. */
export interface ReplicaStatus {
  readonly replica: string;
  /** The same answer as `/readyz`: NATS connected, store loaded, not draining. */
  readonly ready: boolean;
  readonly nats: "connected" | "disconnected";
  readonly store: {
    readonly schedules: number;
    /** The last store revision this replica has applied to its catalog. */
    readonly appliedRevision: number;
    /** The store's newest revision; absent when NATS could not be asked. */
    readonly lastRevision?: number;
    /** The catalog holds every write the store had when this status was taken. */
    readonly caughtUp: boolean;
  };
  readonly partitions: {
    readonly total: number;
    /** Partitions whose lease this replica holds: it fires their schedules. */
    readonly owned: readonly number[];
    /** Held partitions whose lease it could not vouch for (after a pause): not firing. */
    readonly suspended: readonly number[];
    /** Held partitions whose schedules are still being loaded (just acquired, a large store). */
    readonly loading: readonly number[];
  };
  /** The replicas this one sees alive, itself included. */
  readonly members: readonly string[];
  readonly engine: {
    /** Schedules of the owned partitions held in memory. */
    readonly scheduled: number;
    /** Of those, the ones with a next fire queued. */
    readonly queued: number;
  };
}

/** What the status is read from when it is asked for. */
export interface ReplicaStatusSources {
  readonly replica: string;
  readonly partitions: number;
  readonly ready: () => boolean;
  readonly natsConnected: () => boolean;
  readonly catalog: () => { readonly schedules: number; readonly appliedRevision: number };
  readonly lastRevision: () => Promise<number>;
  readonly ownedPartitions: () => readonly number[];
  readonly suspendedPartitions: () => readonly number[];
  readonly loadingPartitions: () => readonly number[];
  readonly members: () => readonly string[];
  readonly engine: () => { readonly scheduled: number; readonly queued: number };
}

export async function replicaStatus(sources: ReplicaStatusSources): Promise<ReplicaStatus> {
  const natsConnected = sources.natsConnected();
  // Read the catalog after the store's revision: a write landing in between then counts as
  // applied only if the catalog has it, so `caughtUp` is never claimed too early.
  const lastRevision = natsConnected
    ? await sources.lastRevision().catch(() => undefined)
    : undefined;
  const catalog = sources.catalog();
  return {
    replica: sources.replica,
    ready: sources.ready(),
    nats: natsConnected ? "connected" : "disconnected",
    store: {
      schedules: catalog.schedules,
      appliedRevision: catalog.appliedRevision,
      ...(lastRevision === undefined ? {} : { lastRevision }),
      caughtUp: lastRevision !== undefined && catalog.appliedRevision >= lastRevision,
    },
    partitions: {
      total: sources.partitions,
      owned: sources.ownedPartitions(),
      suspended: sources.suspendedPartitions(),
      loading: sources.loadingPartitions(),
    },
    members: sources.members(),
    engine: sources.engine(),
  };
}

/** `GET /status`: the replica's status as JSON; 200 when ready, 503 otherwise. */
export function replicaStatusRoute(sources: ReplicaStatusSources): RequestListener {
  return async (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end();
      return;
    }
    const status = await replicaStatus(sources);
    const body = `${JSON.stringify(status, null, 2)}\n`;
    res.writeHead(status.ready ? 200 : 503, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "cache-control": "no-store",
    });
    res.end(req.method === "HEAD" ? undefined : body);
  };
}
