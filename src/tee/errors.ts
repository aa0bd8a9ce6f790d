import { VerificationError } from "../core/errors";

/**
 * The error every `src/tee` function throws: `code` names what failed with the same name the on-chain verifier
 * uses (`DcapQuoteTruncated`, `DcapQuoteSignatureInvalid`, ...), so an off-chain refusal and an on-chain revert
 * read alike; `details` says where.
 */
export class TeeQuoteError extends VerificationError {
  override name = "TeeQuoteError";
  override readonly details: string;

  constructor(
    readonly code: string,
    details: string,
    options: { cause?: unknown } = {},
  ) {
    super(`${code}: ${details}`, options);
    this.details = details;
  }
}
