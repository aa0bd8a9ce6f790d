import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { governance, STAKE } from "../../fixtures/system";
import { PrivacyPassEscrow__factory } from "../../../typechain-types";
import {
  acknowledgedPurchase,
  buyTokens,
  deployPasses,
  ISSUE_WINDOW,
  issuerPublicKey,
  keyIdOf,
  loadPasses,
  nonces,
  PRICE,
  rsaEncryptionPublicKey,
  toIssueBy,
} from "./passes.fixture";

const MAX_BATCH = 1024;
const HOUR = 3600;
const DAY = 24 * HOUR;

enum Status {
  None,
  Pending,
  Acknowledged,
  Refunded,
}

describe("PrivacyPassEscrow", () => {
  describe("constructor", () => {
    it("records the token, the staking contract, the parameters and the admin, and emits ParametersUpdated", async () => {
      const fx = await loadPasses();
      const { passes, system } = fx;
      expect(await passes.token()).to.equal(await system.token.getAddress());
      expect(await passes.staking()).to.equal(await system.staking.getAddress());
      expect((await passes.parameters()).issueWindow).to.equal(BigInt(ISSUE_WINDOW));
      expect(await passes.hasRole(await passes.DEFAULT_ADMIN_ROLE(), await system.timelock.getAddress())).to.equal(
        true,
      );
      expect(await passes.hasRole(await passes.DEFAULT_ADMIN_ROLE(), fx.deployer.address)).to.equal(false);
      const fresh = await deployPasses(fx);
      await expect(fresh.deploymentTransaction())
        .to.emit(fresh, "ParametersUpdated")
        .withArgs([BigInt(ISSUE_WINDOW)]);
      expect(await passes.MAX_BATCH()).to.equal(BigInt(MAX_BATCH));
      expect(await passes.MIN_PUBLIC_KEY_BYTES()).to.equal(128n);
      expect(await passes.MAX_PUBLIC_KEY_BYTES()).to.equal(1024n);
      expect(await passes.MIN_ISSUE_WINDOW()).to.equal(BigInt(HOUR));
      expect(await passes.MAX_ISSUE_WINDOW()).to.equal(BigInt(7 * DAY));
    });

    it("reverts with PrivacyPassEscrowParameterOutOfBounds for an issue window outside 1 hour .. 7 days", async () => {
      const fx = await loadPasses();
      const factory = new PrivacyPassEscrow__factory(fx.deployer);
      const args = [await fx.system.token.getAddress(), await fx.system.staking.getAddress(), fx.deployer.address];
      for (const window of [0, HOUR - 1, 7 * DAY + 1, 2 ** 32 - 1]) {
        await expect(factory.deploy(args[0]!, args[1]!, args[2]!, { issueWindow: window }))
          .to.be.revertedWithCustomError(factory, "PrivacyPassEscrowParameterOutOfBounds")
          .withArgs("issueWindow", window, HOUR, 7 * DAY);
      }
      for (const window of [HOUR, 7 * DAY]) {
        const passes = await factory.deploy(args[0]!, args[1]!, args[2]!, { issueWindow: window });
        expect((await passes.parameters()).issueWindow).to.equal(BigInt(window));
      }
    });
  });

  describe("registerIssuer", () => {
    it("registers the key under its SHA-256, returns it, stores the issuer and emits IssuerRegistered with the key", async () => {
      const { passes, rival } = await loadPasses();
      const publicKey = issuerPublicKey();
      const keyId = keyIdOf(publicKey);
      expect(await passes.connect(rival).registerIssuer.staticCall(publicKey, 7n)).to.equal(keyId);
      await expect(passes.connect(rival).registerIssuer(publicKey, 7n))
        .to.emit(passes, "IssuerRegistered")
        .withArgs(keyId, rival.address, 7n, publicKey);
      const issuer = await passes.issuer(keyId);
      expect(issuer.operator).to.equal(rival.address);
      expect(issuer.price).to.equal(7n);
      expect([issuer.retired, issuer.sold, issuer.acknowledged, issuer.redeemed]).to.deep.equal([false, 0n, 0n, 0n]);
    });

    it("accepts the fixture's RSASSA-PSS key, an rsaEncryption key (294 bytes) and keys of exactly 128 and 1024 bytes", async () => {
      const { passes, operator, publicKey, keyId } = await loadPasses();
      expect((await passes.issuer(keyId)).operator).to.equal(operator.address);
      expect(publicKey.length).to.be.within(294, 400);
      const plain = rsaEncryptionPublicKey();
      expect(plain.length).to.equal(294);
      for (const key of [plain, new Uint8Array(128).fill(1), new Uint8Array(1024).fill(2)]) {
        await expect(passes.connect(operator).registerIssuer(key, PRICE))
          .to.emit(passes, "IssuerRegistered")
          .withArgs(keyIdOf(key), operator.address, PRICE, key);
      }
    });

    it("reverts with PrivacyPassEscrowUnregisteredOperator for an account not registered in NodeStaking, staked or not", async () => {
      const { passes, system, other } = await loadPasses();
      await expect(passes.connect(other).registerIssuer(issuerPublicKey(), PRICE))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowUnregisteredOperator")
        .withArgs(other.address);
      await system.staking.connect(other).stake(STAKE);
      await expect(passes.connect(other).registerIssuer(issuerPublicKey(), PRICE))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowUnregisteredOperator")
        .withArgs(other.address);
      await system.staking.connect(other).register(1);
      await expect(passes.connect(other).registerIssuer(issuerPublicKey(), PRICE)).to.emit(passes, "IssuerRegistered");
    });

    it("reverts with PrivacyPassEscrowInvalidPublicKeyLength for keys shorter than 128 or longer than 1024 bytes", async () => {
      const { passes, operator } = await loadPasses();
      for (const length of [0, 32, 127, 1025, 4096]) {
        await expect(passes.connect(operator).registerIssuer(new Uint8Array(length).fill(3), PRICE))
          .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowInvalidPublicKeyLength")
          .withArgs(length, 128, 1024);
      }
    });

    it("reverts with PrivacyPassEscrowZeroPrice for a price of zero", async () => {
      const { passes, operator } = await loadPasses();
      await expect(passes.connect(operator).registerIssuer(issuerPublicKey(), 0n)).to.be.revertedWithCustomError(
        passes,
        "PrivacyPassEscrowZeroPrice",
      );
    });

    it("reverts with PrivacyPassEscrowIssuerExists for a key registered before, by anyone, at any price, even retired", async () => {
      const { passes, operator, rival, publicKey, keyId } = await loadPasses();
      for (const [who, price] of [
        [operator, PRICE],
        [operator, 2n * PRICE],
        [rival, PRICE],
      ] as const) {
        await expect(passes.connect(who).registerIssuer(publicKey, price))
          .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowIssuerExists")
          .withArgs(keyId, operator.address);
      }
      await passes.connect(operator).retireIssuer(keyId);
      await expect(passes.connect(operator).registerIssuer(publicKey, 2n * PRICE))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowIssuerExists")
        .withArgs(keyId, operator.address);
    });
  });

  describe("retireIssuer", () => {
    it("retires the key and emits IssuerRetired; purchases then revert with PrivacyPassEscrowIssuerRetired", async () => {
      const fx = await loadPasses();
      const { passes, operator, keyId, buyer } = fx;
      await expect(passes.connect(operator).retireIssuer(keyId))
        .to.emit(passes, "IssuerRetired")
        .withArgs(keyId, operator.address);
      expect((await passes.issuer(keyId)).retired).to.equal(true);
      await expect(passes.connect(buyer).buy(keyId, 1, hre.ethers.MaxUint256))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowIssuerRetired")
        .withArgs(keyId);
    });

    it("leaves pending purchases acknowledgeable and acknowledged tokens redeemable", async () => {
      const fx = await loadPasses();
      const { passes, operator, keyId } = fx;
      const acknowledged = await acknowledgedPurchase(fx, 2);
      const pending = await buyTokens(fx, 3);
      await passes.connect(operator).retireIssuer(keyId);
      await expect(passes.connect(operator).acknowledge([pending]))
        .to.emit(passes, "PurchaseAcknowledged")
        .withArgs(pending, keyId);
      await expect(passes.connect(operator).redeem(keyId, nonces(5)))
        .to.emit(passes, "TokensRedeemed")
        .withArgs(keyId, operator.address, 5n, 5n * PRICE);
      expect((await passes.purchase(acknowledged)).status).to.equal(BigInt(Status.Acknowledged));
    });

    it("reverts with PrivacyPassEscrowUnknownIssuer, PrivacyPassEscrowUnauthorizedOperator and, the second time, PrivacyPassEscrowIssuerRetired", async () => {
      const { passes, operator, rival, keyId } = await loadPasses();
      const unknown = keyIdOf(issuerPublicKey());
      await expect(passes.connect(operator).retireIssuer(unknown))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowUnknownIssuer")
        .withArgs(unknown);
      await expect(passes.connect(rival).retireIssuer(keyId))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowUnauthorizedOperator")
        .withArgs(keyId, rival.address, operator.address);
      await passes.connect(operator).retireIssuer(keyId);
      await expect(passes.connect(operator).retireIssuer(keyId))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowIssuerRetired")
        .withArgs(keyId);
    });
  });

  describe("buy", () => {
    it("pulls count times the price, records a pending purchase due by now + issueWindow and emits TokensBought", async () => {
      const fx = await loadPasses();
      const { passes, system, buyer, keyId } = fx;
      const address = await passes.getAddress();
      const before = await system.token.balanceOf(buyer.address);
      expect(await passes.connect(buyer).buy.staticCall(keyId, 10, 10n * PRICE)).to.equal(1n);
      const at = BigInt(await time.latest()) + 10n;
      await time.setNextBlockTimestamp(at);
      const issueBy = at + BigInt(ISSUE_WINDOW);
      await expect(passes.connect(buyer).buy(keyId, 10, 10n * PRICE))
        .to.emit(passes, "TokensBought")
        .withArgs(1n, buyer.address, keyId, 10n, 10n * PRICE, issueBy);
      expect(await system.token.balanceOf(buyer.address)).to.equal(before - 10n * PRICE);
      expect(await system.token.balanceOf(address)).to.equal(10n * PRICE);
      const purchase = await passes.purchase(1n);
      expect([purchase.buyer, purchase.count, purchase.issueBy, purchase.status, purchase.keyId]).to.deep.equal([
        buyer.address,
        10n,
        issueBy,
        BigInt(Status.Pending),
        keyId,
      ]);
      expect((await passes.issuer(keyId)).sold).to.equal(10n);
      expect(await passes.purchaseCount()).to.equal(1n);
      expect(await buyTokens(fx, 3, keyId, fx.other)).to.equal(2n);
      expect((await passes.issuer(keyId)).sold).to.equal(13n);
      expect(await passes.purchaseCount()).to.equal(2n);
    });

    it("reverts with PrivacyPassEscrowEmptyBatch for zero tokens", async () => {
      const { passes, buyer, keyId } = await loadPasses();
      await expect(passes.connect(buyer).buy(keyId, 0, hre.ethers.MaxUint256)).to.be.revertedWithCustomError(
        passes,
        "PrivacyPassEscrowEmptyBatch",
      );
    });

    it("reverts with PrivacyPassEscrowBatchTooLarge when more than MAX_BATCH tokens are asked, and accepts MAX_BATCH", async () => {
      const { passes, buyer, keyId } = await loadPasses();
      for (const count of [MAX_BATCH + 1, 2 ** 32 - 1]) {
        await expect(passes.connect(buyer).buy(keyId, count, hre.ethers.MaxUint256))
          .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowBatchTooLarge")
          .withArgs(count, MAX_BATCH);
      }
      await expect(passes.connect(buyer).buy(keyId, MAX_BATCH, BigInt(MAX_BATCH) * PRICE))
        .to.emit(passes, "TokensBought")
        .withArgs(1n, buyer.address, keyId, MAX_BATCH, BigInt(MAX_BATCH) * PRICE, (v: bigint) => v > 0n);
    });

    it("reverts with PrivacyPassEscrowCostAboveMax when the cost exceeds maxCost", async () => {
      const { passes, buyer, keyId } = await loadPasses();
      await expect(passes.connect(buyer).buy(keyId, 4, 4n * PRICE - 1n))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowCostAboveMax")
        .withArgs(4n * PRICE, 4n * PRICE - 1n);
    });

    it("reverts with PrivacyPassEscrowUnknownIssuer for a key never registered", async () => {
      const { passes, buyer } = await loadPasses();
      const unknown = keyIdOf(issuerPublicKey());
      await expect(passes.connect(buyer).buy(unknown, 1, hre.ethers.MaxUint256))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowUnknownIssuer")
        .withArgs(unknown);
    });

    it("reverts with the token's ERC20InsufficientAllowance without an approval", async () => {
      const { passes, system, keyId, nodes } = await loadPasses();
      const stranger = nodes[2]!;
      await expect(passes.connect(stranger).buy(keyId, 2, hre.ethers.MaxUint256))
        .to.be.revertedWithCustomError(system.token, "ERC20InsufficientAllowance")
        .withArgs(await passes.getAddress(), 0n, 2n * PRICE);
    });

    it("fixes issueBy with the window in force at purchase: a later change applies to later purchases only", async () => {
      const fx = await loadPasses();
      const { passes } = fx;
      const first = await buyTokens(fx, 1);
      const firstIssueBy = (await passes.purchase(first)).issueBy;
      await governance(fx, passes, passes.interface.encodeFunctionData("setParameters", [{ issueWindow: HOUR }]));
      expect((await passes.purchase(first)).issueBy).to.equal(firstIssueBy);
      const second = await buyTokens(fx, 1);
      expect((await passes.purchase(second)).issueBy).to.equal(BigInt(await time.latest()) + BigInt(HOUR));
    });
  });

  describe("acknowledge", () => {
    it("marks each pending purchase acknowledged, adds its tokens to its key's and emits PurchaseAcknowledged for each", async () => {
      const fx = await loadPasses();
      const { passes, operator, keyId } = fx;
      const secondKey = issuerPublicKey();
      await passes.connect(operator).registerIssuer(secondKey, 3n * PRICE);
      const a = await buyTokens(fx, 2);
      const b = await buyTokens(fx, 5, keyIdOf(secondKey), fx.other);
      const c = await buyTokens(fx, 7);
      const tx = passes.connect(operator).acknowledge([a, b, c]);
      await expect(tx).to.emit(passes, "PurchaseAcknowledged").withArgs(a, keyId);
      await expect(tx).to.emit(passes, "PurchaseAcknowledged").withArgs(b, keyIdOf(secondKey));
      await expect(tx).to.emit(passes, "PurchaseAcknowledged").withArgs(c, keyId);
      for (const id of [a, b, c]) expect((await passes.purchase(id)).status).to.equal(BigInt(Status.Acknowledged));
      expect((await passes.issuer(keyId)).acknowledged).to.equal(9n);
      expect((await passes.issuer(keyIdOf(secondKey))).acknowledged).to.equal(5n);
    });

    it("accepts a purchase up to the second before its issueBy", async () => {
      const fx = await loadPasses();
      const id = await buyTokens(fx, 1);
      await toIssueBy(fx, id, -1n);
      await expect(fx.passes.connect(fx.operator).acknowledge([id])).to.emit(fx.passes, "PurchaseAcknowledged");
    });

    it("reverts with PrivacyPassEscrowIssueWindowClosed from issueBy on", async () => {
      const fx = await loadPasses();
      const id = await buyTokens(fx, 1);
      const { issueBy } = await fx.passes.purchase(id);
      await toIssueBy(fx, id);
      await expect(fx.passes.connect(fx.operator).acknowledge([id]))
        .to.be.revertedWithCustomError(fx.passes, "PrivacyPassEscrowIssueWindowClosed")
        .withArgs(id, issueBy);
    });

    it("reverts with PrivacyPassEscrowEmptyBatch for no purchases and PrivacyPassEscrowBatchTooLarge for more than MAX_BATCH", async () => {
      const { passes, operator } = await loadPasses();
      await expect(passes.connect(operator).acknowledge([])).to.be.revertedWithCustomError(
        passes,
        "PrivacyPassEscrowEmptyBatch",
      );
      await expect(passes.connect(operator).acknowledge(Array.from({ length: MAX_BATCH + 1 }, () => 1n)))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowBatchTooLarge")
        .withArgs(MAX_BATCH + 1, MAX_BATCH);
    });

    it("reverts with PrivacyPassEscrowUnknownPurchase for an id never bought", async () => {
      const fx = await loadPasses();
      await buyTokens(fx, 1);
      for (const id of [0n, 2n]) {
        await expect(fx.passes.connect(fx.operator).acknowledge([id]))
          .to.be.revertedWithCustomError(fx.passes, "PrivacyPassEscrowUnknownPurchase")
          .withArgs(id);
      }
    });

    it("reverts with PrivacyPassEscrowUnauthorizedOperator for a purchase of another operator's key, undoing the whole batch", async () => {
      const fx = await loadPasses();
      const { passes, operator, rival, keyId } = fx;
      const rivalKey = issuerPublicKey();
      await passes.connect(rival).registerIssuer(rivalKey, PRICE);
      const own = await buyTokens(fx, 1, keyIdOf(rivalKey));
      const foreign = await buyTokens(fx, 1);
      await expect(passes.connect(rival).acknowledge([own, foreign]))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowUnauthorizedOperator")
        .withArgs(keyId, rival.address, operator.address);
      expect((await passes.purchase(own)).status).to.equal(BigInt(Status.Pending));
      expect((await passes.issuer(keyIdOf(rivalKey))).acknowledged).to.equal(0n);
    });

    it("reverts with PrivacyPassEscrowPurchaseNotPending for a purchase acknowledged (before or earlier in the batch) or refunded", async () => {
      const fx = await loadPasses();
      const { passes, operator } = fx;
      const a = await buyTokens(fx, 1);
      await expect(passes.connect(operator).acknowledge([a, a]))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowPurchaseNotPending")
        .withArgs(a, Status.Acknowledged);
      await passes.connect(operator).acknowledge([a]);
      await expect(passes.connect(operator).acknowledge([a]))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowPurchaseNotPending")
        .withArgs(a, Status.Acknowledged);
      const b = await buyTokens(fx, 1);
      await toIssueBy(fx, b);
      await passes.connect(fx.buyer).refund(b);
      await expect(passes.connect(operator).acknowledge([b]))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowPurchaseNotPending")
        .withArgs(b, Status.Refunded);
    });
  });

  describe("refund", () => {
    it("from issueBy on, credits the buyer the cost of a purchase never acknowledged and emits PurchaseRefunded", async () => {
      const fx = await loadPasses();
      const { passes, buyer, keyId } = fx;
      const id = await buyTokens(fx, 4);
      await toIssueBy(fx, id);
      await expect(passes.connect(buyer).refund(id))
        .to.emit(passes, "PurchaseRefunded")
        .withArgs(id, buyer.address, 4n * PRICE);
      expect((await passes.purchase(id)).status).to.equal(BigInt(Status.Refunded));
      expect(await passes.balanceOf(buyer.address)).to.equal(4n * PRICE);
      const issuer = await passes.issuer(keyId);
      expect([issuer.sold, issuer.acknowledged]).to.deep.equal([4n, 0n]);
    });

    it("reverts with PrivacyPassEscrowIssueWindowOpen before issueBy", async () => {
      const fx = await loadPasses();
      const id = await buyTokens(fx, 1);
      const { issueBy } = await fx.passes.purchase(id);
      await expect(fx.passes.connect(fx.buyer).refund(id))
        .to.be.revertedWithCustomError(fx.passes, "PrivacyPassEscrowIssueWindowOpen")
        .withArgs(id, issueBy);
      await toIssueBy(fx, id, -1n);
      await expect(fx.passes.connect(fx.buyer).refund(id))
        .to.be.revertedWithCustomError(fx.passes, "PrivacyPassEscrowIssueWindowOpen")
        .withArgs(id, issueBy);
    });

    it("reverts with PrivacyPassEscrowNotBuyer for anyone but the buyer, the operator included", async () => {
      const fx = await loadPasses();
      const id = await buyTokens(fx, 1);
      await toIssueBy(fx, id);
      for (const caller of [fx.other, fx.operator]) {
        await expect(fx.passes.connect(caller).refund(id))
          .to.be.revertedWithCustomError(fx.passes, "PrivacyPassEscrowNotBuyer")
          .withArgs(id, caller.address, fx.buyer.address);
      }
    });

    it("reverts with PrivacyPassEscrowUnknownPurchase and PrivacyPassEscrowPurchaseNotPending", async () => {
      const fx = await loadPasses();
      await expect(fx.passes.connect(fx.buyer).refund(1n))
        .to.be.revertedWithCustomError(fx.passes, "PrivacyPassEscrowUnknownPurchase")
        .withArgs(1n);
      const id = await acknowledgedPurchase(fx, 1);
      await toIssueBy(fx, id);
      await expect(fx.passes.connect(fx.buyer).refund(id))
        .to.be.revertedWithCustomError(fx.passes, "PrivacyPassEscrowPurchaseNotPending")
        .withArgs(id, Status.Acknowledged);
    });
  });

  describe("redeem", () => {
    it("marks each nonce spent, credits the operator price per token and emits TokensRedeemed", async () => {
      const fx = await loadPasses();
      const { passes, operator, keyId } = fx;
      await acknowledgedPurchase(fx, 5);
      const spent = nonces(3);
      expect(await passes.isSpent(keyId, spent[0]!)).to.equal(false);
      await expect(passes.connect(operator).redeem(keyId, spent))
        .to.emit(passes, "TokensRedeemed")
        .withArgs(keyId, operator.address, 3n, 3n * PRICE);
      for (const nonce of spent) expect(await passes.isSpent(keyId, nonce)).to.equal(true);
      expect(await passes.isSpent(keyId, nonces(4)[3]!)).to.equal(false);
      expect(await passes.balanceOf(operator.address)).to.equal(3n * PRICE);
      expect((await passes.issuer(keyId)).redeemed).to.equal(3n);
      await passes.connect(operator).redeem(keyId, nonces(2, "later"));
      expect((await passes.issuer(keyId)).redeemed).to.equal(5n);
      expect(await passes.balanceOf(operator.address)).to.equal(5n * PRICE);
    });

    it("keeps nonces per key: the same nonce redeems once under each of two keys", async () => {
      const fx = await loadPasses();
      const { passes, operator, keyId } = fx;
      const second = issuerPublicKey();
      await passes.connect(operator).registerIssuer(second, PRICE);
      await acknowledgedPurchase(fx, 1);
      const id = await buyTokens(fx, 1, keyIdOf(second));
      await passes.connect(operator).acknowledge([id]);
      const [nonce] = nonces(1);
      await passes.connect(operator).redeem(keyId, [nonce!]);
      await expect(passes.connect(operator).redeem(keyIdOf(second), [nonce!])).to.emit(passes, "TokensRedeemed");
      expect(await passes.isSpent(keyIdOf(second), nonce!)).to.equal(true);
    });

    it("reverts with PrivacyPassEscrowEmptyBatch for no nonces and PrivacyPassEscrowBatchTooLarge for more than MAX_BATCH", async () => {
      const fx = await loadPasses();
      const { passes, operator, keyId } = fx;
      await expect(passes.connect(operator).redeem(keyId, [])).to.be.revertedWithCustomError(
        passes,
        "PrivacyPassEscrowEmptyBatch",
      );
      await expect(passes.connect(operator).redeem(keyId, nonces(MAX_BATCH + 1)))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowBatchTooLarge")
        .withArgs(MAX_BATCH + 1, MAX_BATCH);
    });

    it("reverts with PrivacyPassEscrowUnknownIssuer and PrivacyPassEscrowUnauthorizedOperator", async () => {
      const fx = await loadPasses();
      const { passes, operator, rival, keyId } = fx;
      await acknowledgedPurchase(fx, 1);
      const unknown = keyIdOf(issuerPublicKey());
      await expect(passes.connect(operator).redeem(unknown, nonces(1)))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowUnknownIssuer")
        .withArgs(unknown);
      await expect(passes.connect(rival).redeem(keyId, nonces(1)))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowUnauthorizedOperator")
        .withArgs(keyId, rival.address, operator.address);
    });

    it("reverts with PrivacyPassEscrowInsufficientAcknowledged beyond the acknowledged tokens not yet redeemed", async () => {
      const fx = await loadPasses();
      const { passes, operator, keyId } = fx;
      await buyTokens(fx, 10);
      await expect(passes.connect(operator).redeem(keyId, nonces(1)))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowInsufficientAcknowledged")
        .withArgs(keyId, 0n, 1n);
      await acknowledgedPurchase(fx, 3);
      await expect(passes.connect(operator).redeem(keyId, nonces(4)))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowInsufficientAcknowledged")
        .withArgs(keyId, 3n, 4n);
      await passes.connect(operator).redeem(keyId, nonces(2));
      await expect(passes.connect(operator).redeem(keyId, nonces(2, "more")))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowInsufficientAcknowledged")
        .withArgs(keyId, 1n, 2n);
    });

    it("reverts with PrivacyPassEscrowNonceSpent for a nonce redeemed before or listed twice", async () => {
      const fx = await loadPasses();
      const { passes, operator, keyId } = fx;
      await acknowledgedPurchase(fx, 10);
      const [a, b] = nonces(2) as [string, string];
      await passes.connect(operator).redeem(keyId, [a]);
      await expect(passes.connect(operator).redeem(keyId, [b, a]))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowNonceSpent")
        .withArgs(keyId, a);
      await expect(passes.connect(operator).redeem(keyId, [b, b]))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowNonceSpent")
        .withArgs(keyId, b);
      expect(await passes.isSpent(keyId, b)).to.equal(false);
    });
  });

  describe("withdraw", () => {
    it("sends the whole balance to the recipient, returns it, zeroes it and emits Withdrawn", async () => {
      const fx = await loadPasses();
      const { passes, system, operator, keyId, other } = fx;
      await acknowledgedPurchase(fx, 4);
      await passes.connect(operator).redeem(keyId, nonces(4));
      expect(await passes.connect(operator).withdraw.staticCall(other.address)).to.equal(4n * PRICE);
      const before = await system.token.balanceOf(other.address);
      await expect(passes.connect(operator).withdraw(other.address))
        .to.emit(passes, "Withdrawn")
        .withArgs(operator.address, other.address, 4n * PRICE);
      expect(await system.token.balanceOf(other.address)).to.equal(before + 4n * PRICE);
      expect(await passes.balanceOf(operator.address)).to.equal(0n);
      expect(await system.token.balanceOf(await passes.getAddress())).to.equal(0n);
    });

    it("pays a buyer's refund", async () => {
      const fx = await loadPasses();
      const id = await buyTokens(fx, 2);
      await toIssueBy(fx, id);
      await fx.passes.connect(fx.buyer).refund(id);
      const before = await fx.system.token.balanceOf(fx.buyer.address);
      await expect(fx.passes.connect(fx.buyer).withdraw(fx.buyer.address))
        .to.emit(fx.passes, "Withdrawn")
        .withArgs(fx.buyer.address, fx.buyer.address, 2n * PRICE);
      expect(await fx.system.token.balanceOf(fx.buyer.address)).to.equal(before + 2n * PRICE);
    });

    it("reverts with PrivacyPassEscrowNothingToWithdraw and PrivacyPassEscrowInvalidRecipient", async () => {
      const { passes, operator } = await loadPasses();
      await expect(passes.connect(operator).withdraw(operator.address))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowNothingToWithdraw")
        .withArgs(operator.address);
      await expect(passes.connect(operator).withdraw(hre.ethers.ZeroAddress))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowInvalidRecipient")
        .withArgs(hre.ethers.ZeroAddress);
    });
  });

  describe("setParameters", () => {
    it("sets the issue window through the timelock and emits ParametersUpdated", async () => {
      const fx = await loadPasses();
      const { passes } = fx;
      await expect(
        governance(fx, passes, passes.interface.encodeFunctionData("setParameters", [{ issueWindow: 2 * DAY }])),
      )
        .to.emit(passes, "ParametersUpdated")
        .withArgs([2n * BigInt(DAY)]);
      expect((await passes.parameters()).issueWindow).to.equal(2n * BigInt(DAY));
    });

    it("reverts with AccessControlUnauthorizedAccount for anyone but governance", async () => {
      const fx = await loadPasses();
      const { passes } = fx;
      for (const caller of [fx.deployer, fx.operator]) {
        await expect(passes.connect(caller).setParameters({ issueWindow: DAY }))
          .to.be.revertedWithCustomError(passes, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, await passes.DEFAULT_ADMIN_ROLE());
      }
    });

    it("reverts with PrivacyPassEscrowParameterOutOfBounds outside 1 hour .. 7 days", async () => {
      const fx = await loadPasses();
      const { passes } = fx;
      for (const window of [HOUR - 1, 7 * DAY + 1]) {
        const data = passes.interface.encodeFunctionData("setParameters", [{ issueWindow: window }]);
        await expect(governance(fx, passes, data))
          .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowParameterOutOfBounds")
          .withArgs("issueWindow", window, HOUR, 7 * DAY);
      }
      expect((await passes.parameters()).issueWindow).to.equal(BigInt(ISSUE_WINDOW));
    });
  });

  describe("views", () => {
    it("answer zero for an unknown key, purchase, nonce and account", async () => {
      const { passes, other } = await loadPasses();
      const unknown = keyIdOf(issuerPublicKey());
      const issuer = await passes.issuer(unknown);
      expect([issuer.operator, issuer.price, issuer.retired, issuer.sold]).to.deep.equal([
        hre.ethers.ZeroAddress,
        0n,
        false,
        0n,
      ]);
      const purchase = await passes.purchase(1n);
      expect([purchase.buyer, purchase.count, purchase.status]).to.deep.equal([hre.ethers.ZeroAddress, 0n, 0n]);
      expect(await passes.isSpent(unknown, nonces(1)[0]!)).to.equal(false);
      expect(await passes.balanceOf(other.address)).to.equal(0n);
      expect(await passes.purchaseCount()).to.equal(0n);
    });
  });
});
