/**
 * A model version's registry input (`IModelRegistry.VersionInput`), built one way for every publisher: the hub's
 * `publishModel`, the ZK pipeline, the devnet, the tests and the benchmarks. Mode bindings come from the mode
 * registry (`src/modes`), which checks each one; this layer only assembles and checks what the registry stores.
 */
import type { IModelRegistry } from "../../typechain-types/contracts/registry/ModelRegistry";
import { cidFromString, rawCid } from "./cid";
import { InputError } from "./errors";
import { sha256Hex } from "./hash";

/** A piece of content as the registry records it: its CID (a base32 CIDv1 string or binary) and its SHA-256. */
export interface ContentRef {
  cid: string | Uint8Array;
  /** `0x` and 64 hex digits. */
  sha256: string;
}

/** A file of a version: its path inside the version (`/` separators) and its content. */
export interface VersionFileRef extends ContentRef {
  path: string;
}

/** What {@link versionInput} builds a version from. */
export interface VersionInputParams {
  /** Every file of the version, in the order the registry lists them. */
  files: readonly VersionFileRef[];
  /** The model card: its content, or the path of the file among `files` that is the card. */
  card: ContentRef | string;
  /** One binding per mode the version serves (`modeModule(mode).binding(...)` builds a checked one). */
  modes: readonly IModelRegistry.ModeBindingStruct[];
}

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

/**
 * The registry input of a model version: CIDs in binary form, the card's hash and CID, the files and the modes.
 *
 * @throws InputError when the card path names none of `files`, a SHA-256 is not 32 bytes, or a CID string is not a
 * base32 CIDv1.
 * @example
 * const input = versionInput({ files: [rawFileRef("model.onnx", onnx), rawFileRef("README.md", card)], card: "README.md", modes: [modeModule(Mode.Vanilla).binding({})] });
 * await registry.createModelAndPublish(price, input);
 */
export function versionInput(params: VersionInputParams): IModelRegistry.VersionInputStruct {
  const card = typeof params.card === "string" ? cardFile(params.files, params.card) : params.card;
  return {
    cardHash: digest(card.sha256, "the card"),
    cardCid: cidOf(card.cid),
    files: params.files.map((f) => ({ path: f.path, cid: cidOf(f.cid), sha256: digest(f.sha256, f.path) })),
    modes: [...params.modes],
  };
}

/**
 * A file stored as one raw block (as an IPFS node stores files under 256 KiB with raw leaves): its raw CIDv1 and
 * SHA-256, computed from the bytes.
 * @example rawFileRef("model.onnx", onnx) // { path: "model.onnx", cid: Uint8Array [1, 0x55, ...], sha256: "0x…" }
 */
export function rawFileRef(path: string, bytes: Uint8Array): VersionFileRef & { cid: Uint8Array } {
  return { path, ...rawContentRef(bytes) };
}

/** {@link rawFileRef} without a path: a card that is not one of the version's files. */
export function rawContentRef(bytes: Uint8Array): ContentRef & { cid: Uint8Array } {
  return { cid: rawCid(bytes), sha256: sha256Hex(bytes) };
}

function cardFile(files: readonly VersionFileRef[], path: string): VersionFileRef {
  const file = files.find((f) => f.path === path);
  if (file === undefined)
    throw new InputError(
      `the model card ${path} is not among the version's files (${files.map((f) => f.path).join(", ")})`,
    );
  return file;
}

function digest(sha256: string, what: string): string {
  if (!BYTES32.test(sha256)) throw new InputError(`the SHA-256 of ${what} is ${sha256}, not 0x and 64 hex digits`);
  return sha256;
}

function cidOf(cid: string | Uint8Array): Uint8Array {
  return typeof cid === "string" ? cidFromString(cid) : cid;
}
