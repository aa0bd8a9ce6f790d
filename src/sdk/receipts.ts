/**
 * Receipts of inference answers and their batched settlement on `ReceiptSettlement` (issue #14 §3–4).
 *
 * - A client checks each receipt it gets with {@link checkReceipt}: the enclave signed it, the enclave is the
 *   operator's (registered, unrevoked, unexpired when it signed, its measurement unrevoked and bound by the model
 *   version), it names this chain's settlement contract, and its price is the operator's published price.
 * - An operator commits its receipts with {@link postBatch} (one transaction per batch) and publishes the batch's data
 *   ({@link BatchData}, whose SHA-256 the commit emits) so that anyone can check it and clients can find their proof.
 * - Anyone proves a receipt's inclusion with {@link proveInclusion} and checks it against the chain with
 *   {@link verifyInclusion} (what `vin receipt verify` does).
 * - A watcher checks a published batch with {@link findBatchFaults} and challenges a fault with {@link challenge}
 *   (commit, then reveal in a later block). Where a batch's data is not published, it asks for leaves to be opened
 *   (`requestOpening`); the operator answers with {@link answerOpenings}, or its batch is cancelled.
 */
import { ZeroHash, getAddress, type ContractRunner, type TypedDataDomain } from "ethers";
import type { Contracts } from "../core/contracts";
import { Mode } from "../core/modes";
import { ConflictError, InputError, IntegrityError, StateError, VerificationError } from "../core/errors";
import {
  BatchStatus,
  leafProof,
  type LeafProofStruct,
  MAX_BATCH,
  batchDataHash,
  buildReceiptTree,
  receiptDigest,
  receiptLeafHash,
  receiptProof,
  receiptSigner,
  verifyReceiptProof,
  type BatchData,
  type Inclusion,
  type ReceiptFile,
  type ReceiptTree,
  type SignedReceipt,
} from "../core/receipts";
import { asRevertError } from "../core/revert";
import { withRetry, type RetryOptions } from "../core/retry";
import { teeDomain } from "../core/tee";
import { privateServingRefusal, readEnclave } from "../modes";
import type { ReceiptSettlement } from "../../typechain-types/contracts/chat/ReceiptSettlement";
import type { IReceiptSettlement } from "../../typechain-types/contracts/chat/IReceiptSettlement";

/** `IReceiptSettlement.Fault`. */
export enum ReceiptFault {
  BadSignature = 0,
  WrongBinding = 1,
  OutOfTime = 2,
  UnboundVersion = 3,
  WrongPrice = 4,
  BadSum = 5,
  DuplicatePayment = 6,
  Unopened = 7,
}

/** The EIP-712 domain receipts are signed under: the TeeVerifier's on `settlement`'s chain. */
export async function receiptDomain(settlement: ReceiptSettlement): Promise<TypedDataDomain> {
  const [network, verifier] = await Promise.all([settlement.runner!.provider!.getNetwork(), settlement.teeVerifier()]);
  return teeDomain(network.chainId, verifier);
}

/* CHECKING A RECEIPT */

export interface CheckReceiptOptions {
  /** The request body the client sent: its keccak256 must be the receipt's `requestHash`. */
  requestHash?: string;
  /** The response the client got: its keccak256 must be the receipt's `responseHash`. */
  responseHash?: string;
  /** The operator the client meant to pay. */
  operator?: string;
  retry?: RetryOptions;
}

/** What a checked receipt was found to be. */
export interface CheckedReceipt {
  enclave: string;
  measurement: string;
  /** The operator's price per token at `issuedAt`. */
  perToken: bigint;
}

/**
 * Checks a receipt against the chain: signed by its enclave under the TeeVerifier's domain; the enclave registered
 * to the receipt's operator, unrevoked, unexpired when it signed, its measurement unrevoked and bound by the model
 * version for TEE; the receipt names `settlement`; its price is the operator's price per token at `issuedAt` times
 * its tokens; and, when given, the request and response hashes and the operator match.
 * @throws VerificationError saying which check failed.
 * @example const { enclave } = await checkReceipt(contracts, settlement, signed, { responseHash: keccak256(body) });
 */
