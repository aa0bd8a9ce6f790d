import { CLAIM_INPUT_BITS, packedOutputOf } from "./claim";
import { ZkmlConstraintError } from "./errors";
import { fromField } from "./field";
import { buildCircuitInput, type ProveRequest } from "./prover";
import { readSymbols } from "./sym";
import { calculateWitness } from "./witness";

/** What a model circuit computes for an input, read from its witness. */
export interface WitnessEvaluation {
  /** The job's input commitment (a requester's `inputHash`): the low 200 bits of the circuit's Poseidon commitment. */
  inputCommitment: bigint;
  /** The circuit's whole Poseidon commitment (`main.inputCommitment`), of which the job commits to the low 200 bits. */
  poseidonCommitment: bigint;
  /** The public signal. */
  claim: bigint;
  packedOutput: bigint;
  /** The output layer, as signed fixed-point integers. */
  output: bigint[];
  /** Index of the first maximum of `output`. */
  argmax: number;
}

/**
 * Runs the circuit's witness calculator without proving (milliseconds, versus about a second for a proof) and reads
 * the commitment, the claim and the output: what tests compare with the TypeScript reference (`evaluateQuantized`,
 * `inputCommitment`).
 *
 * @example
 * const { inputCommitment, claim } = await runWitness(zk.circuit, { model, input, inputSalt });
 */
export async function runWitness(
  circuit: { wasmPath: string; symPath: string },
  req: ProveRequest,
): Promise<WitnessEvaluation> {
  const witness = await calculateWitness(circuit.wasmPath, buildCircuitInput(req));
  const sym = await readSymbols(circuit.symPath);
  const at = (name: string): bigint => {
    const i = sym.get(name);
    if (i === undefined) throw new ZkmlConstraintError(`signal ${name} is missing from ${circuit.symPath}`);
    return witness[i];
  };
  const output = Array.from({ length: req.model.outputSize }, (_, i) => fromField(at(`main.out[${i}]`)));
  const argmax = output.reduce((best, v, i) => (v > output[best]! ? i : best), 0);
  const packedOutput = at("main.packedOutput");
  if (packedOutput !== packedOutputOf(req.model, { output, argmax }))
    throw new ZkmlConstraintError("the circuit's packed output differs from its outputs");
  const poseidonCommitment = at("main.inputCommitment");
  const inputCommitment = poseidonCommitment & ((1n << BigInt(CLAIM_INPUT_BITS)) - 1n);
  return { inputCommitment, poseidonCommitment, claim: at("main.claim"), packedOutput, output, argmax };
}
