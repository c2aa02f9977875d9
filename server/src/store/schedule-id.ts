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
  // Written as bytes and read off once: built by `+`, an id was 26 strings on the way to
  // one, and a batch of creates makes tens of thousands of ids a second.
  let t = Math.floor(now);
  for (let i = TIME_CHARS - 1; i >= 0; i--) {
    idBytes[i] = ALPHABET_CODES[t % 32] as number;
    t = Math.floor(t / 32);
  }
  if (poolOffset + RANDOM_CHARS > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  for (let i = TIME_CHARS; i < SCHEDULE_ID_LENGTH; i++) {
    idBytes[i] = ALPHABET_CODES[(pool[poolOffset++] as number) & 31] as number;
  }
  return idBytes.toString("latin1", 0, SCHEDULE_ID_LENGTH);
}

const ALPHABET_CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
// Where each id is written: reused, nothing awaits in between.
const idBytes = Buffer.alloc(SCHEDULE_ID_LENGTH);

// Random bytes drawn 4 KiB at a time: one system call per 256 ids instead of one per id.
const pool = new Uint8Array(4096);
let poolOffset = pool.length;

export function isScheduleId(text: string): boolean {
  return ID_PATTERN.test(text);
}
