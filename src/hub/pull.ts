import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ModelRegistry } from "../../typechain-types";
import type { ContentStore } from "../storage/content-store";
import type { FetchOptions, FetchProgress } from "../storage/peer";
import { canonicalCid } from "../storage/unixfs";
import { BaseError } from "../core/errors";
import { PullInputError, PullIntegrityError } from "./errors";
import { decodeRegistryError } from "./registry-errors";
import { sha256Hex } from "../core/hash";

/** `model[@version]` parsed. */
export interface ModelRef {
  modelId: bigint;
  /** Absent: the latest version. */
  version?: number;
}

/** What {@link pullModel} fetches. */
export interface PullModelOptions extends ModelRef {
  /** The registry (a provider is enough). */
  registry: ModelRegistry;
  store: ContentStore;
  outDir: string;
  /** Write into a non-empty directory, replacing files of the same name. Default false. */
  overwrite?: boolean;
  log?: (message: string) => void;
  /** Bytes fetched so far of a file the store fetches from peers (an IPFS peer store reports them). */
  onProgress?: (progress: FetchProgress) => void;
}

/** A pulled file. */
export interface PulledFile {
  path: string;
  cid: string;
  sha256: string;
  size: number;
}

/** What was written. */
export interface PullResult {
  modelId: bigint;
  version: number;
  deprecated: boolean;
  cardCid: string;
  cardHash: string;
  outDir: string;
  files: PulledFile[];
}

/**
 * Parses `7` or `7@2`.
 * @throws {PullInputError}
 * @example parseModelRef("7@2") // { modelId: 7n, version: 2 }
 */
export function parseModelRef(ref: string): ModelRef {
  const match = /^([1-9]\d{0,18})(?:@([1-9]\d{0,9}))?$/.exec(ref.trim());
  if (match === null) throw new PullInputError(`"${ref}" is not a model reference like 7 or 7@2`);
  return match[2] === undefined
    ? { modelId: BigInt(match[1]!) }
    : { modelId: BigInt(match[1]!), version: Number(match[2]) };
}

/**
 * Pulls a model version: reads its files and card from the registry, fetches each by CID (the store checks
 * content against the CID), checks every file's SHA-256 and the card's hash against what is on chain, and
 * only then writes the files into `outDir`. The card is written as `README.md` if no file already carries it.
 * @throws {PullInputError | PullIntegrityError | RegistryTransactionError | StorageError}
 * @example await pullModel({ registry, store, modelId: 1n, outDir: "models/penguins" });
 */
export async function pullModel(options: PullModelOptions): Promise<PullResult> {
  const log = options.log ?? (() => undefined);
  const { registry, modelId } = options;
  checkOutDir(options.outDir, options.overwrite ?? false);
  const version =
    options.version ?? (await readRegistry(registry, "versionCount", () => registry.versionCount(modelId)));
  if (Number(version) === 0) throw new PullInputError(`model ${modelId} has no published version`);
  const [info, refs, rawCardCid] = await Promise.all([
    readRegistry(registry, "versionOf", () => registry.versionOf(modelId, version)),
    readRegistry(registry, "filesOf", () => registry.filesOf(modelId, version)),
    readRegistry(registry, "cardCidOf", () => registry.cardCidOf(modelId, version)),
  ]);
  if (info.deprecated) log(`warning: model ${modelId} version ${version} is deprecated`);
  const files: (PulledFile & { bytes: Uint8Array })[] = [];
  for (const ref of refs) {
    checkPath(ref.path);
    const cid = await canonicalCid(Buffer.from(ref.cid.slice(2), "hex"));
    const fetchOptions: FetchOptions = options.onProgress === undefined ? {} : { onProgress: options.onProgress };
    const bytes = await options.store.cat(cid, fetchOptions);
    const sha256 = sha256Hex(bytes);
    if (sha256 !== ref.sha256.toLowerCase())
      throw new PullIntegrityError(ref.path, cid, ref.sha256.toLowerCase(), sha256);
    files.push({ path: ref.path, cid, sha256, size: bytes.length, bytes });
    log(`fetched ${ref.path} (${bytes.length} bytes) ${cid}, SHA-256 verified`);
  }
  const cardCid = await canonicalCid(Buffer.from(rawCardCid.slice(2), "hex"));
  const cardHash = info.cardHash.toLowerCase();
  if (!files.some((f) => f.cid === cardCid && f.sha256 === cardHash)) {
    const card = await options.store.cat(cardCid);
    const actual = sha256Hex(card);
    if (actual !== cardHash) throw new PullIntegrityError("(model card)", cardCid, cardHash, actual);
    const cardPath = files.some((f) => f.path === "README.md") ? "MODEL_CARD.md" : "README.md";
    files.push({ path: cardPath, cid: cardCid, sha256: actual, size: card.length, bytes: card });
  }
  for (const f of files) {
    const target = path.join(options.outDir, ...f.path.split("/"));
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, f.bytes);
  }
  log(`wrote ${files.length} files to ${options.outDir}`);
  return {
    modelId,
    version: Number(version),
    deprecated: info.deprecated,
    cardCid,
    cardHash,
    outDir: options.outDir,
    files: files.map(({ bytes: _bytes, ...f }) => f),
  };
}

async function readRegistry<T>(registry: ModelRegistry, call: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof BaseError) throw error;
    throw decodeRegistryError(registry.interface, call, error);
  }
}

function checkOutDir(dir: string, overwrite: boolean): void {
  if (!existsSync(dir) || overwrite) return;
  if (readdirSync(dir).length > 0) throw new PullInputError(`${dir} is not empty (pass --force to write into it)`);
}

/** A registered path must stay inside the output directory. */
function checkPath(p: string): void {
  if (
    p === "" ||
    p.startsWith("/") ||
    /[\\\0:]/.test(p) ||
    p.split("/").some((s) => s === "" || s === "." || s === "..")
  ) {
    throw new PullInputError(`the registry lists an unsafe file path "${p}"`);
  }
}