export async function checkReceipt(
  contracts: Pick<Contracts, "teeVerifier" | "registry" | "escrow">,
  settlement: ReceiptSettlement,
  signed: SignedReceipt,
  options: CheckReceiptOptions = {},
): Promise<CheckedReceipt> {
  const { receipt } = signed;
  const retry = options.retry ?? {};
  const fail = (reason: string) =>
    new VerificationError(`the receipt does not check: ${reason}`, { context: { paymentId: receipt.paymentId } });
  const expect = (what: string, got: string, wanted: string | undefined) => {
    if (wanted !== undefined && got.toLowerCase() !== wanted.toLowerCase())
      throw fail(`its ${what} is ${got}, not ${wanted}`);
  };
  expect("settlement contract", receipt.settlement, await settlement.getAddress());
  expect("request hash", receipt.requestHash, options.requestHash);
  expect("response hash", receipt.responseHash, options.responseHash);
  expect("operator", receipt.operator, options.operator);
  const domain = await receiptDomain(settlement);
  let signer: string;
  try {
    signer = receiptSigner(domain, signed);
  } catch (cause) {
    throw new VerificationError("the receipt does not check: its signature is malformed", { cause });
  }
  expect("signer", signer, receipt.enclave);
  const reading = await readEnclave(contracts, signer, retry);
  const refusal = await privateServingRefusal(
    contracts,
    signer,
    { ...reading, now: receipt.issuedAt },
    receipt.operator,
    receipt,
    retry,
  );
  if (refusal !== undefined) throw fail(refusal);
  const perToken = await withRetry(
    "receiptSettlement.priceOf",
    () => settlement.priceOf(receipt.operator, receipt.modelId, receipt.issuedAt),
    retry,
  );
  const price = perToken * (receipt.promptTokens + receipt.completionTokens);
  if (receipt.price !== price)
    throw fail(`its price is ${receipt.price}, not ${price} (${perToken} per token at ${receipt.issuedAt})`);
  return { enclave: signer, measurement: reading.measurement, perToken };
}

/* POSTING A BATCH */

/** A committed batch: its id, tree, published data and that data's hash. */
export interface PostedBatch {
  batchId: bigint;
  tree: ReceiptTree;
  data: BatchData;
  dataHash: string;
  transactionHash: string;
}

/**
 * Commits `receipts` (in this order) as one batch of `settlement`'s signer, the operator, signed by `enclave`.
 * Publish `data` where clients and watchers can fetch it (its SHA-256 is the emitted `dataHash`).
 * @throws InputError for an empty or oversized batch, a receipt of another enclave, operator or contract;
 * ConflictError for a payment id used twice (a slashable fault); RevertError, decoded, when the commit reverts.
 * @example const posted = await postBatch(settlement.connect(operator), enclave.address, receipts);
 */
export async function postBatch(
  settlement: ReceiptSettlement,
  enclave: string,
  receipts: readonly SignedReceipt[],
): Promise<PostedBatch> {
  if (receipts.length === 0 || receipts.length > MAX_BATCH)
    throw new InputError(`a batch holds 1 to ${MAX_BATCH} receipts, got ${receipts.length}`);
  const address = await settlement.getAddress();
  const operator = await (settlement.runner as ContractRunner & { getAddress(): Promise<string> }).getAddress();
  const seen = new Set<string>();
  receipts.forEach(({ receipt }, i) => {
    const wrong = [
      ["settlement", receipt.settlement, address],
      ["operator", receipt.operator, operator],
      ["enclave", receipt.enclave, enclave],
    ].find(([, got, wanted]) => got!.toLowerCase() !== wanted!.toLowerCase());
    if (wrong !== undefined) throw new InputError(`receipt ${i} names ${wrong[0]} ${wrong[1]}, not ${wrong[2]}`);
    const id = receipt.paymentId.toLowerCase();
    if (seen.has(id)) throw new ConflictError(`receipt ${i} spends payment id ${id} again: a batch must not`);
    seen.add(id);
  });
  const domain = await receiptDomain(settlement);
  const tree = buildReceiptTree(domain, receipts);
  const data: BatchData = {
    chainId: BigInt(domain.chainId!),
    settlement: address,
    teeVerifier: getAddress(domain.verifyingContract!),
    receipts: [...receipts],
  };
  const dataHash = batchDataHash(data);
  const sent = await send("commitBatch", () =>
    settlement.commitBatch(tree.root, tree.count, tree.total, enclave, dataHash),
  );
  const event = sent.logs
    .map((log) => settlement.interface.parseLog(log))
    .find((parsed) => parsed?.name === "BatchCommitted");
  if (event === undefined || event === null) throw new StateError(`commitBatch ${sent.hash} emitted no BatchCommitted`);
  return { batchId: event.args.batchId as bigint, tree, data, dataHash, transactionHash: sent.hash };
}

