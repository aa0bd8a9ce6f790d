import { lstatSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import type { ContractTransactionReceipt } from "ethers";
import type { ModelRegistry } from "../../typechain-types";
import type { IModelRegistry } from "../../typechain-types/contracts/registry/ModelRegistry";
import type { ContentStore } from "../storage/content-store";
import { computeCid } from "../storage/unixfs";
import { parseModelCard, type ModelCard } from "./card";
import { BaseError, firstLine } from "../core/errors";
import { type ModelId, toModelId } from "../core/ids";
import { versionInput } from "../core/registry";
import { type BindingSpec, modeModule } from "../modes";
import { PublishInputError, PublishStorageError } from "./errors";
import { decodeRegistryError } from "./registry-errors";
import { sha256Hex } from "../core/hash";

/** A file to publish; `path` is relative to the model directory, with `/` separators. */
export interface ModelFile {
  path: string;
  bytes: Uint8Array;
}

/** A verification mode and what binds it to the version (see `IModelRegistry.ModeBinding`). */
export type ModeSpec =
  | { mode: "vanilla" }
  | { mode: "tee"; measurements: readonly string[] }
  | { mode: "zk"; verifier: string; verifyingKeyHash: string };

/** What {@link publishModel} publishes. */
export interface PublishModelOptions {
  /** The registry, connected to the signer that owns (or will own) the model. */
  registry: ModelRegistry;
  store: ContentStore;
  /** Every file of the version, the card included. */
  files: readonly ModelFile[];
  /** Which of `files` is the model card. Default `README.md`. */
  cardPath?: string;
  /** Modes the version supports. */
  modes: readonly ModeSpec[];
  /** Price per inference in token units (wei), for a new model. Ignored when `modelId` is given. */
  price?: bigint;
  /** Publish the next version of this model instead of creating one. */
  modelId?: bigint;
  /** Largest file accepted. Default {@link DEFAULT_MAX_FILE_BYTES}. */
  maxFileBytes?: number;
  log?: (message: string) => void;
  /** Called once per `card.warnings` entry (what the card parser read leniently), before anything is stored. */
  warn?: (warning: string) => void;
}

/** A file as registered. */
export interface PublishedFile {
  path: string;
  cid: string;
  sha256: string;
  size: number;
}

/** What was registered. */
export interface PublishResult {
  modelId: ModelId;
  version: number;
  txHash: string;
  blockNumber: number;
  cardHash: string;
  cardCid: string;
  card: ModelCard;
  files: PublishedFile[];
}

/** Default largest file: 512 MiB. */
export const DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024;
/** `ModelRegistry.MAX_FILES`, `MAX_PATH_BYTES`. */
export const MAX_FILES = 64;
export const MAX_PATH_BYTES = 256;

/**
 * Publishes a model version: validates the card and files, simulates the registration with locally computed
 * CIDs, stores every file in `store` and reads each back to check it, then registers the version in ONE transaction (`createModelAndPublish`, or `publishVersion`
 * when `modelId` is given). Any failure before that transaction leaves nothing registered; a reverted
 * simulation or transaction is a `RegistryTransactionError` with the decoded custom error.
 * @example
 * const { modelId } = await publishModel({ registry: registry.connect(owner), store, files, modes: [{ mode: "vanilla" }], price: 10n ** 18n });
 */
export async function publishModel(options: PublishModelOptions): Promise<PublishResult> {
  const log = options.log ?? (() => undefined);
  const cardPath = options.cardPath ?? "README.md";
  const { card, cardFile } = checkFiles(options.files, cardPath, options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES);
  for (const warning of card.warnings) options.warn?.(warning);
  const modes = options.modes.map(toBinding);
  if (modes.length === 0) throw new PublishInputError("at least one verification mode is required");
  // The registration is simulated with locally computed CIDs first, so a publish the registry would refuse
  // (not the owner, bad binding) fails before anything is stored.
  const expected = await Promise.all(
    options.files.map(async (f) => ({
      path: f.path,
      cid: await computeCid(f.bytes),
      sha256: sha256Hex(f.bytes),
      size: f.bytes.length,
    })),
  );
  await simulate(options, versionInput({ files: expected, card: cardFile.path, modes }));
  const stored = await storeAll(options.store, options.files, expected, log);
  const cardStored = stored.find((f) => f.path === cardFile.path)!;
  const receipt = await register(options, versionInput({ files: stored, card: cardFile.path, modes }));
  const { modelId, version } = publishedIds(options.registry, receipt);
  log(`registered model ${modelId} version ${version} in ${receipt.hash}`);
  return {
    modelId,
    version,
    txHash: receipt.hash,
    blockNumber: receipt.blockNumber,
    cardHash: cardStored.sha256,
    cardCid: cardStored.cid,
    card,
    files: stored,
  };
}

/**
 * Reads a model for {@link publishModel}: a directory (every regular file under it, hidden ones skipped; the
 * card is its `README.md`) or a single file (an `.onnx`) with its card (`cardFile`, default the `README.md`
 * beside it).
 * @throws {PublishInputError}
 */
export function loadModelFiles(
  target: string,
  options: { cardFile?: string; maxFileBytes?: number } = {},
): ModelFile[] {
  const max = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const stat = statOrThrow(target);
  if (stat.isDirectory()) {
    if (options.cardFile !== undefined)
      throw new PublishInputError("--card applies to a single file; a directory's card is its README.md");
    return walk(target, "", max);
  }
  const cardFile = options.cardFile ?? path.join(path.dirname(target), "README.md");
  const name = path.basename(target);
  if (name === "README.md") throw new PublishInputError(`${target} is a card, not a model file`);
  return [
    { path: name, bytes: readLimited(target, max) },
    { path: "README.md", bytes: readLimited(cardFile, max) },
  ];
}

function statOrThrow(file: string) {
  try {
    return lstatSync(file);
  } catch (cause) {
    throw new PublishInputError(`${file} does not exist`, { cause });
  }
}

function walk(root: string, prefix: string, max: number): ModelFile[] {
  const files: ModelFile[] = [];
  const entries = readdirSync(path.join(root, prefix), { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : 1,
  );
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) files.push(...walk(root, rel, max));
    else if (entry.isFile()) files.push({ path: rel, bytes: readLimited(path.join(root, rel), max) });
    else
      throw new PublishInputError(`${rel} is neither a regular file nor a directory (symbolic links are not followed)`);
    if (files.length > MAX_FILES) throw new PublishInputError(`${root} has more than ${MAX_FILES} files`);
  }
  return files;
}

