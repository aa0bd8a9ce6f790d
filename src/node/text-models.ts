/**
 * The text models a TEE node serves through its chat API: for each model it serves (`chat.models`, "all" or ids),
 * the latest version that is not deprecated, supports the TEE mode and lists a `.gguf` file, its bytes fetched by CID
 * and used only if their SHA-256 is the registry's (node/models `readVersionFile`), loaded with node-llama-cpp. A
 * version whose TEE binding the enclave's registration does not satisfy is skipped with a warning (and the chat API
 * checks again before every completion: a binding or a registration can change while the node runs).
 *
 * Models are listed when the node starts: a version published later is served after a restart.
 */
import type { ContentStore } from "../core/content";
import type { Logger } from "../core/log";
import { Mode } from "../core/modes";
import { withRetry, type RetryOptions } from "../core/retry";
import { loadTextGenerator, type TextGenerator } from "../inference/text";
import type { ModelRegistry } from "../../typechain-types/contracts/registry/ModelRegistry";
import type { ServedTextModel } from "./chat-api";
import { readVersionFile, type VersionFile } from "./models";

/** A text version the node may serve: its GGUF file as the registry lists it. */
export interface TextVersion {
  modelId: bigint;
  version: bigint;
  file: VersionFile;
}

/**
 * The latest servable text version of each model in `models` ("all": every model in the registry).
 * @example const versions = await listTextVersions(registry, "all");
 */
export async function listTextVersions(
  registry: Pick<ModelRegistry, "modelCount" | "versionCount" | "versionOf" | "filesOf">,
  models: "all" | readonly string[],
  retry: RetryOptions = {},
): Promise<TextVersion[]> {
  const ids =
    models === "all"
      ? Array.from(
          { length: Number(await withRetry("registry.modelCount", () => registry.modelCount(), retry)) },
          (_, i) => BigInt(i + 1),
        )
      : models.map(BigInt);
  const found: TextVersion[] = [];
  for (const modelId of ids) {
    const count = await withRetry("registry.versionCount", () => registry.versionCount(modelId), retry);
    for (let version = count; version >= 1n; version -= 1n) {
      const info = await withRetry("registry.versionOf", () => registry.versionOf(modelId, version), retry);
      if (info.deprecated || (Number(info.modes) & (1 << Mode.Tee)) === 0) continue;
      const files = await withRetry("registry.filesOf", () => registry.filesOf(modelId, version), retry);
      const file = files.find((f) => f.path.endsWith(".gguf"));
      if (file === undefined) continue;
      found.push({ modelId, version, file: { path: file.path, cid: file.cid, sha256: file.sha256 } });
      break;
    }
  }
  return found;
}

export interface LoadTextModelsOptions {
  registry: Pick<ModelRegistry, "modelCount" | "versionCount" | "versionOf" | "filesOf">;
  content: Pick<ContentStore, "cat">;
  models: "all" | readonly string[];
  /** Why the enclave may not serve a version now (gateway `servingRefusal`), or undefined. */
  refusal: (modelId: bigint, version: bigint) => Promise<string | undefined>;
  log: Logger;
  retry?: RetryOptions;
}

/** A loaded text model, with a way to free it. */
export interface LoadedTextModel extends ServedTextModel {
  generator: TextGenerator;
}

/**
 * Lists and loads the text versions to serve; a version refused, missing or unloadable is skipped with a warning.
 * @example const models = await loadTextModels({ registry, content, models: "all", refusal, log });
 */
export async function loadTextModels(options: LoadTextModelsOptions): Promise<LoadedTextModel[]> {
  const { log } = options;
  const loaded: LoadedTextModel[] = [];
  for (const { modelId, version, file } of await listTextVersions(options.registry, options.models, options.retry)) {
    const where = `model ${modelId}@${version}`;
    try {
      const refusal = await options.refusal(modelId, version);
      if (refusal !== undefined) {
        log.warn({ model: `${modelId}@${version}` }, `text model not served: ${refusal}`);
        continue;
      }
      const bytes = await readVersionFile(options.content, where, file);
      const generator = await loadTextGenerator({ bytes, name: `${modelId}@${version}` });
      loaded.push({ modelId, version, generator });
      log.info({ model: `${modelId}@${version}`, bytes: bytes.length }, "text model loaded for chat");
    } catch (error) {
      log.warn({ model: `${modelId}@${version}`, err: (error as Error).message }, "text model not served");
    }
  }
  return loaded;
}
