/**
 * Inference receipts (issue #14 §3–4) and the batches `ReceiptSettlement` settles: the receipt an enclave signs for
 * every answer (EIP-712 type `InferenceReceipt` under the TeeVerifier's domain, core/tee `teeDomain`), a batch's leaves
 * and its indexed Merkle tree, and their JSON encodings. Everything here matches `contracts/chat/ReceiptLib.sol`
 * bit for bit:
 *
 * - leaf `i` = keccak256(abi.encode(LEAF_TAG, digest, keccak256(signature), cumulative)), `cumulative` the sum of
 *   the prices of leaves 0..i, `LEAF_TAG` = keccak256("InferenceReceiptLeaf");
 * - inner node = keccak256(left ‖ right); the tree is indexed (leaves in batch order, not sorted), of depth
 *   ceil(log2(count)), and a node without a right sibling at any level is paired with 32 zero bytes;
 * - a proof is the siblings from the leaf level up; the index's bits say which side each is on.
 *
 * A leaf's preimage is 128 bytes and a node's 64, so a node can never pass for a leaf or the reverse.
 */
import {
  AbiCoder,
  TypedDataEncoder,
  concat,
  getAddress,
  keccak256,
  toUtf8Bytes,
  verifyTypedData,
  type Signer,
  type TypedDataDomain,
  type TypedDataField,
} from "ethers";
import type { IReceiptSettlement } from "../../typechain-types/contracts/chat/IReceiptSettlement";
import { InputError, IntegrityError } from "./errors";
import { hexField as anyHexField, objectOf, uintField } from "./fields";
import { sha256Hex } from "./hash";

/** The EIP-712 type an enclave signs for one answer. */
export const RECEIPT_TYPES: Record<string, TypedDataField[]> = {
  InferenceReceipt: [
    { name: "settlement", type: "address" },
    { name: "operator", type: "address" },
    { name: "enclave", type: "address" },
    { name: "modelId", type: "uint64" },
    { name: "version", type: "uint32" },
    { name: "requestHash", type: "bytes32" },
    { name: "responseHash", type: "bytes32" },
    { name: "promptTokens", type: "uint32" },
    { name: "completionTokens", type: "uint32" },
    { name: "price", type: "uint96" },
    { name: "paymentId", type: "bytes32" },
    { name: "issuedAt", type: "uint64" },
  ],
};

/** Most receipts in one batch (`ReceiptSettlement.MAX_BATCH`). */
export const MAX_BATCH = 4096;

/** Tags a leaf's preimage. */
export const LEAF_TAG = keccak256(toUtf8Bytes("InferenceReceiptLeaf"));

const ZERO = `0x${"00".repeat(32)}`;

/** What an enclave signs for one answer (`IReceiptSettlement.Receipt`). */
export interface Receipt {
  /** The ReceiptSettlement contract the receipt is settled on. */
  settlement: string;
  /** The operator whose gateway served it. */
  operator: string;
  /** The enclave's signing address. */
  enclave: string;
  modelId: bigint;
  version: bigint;
  /** keccak256 of the request body as the client sent it. */
  requestHash: string;
  /** keccak256 of the complete response (for a stream, its concatenated content). */
  responseHash: string;
  promptTokens: bigint;
  completionTokens: bigint;
  /** The operator's price per token of the model at `issuedAt` times the tokens. */
  price: bigint;
  /** The credential spent (a Privacy Pass token's nonce): unique per operator. */
  paymentId: string;
  /** Seconds since the epoch, when the enclave signed it. */
  issuedAt: bigint;
}

/** A receipt and the enclave's 65-byte EIP-712 signature of it. */
export interface SignedReceipt {
  receipt: Receipt;
  signature: string;
}

/** A leaf of a batch: its hash and running sum. */
export interface ReceiptLeaf {
  hash: string;
  cumulative: bigint;
}

/** A batch's Merkle tree. `levels[0]` are the leaves' hashes, the last level holds the root alone. */
export interface ReceiptTree {
  root: string;
  count: number;
  /** The sum of the receipts' prices: the batch's total. */
  total: bigint;
  leaves: ReceiptLeaf[];
  levels: string[][];
}

/** The EIP-712 digest an enclave signs for `receipt` under `domain` (the TeeVerifier's: core/tee `teeDomain`). */
export function receiptDigest(domain: TypedDataDomain, receipt: Receipt): string {
  return TypedDataEncoder.hash(domain, RECEIPT_TYPES, receipt);
}

/**
 * Signs `receipt` with an enclave key.
 * @example const signed = await signReceipt(enclaveWallet, teeDomain(chainId, teeVerifier), receipt);
 */
