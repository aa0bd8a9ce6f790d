/**
 * Content-addressed storage as every component sees it, and the one verified fetch: a file named by a model version
 * (CID and SHA-256) is read from whatever store holds it and accepted only if its bytes hash to the recorded
 * SHA-256 (the store itself checks the CID).
 */
import { IntegrityError, NotFoundError } from "./errors";
import { sha256Hex } from "./hash";

/** Per-call options. */
export interface ContentOptions {
  signal?: AbortSignal;
  /**
   * Largest content this call accepts (bytes), when smaller than the store's own limit. Honoured by the IPFS peer
   * store (src/storage/peer.ts), which refuses larger content before assembling or fetching it; the embedded store
   * and Kubo ignore it, so a caller keeps its own check of the size it gets.
   */
  maxBytes?: number;
}

/**
 * Content-addressed storage of model files, cards and inputs. CIDs are CIDv1 strings (`bafy…`, `bafkrei…`) as
 * `ipfs add --cid-version=1` prints them. Implementations: the embedded UnixFS store and Kubo (src/storage).
 */
export interface ContentStore {
  /** Stores `bytes` and returns their CID. Idempotent. */
  add(bytes: Uint8Array, options?: ContentOptions): Promise<string>;
  /**
   * The content of `cid`, verified against the CID.
   * @throws NotFoundError when the store does not hold it; IntegrityError when what it holds does not match.
   */
  cat(cid: string, options?: ContentOptions): Promise<Uint8Array>;
  /** Whether the store holds `cid` locally (never fetches it). */
  has(cid: string, options?: ContentOptions): Promise<boolean>;
  /** Releases files and connections. */
  close(): Promise<void>;
}

/** A file as a model version records it. */
export interface RecordedFile {
  path: string;
  cid: string;
  /** 0x-prefixed SHA-256 of the bytes. */
  sha256: string;
}

/**
 * Fetches a recorded file and checks its SHA-256.
 * @throws NotFoundError naming the file when no store has it; IntegrityError naming both hashes when it does not match.
 * @example const onnx = await fetchVerified(store, { path: "model.onnx", cid, sha256 }, { signal });
 */
export async function fetchVerified(
  store: Pick<ContentStore, "cat">,
  file: RecordedFile,
  options: ContentOptions = {},
): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await store.cat(file.cid, options);
  } catch (error) {
    if (error instanceof NotFoundError)
      throw new NotFoundError(`${file.path} (${file.cid}) is not available from the content store`, {
        cause: error,
        context: { ...file },
      });
    throw error;
  }
  const actual = sha256Hex(bytes);
  if (actual.toLowerCase() !== file.sha256.toLowerCase()) {
    throw new IntegrityError(
      `${file.path} (${file.cid}) hashes to ${actual}, not the recorded ${file.sha256}: refusing it`,
      { context: { ...file, actual } },
    );
  }
  return bytes;
}

/**
 * A peer that serves content over IPFS (libp2p + bitswap): an operator announces one on-chain; a config may name
 * others. Any copy is checked against its CID, so a provider is trusted for availability only.
 */
export interface Provider {
  /** Where the peer listens, each a libp2p multiaddr ending in `/p2p/<peerId>`. */
  multiaddrs: string[];
  /** Who it is, for logs and counts (an operator's checksummed address, "publisher", ...); independence is by label. */
  label: string;
}

/** The providers to try for content a store lacks, asked per fetch (implementations cache). */
export type ProviderSource = () => Promise<Provider[]>;
