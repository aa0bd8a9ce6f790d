import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { systemFixture, TOKEN } from "../fixtures/system";
import {
  acknowledgedPurchase,
  buyTokens,
  deployPasses,
  issuerPublicKey,
  keyIdOf,
  loadPasses,
  nonces,
  PRICE,
  toIssueBy,
  type PassesFixture,
} from "../unit/privacy/passes.fixture";
import { FeeOnTransferToken__factory, ReentrantToken__factory } from "../../typechain-types";

/** What the escrow must hold: balances, pending purchases and acknowledged tokens not yet redeemed, in value. */
async function owed(fx: PassesFixture, accounts: string[], keyIds: string[]): Promise<bigint> {
  const { passes } = fx;
  let total = 0n;
  for (const account of accounts) total += await passes.balanceOf(account);
  for (let id = 1n; id <= (await passes.purchaseCount()); ++id) {
    const p = await passes.purchase(id);
    if (p.status === 1n) total += (await passes.issuer(p.keyId)).price * p.count;
  }
  for (const keyId of keyIds) {
    const issuer = await passes.issuer(keyId);
    total += issuer.price * (issuer.acknowledged - issuer.redeemed);
  }
  return total;
}

/** The fixture's system with an escrow paid in a token that calls back into it on transfer. */
async function reentrantPasses() {
  const fx = await systemFixture();
  const token = await new ReentrantToken__factory(fx.deployer).deploy();
  const passes = await deployPasses(fx, await token.getAddress());
  const [operator] = fx.nodes;
  await token.mint(fx.requester.address, 1_000n * TOKEN);
  await token.connect(fx.requester).approve(await passes.getAddress(), hre.ethers.MaxUint256);
  const publicKey = issuerPublicKey();
  await passes.connect(operator!).registerIssuer(publicKey, PRICE);
  return { fx, token, passes, operator: operator!, buyer: fx.requester, keyId: keyIdOf(publicKey) };
}

/** The fixture's system with an escrow paid in a token that burns 1% of every transfer. */
async function feePasses() {
  const fx = await systemFixture();
  const token = await new FeeOnTransferToken__factory(fx.deployer).deploy();
  const passes = await deployPasses(fx, await token.getAddress());
  await token.mint(fx.requester.address, 1_000n * TOKEN);
  await token.connect(fx.requester).approve(await passes.getAddress(), hre.ethers.MaxUint256);
  const publicKey = issuerPublicKey();
  await passes.connect(fx.nodes[0]!).registerIssuer(publicKey, PRICE);
  return { token, passes, buyer: fx.requester, keyId: keyIdOf(publicKey) };
}

