/** What an enclave signs for a TEE-mode result (EIP-712, as `TeeVerifier` checks it). */
import type { TypedDataDomain, TypedDataField, Signer } from "ethers";

/** The EIP-712 type an enclave signs for a result (`TeeVerifier.RESULT_TYPEHASH`). */
export const INFERENCE_RESULT_TYPES: Record<string, TypedDataField[]> = {
  InferenceResult: [
    { name: "escrow", type: "address" },
    { name: "jobId", type: "uint64" },
    { name: "modelId", type: "uint64" },
    { name: "version", type: "uint32" },
    { name: "inputHash", type: "bytes32" },
    { name: "outputHash", type: "bytes32" },
    { name: "node", type: "address" },
  ],
};

export interface InferenceResultMessage {
  escrow: string;
  jobId: bigint;
  modelId: bigint;
  version: bigint;
  inputHash: string;
  outputHash: string;
  node: string;
}

/** The EIP-712 domain of a TeeVerifier deployment. */
export function teeDomain(chainId: bigint, verifier: string): TypedDataDomain {
  return { name: "InferenceTeeVerifier", version: "1", chainId, verifyingContract: verifier };
}

/** Signs a result with an enclave key; the 65-byte signature is the `proof` of a TEE-mode submission. */
export async function signInferenceResult(
  enclave: Signer,
  domain: TypedDataDomain,
  message: InferenceResultMessage,
): Promise<string> {
  return enclave.signTypedData(domain, INFERENCE_RESULT_TYPES, message);
}
