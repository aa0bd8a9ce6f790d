import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { deploySystem } from "../../deploy/system";
import {
  COLLATERAL,
  FEE_PER_NODE,
  MODEL_PRICE,
  STAKE,
  TOKEN,
  consumerJob,
  loadSystem,
  requestJob,
  requestParams,
  versionInput,
} from "../fixtures/system";
import { requestedJobs, jobTotal } from "../../src/core/job";
import { Mode, modeMask } from "../../src/core/modes";
import { ReentrantConsumer__factory, ReentrantToken__factory } from "../../typechain-types";

/** A system whose token calls back into a protocol contract on transfer (as an ERC-777 hook or a hostile token would). */
async function reentrantTokenSystem() {
  const [deployer, requester, owner, node] = await hre.ethers.getSigners();
  const token = await new ReentrantToken__factory(deployer!).deploy();
  const system = await deploySystem(hre, { persist: false, token: await token.getAddress() });
  for (const account of [requester!, node!]) {
    await token.mint(account.address, 100_000n * TOKEN);
    await token.connect(account).approve(await system.staking.getAddress(), hre.ethers.MaxUint256);
    await token.connect(account).approve(await system.escrow.getAddress(), hre.ethers.MaxUint256);
  }
  await system.registry.connect(owner!).createModelAndPublish(MODEL_PRICE, versionInput());
  await system.staking.connect(node!).stake(STAKE);
  await system.staking.connect(node!).register(modeMask([Mode.Vanilla]));
  return { system, token, requester: requester!, node: node! };
}

