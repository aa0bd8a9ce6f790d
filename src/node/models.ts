import { cidString } from "../core/cid";
import { fetchVerified, type ContentStore } from "../core/content";
import { IntegrityError, NotFoundError } from "../core/errors";
import { OnnxModel } from "../inference/onnx";
import type { ModelRegistry } from "../../typechain-types/contracts/registry/ModelRegistry";
import { ModelError } from "./errors";
import { withRetry } from "../core/retry";

/** A bounded cache of per-version loads: a failed load is forgotten, and past `max` the oldest entry goes. */
export class VersionCache<T> {
  private readonly entries = new Map<string, Promise<T>>();

  constructor(private readonly max: number) {}

  get(modelId: bigint, version: bigint, load: () => Promise<T>): Promise<T> {
    const key = `${modelId}@${version}`;
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = load();
      entry.catch(() => this.entries.delete(key));
      this.entries.set(key, entry);
      if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    }
    return entry;
  }
}

/** A registered file of a model version, as `registry.filesOf` lists it (the CID in binary form, as hex). */
export interface VersionFile {
  path: string;
  cid: string;
  sha256: string;
}

/**
 * The bytes of a version's file by its registered CID, used only if their SHA-256 is the one the registry records
 * (core's `fetchVerified`).
 * @throws ModelError when no store has the content, or the content or its digest does not match (`where` names the
 * version).
 */
export async function readVersionFile(
  content: Pick<ContentStore, "cat">,
  where: string,
  file: VersionFile,
): Promise<Uint8Array> {
  try {
    return await fetchVerified(content, { path: file.path, cid: cidString(file.cid), sha256: file.sha256 });
  } catch (error) {
    if (error instanceof NotFoundError || error instanceof IntegrityError)
      throw new ModelError(`${where}: ${error.message}`, { cause: error });
    throw error;
  }
}

/**
 * Loads model versions by content: the registry's `filesOf` names the ONNX file's CID and SHA-256, the content
 * store supplies the bytes, and the bytes are used only if their SHA-256 matches. Loaded models are cached.
 */
export class ModelLoader {
  private readonly cache: VersionCache<OnnxModel>;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly content: ContentStore,
    maxCached = 16,
  ) {
    this.cache = new VersionCache(maxCached);
  }

  load(modelId: bigint, version: bigint): Promise<OnnxModel> {
    return this.cache.get(modelId, version, () => this.fetch(modelId, version));
  }

  private async fetch(modelId: bigint, version: bigint): Promise<OnnxModel> {
    const files = await withRetry("registry.filesOf", () => this.registry.filesOf(modelId, version));
    const file = files.find((f) => f.path.endsWith(".onnx"));
    if (file === undefined) throw new ModelError(`model ${modelId}@${version} lists no .onnx file`);
    const bytes = await readVersionFile(this.content, `model ${modelId}@${version}`, file);
    return OnnxModel.load(bytes, `${modelId}@${version}`);
  }
}
