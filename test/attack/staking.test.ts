import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { COLLATERAL, STAKE, loadSystem, requestJob } from "../fixtures/system";
import { jobTotal } from "../../src/core/job";

/** Ceiling of a * b / c, as NodeStaking rounds a slash's thawing share. */
function mulDivUp(a: bigint, b: bigint, c: bigint): bigint {
  return (a * b + c - 1n) / c;
}

describe("attack: escaping a slash by unstaking", () => {
  it("cannot unstake locked collateral (NodeStakingInsufficientStake)", async () => {
    const fx = await loadSystem();
    const { escrow, staking } = fx.system;
    const node = fx.nodes[0]!;
    const job = await requestJob(fx);
    await escrow.connect(node).claimSlot(job);
    await staking.connect(node).unstake(STAKE - COLLATERAL);
    await expect(staking.connect(node).unstake(1n))
      .to.be.revertedWithCustomError(staking, "NodeStakingInsufficientStake")
      .withArgs(node.address, 0n, 1n);
  });

  it("still slashes thawing stake pro-rata (rounded up) after the node unstaked everything it could", async () => {
    const fx = await loadSystem();
    const { escrow, staking } = fx.system;
    const node = fx.nodes[0]!;
    const job = await requestJob(fx);
    await escrow.connect(node).claimSlot(job);
    const unstaked = STAKE - COLLATERAL;
    await staking.connect(node).unstake(unstaked);
    await time.increaseTo(job.deadline);
    const fromThawing = mulDivUp(COLLATERAL, unstaked, STAKE);
    const tx = escrow.expire(job);
    await expect(tx)
      .to.emit(staking, "Slashed")
      .withArgs(node.address, await escrow.getAddress(), COLLATERAL, fromThawing);
    await expect(tx).to.emit(escrow, "JobRefunded").withArgs(job.id, fx.requester.address, jobTotal(job), 0);
    const op = await staking.operatorOf(node.address);
    expect(op.thawing).to.equal(unstaked - fromThawing);
    expect(op.staked).to.equal(COLLATERAL - (COLLATERAL - fromThawing));
    expect(await staking.totalStaked()).to.equal(2n * STAKE + STAKE - COLLATERAL);
  });

  it("cannot withdraw thawing stake before the thawing period ends (NodeStakingStillThawing)", async () => {
    const fx = await loadSystem();
    const { staking } = fx.system;
    const node = fx.nodes[1]!;
    await staking.connect(node).unstake(STAKE);
    const { thawEnd } = await staking.operatorOf(node.address);
    await expect(staking.connect(node).withdraw(node.address))
      .to.be.revertedWithCustomError(staking, "NodeStakingStillThawing")
      .withArgs(node.address, thawEnd);
  });
});

describe("attack: double claim and double resolution", () => {
  it("pays a credit once: a second claim reverts with JobEscrowNothingToClaim", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const node = fx.nodes[0]!;
    const job = await requestJob(fx);
    await escrow.connect(node).claimSlot(job);
    await escrow.connect(node).submit(job, "0x2a", "0x");
    await expect(escrow.connect(node).claim(node.address))
      .to.emit(escrow, "Claimed")
      .withArgs(node.address, node.address, job.feePerNode);
    await expect(escrow.connect(node).claim(node.address))
      .to.be.revertedWithCustomError(escrow, "JobEscrowNothingToClaim")
      .withArgs(node.address);
  });

  it("refunds once: a second expire reverts with JobEscrowJobNotOpen(Refunded)", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const job = await requestJob(fx);
    await time.increaseTo(job.deadline);
    await escrow.expire(job);
    await expect(escrow.expire(job)).to.be.revertedWithCustomError(escrow, "JobEscrowJobNotOpen").withArgs(job.id, 3);
    expect(await escrow.claimable(fx.requester.address)).to.equal(jobTotal(job));
  });

  it("settles once: expiring a settled job reverts with JobEscrowJobNotOpen(Settled)", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const node = fx.nodes[0]!;
    const job = await requestJob(fx);
    await escrow.connect(node).claimSlot(job);
    await escrow.connect(node).submit(job, "0x2a", "0x");
    await time.increaseTo(job.deadline);
    await expect(escrow.expire(job)).to.be.revertedWithCustomError(escrow, "JobEscrowJobNotOpen").withArgs(job.id, 2);
  });
});