/* INCLUSION */

/** The inclusion of leaf `index` of a batch's tree. */
export function proveInclusion(tree: ReceiptTree, batchId: bigint, index: number): Inclusion {
  return { batchId, index, cumulative: tree.leaves[index]!.cumulative, proof: receiptProof(tree, index) };
}

/**
 * Checks that `file`'s receipt is in the batch its inclusion names on `settlement` (its root and size), and that
 * the batch is not cancelled.
 * @throws InputError when the file has no inclusion; VerificationError saying what does not match.
 * @returns The batch as the chain holds it.
 */
export async function verifyInclusion(
  settlement: ReceiptSettlement,
  file: ReceiptFile,
  retry: RetryOptions = {},
): Promise<IReceiptSettlement.BatchStructOutput> {
  const inclusion = file.inclusion;
  if (inclusion === undefined) throw new InputError("the receipt file has no inclusion (batch, index and proof)");
  const batch = await withRetry("receiptSettlement.batch", () => settlement.batch(inclusion.batchId), retry);
  const fail = (reason: string) =>
    new VerificationError(`the receipt is not in batch ${inclusion.batchId}: ${reason}`, {
      context: { batchId: inclusion.batchId, index: inclusion.index },
    });
  if (Number(batch.status) === BatchStatus.None) throw fail("no such batch");
  const domain = teeDomain(file.chainId, file.teeVerifier);
  const leaf = receiptLeafHash(receiptDigest(domain, file.receipt), file.signature, inclusion.cumulative);
  if (!verifyReceiptProof(batch.root, Number(batch.count), leaf, inclusion.index, inclusion.proof))
    throw fail(`the proof of leaf ${inclusion.index} does not lead to its root ${batch.root}`);
  if (Number(batch.status) === BatchStatus.Cancelled) throw fail("the batch was cancelled by a challenge");
  return batch;
}

/* OPENINGS */

/**
 * Opens every leaf of batch `batchId` whose opening was requested and is still outstanding (the operator's duty
 * while the batch's window is open: an unopened leaf cancels the batch); the caller is paid each request's fee.
 * @returns The indexes opened.
 * @example setInterval(() => answerOpenings(settlement.connect(operator), posted.batchId, posted.data), 60_000);
 */
export async function answerOpenings(
  settlement: ReceiptSettlement,
  batchId: bigint,
  data: BatchData,
  retry: RetryOptions = {},
): Promise<number[]> {
  const tree = buildReceiptTree(teeDomain(data.chainId, data.teeVerifier), data.receipts);
  const requests = await withRetry(
    "receiptSettlement.OpeningRequested",
    () => settlement.queryFilter(settlement.filters.OpeningRequested(batchId)),
    retry,
  );
  const opened: number[] = [];
  for (const request of requests) {
    const index = Number(request.args.index);
    const { closed } = await withRetry("receiptSettlement.opening", () => settlement.opening(batchId, index), retry);
    if (closed || opened.includes(index)) continue;
    await send("openLeaf", () => settlement.openLeaf(batchId, leafProof(data, tree, index)));
    opened.push(index);
  }
  return opened;
}

/* CHALLENGES */

export { BatchStatus, leafProof, type LeafProofStruct };

