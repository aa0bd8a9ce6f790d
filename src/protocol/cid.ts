import { createHash } from "node:crypto";

/** Multicodec of raw bytes, and of a sha2-256 multihash. */
const RAW_CODEC = 0x55;
const SHA2_256 = 0x12;

/** SHA-256 of `data`, as a 0x-prefixed hex string. */
export function sha256Hex(data: Uint8Array): string {
  return `0x${createHash("sha256").update(data).digest("hex")}`;
}

/**
 * The binary CIDv1 (raw codec, sha2-256) of a block of bytes: the identifier IPFS gives a single-block file
 * stored with raw leaves. Larger files are chunked into a UnixFS DAG and get a dag-pb CID from the IPFS node.
 */
export function rawCid(data: Uint8Array): Uint8Array {
  const digest = createHash("sha256").update(data).digest();
  return Uint8Array.from([0x01, RAW_CODEC, SHA2_256, digest.length, ...digest]);
}
