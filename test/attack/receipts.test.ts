import { expect } from "chai";
import hre from "hardhat";
import { mine, time } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet, ZeroHash } from "ethers";
import { ReceiptSettlement__factory } from "../../typechain-types";
import { ConflictError } from "../../src/core/errors";
import { buildReceiptTree, signReceipt, treeOfLeaves, type SignedReceipt } from "../../src/core/receipts";
import { answerOpenings, leafProof, postBatch, ReceiptFault, type LeafProofStruct } from "../../src/sdk/receipts";
import { expectRejection } from "../fixtures/assert";
import {
  BATCH_BOND,
  BOND,
  CREDIT,
  OPENING_FEE,
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
} from "../unit/chat/receipts.fixture";

/** Every challenge `challenger` can make of `batch` with its own leaves (and `others`' for duplicates) reverts. */
async function expectUnchallengeable(fx: ChatFixture, batch: Committed, others: Committed[]): Promise<void> {
  const { settlement, watcher } = fx;
  const count = batch.tree.count;
  for (let i = 0; i < count; i += 1) {
    const a = batch.leaf(i);
    await commitEvidence(fx, watcher, batch.batchId, a);
    await expect(settlement.connect(watcher).challengeReceipt(batch.batchId, a)).to.be.revertedWithCustomError(
      settlement,
      "ReceiptSettlementNoFault",
    );
    for (const other of [batch, ...others]) {
      for (let j = 0; j < other.tree.count; j += 1) {
        const b = other.leaf(j);
        await commitEvidence(fx, watcher, batch.batchId, a, other.batchId, b);
        await expect(
          settlement.connect(watcher).challengeDuplicate(batch.batchId, a, other.batchId, b),
        ).to.be.revertedWithCustomError(settlement, "ReceiptSettlementNoFault");
        if (other === batch) {
          await commitEvidence(fx, watcher, batch.batchId, a, batch.batchId, b);
          await expect(settlement.connect(watcher).challengeSum(batch.batchId, a, b)).to.be.revertedWithCustomError(
            settlement,
            "ReceiptSettlementNoFault",
          );
        }
      }
    }
  }
}

