import { StorageIntegrityError, StorageTooLargeError } from "./errors";
import { canonicalCid, computeCid } from "./unixfs";

/**
 * Content-addressed storage of model files and cards. CIDs are CIDv1 strings (`bafy…`, `bafkrei…`) as
 * `ipfs add --cid-version=1` prints them.
 */
export interface ContentStore {
  /** Stores `bytes` and returns their CID. Idempotent. */
  add(bytes: Uint8Array, options?: ContentOptions): Promise<string>;
  /**
   * The content of `cid`, verified: content that does not hash to `cid` is a `StorageIntegrityError`.
   * @throws {StorageNotFoundError | StorageIntegrityError | StorageRequestError}
   */
  cat(cid: string, options?: ContentOptions): Promise<Uint8Array>;
  /** Whether the store holds `cid` locally (never fetches it). */
  has(cid: string, options?: ContentOptions): Promise<boolean>;
  /** Releases files and connections. */
  close(): Promise<void>;
}

/** Per-call options. */
export interface ContentOptions {
  signal?: AbortSignal;
}

/** Largest content `cat` reads by default (and `add` accepts): 1 GiB. */
export const DEFAULT_MAX_CONTENT_BYTES = 1024 * 1024 * 1024;

/**
 * Checks that `bytes` is the content of `cid`, by recomputing the CID with the import parameters of
 * {@link computeCid}. Content imported with other parameters (another chunk size) is refused too: the hub
 * only accepts what it can check.
 * @throws {StorageIntegrityError} naming the CID.
 */
export async function verifyContent(cid: string, bytes: Uint8Array): Promise<void> {
  const [expected, actual] = await Promise.all([canonicalCid(cid), computeCid(bytes)]);
  if (actual !== expected) throw new StorageIntegrityError(cid, actual);
}

/** @throws {StorageTooLargeError} */
export function checkSize(size: number, max: number): void {
  if (size > max) throw new StorageTooLargeError(size, max);
}
