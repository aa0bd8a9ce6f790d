import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { COLLATERAL, loadSystem, requestJob, STAKE, TOKEN } from "../../fixtures/system";
import { hashJob } from "../../../src/core/job";
import { Mode } from "../../../src/core/modes";
import { SlotPhase } from "../../../src/core/job";

describe("JobEscrow.claimSlot", () => {
  it("assigns the next slot, locks the collateral and emits SlotClaimed", async () => {
    const fx = await loadSystem();
    const { escrow, staking } = fx.system;
    const job = await requestJob(fx, { redundancy: 3 });
    const [a, b] = fx.nodes;
    await expect(escrow.connect(a!).claimSlot(job))
      .to.emit(escrow, "SlotClaimed")
      .withArgs(job.id, a!.address, 0, COLLATERAL);
    await expect(escrow.connect(b!).claimSlot(job))
      .to.emit(escrow, "SlotClaimed")
      .withArgs(job.id, b!.address, 1, COLLATERAL);
    const claimedAt = BigInt(await time.latest());
    const [slot, digest] = await escrow.slotOf(job.id, 1);
    expect(slot.node).to.equal(b!.address);
    expect(slot.phase).to.equal(BigInt(SlotPhase.Claimed));
    expect(slot.claimedAt).to.equal(claimedAt);
    expect(digest).to.equal(`0x${"0".repeat(64)}`);
    expect((await escrow.stateOf(job.id)).filled).to.equal(2n);
    expect(await escrow.lockedStake(a!.address)).to.equal(COLLATERAL);
    expect(await staking.lockedStake(a!.address)).to.equal(COLLATERAL);
    expect(await staking.availableStake(a!.address)).to.equal(STAKE - COLLATERAL);
  });

  it("reverts with JobEscrowAlreadyAssigned: one operator can never take two slots", async () => {
    const fx = await loadSystem();
    const job = await requestJob(fx, { redundancy: 3 });
    await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
    await expect(fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job))
      .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowAlreadyAssigned")
      .withArgs(job.id, fx.nodes[0]!.address);
  });

  it("reverts with JobEscrowSlotsFilled when every slot is taken", async () => {
    const fx = await loadSystem();
    const job = await requestJob(fx);
    await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
    await expect(fx.system.escrow.connect(fx.nodes[1]!).claimSlot(job))
      .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowSlotsFilled")
      .withArgs(job.id, 1);
  });

  it("reverts with JobEscrowJobMismatch for tampered terms or an unknown job", async () => {
    const fx = await loadSystem();
    const job = await requestJob(fx);
    const tampered = { ...job, feePerNode: job.feePerNode * 2n };
    await expect(fx.system.escrow.connect(fx.nodes[0]!).claimSlot(tampered))
      .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowJobMismatch")
      .withArgs(job.id, hashJob(job), hashJob(tampered));
    const unknown = { ...job, id: 99n };
    await expect(fx.system.escrow.connect(fx.nodes[0]!).claimSlot(unknown))
      .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowJobMismatch")
      .withArgs(99n, `0x${"0".repeat(64)}`, hashJob(unknown));
  });

  it("reverts with JobEscrowDeadlinePassed at or after the deadline", async () => {
    const fx = await loadSystem();
    const job = await requestJob(fx);
    await time.setNextBlockTimestamp(job.deadline);
    await expect(fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job))
      .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowDeadlinePassed")
      .withArgs(job.id, job.deadline);
  });

  it("reverts with JobEscrowNodeIneligible for an unregistered node or one that does not serve the mode", async () => {
    const fx = await loadSystem();
    const job = await requestJob(fx, { mode: Mode.Tee });
    await fx.system.staking.connect(fx.other).stake(STAKE);
    await expect(fx.system.escrow.connect(fx.other).claimSlot(job))
      .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowNodeIneligible")
      .withArgs(job.id, fx.other.address);
    await fx.system.staking.connect(fx.other).register(1 << Mode.Vanilla);
    await expect(fx.system.escrow.connect(fx.other).claimSlot(job))
      .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowNodeIneligible")
      .withArgs(job.id, fx.other.address);
  });

  it("reverts with JobEscrowNodeIneligible when the stake fell below the minimum", async () => {
    const fx = await loadSystem();
    const job = await requestJob(fx);
    await fx.system.staking.connect(fx.nodes[0]!).unstake(STAKE - 99n * TOKEN);
    await expect(fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job))
      .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowNodeIneligible")
      .withArgs(job.id, fx.nodes[0]!.address);
  });

  it("reverts with JobEscrowInsufficientStake when the unlocked stake cannot cover the collateral", async () => {
    const fx = await loadSystem();
    // The largest collateral a job may ask is its node fee times maxCollateralRatio (20): a fee of STAKE / 20.
    const job = await requestJob(fx, { collateral: STAKE, feePerNode: STAKE / 20n });
    await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
    const second = await requestJob(fx, { collateral: TOKEN });
    await expect(fx.system.escrow.connect(fx.nodes[0]!).claimSlot(second))
      .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowInsufficientStake")
      .withArgs(fx.nodes[0]!.address, 0n, TOKEN);
    await expect(fx.system.staking.connect(fx.nodes[0]!).unstake(1n))
      .to.be.revertedWithCustomError(fx.system.staking, "NodeStakingInsufficientStake")
      .withArgs(fx.nodes[0]!.address, 0n, 1n);
  });

  it("reverts with JobEscrowJobNotOpen once the job has settled", async () => {
    const fx = await loadSystem();
    const job = await requestJob(fx);
    await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
    await fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", "0x");
    await expect(fx.system.escrow.connect(fx.nodes[1]!).claimSlot(job))
      .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowJobNotOpen")
      .withArgs(job.id, 2);
  });
});
