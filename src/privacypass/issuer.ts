/**
 * The issuer of the issuance protocol (RFC 9578 §6.2): signs blinded TokenRequests with its key. It sees each
 * request's blinded message only, never the token it becomes. Whether the requester may have these tokens (a
 * purchase on-chain, its count) is for the caller to decide before calling.
 */
import { blindSign } from "./blindrsa";
import { PrivacyPassInputError } from "./errors";
import type { IssuerKey } from "./keys";
import { decodeTokenRequest, type TokenRequest } from "./token";

/**
 * Checks TokenRequests as {@link issueTokens} does, without signing: the issuer can refuse a batch before it commits
 * to a purchase on-chain.
 */
export function checkTokenRequests(key: Pick<IssuerKey, "keyId">, requests: readonly Uint8Array[]): TokenRequest[] {
  const truncated = parseInt(key.keyId.slice(-2), 16);
  return requests.map((bytes, i) => {
    const request = decodeTokenRequest(bytes, `requests[${i}]`);
    if (request.truncatedTokenKeyId !== truncated)
      throw new PrivacyPassInputError(
        `requests[${i}].truncated_token_key_id`,
        `0x${hex8(request.truncatedTokenKeyId)} is not this issuer's key (0x${hex8(truncated)})`,
      );
    return request;
  });
}

/**
 * One TokenResponse (the blind signature) per TokenRequest, in order. Every request is checked before any is
 * signed: a malformed one, another token type or another key's truncated id throws {@link PrivacyPassInputError}
 * naming `requests[i]` and its field, and nothing is returned.
 * @example const responses = issueTokens(issuer, requests);
 */
export function issueTokens(
  key: Pick<IssuerKey, "privateKey" | "keyId">,
  requests: readonly Uint8Array[],
): Uint8Array[] {
  return checkTokenRequests(key, requests).map((request, i) =>
    blindSign(key.privateKey, request.blindedMsg, `requests[${i}].blinded_msg`),
  );
}

function hex8(value: number): string {
  return value.toString(16).padStart(2, "0");
}
