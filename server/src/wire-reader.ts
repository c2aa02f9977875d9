const utf8 = new TextDecoder();
// A varint this long may exceed 2^53 (or be a negative number): decoded exactly, as a bigint.
const EXACT_VARINT_BYTES = 7;

/**
 * Protobuf wire reading in place: no reader, view or buffer per nested message (those made
 * most of the cost of admitting a million schedules).
 */
export class WireReader {
  pos = 0;

  constructor(private readonly buf: Uint8Array) {}

  /** An unsigned varint as a number; exact below 2^53, which every field read here stays. */
  varint(): number {
    const buf = this.buf;
    const start = this.pos;
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = buf[this.pos++];
      if (byte === undefined) throw new RangeError("truncated varint");
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 128;
    }
    return this.pos - start > EXACT_VARINT_BYTES ? Number(this.bigVarint(start)) : result;
  }

  uint32(): number {
    return this.varint() % 2 ** 32;
  }

  int32(): number {
    return this.uint32() | 0;
  }

  uint64(): number {
    return this.varint();
  }

  /** An int64 as a number: negative values are ten-byte varints, read exactly. */
  int64(): number {
    const start = this.pos;
    const value = this.varint();
    if (this.pos - start <= EXACT_VARINT_BYTES) return value;
    return Number(BigInt.asIntN(64, this.bigVarint(start)));
  }

  string(): string {
    return utf8.decode(this.bytes());
  }

  /** A length-delimited value's bytes (a view, not a copy). */
  bytes(): Uint8Array {
    const end = this.messageEnd();
    const value = this.buf.subarray(this.pos, end);
    this.pos = end;
    return value;
  }

  /** Reads a length prefix; returns where the value it announces ends. */
  messageEnd(): number {
    const length = this.varint();
    const end = this.pos + length;
    if (end > this.buf.length) throw new RangeError("truncated message");
    return end;
  }

  /** The Timestamp the reader is at, in Unix ms, rounded as protobuf-es's `timestampMs` does. */
  timestampMs(): number {
    const { seconds, nanos } = this.secondsAndNanos();
    return seconds * 1000 + Math.round(nanos / 1e6);
  }

  /** The seconds and nanos of the Timestamp or Duration message the reader is at. */
  secondsAndNanos(): { seconds: number; nanos: number } {
    const end = this.messageEnd();
    let seconds = 0;
    let nanos = 0;
    while (this.pos < end) {
      const tag = this.uint32();
      const field = tag >>> 3;
      if (field === 1) seconds = this.int64();
      else if (field === 2) nanos = this.int32();
      else this.skip(tag & 7);
    }
    return { seconds, nanos };
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        break;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.pos = this.messageEnd();
        break;
      case 5:
        this.pos += 4;
        break;
      default:
        throw new RangeError(`unsupported wire type ${wireType}`);
    }
  }

  private bigVarint(start: number): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = start; i < this.pos; i++) {
      result |= BigInt((this.buf[i] as number) & 0x7f) << shift;
      shift += 7n;
    }
    return BigInt.asUintN(64, result);
  }
}
