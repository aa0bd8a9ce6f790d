/**
 * The string form of a binary CID (as `VersionPublished` carries it): multibase base32 lower case, `b...`,
 * the form IPFS gateways and tools print for CIDv1.
 * @example cidToString(Uint8Array.from([1, 0x55, 0x12, 0x20, ...digest])) // "bafkrei..."
 */
export function cidToString(bytes: Uint8Array): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let out = "b";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += alphabet[(buffer << (5 - bits)) & 31];
  return out;
}
