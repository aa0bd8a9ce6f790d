import { HubError, type HubErrorOptions } from "../hub/errors";

/** Base class of content-storage errors (part of the hub's error hierarchy). */
export class StorageError extends HubError {
  override name = "StorageError";
  constructor(shortMessage: string, options: HubErrorOptions = {}) {
    super(shortMessage, options);
  }
}

/** The content read for `cid` does not hash to `cid`: the store returned the wrong or corrupted bytes. */
export class StorageIntegrityError extends StorageError {
  override name = "StorageIntegrityError";
  constructor(
    readonly cid: string,
    readonly actual: string,
  ) {
    super(`Content fetched for ${cid} does not match its CID (it hashes to ${actual}).`);
  }
}

/** The store does not hold `cid` (and, for the embedded store, will not fetch it from the network). */
export class StorageNotFoundError extends StorageError {
  override name = "StorageNotFoundError";
  constructor(
    readonly cid: string,
    cause?: unknown,
  ) {
    super(`Content ${cid} is not in the content store.`, { cause });
  }
}

/** A CID string could not be parsed. */
export class StorageInvalidCidError extends StorageError {
  override name = "StorageInvalidCidError";
  constructor(
    readonly cid: string,
    cause?: unknown,
  ) {
    super(`"${cid}" is not a valid CID.`, { cause });
  }
}

/** The content is larger than the store accepts. */
export class StorageTooLargeError extends StorageError {
  override name = "StorageTooLargeError";
  constructor(
    readonly size: number,
    readonly max: number,
  ) {
    super(`Content is ${size} bytes, more than the limit of ${max} bytes.`);
  }
}

/** A request to the storage backend (Kubo RPC) failed after its retries. */
export class StorageRequestError extends StorageError {
  override name = "StorageRequestError";
  constructor(
    readonly operation: string,
    readonly url: string,
    options: HubErrorOptions = {},
  ) {
    super(`Content store request ${operation} to ${url} failed.`, options);
  }
}
