import { readFile } from "node:fs/promises";
import { toUtf8Bytes, toUtf8String } from "ethers";
import { compilerVersion, generateCircuit } from "./circom";
import { InputError } from "../core/errors";
import { ZkmlSetupMismatchError } from "./errors";
import { sha256File, sha256Hex } from "../core/hash";
import { lowerToMlp } from "./mlp";
import { parseOnnx } from "./onnx";
import type { ZkModel } from "./pipeline";
import { quantizeMlp, type QuantizedModel } from "./quantize";

/** Where a published model version keeps its ZK artefacts, beside `model.onnx`. */
export const ZK_FILES = {
  manifest: "zk/zk.json",
  wasm: "zk/model.wasm",
  zkey: "zk/circuit_final.zkey",
  verificationKey: "zk/verification_key.json",
  ptau: "zk/powersoftau.ptau",
} as const;

/** The manifest format this code writes and reads. */
export const ZK_MANIFEST_FORMAT = "vin-zk/2";

/**
 * `zk/zk.json`: how the version's circuit was built from its ONNX file and set up, so a requester can commit to
 * inputs, a node can evaluate and prove exactly what the circuit computes, and anyone can rebuild the circuit and
 * check the proving key against the phase-1 setup (`verifyZkSetup`).
 */
export interface ZkManifest {
  format: typeof ZK_MANIFEST_FORMAT;
  /** sha256 of the ONNX file the circuit was compiled from. */
  onnxSha256: string;
  inputRange: number;
  scaleBits: number;
  /** sha256 of the generated circom source: a node regenerates it to check it runs the same arithmetic. */
  circuitSourceHash: string;
  /** The compiler the R1CS came from (informational: a rebuild with another one may give another R1CS). */
  compiler: string;
  /** sha256 of the compiled R1CS: a client recompiles the source and compares. */
  r1csSha256: string;
  optimization: 1 | 2;
  constraints: number;
  /** `bindings[0]` of the version's ZK binding. */
  vkHash: string;
  /** The phase-1 powers of tau the proving key was made from, published as `zk/powersoftau.ptau`. */
  ptau: { power: number; sha256: string };
  files: typeof ZK_FILES;
}

/** A file of a model version. */
export interface ZkFile {
  path: string;
  bytes: Uint8Array;
}

/**
 * The files a ZK-capable version publishes besides the ONNX file and card: the manifest, the witness calculator,
 * the proving key, the verification key and the phase-1 powers of tau (so any client can run `zkey verify`).
 *
 * @example
 * const files = [{ path: "model.onnx", bytes: onnx }, ...(await zkModelFiles(zk))];
 */
export async function zkModelFiles(zk: ZkModel): Promise<ZkFile[]> {
  const manifest: ZkManifest = {
    format: ZK_MANIFEST_FORMAT,
    onnxSha256: zk.onnxHash,
    inputRange: zk.model.inputRange,
    scaleBits: zk.model.scaleBits,
    circuitSourceHash: zk.circuit.sourceHash,
    compiler: compilerVersion(),
    r1csSha256: await sha256File(zk.circuit.r1csPath),
    optimization: zk.optimization,
    constraints: zk.nConstraints,
    vkHash: zk.setup.vkHash,
    ptau: { power: zk.ptau.power, sha256: zk.ptau.sha256 },
    files: ZK_FILES,
  };
  return [
    { path: ZK_FILES.manifest, bytes: toUtf8Bytes(JSON.stringify(manifest, null, 2)) },
    { path: ZK_FILES.wasm, bytes: await readFile(zk.circuit.wasmPath) },
    { path: ZK_FILES.zkey, bytes: await readFile(zk.setup.zkeyPath) },
    { path: ZK_FILES.verificationKey, bytes: await readFile(zk.setup.vkPath) },
    { path: ZK_FILES.ptau, bytes: await readFile(zk.ptau.path) },
  ];
}

const HASH = /^0x[0-9a-f]{64}$/;

/** Parses and checks `zk/zk.json`. @throws InputError naming the field that is wrong. */
export function parseZkManifest(bytes: Uint8Array): ZkManifest {
  let m: Partial<ZkManifest>;
  try {
    m = JSON.parse(toUtf8String(bytes)) as Partial<ZkManifest>;
  } catch (cause) {
    throw new InputError(`${ZK_FILES.manifest} is not JSON`, { cause });
  }
  if (m.format !== ZK_MANIFEST_FORMAT)
    throw new InputError(`${ZK_FILES.manifest}: unknown format ${String(m.format)} (expected ${ZK_MANIFEST_FORMAT})`);
  for (const key of ["inputRange", "scaleBits", "constraints"] as const) {
    if (typeof m[key] !== "number" || !Number.isFinite(m[key]) || m[key] <= 0)
      throw new InputError(`${ZK_FILES.manifest}: "${key}" must be a positive number`);
  }
  for (const key of ["onnxSha256", "circuitSourceHash", "r1csSha256", "vkHash"] as const) {
    if (typeof m[key] !== "string" || !HASH.test(m[key]))
      throw new InputError(`${ZK_FILES.manifest}: "${key}" must be a 0x-prefixed 32-byte hex string`);
  }
  if (typeof m.compiler !== "string") throw new InputError(`${ZK_FILES.manifest}: "compiler" must be a string`);
  if (m.optimization !== 1 && m.optimization !== 2)
    throw new InputError(`${ZK_FILES.manifest}: "optimization" must be 1 or 2`);
  const ptau = m.ptau as Partial<ZkManifest["ptau"]> | undefined;
  if (
    ptau === undefined ||
    !Number.isInteger(ptau.power) ||
    typeof ptau.sha256 !== "string" ||
    !HASH.test(ptau.sha256)
  ) {
    throw new InputError(
      `${ZK_FILES.manifest}: "ptau" must be {"power": <integer>, "sha256": <0x-prefixed 32-byte hex>}`,
    );
  }
  return m as ZkManifest;
}

/**
 * The quantized model a version's circuit computes, rebuilt from its ONNX file and manifest, and checked: the ONNX
 * file is the one the circuit was compiled from, and the regenerated circuit source has the recorded hash.
 *
 * @throws ZkmlSetupMismatchError when the ONNX file or the arithmetic differs from what the circuit was built from.
 */
export function quantizedModelFor(onnx: Uint8Array, manifest: ZkManifest): QuantizedModel {
  const onnxHash = sha256Hex(onnx);
  if (onnxHash !== manifest.onnxSha256)
    throw new ZkmlSetupMismatchError(
      "ONNX file",
      manifest.onnxSha256,
      onnxHash,
      `the ONNX file (sha256 ${onnxHash}) is not the one the circuit was built from (${manifest.onnxSha256})`,
    );
  const model = quantizeMlp(lowerToMlp(parseOnnx(onnx)), {
    inputRange: manifest.inputRange,
    scaleBits: manifest.scaleBits,
  });
  const source = sha256Hex(generateCircuit(model));
  if (source !== manifest.circuitSourceHash) {
    throw new ZkmlSetupMismatchError(
      "circuit source",
      manifest.circuitSourceHash,
      source,
      `the circuit regenerated from the ONNX file has source hash ${source}, not ${manifest.circuitSourceHash}: was it generated by another version of the ONNX-to-circom compiler (src/zkml/circom.ts)?`,
    );
  }
  return model;
}
