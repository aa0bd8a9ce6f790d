/**
 * The errors of `src/ohttp`, each a kind of `src/core/errors` chosen by what the caller does with it: a malformed
 * message is bad input (answer 400), an unknown key is a missing thing (refresh the key configuration), a failed
 * decryption is an integrity failure (someone modified the message, or it was sealed to another key).
 * `problemOf` (problem.ts) turns each into the response RFC 9458 §5.2 prescribes.
 */
import { ConflictError, InputError, IntegrityError, NotFoundError, UnsupportedError } from "../core/errors";
import type { BaseErrorOptions } from "../core/errors";

/** An encapsulated message, key configuration or binary HTTP message does not parse. */
export class OhttpMalformedError extends InputError {
  override name = "OhttpMalformedError";
}

/** No key of the gateway has this key identifier (or it has, for another KEM). */
export class OhttpUnknownKeyError extends NotFoundError {
  override name = "OhttpUnknownKeyError";
  constructor(
    readonly keyId: number,
    message: string,
    options: BaseErrorOptions = {},
  ) {
    super(message, { ...options, context: { keyId, ...options.context } });
  }
}

/** The KEM, KDF or AEAD asked for is not one this library implements or the key configuration lists. */
export class OhttpUnsupportedError extends UnsupportedError {
  override name = "OhttpUnsupportedError";
}

/** AEAD authentication failed: the message was modified, truncated, reordered or sealed for another context. */
export class OhttpDecryptionError extends IntegrityError {
  override name = "OhttpDecryptionError";
}

/** A chunked message ended without its final chunk: whatever was read so far may be incomplete. */
export class OhttpTruncatedError extends IntegrityError {
  override name = "OhttpTruncatedError";
}

/** The gateway has already answered an encapsulated request with this encapsulated key within its replay window. */
export class OhttpReplayError extends ConflictError {
  override name = "OhttpReplayError";
}

/** A body is larger than the limit of the endpoint that reads it. */
export class OhttpTooLargeError extends InputError {
  override name = "OhttpTooLargeError";
  constructor(
    readonly limit: number,
    message: string,
  ) {
    super(message, { context: { limit } });
  }
}

/**
 * The relay or the gateway refused the request without an encapsulated response (`status` 4xx, with the problem
 * details when it sent some). The answer is not authenticated: a relay can forge it. (A 5xx is a `TransportError`.)
 */
export class OhttpRejectedError extends InputError {
  override name = "OhttpRejectedError";
  constructor(
    readonly status: number,
    readonly problemType: string | undefined,
    message: string,
    options: BaseErrorOptions = {},
  ) {
    super(message, { ...options, context: { status, problemType, ...options.context } });
  }
}
