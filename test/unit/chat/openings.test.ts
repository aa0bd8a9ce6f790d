import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { ReceiptFault, answerOpenings } from "../../../src/sdk/receipts";
import {
  BATCH_BOND,
  BOND,
  CREDIT,
  OPENING_FEE,
  SHARE_BPS,
  WINDOW,
  commit,
  loadChat,
  signedReceipts,
  type ChatFixture,
  type Committed,
} from "./receipts.fixture";

enum Status {
  None,
  Pending,
  Finalized,
  Cancelled,
}

const REWARD = (BATCH_BOND * SHARE_BPS) / 10_000n;

async function committedBatch(fx: ChatFixture, count = 3): Promise<Committed> {
  return commit(fx, await signedReceipts(fx, count));
}

async function deadlineOf(fx: ChatFixture, batchId: bigint): Promise<bigint> {
  return (await fx.settlement.batch(batchId)).committedAt + BigInt((WINDOW * 3) / 4);
}

describe("ReceiptSettlement openings", () => {
  describe("requestOpening", () => {
    it("takes the fee, records the request, blocks finalize and emits OpeningRequested with the deadline", async () => {
      const fx = await loadChat();
      const batch = await committedBatch(fx);
      const before = await fx.system.token.balanceOf(fx.buyer.address);
      await expect(fx.settlement.connect(fx.buyer).requestOpening(batch.batchId, 2))
        .to.emit(fx.settlement, "OpeningRequested")
        .withArgs(batch.batchId, 2, fx.buyer.address, await deadlineOf(fx, batch.batchId));
      expect(await fx.system.token.balanceOf(fx.buyer.address)).to.equal(before - OPENING_FEE);
      expect(await fx.settlement.opening(batch.batchId, 2)).to.deep.equal([fx.buyer.address, false, OPENING_FEE]);
      expect((await fx.settlement.batch(batch.batchId)).unopened).to.equal(1n);
      await time.increase(WINDOW);
      await expect(fx.settlement.finalize(batch.batchId))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementOpeningsPending")
        .withArgs(batch.batchId, 1);
    });

    it("reverts for a leaf outside the batch, a second request, or after half the window", async () => {
      const fx = await loadChat();
      const batch = await committedBatch(fx);
      await expect(fx.settlement.connect(fx.buyer).requestOpening(batch.batchId, 3))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementLeafOutOfRange")
        .withArgs(batch.batchId, 3, 3);
      await fx.settlement.connect(fx.buyer).requestOpening(batch.batchId, 0);
      await expect(fx.settlement.connect(fx.watcher).requestOpening(batch.batchId, 0))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementOpeningExists")
        .withArgs(batch.batchId, 0);
      const endsAt = (await fx.settlement.batch(batch.batchId)).committedAt + BigInt(WINDOW / 2);
      await time.setNextBlockTimestamp(endsAt);
      await expect(fx.settlement.connect(fx.buyer).requestOpening(batch.batchId, 1))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementOpeningClosed")
        .withArgs(batch.batchId, endsAt);
      await expect(fx.settlement.connect(fx.buyer).requestOpening(7n, 0))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementUnknownBatch")
        .withArgs(7n);
    });
  });

  describe("openLeaf", () => {
    it("opens requested leaves (answerOpenings), pays their fees to the opener, and lets the batch finalize", async () => {
      const fx = await loadChat();
      const batch = await committedBatch(fx, 5);
      await fx.settlement.connect(fx.buyer).requestOpening(batch.batchId, 4);
      await fx.settlement.connect(fx.watcher).requestOpening(batch.batchId, 1);
      const operatorSettlement = fx.settlement.connect(fx.operator);
      const opened = await answerOpenings(operatorSettlement, batch.batchId, batch.data);
      expect(opened).to.deep.equal([4, 1]);
      const [event] = await fx.settlement.queryFilter(fx.settlement.filters.LeafOpened(batch.batchId));
      expect(event!.args.index).to.equal(4n);
      expect(event!.args.receipt.paymentId).to.equal(batch.data.receipts[4]!.receipt.paymentId);
      expect(event!.args.cumulative).to.equal(batch.tree.leaves[4]!.cumulative);
      expect(await fx.settlement.balanceOf(fx.operator.address)).to.equal(2n * OPENING_FEE);
      expect((await fx.settlement.opening(batch.batchId, 1)).closed).to.equal(true);
      expect(await answerOpenings(operatorSettlement, batch.batchId, batch.data)).to.deep.equal([]);
      await time.increase(WINDOW);
      await fx.settlement.finalize(batch.batchId);
      expect(await fx.settlement.balanceOf(fx.operator.address)).to.equal(2n * OPENING_FEE + batch.tree.total);
    });

    it("reverts with ReceiptSettlementNoOpening, InvalidProof, or OpeningDeadline once it is due", async () => {
      const fx = await loadChat();
      const batch = await committedBatch(fx);
      await expect(fx.settlement.openLeaf(batch.batchId, batch.leaf(0)))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementNoOpening")
        .withArgs(batch.batchId, 0);
      await fx.settlement.connect(fx.buyer).requestOpening(batch.batchId, 0);
      await expect(fx.settlement.openLeaf(batch.batchId, { ...batch.leaf(0), cumulative: 1n }))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementInvalidProof")
        .withArgs(batch.batchId, 0);
      const deadline = await deadlineOf(fx, batch.batchId);
      await time.setNextBlockTimestamp(deadline);
      await expect(fx.settlement.openLeaf(batch.batchId, batch.leaf(0)))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementOpeningDeadline")
        .withArgs(batch.batchId, 0, deadline);
    });
  });

  describe("slashUnopened", () => {
    it("refunds the fee and cancels the batch with the requester as challenger once the opening is overdue", async () => {
      const fx = await loadChat();
      const batch = await committedBatch(fx);
      await fx.settlement.connect(fx.buyer).requestOpening(batch.batchId, 1);
      const deadline = await deadlineOf(fx, batch.batchId);
      await time.setNextBlockTimestamp(deadline - 1n);
      await expect(fx.settlement.connect(fx.other).slashUnopened(batch.batchId, 1))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementOpeningDeadline")
        .withArgs(batch.batchId, 1, deadline);
      await expect(fx.settlement.connect(fx.other).slashUnopened(batch.batchId, 1))
        .to.emit(fx.settlement, "OpeningRefunded")
        .withArgs(batch.batchId, 1, fx.buyer.address, OPENING_FEE)
        .and.to.emit(fx.settlement, "BatchChallenged")
        .withArgs(batch.batchId, fx.buyer.address, fx.operator.address, ReceiptFault.Unopened, 1, BATCH_BOND, REWARD);
      expect((await fx.settlement.batch(batch.batchId)).status).to.equal(BigInt(Status.Cancelled));
      expect(await fx.settlement.balanceOf(fx.buyer.address)).to.equal(OPENING_FEE + REWARD);
      expect(await fx.settlement.creditOf(fx.operator.address)).to.equal(CREDIT);
      expect(await fx.settlement.bondOf(fx.operator.address)).to.deep.equal([BOND - BATCH_BOND, 0n]);
      await expect(fx.settlement.slashUnopened(batch.batchId, 1))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementNoOpening")
        .withArgs(batch.batchId, 1);
    });

    it("only refunds a request on a batch already cancelled: one batch is slashed once", async () => {
      const fx = await loadChat();
      const batch = await committedBatch(fx);
      await fx.settlement.connect(fx.buyer).requestOpening(batch.batchId, 0);
      await fx.settlement.connect(fx.watcher).requestOpening(batch.batchId, 1);
      await time.increaseTo(await deadlineOf(fx, batch.batchId));
      await fx.settlement.slashUnopened(batch.batchId, 0);
      await expect(fx.settlement.slashUnopened(batch.batchId, 1))
        .to.emit(fx.settlement, "OpeningRefunded")
        .withArgs(batch.batchId, 1, fx.watcher.address, OPENING_FEE)
        .and.not.to.emit(fx.settlement, "BatchChallenged");
      expect(await fx.settlement.balanceOf(fx.watcher.address)).to.equal(OPENING_FEE);
      expect(await fx.settlement.bondOf(fx.operator.address)).to.deep.equal([BOND - BATCH_BOND, 0n]);
      expect((await fx.settlement.batch(batch.batchId)).unopened).to.equal(0n);
    });
  });
});
