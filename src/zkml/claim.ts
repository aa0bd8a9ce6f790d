import { AbiCoder, dataLength, getBytes, hexlify, keccak256, toBeHex } from "ethers";
import * as poseidon from "poseidon-lite";
import { ZkmlConstraintError, ZkmlOverflowError } from "./errors";
import { SNARK_FIELD } from "./field";
import { checkQuantizedInput, type QuantizedModel } from "./quantize";
import type { ReferenceResult } from "./reference";

/**
 * How a model circuit's single public signal binds input and output (see docs/zk-setup.md):
 * `claim = (VectorCommit(salt, input) mod 2^CLAIM_INPUT_BITS) * 2^CLAIM_OUTPUT_BITS + packedOutput`. A ZK job's
 * commitment is defined as those low 200 bits ({@link inputCommitment}), so the claim is
 * `ZkInferenceVerifier.claimSignal(inputHash, packedOutput)` of the job's own `inputHash`.
 */
export const CLAIM_INPUT_BITS = 200;
/** Width of the packed output. */
export const CLAIM_OUTPUT_BITS = 48;
/** A regressor's output `v` (fixed point) is packed as `v + VALUE_OFFSET`, so the packed value is non-negative. */
export const VALUE_OFFSET = 1n << BigInt(CLAIM_OUTPUT_BITS - 1);
/** Values per Poseidon call of the input commitment (Poseidon of width 16: the chaining state plus 15). */
export const COMMIT_CHUNK = 15;
/** Bits of one packed word of the input commitment: below the 254-bit field, so packing is injective. */
export const PACK_BITS = 253;

/** What a circuit publishes of its output: a classifier's class index, or a regressor's fixed-point value. */
export type OutputKind = "argmax" | "value";

/** A model with one output is a regressor (its value is published), any other a classifier (its argmax). */
export function outputKind(model: Pick<QuantizedModel, "outputSize">): OutputKind {
  return model.outputSize === 1 ? "value" : "argmax";
}

/** Bits of one input in the packed commitment: the circuit's range check makes `x + 2^inputBits` fit. */
export function inputWidth(model: Pick<QuantizedModel, "inputBits">): number {
  return model.inputBits + 1;
}

/** How many quantized inputs share one field element of the commitment. */
export function inputsPerWord(model: Pick<QuantizedModel, "inputBits">): number {
  const per = Math.floor(PACK_BITS / inputWidth(model));
  if (per < 1)
    throw new ZkmlOverflowError(`input width ${inputWidth(model)} bits does not fit a ${PACK_BITS}-bit word`);
  return per;
}

/** Packs quantized inputs into field elements: word k = Σ_j (x[k·per + j] + 2^inputBits) · 2^(width·j). */
export function packInput(model: QuantizedModel, input: readonly bigint[]): bigint[] {
  checkQuantizedInput(model, input);
  const per = inputsPerWord(model);
  const width = BigInt(inputWidth(model));
  const offset = 1n << BigInt(model.inputBits);
  const words: bigint[] = [];
  for (let k = 0; k * per < input.length; k++) {
    let word = 0n;
    input.slice(k * per, (k + 1) * per).forEach((x, j) => {
      word += (x + offset) << (width * BigInt(j));
    });
    words.push(word);
  }
  return words;
}

type PoseidonFn = (inputs: bigint[]) => bigint;
const POSEIDON: Record<number, PoseidonFn> = {
  2: poseidon.poseidon2,
  3: poseidon.poseidon3,
  4: poseidon.poseidon4,
  5: poseidon.poseidon5,
  6: poseidon.poseidon6,
  7: poseidon.poseidon7,
  8: poseidon.poseidon8,
  9: poseidon.poseidon9,
  10: poseidon.poseidon10,
  11: poseidon.poseidon11,
  12: poseidon.poseidon12,
  13: poseidon.poseidon13,
  14: poseidon.poseidon14,
  15: poseidon.poseidon15,
  16: poseidon.poseidon16,
};

