/** Content-storage errors, each refining the core kind callers branch on. */
import { InputError, IntegrityError, NotFoundError, TransportError, type BaseErrorOptions } from "../core/errors";

/** The content read for `cid` does not hash to `cid`: the store returned the wrong or corrupted bytes. */
export class StorageIntegrityError extends IntegrityError {
  override name = "StorageIntegrityError";
  constructor(
    readonly cid: string,
    readonly actual: string,
  ) {
    super(`Content fetched for ${cid} does not match its CID (it hashes to ${actual}).`);
  }
}

/** The store does not hold `cid` (and, for the embedded store, will not fetch it from the network). */
export class StorageNotFoundError extends NotFoundError {
  override name = "StorageNotFoundError";
  constructor(
    readonly cid: string,
    cause?: unknown,
  ) {
    super(`Content ${cid} is not in the content store.`, { cause });
  }
}

/** A CID string could not be parsed. */
export class StorageInvalidCidError extends InputError {
  override name = "StorageInvalidCidError";
  constructor(
    readonly cid: string,
    cause?: unknown,
  ) {
    super(`"${cid}" is not a valid CID.`, { cause });
  }
}

/** The content is larger than the store accepts. */
export class StorageTooLargeError extends InputError {
  override name = "StorageTooLargeError";
  constructor(
    readonly size: number,
    readonly max: number,
  ) {
    super(`Content is ${size} bytes, more than the limit of ${max} bytes.`);
  }
}

/** A request to the storage backend (Kubo RPC) failed after its retries. */
export class StorageRequestError extends TransportError {
  override name = "StorageRequestError";
  constructor(
    readonly operation: string,
    readonly url: string,
    options: BaseErrorOptions = {},
  ) {
    super(`Content store request ${operation} to ${url} failed.`, options);
  }
}

/** Why one provider (a peer or a gateway) did not serve content. */
export interface ProviderAttempt {
  provider: string;
  reason: string;
}

/**
 * Content the store lacks could not be fetched: no provider and no gateway served every block of it, verified.
 * Names each provider tried and why it was given up (unreachable, stalled, corrupted block, does not have it).
 */
export class StorageUnavailableError extends NotFoundError {
  override name = "StorageUnavailableError";
  constructor(
    readonly cid: string,
    readonly attempts: ProviderAttempt[],
  ) {
    super(
      attempts.length === 0
        ? `Content ${cid} is not in the content store and no provider or gateway is configured to fetch it from.`
        : `Content ${cid} could not be fetched from any provider: ${attempts.map((a) => `${a.provider} (${a.reason})`).join("; ")}.`,
      { context: { cid, attempts } },
    );
  }
}
