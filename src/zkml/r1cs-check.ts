import * as snarkjs from "snarkjs";
import { SNARK_FIELD } from "./field";

/** One linear combination: witness index -> coefficient. */
export type LinearCombination = Map<number, bigint>;

/** An R1CS in memory: constraints `<A,w> * <B,w> = <C,w>` over the field. */
export interface R1cs {
  prime: bigint;
  nVars: number;
  constraints: Array<[LinearCombination, LinearCombination, LinearCombination]>;
}

function toLc(obj: Record<string, string>): LinearCombination {
  return new Map(Object.entries(obj).map(([k, v]) => [Number(k), BigInt(v)]));
}

/** Loads an `.r1cs` file (through snarkjs's JSON export). */
export async function loadR1cs(path: string): Promise<R1cs> {
  const json = await snarkjs.r1cs.exportJson(path);
  return {
    prime: BigInt(json.prime),
    nVars: json.nVars,
    constraints: json.constraints.map(([a, b, c]) => [toLc(a), toLc(b), toLc(c)]),
  };
}

function evalLc(lc: LinearCombination, w: readonly bigint[], p: bigint): bigint {
  let acc = 0n;
  for (const [i, coef] of lc) acc = (acc + coef * w[i]) % p;
  return acc;
}

/**
 * Checks a full witness against every constraint, independently of the witness calculator (so a hand-made
 * witness can be tested). Returns the indices of the violated constraints (empty when the witness satisfies
 * the circuit).
 *
 * @example
 * expect(findViolatedConstraints(r1cs, witness)).to.deep.equal([]);
 */
export function findViolatedConstraints(r1cs: R1cs, witness: readonly bigint[]): number[] {
  const p = r1cs.prime === 0n ? SNARK_FIELD : r1cs.prime;
  if (witness.length !== r1cs.nVars)
    throw new RangeError(`witness has ${witness.length} values, the r1cs ${r1cs.nVars}`);
  if (witness[0] !== 1n) return [-1];
  const bad: number[] = [];
  r1cs.constraints.forEach(([a, b, c], i) => {
    const lhs = (evalLc(a, witness, p) * evalLc(b, witness, p)) % p;
    if (lhs !== evalLc(c, witness, p)) bad.push(i);
  });
  return bad;
}
