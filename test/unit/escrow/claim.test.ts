import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { FEE_PER_NODE, governance, loadSystem, MODEL_PRICE, requestJob, type Fixture } from "../../fixtures/system";
import { jobTotal } from "../../../src/core/job";

async function settledJob(fx: Fixture) {
  const job = await requestJob(fx);
  await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
  await fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", "0x");
  return job;
}

describe("JobEscrow.claim", () => {
  it("pays all of the caller's credits to the recipient, once", async () => {
    const fx = await loadSystem();
    await settledJob(fx);
    const node = fx.nodes[0]!;
    const before = await fx.system.token.balanceOf(fx.other.address);
    await expect(fx.system.escrow.connect(node).claim(fx.other.address))
      .to.emit(fx.system.escrow, "Claimed")
      .withArgs(node.address, fx.other.address, FEE_PER_NODE);
    expect(await fx.system.token.balanceOf(fx.other.address)).to.equal(before + FEE_PER_NODE);
    expect(await fx.system.escrow.claimable(node.address)).to.equal(0n);
    await expect(fx.system.escrow.connect(node).claim(node.address))
      .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowNothingToClaim")
      .withArgs(node.address);
  });

  it("reverts with JobEscrowInvalidRecipient for the zero address", async () => {
    const fx = await loadSystem();
    await settledJob(fx);
    await expect(fx.system.escrow.connect(fx.owner).claim(hre.ethers.ZeroAddress))
      .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowInvalidRecipient")
      .withArgs(hre.ethers.ZeroAddress);
  });

  it("claimProtocolFees sends the protocol's fees to the current treasury, by anyone", async () => {
    const fx = await loadSystem();
    const job = await settledJob(fx);
    const treasury = await fx.system.escrow.treasury();
    expect(treasury).to.equal(await fx.system.timelock.getAddress());
    await expect(fx.system.escrow.connect(fx.other).claimProtocolFees())
      .to.emit(fx.system.escrow, "ProtocolFeesClaimed")
      .withArgs(treasury, job.protocolFee);
    expect(await fx.system.token.balanceOf(treasury)).to.equal(job.protocolFee);
    expect(await fx.system.escrow.protocolFees()).to.equal(0n);
    expect(await fx.system.escrow.claimable(hre.ethers.ZeroAddress)).to.equal(0n);
    await expect(fx.system.escrow.claimProtocolFees())
      .to.emit(fx.system.escrow, "ProtocolFeesClaimed")
      .withArgs(treasury, 0n);
  });

  it("keeps claims, refunds, expiries and withdrawals working while requests are paused", async () => {
    const fx = await loadSystem();
    const open = await requestJob(fx);
    await fx.system.escrow.connect(fx.nodes[1]!).claimSlot(open);
    await settledJob(fx);
    await fx.system.escrow.connect(fx.deployer).setPaused(true);
    await expect(fx.system.escrow.connect(fx.owner).claim(fx.owner.address))
      .to.emit(fx.system.escrow, "Claimed")
      .withArgs(fx.owner.address, fx.owner.address, MODEL_PRICE);
    await time.increaseTo(open.deadline);
    await expect(fx.system.escrow.expire(open)).to.emit(fx.system.escrow, "JobRefunded");
    await expect(fx.system.escrow.connect(fx.requester).claim(fx.requester.address)).to.emit(
      fx.system.escrow,
      "Claimed",
    );
    await fx.system.staking.connect(fx.nodes[1]!).unstake(1n);
    await time.increase(8 * 24 * 3600);
    await expect(fx.system.staking.connect(fx.nodes[1]!).withdraw(fx.nodes[1]!.address)).to.emit(
      fx.system.staking,
      "Withdrawn",
    );
  });

  it("never pays out more than was escrowed: escrow balance equals open escrow plus all credits", async () => {
    const fx = await loadSystem();
    const open = await requestJob(fx);
    await settledJob(fx);
    const expired = await requestJob(fx);
    await fx.system.escrow.connect(fx.nodes[1]!).claimSlot(expired);
    await time.increaseTo(expired.deadline);
    await fx.system.escrow.expire(expired);
    const accounts = [fx.requester, fx.owner, ...fx.nodes].map((a) => a.address);
    let credits = await fx.system.escrow.protocolFees();
    for (const a of accounts) credits += await fx.system.escrow.claimable(a);
    expect(await fx.system.token.balanceOf(await fx.system.escrow.getAddress())).to.equal(jobTotal(open) + credits);
    await governance(
      fx,
      fx.system.escrow,
      fx.system.escrow.interface.encodeFunctionData("setTreasury", [fx.other.address]),
    );
    await fx.system.escrow.claimProtocolFees();
    for (const a of [fx.requester, fx.owner, ...fx.nodes]) {
      if ((await fx.system.escrow.claimable(a.address)) > 0n) await fx.system.escrow.connect(a).claim(a.address);
    }
    expect(await fx.system.token.balanceOf(await fx.system.escrow.getAddress())).to.equal(jobTotal(open));
  });
});