describe("attack: receipt settlement", () => {
  it("an operator batching one payment id in two batches is slashed once and paid once", async () => {
    const fx = await loadChat();
    const receipts = await signedReceipts(fx, 3);
    const first = await commit(fx, receipts);
    // The SDK refuses to post it again within a batch; a dishonest operator commits the root itself.
    const second = await commitRaw(fx, [...(await signedReceipts(fx, 1)), receipts[2]!]);
    const [a, b] = [second.leaf(1), first.leaf(2)];
    await commitEvidence(fx, fx.watcher, second.batchId, a, first.batchId, b);
    await expect(fx.settlement.connect(fx.watcher).challengeDuplicate(second.batchId, a, first.batchId, b))
      .to.emit(fx.settlement, "BatchChallenged")
      .withArgs(
        second.batchId,
        fx.watcher.address,
        fx.operator.address,
        ReceiptFault.DuplicatePayment,
        1,
        BATCH_BOND,
        (BATCH_BOND * SHARE_BPS) / 10_000n,
      );
    // The first batch is no longer a duplicate of a paid batch: it stands, and is paid once.
    await commitEvidence(fx, fx.watcher, first.batchId, b, second.batchId, a);
    await expect(
      fx.settlement.connect(fx.watcher).challengeDuplicate(first.batchId, b, second.batchId, a),
    ).to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementNoFault");
    await time.increase(WINDOW);
    await fx.settlement.finalize(first.batchId);
    expect(await fx.settlement.balanceOf(fx.operator.address)).to.equal(first.tree.total);
    expect(await fx.settlement.creditOf(fx.operator.address)).to.equal(CREDIT - first.tree.total);
  });

  it("a forged leaf (signed by the operator's own key, not its enclave) cannot take the pool", async () => {
    const fx = await loadChat();
    const ownKey = Wallet.createRandom();
    const forged = await signedReceipts(fx, 4, () => ({ promptTokens: 10n ** 5n }), ownKey);
    const batch = await commitRaw(fx, forged);
    expect(await fx.settlement.creditOf(fx.operator.address)).to.equal(CREDIT - batch.tree.total);
    await commitEvidence(fx, fx.watcher, batch.batchId, batch.leaf(3));
    await fx.settlement.connect(fx.watcher).challengeReceipt(batch.batchId, batch.leaf(3));
    expect(await fx.settlement.creditOf(fx.operator.address)).to.equal(CREDIT);
    expect(await fx.settlement.bondOf(fx.operator.address)).to.deep.equal([BOND - BATCH_BOND, 0n]);
    // Nor can it name a key it does not own as the batch's enclave.
    await expect(
      fx.settlement.connect(fx.operator).commitBatch(batch.tree.root, 4, batch.tree.total, ownKey.address, ZeroHash),
    ).to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementEnclaveOperatorMismatch");
  });

  it("a challenger cannot slash an honest batch with any leaf, pair or duplicate pairing, nor with leaves of its own", async () => {
    const fx = await loadChat();
    const earlier = await commit(fx, await signedReceipts(fx, 3));
    const batch = await commit(fx, await signedReceipts(fx, 3));
    await expectUnchallengeable(fx, batch, [earlier]);
    // Leaves the challenger makes up: its own key, the enclave's receipts outside the batch, a changed sum.
    const outsider: SignedReceipt = await signReceipt(Wallet.createRandom(), fx.domain, await makeReceipt(fx));
    const notInBatch = await signReceipt(fx.enclave, fx.domain, await makeReceipt(fx));
    const attempts: LeafProofStruct[] = [
      { ...batch.leaf(0), ...outsider },
      { ...batch.leaf(0), ...notInBatch },
      { ...batch.leaf(2), cumulative: 0n },
      { ...batch.leaf(1), proof: [...(batch.leaf(1).proof as string[]), ZeroHash] },
    ];
    for (const leaf of attempts) {
      await commitEvidence(fx, fx.watcher, batch.batchId, leaf);
      await expect(
        fx.settlement.connect(fx.watcher).challengeReceipt(batch.batchId, leaf),
      ).to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementInvalidProof");
    }
    await time.increase(WINDOW);
    await fx.settlement.finalize(earlier.batchId);
    await fx.settlement.finalize(batch.batchId);
    expect(await fx.settlement.bondOf(fx.operator.address)).to.deep.equal([BOND, 0n]);
    expect(await fx.settlement.balanceOf(fx.operator.address)).to.equal(earlier.tree.total + batch.tree.total);
  });

  it("a client spending one payment id twice cannot get an honest operator slashed: postBatch refuses the second", async () => {
    const fx = await loadChat();
    const [spent] = await signedReceipts(fx, 1);
    const posted = await commit(fx, [spent!]);
    const again = await signReceipt(fx.enclave, fx.domain, { ...spent!.receipt, requestHash: ZeroHash });
    await expectRejection(
      postBatch(fx.settlement.connect(fx.operator), fx.enclave.address, [again, again]),
      ConflictError,
      /again/,
    );
    await expectUnchallengeable(fx, posted, []);
  });

  it("a copier front-running a revealed challenge gets nothing: the reward goes to the challenger who committed first", async () => {
    const fx = await loadChat();
    const batch = await commitRaw(fx, await signedReceipts(fx, 2, () => ({}), Wallet.createRandom()));
    const leaf = batch.leaf(0);
    await commitEvidence(fx, fx.watcher, batch.batchId, leaf);
    const copier = fx.nodes[2]!;
    const copierCommitment = await fx.settlement.challengeCommitment(
      copier.address,
      batch.batchId,
      await fx.settlement.leafHash(leaf),
      0n,
      ZeroHash,
    );
    await hre.network.provider.send("evm_setAutomine", [false]);
    try {
      const fee = (await hre.ethers.provider.getFeeData()).maxFeePerGas!;
      // The watcher's reveal sits in the mempool; the copier, seeing it, commits and reveals at a higher fee.
      const honest = await fx.settlement
        .connect(fx.watcher)
        .challengeReceipt(batch.batchId, leaf, { gasLimit: 1_000_000 });
      const copyCommit = await fx.settlement
        .connect(copier)
        .commitChallenge(copierCommitment, { maxFeePerGas: fee * 3n, maxPriorityFeePerGas: fee * 2n });
      const copyReveal = await fx.settlement.connect(copier).challengeReceipt(batch.batchId, leaf, {
        gasLimit: 1_000_000,
        maxFeePerGas: fee * 3n,
        maxPriorityFeePerGas: fee * 2n,
      });
      await mine();
      expect((await copyCommit.wait())!.status).to.equal(1);
      expect(
        await copyReveal.wait().then(
          () => "mined",
          () => "reverted",
        ),
      ).to.equal("reverted");
      expect((await honest.wait())!.status).to.equal(1);
    } finally {
      await hre.network.provider.send("evm_setAutomine", [true]);
    }
    expect(await fx.settlement.balanceOf(copier.address)).to.equal(0n);
    expect(await fx.settlement.balanceOf(fx.watcher.address)).to.equal((BATCH_BOND * SHARE_BPS) / 10_000n);
  });

  it("an operator cannot escape a pending challenge by withdrawing the bond its batch locks", async () => {
    const fx = await loadChat();
    await fx.settlement.connect(fx.operator).withdrawBond(BOND - BATCH_BOND, fx.operator.address);
    const batch = await commitRaw(fx, await signedReceipts(fx, 1, () => ({}), Wallet.createRandom()));
    await expect(fx.settlement.connect(fx.operator).withdrawBond(1n, fx.operator.address))
      .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementInsufficientBond")
      .withArgs(fx.operator.address, 0n, 1n);
    await commitEvidence(fx, fx.watcher, batch.batchId, batch.leaf(0));
    await fx.settlement.connect(fx.watcher).challengeReceipt(batch.batchId, batch.leaf(0));
    expect(await fx.settlement.bondOf(fx.operator.address)).to.deep.equal([0n, 0n]);
  });

  it("a receipt replayed on another settlement contract or signed for another chain is a fault there", async () => {
    const fx = await loadChat();
    const [challengeWindow, maxReceiptAge, batchBond, challengerShareBps, openingFee] =
      await fx.settlement.parameters();
    const parameters = { challengeWindow, maxReceiptAge, batchBond, challengerShareBps, openingFee };
    const twin = await new ReceiptSettlement__factory(fx.deployer).deploy(
      await fx.system.token.getAddress(),
      await fx.system.teeVerifier.getAddress(),
      await fx.system.registry.getAddress(),
      fx.deployer.address,
      parameters,
    );
    for (const account of [fx.operator, fx.buyer])
      await fx.system.token.connect(account).approve(await twin.getAddress(), hre.ethers.MaxUint256);
    await twin.connect(fx.operator).depositBond(BOND);
    await twin.connect(fx.buyer).deposit(fx.operator.address, CREDIT);
    // Receipts of this settlement (price zero on the twin's empty card does not matter: the binding fails first).
    const receipts = await signedReceipts(fx, 2);
    const tree = buildReceiptTree(fx.domain, receipts);
    await twin.connect(fx.operator).commitBatch(tree.root, 2, tree.total, fx.enclave.address, ZeroHash);
    const data = {
      chainId: BigInt(fx.domain.chainId!),
      settlement: await twin.getAddress(),
      teeVerifier: fx.domain.verifyingContract!,
      receipts,
    };
    const leaf = leafProof(data, tree, 0);
    const commitment = await twin.challengeCommitment(fx.watcher.address, 1n, await twin.leafHash(leaf), 0n, ZeroHash);
    await twin.connect(fx.watcher).commitChallenge(commitment);
    await mine();
    await expect(twin.connect(fx.watcher).challengeReceipt(1n, leaf))
      .to.emit(twin, "BatchChallenged")
      .withArgs(
        1n,
        fx.watcher.address,
        fx.operator.address,
        ReceiptFault.WrongBinding,
        0,
        BATCH_BOND,
        (BATCH_BOND * SHARE_BPS) / 10_000n,
      );

    // Signed under another chain's domain: on this chain the signature recovers to another address.
    const foreign = await signReceipt(fx.enclave, { ...fx.domain, chainId: 1n }, await makeReceipt(fx));
    const batch = await commitRaw(fx, [foreign]);
    await commitEvidence(fx, fx.watcher, batch.batchId, batch.leaf(0));
    await expect(fx.settlement.connect(fx.watcher).challengeReceipt(batch.batchId, batch.leaf(0)))
      .to.emit(fx.settlement, "BatchChallenged")
      .withArgs(
        batch.batchId,
        fx.watcher.address,
        fx.operator.address,
        ReceiptFault.BadSignature,
        0,
        BATCH_BOND,
        (BATCH_BOND * SHARE_BPS) / 10_000n,
      );
  });

  it("an operator padding its count with leaves no one can open, to hide an inflated total, is cancelled at the opening", async () => {
    const fx = await loadChat();
    const receipts = await signedReceipts(fx, 3);
    // Three real leaves, then zeros up to a claimed 4,096: the last leaf's sum (the total) can never be shown.
    const real = buildReceiptTree(fx.domain, receipts);
    const hashes = [...real.leaves.map((l) => l.hash), ...Array<string>(4096 - 3).fill(ZeroHash)];
    const padded = { ...treeOfLeaves(hashes), total: real.total, leaves: real.leaves };
    const batch = await commitRaw(fx, receipts, padded, real.total * 50n);
    await fx.settlement.connect(fx.watcher).requestOpening(batch.batchId, 4095);
    // No receipt hashes to a zero leaf: the operator cannot open it.
    await expect(
      fx.settlement.connect(fx.operator).openLeaf(batch.batchId, { ...batch.leaf(2), index: 4095 }),
    ).to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementInvalidProof");
    await time.increase((WINDOW * 3) / 4);
    await expect(fx.settlement.slashUnopened(batch.batchId, 4095))
      .to.emit(fx.settlement, "BatchChallenged")
      .withArgs(
        batch.batchId,
        fx.watcher.address,
        fx.operator.address,
        ReceiptFault.Unopened,
        4095,
        BATCH_BOND,
        (BATCH_BOND * SHARE_BPS) / 10_000n,
      );
    expect(await fx.settlement.creditOf(fx.operator.address)).to.equal(CREDIT);
  });

  it("requesting openings of an honest batch costs the requester its fees, paid to the operator who opens them", async () => {
    const fx = await loadChat();
    const batch = await commit(fx, await signedReceipts(fx, 4));
    for (let index = 0; index < 4; index += 1)
      await fx.settlement.connect(fx.watcher).requestOpening(batch.batchId, index);
    expect(await answerOpenings(fx.settlement.connect(fx.operator), batch.batchId, batch.data)).to.deep.equal([
      0, 1, 2, 3,
    ]);
    await time.increase(WINDOW);
    for (let index = 0; index < 4; index += 1)
      await expect(fx.settlement.slashUnopened(batch.batchId, index)).to.be.revertedWithCustomError(
        fx.settlement,
        "ReceiptSettlementNoOpening",
      );
    await fx.settlement.finalize(batch.batchId);
    expect(await fx.settlement.balanceOf(fx.operator.address)).to.equal(batch.tree.total + 4n * OPENING_FEE);
    expect(await fx.settlement.balanceOf(fx.watcher.address)).to.equal(0n);
    expect(await fx.settlement.bondOf(fx.operator.address)).to.deep.equal([BOND, 0n]);
  });
});
