import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as snarkjs from "snarkjs";
import { compileCircuit, compilerVersion, generateCircuit, type CompiledCircuit } from "./circom";
import { sha256Hex } from "../core/hash";
import { lowerToMlp } from "./mlp";
import { parseOnnx } from "./onnx";
import { quantizeMlp, type QuantizedModel, type QuantizeOptions } from "./quantize";
import {
  DEFAULT_ZK_CACHE,
  ensurePtau,
  ptauPowerFor,
  setupGroth16,
  type Groth16Artifact,
  type PtauArtifact,
} from "./setup";

/** Options for {@link buildZkModel}. */
export interface BuildZkModelOptions extends QuantizeOptions {
  /** The `.onnx` bytes. */
  onnx: Uint8Array;
  /** Cache root; default `.cache/zk`. */
  cacheDir?: string;
  /** Minimum ptau power (to share one ceremony between circuits); default: the smallest that fits. */
  minPower?: number;
  log?: (line: string) => void;
  /** circom simplification level (see `CompileOptions.optimization`); default 2. */
  optimization?: 1 | 2;
}

/** Everything needed to prove and verify inferences of one model. */
export interface ZkModel {
  /** sha256 of the ONNX bytes. */
  onnxHash: string;
  model: QuantizedModel;
  circuit: CompiledCircuit;
  nConstraints: number;
  ptau: PtauArtifact;
  setup: Groth16Artifact;
  /** The circom simplification level the circuit was compiled with (recorded in the version's manifest). */
  optimization: 1 | 2;
  compileSeconds: number;
}

/**
 * ONNX bytes -> MLP -> fixed point -> circom -> r1cs/wasm -> ptau (cached) -> Groth16 keys (cached).
 * The circuit directory is `<cacheDir>/models/<sha256 of the circom source>`, so a changed model or compiler
 * gets fresh artefacts and an unchanged one reuses them.
 *
 * @example
 * const zk = await buildZkModel({ onnx: await readFile("iris.onnx"), inputRange: 8 });
 */
export async function buildZkModel(options: BuildZkModelOptions): Promise<ZkModel> {
  const { cacheDir = DEFAULT_ZK_CACHE, log } = options;
  const model = quantizeMlp(lowerToMlp(parseOnnx(options.onnx)), options);
  const source = generateCircuit(model);
  const optimization = options.optimization ?? 2;
  const key = await circuitKey(`${source}\0O${optimization}`);
  const dir = join(cacheDir, "models", key.slice(2, 18));
  const started = Date.now();
  const circuit = await compileCircuitCached(source, dir, key, optimization);
  const compileSeconds = (Date.now() - started) / 1000;
  const info = await snarkjs.r1cs.info(circuit.r1csPath);
  const power = Math.max(options.minPower ?? 0, ptauPowerFor(info.nConstraints, info.nPubInputs + info.nOutputs));
  const ptau = await ensurePtau({ power, cacheDir, log });
  const setup = await setupGroth16({ r1csPath: circuit.r1csPath, ptau, outDir: dir, log });
  return {
    onnxHash: sha256Hex(options.onnx),
    model,
    circuit,
    nConstraints: info.nConstraints,
    ptau,
    setup,
    optimization,
    compileSeconds,
  };
}

/**
 * Cache key of a circuit: sha256 over the generated source, every gadget in `circuits/lib` and the circom2
 * package version, so editing a gadget or upgrading the compiler invalidates compiled circuits and keys.
 */
export async function circuitKey(source: string, root = process.cwd()): Promise<string> {
  const libDir = join(root, "circuits", "lib");
  const libs = (await readdir(libDir)).filter((f) => f.endsWith(".circom")).sort();
  const parts = [source];
  for (const f of libs) parts.push(f, await readFile(join(libDir, f), "utf8"));
  parts.push(compilerVersion().replace(/^circom2 /, ""));
  return sha256Hex(parts.join("\0"));
}

async function compileCircuitCached(
  source: string,
  dir: string,
  key: string,
  optimization: 1 | 2,
): Promise<CompiledCircuit> {
  const marker = join(dir, "compiled.json");
  const cached = await readFile(marker, "utf8").then(
    (s) => JSON.parse(s) as CompiledCircuit & { key?: string },
    () => undefined,
  );
  if (cached !== undefined && cached.key === key) return cached;
  const circuit = await compileCircuit(source, { outDir: dir, optimization });
  await mkdir(dir, { recursive: true });
  await writeFile(marker, JSON.stringify({ ...circuit, key }, null, 2));
  return circuit;
}
