import { randomBytes } from "node:crypto";
import { AbiCoder, keccak256 } from "ethers";
import * as snarkjs from "snarkjs";
import { ZkmlConstraintError, ZkmlToolError } from "./errors";
import { SNARK_FIELD, toField } from "./field";
import { checkQuantizedInput, type QuantizedModel } from "./quantize";
import type { CircuitInput } from "./witness";

/** What the prover needs besides the model: the quantized input, both salts and the claim context. */
export interface ProveRequest {
  model: QuantizedModel;
  /** Quantized input (see `quantizeInput`). */
  input: readonly bigint[];
  /** Private salt of the input commitment (chosen by the requester). */
  inputSalt: bigint;
  /** Private salt of the output commitment (chosen by the node, revealed to the consumer with the output). */
  outputSalt: bigint;
  /** Public context binding the proof to one claim (see {@link claimContext}). */
  context: bigint;
}

/** A Groth16 proof in the argument layout of the snarkjs-generated Solidity verifier. */
export interface SolidityProof {
  a: [bigint, bigint];
  b: [[bigint, bigint], [bigint, bigint]];
  c: [bigint, bigint];
  /** Public signals: [inputCommitment, outputCommitment, context]. */
  input: bigint[];
}

/** A proof with its public signals. */
export interface ProofResult {
  proof: snarkjs.Groth16Proof;
  publicSignals: string[];
  inputCommitment: bigint;
  outputCommitment: bigint;
  context: bigint;
  solidity: SolidityProof;
  proveSeconds: number;
}

/** A uniformly random salt below the field order (31 random bytes). */
export function randomSalt(): bigint {
  return BigInt("0x" + randomBytes(31).toString("hex"));
}

/**
 * The public `context` signal of a claim: `uint256(keccak256(abi.encode(chainId, escrow, jobId, node))) % p`.
 * `ZkInferenceVerifier` recomputes it on-chain, so a proof cannot be replayed for another job, node, escrow or
 * chain.
 */
export function claimContext(claim: { chainId: bigint; escrow: string; jobId: bigint; node: string }): bigint {
  const encoded = AbiCoder.defaultAbiCoder().encode(["uint256", "address", "uint64", "address"], [claim.chainId, claim.escrow, claim.jobId, claim.node]);
  return BigInt(keccak256(encoded)) % SNARK_FIELD;
}

/** Builds the witness-calculator input of a model circuit (field elements as decimal strings). */
export function buildCircuitInput(req: ProveRequest): CircuitInput {
  checkQuantizedInput(req.model, req.input);
  for (const [name, v] of [["inputSalt", req.inputSalt], ["outputSalt", req.outputSalt], ["context", req.context]] as const) {
    if (v < 0n || v >= SNARK_FIELD) throw new ZkmlConstraintError(`${name} must be a field element`);
  }
  return {
    in: req.input.map((x) => toField(x).toString()),
    inputSalt: req.inputSalt.toString(),
    outputSalt: req.outputSalt.toString(),
    context: req.context.toString(),
  };
}

/** Converts a snarkjs proof to the argument layout of the Solidity verifier (G2 coordinates swapped). */
export function toSolidityProof(proof: snarkjs.Groth16Proof, publicSignals: readonly string[]): SolidityProof {
  const n = (s: string | undefined): bigint => BigInt(s ?? "0");
  return {
    a: [n(proof.pi_a[0]), n(proof.pi_a[1])],
    b: [
      [n(proof.pi_b[0]?.[1]), n(proof.pi_b[0]?.[0])],
      [n(proof.pi_b[1]?.[1]), n(proof.pi_b[1]?.[0])],
    ],
    c: [n(proof.pi_c[0]), n(proof.pi_c[1])],
    input: publicSignals.map((s) => BigInt(s)),
  };
}

/** ABI-encodes a proof as the `bytes proof` of `IInferenceVerifier.verify`: `abi.encode(uint256[2] a, uint256[2][2] b, uint256[2] c)`. */
export function encodeProofBytes(p: SolidityProof): string {
  return AbiCoder.defaultAbiCoder().encode(["uint256[2]", "uint256[2][2]", "uint256[2]"], [p.a, p.b, p.c]);
}

/**
 * Generates the witness with the circuit's wasm and a Groth16 proof with snarkjs.
 *
 * @throws ZkmlConstraintError when the input violates the circuit (e.g. out of range).
 * @example
 * const res = await proveInference({ wasmPath, zkeyPath }, { model, input, inputSalt, outputSalt, context });
 */
export async function proveInference(circuit: { wasmPath: string; zkeyPath: string }, req: ProveRequest): Promise<ProofResult> {
  const input = buildCircuitInput(req);
  const started = Date.now();
  let out: { proof: snarkjs.Groth16Proof; publicSignals: string[] };
  try {
    out = await snarkjs.groth16.fullProve(input, circuit.wasmPath, circuit.zkeyPath);
  } catch (cause) {
    throw new ZkmlToolError("groth16 fullProve failed", { cause });
  }
  const [inputCommitment, outputCommitment, context] = out.publicSignals.map((s) => BigInt(s));
  return {
    proof: out.proof,
    publicSignals: out.publicSignals,
    inputCommitment,
    outputCommitment,
    context,
    solidity: toSolidityProof(out.proof, out.publicSignals),
    proveSeconds: (Date.now() - started) / 1000,
  };
}

/** Verifies a Groth16 proof against a verification key off-chain. */
export async function verifyInference(vk: snarkjs.VerificationKey, publicSignals: string[], proof: snarkjs.Groth16Proof): Promise<boolean> {
  return snarkjs.groth16.verify(vk, publicSignals, proof);
}

/** Terminates snarkjs's cached curve (its worker threads), so a process can exit. */
export async function releaseSnarkjs(): Promise<void> {
  const g = globalThis as { curve_bn128?: { terminate(): Promise<void> } };
  if (g.curve_bn128 !== undefined) {
    await g.curve_bn128.terminate();
    delete g.curve_bn128;
  }
}
