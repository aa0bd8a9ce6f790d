/**
 * The messages of token type 0x0002, Blind RSA (2048-bit): TokenRequest and TokenResponse (RFC 9578 §6.1–6.2)
 * and the Token a client redeems (RFC 9577 §2.2).
 *
 * ```
 * struct {                                  struct {
 *     uint16_t token_type = 0x0002;             uint16_t token_type = 0x0002;
 *     uint8_t truncated_token_key_id;           uint8_t nonce[32];
 *     uint8_t blinded_msg[Nk];                  uint8_t challenge_digest[32];
 * } TokenRequest;                               uint8_t token_key_id[Nid];
 *                                               uint8_t authenticator[Nk];
 * struct {                                  } Token;
 *     uint8_t blind_sig[Nk];
 * } TokenResponse;
 * ```
 */
import { concatBytes, FieldReader, uint16, toHex, type Hex } from "./bytes";
import { PrivacyPassInputError } from "./errors";

/** Token type Blind RSA (2048-bit), publicly verifiable (RFC 9578 §8.2.1). */
export const TOKEN_TYPE_BLIND_RSA = 0x0002;
/** Nk: the modulus length in bytes. */
export const NK = 256;
/** Nid: the token key id length. */
export const NID = 32;
export const NONCE_LENGTH = 32;
export const TOKEN_LENGTH = 2 + NONCE_LENGTH + 32 + NID + NK;
export const TOKEN_REQUEST_LENGTH = 3 + NK;
export const TOKEN_RESPONSE_LENGTH = NK;
/** The part of a token its authenticator signs: token_type, nonce, challenge_digest, token_key_id. */
export const TOKEN_INPUT_LENGTH = TOKEN_LENGTH - NK;

export interface Token {
  tokenType: number;
  nonce: Uint8Array;
  challengeDigest: Uint8Array;
  tokenKeyId: Uint8Array;
  authenticator: Uint8Array;
}

export interface TokenRequest {
  tokenType: number;
  /** The last byte of the token key id. */
  truncatedTokenKeyId: number;
  blindedMsg: Uint8Array;
}

/** token_type, nonce, challenge_digest and token_key_id: the message the issuer signs blindly. */
export function tokenInput(token: Omit<Token, "authenticator">): Uint8Array {
  return concatBytes([uint16(token.tokenType), token.nonce, token.challengeDigest, token.tokenKeyId]);
}

export function encodeToken(token: Token): Uint8Array {
  checkLength("token.nonce", token.nonce, NONCE_LENGTH);
  checkLength("token.challenge_digest", token.challengeDigest, 32);
  checkLength("token.token_key_id", token.tokenKeyId, NID);
  checkLength("token.authenticator", token.authenticator, NK);
  return concatBytes([tokenInput(token), token.authenticator]);
}

/** A token of type 0x0002; throws {@link PrivacyPassInputError} naming the field that does not parse. */
export function decodeToken(bytes: Uint8Array, field = "token"): Token {
  const reader = new FieldReader(bytes, field);
  const tokenType = reader.uint16("token_type");
  if (tokenType !== TOKEN_TYPE_BLIND_RSA)
    throw new PrivacyPassInputError(`${field}.token_type`, `expected 0x0002 (Blind RSA), got 0x${hex16(tokenType)}`);
  const token = {
    tokenType,
    nonce: reader.read(NONCE_LENGTH, "nonce").slice(),
    challengeDigest: reader.read(32, "challenge_digest").slice(),
    tokenKeyId: reader.read(NID, "token_key_id").slice(),
    authenticator: reader.read(NK, "authenticator").slice(),
  };
  reader.end();
  return token;
}

/**
 * A token's nonce as bytes32 hex: what the redeemer records as spent and `PrivacyPassEscrow.redeem` is paid for.
 * @example await escrow.redeem(keyId, tokens.map(tokenNonce));
 */
export function tokenNonce(token: Token | Uint8Array): Hex {
  return toHex(token instanceof Uint8Array ? decodeToken(token).nonce : token.nonce);
}

export function encodeTokenRequest(request: TokenRequest): Uint8Array {
  checkLength("request.blinded_msg", request.blindedMsg, NK);
  return concatBytes([uint16(request.tokenType), Uint8Array.of(request.truncatedTokenKeyId), request.blindedMsg]);
}

export function decodeTokenRequest(bytes: Uint8Array, field = "request"): TokenRequest {
  const reader = new FieldReader(bytes, field);
  const tokenType = reader.uint16("token_type");
  if (tokenType !== TOKEN_TYPE_BLIND_RSA)
    throw new PrivacyPassInputError(`${field}.token_type`, `expected 0x0002 (Blind RSA), got 0x${hex16(tokenType)}`);
  const request = {
    tokenType,
    truncatedTokenKeyId: reader.uint8("truncated_token_key_id"),
    blindedMsg: reader.read(NK, "blinded_msg").slice(),
  };
  reader.end();
  return request;
}

/** A TokenResponse is the blind signature alone: checks its length. */
export function decodeTokenResponse(bytes: Uint8Array, field = "response"): Uint8Array {
  const reader = new FieldReader(bytes, field);
  const blindSig = reader.read(NK, "blind_sig").slice();
  reader.end();
  return blindSig;
}

function checkLength(field: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length) throw new PrivacyPassInputError(field, `expected ${length} bytes, got ${bytes.length}`);
}

function hex16(value: number): string {
  return value.toString(16).padStart(4, "0");
}