/** A fault found in a batch, with the evidence a challenge reveals. */
export type BatchFault =
  | { kind: "receipt"; fault: ReceiptFault; index: number; leaf: LeafProofStruct }
  | { kind: "sum"; index: number; a: LeafProofStruct; b: LeafProofStruct }
  | { kind: "duplicate"; index: number; a: LeafProofStruct; otherId: bigint; b: LeafProofStruct };

/** The published data of an earlier batch of the same operator, for duplicate checks. */
export interface KnownBatch {
  batchId: bigint;
  data: BatchData;
}

/**
 * Checks a published batch against what the chain committed and returns its faults (none for an honest batch):
 * each leaf's signature, binding, time, version binding and price (`challengeReceipt`), the running sums, and the
 * payment ids within the batch and against `earlier` batches of the operator.
 * @throws IntegrityError when `data` is not the batch committed (its root or size differ): it proves nothing.
 */
export async function findBatchFaults(
  settlement: ReceiptSettlement,
  contracts: Pick<Contracts, "registry">,
  batchId: bigint,
  data: BatchData,
  earlier: readonly KnownBatch[] = [],
): Promise<BatchFault[]> {
  const batch = await settlement.batch(batchId);
  const domain = teeDomain(data.chainId, data.teeVerifier);
  const tree = buildReceiptTree(domain, data.receipts);
  if (tree.root !== batch.root || tree.count !== Number(batch.count))
    throw new IntegrityError(`the data does not build batch ${batchId}'s root ${batch.root} of ${batch.count} leaves`);
  const faults: BatchFault[] = [];
  const committedAt = batch.committedAt;
  const { maxReceiptAge } = await settlement.parameters();
  for (let index = 0; index < tree.count; index += 1) {
    const fault = await leafFault(
      settlement,
      contracts,
      domain,
      batch,
      data.receipts[index]!,
      committedAt,
      maxReceiptAge,
    );
    if (fault !== undefined) faults.push({ kind: "receipt", fault, index, leaf: leafProof(data, tree, index) });
  }
  // A tree built from the data has consistent sums; a sum fault shows as the last leaf's against the total.
  const last = tree.count - 1;
  if (tree.total !== batch.total && !faults.some((f) => f.index === last))
    faults.push({ kind: "receipt", fault: ReceiptFault.BadSum, index: last, leaf: leafProof(data, tree, last) });
  const seen = new Map<string, { batchId: bigint; data: BatchData; tree: ReceiptTree; index: number }>();
  for (const known of earlier) {
    const knownTree = buildReceiptTree(teeDomain(known.data.chainId, known.data.teeVerifier), known.data.receipts);
    known.data.receipts.forEach(({ receipt }, index) =>
      seen.set(receipt.paymentId.toLowerCase(), { ...known, tree: knownTree, index }),
    );
  }
  data.receipts.forEach(({ receipt }, index) => {
    const id = receipt.paymentId.toLowerCase();
    const other = seen.get(id);
    if (other !== undefined)
      faults.push({
        kind: "duplicate",
        index,
        a: leafProof(data, tree, index),
        otherId: other.batchId,
        b: leafProof(other.data, other.tree, other.index),
      });
    else seen.set(id, { batchId, data, tree, index });
  });
  return faults;
}

async function leafFault(
  settlement: ReceiptSettlement,
  contracts: Pick<Contracts, "registry">,
  domain: TypedDataDomain,
  batch: IReceiptSettlement.BatchStructOutput,
  signed: SignedReceipt,
  committedAt: bigint,
  maxReceiptAge: bigint,
): Promise<ReceiptFault | undefined> {
  const { receipt } = signed;
  let signer: string | undefined;
  try {
    signer = receiptSigner(domain, signed);
  } catch {
    signer = undefined;
  }
  if (signer === undefined || signer.toLowerCase() !== batch.enclave.toLowerCase()) return ReceiptFault.BadSignature;
  const address = await settlement.getAddress();
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  if (
    !same(receipt.settlement, address) ||
    !same(receipt.operator, batch.operator) ||
    !same(receipt.enclave, batch.enclave)
  )
    return ReceiptFault.WrongBinding;
  if (receipt.issuedAt > committedAt || receipt.issuedAt + maxReceiptAge < committedAt) return ReceiptFault.OutOfTime;
  const bound = await contracts.registry
    .isBound(receipt.modelId, receipt.version, Mode.Tee, batch.measurement)
    .catch(() => false);
  if (!bound) return ReceiptFault.UnboundVersion;
  const perToken = await settlement.priceOf(receipt.operator, receipt.modelId, receipt.issuedAt);
  if (receipt.price !== perToken * (receipt.promptTokens + receipt.completionTokens)) return ReceiptFault.WrongPrice;
  return undefined;
}

