import { getBytes } from "ethers";
import { sha256Hex } from "../protocol/cid";
import { OnnxModel } from "../inference/onnx";
import type { ModelRegistry } from "../../typechain-types/contracts/registry/ModelRegistry";
import { ModelError } from "../sdk/errors";
import { withRetry } from "../sdk/retry";
import { ContentNotFoundError, type ContentStore } from "./content-store";

/**
 * Loads model versions by content: the registry's `filesOf` names the ONNX file's CID and SHA-256, the content
 * store supplies the bytes, and the bytes are used only if their SHA-256 matches. Loaded models are cached.
 */
export class ModelLoader {
  private readonly cache = new Map<string, Promise<OnnxModel>>();

  constructor(
    private readonly registry: ModelRegistry,
    private readonly content: ContentStore,
    private readonly maxCached = 16,
  ) {}

  load(modelId: bigint, version: bigint): Promise<OnnxModel> {
    const key = `${modelId}@${version}`;
    let model = this.cache.get(key);
    if (model === undefined) {
      model = this.fetch(modelId, version);
      model.catch(() => this.cache.delete(key));
      this.cache.set(key, model);
      if (this.cache.size > this.maxCached) this.cache.delete(this.cache.keys().next().value!);
    }
    return model;
  }

  private async fetch(modelId: bigint, version: bigint): Promise<OnnxModel> {
    const files = await withRetry("registry.filesOf", () => this.registry.filesOf(modelId, version));
    const file = files.find((f) => f.path.endsWith(".onnx"));
    if (file === undefined) throw new ModelError(`model ${modelId}@${version} lists no .onnx file`);
    const bytes = await this.content.get(getBytes(file.cid)).catch((error: unknown) => {
      throw error instanceof ContentNotFoundError ? new ModelError(`model ${modelId}@${version}: ${error.message}`, { cause: error }) : error;
    });
    const digest = sha256Hex(bytes);
    if (digest !== file.sha256) throw new ModelError(`model ${modelId}@${version}: ${file.path} has sha256 ${digest}, the registry records ${file.sha256}; refusing to use it`);
    return OnnxModel.load(bytes, `${modelId}@${version}`);
  }
}
