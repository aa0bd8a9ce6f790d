import { AbiCoder, dataLength, dataSlice, keccak256 } from "ethers";
import type { VerificationKey } from "snarkjs";
import { InputError } from "../core/errors";
import { verificationKeyFromWords, verificationKeyToSolidity, type G2 } from "./solidity";
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

/** A slot proof read back from `submitBatch` calldata (see {@link encodeZkSlotProof}). */
export interface DecodedZkSlotProof {
  slots: number;
  /** The packed output of each job, in job order. */
  packedOutputs: bigint[];
  proof: Pick<SolidityProof, "a" | "b" | "c">;
}

/** Whether `submitBatch` proof bytes carry one N-slot proof (first word `SLOT_PROOF`) rather than an RLC batch. */
export function isZkSlotProof(bytes: string): boolean {
  return dataLength(bytes) >= 32 && BigInt(dataSlice(bytes, 0, 32)) === SLOT_PROOF;
}

/**
 * Reads back the `proof` bytes of a `submitBatch` settled by one N-slot proof.
 *
 * @throws InputError when the bytes are not a slot proof.
 * @example const { slots, packedOutputs, proof } = decodeZkSlotProof(call.args.proof);
 */
export function decodeZkSlotProof(bytes: string): DecodedZkSlotProof {
  if (!isZkSlotProof(bytes)) throw new InputError("the proof bytes are not an N-slot proof (first word is not 1)");
  const [, slots, packed, p] = AbiCoder.defaultAbiCoder().decode(
    ["uint256", "uint256", "uint256[]", PROOF_TUPLE],
    bytes,
  );
  const pair = (v: readonly bigint[]): [bigint, bigint] => [BigInt(v[0]!), BigInt(v[1]!)];
  return {
    slots: Number(slots),
    packedOutputs: (packed as bigint[]).map(BigInt),
    proof: { a: pair(p.a), b: [pair(p.b[0]), pair(p.b[1])], c: pair(p.c) },
  };
}

/**
 * Rebuilds a snarkjs verification key of N public signals from the `16 + 2(N + 1)` words a `Groth16SlotVerifier`
 * reports (`verifyingKey()`), the inverse of {@link slotVerifyingKeyArgs}.
 *
 * @throws InputError for a word count that is not a slot key's.
 */
export function slotVerificationKeyFromWords(words: readonly bigint[]): VerificationKey {
  if (words.length < 20 || words.length % 2 !== 0)
    throw new InputError(`a slot key has 16 + 2(N + 1) words for N >= 2, got ${words.length}`);
  const head = verificationKeyFromWords(words.slice(0, 18));
  const ic: string[][] = [];
  for (let i = 14; i < words.length; i += 2) ic.push([words[i]!.toString(), words[i + 1]!.toString(), "1"]);
  return { ...head, nPublic: ic.length - 1, IC: ic };
}