function readLimited(file: string, max: number): Uint8Array {
  const stat = statOrThrow(file);
  if (!stat.isFile()) throw new PublishInputError(`${file} is not a regular file`);
  if (stat.size > max)
    throw new PublishInputError(`${file} is ${stat.size} bytes, more than the limit of ${max} bytes`);
  return readFileSync(file);
}

/** Checks count, paths, sizes and the card; returns the parsed card. */
function checkFiles(
  files: readonly ModelFile[],
  cardPath: string,
  max: number,
): { card: ModelCard; cardFile: ModelFile } {
  if (files.length === 0 || files.length > MAX_FILES)
    throw new PublishInputError(`a version has 1 to ${MAX_FILES} files, got ${files.length}`);
  const seen = new Set<string>();
  for (const f of files) {
    const bytes = Buffer.byteLength(f.path, "utf8");
    if (bytes === 0 || bytes > MAX_PATH_BYTES)
      throw new PublishInputError(`file path "${f.path}" must be 1 to ${MAX_PATH_BYTES} bytes`);
    if (
      f.path.startsWith("/") ||
      f.path.split("/").some((s) => s === "" || s === "." || s === "..") ||
      /[\\\0:]/.test(f.path)
    ) {
      throw new PublishInputError(
        `file path "${f.path}" must be relative, with "/" separators and no "." or ".." parts`,
      );
    }
    if (seen.has(f.path)) throw new PublishInputError(`file path "${f.path}" is listed twice`);
    seen.add(f.path);
    if (f.bytes.length === 0) throw new PublishInputError(`${f.path} is empty`);
    if (f.bytes.length > max)
      throw new PublishInputError(`${f.path} is ${f.bytes.length} bytes, more than the limit of ${max} bytes`);
  }
  const cardFile = files.find((f) => f.path === cardPath);
  if (cardFile === undefined) throw new PublishInputError(`the model card ${cardPath} is missing`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(cardFile.bytes);
  } catch (cause) {
    throw new PublishInputError(`the model card ${cardPath} is not UTF-8 text`, { cause });
  }
  try {
    return { card: parseModelCard(text), cardFile };
  } catch (cause) {
    const reason = cause instanceof BaseError ? cause.shortMessage : String(cause);
    throw new PublishInputError(`the model card ${cardPath} is invalid: ${reason.replace(/\.$/, "")}`, { cause });
  }
}

