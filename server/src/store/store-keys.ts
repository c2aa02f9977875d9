/**
 * The key layout of the schedules bucket. The partition is part of a schedule's key so that
 * a replica can watch only the partitions it owns.
 *
 *   s.<partition>.<schedule id>   the schedule (chime.v1.Schedule, protobuf binary)
 *   n.<base64url of the name>     the id a name belongs to (makes names unique)
 *   w.<partition>                 the partition's fire watermark
 *   meta.partitions               the partition count, fixed when the bucket is created
 */
export const StoreKey = {
  schedule: (partition: number, id: string): string => `s.${partition}.${id}`,
  name: (name: string): string => `n.${Buffer.from(name, "utf8").toString("base64url")}`,
  watermark: (partition: number): string => `w.${partition}`,
  partitions: "meta.partitions",
} as const;

export type ParsedKey =
  | { readonly kind: "schedule"; readonly partition: number; readonly id: string }
  | { readonly kind: "name"; readonly name: string }
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
    case "n":
      return { kind: "name", name: Buffer.from(rest, "base64url").toString("utf8") };
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
