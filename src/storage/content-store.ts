import type { UnixFS } from "@helia/unixfs";
import type { CID } from "multiformats/cid";
import { StorageIntegrityError, StorageNotFoundError, StorageTooLargeError } from "./errors";
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

/**
 * The UnixFS file `root` (named `cid`) assembled from the blocks `fs` holds — never fetched — refused once it passes
 * `maxBytes`, and verified against its CID.
 * @throws {StorageTooLargeError}; {StorageNotFoundError} for a block missing inside the DAG; {StorageIntegrityError}.
 */
export async function readLocalFile(
  fs: UnixFS,
  root: CID,
  cid: string,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of fs.cat(root, { offline: true, signal })) {
      size += chunk.length;
      checkSize(size, maxBytes);
      chunks.push(chunk);
    }
  } catch (cause) {
    if (cause instanceof StorageTooLargeError) throw cause;
    // A missing inner block of a DAG whose root is present.
    throw new StorageNotFoundError(cid, cause);
  }
  const bytes = Buffer.concat(chunks);
  await verifyContent(cid, bytes);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}
