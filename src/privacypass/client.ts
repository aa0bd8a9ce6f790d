/**
 * The client of the issuance protocol (RFC 9578 §6.1, §6.3): makes blinded TokenRequests for a challenge, and
 * unblinds the issuer's TokenResponses into tokens. The blinding state lives in the returned closure only: it is
 * never serialised, so the issuer — who sees the requests and the buyer's address — cannot link a token it later
 * sees redeemed to the request that produced it.
 */
import { randomBytes } from "node:crypto";
import { StateError, VerificationError } from "../core/errors";
import { blind, type BlindingSeam, finalize as unblind, SALT_LENGTH } from "./blindrsa";
import { fromHex } from "./bytes";
import { challengeDigest, type TokenChallenge } from "./challenge";
import { PrivacyPassInputError } from "./errors";
import { importIssuerPublicKey, tokenKeyId } from "./keys";
import {
  decodeTokenResponse,
  encodeTokenRequest,
  NONCE_LENGTH,
  type Token,
  TOKEN_TYPE_BLIND_RSA,
  tokenInput,
} from "./token";

/** The most tokens one call prepares. */
export const MAX_BATCH = 10_000;

/** Requests ready to send, and how to turn the answers into tokens. */
export interface PreparedTokenRequests {
  /** The encoded TokenRequests, in order. */
  requests: Uint8Array[];
  /** Unblinds the TokenResponses (same order as `requests`) into tokens. Once only. */
  finalize(responses: readonly Uint8Array[]): Token[];
  /**
   * The randomness of each request (nonce, PSS salt, blind inverse): secret, but what re-preparing gives the same
   * request bytes from, so a client can ask again after a lost answer (the issuer re-signs a batch it knows).
   */
  seams: Required<Pick<TokenRequestSeam, "nonce" | "salt" | "inv">>[];
}

/** One request with fixed randomness: the seam for published test vectors. */
export interface TokenRequestSeam extends BlindingSeam {
  nonce?: Uint8Array;
}

/**
 * `count` token requests to the issuer whose public key (the encoded SubjectPublicKeyInfo) is `publicKey`, for
 * `challenge`.
 * @example
 * const prepared = prepareTokenRequests(issuer.publicKey, challenge, 20);
 * const tokens = prepared.finalize(await askIssuer(prepared.requests));
 */
export function prepareTokenRequests(
  publicKey: Uint8Array,
  challenge: TokenChallenge | Uint8Array,
  count: number,
  seams?: readonly TokenRequestSeam[],
): PreparedTokenRequests {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_BATCH)
    throw new PrivacyPassInputError("count", `expected 1..${MAX_BATCH} tokens, got ${count}`);
  if (seams !== undefined && seams.length !== count)
    throw new PrivacyPassInputError("seams", `expected ${count}, got ${seams.length}`);
  const pending = Array.from({ length: count }, (_, i) => prepareTokenRequest(publicKey, challenge, seams?.[i]));
  let done = false;
  return {
    requests: pending.map((p) => p.request),
    seams: pending.map((p) => p.seam),
    finalize(responses) {
      if (done) throw new StateError("these token requests were finalized already");
      if (responses.length !== count)
        throw new PrivacyPassInputError("responses", `expected ${count} token responses, got ${responses.length}`);
      const tokens = pending.map((p, i) => p.finalize(responses[i]!, `responses[${i}]`));
      done = true;
      return tokens;
    },
  };
}

/** One token request; {@link prepareTokenRequests} makes a batch of these. */
export function prepareTokenRequest(
  publicKey: Uint8Array,
  challenge: TokenChallenge | Uint8Array,
  seam: TokenRequestSeam = {},
): {
  request: Uint8Array;
  seam: Required<Pick<TokenRequestSeam, "nonce" | "salt" | "inv">>;
  finalize(response: Uint8Array, field?: string): Token;
} {
  const key = importIssuerPublicKey(publicKey);
  const input = {
    tokenType: TOKEN_TYPE_BLIND_RSA,
    nonce: seam.nonce ?? new Uint8Array(randomBytes(NONCE_LENGTH)),
    challengeDigest: challengeDigest(challenge),
    tokenKeyId: fromHex(tokenKeyId(publicKey), "publicKey"),
  };
  const message = tokenInput(input);
  const salt = seam.salt ?? new Uint8Array(randomBytes(SALT_LENGTH));
  const { blindedMsg, inv } = blind(key, message, { ...seam, salt });
  const request = encodeTokenRequest({
    tokenType: TOKEN_TYPE_BLIND_RSA,
    truncatedTokenKeyId: input.tokenKeyId[31]!,
    blindedMsg,
  });
  return {
    request,
    seam: { nonce: input.nonce, salt, inv },
    finalize(response, field = "response") {
      const blindSig = decodeTokenResponse(response, field);
      try {
        return { ...input, authenticator: unblind(key, message, blindSig, inv) };
      } catch (cause) {
        throw new VerificationError(`${field}: the issuer's blind signature does not unblind to a valid token`, {
          cause,
          context: { field },
        });
      }
    },
  };
}
