/**
 * Content identifiers as the registry records them (binary CIDv1) and as IPFS prints them (base32 `b...`). These
 * conversions are synchronous because they run in synchronous code (SQLite transactions, log decoding), while
 * `multiformats`, which the storage layer uses to compute UnixFS CIDs, is ESM-only and loads asynchronously; for
 * CIDv1 in base32 the two agree byte for byte (tested in test/storage).
 */
import { createHash } from "node:crypto";
import { InputError } from "./errors";

/** Multicodec of raw bytes, and of a sha2-256 multihash. */
const RAW_CODEC = 0x55;
const SHA2_256 = 0x12;
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/**
 * The binary CIDv1 (raw codec, sha2-256) of a block of bytes: the identifier IPFS gives a single-block file stored
 * with raw leaves. Larger files are chunked into a UnixFS DAG and get a dag-pb CID (`computeCid` in src/storage).
 */
export function rawCid(data: Uint8Array): Uint8Array {
  const digest = createHash("sha256").update(data).digest();
  return Uint8Array.from([0x01, RAW_CODEC, SHA2_256, digest.length, ...digest]);
}

/** Whether a binary CID is a raw-block CIDv1 with a sha2-256 multihash, as {@link rawCid} makes: its digest is the SHA-256 of the content. */
export function isRawCid(cid: Uint8Array): boolean {
  return cid.length === 36 && cid[0] === 0x01 && cid[1] === RAW_CODEC && cid[2] === SHA2_256 && cid[3] === 32;
}

/**
 * The string form of a binary CID: multibase base32 lower case, `b...`, the form IPFS tools print for CIDv1.
 * @example cidToString(rawCid(bytes)) // "bafkrei..."
 */
export function cidToString(bytes: Uint8Array): string {
  let out = "b";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * The binary form of a base32 CIDv1 string (`b...`).
 * @throws InputError when the string is not a base32 multibase CIDv1.
 */
export function cidFromString(cid: string): Uint8Array {
  if (!/^b[a-z2-7]+$/.test(cid))
    throw new InputError(`"${cid}" is not a CIDv1 in base32 (it should start with "b", like bafkrei...)`);
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of cid.slice(1)) {
    buffer = (buffer << 5) | BASE32.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    buffer &= (1 << bits) - 1;
  }
  if (out[0] !== 0x01) throw new InputError(`"${cid}" is not a CIDv1`);
  return Uint8Array.from(out);
}

/** A CID given as bytes (hex or binary, as events carry it) or as a string, in its string form. */
export function cidString(cid: string | Uint8Array): string {
  if (typeof cid !== "string") return cidToString(cid);
  return cid.startsWith("0x") ? cidToString(Uint8Array.from(Buffer.from(cid.slice(2), "hex"))) : cid;
}
