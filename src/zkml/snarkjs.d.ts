/**
 * Minimal typings for the parts of snarkjs 0.7 that the ZKML prover uses.
 * snarkjs ships no types; everything not listed here is deliberately unavailable.
 */
declare module "snarkjs" {
  /** A logger in the shape snarkjs expects (console-like). */
  export interface SnarkjsLogger {
    debug(msg: string): void;
    info(msg: string): void;
    warn(msg: string): void;
    error(msg: string): void;
  }

  /** A Groth16 proof as snarkjs returns it (decimal strings, projective coordinates). */
  export interface Groth16Proof {
    pi_a: string[];
    pi_b: string[][];
    pi_c: string[];
    protocol: string;
    curve: string;
  }

  /** A Groth16 verification key as exported by snarkjs. */
  export interface VerificationKey {
    protocol: string;
    curve: string;
    nPublic: number;
    [field: string]: unknown;
  }

  /** An elliptic curve handle (opaque apart from termination). */
  export interface Curve {
    terminate(): Promise<void>;
  }

  /** An in-memory file descriptor understood by snarkjs (`{ type: "mem" }`). */
  export interface MemFile {
    type: "mem";
    data?: Uint8Array;
  }

  export const curves: {
    getCurveFromName(name: string): Promise<Curve>;
  };

  export const powersOfTau: {
    newAccumulator(curve: Curve, power: number, fileName: string, logger?: SnarkjsLogger): Promise<unknown>;
    contribute(
      oldPtau: string,
      newPtau: string,
      name: string,
      entropy: string,
      logger?: SnarkjsLogger,
    ): Promise<unknown>;
    beacon(
      oldPtau: string,
      newPtau: string,
      name: string,
      beaconHashHex: string,
      numIterationsExp: number,
      logger?: SnarkjsLogger,
    ): Promise<unknown>;
    preparePhase2(oldPtau: string, newPtau: string, logger?: SnarkjsLogger): Promise<unknown>;
    verify(ptau: string, logger?: SnarkjsLogger): Promise<boolean>;
  };

  export const zKey: {
    newZKey(r1cs: string, ptau: string, zkey: string, logger?: SnarkjsLogger): Promise<unknown>;
    contribute(
      oldZkey: string,
      newZkey: string,
      name: string,
      entropy: string,
      logger?: SnarkjsLogger,
    ): Promise<unknown>;
    beacon(
      oldZkey: string,
      newZkey: string,
      name: string,
      beaconHashHex: string,
      numIterationsExp: number,
      logger?: SnarkjsLogger,
    ): Promise<unknown>;
    exportVerificationKey(zkey: string | MemFile, logger?: SnarkjsLogger): Promise<VerificationKey>;
    exportSolidityVerifier(zkey: string, templates: { groth16: string }, logger?: SnarkjsLogger): Promise<string>;
    verifyFromR1cs(
      r1cs: string,
      ptau: string | MemFile,
      zkey: string | MemFile,
      logger?: SnarkjsLogger,
    ): Promise<boolean>;
  };

  export const r1cs: {
    info(
      r1cs: string,
      logger?: SnarkjsLogger,
    ): Promise<{ nConstraints: number; nVars: number; nOutputs: number; nPubInputs: number; nPrvInputs: number }>;
    exportJson(
      r1cs: string,
      logger?: SnarkjsLogger,
    ): Promise<{
      prime: string;
      nVars: number;
      nOutputs: number;
      nPubInputs: number;
      constraints: Array<[Record<string, string>, Record<string, string>, Record<string, string>]>;
    }>;
  };

  export const wtns: {
    calculate(input: Record<string, unknown>, wasm: string, wtns: string | MemFile): Promise<void>;
    check(r1cs: string, wtns: string | MemFile, logger?: SnarkjsLogger): Promise<boolean>;
  };

  export const groth16: {
    fullProve(
      input: Record<string, unknown>,
      wasm: string,
      zkey: string,
      logger?: SnarkjsLogger,
    ): Promise<{ proof: Groth16Proof; publicSignals: string[] }>;
    prove(
      zkey: string | MemFile,
      wtns: string | MemFile,
      logger?: SnarkjsLogger,
    ): Promise<{ proof: Groth16Proof; publicSignals: string[] }>;
    verify(vk: VerificationKey, publicSignals: string[], proof: Groth16Proof, logger?: SnarkjsLogger): Promise<boolean>;
    exportSolidityCallData(proof: Groth16Proof, publicSignals: string[]): Promise<string>;
  };
}
