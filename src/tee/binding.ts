/**
 * What an enclave's quote commits to in its 64-byte report data to register with `TeeVerifier.registerEnclaveWithQuote`
 * (`ITeeVerifier.EnclaveBinding`): the enclave's signing address and HPKE key, the operator, the chain, the
 * verifier and a recent block, hashed as an EIP-712 struct (no domain), followed by 32 zero bytes.
 */
import { concat, getBytes, keccak256, TypedDataEncoder, type TypedDataField } from "ethers";

/** The fields of `ITeeVerifier.EnclaveBinding`. */
export interface EnclaveBinding {
  /** The enclave's secp256k1 signing address. */
  signer: string;
  /** The enclave's X25519 HPKE public key (32 bytes, 0x hex). */
  hpkePublicKey: string;
  /** The operator that registers it (the caller of `registerEnclaveWithQuote`). */
  operator: string;
  chainId: bigint;
  /** The TeeVerifier. */
  verifier: string;
  /** A block among the `QUOTE_WINDOW` (256) before the registration's block. */
  anchorBlock: bigint;
  anchorBlockHash: string;
}

/** The struct type of `TeeVerifier.ENCLAVE_BINDING_TYPEHASH`. */
export const ENCLAVE_BINDING_TYPES: Record<string, TypedDataField[]> = {
  EnclaveBinding: [
    { name: "signer", type: "address" },
    { name: "hpkePublicKey", type: "bytes32" },
    { name: "operator", type: "address" },
    { name: "chainId", type: "uint256" },
    { name: "verifier", type: "address" },
    { name: "anchorBlock", type: "uint256" },
    { name: "anchorBlockHash", type: "bytes32" },
  ],
};

/** How many blocks back an anchor block may be (`TeeVerifier.QUOTE_WINDOW`). */
export const QUOTE_WINDOW = 256;

/**
 * keccak256(abi.encode(ENCLAVE_BINDING_TYPEHASH, ...fields)): the first half of the report data.
 *
 * @example
 * const hash = enclaveBindingHash({ signer, hpkePublicKey, operator, chainId: 31337n, verifier, anchorBlock, anchorBlockHash });
 */
export function enclaveBindingHash(binding: EnclaveBinding): string {
  return TypedDataEncoder.hashStruct("EnclaveBinding", ENCLAVE_BINDING_TYPES, binding);
}

/**
 * The 64 bytes a quote's report data must hold: {@link enclaveBindingHash} then 32 zero bytes.
 *
 * @example
 * const quote = createDevelopmentQuote(platform, { teeType: TeeType.Tdx, reportData: enclaveReportData(binding) });
 */
export function enclaveReportData(binding: EnclaveBinding): Uint8Array {
  return getBytes(concat([enclaveBindingHash(binding), new Uint8Array(32)]));
}

/**
 * The measurement a registration records and a model version binds: keccak256 of MRTD ‖ RTMR0..3 (TDX, 240 bytes)
 * or MRENCLAVE ‖ MRSIGNER (SGX, 64 bytes), as `IDcapVerifier.VerifiedQuote.measurementHash`.
 */
export function measurementHash(measurements: Uint8Array): string {
  if (measurements.length !== 240 && measurements.length !== 64)
    throw new RangeError("measurements are 240 bytes (TDX) or 64 (SGX)");
  return keccak256(measurements);
}