/** `VectorCommit(salt, words)` of circuits/lib/commit.circom: state = salt, then Poseidon(state, chunk) per 15 words. */
export function vectorCommit(salt: bigint, words: readonly bigint[]): bigint {
  if (salt < 0n || salt >= SNARK_FIELD) throw new ZkmlConstraintError("the salt must be a field element");
  let state = salt;
  for (let c = 0; c * COMMIT_CHUNK < words.length; c++) {
    const chunk = words.slice(c * COMMIT_CHUNK, (c + 1) * COMMIT_CHUNK);
    const hash = POSEIDON[chunk.length + 1];
    if (hash === undefined) throw new ZkmlConstraintError(`no Poseidon of width ${chunk.length + 1}`);
    state = hash([state, ...chunk]);
  }
  return state;
}

/** `2^CLAIM_INPUT_BITS - 1`: the bits of the Poseidon commitment a ZK job commits to. */
const COMMITMENT_MASK = (1n << BigInt(CLAIM_INPUT_BITS)) - 1n;

/**
 * A ZK job's input commitment (its `inputHash`): the low `CLAIM_INPUT_BITS` (200) bits of the salted Poseidon
 * commitment `VectorCommit(salt, packed input)` the circuit computes, which is exactly what the circuit's claim
 * carries and what the escrow requires (`ZkInferenceVerifier.checkRequest` refuses 2^200 or more). Pure TypeScript
 * (poseidon-lite): no circuit files needed. The one function for it: the SDK's request, the node's check before a
 * claim, tests and benchmarks all call this.
 *
 * @example
 * const inputHash = toBeHex(inputCommitment(model, quantizeInput(model, x), randomSalt()), 32);
 */
export function inputCommitment(model: QuantizedModel, input: readonly bigint[], salt: bigint): bigint {
  return vectorCommit(salt, packInput(model, input)) & COMMITMENT_MASK;
}

/** The packed output of an evaluation: the argmax of a classifier, or `value + 2^47` of a regressor. */
export function packedOutputOf(model: QuantizedModel, result: Pick<ReferenceResult, "output" | "argmax">): bigint {
  if (outputKind(model) === "argmax") return BigInt(result.argmax);
  const packed = result.output[0] + VALUE_OFFSET;
  if (packed < 0n || packed >> BigInt(CLAIM_OUTPUT_BITS) !== 0n)
    throw new ZkmlOverflowError(`output ${result.output[0]} does not fit ${CLAIM_OUTPUT_BITS} bits`);
  return packed;
}

/**
 * The circuit's public signal for a job's input commitment (see {@link inputCommitment}) and a packed output:
 * `commitment * 2^48 + packedOutput`, as `ZkInferenceVerifier.claimSignal` computes it.
 *
 * @throws ZkmlOverflowError for a commitment of more than 200 bits (the escrow refuses such a job) or an output of
 * more than 48 bits.
 */
export function claimSignal(commitment: bigint, packedOutput: bigint): bigint {
  if (commitment < 0n || commitment >> BigInt(CLAIM_INPUT_BITS) !== 0n)
    throw new ZkmlOverflowError(`input commitment ${commitment} does not fit ${CLAIM_INPUT_BITS} bits`);
  if (packedOutput < 0n || packedOutput >> BigInt(CLAIM_OUTPUT_BITS) !== 0n)
    throw new ZkmlOverflowError(`packed output ${packedOutput} does not fit ${CLAIM_OUTPUT_BITS} bits`);
  return (commitment << BigInt(CLAIM_OUTPUT_BITS)) | packedOutput;
}

/** A ZK job's output bytes: `abi.encodePacked(uint48(packedOutput))`, 6 bytes. */
export function encodeZkOutput(packedOutput: bigint): string {
  return toBeHex(packedOutput, CLAIM_OUTPUT_BITS / 8);
}

/** What a ZK job's output means for its model. */
export interface DecodedZkOutput {
  packedOutput: bigint;
  kind: OutputKind;
  /** Classifier: the class index. */
  classIndex?: number;
  /** Regressor: the fixed-point output (scale 2^scaleBits) and its real value. */
  fixedPoint?: bigint;
  value?: number;
}

