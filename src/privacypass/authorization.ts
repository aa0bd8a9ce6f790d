/**
 * The buyer's authorisation of an issuance request: the issuer signs tokens for a purchase only when the wallet
 * that bought it on-chain signed the blinded requests, so that someone who sees a purchase event cannot spend its
 * count. The buyer signs, with `personal_sign` (EIP-191):
 *
 *   keccak256(abi.encode("vin privacy pass issuance", chainId, escrow, purchaseId, keccak256(concat(requests))))
 *
 * The signature links the buyer to the blinded requests, which the issuer sees anyway; not to the tokens.
 */
import { AbiCoder, concat, getAddress, getBytes, isAddress, keccak256, type Signer, verifyMessage } from "ethers";
import type { Hex } from "./bytes";
import { PrivacyPassInputError } from "./errors";

/** The domain string that keeps these signatures from meaning anything else. */
export const ISSUANCE_DOMAIN = "vin privacy pass issuance";

/** What an issuance authorisation covers. */
export interface IssuanceRequest {
  chainId: bigint;
  /** The PrivacyPassEscrow the purchase was made in. */
  escrow: string;
  purchaseId: bigint;
  /** The encoded TokenRequests, in the order they are sent. */
  requests: readonly Uint8Array[];
}

/** The 32-byte message the buyer signs. */
export function issuanceDigest(request: IssuanceRequest): Hex {
  if (!isAddress(request.escrow)) throw new PrivacyPassInputError("escrow", `not an address: ${request.escrow}`);
  if (request.requests.length === 0) throw new PrivacyPassInputError("requests", "no token request");
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["string", "uint256", "address", "uint256", "bytes32"],
      [
        ISSUANCE_DOMAIN,
        request.chainId,
        getAddress(request.escrow),
        request.purchaseId,
        keccak256(concat([...request.requests])),
      ],
    ),
  ) as Hex;
}

/**
 * The buyer's signature over an issuance request, made with its wallet.
 * @example const signature = await issuanceAuthorization(wallet, { chainId, escrow, purchaseId, requests });
 */
export async function issuanceAuthorization(signer: Signer, request: IssuanceRequest): Promise<string> {
  return signer.signMessage(getBytes(issuanceDigest(request)));
}

/**
 * The address that signed `signature` over `request` (checksummed). The issuer compares it with the purchase's
 * buyer; a signature over other requests recovers another address, never an error.
 */
export function recoverIssuanceSigner(request: IssuanceRequest, signature: string): string {
  try {
    return verifyMessage(getBytes(issuanceDigest(request)), signature);
  } catch (cause) {
    if (cause instanceof PrivacyPassInputError) throw cause;
    throw new PrivacyPassInputError("signature", "not a 65-byte secp256k1 signature", { cause });
  }
}
