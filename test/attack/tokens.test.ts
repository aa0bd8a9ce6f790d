import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { deploySystem } from "../../deploy/system";
import { MODEL_PRICE, STAKE, TOKEN, requestParams, versionInput } from "../fixtures/system";
import { Mode, modeMask } from "../../src/core/modes";
import { FeeOnTransferToken__factory, RebasingToken__factory } from "../../typechain-types";

async function feeTokenSystem() {
  const [deployer, requester, owner, node] = await hre.ethers.getSigners();
  const token = await new FeeOnTransferToken__factory(deployer!).deploy();
  const system = await deploySystem(hre, { persist: false, token: await token.getAddress() });
  for (const account of [requester!, node!]) {
    await token.mint(account.address, 100_000n * TOKEN);
    await token.connect(account).approve(system.staking, hre.ethers.MaxUint256);
    await token.connect(account).approve(system.escrow, hre.ethers.MaxUint256);
  }
  await system.registry.connect(owner!).createModelAndPublish(MODEL_PRICE, versionInput());
  return { system, token, requester: requester!, node: node! };
}

async function rebasingTokenSystem() {
  const [deployer, , , node1, node2] = await hre.ethers.getSigners();
  const token = await new RebasingToken__factory(deployer!).deploy();
  const system = await deploySystem(hre, { persist: false, token: await token.getAddress() });
  for (const node of [node1!, node2!]) {
    await token.mint(node.address, 10_000n * TOKEN);
    await token.connect(node).approve(system.staking, hre.ethers.MaxUint256);
    await system.staking.connect(node).stake(STAKE);
    await system.staking.connect(node).register(modeMask([Mode.Vanilla]));
  }
  return { system, token, nodes: [node1!, node2!] as const };
}

describe("attack: non-standard tokens", () => {
  describe("fee on transfer", () => {
    it("refuses a short stake with NodeStakingTransferMismatch", async () => {
      const { system, token, node } = await loadFixture(feeTokenSystem);
      const fee = (STAKE * (await token.FEE_BPS())) / 10_000n;
      await expect(system.staking.connect(node).stake(STAKE))
        .to.be.revertedWithCustomError(system.staking, "NodeStakingTransferMismatch")
        .withArgs(STAKE, STAKE - fee);
    });

    it("refuses a short request with JobEscrowTransferMismatch", async () => {
      const { system, token, requester } = await loadFixture(feeTokenSystem);
      const params = await requestParams();
      const [total] = await system.escrow.quote(
        params.modelId,
        params.version,
        params.mode,
        params.redundancy,
        params.feePerNode,
      );
      const fee = (total * (await token.FEE_BPS())) / 10_000n;
      await expect(system.escrow.connect(requester).request(params))
        .to.be.revertedWithCustomError(system.escrow, "JobEscrowTransferMismatch")
        .withArgs(total, total - fee);
    });
  });

  // Rebasing tokens are unsupported (INodeStaking, IJobEscrow warnings). This documents what happens.
  describe("rebasing (unsupported)", () => {
    it("after a negative rebase the books exceed the balance and the last withdrawal reverts (ERC20InsufficientBalance)", async () => {
      const { system, token, nodes } = await loadFixture(rebasingTokenSystem);
      const { staking } = system;
      const index = (9n * (await token.ONE())) / 10n; // -10%
      await token.rebase(index);
      expect(await staking.totalStaked()).to.equal(2n * STAKE);
      expect(await token.balanceOf(staking)).to.equal((2n * STAKE * 9n) / 10n);
      for (const node of nodes) await staking.connect(node).unstake(STAKE);
      await time.increase((await staking.parameters()).thawingPeriod);
      await staking.connect(nodes[0]).withdraw(nodes[0].address); // first out is paid in full
      // The token moves shares (amount * ONE / index, rounded down): the first withdrawal took more shares than
      // were ever deposited for it, and the second finds too few.
      const sharesOut = (STAKE * (await token.ONE())) / index;
      await expect(staking.connect(nodes[1]).withdraw(nodes[1].address))
        .to.be.revertedWithCustomError(token, "ERC20InsufficientBalance")
        .withArgs(await staking.getAddress(), 2n * STAKE - sharesOut, sharesOut);
    });

    it("after a positive rebase the surplus is stranded: nobody can withdraw more than the books say", async () => {
      const { system, token, nodes } = await loadFixture(rebasingTokenSystem);
      const { staking } = system;
      const one = await token.ONE();
      const index = (11n * one) / 10n; // +10%
      await token.rebase(index);
      for (const node of nodes) await staking.connect(node).unstake(STAKE);
      await time.increase((await staking.parameters()).thawingPeriod);
      for (const node of nodes) await staking.connect(node).withdraw(node.address);
      expect(await staking.totalStaked()).to.equal(0n);
      const sharesLeft = 2n * STAKE - 2n * ((STAKE * one) / index);
      expect(await token.balanceOf(staking)).to.equal((sharesLeft * index) / one); // about 200 tokens nobody can claim
      expect(await token.balanceOf(staking)).to.be.greaterThan(199n * TOKEN);
    });
  });
});