export async function signReceipt(enclave: Signer, domain: TypedDataDomain, receipt: Receipt): Promise<SignedReceipt> {
  return { receipt, signature: await enclave.signTypedData(domain, RECEIPT_TYPES, receipt) };
}

/** The address that signed `signed` under `domain`. @throws IntegrityError for a malformed signature. */
export function receiptSigner(domain: TypedDataDomain, signed: SignedReceipt): string {
  try {
    return verifyTypedData(domain, RECEIPT_TYPES, signed.receipt, signed.signature);
  } catch (cause) {
    throw new IntegrityError("the receipt's signature is malformed", { cause });
  }
}

/** The leaf of a receipt with `digest`, `signature` and running sum `cumulative` (`ReceiptLib.leaf`). */
export function receiptLeafHash(digest: string, signature: string, cumulative: bigint): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["bytes32", "bytes32", "bytes32", "uint128"],
      [LEAF_TAG, digest, keccak256(signature), cumulative],
    ),
  );
}

/** `ceil(log2(count))`: the number of levels above the leaves. */
export function treeDepth(count: number): number {
  let depth = 0;
  while (1 << depth < count) depth += 1;
  return depth;
}

/** An inner node. */
export function hashPair(left: string, right: string): string {
  return keccak256(concat([left, right]));
}

/**
 * The tree of a batch of receipts, in the order given.
 * @throws InputError for an empty batch or one of more than {@link MAX_BATCH}.
 * @example const tree = buildReceiptTree(domain, receipts); await settlement.commitBatch(tree.root, tree.count, ...);
 */
export function buildReceiptTree(domain: TypedDataDomain, receipts: readonly SignedReceipt[]): ReceiptTree {
  if (receipts.length === 0 || receipts.length > MAX_BATCH)
    throw new InputError(`a batch holds 1 to ${MAX_BATCH} receipts, got ${receipts.length}`);
  let cumulative = 0n;
  const leaves = receipts.map(({ receipt, signature }) => {
    cumulative += receipt.price;
    return { hash: receiptLeafHash(receiptDigest(domain, receipt), signature, cumulative), cumulative };
  });
  return { ...treeOfLeaves(leaves.map((leaf) => leaf.hash)), total: cumulative, leaves };
}

/** The levels and root over leaf hashes (no sums). */
export function treeOfLeaves(hashes: readonly string[]): Pick<ReceiptTree, "root" | "count" | "levels"> {
  const levels: string[][] = [[...hashes]];
  for (let depth = treeDepth(hashes.length); depth > 0; depth -= 1) {
    const below = levels[levels.length - 1]!;
    const level: string[] = [];
    for (let i = 0; i < below.length; i += 2) level.push(hashPair(below[i]!, below[i + 1] ?? ZERO));
    levels.push(level);
  }
  return { root: levels[levels.length - 1]![0]!, count: hashes.length, levels };
}

/** The proof of leaf `index`: its siblings from the leaf level up. @throws InputError for an index out of range. */
export function receiptProof(tree: Pick<ReceiptTree, "levels" | "count">, index: number): string[] {
  if (!Number.isInteger(index) || index < 0 || index >= tree.count)
    throw new InputError(`leaf index ${index} is outside the batch's ${tree.count} leaves`);
  return tree.levels.slice(0, -1).map((level, depth) => level[(index >> depth) ^ 1] ?? ZERO);
}

/** Whether `proof` leads from `leaf` at `index` to `root` in a tree of `count` leaves (`ReceiptLib.verify`). */
export function verifyReceiptProof(root: string, count: number, leaf: string, index: number, proof: readonly string[]) {
  if (!Number.isInteger(index) || index < 0 || index >= count || proof.length !== treeDepth(count)) return false;
  let node = leaf;
  proof.forEach((sibling, depth) => {
    node = ((index >> depth) & 1) === 0 ? hashPair(node, sibling) : hashPair(sibling, node);
  });
  return node.toLowerCase() === root.toLowerCase();
}

/* JSON */

/** A receipt with its place in a batch, as `vin receipt verify` reads it and a client keeps it. */
export interface ReceiptFile extends SignedReceipt {
  /** The chain the receipt's domain names. */
  chainId: bigint;
  /** The TeeVerifier whose domain it is signed under. */
  teeVerifier: string;
  /** Where it was settled, once it is: the batch, the leaf's index and running sum, and the Merkle proof. */
  inclusion?: Inclusion;
}

/** Where a receipt sits in a committed batch. */
export interface Inclusion {
  batchId: bigint;
  index: number;
  cumulative: bigint;
  proof: string[];
}

