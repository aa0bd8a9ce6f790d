import { readFile } from "node:fs/promises";
import { ZkmlConstraintError } from "./errors";

/** A circuit input as the circom witness calculator takes it: decimal strings (or arrays of them). */
export type CircuitInput = Record<string, string | string[]>;

interface WitnessCalculator {
  calculateWitness(input: CircuitInput, sanityCheck: boolean): Promise<bigint[]>;
  /** The witness in snarkjs's binary `.wtns` format. */
  calculateWTNSBin(input: CircuitInput, sanityCheck: boolean): Promise<Uint8Array>;
}

type Builder = (code: Buffer) => Promise<WitnessCalculator>;

function isBuilder(v: unknown): v is Builder {
  return typeof v === "function";
}

/**
 * Computes the full witness (index 0 is the constant 1) of the circuit whose witness wasm is at `wasmPath`.
 *
 * @throws ZkmlConstraintError when the calculator rejects the input (a failed `assert` or `===` during
 * witness generation, e.g. an input outside the range check).
 * @example
 * const w = await calculateWitness(circuit.wasmPath, { in: ["1", "2"], inputSalt: "7", ... });
 */
export async function calculateWitness(wasmPath: string, input: CircuitInput): Promise<bigint[]> {
  const wc = await loadWitnessCalculator(wasmPath);
  try {
    return await wc.calculateWitness(input, true);
  } catch (cause) {
    throw new ZkmlConstraintError("witness generation failed: the input violates a circuit constraint", { cause });
  }
}

/**
 * Instantiates a witness calculator for a circuit's wasm (a path or its bytes), for callers that compute many
 * witnesses with one circuit.
 */
export async function loadWitnessCalculator(wasm: string | Uint8Array): Promise<WitnessCalculator> {
  // circom_runtime (the runtime snarkjs itself uses) runs any circom 2 witness wasm, so a node needs only the
  // published `model.wasm`, not the JavaScript circom generated beside it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const runtime = require("circom_runtime") as { WitnessCalculatorBuilder?: unknown };
  const builder = runtime.WitnessCalculatorBuilder;
  if (!isBuilder(builder)) throw new ZkmlConstraintError("circom_runtime has no WitnessCalculatorBuilder");
  return builder(typeof wasm === "string" ? await readFile(wasm) : Buffer.from(wasm));
}

export type { WitnessCalculator };
