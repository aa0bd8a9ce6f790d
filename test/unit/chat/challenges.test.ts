import { expect } from "chai";
import { mine, time } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet, ZeroHash } from "ethers";
import {
  buildReceiptTree,
  receiptDigest,
  receiptLeafHash,
  signReceipt,
  treeOfLeaves,
  type ReceiptTree,
  type SignedReceipt,
} from "../../../src/core/receipts";
import { ReceiptFault } from "../../../src/sdk/receipts";
import {
  BATCH_BOND,
  BOND,
  CREDIT,
  MAX_RECEIPT_AGE,
  PER_TOKEN,
  SHARE_BPS,
  WINDOW,
  commit,
  commitEvidence,
  commitRaw,
  loadChat,
  makeReceipt,
  signedReceipts,
  type ChatFixture,
  type Committed,
} from "./receipts.fixture";
import { registerByQuote } from "../../fixtures/system";

enum Status {
  None,
  Pending,
  Finalized,
  Cancelled,
}

const REWARD = (BATCH_BOND * SHARE_BPS) / 10_000n;

/** A tree whose leaves carry the running sums given (a dishonest operator's). */
function treeWithSums(fx: ChatFixture, receipts: SignedReceipt[], sums: bigint[]): ReceiptTree {
  const leaves = receipts.map((r, i) => ({
    hash: receiptLeafHash(receiptDigest(fx.domain, r.receipt), r.signature, sums[i]!),
    cumulative: sums[i]!,
  }));
  return { ...treeOfLeaves(leaves.map((l) => l.hash)), total: sums[sums.length - 1]!, leaves };
}

/** Challenges leaf `index` of `batch` as `fx.watcher` and checks the whole outcome of a successful challenge. */
async function expectReceiptFault(fx: ChatFixture, batch: Committed, index: number, fault: ReceiptFault) {
  const { settlement, watcher, operator, system } = fx;
  const leaf = batch.leaf(index);
  await commitEvidence(fx, watcher, batch.batchId, leaf);
  const credit = await settlement.creditOf(operator.address);
  const treasury = await system.timelock.getAddress();
  await expect(settlement.connect(watcher).challengeReceipt(batch.batchId, leaf))
    .to.emit(settlement, "BatchChallenged")
    .withArgs(batch.batchId, watcher.address, operator.address, fault, index, BATCH_BOND, REWARD);
  await expectCancelled(fx, batch, credit, treasury);
}

async function expectCancelled(fx: ChatFixture, batch: Committed, creditBefore: bigint, treasury: string) {
  const { settlement, watcher, operator } = fx;
  const total = (await settlement.batch(batch.batchId)).total;
  expect((await settlement.batch(batch.batchId)).status).to.equal(BigInt(Status.Cancelled));
  expect(await settlement.creditOf(operator.address)).to.equal(creditBefore + total);
  expect(await settlement.bondOf(operator.address)).to.deep.equal([BOND - BATCH_BOND, 0n]);
  expect(await settlement.balanceOf(watcher.address)).to.equal(REWARD);
  expect(await settlement.balanceOf(treasury)).to.equal(BATCH_BOND - REWARD);
  expect(await settlement.balanceOf(operator.address)).to.equal(0n);
  await time.increase(WINDOW);
  await expect(settlement.finalize(batch.batchId))
    .to.be.revertedWithCustomError(settlement, "ReceiptSettlementBatchNotPending")
    .withArgs(batch.batchId, Status.Cancelled);
}