/** Decodes a ZK job's 6 output bytes for `model`. */
export function decodeZkOutput(model: QuantizedModel, output: string | Uint8Array): DecodedZkOutput {
  const bytes = getBytes(output);
  if (dataLength(bytes) !== CLAIM_OUTPUT_BITS / 8)
    throw new ZkmlConstraintError(`a ZK output is ${CLAIM_OUTPUT_BITS / 8} bytes, got ${bytes.length}`);
  const packedOutput = BigInt(hexlify(bytes));
  const kind = outputKind(model);
  if (kind === "argmax") return { packedOutput, kind, classIndex: Number(packedOutput) };
  const fixedPoint = packedOutput - VALUE_OFFSET;
  return { packedOutput, kind, fixedPoint, value: Number(fixedPoint) / 2 ** model.scaleBits };
}

/** The keccak256 the escrow records as the output hash of a ZK job. */
export function zkOutputHash(packedOutput: bigint): string {
  return keccak256(encodeZkOutput(packedOutput));
}

/** A Groth16 proof in the argument layout of the Solidity verifier (G2 coordinates imaginary part first). */
export interface SolidityProof {
  a: [bigint, bigint];
  b: [[bigint, bigint], [bigint, bigint]];
  c: [bigint, bigint];
  /** The public signal: `[claim]`. */
  input: bigint[];
}

const PROOF_TUPLE = "tuple(uint256[2] a, uint256[2][2] b, uint256[2] c)";

/** The `proof` bytes of a ZK `submit`: `abi.encode(uint256 packedOutput, Proof proof)`. */
export function encodeZkProof(packedOutput: bigint, proof: SolidityProof): string {
  return AbiCoder.defaultAbiCoder().encode(
    ["uint256", PROOF_TUPLE],
    [packedOutput, { a: proof.a, b: proof.b, c: proof.c }],
  );
}

/** One job's output and proof, as a ZK `submit` or one entry of a `submitBatch` carries them. */
export interface ZkProofItem {
  packedOutput: bigint;
  proof: Pick<SolidityProof, "a" | "b" | "c">;
}

/** A decoded `(uint256[2] a, uint256[2][2] b, uint256[2] c)` tuple. */
function proofFrom(p: {
  a: readonly bigint[];
  b: readonly (readonly bigint[])[];
  c: readonly bigint[];
}): ZkProofItem["proof"] {
  const pair = (v: readonly bigint[]): [bigint, bigint] => [BigInt(v[0]!), BigInt(v[1]!)];
  return { a: pair(p.a), b: [pair(p.b[0]!), pair(p.b[1]!)], c: pair(p.c) };
}

/** Reads back the `proof` bytes of a ZK `submit` (see {@link encodeZkProof}). */
export function decodeZkProof(bytes: string): ZkProofItem {
  const [packedOutput, p] = AbiCoder.defaultAbiCoder().decode(["uint256", PROOF_TUPLE], bytes);
  return { packedOutput: BigInt(packedOutput), proof: proofFrom(p) };
}

/** Reads back the `proof` bytes of a ZK `submitBatch` (see {@link encodeZkBatchProof}), in job order. */
export function decodeZkBatchProof(bytes: string): ZkProofItem[] {
  const [packedOutputs, proofs] = AbiCoder.defaultAbiCoder().decode(["uint256[]", `${PROOF_TUPLE}[]`], bytes);
  return (proofs as unknown[]).map((p, i) => ({
    packedOutput: BigInt((packedOutputs as bigint[])[i]!),
    proof: proofFrom(p as Parameters<typeof proofFrom>[0]),
  }));
}

/** The `proof` bytes of a ZK `submitBatch`: `abi.encode(uint256[] packedOutputs, Proof[] proofs)`, in job order. */
export function encodeZkBatchProof(items: readonly ZkProofItem[]): string {
  return AbiCoder.defaultAbiCoder().encode(
    ["uint256[]", `${PROOF_TUPLE}[]`],
    [items.map((i) => i.packedOutput), items.map((i) => ({ a: i.proof.a, b: i.proof.b, c: i.proof.c }))],
  );
}
