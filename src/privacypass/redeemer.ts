/**
 * The redeemer's check of a token (RFC 9578 §6.4, RFC 9577 §2.2): it is of type 0x0002, names the issuer key the
 * redeemer accepts, answers the redeemer's challenge, and carries a valid RSASSA-PSS signature of its token input.
 * Anyone holding the issuer's public key can check this: the gateway need not trust or ask the issuer. Whether the
 * token was spent before is the {@link SpentTokens} record's question, asked after this one.
 */
import { timingSafeEqual } from "node:crypto";
import { verifyPss } from "./blindrsa";
import { fromHex } from "./bytes";
import { challengeDigest, type TokenChallenge } from "./challenge";
import { TokenVerificationError } from "./errors";
import { importIssuerPublicKey, tokenKeyId } from "./keys";
import { decodeToken, type Token, TOKEN_TYPE_BLIND_RSA, tokenInput } from "./token";

/**
 * Returns when `token` (encoded, or decoded) is valid for `challenge` under the issuer key `publicKey`; throws
 * {@link TokenVerificationError} with the failed check as `reason` otherwise ("token-type", "key-id", "challenge",
 * "signature"), or `PrivacyPassInputError` when the bytes do not parse as a token.
 * @example
 * verifyToken(issuer.publicKey, challenge, tokenBytes);
 * if (!spent.markSpent(issuer.keyId, tokenNonce(tokenBytes))) throw new ConflictError("token already spent");
 */
export function verifyToken(
  publicKey: Uint8Array,
  challenge: TokenChallenge | Uint8Array,
  token: Token | Uint8Array,
): void {
  const decoded = token instanceof Uint8Array ? decodeToken(token) : token;
  if (decoded.tokenType !== TOKEN_TYPE_BLIND_RSA)
    throw new TokenVerificationError(
      "token-type",
      `token type 0x${decoded.tokenType.toString(16)} is not Blind RSA (0x0002)`,
    );
  const keyId = tokenKeyId(publicKey);
  if (!same(decoded.tokenKeyId, fromHex(keyId, "publicKey")))
    throw new TokenVerificationError("key-id", `the token is for another issuer key than ${keyId}`);
  if (!same(decoded.challengeDigest, challengeDigest(challenge)))
    throw new TokenVerificationError(
      "challenge",
      "the token answers another challenge (issuer name, context or origins)",
    );
  if (!verifyPss(importIssuerPublicKey(publicKey), tokenInput(decoded), decoded.authenticator))
    throw new TokenVerificationError(
      "signature",
      "the token's authenticator is not the issuer's signature of its input",
    );
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
