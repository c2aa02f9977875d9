import { randomFillSync } from "node:crypto";

// Crockford base32: no I, L, O or U, so ids survive being read aloud or typed.
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const TIME_CHARS = 10;
const RANDOM_CHARS = 16;
export const SCHEDULE_ID_LENGTH = TIME_CHARS + RANDOM_CHARS;
const ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/**
 * A new schedule id: 48 bits of creation time then 80 random bits (the ULID layout), so
 * ids sort by creation time, which gives listing a stable order that new schedules
 * append to.
 */
export function newScheduleId(now: number): string {
  let time = "";
  let t = Math.floor(now);
  for (let i = 0; i < TIME_CHARS; i++) {
    time = ALPHABET.charAt(t % 32) + time;
    t = Math.floor(t / 32);
  }
  if (poolOffset + RANDOM_CHARS > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  let random = "";
  for (let i = 0; i < RANDOM_CHARS; i++) random += ALPHABET.charAt((pool[poolOffset++] ?? 0) & 31);
  return time + random;
}

// Random bytes drawn 4 KiB at a time: one system call per 256 ids instead of one per id.
const pool = new Uint8Array(4096);
let poolOffset = pool.length;

export function isScheduleId(text: string): boolean {
  return ID_PATTERN.test(text);
}
