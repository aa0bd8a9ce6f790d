import { readFile } from "node:fs/promises";
import * as snarkjs from "snarkjs";
import { checkSlots } from "./batch-circuit";
import { ZkmlConstraintError, ZkmlToolError } from "./errors";
import { buildCircuitInput, toSolidityProof } from "./prover";
import type { SolidityProof } from "./claim";
import type { QuantizedModel } from "./quantize";
import { loadWitnessCalculator, type CircuitInput, type WitnessCalculator } from "./witness";

/** One job of a slot proof: its quantized input and the salt of its commitment. */
export interface SlotJob {
  input: readonly bigint[];
  inputSalt: bigint;
}

/** A slot proof with its public signals. */
export interface SlotProofResult {
  proof: snarkjs.Groth16Proof;
  /** The claim of every slot, in slot order (unused slots repeat slot 0). */
  claims: bigint[];
  solidity: SolidityProof;
  proveSeconds: number;
}

/**
 * The witness-calculator input of an N-slot circuit for `jobs` (1 to N of them): slot i proves job i, and every
 * slot past the last job is a copy of job 0, the padding the verifier expects.
 *
 * @throws ZkmlConstraintError when there are no jobs or more than `slots`, or a job's input is out of range.
 */
export function buildSlotInput(model: QuantizedModel, slots: number, jobs: readonly SlotJob[]): CircuitInput {
  checkSlots(slots);
  if (jobs.length === 0 || jobs.length > slots)
    throw new ZkmlConstraintError(`a ${slots}-slot proof carries 1 to ${slots} jobs, not ${jobs.length}`);
  const each = jobs.map((j) => buildCircuitInput({ model, input: j.input, inputSalt: j.inputSalt }));
  const padded = Array.from({ length: slots }, (_, i) => each[i] ?? each[0]!);
  // The witness calculator takes `in[N][size]` flattened in row-major order.
  return { in: padded.flatMap((c) => c.in), inputSalt: padded.map((c) => c.inputSalt as string) };
}

/**
 * A prover that keeps one N-slot circuit loaded (witness calculator and proving key), as `CircuitProver` does for
 * the single-job circuit: one Groth16 proof for up to N jobs of one model version.
 *
 * @example
 * const prover = await SlotProver.load({ wasm: batch.circuit.wasmPath, zkey: batch.setup.zkeyPath }, model, 16);
 * const { solidity } = await prover.prove(jobs);
 */
export class SlotProver {
  private constructor(
    private readonly witness: WitnessCalculator,
    private readonly zkey: Uint8Array,
    readonly model: QuantizedModel,
    readonly slots: number,
  ) {}

  /** Loads an N-slot circuit's witness wasm and proving key (paths or bytes). */
  static async load(
    files: { wasm: string | Uint8Array; zkey: string | Uint8Array },
    model: QuantizedModel,
    slots: number,
  ): Promise<SlotProver> {
    checkSlots(slots);
    const zkey = typeof files.zkey === "string" ? await readFile(files.zkey) : files.zkey;
    return new SlotProver(await loadWitnessCalculator(files.wasm), zkey, model, slots);
  }

  /**
   * Proves 1 to N jobs in one proof (slots past the last job padded with job 0).
   *
   * @throws ZkmlConstraintError when an input violates the circuit; ZkmlToolError when snarkjs fails.
   */
  async prove(jobs: readonly SlotJob[]): Promise<SlotProofResult> {
    const started = Date.now();
    const input = buildSlotInput(this.model, this.slots, jobs);
    let wtns: Uint8Array;
    try {
      wtns = await this.witness.calculateWTNSBin(input, true);
    } catch (cause) {
      throw new ZkmlConstraintError("witness generation failed: an input violates a circuit constraint", { cause });
    }
    let out: { proof: snarkjs.Groth16Proof; publicSignals: string[] };
    try {
      out = await snarkjs.groth16.prove({ type: "mem", data: this.zkey }, { type: "mem", data: wtns });
    } catch (cause) {
      throw new ZkmlToolError("groth16 prove failed", { cause });
    }
    if (out.publicSignals.length !== this.slots)
      throw new ZkmlToolError(`expected ${this.slots} public signals, got ${out.publicSignals.length}`);
    return {
      proof: out.proof,
      claims: out.publicSignals.map((s) => BigInt(s)),
      solidity: toSolidityProof(out.proof, out.publicSignals),
      proveSeconds: (Date.now() - started) / 1000,
    };
  }
}