describe("attack: reentrancy", () => {
  describe("through a token that calls back on transfer", () => {
    it("cannot re-enter the escrow from request's transferFrom (ReentrancyGuardReentrantCall)", async () => {
      const { system, token, requester } = await loadFixture(reentrantTokenSystem);
      const { escrow } = system;
      await token.arm(
        await escrow.getAddress(),
        escrow.interface.encodeFunctionData("request", [await requestParams()]),
      );
      const tx = await escrow.connect(requester).request(await requestParams());
      const [requested] = requestedJobs(escrow, await tx.wait());
      expect(await token.attempted()).to.equal(true);
      expect(await token.reentrySucceeded()).to.equal(false);
      expect(await token.reentryResult()).to.equal(escrow.interface.encodeErrorResult("ReentrancyGuardReentrantCall"));
      expect(await escrow.jobCount()).to.equal(1n);
      expect(await token.balanceOf(await escrow.getAddress())).to.equal(jobTotal(requested!.job));
    });

    it("cannot claim twice by re-entering claim from the payout transfer", async () => {
      const { system, token, requester } = await loadFixture(reentrantTokenSystem);
      const { escrow } = system;
      const tx = await escrow.connect(requester).request(await requestParams());
      const job = requestedJobs(escrow, await tx.wait())[0]!.job;
      await time.increaseTo(job.deadline);
      await escrow.expire(job);
      const owed = await escrow.claimable(requester.address);
      expect(owed).to.equal(jobTotal(job));
      // The token re-enters as itself; the guard refuses any nested call into the escrow.
      await token.arm(await escrow.getAddress(), escrow.interface.encodeFunctionData("claim", [requester.address]));
      await expect(escrow.connect(requester).claim(requester.address))
        .to.emit(escrow, "Claimed")
        .withArgs(requester.address, requester.address, owed);
      expect(await token.reentryResult()).to.equal(escrow.interface.encodeErrorResult("ReentrancyGuardReentrantCall"));
      expect(await token.balanceOf(await escrow.getAddress())).to.equal(0n);
    });

    it("cannot re-enter staking from stake's transferFrom or withdraw's transfer", async () => {
      const { system, token, node } = await loadFixture(reentrantTokenSystem);
      const { staking } = system;
      await token.arm(await staking.getAddress(), staking.interface.encodeFunctionData("unstake", [1n]));
      await staking.connect(node).stake(TOKEN);
      expect(await token.reentryResult()).to.equal(staking.interface.encodeErrorResult("ReentrancyGuardReentrantCall"));
      await staking.connect(node).unstake(STAKE);
      await time.increase((await staking.parameters()).thawingPeriod);
      await token.arm(await staking.getAddress(), staking.interface.encodeFunctionData("withdraw", [node.address]));
      await expect(staking.connect(node).withdraw(node.address))
        .to.emit(staking, "Withdrawn")
        .withArgs(node.address, node.address, STAKE);
      expect(await token.reentryResult()).to.equal(staking.interface.encodeErrorResult("ReentrancyGuardReentrantCall"));
      expect(await token.balanceOf(await staking.getAddress())).to.equal(TOKEN);
      expect(await staking.totalStaked()).to.equal(TOKEN);
    });
    it("cannot re-enter stake or stakeWithPermit from stake's transferFrom", async () => {
      const { system, token, node } = await loadFixture(reentrantTokenSystem);
      const { staking } = system;
      const zero = hre.ethers.ZeroHash;
      for (const data of [
        staking.interface.encodeFunctionData("stake", [1n]),
        staking.interface.encodeFunctionData("stakeWithPermit", [1n, 0n, 27, zero, zero]),
      ]) {
        await token.arm(await staking.getAddress(), data);
        await expect(staking.connect(node).stake(TOKEN)).to.emit(staking, "Staked").withArgs(node.address, TOKEN);
        expect(await token.reentrySucceeded()).to.equal(false);
        expect(await token.reentryResult()).to.equal(
          staking.interface.encodeErrorResult("ReentrancyGuardReentrantCall"),
        );
      }
      expect((await staking.operatorOf(node.address)).staked).to.equal(STAKE + 2n * TOKEN);
    });
  });

  describe("through a consumer callback", () => {
    for (const name of [
      "claim",
      "expire",
      "submit",
      "request",
      "requestWithPermit",
      "claimSlot",
      "commit",
      "reveal",
      "claimProtocolFees",
    ] as const) {
      it(`cannot re-enter ${name} from onInferenceResult (ReentrancyGuardReentrantCall); settlement stands`, async () => {
        const fx = await loadSystem();
        const { escrow } = fx.system;
        const consumer = await new ReentrantConsumer__factory(fx.deployer).deploy(await escrow.getAddress());
        const consumerAddress = await consumer.getAddress();
        const other = await requestJob(fx);
        const job = await consumerJob(fx, consumer, { callbackGasLimit: 300_000 });
        const params = await requestParams();
        const salt = hre.ethers.ZeroHash;
        const reentries: Record<typeof name, string> = {
          claim: escrow.interface.encodeFunctionData("claim", [consumerAddress]),
          expire: escrow.interface.encodeFunctionData("expire", [job]),
          submit: escrow.interface.encodeFunctionData("submit", [other, "0x2a", "0x"]),
          request: escrow.interface.encodeFunctionData("request", [params]),
          requestWithPermit: escrow.interface.encodeFunctionData("requestWithPermit", [params, 0n, 27, salt, salt]),
          claimSlot: escrow.interface.encodeFunctionData("claimSlot", [other]),
          commit: escrow.interface.encodeFunctionData("commit", [other, salt]),
          reveal: escrow.interface.encodeFunctionData("reveal", [other, "0x2a", salt, "0x"]),
          claimProtocolFees: escrow.interface.encodeFunctionData("claimProtocolFees"),
        };
        await consumer.setReentry(reentries[name]);
        await escrow.connect(fx.nodes[0]!).claimSlot(job);
        const tx = escrow.connect(fx.nodes[0]!).submit(job, "0x2a", "0x");
        await expect(tx).to.emit(escrow, "JobSettled");
        await expect(tx).to.emit(escrow, "CallbackDelivered").withArgs(job.id, consumerAddress, true);
        expect(await consumer.called()).to.equal(true);
        expect(await consumer.reentrySucceeded()).to.equal(false);
        expect(await consumer.reentryResult()).to.equal(
          escrow.interface.encodeErrorResult("ReentrancyGuardReentrantCall"),
        );
        expect((await escrow.stateOf(job.id)).status).to.equal(2n);
        expect(await escrow.claimable(fx.nodes[0]!.address)).to.equal(FEE_PER_NODE);
        expect(await escrow.jobCount()).to.equal(2n);
      });
    }

    it("cannot re-enter expire from the refund callback of the same job", async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      const consumer = await new ReentrantConsumer__factory(fx.deployer).deploy(await escrow.getAddress());
      const job = await consumerJob(fx, consumer, { callbackGasLimit: 300_000 });
      await consumer.setReentry(escrow.interface.encodeFunctionData("expire", [job]));
      await escrow.connect(fx.nodes[0]!).claimSlot(job);
      await time.increaseTo(job.deadline);
      const tx = escrow.expire(job);
      await expect(tx)
        .to.emit(escrow, "JobRefunded")
        .withArgs(job.id, await consumer.getAddress(), jobTotal(job), 0);
      await expect(tx)
        .to.emit(escrow, "NodeSlashed")
        .withArgs(job.id, fx.nodes[0]!.address, COLLATERAL, COLLATERAL / 2n);
      expect(await consumer.reentryResult()).to.equal(
        escrow.interface.encodeErrorResult("ReentrancyGuardReentrantCall"),
      );
      await expect(escrow.expire(job)).to.be.revertedWithCustomError(escrow, "JobEscrowJobNotOpen").withArgs(job.id, 3);
      expect(await escrow.lockedStake(fx.nodes[0]!.address)).to.equal(0n);
    });
  });
});
