import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import * as snarkjs from "snarkjs";
import { ZkmlConstraintError, ZkmlToolError } from "./errors";
import type { SolidityProof } from "./claim";
import { SNARK_FIELD, toField } from "./field";
import { Groth16Key } from "./groth16";
import { checkQuantizedInput, type QuantizedModel } from "./quantize";
import { loadWitnessCalculator, type CircuitInput, type WitnessCalculator } from "./witness";

/** What the prover needs besides the model: the quantized input and the salt of its commitment. */
export interface ProveRequest {
  model: QuantizedModel;
  /** Quantized input (see `quantizeInput`). */
  input: readonly bigint[];
  /** Private salt of the input commitment (chosen by the requester, sent to the node with the input). */
  inputSalt: bigint;
}

/** A proof with its public signal. */
export interface ProofResult {
  proof: snarkjs.Groth16Proof;
  publicSignals: string[];
  /** The public signal (see `claimSignal`). */
  claim: bigint;
  solidity: SolidityProof;
  proveSeconds: number;
}

/** A uniformly random salt below the field order (31 random bytes). */
export function randomSalt(): bigint {
  return BigInt("0x" + randomBytes(31).toString("hex"));
}

/** Builds the witness-calculator input of a model circuit (field elements as decimal strings). */
export function buildCircuitInput(req: ProveRequest): CircuitInput {
  checkQuantizedInput(req.model, req.input);
  if (req.inputSalt < 0n || req.inputSalt >= SNARK_FIELD)
    throw new ZkmlConstraintError("inputSalt must be a field element");
  return {
    in: req.input.map((x) => toField(x).toString()),
    inputSalt: req.inputSalt.toString(),
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

/** The inverse of {@link toSolidityProof}: a snarkjs proof from the Solidity verifier's argument layout. */
export function fromSolidityProof(proof: Pick<SolidityProof, "a" | "b" | "c">): snarkjs.Groth16Proof {
  const s = (v: bigint): string => v.toString();
  return {
    protocol: "groth16",
    curve: "bn128",
    pi_a: [s(proof.a[0]), s(proof.a[1]), "1"],
    pi_b: [
      [s(proof.b[0][1]), s(proof.b[0][0])],
      [s(proof.b[1][1]), s(proof.b[1][0])],
      ["1", "0"],
    ],
    pi_c: [s(proof.c[0]), s(proof.c[1]), "1"],
  };
}

/**
 * Generates the witness with the circuit's wasm and a Groth16 proof with snarkjs: a {@link CircuitProver} for one
 * proof (a caller proving several times should keep the prover).
 *
 * @throws ZkmlConstraintError when the input violates the circuit (e.g. out of range); ZkmlToolError when snarkjs fails.
 * @example
 * const res = await proveInference({ wasmPath, zkeyPath }, { model, input, inputSalt });
 */
export async function proveInference(
  circuit: { wasmPath: string; zkeyPath: string },
  req: ProveRequest,
): Promise<ProofResult> {
  return (await CircuitProver.load({ wasm: circuit.wasmPath, zkey: circuit.zkeyPath })).prove(req);
}

/**
 * A prover that keeps one circuit loaded: the witness calculator instantiated once and the proving key parsed once
 * ({@link Groth16Key}), so each proof costs the witness and the Groth16 prover only (`fullProve` re-reads and
 * re-parses both per call). What a node keeps per model.
 *
 * @example
 * const prover = await CircuitProver.load({ wasm: "zk/model.wasm", zkey: "zk/circuit_final.zkey" });
 * const { solidity, claim } = await prover.prove({ model, input, inputSalt });
 */
export class CircuitProver {
  private constructor(
    private readonly witness: WitnessCalculator,
    private readonly key: Groth16Key,
  ) {}

  /** Loads a circuit's witness wasm and proving key (paths or bytes). */
  static async load(files: { wasm: string | Uint8Array; zkey: string | Uint8Array }): Promise<CircuitProver> {
    const zkey = typeof files.zkey === "string" ? await readFile(files.zkey) : files.zkey;
    let key: Groth16Key;
    try {
      key = await Groth16Key.load(zkey);
    } catch (cause) {
      throw new ZkmlToolError("cannot read the proving key", { cause });
    }
    return new CircuitProver(await loadWitnessCalculator(files.wasm), key);
  }

  /**
   * Computes the witness and a Groth16 proof.
   *
   * @throws ZkmlConstraintError when the input violates the circuit; ZkmlToolError when snarkjs fails.
   */
  async prove(req: ProveRequest): Promise<ProofResult> {
    const started = Date.now();
    let wtns: Uint8Array;
    try {
      wtns = await this.witness.calculateWTNSBin(buildCircuitInput(req), true);
    } catch (cause) {
      if (cause instanceof ZkmlConstraintError) throw cause;
      throw new ZkmlConstraintError("witness generation failed: the input violates a circuit constraint", { cause });
    }
    let out: { proof: snarkjs.Groth16Proof; publicSignals: string[] };
    try {
      out = await this.key.prove(wtns);
    } catch (cause) {
      throw new ZkmlToolError("groth16 prove failed", { cause });
    }
    if (out.publicSignals.length !== 1)
      throw new ZkmlToolError(`expected one public signal, got ${out.publicSignals.length}`);
    return {
      proof: out.proof,
      publicSignals: out.publicSignals,
      claim: BigInt(out.publicSignals[0]!),
      solidity: toSolidityProof(out.proof, out.publicSignals),
      proveSeconds: (Date.now() - started) / 1000,
    };
  }
}

/** Verifies a Groth16 proof against a verification key off-chain. */
export async function verifyInference(
  vk: snarkjs.VerificationKey,
  publicSignals: string[],
  proof: snarkjs.Groth16Proof,
): Promise<boolean> {
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
