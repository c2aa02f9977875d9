/**
 * Rendezvous (highest random weight) hashing: every replica that sees the same members
 * computes the same owner for a partition, and when a member joins or leaves only the
 * partitions it wins or held move.
 */
export function rendezvousOwner(partition: number, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const member of members) {
    const weight = weightOf(member, partition);
    if (weight > bestWeight || (weight === bestWeight && best !== undefined && member < best)) {
      best = member;
      bestWeight = weight;
    }
  }
  return best;
}

/** The partitions `member` wins among `members`. */
export function partitionsOf(
  member: string,
  members: readonly string[],
  partitions: number,
): number[] {
  const won: number[] = [];
  for (let p = 0; p < partitions; p++) if (rendezvousOwner(p, members) === member) won.push(p);
  return won;
}

// FNV-1a over "member/partition", then a murmur3 finaliser: FNV alone clusters on inputs
// that differ only in their last characters, which is exactly what replica names do.
function weightOf(member: string, partition: number): number {
  let h = 0x811c9dc5;
  const text = `${member}/${partition}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
