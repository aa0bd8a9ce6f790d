import { StorageIntegrityError, StorageTooLargeError } from "./errors";
import { canonicalCid, computeCid } from "./unixfs";

/** The interface the stores implement is core's: one `ContentStore` for every component. */
export type { ContentOptions, ContentStore } from "../core/content";

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
