import { configureTextEncoding, getTextEncoding } from "@bufbuild/protobuf/wire";

/**
 * Makes protobuf-es encode string fields with Node's Buffer rather than TextEncoder. A
 * TextEncoder result owns an ArrayBuffer (a backing store the GC tracks one by one) for every
 * string of every message; a small Buffer is a slice of a shared pool. Storing a schedule
 * encodes a handful of strings, and a batch of creates was a quarter garbage collection.
 * Decoding stays as it is.
 */
export function encodeProtobufStringsWithBuffer(): void {
  const standard = getTextEncoding();
  configureTextEncoding({
    checkUtf8: standard.checkUtf8,
    decodeUtf8: standard.decodeUtf8,
    encodeUtf8: (text) => Buffer.from(text, "utf8"),
  });
}
