import { canonicalMIMEHeaderKey, Match, type MsgHdrs } from "@nats-io/nats-core";

type Header = readonly [name: string, value: string];

/**
 * NATS message headers as a plain list, written straight into the header block. The client's
 * own header map validates and canonicalises every name and wraps each value in an array on
 * every `set`: a fifth of what a fire cost in a burst. The names here are Chime's own and a
 * schedule's (validated when it was stored), so none of that is needed per message.
 */
export class HeaderList implements MsgHdrs {
  hasError = false;
  status = "";
  code = 0;
  description = "";
  private own: Header[];
  /** Shared with other messages (every fire of a schedule): copied only if one is changed. */
  private shared: readonly Header[];

  constructor(own: Header[], shared: readonly Header[] = []) {
    this.own = own;
    this.shared = shared;
  }

  /**
   * The block as last encoded, until a header changes: one list sent with many messages (every
   * create's put) is encoded once. The client copies it into its outbound buffer, never changes it.
   */
  private encoded: Uint8Array | undefined;

  /** The header block as NATS sends it (`NATS/1.0`, one line per header, a blank line). */
  encode(): Uint8Array {
    this.encoded ??= this.encodeBlock();
    return this.encoded;
  }

  private encodeBlock(): Uint8Array {
    let block = "NATS/1.0";
    for (const [name, value] of this.own) block += `\r\n${name}: ${value}`;
    for (const [name, value] of this.shared) block += `\r\n${name}: ${value}`;
    // A Buffer this small is a slice of Node's shared pool, not an ArrayBuffer of its own (as
    // TextEncoder's would be): one fewer backing store per message for the GC to track.
    return Buffer.from(`${block}\r\n\r\n`);
  }

  get(k: string, match: Match = Match.Exact): string {
    for (const [name, value] of this.all()) if (same(name, k, match)) return value;
    return "";
  }

  last(k: string, match: Match = Match.Exact): string {
    const values = this.values(k, match);
    return values[values.length - 1] ?? "";
  }

  values(k: string, match: Match = Match.Exact): string[] {
    return this.all()
      .filter(([name]) => same(name, k, match))
      .map(([, value]) => value);
  }

  has(k: string, match: Match = Match.Exact): boolean {
    return this.all().some(([name]) => same(name, k, match));
  }

  keys(): string[] {
    return [...new Set(this.all().map(([name]) => name))];
  }

  set(k: string, v: string, match: Match = Match.Exact): void {
    const header: Header = [
      match === Match.CanonicalMIME ? canonicalMIMEHeaderKey(k) : k,
      checkedValue(v),
    ];
    // A retry re-stamps a header: it keeps its place among the others.
    const index = this.own.findIndex(([name]) => same(name, k, match));
    this.delete(k, match);
    if (index >= 0) this.own.splice(index, 0, header);
    else this.own.push(header);
  }

  append(k: string, v: string, match: Match = Match.Exact): void {
    const name = match === Match.CanonicalMIME ? canonicalMIMEHeaderKey(k) : k;
    this.own.push([name, checkedValue(v)]);
    this.encoded = undefined;
  }

  delete(k: string, match: Match = Match.Exact): void {
    this.encoded = undefined;
    this.own = this.own.filter(([name]) => !same(name, k, match));
    if (this.shared.some(([name]) => same(name, k, match)))
      this.shared = this.shared.filter(([name]) => !same(name, k, match));
  }

  *[Symbol.iterator](): Iterator<[string, string[]]> {
    for (const name of this.keys()) yield [name, this.values(name)];
  }

  private all(): Header[] {
    return [...this.own, ...this.shared];
  }
}

function same(name: string, k: string, match: Match): boolean {
  switch (match) {
    case Match.Exact:
      return name === k;
    case Match.CanonicalMIME:
      return canonicalMIMEHeaderKey(name) === canonicalMIMEHeaderKey(k);
    default:
      return name.toLowerCase() === k.toLowerCase();
  }
}

function checkedValue(value: string): string {
  if (/[\r\n]/.test(value)) throw new Error("header values cannot contain \\r or \\n");
  return value.trim();
}
