import type { Instant } from "./timetable-types.js";

const TWO_TO_32 = 4_294_967_296;

/**
 * A 53-bit hash of (scheduleId, nominal) in the style of cyrb53: two 32-bit multiply-xor
 * lanes, then a cross-mixing finaliser. Not cryptographic, but well spread and cheap.
 *
 * Every replica must compute the same value, so this is part of Chime's behaviour: changing
 * it moves jittered fire times (the `Nats-Msg-Id` still names the nominal time, so a changed
 * hash never causes a duplicate, only a different delay).
 */
function hash53(scheduleId: string, nominal: number): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < scheduleId.length; i++) {
    const unit = scheduleId.charCodeAt(i);
    h1 = Math.imul(h1 ^ unit, 2_654_435_761);
    h2 = Math.imul(h2 ^ unit, 1_597_334_677);
  }
  // The nominal time as two 32-bit words, so instants past 2^32 ms keep every bit.
  const low = (nominal % TWO_TO_32) | 0;
  const high = Math.floor(nominal / TWO_TO_32) | 0;
  for (const word of [low, high]) {
    h1 = Math.imul(h1 ^ word, 2_654_435_761);
    h2 = Math.imul(h2 ^ word, 1_597_334_677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2_246_822_507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3_266_489_909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2_246_822_507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3_266_489_909);
  return TWO_TO_32 * (h2 & 0x1fffff) + (h1 >>> 0);
}

/**
 * The delay in [0, maxJitterMs) to add to the nominal fire time `nominal` of schedule
 * `scheduleId`. It depends on nothing else, so every replica picks the same one; 0 when
 * `maxJitterMs` is below 1 ms. Fractions of a millisecond in `maxJitterMs` are ignored.
 */
export function jitterOffset(scheduleId: string, nominal: Instant, maxJitterMs: number): number {
  if (!(maxJitterMs >= 1)) {
    return 0;
  }
  const range = Math.min(Math.floor(maxJitterMs), Number.MAX_SAFE_INTEGER);
  return hash53(String(scheduleId), nominal) % range;
}
