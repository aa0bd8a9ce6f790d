import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { ZkmlConstraintError } from "./errors";

/** A circuit input as the circom witness calculator takes it: decimal strings (or arrays of them). */
export type CircuitInput = Record<string, string | string[]>;

interface WitnessCalculator {
  calculateWitness(input: CircuitInput, sanityCheck: boolean): Promise<bigint[]>;
}

type Builder = (code: Buffer) => Promise<WitnessCalculator>;

function isBuilder(v: unknown): v is Builder {
  return typeof v === "function";
}

/**
 * Computes the full witness (index 0 is the constant 1) with the witness calculator circom2 generated next to
 * `wasmPath` (`<name>_js/witness_calculator.js`).
 *
 * @throws ZkmlConstraintError when the calculator rejects the input (a failed `assert` or `===` during
 * witness generation, e.g. an input outside the range check).
 * @example
 * const w = await calculateWitness(circuit.wasmPath, { in: ["1", "2"], inputSalt: "7", ... });
 */
export async function calculateWitness(wasmPath: string, input: CircuitInput): Promise<bigint[]> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const builder: unknown = require(resolve(dirname(wasmPath), "witness_calculator.js"));
  if (!isBuilder(builder)) throw new ZkmlConstraintError(`no witness calculator next to ${wasmPath}`);
  const wc = await builder(await readFile(wasmPath));
  try {
    return await wc.calculateWitness(input, true);
  } catch (cause) {
    throw new ZkmlConstraintError("witness generation failed: the input violates a circuit constraint", { cause });
  }
}