/** The commitment a challenger records before revealing `fault` (`IReceiptSettlement.challengeCommitment`). */
export async function faultCommitment(
  settlement: ReceiptSettlement,
  challenger: string,
  batchId: bigint,
  fault: BatchFault,
) {
  const [leafA, otherId, leafB] = evidenceOf(settlement, batchId, fault);
  return settlement.challengeCommitment(challenger, batchId, await leafA, otherId, await leafB);
}

/**
 * Challenges batch `batchId` with `fault`: commits the evidence, waits for a later block, reveals it. The batch is
 * cancelled and the challenger credited its reward (withdraw it with `settlement.withdraw`).
 * @throws RevertError, decoded, when either step reverts (e.g. the window closed or the evidence proves nothing).
 * @example for (const fault of await findBatchFaults(...)) await challenge(settlement.connect(watcher), batchId, fault);
 */
export async function challenge(
  settlement: ReceiptSettlement,
  batchId: bigint,
  fault: BatchFault,
  options: { waitForBlock?: () => Promise<void> } = {},
): Promise<string> {
  const challenger = await (settlement.runner as ContractRunner & { getAddress(): Promise<string> }).getAddress();
  const commitment = await faultCommitment(settlement, challenger, batchId, fault);
  const committed = await send("commitChallenge", () => settlement.commitChallenge(commitment));
  const provider = settlement.runner!.provider!;
  while ((await provider.getBlockNumber()) <= committed.blockNumber) {
    await (options.waitForBlock ?? (() => new Promise<void>((resolve) => setTimeout(resolve, 1_000))))();
  }
  const revealed = await send("challenge", () =>
    fault.kind === "receipt"
      ? settlement.challengeReceipt(batchId, fault.leaf)
      : fault.kind === "sum"
        ? settlement.challengeSum(batchId, fault.a, fault.b)
        : settlement.challengeDuplicate(batchId, fault.a, fault.otherId, fault.b),
  );
  return revealed.hash;
}

/** The evidence a commitment binds: the first leaf's hash, the second leaf's batch (zero for one leaf) and hash. */
function evidenceOf(
  settlement: ReceiptSettlement,
  batchId: bigint,
  fault: BatchFault,
): [Promise<string>, bigint, Promise<string>] {
  if (fault.kind === "receipt") return [settlement.leafHash(fault.leaf), 0n, Promise.resolve(ZeroHash)];
  if (fault.kind === "sum") return [settlement.leafHash(fault.a), batchId, settlement.leafHash(fault.b)];
  return [settlement.leafHash(fault.a), fault.otherId, settlement.leafHash(fault.b)];
}

/* TRANSACTIONS */

/** Sends a settlement transaction and waits for it; a revert becomes a RevertError naming the contract's error. */
async function send(
  call: string,
  submit: () => Promise<{ wait(): Promise<unknown> }>,
): Promise<{ hash: string; blockNumber: number; logs: readonly { topics: readonly string[]; data: string }[] }> {
  try {
    const response = await submit();
    const receipt = (await response.wait()) as { hash: string; blockNumber: number; logs: [] } | null;
    if (receipt === null) throw new StateError(`receiptSettlement.${call} was dropped`);
    return receipt;
  } catch (error) {
    throw settlementRevert(error, call);
  }
}

/** The settlement's custom error in `error`, decoded into a RevertError by core's decoder (which knows its ABI). */
export function settlementRevert(error: unknown, call: string): unknown {
  return asRevertError(error, { contract: "receiptSettlement", call });
}
