import { ZkmlConstraintError } from "./errors";
import { fromField } from "./field";
import { buildCircuitInput, type ProveRequest } from "./prover";
import { readSymbols } from "./sym";
import { calculateWitness } from "./witness";

/** The commitments of an inference and the output they commit to, as the circuit computes them. */
export interface InferenceCommitments {
  /** The job's `inputHash` (as a uint256 below the field order). */
  inputCommitment: bigint;
  /** The job's `outputHash`. */
  outputCommitment: bigint;
  output: bigint[];
  argmax: number;
}

/**
 * Computes the input and output commitments (and the output) by running the circuit's witness calculator, with
 * no proof: what a requester needs to publish `inputHash` before requesting a job, and what a consumer runs to
 * check an output revealed with its salt. Milliseconds, versus about a second for a proof.
 *
 * @example
 * const { inputCommitment } = await computeCommitments(zk.circuit, { model, input, inputSalt, outputSalt: 0n, context: 0n });
 */
export async function computeCommitments(circuit: { wasmPath: string; symPath: string }, req: ProveRequest): Promise<InferenceCommitments> {
  const witness = await calculateWitness(circuit.wasmPath, buildCircuitInput(req));
  const sym = await readSymbols(circuit.symPath);
  const at = (name: string): bigint => {
    const i = sym.get(name);
    if (i === undefined) throw new ZkmlConstraintError(`signal ${name} is missing from ${circuit.symPath}`);
    return witness[i];
  };
  return {
    inputCommitment: at("main.inputCommitment"),
    outputCommitment: at("main.outputCommitment"),
    output: Array.from({ length: req.model.outputSize }, (_, i) => fromField(at(`main.out[${i}]`))),
    argmax: Number(at("main.argmax")),
  };
}