/** The mode's registry binding, built and checked by its module (src/modes). */
function toBinding(spec: ModeSpec): IModelRegistry.ModeBindingStruct {
  const binding: BindingSpec =
    spec.mode === "tee"
      ? { bindings: spec.measurements }
      : spec.mode === "zk"
        ? { verifier: spec.verifier, bindings: [spec.verifyingKeyHash] }
        : {};
  try {
    return modeModule(spec.mode).binding(binding);
  } catch (cause) {
    throw new PublishInputError(firstLine(cause), { cause });
  }
}

/**
 * Stores each file and reads it back (the store checks it against its CID), and checks that the store gave the
 * CID computed locally and returned the same bytes: the registered CID is the one the store serves.
 */
async function storeAll(
  store: ContentStore,
  files: readonly ModelFile[],
  expected: readonly PublishedFile[],
  log: (m: string) => void,
): Promise<PublishedFile[]> {
  const stored: PublishedFile[] = [];
  for (const [i, f] of files.entries()) {
    let cid = "(none)";
    try {
      cid = await store.add(f.bytes);
      if (cid !== expected[i]!.cid) throw new Error(`the store gave CID ${cid}, expected ${expected[i]!.cid}`);
      const back = await store.cat(cid);
      if (!Buffer.from(back).equals(Buffer.from(f.bytes)))
        throw new Error("the content read back differs from the content stored");
    } catch (cause) {
      throw new PublishStorageError(f.path, cid, {
        cause,
        details: cause instanceof Error ? cause.message : String(cause),
      });
    }
    stored.push(expected[i]!);
    log(`stored ${f.path} (${f.bytes.length} bytes) as ${cid}`);
  }
  return stored;
}

function callName(options: PublishModelOptions): string {
  return options.modelId === undefined ? "createModelAndPublish" : "publishVersion";
}

/** Runs the registration as a call: a revert becomes a decoded `RegistryTransactionError`. */
async function simulate(options: PublishModelOptions, input: IModelRegistry.VersionInputStruct): Promise<void> {
  const { registry, modelId } = options;
  try {
    if (modelId === undefined) await registry.createModelAndPublish.staticCall(options.price ?? 0n, input);
    else await registry.publishVersion.staticCall(modelId, input);
  } catch (error) {
    throw decodeRegistryError(registry.interface, callName(options), error);
  }
}

/** Simulates again (the chain may have moved), then sends the one registering transaction and waits for it. */
async function register(
  options: PublishModelOptions,
  input: IModelRegistry.VersionInputStruct,
): Promise<ContractTransactionReceipt> {
  const { registry, modelId } = options;
  const call = callName(options);
  const send = () =>
    modelId === undefined
      ? registry.createModelAndPublish(options.price ?? 0n, input)
      : registry.publishVersion(modelId, input);
  await simulate(options, input);
  let txHash: string | undefined;
  try {
    const tx = await send();
    txHash = tx.hash;
    const receipt = await tx.wait();
    if (receipt === null || receipt.status !== 1) throw new Error(`transaction ${tx.hash} failed`);
    return receipt;
  } catch (error) {
    throw decodeRegistryError(registry.interface, call, error, txHash);
  }
}

function publishedIds(
  registry: ModelRegistry,
  receipt: ContractTransactionReceipt,
): { modelId: ModelId; version: number } {
  for (const log of receipt.logs) {
    const parsed = registry.interface.parseLog(log);
    if (parsed?.name === "VersionPublished")
      return { modelId: toModelId(parsed.args.modelId as bigint), version: Number(parsed.args.version) };
  }
  throw new BaseError(`Transaction ${receipt.hash} emitted no VersionPublished event.`);
}
