/**
 * The errors of `src/privacypass`, each a kind of `src/core/errors`: a message that does not parse is bad input
 * naming its field (an HTTP endpoint answers 400), a token that parses but does not verify is a verification
 * failure naming the check that failed (the gateway refuses the request).
 */
import { InputError, VerificationError } from "../core/errors";
import type { BaseErrorOptions } from "../core/errors";

/** A key, challenge, token request, token response or token is malformed; `field` names the part, as in the RFC. */
export class PrivacyPassInputError extends InputError {
  override name = "PrivacyPassInputError";
  constructor(
    readonly field: string,
    message: string,
    options: BaseErrorOptions = {},
  ) {
    super(`${field}: ${message}`, { ...options, context: { field, ...options.context } });
  }
}

/** Which check of a token failed. */
export type TokenRejection = "token-type" | "key-id" | "challenge" | "signature";

/** A well-formed token that this redeemer does not accept: another token type, key or challenge, or a bad signature. */
export class TokenVerificationError extends VerificationError {
  override name = "TokenVerificationError";
  constructor(
    readonly reason: TokenRejection,
    message: string,
    options: BaseErrorOptions = {},
  ) {
    super(message, { ...options, context: { reason, ...options.context } });
  }
}
