/**
 * The OHTTP key configuration of an attested enclave, as the chain fixes it: a TEE node's gateway decapsulates with
 * its enclave's registered HPKE key (`TeeVerifier.enclaveOf(signer).hpkePublicKey`, bound by the quote), published
 * under key identifier 1 with {@link DEFAULT_SYMMETRIC}. `TeeVerifier.ohttpKeyConfig` returns the same 45 bytes and
 * `EnclaveAttested` / `PrivacyRegistry.GatewaySet` record their SHA-256 ({@link enclaveKeyConfigHash}), so a client
 * compares a gateway's served configuration with the chain's rather than trusting the gateway or a relay.
 */
import { sha256Hex } from "../core/hash";
import { KEM } from "./algorithms";
import { OhttpMalformedError } from "./errors";
import { DEFAULT_SYMMETRIC, encodeKeyConfig, type KeyConfig } from "./keys";

/** The key identifier of every enclave's configuration: an enclave has one HPKE key, renewed by re-attesting. */
export const ENCLAVE_KEY_ID = 1;

/**
 * The key configuration of the enclave whose registered HPKE key is `hpkePublicKey` (0x and 64 hex digits).
 * @throws OhttpMalformedError when `hpkePublicKey` is not 32 bytes of hex.
 * @example const config = enclaveKeyConfig((await teeVerifier.enclaveOf(signer)).hpkePublicKey);
 */
export function enclaveKeyConfig(hpkePublicKey: string): KeyConfig {
  if (!/^0x[0-9a-fA-F]{64}$/.test(hpkePublicKey))
    throw new OhttpMalformedError(`an enclave's HPKE key is 0x and 64 hex digits, got "${hpkePublicKey}"`);
  return {
    keyId: ENCLAVE_KEY_ID,
    kemId: KEM.X25519_SHA256,
    publicKey: new Uint8Array(Buffer.from(hpkePublicKey.slice(2), "hex")),
    symmetric: [...DEFAULT_SYMMETRIC],
  };
}

/**
 * SHA-256 of the encoded {@link enclaveKeyConfig} (0x-prefixed hex), as `TeeVerifier.ohttpKeyConfigHash` returns it.
 * @throws OhttpMalformedError when `hpkePublicKey` is not 32 bytes of hex.
 * @example if (enclaveKeyConfigHash(enclave.hpkePublicKey) !== gatewaySet.keyConfigHash) throw ...;
 */
export function enclaveKeyConfigHash(hpkePublicKey: string): string {
  return sha256Hex(encodeKeyConfig(enclaveKeyConfig(hpkePublicKey)));
}
