import hre from "hardhat";
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet, hexlify, keccak256, randomBytes, toUtf8Bytes, type HDNodeWallet, type TypedDataDomain } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { systemFixture, TOKEN, type Fixture } from "../../fixtures/system";
import { teeDomain } from "../../../src/core/tee";
import {
  buildReceiptTree,
  signReceipt,
  type BatchData,
  type Receipt,
  type ReceiptTree,
  type SignedReceipt,
} from "../../../src/core/receipts";
import { leafProof, postBatch, type LeafProofStruct } from "../../../src/sdk/receipts";
import type { ReceiptSettlement } from "../../../typechain-types";

/** The operator's price per token of the fixture's model. */
export const PER_TOKEN = 10n ** 15n;
/** What the buyer deposits into the operator's pool. */
export const CREDIT = 1_000n * TOKEN;
/** The operator's settlement bond: ten batches' worth. */
export const BOND = 1_000n * TOKEN;
/** The deployment's defaults (deploy/system DEFAULT_RECEIPT_PARAMETERS). */
export const WINDOW = 6 * 3600;
export const MAX_RECEIPT_AGE = 24 * 3600;
export const BATCH_BOND = 100n * TOKEN;
export const SHARE_BPS = 5_000n;
export const PRICE_NOTICE = 3600;
export const OPENING_FEE = 10n ** 18n;

export interface ChatFixture extends Fixture {
  settlement: ReceiptSettlement;
  /** Node 0: the fixture enclave's operator. */
  operator: HardhatEthersSigner;
  /** Deposits credit into the operator's pool. */
  buyer: HardhatEthersSigner;
  /** Challenges. */
  watcher: HardhatEthersSigner;
  domain: TypedDataDomain;
}

/** The system with the settlement deployed (by the deploy script), the operator bonded and priced, a pool funded. */
async function chatFixture(): Promise<ChatFixture> {
  const fx = await systemFixture();
  const settlement = fx.system.receiptSettlement;
  const address = await settlement.getAddress();
  const [operator] = fx.nodes;
  const [buyer, watcher] = [fx.requester, fx.other];
  for (const account of [operator!, buyer, watcher]) {
    await fx.system.token.connect(account).approve(address, hre.ethers.MaxUint256);
  }
  await settlement.connect(operator!).depositBond(BOND);
  await settlement.connect(operator!).setPrice(fx.modelId, PER_TOKEN);
  await settlement.connect(buyer).deposit(operator!.address, CREDIT);
  await time.increase(PRICE_NOTICE);
  const chainId = (await hre.ethers.provider.getNetwork()).chainId;
  const domain = teeDomain(chainId, await fx.system.teeVerifier.getAddress());
  return { ...fx, settlement, operator: operator!, buyer, watcher, domain };
}

export async function loadChat(): Promise<ChatFixture> {
  const fx = await loadFixture(chatFixture);
  await mine();
  return fx;
}

/** A receipt of the fixture's operator and enclave for the model, priced right, issued now. */
export async function makeReceipt(fx: ChatFixture, overrides: Partial<Receipt> = {}): Promise<Receipt> {
  const promptTokens = overrides.promptTokens ?? 20n;
  const completionTokens = overrides.completionTokens ?? 80n;
  return {
    settlement: await fx.settlement.getAddress(),
    operator: fx.operator.address,
    enclave: fx.enclave.address,
    modelId: fx.modelId,
    version: 1n,
    requestHash: keccak256(toUtf8Bytes("request")),
    responseHash: keccak256(toUtf8Bytes("response")),
    promptTokens,
    completionTokens,
    price: PER_TOKEN * (promptTokens + completionTokens),
    paymentId: hexlify(randomBytes(32)),
    issuedAt: BigInt(await time.latest()),
    ...overrides,
  };
}

/** `count` receipts signed by the fixture's enclave (or `signer`). */
export async function signedReceipts(
  fx: ChatFixture,
  count: number,
  overrides: (i: number) => Partial<Receipt> = () => ({}),
  signer: HDNodeWallet = fx.enclave,
): Promise<SignedReceipt[]> {
  const out: SignedReceipt[] = [];
  for (let i = 0; i < count; i += 1)
    out.push(await signReceipt(signer, fx.domain, await makeReceipt(fx, overrides(i))));
  return out;
}

