import { readFile } from "node:fs/promises";
import { toUtf8Bytes, toUtf8String } from "ethers";
import { generateCircuit } from "./circom";
import { ZkmlError } from "./errors";
import { sha256Hex } from "./hash";
import { lowerToMlp } from "./mlp";
import { parseOnnx } from "./onnx";
import type { ZkModel } from "./pipeline";
import { quantizeMlp, type QuantizedModel } from "./quantize";

/** Where a published model version keeps its ZK artefacts, beside `model.onnx`. */
export const ZK_FILES = { manifest: "zk/zk.json", wasm: "zk/model.wasm", zkey: "zk/circuit_final.zkey", verificationKey: "zk/verification_key.json" } as const;

/**
 * `zk/zk.json`: how the version's circuit was built from its ONNX file, so a requester can commit to inputs and a
 * node can evaluate and prove exactly what the circuit computes.
 */
export interface ZkManifest {
  format: "vin-zk/1";
  /** sha256 of the ONNX file the circuit was compiled from. */
  onnxSha256: string;
  inputRange: number;
  scaleBits: number;
  /** sha256 of the generated circom source: a node regenerates it to check it runs the same arithmetic. */
  circuitSourceHash: string;
  optimization: 1 | 2;
  constraints: number;
  /** `bindings[0]` of the version's ZK binding. */
  vkHash: string;
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
 * the proving key and the verification key.
 *
 * @example
 * const files = [...modelFiles, ...(await zkModelFiles(zk, { inputRange: 8, optimization: 2 }))];
 */
export async function zkModelFiles(zk: ZkModel, options: { inputRange: number; optimization: 1 | 2 }): Promise<ZkFile[]> {
  const manifest: ZkManifest = {
    format: "vin-zk/1",
    onnxSha256: zk.onnxHash,
    inputRange: options.inputRange,
    scaleBits: zk.model.scaleBits,
    circuitSourceHash: zk.circuit.sourceHash,
    optimization: options.optimization,
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
  ];
}

/** Parses and checks `zk/zk.json`. @throws ZkmlError naming the field that is wrong. */
export function parseZkManifest(bytes: Uint8Array): ZkManifest {
  let m: Partial<ZkManifest>;
  try {
    m = JSON.parse(toUtf8String(bytes)) as Partial<ZkManifest>;
  } catch (cause) {
    throw new ZkmlError(`${ZK_FILES.manifest} is not JSON`, { cause });
  }
  if (m.format !== "vin-zk/1") throw new ZkmlError(`${ZK_FILES.manifest}: unknown format ${String(m.format)} (expected vin-zk/1)`);
  for (const key of ["inputRange", "scaleBits", "constraints"] as const) {
    if (typeof m[key] !== "number" || !Number.isFinite(m[key]) || m[key] <= 0) throw new ZkmlError(`${ZK_FILES.manifest}: "${key}" must be a positive number`);
  }
  for (const key of ["onnxSha256", "circuitSourceHash", "vkHash"] as const) {
    if (typeof m[key] !== "string" || !/^0x[0-9a-f]{64}$/.test(m[key])) throw new ZkmlError(`${ZK_FILES.manifest}: "${key}" must be a 0x-prefixed 32-byte hex string`);
  }
  if (m.optimization !== 1 && m.optimization !== 2) throw new ZkmlError(`${ZK_FILES.manifest}: "optimization" must be 1 or 2`);
  return m as ZkManifest;
}

/**
 * The quantized model a version's circuit computes, rebuilt from its ONNX file and manifest, and checked: the ONNX
 * file is the one the circuit was compiled from, and the regenerated circuit source has the recorded hash.
 *
 * @throws ZkmlError when the ONNX file or the arithmetic differs from what the circuit was built from.
 */
export function quantizedModelFor(onnx: Uint8Array, manifest: ZkManifest): QuantizedModel {
  if (sha256Hex(onnx) !== manifest.onnxSha256) throw new ZkmlError(`the ONNX file (sha256 ${sha256Hex(onnx)}) is not the one the circuit was built from (${manifest.onnxSha256})`);
  const model = quantizeMlp(lowerToMlp(parseOnnx(onnx)), { inputRange: manifest.inputRange, scaleBits: manifest.scaleBits });
  const source = sha256Hex(generateCircuit(model));
  if (source !== manifest.circuitSourceHash) throw new ZkmlError(`the circuit regenerated from the ONNX file has source hash ${source}, not ${manifest.circuitSourceHash}: another compiler version?`);
  return model;
}