/** The published data of a batch: every signed receipt in order (its SHA-256 is the batch's `dataHash`). */
export interface BatchData {
  chainId: bigint;
  settlement: string;
  teeVerifier: string;
  receipts: SignedReceipt[];
}

/** The JSON text of a receipt file (bigints as decimal strings). */
export function encodeReceiptFile(file: ReceiptFile): string {
  return JSON.stringify(file, jsonReplacer, 2);
}

/** The JSON text of a batch's data. */
export function encodeBatchData(data: BatchData): string {
  return JSON.stringify(data, jsonReplacer);
}

/** SHA-256 of the batch data's JSON text: what `commitBatch` emits as `dataHash`. */
export function batchDataHash(data: BatchData): string {
  return sha256Hex(encodeBatchData(data));
}

/**
 * Parses a receipt file.
 * @throws InputError naming the field that is missing or malformed.
 */
export function parseReceiptFile(body: unknown): ReceiptFile {
  const record = objectOf(body, "a receipt file");
  const inclusion = record.inclusion;
  return {
    ...parseSignedReceipt(record),
    chainId: uintField(record, "chainId", 64),
    teeVerifier: addressField(record, "teeVerifier"),
    ...(inclusion === undefined ? {} : { inclusion: parseInclusion(inclusion) }),
  };
}

/** `IReceiptSettlement.BatchStatus`. */
export enum BatchStatus {
  None = 0,
  Pending = 1,
  Finalized = 2,
  Cancelled = 3,
}

/** One leaf as the contract takes it (openings and challenges). */
export type LeafProofStruct = IReceiptSettlement.LeafProofStruct;

/** Leaf `index` of a batch (its data and tree) as `openLeaf` and `challenge*` take it. */
export function leafProof(data: BatchData, tree: ReceiptTree, index: number): LeafProofStruct {
  const { receipt, signature } = data.receipts[index]!;
  return { receipt, signature, cumulative: tree.leaves[index]!.cumulative, index, proof: receiptProof(tree, index) };
}

/** Parses a batch's published data. @throws InputError naming what is malformed. */
export function parseBatchData(body: unknown): BatchData {
  const record = objectOf(body, "batch data");
  const receipts = record.receipts;
  if (!Array.isArray(receipts) || receipts.length === 0 || receipts.length > MAX_BATCH)
    throw new InputError(`"receipts" must be an array of 1 to ${MAX_BATCH} signed receipts`);
  return {
    chainId: uintField(record, "chainId", 64),
    settlement: addressField(record, "settlement"),
    teeVerifier: addressField(record, "teeVerifier"),
    receipts: receipts.map((entry, i) => {
      try {
        return parseSignedReceipt(objectOf(entry, "a signed receipt"));
      } catch (cause) {
        throw new InputError(`receipt ${i} of the batch is malformed: ${(cause as Error).message}`, { cause });
      }
    }),
  };
}

/** Parses `{ receipt, signature }`. @throws InputError naming the field that is missing or malformed. */
export function parseSignedReceipt(record: Record<string, unknown>): SignedReceipt {
  const r = objectOf(record.receipt, '"receipt"');
  return {
    receipt: {
      settlement: addressField(r, "settlement"),
      operator: addressField(r, "operator"),
      enclave: addressField(r, "enclave"),
      modelId: uintField(r, "modelId", 64),
      version: uintField(r, "version", 32),
      requestHash: hexField(r, "requestHash", 32),
      responseHash: hexField(r, "responseHash", 32),
      promptTokens: uintField(r, "promptTokens", 32),
      completionTokens: uintField(r, "completionTokens", 32),
      price: uintField(r, "price", 96),
      paymentId: hexField(r, "paymentId", 32),
      issuedAt: uintField(r, "issuedAt", 64),
    },
    signature: hexField(record, "signature", 65),
  };
}

function parseInclusion(body: unknown): Inclusion {
  const record = objectOf(body, '"inclusion"');
  const proof = record.proof;
  if (!Array.isArray(proof) || proof.length > 12) throw new InputError(`"proof" must be an array of at most 12 hashes`);
  return {
    batchId: uintField(record, "batchId", 64),
    index: Number(uintField(record, "index", 32)),
    cumulative: uintField(record, "cumulative", 128),
    proof: proof.map((hash: unknown, i) => hexField({ [`proof[${i}]`]: hash }, `proof[${i}]`, 32)),
  };
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/** A fixed-length hex field, lower-cased (receipt files compare hashes as text). */
function hexField(record: Record<string, unknown>, name: string, bytes: number): string {
  return anyHexField(record, name, bytes).toLowerCase();
}

function addressField(record: Record<string, unknown>, name: string): string {
  return getAddress(hexField(record, name, 20));
}