describe("ReceiptSettlement challenges", () => {
  describe("challengeReceipt", () => {
    it("cancels a batch with a leaf not signed by its enclave (BadSignature)", async () => {
      const fx = await loadChat();
      const forged = await signedReceipts(fx, 1, () => ({}), Wallet.createRandom());
      const receipts = [...(await signedReceipts(fx, 2)), ...forged];
      const batch = await commitRaw(fx, receipts);
      await expectReceiptFault(fx, batch, 2, ReceiptFault.BadSignature);
    });

    it("cancels a batch with a leaf naming another settlement contract (WrongBinding)", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 3, (i) =>
        i === 1 ? { settlement: Wallet.createRandom().address } : {},
      );
      const batch = await commitRaw(fx, receipts);
      await expectReceiptFault(fx, batch, 1, ReceiptFault.WrongBinding);
    });

    it("cancels a batch with a receipt issued after the commit or more than maxReceiptAge before (OutOfTime)", async () => {
      const fx = await loadChat();
      const now = BigInt(await time.latest());
      const late = await signedReceipts(fx, 2, (i) => ({ issuedAt: i === 0 ? now + 100n : now }));
      await expectReceiptFault(fx, await commitRaw(fx, late), 0, ReceiptFault.OutOfTime);
    });

    it("cancels a batch with a receipt older than maxReceiptAge at the commit (OutOfTime)", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 2);
      await time.increase(MAX_RECEIPT_AGE);
      await expectReceiptFault(fx, await commitRaw(fx, receipts), 0, ReceiptFault.OutOfTime);
    });

    it("cancels a batch with a receipt of a version that does not bind the enclave's measurement (UnboundVersion)", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 2, (i) => (i === 1 ? { version: 2n } : {}));
      await expectReceiptFault(fx, await commitRaw(fx, receipts), 1, ReceiptFault.UnboundVersion);
    });

    it("cancels a batch with a receipt of an unknown model (UnboundVersion)", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 1, () => ({ modelId: 99n, price: 0n }));
      await expectReceiptFault(fx, await commitRaw(fx, receipts), 0, ReceiptFault.UnboundVersion);
    });

    it("cancels a batch with a receipt priced off the operator's card (WrongPrice)", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 4, (i) => (i === 3 ? { price: 100n * PER_TOKEN + 1n } : {}));
      await expectReceiptFault(fx, await commitRaw(fx, receipts), 3, ReceiptFault.WrongPrice);
    });

    it("cancels a batch whose total is not its last leaf's sum (BadSum)", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 3);
      const tree = buildReceiptTree(fx.domain, receipts);
      await expectReceiptFault(fx, await commitRaw(fx, receipts, tree, tree.total + 1n), 2, ReceiptFault.BadSum);
    });

    it("cancels a batch whose first leaf's sum is not its price (BadSum)", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 2);
      const price = receipts[0]!.receipt.price;
      const tree = treeWithSums(fx, receipts, [price + 5n, 2n * price + 5n]);
      await expectReceiptFault(fx, await commitRaw(fx, receipts, tree), 0, ReceiptFault.BadSum);
    });

    it("reverts with ReceiptSettlementNoFault for every leaf of an honest batch", async () => {
      const fx = await loadChat();
      const batch = await commit(fx, await signedReceipts(fx, 5));
      for (let index = 0; index < 5; index += 1) {
        const leaf = batch.leaf(index);
        await commitEvidence(fx, fx.watcher, batch.batchId, leaf);
        await expect(fx.settlement.connect(fx.watcher).challengeReceipt(batch.batchId, leaf))
          .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementNoFault")
          .withArgs(batch.batchId);
      }
    });

    it("reverts with ReceiptSettlementInvalidProof for a leaf not in the batch", async () => {
      const fx = await loadChat();
      const batch = await commit(fx, await signedReceipts(fx, 3));
      const stranger = await signReceipt(fx.enclave, fx.domain, await makeReceipt(fx, { price: 1n }));
      const leaf = { ...batch.leaf(1), ...stranger };
      await commitEvidence(fx, fx.watcher, batch.batchId, leaf);
      await expect(fx.settlement.connect(fx.watcher).challengeReceipt(batch.batchId, leaf))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementInvalidProof")
        .withArgs(batch.batchId, 1);
      const wrongIndex = { ...batch.leaf(1), index: 2 };
      await commitEvidence(fx, fx.watcher, batch.batchId, wrongIndex);
      await expect(fx.settlement.connect(fx.watcher).challengeReceipt(batch.batchId, wrongIndex))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementInvalidProof")
        .withArgs(batch.batchId, 2);
    });

    it("reverts with ReceiptSettlementChallengeNotCommitted without a commitment of this evidence by the caller", async () => {
      const fx = await loadChat();
      const forged = await signedReceipts(fx, 1, () => ({}), Wallet.createRandom());
      const batch = await commitRaw(fx, forged);
      const leaf = batch.leaf(0);
      const commitment = await fx.settlement.challengeCommitment(
        fx.watcher.address,
        batch.batchId,
        await fx.settlement.leafHash(leaf),
        0n,
        ZeroHash,
      );
      await expect(fx.settlement.connect(fx.watcher).challengeReceipt(batch.batchId, leaf))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementChallengeNotCommitted")
        .withArgs(commitment);
      await commitEvidence(fx, fx.buyer, batch.batchId, leaf);
      await expect(
        fx.settlement.connect(fx.watcher).challengeReceipt(batch.batchId, leaf),
      ).to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementChallengeNotCommitted");
      await expect(fx.settlement.connect(fx.watcher).commitChallenge(commitment))
        .to.emit(fx.settlement, "ChallengeCommitted")
        .withArgs(commitment, fx.watcher.address);
      expect(await fx.settlement.commitmentBlock(commitment)).to.equal(BigInt(await time.latestBlock()));
      await mine();
      await fx.settlement.connect(fx.watcher).challengeReceipt(batch.batchId, leaf);
      expect(await fx.settlement.commitmentBlock(commitment)).to.equal(0n);
    });

    it("reverts with ReceiptSettlementWindowClosed once the window has passed", async () => {
      const fx = await loadChat();
      const batch = await commitRaw(fx, await signedReceipts(fx, 1, () => ({}), Wallet.createRandom()));
      const leaf = batch.leaf(0);
      await commitEvidence(fx, fx.watcher, batch.batchId, leaf);
      const endsAt = (await fx.settlement.batch(batch.batchId)).committedAt + BigInt(WINDOW);
      await time.setNextBlockTimestamp(endsAt);
      await expect(fx.settlement.connect(fx.watcher).challengeReceipt(batch.batchId, leaf))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementWindowClosed")
        .withArgs(batch.batchId, endsAt);
    });
  });

  describe("challengeSum", () => {
    it("cancels a batch where leaf i+1's sum is not leaf i's plus its price", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 3);
      const price = receipts[0]!.receipt.price;
      // Leaf 0 and the total are right; the inflation hides between leaves 0 and 1.
      const batch = await commitRaw(
        fx,
        receipts,
        treeWithSums(fx, receipts, [price, 2n * price + 5n, 3n * price + 5n]),
      );
      const [a, b] = [batch.leaf(0), batch.leaf(1)];
      await commitEvidence(fx, fx.watcher, batch.batchId, a, batch.batchId, b);
      const credit = await fx.settlement.creditOf(fx.operator.address);
      await expect(fx.settlement.connect(fx.watcher).challengeSum(batch.batchId, a, b))
        .to.emit(fx.settlement, "BatchChallenged")
        .withArgs(batch.batchId, fx.watcher.address, fx.operator.address, ReceiptFault.BadSum, 1, BATCH_BOND, REWARD);
      await expectCancelled(fx, batch, credit, await fx.system.timelock.getAddress());
    });

    it("reverts with ReceiptSettlementNoFault for consistent or non-adjacent leaves", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 3);
      const price = receipts[0]!.receipt.price;
      const batch = await commitRaw(
        fx,
        receipts,
        treeWithSums(fx, receipts, [price, 2n * price + 5n, 3n * price + 5n]),
      );
      for (const [i, j] of [
        [1, 2],
        [0, 2],
        [1, 0],
      ] as const) {
        const [a, b] = [batch.leaf(i), batch.leaf(j)];
        await commitEvidence(fx, fx.watcher, batch.batchId, a, batch.batchId, b);
        await expect(fx.settlement.connect(fx.watcher).challengeSum(batch.batchId, a, b))
          .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementNoFault")
          .withArgs(batch.batchId);
      }
    });
  });

  describe("challengeDuplicate", () => {
    it("cancels a batch with two leaves of one payment id", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 3);
      const again = await signReceipt(fx.enclave, fx.domain, {
        ...receipts[0]!.receipt,
        requestHash: ZeroHash,
      });
      const batch = await commitRaw(fx, [...receipts, again]);
      const [a, b] = [batch.leaf(3), batch.leaf(0)];
      await commitEvidence(fx, fx.watcher, batch.batchId, a, batch.batchId, b);
      const credit = await fx.settlement.creditOf(fx.operator.address);
      await expect(fx.settlement.connect(fx.watcher).challengeDuplicate(batch.batchId, a, batch.batchId, b))
        .to.emit(fx.settlement, "BatchChallenged")
        .withArgs(
          batch.batchId,
          fx.watcher.address,
          fx.operator.address,
          ReceiptFault.DuplicatePayment,
          3,
          BATCH_BOND,
          REWARD,
        );
      await expectCancelled(fx, batch, credit, await fx.system.timelock.getAddress());
    });

    it("cancels a later batch repeating a payment id of a finalized one", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 2);
      const first = await commit(fx, receipts);
      await time.increase(WINDOW);
      await fx.settlement.finalize(first.batchId);
      const second = await commitRaw(fx, [receipts[1]!, ...(await signedReceipts(fx, 1))]);
      const [a, b] = [second.leaf(0), first.leaf(1)];
      await commitEvidence(fx, fx.watcher, second.batchId, a, first.batchId, b);
      await expect(fx.settlement.connect(fx.watcher).challengeDuplicate(second.batchId, a, first.batchId, b))
        .to.emit(fx.settlement, "BatchChallenged")
        .withArgs(
          second.batchId,
          fx.watcher.address,
          fx.operator.address,
          ReceiptFault.DuplicatePayment,
          0,
          BATCH_BOND,
          REWARD,
        );
      // The first batch's payment stands: the operator was paid once.
      expect(await fx.settlement.balanceOf(fx.operator.address)).to.equal(first.tree.total);
      expect(await fx.settlement.creditOf(fx.operator.address)).to.equal(CREDIT - first.tree.total);
    });

    it("reverts with ReceiptSettlementNoFault for one leaf proven twice, different ids, or a cancelled other batch", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 2);
      const batch = await commit(fx, receipts);
      const cases: [bigint, number, bigint, number][] = [
        [batch.batchId, 0, batch.batchId, 0],
        [batch.batchId, 0, batch.batchId, 1],
      ];
      for (const [id, i, otherId, j] of cases) {
        const [a, b] = [batch.leaf(i), batch.leaf(j)];
        await commitEvidence(fx, fx.watcher, id, a, otherId, b);
        await expect(fx.settlement.connect(fx.watcher).challengeDuplicate(id, a, otherId, b))
          .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementNoFault")
          .withArgs(id);
      }
      // A batch cancelled for a forged leaf paid nothing: its honest receipts may be batched again.
      const forged = await signedReceipts(fx, 1, () => ({}), Wallet.createRandom());
      const bad = await commitRaw(fx, [...(await signedReceipts(fx, 1)), ...forged]);
      await commitEvidence(fx, fx.watcher, bad.batchId, bad.leaf(1));
      await fx.settlement.connect(fx.watcher).challengeReceipt(bad.batchId, bad.leaf(1));
      const retry = await commit(fx, [bad.data.receipts[0]!]);
      const [a, b] = [retry.leaf(0), bad.leaf(0)];
      await commitEvidence(fx, fx.watcher, retry.batchId, a, bad.batchId, b);
      await expect(fx.settlement.connect(fx.watcher).challengeDuplicate(retry.batchId, a, bad.batchId, b))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementNoFault")
        .withArgs(retry.batchId);
    });

    it("reverts with ReceiptSettlementOperatorMismatch for batches of two operators, UnknownBatch for none", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 1);
      const batch = await commit(fx, receipts);
      // A second operator with its own enclave batches a receipt with the same payment id: not a double payment.
      const [, second] = fx.nodes;
      const key = Wallet.createRandom();
      await registerByQuote(fx.system, second!, key);
      await fx.system.token.connect(second!).approve(await fx.settlement.getAddress(), BATCH_BOND);
      await fx.settlement.connect(second!).depositBond(BATCH_BOND);
      await fx.settlement.connect(fx.buyer).deposit(second!.address, CREDIT);
      const theirs = await signReceipt(key, fx.domain, {
        ...receipts[0]!.receipt,
        operator: second!.address,
        enclave: key.address,
        price: 0n,
      });
      const tree = buildReceiptTree(fx.domain, [theirs]);
      await fx.settlement.connect(second!).commitBatch(tree.root, 1, 0n, key.address, ZeroHash);
      const otherId = await fx.settlement.batchCount();
      const b = { ...theirs, cumulative: 0n, index: 0, proof: [] };
      await expect(fx.settlement.challengeDuplicate(otherId, b, batch.batchId, batch.leaf(0)))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementOperatorMismatch")
        .withArgs(otherId, second!.address, fx.operator.address);
      await expect(fx.settlement.challengeDuplicate(batch.batchId, batch.leaf(0), 9n, batch.leaf(0)))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementUnknownBatch")
        .withArgs(9n);
      await expect(fx.settlement.challengeDuplicate(9n, batch.leaf(0), batch.batchId, batch.leaf(0)))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementUnknownBatch")
        .withArgs(9n);
    });
  });
});
