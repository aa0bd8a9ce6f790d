import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet, ZeroAddress, hexlify, randomBytes } from "ethers";
import { ReceiptSettlement__factory } from "../../../typechain-types";
import { governor, MEASUREMENT, registerByQuote } from "../../fixtures/system";
import { buildReceiptTree } from "../../../src/core/receipts";
import {
  BATCH_BOND,
  BOND,
  CREDIT,
  MAX_RECEIPT_AGE,
  OPENING_FEE,
  PER_TOKEN,
  PRICE_NOTICE,
  SHARE_BPS,
  WINDOW,
  commit,
  loadChat,
  signedReceipts,
} from "./receipts.fixture";

const HOUR = 3600;
const DAY = 24 * HOUR;

enum Status {
  None,
  Pending,
  Finalized,
  Cancelled,
}

describe("ReceiptSettlement", () => {
  describe("constructor", () => {
    it("records the token, verifier, registry, treasury and parameters given by the deploy script", async () => {
      const fx = await loadChat();
      const { settlement, system } = fx;
      expect(await settlement.token()).to.equal(await system.token.getAddress());
      expect(await settlement.teeVerifier()).to.equal(await system.teeVerifier.getAddress());
      expect(await settlement.registry()).to.equal(await system.registry.getAddress());
      expect(await settlement.treasury()).to.equal(await system.timelock.getAddress());
      expect(await settlement.parameters()).to.deep.equal([
        BigInt(WINDOW),
        BigInt(MAX_RECEIPT_AGE),
        BATCH_BOND,
        SHARE_BPS,
        OPENING_FEE,
      ]);
      expect(await settlement.MAX_BATCH()).to.equal(4096n);
      expect(await settlement.PRICE_NOTICE()).to.equal(BigInt(PRICE_NOTICE));
      expect(system.record.contracts.receiptSettlement?.address).to.equal(await settlement.getAddress());
    });

    it("reverts with ReceiptSettlementParameterOutOfBounds or ReceiptSettlementInvalidAddress outside the bounds", async () => {
      const fx = await loadChat();
      const factory = new ReceiptSettlement__factory(fx.deployer);
      const [token, tee, registry] = await Promise.all([
        fx.system.token.getAddress(),
        fx.system.teeVerifier.getAddress(),
        fx.system.registry.getAddress(),
      ]);
      const good = {
        challengeWindow: HOUR,
        maxReceiptAge: HOUR,
        batchBond: 1n,
        challengerShareBps: 5_000,
        openingFee: 0n,
      };
      const cases: [Partial<typeof good>, string, bigint, bigint, bigint][] = [
        [{ challengeWindow: HOUR - 1 }, "challengeWindow", BigInt(HOUR - 1), BigInt(HOUR), BigInt(7 * DAY)],
        [{ challengeWindow: 7 * DAY + 1 }, "challengeWindow", BigInt(7 * DAY + 1), BigInt(HOUR), BigInt(7 * DAY)],
        [{ maxReceiptAge: 0 }, "maxReceiptAge", 0n, BigInt(HOUR), BigInt(7 * DAY)],
        [{ batchBond: 0n }, "batchBond", 0n, 1n, (1n << 128n) - 1n],
        [{ challengerShareBps: 5_001 }, "challengerShareBps", 5_001n, 0n, 5_000n],
        [{ openingFee: 2n }, "openingFee", 2n, 0n, 1n],
      ];
      for (const [change, name, value, min, max] of cases) {
        await expect(factory.deploy(token, tee, registry, fx.deployer.address, { ...good, ...change }))
          .to.be.revertedWithCustomError(factory, "ReceiptSettlementParameterOutOfBounds")
          .withArgs(name, value, min, max);
      }
      await expect(factory.deploy(token, tee, registry, ZeroAddress, good))
        .to.be.revertedWithCustomError(factory, "ReceiptSettlementInvalidAddress")
        .withArgs("treasury", ZeroAddress);
      await expect(factory.deploy(fx.deployer.address, tee, registry, fx.deployer.address, good))
        .to.be.revertedWithCustomError(factory, "ReceiptSettlementInvalidAddress")
        .withArgs("token", fx.deployer.address);
      await expect(factory.deploy(token, token, ZeroAddress, fx.deployer.address, good))
        .to.be.revertedWithCustomError(factory, "ReceiptSettlementInvalidAddress")
        .withArgs("registry", ZeroAddress);
    });
  });

  describe("deposit", () => {
    it("adds to the operator's pool, pulls the tokens and emits CreditDeposited", async () => {
      const { settlement, system, buyer, operator } = await loadChat();
      const before = await system.token.balanceOf(buyer.address);
      await expect(settlement.connect(buyer).deposit(operator.address, 5n))
        .to.emit(settlement, "CreditDeposited")
        .withArgs(operator.address, buyer.address, 5n);
      expect(await settlement.creditOf(operator.address)).to.equal(CREDIT + 5n);
      expect(await system.token.balanceOf(buyer.address)).to.equal(before - 5n);
    });

    it("reverts with ReceiptSettlementZeroAmount for nothing", async () => {
      const { settlement, buyer, operator } = await loadChat();
      await expect(settlement.connect(buyer).deposit(operator.address, 0)).to.be.revertedWithCustomError(
        settlement,
        "ReceiptSettlementZeroAmount",
      );
    });
  });

  describe("depositBond and withdrawBond", () => {
    it("withdraws only the bond pending batches do not lock", async () => {
      const fx = await loadChat();
      const { settlement, system, operator } = fx;
      expect(await settlement.bondOf(operator.address)).to.deep.equal([BOND, 0n]);
      await commit(fx, await signedReceipts(fx, 2));
      expect(await settlement.bondOf(operator.address)).to.deep.equal([BOND, BATCH_BOND]);
      await expect(settlement.connect(operator).withdrawBond(BOND, operator.address))
        .to.be.revertedWithCustomError(settlement, "ReceiptSettlementInsufficientBond")
        .withArgs(operator.address, BOND - BATCH_BOND, BOND);
      const before = await system.token.balanceOf(fx.other.address);
      await expect(settlement.connect(operator).withdrawBond(BOND - BATCH_BOND, fx.other.address))
        .to.emit(settlement, "BondWithdrawn")
        .withArgs(operator.address, fx.other.address, BOND - BATCH_BOND);
      expect(await system.token.balanceOf(fx.other.address)).to.equal(before + BOND - BATCH_BOND);
      expect(await settlement.bondOf(operator.address)).to.deep.equal([BATCH_BOND, BATCH_BOND]);
    });

    it("emits BondDeposited, and reverts for a zero amount or recipient", async () => {
      const { settlement, operator } = await loadChat();
      await expect(settlement.connect(operator).depositBond(7n))
        .to.emit(settlement, "BondDeposited")
        .withArgs(operator.address, 7n);
      await expect(settlement.connect(operator).depositBond(0)).to.be.revertedWithCustomError(
        settlement,
        "ReceiptSettlementZeroAmount",
      );
      await expect(settlement.connect(operator).withdrawBond(1n, ZeroAddress))
        .to.be.revertedWithCustomError(settlement, "ReceiptSettlementInvalidRecipient")
        .withArgs(ZeroAddress);
    });
  });

  describe("setPrice", () => {
    it("takes effect PRICE_NOTICE later: earlier receipts keep the price they were issued at", async () => {
      const { settlement, operator, modelId } = await loadChat();
      const card = await settlement.priceCard(operator.address, modelId);
      expect(card.current).to.equal(PER_TOKEN);
      expect(await settlement.priceOf(operator.address, modelId, card.since - 1n)).to.equal(0n);
      expect(await settlement.priceOf(operator.address, modelId, card.since)).to.equal(PER_TOKEN);
    });

    it("reverts with ReceiptSettlementPriceChangeTooSoon until the old price can no longer be challenged", async () => {
      const { settlement, operator, modelId } = await loadChat();
      const since = (await settlement.priceCard(operator.address, modelId)).since;
      const allowedAt = since + BigInt(WINDOW + MAX_RECEIPT_AGE);
      await expect(settlement.connect(operator).setPrice(modelId, 2n * PER_TOKEN))
        .to.be.revertedWithCustomError(settlement, "ReceiptSettlementPriceChangeTooSoon")
        .withArgs(operator.address, modelId, allowedAt);
      await time.setNextBlockTimestamp(allowedAt);
      await expect(settlement.connect(operator).setPrice(modelId, 2n * PER_TOKEN))
        .to.emit(settlement, "PriceSet")
        .withArgs(operator.address, modelId, 2n * PER_TOKEN, allowedAt + BigInt(PRICE_NOTICE));
      const card = await settlement.priceCard(operator.address, modelId);
      expect([card.previous, card.current]).to.deep.equal([PER_TOKEN, 2n * PER_TOKEN]);
    });
  });

  describe("commitBatch", () => {
    it("records the batch, takes its total from the pool, locks a bond and emits BatchCommitted", async () => {
      const fx = await loadChat();
      const { settlement, operator, enclave } = fx;
      const receipts = await signedReceipts(fx, 5);
      const tree = buildReceiptTree(fx.domain, receipts);
      const dataHash = hexlify(randomBytes(32));
      const tx = settlement.connect(operator).commitBatch(tree.root, 5, tree.total, enclave.address, dataHash);
      await expect(tx)
        .to.emit(settlement, "BatchCommitted")
        .withArgs(1n, operator.address, enclave.address, tree.root, 5, tree.total, dataHash);
      const at = BigInt(await time.latest());
      expect(await settlement.batch(1n)).to.deep.equal([
        operator.address,
        at,
        5n,
        BigInt(Status.Pending),
        0n,
        enclave.address,
        tree.total,
        tree.root,
        MEASUREMENT,
      ]);
      expect(await settlement.batchCount()).to.equal(1n);
      expect(await settlement.creditOf(operator.address)).to.equal(CREDIT - tree.total);
      expect((await settlement.bondOf(operator.address))[1]).to.equal(BATCH_BOND);
    });

    it("reverts with ReceiptSettlementInvalidBatchSize for 0 or more than 4096 receipts", async () => {
      const { settlement, operator, enclave } = await loadChat();
      for (const count of [0, 4097]) {
        await expect(
          settlement
            .connect(operator)
            .commitBatch(hexlify(randomBytes(32)), count, 0, enclave.address, hexlify(randomBytes(32))),
        )
          .to.be.revertedWithCustomError(settlement, "ReceiptSettlementInvalidBatchSize")
          .withArgs(count, 4096);
      }
    });

    it("reverts with ReceiptSettlementInsufficientCredit for a total above the pool", async () => {
      const { settlement, operator, enclave } = await loadChat();
      await expect(
        settlement
          .connect(operator)
          .commitBatch(hexlify(randomBytes(32)), 1, CREDIT + 1n, enclave.address, hexlify(randomBytes(32))),
      )
        .to.be.revertedWithCustomError(settlement, "ReceiptSettlementInsufficientCredit")
        .withArgs(operator.address, CREDIT, CREDIT + 1n);
    });

    it("reverts with ReceiptSettlementInsufficientBond when the free bond is below batchBond", async () => {
      const { settlement, operator, enclave } = await loadChat();
      await settlement.connect(operator).withdrawBond(BOND - BATCH_BOND + 1n, operator.address);
      await expect(
        settlement
          .connect(operator)
          .commitBatch(hexlify(randomBytes(32)), 1, 1n, enclave.address, hexlify(randomBytes(32))),
      )
        .to.be.revertedWithCustomError(settlement, "ReceiptSettlementInsufficientBond")
        .withArgs(operator.address, BATCH_BOND - 1n, BATCH_BOND);
    });

    it("reverts for an enclave that is not the caller's, revoked, expired or of a revoked measurement", async () => {
      const fx = await loadChat();
      const { settlement, operator, enclave, nodes, system } = fx;
      const root = hexlify(randomBytes(32));
      const commitWith = (signer: typeof operator, key: string) =>
        settlement.connect(signer).commitBatch(root, 1, 0n, key, root);
      await system.token.connect(nodes[1]!).approve(await settlement.getAddress(), BATCH_BOND);
      await settlement.connect(nodes[1]!).depositBond(BATCH_BOND);
      await expect(commitWith(nodes[1]!, enclave.address))
        .to.be.revertedWithCustomError(settlement, "ReceiptSettlementEnclaveOperatorMismatch")
        .withArgs(enclave.address, operator.address, nodes[1]!.address);
      const stranger = Wallet.createRandom().address;
      await expect(commitWith(operator, stranger))
        .to.be.revertedWithCustomError(settlement, "ReceiptSettlementEnclaveOperatorMismatch")
        .withArgs(stranger, ZeroAddress, operator.address);

      const second = Wallet.createRandom();
      await registerByQuote(system, operator, second);
      const gov = await governor(fx);
      await system.teeVerifier.connect(gov).revokeEnclave(second.address);
      await expect(commitWith(operator, second.address))
        .to.be.revertedWithCustomError(settlement, "ReceiptSettlementEnclaveRevoked")
        .withArgs(second.address);

      const { expiresAt } = await system.teeVerifier.enclaveOf(enclave.address);
      await time.increaseTo(expiresAt);
      await expect(commitWith(operator, enclave.address))
        .to.be.revertedWithCustomError(settlement, "ReceiptSettlementEnclaveExpired")
        .withArgs(enclave.address, expiresAt);
    });

    it("reverts with ReceiptSettlementMeasurementRevoked once the enclave's measurement is revoked", async () => {
      const fx = await loadChat();
      const gov = await governor(fx);
      await fx.system.teeVerifier.connect(gov).revokeMeasurement(MEASUREMENT);
      await expect(
        fx.settlement
          .connect(fx.operator)
          .commitBatch(hexlify(randomBytes(32)), 1, 1n, fx.enclave.address, hexlify(randomBytes(32))),
      )
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementMeasurementRevoked")
        .withArgs(MEASUREMENT);
    });
  });

  describe("finalize", () => {
    it("reverts with ReceiptSettlementWindowOpen before the window ends, then credits the operator and unlocks", async () => {
      const fx = await loadChat();
      const { settlement, operator } = fx;
      const { batchId, tree } = await commit(fx, await signedReceipts(fx, 3));
      const endsAt = (await settlement.batch(batchId)).committedAt + BigInt(WINDOW);
      await time.setNextBlockTimestamp(endsAt - 1n);
      await expect(settlement.connect(fx.other).finalize(batchId))
        .to.be.revertedWithCustomError(settlement, "ReceiptSettlementWindowOpen")
        .withArgs(batchId, endsAt);
      await expect(settlement.connect(fx.other).finalize(batchId))
        .to.emit(settlement, "BatchFinalized")
        .withArgs(batchId, operator.address, tree.total);
      expect((await settlement.batch(batchId)).status).to.equal(BigInt(Status.Finalized));
      expect(await settlement.balanceOf(operator.address)).to.equal(tree.total);
      expect(await settlement.bondOf(operator.address)).to.deep.equal([BOND, 0n]);
      expect(await settlement.creditOf(operator.address)).to.equal(CREDIT - tree.total);
    });

    it("reverts with ReceiptSettlementBatchNotPending the second time and ReceiptSettlementUnknownBatch for no batch", async () => {
      const fx = await loadChat();
      const { batchId } = await commit(fx, await signedReceipts(fx, 1));
      await time.increase(WINDOW);
      await fx.settlement.finalize(batchId);
      await expect(fx.settlement.finalize(batchId))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementBatchNotPending")
        .withArgs(batchId, Status.Finalized);
      await expect(fx.settlement.finalize(99n))
        .to.be.revertedWithCustomError(fx.settlement, "ReceiptSettlementUnknownBatch")
        .withArgs(99n);
    });
  });

  describe("withdraw", () => {
    it("pays the whole balance to the recipient once, and emits Withdrawn", async () => {
      const fx = await loadChat();
      const { settlement, system, operator } = fx;
      const { batchId, tree } = await commit(fx, await signedReceipts(fx, 2));
      await time.increase(WINDOW);
      await settlement.finalize(batchId);
      const before = await system.token.balanceOf(fx.other.address);
      await expect(settlement.connect(operator).withdraw(fx.other.address))
        .to.emit(settlement, "Withdrawn")
        .withArgs(operator.address, fx.other.address, tree.total);
      expect(await system.token.balanceOf(fx.other.address)).to.equal(before + tree.total);
      await expect(settlement.connect(operator).withdraw(fx.other.address))
        .to.be.revertedWithCustomError(settlement, "ReceiptSettlementNothingToWithdraw")
        .withArgs(operator.address);
      await expect(settlement.connect(operator).withdraw(ZeroAddress))
        .to.be.revertedWithCustomError(settlement, "ReceiptSettlementInvalidRecipient")
        .withArgs(ZeroAddress);
    });

    it("keeps the contract's token balance equal to pools + pending totals + bonds + balances", async () => {
      const fx = await loadChat();
      const { settlement, system, operator } = fx;
      const first = await commit(fx, await signedReceipts(fx, 4));
      const second = await commit(fx, await signedReceipts(fx, 2));
      await time.increase(WINDOW);
      await settlement.finalize(first.batchId);
      const held = await system.token.balanceOf(await settlement.getAddress());
      const [bond] = await settlement.bondOf(operator.address);
      const books =
        (await settlement.creditOf(operator.address)) +
        second.tree.total +
        bond +
        (await settlement.balanceOf(operator.address));
      expect(held).to.equal(books);
      expect(held).to.equal(CREDIT + BOND);
    });
  });
});