describe("attack: Privacy Pass escrow", () => {
  describe("an operator claiming more than it is owed", () => {
    it("cannot redeem a nonce twice across calls", async () => {
      const fx = await loadPasses();
      const { passes, operator, keyId } = fx;
      await acknowledgedPurchase(fx, 10);
      const [nonce] = nonces(1);
      await passes.connect(operator).redeem(keyId, [nonce!]);
      await expect(passes.connect(operator).redeem(keyId, [nonce!]))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowNonceSpent")
        .withArgs(keyId, nonce);
      expect(await passes.balanceOf(operator.address)).to.equal(PRICE);
    });

    it("cannot redeem a nonce twice within one call, and the whole call is undone", async () => {
      const fx = await loadPasses();
      const { passes, operator, keyId } = fx;
      await acknowledgedPurchase(fx, 10);
      const [a, b] = nonces(2) as [string, string];
      await expect(passes.connect(operator).redeem(keyId, [a, b, a]))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowNonceSpent")
        .withArgs(keyId, a);
      expect(await passes.isSpent(keyId, a)).to.equal(false);
      expect(await passes.balanceOf(operator.address)).to.equal(0n);
      expect((await passes.issuer(keyId)).redeemed).to.equal(0n);
    });

    it("cannot redeem beyond what it acknowledged: pending, refunded and other keys' purchases do not count", async () => {
      const fx = await loadPasses();
      const { passes, operator, keyId } = fx;
      const secondKey = issuerPublicKey();
      await passes.connect(operator).registerIssuer(secondKey, PRICE);
      const refunded = await buyTokens(fx, 50);
      await toIssueBy(fx, refunded);
      await passes.connect(fx.buyer).refund(refunded);
      await buyTokens(fx, 50); // pending
      const other = await buyTokens(fx, 50, keyIdOf(secondKey));
      await passes.connect(operator).acknowledge([other]);
      await acknowledgedPurchase(fx, 2);
      await expect(passes.connect(operator).redeem(keyId, nonces(3)))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowInsufficientAcknowledged")
        .withArgs(keyId, 2n, 3n);
      await passes.connect(operator).redeem(keyId, nonces(2));
      await expect(passes.connect(operator).redeem(keyId, nonces(1, "fresh")))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowInsufficientAcknowledged")
        .withArgs(keyId, 0n, 1n);
      expect(await passes.balanceOf(operator.address)).to.equal(2n * PRICE);
    });

    it("cannot acknowledge a purchase after its issueBy, when the buyer may already have been refunded", async () => {
      const fx = await loadPasses();
      const { passes, operator } = fx;
      const id = await buyTokens(fx, 5);
      const { issueBy } = await passes.purchase(id);
      await toIssueBy(fx, id, 3600n);
      await expect(passes.connect(operator).acknowledge([id]))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowIssueWindowClosed")
        .withArgs(id, issueBy);
      await passes.connect(fx.buyer).refund(id);
      await expect(passes.connect(operator).acknowledge([id]))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowPurchaseNotPending")
        .withArgs(id, 3);
    });
  });

  describe("outsiders", () => {
    it("cannot acknowledge or redeem for a key they do not operate: another operator, a buyer, the deployer", async () => {
      const fx = await loadPasses();
      const { passes, operator, keyId } = fx;
      const id = await buyTokens(fx, 3);
      for (const intruder of [fx.rival, fx.buyer, fx.deployer]) {
        await expect(passes.connect(intruder).acknowledge([id]))
          .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowUnauthorizedOperator")
          .withArgs(keyId, intruder.address, operator.address);
      }
      await passes.connect(operator).acknowledge([id]);
      for (const intruder of [fx.rival, fx.buyer, fx.deployer]) {
        await expect(passes.connect(intruder).redeem(keyId, nonces(1)))
          .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowUnauthorizedOperator")
          .withArgs(keyId, intruder.address, operator.address);
      }
      expect((await passes.issuer(keyId)).redeemed).to.equal(0n);
    });

    it("cannot take a refund of someone else's purchase", async () => {
      const fx = await loadPasses();
      const id = await buyTokens(fx, 3);
      await toIssueBy(fx, id);
      await expect(fx.passes.connect(fx.other).refund(id))
        .to.be.revertedWithCustomError(fx.passes, "PrivacyPassEscrowNotBuyer")
        .withArgs(id, fx.other.address, fx.buyer.address);
    });

    it("cannot take over a registered key (first come, first served: the squatting the interface warns of)", async () => {
      const { passes, operator, rival, publicKey, keyId } = await loadPasses();
      await expect(passes.connect(rival).registerIssuer(publicKey, 1n))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowIssuerExists")
        .withArgs(keyId, operator.address);
      expect((await passes.issuer(keyId)).price).to.equal(PRICE);
    });
  });

  describe("a buyer claiming more than it paid", () => {
    it("cannot be refunded for an acknowledged purchase", async () => {
      const fx = await loadPasses();
      const id = await acknowledgedPurchase(fx, 3);
      await toIssueBy(fx, id);
      await expect(fx.passes.connect(fx.buyer).refund(id))
        .to.be.revertedWithCustomError(fx.passes, "PrivacyPassEscrowPurchaseNotPending")
        .withArgs(id, 2);
      expect(await fx.passes.balanceOf(fx.buyer.address)).to.equal(0n);
    });

    it("cannot be refunded twice", async () => {
      const fx = await loadPasses();
      const id = await buyTokens(fx, 3);
      await toIssueBy(fx, id);
      await fx.passes.connect(fx.buyer).refund(id);
      await expect(fx.passes.connect(fx.buyer).refund(id))
        .to.be.revertedWithCustomError(fx.passes, "PrivacyPassEscrowPurchaseNotPending")
        .withArgs(id, 3);
      expect(await fx.passes.balanceOf(fx.buyer.address)).to.equal(3n * PRICE);
    });

    it("cannot withdraw twice", async () => {
      const fx = await loadPasses();
      const id = await buyTokens(fx, 3);
      await toIssueBy(fx, id);
      await fx.passes.connect(fx.buyer).refund(id);
      await fx.passes.connect(fx.buyer).withdraw(fx.buyer.address);
      await expect(fx.passes.connect(fx.buyer).withdraw(fx.buyer.address))
        .to.be.revertedWithCustomError(fx.passes, "PrivacyPassEscrowNothingToWithdraw")
        .withArgs(fx.buyer.address);
    });
  });

  describe("conservation", () => {
    it("holds exactly balances + pending purchases + acknowledged unredeemed tokens through a mixed history", async () => {
      const fx = await loadPasses();
      const { passes, system, operator, rival, keyId } = fx;
      const rivalKey = issuerPublicKey();
      await passes.connect(rival).registerIssuer(rivalKey, 3n * PRICE);
      const keys = [keyId, keyIdOf(rivalKey)];
      const accounts = [fx.buyer.address, fx.other.address, operator.address, rival.address];
      const check = async () =>
        expect(await system.token.balanceOf(await passes.getAddress())).to.equal(await owed(fx, accounts, keys));
      const a = await buyTokens(fx, 7);
      const b = await buyTokens(fx, 4, keys[1], fx.other);
      const c = await buyTokens(fx, 2);
      await check();
      await passes.connect(operator).acknowledge([a]);
      await passes.connect(rival).acknowledge([b]);
      await check();
      await passes.connect(operator).redeem(keyId, nonces(5));
      await passes.connect(rival).redeem(keys[1]!, nonces(4));
      await check();
      await toIssueBy(fx, c);
      await passes.connect(fx.buyer).refund(c);
      await check();
      await passes.connect(operator).withdraw(operator.address);
      await passes.connect(fx.buyer).withdraw(fx.buyer.address);
      await check();
      expect(await system.token.balanceOf(await passes.getAddress())).to.equal(2n * PRICE + 12n * PRICE);
    });
  });

  describe("non-standard tokens", () => {
    it("cannot re-enter from buy's transferFrom (ReentrancyGuardReentrantCall)", async () => {
      const { token, passes, buyer, keyId } = await loadFixture(reentrantPasses);
      await token.arm(
        await passes.getAddress(),
        passes.interface.encodeFunctionData("buy", [keyId, 1, hre.ethers.MaxUint256]),
      );
      await passes.connect(buyer).buy(keyId, 2, hre.ethers.MaxUint256);
      expect(await token.attempted()).to.equal(true);
      expect(await token.reentrySucceeded()).to.equal(false);
      expect(await token.reentryResult()).to.equal(passes.interface.encodeErrorResult("ReentrancyGuardReentrantCall"));
      expect(await passes.purchaseCount()).to.equal(1n);
      expect(await token.balanceOf(await passes.getAddress())).to.equal(2n * PRICE);
    });

    it("cannot withdraw twice by re-entering withdraw from the payout transfer", async () => {
      const { token, passes, buyer, keyId } = await loadFixture(reentrantPasses);
      const id = await passes.connect(buyer).buy.staticCall(keyId, 2, hre.ethers.MaxUint256);
      await passes.connect(buyer).buy(keyId, 2, hre.ethers.MaxUint256);
      const { issueBy } = await passes.purchase(id);
      await time.setNextBlockTimestamp(issueBy);
      await passes.connect(buyer).refund(id);
      // The token re-enters as itself; the guard refuses any nested call into the escrow.
      await token.arm(await passes.getAddress(), passes.interface.encodeFunctionData("withdraw", [buyer.address]));
      const before = await token.balanceOf(buyer.address);
      await passes.connect(buyer).withdraw(buyer.address);
      expect(await token.reentrySucceeded()).to.equal(false);
      expect(await token.reentryResult()).to.equal(passes.interface.encodeErrorResult("ReentrancyGuardReentrantCall"));
      expect(await token.balanceOf(buyer.address)).to.equal(before + 2n * PRICE);
      expect(await token.balanceOf(await passes.getAddress())).to.equal(0n);
    });

    it("refuses a short purchase from a fee-on-transfer token with PrivacyPassEscrowTransferMismatch", async () => {
      const { token, passes, buyer, keyId } = await loadFixture(feePasses);
      const cost = 10n * PRICE;
      const fee = (cost * (await token.FEE_BPS())) / 10_000n;
      await expect(passes.connect(buyer).buy(keyId, 10, cost))
        .to.be.revertedWithCustomError(passes, "PrivacyPassEscrowTransferMismatch")
        .withArgs(cost, cost - fee);
      expect(await passes.purchaseCount()).to.equal(0n);
    });
  });
});
