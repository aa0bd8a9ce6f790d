import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as snarkjs from "snarkjs";
import { compileCircuit, compilerVersion, generateCircuit } from "./circom";
import { ZkmlSetupMismatchError } from "./errors";
import { sha256Hex } from "../core/hash";
import { parseZkManifest, quantizedModelFor, ZK_FILES, type ZkManifest } from "./package";
import type { QuantizedModel } from "./quantize";
import { verificationKeyHash } from "./setup";
import { generateBatchCircuit, slotVerificationKeyHash } from "./batch-circuit";

/** The files of a published ZK version that decide what its verifier accepts and what a node proves with. */
export interface ZkSetupFiles {
  onnx: Uint8Array;
  /** `zk/zk.json`. */
  manifest: Uint8Array;
  /** `zk/circuit_final.zkey`. */
  zkey: Uint8Array;
  /** `zk/powersoftau.ptau`. */
  ptau: Uint8Array;
}

/** Options of {@link verifyZkSetup}. */
export interface VerifyZkSetupOptions {
  /** The verifying-key hash the version binds on-chain (`bindings[0]`). */
  vkHash: string;
  /** Repository root holding `circuits/lib` and `node_modules` (default: this package's root). */
  root?: string;
  log?: (line: string) => void;
}

/** A version's setup, rebuilt and checked. */
export interface VerifiedZkSetup {
  manifest: ZkManifest;
  /** The quantized model the circuit computes (what requesters commit with and nodes evaluate). */
  model: QuantizedModel;
  /** The witness calculator compiled here from the ONNX file: what a node proves with (never the published one). */
  wasm: Uint8Array;
  /** Seconds spent compiling the circuit and verifying the proving key against it (0 when cached). */
  seconds: { compile: number; zkeyVerify: number };
}

const PACKAGE_ROOT = resolve(__dirname, "..", "..");
const MAX_CACHED = 8;
/** Verified setups by the hash of their inputs: a version is immutable, so a success holds for the process. */
const verified = new Map<string, Promise<VerifiedZkSetup>>();

/**
 * Checks that a published ZK version's proving key belongs to the circuit of its ONNX file, so its verifier
 * accepts proofs of that model and nothing else:
 * 1. the manifest's verifying-key hash is the one bound on-chain, and the ONNX file and the regenerated circom
 *    source have the hashes the manifest records (`quantizedModelFor`);
 * 2. the circuit recompiled here (same compiler, same `--O` level) has the manifest's R1CS hash;
 * 3. the published powers of tau has the manifest's hash, and `snarkjs zkey verify` accepts the proving key for
 *    that R1CS and powers of tau (every phase-2 contribution checked from the initial key);
 * 4. the proving key's verification key hashes to the bound key hash.
 * Successes are cached (by the hash of the files and key hash), so a version costs this once per process.
 *
 * Warning: this proves the key is a correct phase-2 setup on top of the published phase-1 file, not that the
 * phase-1 ceremony had an honest participant; a production deployment pins the ceremony's hash (docs/zk-setup.md).
 *
 * @throws ZkmlSetupMismatchError naming what did not match; InputError for a malformed manifest; ZkmlToolError when
 * the compiler fails.
 * @example
 * const { model, wasm } = await verifyZkSetup({ onnx, manifest, zkey, ptau }, { vkHash: binding.bindings[0] });
 */
export function verifyZkSetup(files: ZkSetupFiles, options: VerifyZkSetupOptions): Promise<VerifiedZkSetup> {
  const key = sha256Hex(
    [files.onnx, files.manifest, files.zkey, files.ptau].map(sha256Hex).join(":") + `:${options.vkHash.toLowerCase()}`,
  );
  const hit = verified.get(key);
  if (hit !== undefined) return hit.then((v) => ({ ...v, seconds: { compile: 0, zkeyVerify: 0 } }));
  const run = check(files, options);
  verified.set(key, run);
  run.catch(() => verified.delete(key));
  if (verified.size > MAX_CACHED) verified.delete(verified.keys().next().value!);
  return run;
}

