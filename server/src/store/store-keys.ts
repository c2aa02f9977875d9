/**
 * The key layout of the schedules bucket. The partition is part of a schedule's key so that
 * a replica can watch only the partitions it owns.
 *
 *   s.<partition>.<schedule id>   the schedule (chime.v1.Schedule, protobuf binary)
 *   n.<base64url of the name>     the id a name of the default namespace belongs to
 *   n.<b64url ns>.<b64url name>   the same for another namespace (names are unique per namespace;
 *                                 the default keeps the older layout, so stores from before
 *                                 namespaces need no migration)
 *   w.<partition>                 the partition's fire watermark
 *   meta.partitions               the partition count, fixed when the bucket is created
 */
// Where a schedule without a namespace belongs (the store's own copy: no import from api/).
const DEFAULT_NAMESPACE = "default";

export const StoreKey = {
  schedule: (partition: number, id: string): string => `s.${partition}.${id}`,
  name: (namespace: string, name: string): string =>
    namespace === DEFAULT_NAMESPACE
      ? `n.${base64url(name)}`
      : `n.${base64url(namespace)}.${base64url(name)}`,
  watermark: (partition: number): string => `w.${partition}`,
  partitions: "meta.partitions",
} as const;

export type ParsedKey =
  | { readonly kind: "schedule"; readonly partition: number; readonly id: string }
  | { readonly kind: "name"; readonly namespace: string; readonly name: string }
  | { readonly kind: "watermark"; readonly partition: number }
  | { readonly kind: "meta" }
  | { readonly kind: "unknown" };

export function parseStoreKey(key: string): ParsedKey {
  const first = key.indexOf(".");
  const prefix = first < 0 ? key : key.slice(0, first);
  const rest = first < 0 ? "" : key.slice(first + 1);
  switch (prefix) {
    case "s": {
      const dot = rest.indexOf(".");
      const partition = Number(rest.slice(0, dot));
      if (dot <= 0 || !Number.isInteger(partition)) return { kind: "unknown" };
      return { kind: "schedule", partition, id: rest.slice(dot + 1) };
    }
    case "n": {
      // base64url has no '.', so a dot separates the namespace from the name.
      const dot = rest.indexOf(".");
      if (dot < 0) return { kind: "name", namespace: DEFAULT_NAMESPACE, name: fromBase64url(rest) };
      return {
        kind: "name",
        namespace: fromBase64url(rest.slice(0, dot)),
        name: fromBase64url(rest.slice(dot + 1)),
      };
    }
    case "w": {
      const partition = Number(rest);
      return Number.isInteger(partition) ? { kind: "watermark", partition } : { kind: "unknown" };
    }
    case "meta":
      return { kind: "meta" };
    default:
      return { kind: "unknown" };
  }
}

/** FNV-1a: cheap, stable across processes and versions, and well spread for ids. */
export function partitionOf(id: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}

function base64url(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url");
}

function fromBase64url(text: string): string {
  return Buffer.from(text, "base64url").toString("utf8");
}