/** A committed batch and what a watcher needs to prove its leaves. */
export interface Committed {
  batchId: bigint;
  tree: ReceiptTree;
  data: BatchData;
  leaf(index: number): LeafProofStruct;
}

/** Commits `receipts` through the SDK's `postBatch`. */
export async function commit(fx: ChatFixture, receipts: SignedReceipt[]): Promise<Committed> {
  const posted = await postBatch(fx.settlement.connect(fx.operator), fx.enclave.address, receipts);
  return { ...posted, leaf: (index) => leafProof(posted.data, posted.tree, index) };
}

/**
 * Commits a root the operator built itself (from `receipts`, with the given `total` and running sums possibly
 * wrong): what a dishonest operator can do that `postBatch` would not.
 */
export async function commitRaw(
  fx: ChatFixture,
  receipts: SignedReceipt[],
  tree: ReceiptTree = buildReceiptTree(fx.domain, receipts),
  total: bigint = tree.total,
): Promise<Committed> {
  await fx.settlement
    .connect(fx.operator)
    .commitBatch(tree.root, tree.count, total, fx.enclave.address, hexlify(randomBytes(32)));
  const batchId = await fx.settlement.batchCount();
  const data: BatchData = {
    chainId: BigInt(fx.domain.chainId!),
    settlement: await fx.settlement.getAddress(),
    teeVerifier: fx.domain.verifyingContract!,
    receipts,
  };
  return { batchId, tree, data, leaf: (index) => leafProof(data, tree, index) };
}

/** Commits the evidence for `challenger` and mines a block, so that it can be revealed. */
export async function commitEvidence(
  fx: ChatFixture,
  challenger: HardhatEthersSigner,
  batchId: bigint,
  a: LeafProofStruct,
  otherId = 0n,
  b?: LeafProofStruct,
): Promise<void> {
  const leafA = await fx.settlement.leafHash(a);
  const leafB = b === undefined ? hre.ethers.ZeroHash : await fx.settlement.leafHash(b);
  const commitment = await fx.settlement.challengeCommitment(challenger.address, batchId, leafA, otherId, leafB);
  await fx.settlement.connect(challenger).commitChallenge(commitment);
  await mine();
}

/** Gas of settling one batch of `count` receipts: the commit, the finalize, and their sum per receipt. */
export interface SettlementGas {
  count: number;
  commitGas: bigint;
  finalizeGas: bigint;
  perReceipt: number;
  /** The heaviest one-leaf challenge of the batch (its last leaf, a full-depth proof), for reference. */
  challengeGas: bigint;
}

/**
 * Commits an honest batch of `count` receipts through `postBatch`, finalizes it after the window, and measures
 * both; then measures a one-leaf challenge of a same-size batch with a forged last leaf.
 */
export async function measureSettlementGas(fx: ChatFixture, count: number): Promise<SettlementGas> {
  const receipts = await signedReceipts(fx, count, () => ({ promptTokens: 1n, completionTokens: 1n }));
  const posted = await postBatch(fx.settlement.connect(fx.operator), fx.enclave.address, receipts);
  const commitGas = (await hre.ethers.provider.getTransactionReceipt(posted.transactionHash))!.gasUsed;
  await time.increase(WINDOW);
  const finalized = await (await fx.settlement.connect(fx.operator).finalize(posted.batchId)).wait();
  const finalizeGas = finalized!.gasUsed;
  const forged = await signedReceipts(fx, 1, () => ({}), Wallet.createRandom());
  const bad = await commitRaw(fx, [...receipts.slice(0, count - 1), ...forged]);
  const leaf = bad.leaf(count - 1);
  await commitEvidence(fx, fx.watcher, bad.batchId, leaf);
  const challenged = await (await fx.settlement.connect(fx.watcher).challengeReceipt(bad.batchId, leaf)).wait();
  return {
    count,
    commitGas,
    finalizeGas,
    perReceipt: Number(commitGas + finalizeGas) / count,
    challengeGas: challenged!.gasUsed,
  };
}