async function check(files: ZkSetupFiles, options: VerifyZkSetupOptions): Promise<VerifiedZkSetup> {
  const log = options.log ?? (() => undefined);
  const manifest = parseZkManifest(files.manifest);
  const bound = options.vkHash.toLowerCase();
  if (manifest.vkHash !== bound) {
    throw new ZkmlSetupMismatchError(
      "verifying-key hash",
      bound,
      manifest.vkHash,
      `${ZK_FILES.manifest} records verifying-key hash ${manifest.vkHash}, the version binds ${bound}`,
    );
  }
  const ptauHash = sha256Hex(files.ptau);
  if (ptauHash !== manifest.ptau.sha256) {
    throw new ZkmlSetupMismatchError(
      "powers of tau",
      manifest.ptau.sha256,
      ptauHash,
      `${ZK_FILES.ptau} has sha256 ${ptauHash}, the manifest records ${manifest.ptau.sha256}`,
    );
  }
  const model = quantizedModelFor(files.onnx, manifest);
  const dir = await mkdtemp(join(tmpdir(), "vin-zk-verify-"));
  try {
    let started = Date.now();
    log(`compiling the circuit (${compilerVersion()}, --O${manifest.optimization})`);
    const circuit = await compileCircuit(generateCircuit(model), {
      outDir: dir,
      optimization: manifest.optimization,
      root: options.root ?? PACKAGE_ROOT,
    });
    const r1csHash = sha256Hex(await readFile(circuit.r1csPath));
    if (r1csHash !== manifest.r1csSha256) {
      throw new ZkmlSetupMismatchError(
        "R1CS",
        manifest.r1csSha256,
        r1csHash,
        `the circuit recompiled from the ONNX file has R1CS sha256 ${r1csHash}, the manifest records ${manifest.r1csSha256} (built with ${manifest.compiler}; this is ${compilerVersion()})`,
      );
    }
    const compile = (Date.now() - started) / 1000;
    started = Date.now();
    log("verifying the proving key against the R1CS and the powers of tau (zkey verify)");
    // A proving key snarkjs cannot even read is as wrong as one it rejects: both refuse the version.
    const expected = `a phase-2 key of R1CS ${r1csHash} on ptau ${ptauHash}`;
    const ok = await snarkjs.zKey
      .verifyFromR1cs(circuit.r1csPath, { type: "mem", data: files.ptau }, { type: "mem", data: files.zkey })
      .catch((cause: unknown) => {
        throw new ZkmlSetupMismatchError(
          "proving key",
          expected,
          "a file zkey verify cannot read",
          `${ZK_FILES.zkey} cannot be checked against the recompiled circuit and ${ZK_FILES.ptau}: ${String((cause as Error)?.message ?? cause)}`,
          { cause },
        );
      });
    if (!ok)
      throw new ZkmlSetupMismatchError(
        "proving key",
        expected,
        "a key zkey verify rejects",
        `${ZK_FILES.zkey} is not a valid setup of the recompiled circuit on ${ZK_FILES.ptau} (snarkjs zkey verify failed)`,
      );
    const vkHash = verificationKeyHash(await snarkjs.zKey.exportVerificationKey({ type: "mem", data: files.zkey }));
    if (vkHash !== bound)
      throw new ZkmlSetupMismatchError(
        "proving key's verifying key",
        bound,
        vkHash,
        `the verification key of ${ZK_FILES.zkey} hashes to ${vkHash}, the version binds ${bound}`,
      );
    const wasm = new Uint8Array(await readFile(circuit.wasmPath));
    return { manifest, model, wasm, seconds: { compile, zkeyVerify: (Date.now() - started) / 1000 } };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The files of a version's N-slot key: what its owner publishes beside the version (a version cannot change). */
export interface SlotSetupFiles {
  /** The N-slot proving key. */
  zkey: Uint8Array;
  /** The powers of tau the key's phase 2 was built on (an N-slot circuit may need a larger one than the version's). */
  ptau: Uint8Array;
}

/** An N-slot key, checked: the witness calculator compiled here and the time spent (0 when cached). */
export interface VerifiedSlotSetup {
  wasm: Uint8Array;
  seconds: { compile: number; zkeyVerify: number };
}

/** Verified N-slot setups by the hash of their inputs (successes only), as `verified` for single keys. */
const verifiedSlots = new Map<string, Promise<VerifiedSlotSetup>>();

/** Options of {@link verifySlotSetup}. */
export interface VerifySlotSetupOptions {
  /** The version's quantized model, from {@link verifyZkSetup} (so already checked against its ONNX file). */
  model: QuantizedModel;
  /** The version's circom simplification level (its manifest's `optimization`). */
  optimization: 1 | 2;
  slots: number;
  /** The key hash `ZkInferenceVerifier` recorded for (version, slots): the `SlotVerifierSet` event's. */
  keyHash: string;
  root?: string;
  log?: (line: string) => void;
}

/**
 * Checks a published N-slot proving key the way {@link verifyZkSetup} checks a version's single key: the N-slot
 * circuit is regenerated and compiled here from the version's model (`generateBatchCircuit`), `snarkjs zkey verify`
 * accepts the key for that R1CS and the given powers of tau, and the key's verifying key hashes (`slotKeyHash`) to
 * the hash bound on-chain. The N-slot setup is random (a development phase 2), so it cannot be rebuilt: it is
 * checked. Returns the witness calculator compiled here, what a node proves with. Successes are cached per process
 * (by the hash of the circuit's source, the files and the bound hash), so a key costs this once.
 *
 * @throws ZkmlSetupMismatchError naming what did not match; ZkmlConstraintError for an unsupported slot count.
 * @example
 * const { wasm } = await verifySlotSetup({ zkey, ptau }, { model, optimization: 2, slots: 4, keyHash });
 */
export function verifySlotSetup(files: SlotSetupFiles, options: VerifySlotSetupOptions): Promise<VerifiedSlotSetup> {
  const source = generateBatchCircuit(options.model, options.slots);
  // A verdict depends on the circuit's source, the compiler level, the two files and the bound hash only.
  const key = sha256Hex(
    [sha256Hex(source), sha256Hex(files.zkey), sha256Hex(files.ptau)].join(":") +
      `:O${options.optimization}:${options.keyHash.toLowerCase()}`,
  );
  const hit = verifiedSlots.get(key);
  if (hit !== undefined) return hit.then((v) => ({ ...v, seconds: { compile: 0, zkeyVerify: 0 } }));
  const run = checkSlotSetup(files, options, source);
  verifiedSlots.set(key, run);
  run.catch(() => verifiedSlots.delete(key));
  if (verifiedSlots.size > MAX_CACHED) verifiedSlots.delete(verifiedSlots.keys().next().value!);
  return run;
}

async function checkSlotSetup(
  files: SlotSetupFiles,
  options: VerifySlotSetupOptions,
  source: string,
): Promise<VerifiedSlotSetup> {
  const { optimization, slots, log = () => undefined } = options;
  const bound = options.keyHash.toLowerCase();
  const dir = await mkdtemp(join(tmpdir(), "vin-zk-slots-"));
  try {
    let started = Date.now();
    log(`compiling the ${slots}-slot circuit (${compilerVersion()}, --O${optimization})`);
    const circuit = await compileCircuit(source, { outDir: dir, optimization, root: options.root ?? PACKAGE_ROOT });
    const compile = (Date.now() - started) / 1000;
    started = Date.now();
    const expected = `a phase-2 key of the ${slots}-slot circuit`;
    const ok = await snarkjs.zKey
      .verifyFromR1cs(circuit.r1csPath, { type: "mem", data: files.ptau }, { type: "mem", data: files.zkey })
      .catch((cause: unknown) => {
        throw new ZkmlSetupMismatchError(
          "slot proving key",
          expected,
          "a file zkey verify cannot read",
          `the ${slots}-slot proving key cannot be checked against the recompiled circuit: ${String((cause as Error)?.message ?? cause)}`,
          { cause },
        );
      });
    if (!ok)
      throw new ZkmlSetupMismatchError(
        "slot proving key",
        expected,
        "a key zkey verify rejects",
        `the ${slots}-slot proving key is not a valid setup of the recompiled circuit (snarkjs zkey verify failed)`,
      );
    const keyHash = slotVerificationKeyHash(
      await snarkjs.zKey.exportVerificationKey({ type: "mem", data: files.zkey }),
    );
    if (keyHash !== bound)
      throw new ZkmlSetupMismatchError(
        "slot verifying key",
        bound,
        keyHash,
        `the ${slots}-slot proving key's verifying key hashes to ${keyHash}, the version binds ${bound}`,
      );
    const wasm = new Uint8Array(await readFile(circuit.wasmPath));
    return { wasm, seconds: { compile, zkeyVerify: (Date.now() - started) / 1000 } };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
