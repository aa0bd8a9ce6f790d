import type { AddOptions, UnixFS } from "@helia/unixfs";
import type { CID } from "multiformats/cid";
import { StorageInvalidCidError } from "./errors";
import { importEsm } from "../core/esm";

type UnixfsModule = typeof import("@helia/unixfs");
type CidModule = typeof import("multiformats/cid");
type ChunkerModule = typeof import("ipfs-unixfs-importer/chunker");
type LayoutModule = typeof import("ipfs-unixfs-importer/layout");

/** A blockstore as `@helia/unixfs` needs it. */
export type UnixfsBlockstore = Parameters<UnixfsModule["unixfs"]>[0]["blockstore"];

/** Size of a UnixFS leaf (Kubo's default chunker `size-262144`). */
export const CHUNK_SIZE = 262_144;
/** Links per UnixFS node in the balanced layout (Kubo's default). */
export const MAX_CHILDREN_PER_NODE = 174;

/**
 * The import parameters of `ipfs add --cid-version=1` in Kubo: CIDv1, raw leaves, 256 KiB chunks, balanced
 * DAG of 174 links, a single-chunk file reduced to its raw leaf (`bafkrei…`). `@helia/unixfs` defaults to
 * 1 MiB chunks and 1024 links, which would give other CIDs than an IPFS node for files over 256 KiB.
 */
async function kuboImportOptions(): Promise<AddOptions> {
  const [{ fixedSize }, { balanced }] = await Promise.all([
    importEsm<ChunkerModule>("ipfs-unixfs-importer/chunker"),
    importEsm<LayoutModule>("ipfs-unixfs-importer/layout"),
  ]);
  return {
    cidVersion: 1,
    rawLeaves: true,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: CHUNK_SIZE }),
    layout: balanced({ maxChildrenPerNode: MAX_CHILDREN_PER_NODE }),
  };
}

let importOptions: Promise<AddOptions> | undefined;

/** UnixFS over `blockstore`, and the Kubo-compatible import options. */
export async function unixfsOver(blockstore: UnixfsBlockstore): Promise<{ fs: UnixFS; options: AddOptions }> {
  const { unixfs } = await importEsm<UnixfsModule>("@helia/unixfs");
  importOptions ??= kuboImportOptions();
  return { fs: unixfs({ blockstore }), options: await importOptions };
}

/** Discards every block: computing a CID needs the importer, not the blocks. */
const nullBlockstore: UnixfsBlockstore = {
  put: async (cid) => cid,
  has: async () => false,
  // eslint-disable-next-line require-yield
  get: async function* () {
    throw new Error("the null blockstore holds no blocks");
  },
};

/**
 * The CIDv1 (string form) that `ipfs add --cid-version=1` gives `bytes`, computed without storing anything.
 * @example await computeCid(new TextEncoder().encode("hi")) // "bafkrei…"
 */
export async function computeCid(bytes: Uint8Array): Promise<string> {
  const { fs, options } = await unixfsOver(nullBlockstore);
  return (await fs.addBytes(bytes, options)).toString();
}

/**
 * Parses a CID string (any multibase) or binary CID.
 * @throws {StorageInvalidCidError}
 */
export async function parseCid(cid: string | Uint8Array): Promise<CID> {
  const { CID } = await importEsm<CidModule>("multiformats/cid");
  try {
    return typeof cid === "string" ? CID.parse(cid) : CID.decode(cid);
  } catch (cause) {
    throw new StorageInvalidCidError(typeof cid === "string" ? cid : Buffer.from(cid).toString("hex"), cause);
  }
}

/**
 * The canonical string of a CID (base32 for v1), so that two spellings of one CID compare equal.
 * @example await canonicalCid(binaryCid) // "bafkrei…"
 */
export async function canonicalCid(cid: string | Uint8Array): Promise<string> {
  return (await parseCid(cid)).toString();
}

/** The binary form of a CID, as the registry stores it. */
export async function cidBytes(cid: string): Promise<Uint8Array> {
  return (await parseCid(cid)).bytes;
}
