import { AbiCoder, keccak256 } from "ethers";
import type { VerificationKey } from "snarkjs";
import { InputError } from "../core/errors";
import { verificationKeyToSolidity, type G2 } from "./solidity";
import type { SolidityProof } from "./claim";

/**
 * The constructor argument of `contracts/verifiers/zk/Groth16SlotVerifier.sol` and the `key` of
 * `ZkInferenceVerifier.setSlotVerifier`: alpha, beta, gamma, delta, then IC0..ICN, `16 + 2N` words for N slots.
 *
 * @throws InputError when the key is malformed or has fewer than two public signals.
 * @example
 * await zkVerifier.connect(owner).setSlotVerifier(modelId, version, slotVerifyingKeyArgs(batch.setup.vk));
 */
export function slotVerifyingKeyArgs(vk: VerificationKey): bigint[] {
  const k = verificationKeyToSolidity(vk);
  if (k.ic.length < 3)
    throw new InputError(`a slot key has at least two public signals; this one has ${k.ic.length - 1}`);
  const g2 = (p: G2): bigint[] => [p[0][0], p[0][1], p[1][0], p[1][1]];
  return [...k.alpha1, ...g2(k.beta2), ...g2(k.gamma2), ...g2(k.delta2), ...k.ic.flat()];
}

/** The hash `ZkInferenceVerifier` records for a slot key: `keccak256(abi.encode(uint256[] key))`. */
export function slotKeyHash(words: readonly bigint[]): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["uint256[]"], [words]));
}

/** The first word of a slot proof: `ZkInferenceVerifier.SLOT_PROOF` (an RLC batch's first word is the offset 0x40). */
export const SLOT_PROOF = 1n;

const PROOF_TUPLE = "tuple(uint256[2] a, uint256[2][2] b, uint256[2] c)";

/**
 * The `proof` bytes of a ZK `submitBatch` settled by one N-slot proof:
 * `abi.encode(uint256 SLOT_PROOF, uint256 slots, uint256[] packedOutputs, Proof proof)`, packed outputs in job order
 * (job i is slot i; slots past the last job repeat slot 0).
 */
export function encodeZkSlotProof(
  slots: number,
  packedOutputs: readonly bigint[],
  proof: Pick<SolidityProof, "a" | "b" | "c">,
): string {
  return AbiCoder.defaultAbiCoder().encode(
    ["uint256", "uint256", "uint256[]", PROOF_TUPLE],
    [SLOT_PROOF, slots, packedOutputs, { a: proof.a, b: proof.b, c: proof.c }],
  );
}
