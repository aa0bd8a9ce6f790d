/**
 * TokenChallenge (RFC 9577 §2.1): what a redeemer asks tokens for, and what each token commits to by its
 * challenge_digest. Ours name the issuer `vin:<chainId>:<escrow>:<keyId>` and carry an empty redemption context:
 * a cross-origin, reusable challenge, so a client can fetch tokens before it knows which request they will pay.
 *
 * ```
 * struct {
 *     uint16_t token_type;
 *     opaque issuer_name<1..2^16-1>;
 *     opaque redemption_context<0..32>;
 *     opaque origin_info<0..2^16-1>;
 * } TokenChallenge;
 * ```
 */
import { createHash } from "node:crypto";
import { getAddress, isAddress } from "ethers";
import { concatBytes, FieldReader, uint16, type Hex } from "./bytes";
import { PrivacyPassInputError } from "./errors";
import { TOKEN_TYPE_BLIND_RSA } from "./token";

export interface TokenChallenge {
  tokenType: number;
  issuerName: string;
  /** Empty, or 32 bytes binding tokens to one context (a session, a time window). */
  redemptionContext: Uint8Array;
  /** The origins that accept tokens for this challenge; empty for any. */
  originInfo: string[];
}

/** Options of {@link tokenChallenge}. */
export interface TokenChallengeOptions {
  issuerName: string;
  originInfo?: string[];
  redemptionContext?: Uint8Array;
}

/**
 * A token type 0x0002 challenge, checked as it would be when decoded.
 * @example const challenge = tokenChallenge({ issuerName: issuerName({ chainId: 31337n, escrow, keyId }) });
 */
export function tokenChallenge(options: TokenChallengeOptions): TokenChallenge {
  const challenge = {
    tokenType: TOKEN_TYPE_BLIND_RSA,
    issuerName: options.issuerName,
    redemptionContext: options.redemptionContext ?? new Uint8Array(0),
    originInfo: options.originInfo ?? [],
  };
  encodeTokenChallenge(challenge);
  return challenge;
}

export function encodeTokenChallenge(challenge: TokenChallenge): Uint8Array {
  const issuer = Buffer.from(challenge.issuerName, "utf8");
  const origins = Buffer.from(challenge.originInfo.join(","), "utf8");
  const context = challenge.redemptionContext;
  if (issuer.length === 0 || issuer.length > 0xffff)
    throw new PrivacyPassInputError("challenge.issuer_name", `expected 1..65535 bytes, got ${issuer.length}`);
  if (context.length !== 0 && context.length !== 32)
    throw new PrivacyPassInputError("challenge.redemption_context", `expected 0 or 32 bytes, got ${context.length}`);
  if (origins.length > 0xffff)
    throw new PrivacyPassInputError("challenge.origin_info", `expected at most 65535 bytes, got ${origins.length}`);
  if (challenge.originInfo.some((origin) => origin.length === 0 || origin.includes(",")))
    throw new PrivacyPassInputError("challenge.origin_info", "each origin name is non-empty and has no comma");
  return concatBytes([
    uint16(challenge.tokenType),
    uint16(issuer.length),
    issuer,
    Uint8Array.of(context.length),
    context,
    uint16(origins.length),
    origins,
  ]);
}

export function decodeTokenChallenge(bytes: Uint8Array): TokenChallenge {
  const reader = new FieldReader(bytes, "challenge");
  const tokenType = reader.uint16("token_type");
  const issuer = reader.vector(2, "issuer_name");
  const redemptionContext = reader.vector(1, "redemption_context");
  const origins = reader.vector(2, "origin_info");
  reader.end();
  if (issuer.length === 0) throw new PrivacyPassInputError("challenge.issuer_name", "empty");
  if (redemptionContext.length !== 0 && redemptionContext.length !== 32)
    throw new PrivacyPassInputError(
      "challenge.redemption_context",
      `expected 0 or 32 bytes, got ${redemptionContext.length}`,
    );
  const originInfo = origins.length === 0 ? [] : Buffer.from(origins).toString("utf8").split(",");
  return {
    tokenType,
    issuerName: Buffer.from(issuer).toString("utf8"),
    redemptionContext: redemptionContext.slice(),
    originInfo,
  };
}

/** challenge_digest: SHA-256 of the encoded challenge (RFC 9578 §6.1). */
export function challengeDigest(challenge: TokenChallenge | Uint8Array): Uint8Array {
  const bytes = challenge instanceof Uint8Array ? challenge : encodeTokenChallenge(challenge);
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

/** What names an issuer of this network: the chain, the escrow that sells its tokens, and its key. */
export interface IssuerIdentity {
  chainId: bigint;
  escrow: string;
  keyId: Hex;
}

/**
 * The issuer_name of an issuer key sold through `escrow` on chain `chainId`: `vin:<chainId>:<escrow>:<keyId>`
 * (checksummed address, lowercase key id), one spelling per key so that client and redeemer hash the same bytes.
 */
export function issuerName(identity: IssuerIdentity): string {
  if (!isAddress(identity.escrow)) throw new PrivacyPassInputError("escrow", `not an address: ${identity.escrow}`);
  if (!/^0x[0-9a-fA-F]{64}$/.test(identity.keyId))
    throw new PrivacyPassInputError("keyId", `not 32 bytes of hex: ${identity.keyId}`);
  return `vin:${identity.chainId}:${getAddress(identity.escrow)}:${identity.keyId.toLowerCase()}`;
}

/** The identity an issuer_name of {@link issuerName}'s form names; throws for any other spelling. */
export function parseIssuerName(name: string): IssuerIdentity {
  const match = /^vin:(\d+):(0x[0-9a-fA-F]{40}):(0x[0-9a-f]{64})$/.exec(name);
  if (match === null)
    throw new PrivacyPassInputError("challenge.issuer_name", `not vin:<chainId>:<escrow>:<keyId>: ${name}`);
  const identity = { chainId: BigInt(match[1]!), escrow: match[2]!, keyId: match[3]! as Hex };
  if (issuerName(identity) !== name)
    throw new PrivacyPassInputError(
      "challenge.issuer_name",
      `not in canonical form: ${name} (expected ${issuerName(identity)})`,
    );
  return identity;
}
