import type { ModelRegistry } from "../../typechain-types/contracts/registry/ModelRegistry";
import type { Job } from "../protocol/job";
import { Mode } from "../protocol/modes";
import { ModelError } from "../sdk/errors";
import { withRetry } from "../sdk/retry";
import { encodeZkOutput, encodeZkProof, packedOutputOf } from "../zkml/claim";
import { openZkJobInput } from "../zkml/job";
import { parseZkManifest, quantizedModelFor, ZK_FILES, type ZkManifest } from "../zkml/package";
import { CircuitProver } from "../zkml/prover";
import type { QuantizedModel } from "../zkml/quantize";
import { evaluateQuantized } from "../zkml/reference";
import type { ContentStore } from "./content-store";
import { readVersionFile, VersionCache } from "./models";

/** A model version's circuit, loaded and checked: what a node needs to answer its ZK jobs. */
export interface ZkCircuit {
  manifest: ZkManifest;
  model: QuantizedModel;
  prover: CircuitProver;
}

/** What a ZK job needs from the escrow: the 6-byte output and `abi.encode(packedOutput, proof)`. */
export interface ZkAnswer {
  output: string;
  proof: string;
  packedOutput: bigint;
  proveSeconds: number;
}

/**
 * Loads ZK circuits of model versions by content, like `ModelLoader` does for ONNX files: every file (`model.onnx`,
 * `zk/zk.json`, `zk/model.wasm`, `zk/circuit_final.zkey`) by its registered CID with its SHA-256 checked; the
 * quantized model rebuilt from the ONNX file and checked against the manifest; and the manifest's verifying-key
 * hash checked against the version's on-chain ZK binding, so the node never proves against a key the chain rejects.
 */
export class ZkCircuitLoader {
  private readonly cache: VersionCache<ZkCircuit>;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly content: ContentStore,
    maxCached = 4,
  ) {
    this.cache = new VersionCache(maxCached);
  }

  load(modelId: bigint, version: bigint): Promise<ZkCircuit> {
    return this.cache.get(modelId, version, () => this.fetch(modelId, version));
  }

  private async fetch(modelId: bigint, version: bigint): Promise<ZkCircuit> {
    const where = `model ${modelId}@${version}`;
    const [files, binding] = await Promise.all([
      withRetry("registry.filesOf", () => this.registry.filesOf(modelId, version)),
      withRetry("registry.bindingOf", () => this.registry.bindingOf(modelId, version, Mode.Zk)),
    ]);
    const read = (predicate: (path: string) => boolean, what: string): Promise<Uint8Array> => {
      const file = files.find((f) => predicate(f.path));
      if (file === undefined) throw new ModelError(`${where} lists no ${what}: it cannot serve ZK jobs`);
      return readVersionFile(this.content, where, file);
    };
    const [onnx, manifestBytes, wasm, zkey] = await Promise.all([
      read((p) => p.endsWith(".onnx"), "ONNX file"),
      read((p) => p === ZK_FILES.manifest, ZK_FILES.manifest),
      read((p) => p === ZK_FILES.wasm, ZK_FILES.wasm),
      read((p) => p === ZK_FILES.zkey, ZK_FILES.zkey),
    ]);
    let manifest: ZkManifest;
    let model: QuantizedModel;
    try {
      manifest = parseZkManifest(manifestBytes);
      model = quantizedModelFor(onnx, manifest);
    } catch (cause) {
      throw new ModelError(`${where}: ${(cause as Error).message}`, { cause });
    }
    const bound = binding.bindings[0];
    if (bound?.toLowerCase() !== manifest.vkHash) throw new ModelError(`${where}: ${ZK_FILES.manifest} has verifying-key hash ${manifest.vkHash}, the version binds ${bound ?? "none"}`);
    return { manifest, model, prover: await CircuitProver.load({ wasm, zkey }) };
  }
}

/**
 * Answers a ZK job: opens the requester's commitment with the input bytes (input and salt), evaluates the circuit's
 * arithmetic, proves, and encodes output and proof for `submit`.
 *
 * @throws ZkJobInputError when the input does not open the job's commitment (never computable: refuse the job).
 */
export async function answerZkJob(circuit: ZkCircuit, job: Job, input: string): Promise<ZkAnswer> {
  const { quantized, input: opened } = openZkJobInput(circuit.model, input, job.inputHash);
  const packedOutput = packedOutputOf(circuit.model, evaluateQuantized(circuit.model, quantized));
  const proved = await circuit.prover.prove({ model: circuit.model, input: quantized, inputSalt: opened.salt });
  return { output: encodeZkOutput(packedOutput), proof: encodeZkProof(packedOutput, proved.solidity), packedOutput, proveSeconds: proved.proveSeconds };
}
