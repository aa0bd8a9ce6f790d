/**
 * QUIC variable-length integers (RFC 9000 §16): the length prefixes of chunked OHTTP and of binary HTTP. The two
 * high bits of the first byte give the length (1, 2, 4 or 8 bytes). Any encoding of a value is accepted when
 * reading (the chunked draft leaves the choice unauthenticated); writing uses the shortest.
 */
import { OhttpMalformedError } from "./errors";

/** The largest value this module reads or writes: lengths beyond 2^53 - 1 are not meaningful here. */
const MAX = Number.MAX_SAFE_INTEGER;

/** The shortest encoding of `value`. */
export function encodeVarint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX)
    throw new OhttpMalformedError(`cannot encode ${value} as a variable-length integer`);
  if (value < 0x40) return Uint8Array.of(value);
  if (value < 0x4000) return Uint8Array.of(0x40 | (value >> 8), value & 0xff);
  if (value < 0x4000_0000)
    return Uint8Array.of(0x80 | (value >>> 24), (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
  const high = Math.floor(value / 2 ** 32);
  const low = value >>> 0;
  return Uint8Array.of(
    0xc0 | (high >>> 24),
    (high >>> 16) & 0xff,
    (high >>> 8) & 0xff,
    high & 0xff,
    low >>> 24,
    (low >>> 16) & 0xff,
    (low >>> 8) & 0xff,
    low & 0xff,
  );
}

/** The length in bytes of the varint whose first byte is `first`. */
export function varintLength(first: number): 1 | 2 | 4 | 8 {
  return (1 << (first >> 6)) as 1 | 2 | 4 | 8;
}

/** Reads the varint of `varintLength(bytes[0])` bytes at the start of `bytes`. */
export function decodeVarint(bytes: Uint8Array): number {
  const length = varintLength(bytes[0]!);
  let value = bytes[0]! & 0x3f;
  for (let i = 1; i < length; i++) value = value * 256 + bytes[i]!;
  if (value > MAX) throw new OhttpMalformedError(`variable-length integer ${value} exceeds 2^53 - 1`);
  return value;
}
