import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { hexlify, keccak256, randomBytes } from "ethers";
import {
  COLLATERAL,
  FEE_PER_NODE,
  governance,
  loadSystem,
  MODEL_PRICE,
  requestJob,
  STAKE,
} from "../../fixtures/system";
import { DEFAULT_ESCROW_PARAMETERS } from "../../../deploy/system";
import { jobTotal, resultCommitment } from "../../../src/core/job";
import { JobStatus, RefundReason } from "../../../src/core/job";

describe("JobEscrow.expire", () => {
  it("refunds an unclaimed k = 1 job in full after its deadline, slashing no one", async () => {
    const fx = await loadSystem();
    const job = await requestJob(fx);
    await time.increaseTo(job.deadline);
    const tx = fx.system.escrow.connect(fx.other).expire(job);
    await expect(tx)
      .to.emit(fx.system.escrow, "JobRefunded")
      .withArgs(job.id, fx.requester.address, jobTotal(job), RefundReason.Expired);
    await expect(tx).not.to.emit(fx.system.escrow, "NodeSlashed");
    expect(await fx.system.escrow.claimable(fx.requester.address)).to.equal(jobTotal(job));
    expect((await fx.system.escrow.stateOf(job.id)).status).to.equal(BigInt(JobStatus.Refunded));
  });

  it("refunds a claimed but undelivered k = 1 job and slashes the silent node, half to the requester", async () => {
    const fx = await loadSystem();
    const node = fx.nodes[0]!;
    const job = await requestJob(fx);
    await fx.system.escrow.connect(node).claimSlot(job);
    await time.increaseTo(job.deadline);
    const tx = fx.system.escrow.connect(fx.other).expire(job);
    await expect(tx)
      .to.emit(fx.system.escrow, "NodeSlashed")
      .withArgs(job.id, node.address, COLLATERAL, COLLATERAL / 2n);
    await expect(tx)
      .to.emit(fx.system.staking, "Slashed")
      .withArgs(node.address, await fx.system.escrow.getAddress(), COLLATERAL, 0n);
    expect(await fx.system.escrow.claimable(fx.requester.address)).to.equal(jobTotal(job) + COLLATERAL / 2n);
    expect(await fx.system.escrow.protocolFees()).to.equal(COLLATERAL / 2n);
    expect(await fx.system.escrow.lockedStake(node.address)).to.equal(0n);
    expect((await fx.system.staking.operatorOf(node.address)).staked).to.equal(STAKE - COLLATERAL);
  });

  it("splits a slash by the job's own terms, even after governance changed the split", async () => {
    const fx = await loadSystem();
    const node = fx.nodes[0]!;
    const job = await requestJob(fx);
    expect(job.slashBeneficiaryBps).to.equal(5_000n);
    await fx.system.escrow.connect(node).claimSlot(job);
    const p = { ...DEFAULT_ESCROW_PARAMETERS, slashBeneficiaryBps: 0 };
    await governance(fx, fx.system.escrow, fx.system.escrow.interface.encodeFunctionData("setParameters", [p]));
    await time.increaseTo(job.deadline);
    await expect(fx.system.escrow.expire(job))
      .to.emit(fx.system.escrow, "NodeSlashed")
      .withArgs(job.id, node.address, COLLATERAL, COLLATERAL / 2n);
    expect((await requestJob(fx)).slashBeneficiaryBps).to.equal(0n);
  });

  it("still slashes a node that unstaked everything else: thawing stake pays pro-rata", async () => {
    const fx = await loadSystem();
    const node = fx.nodes[0]!;
    const job = await requestJob(fx);
    await fx.system.escrow.connect(node).claimSlot(job);
    await fx.system.staking.connect(node).unstake(STAKE - COLLATERAL);
    await time.increaseTo(job.deadline);
    const fromThawing = (COLLATERAL * (STAKE - COLLATERAL) + STAKE - 1n) / STAKE;
    await expect(fx.system.escrow.connect(fx.other).expire(job))
      .to.emit(fx.system.staking, "Slashed")
      .withArgs(node.address, await fx.system.escrow.getAddress(), COLLATERAL, fromThawing);
    const position = await fx.system.staking.operatorOf(node.address);
    expect(position.staked + position.thawing).to.equal(STAKE - COLLATERAL);
  });

  it("reverts with JobEscrowNotExpired before the deadline, and JobEscrowJobNotOpen after it resolved", async () => {
    const fx = await loadSystem();
    const job = await requestJob(fx);
    await expect(fx.system.escrow.expire(job))
      .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowNotExpired")
      .withArgs(job.id, job.deadline);
    await time.increaseTo(job.deadline);
    await fx.system.escrow.expire(job);
    await expect(fx.system.escrow.expire(job))
      .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowJobNotOpen")
      .withArgs(job.id, JobStatus.Refunded);
  });

  describe("k = 3", () => {
    it("in the commit phase: refunds and slashes only the nodes that did not commit", async () => {
      const fx = await loadSystem();
      const job = await requestJob(fx, { redundancy: 3 });
      const [a, b] = fx.nodes;
      await fx.system.escrow.connect(a!).claimSlot(job);
      await fx.system.escrow.connect(b!).claimSlot(job);
      await fx.system.escrow
        .connect(a!)
        .commit(job, resultCommitment(job.id, a!.address, "0x01", hexlify(randomBytes(32))));
      await time.increaseTo(job.deadline);
      const tx = fx.system.escrow.expire(job);
      await expect(tx)
        .to.emit(fx.system.escrow, "JobRefunded")
        .withArgs(job.id, fx.requester.address, jobTotal(job), RefundReason.Expired);
      await expect(tx)
        .to.emit(fx.system.escrow, "NodeSlashed")
        .withArgs(job.id, b!.address, COLLATERAL, COLLATERAL / 2n);
      expect((await fx.system.staking.operatorOf(a!.address)).staked).to.equal(STAKE);
      expect(await fx.system.escrow.lockedStake(a!.address)).to.equal(0n);
      expect(await fx.system.escrow.lockedStake(b!.address)).to.equal(0n);
    });

    it("in the reveal phase: waits for the reveal deadline, then settles by majority, pays the revealers and slashes the silent node, its share to the requester", async () => {
      const fx = await loadSystem();
      const job = await requestJob(fx, { redundancy: 3 });
      const salts = fx.nodes.map(() => hexlify(randomBytes(32)));
      for (const [i, node] of fx.nodes.entries()) {
        await fx.system.escrow.connect(node).claimSlot(job);
        await fx.system.escrow.connect(node).commit(job, resultCommitment(job.id, node.address, "0x09", salts[i]!));
      }
      await fx.system.escrow.connect(fx.nodes[0]!).reveal(job, "0x09", salts[0]!, "0x");
      await fx.system.escrow.connect(fx.nodes[1]!).reveal(job, "0x09", salts[1]!, "0x");
      await time.increaseTo(job.deadline);
      await expect(fx.system.escrow.expire(job))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowNotExpired")
        .withArgs(job.id, job.revealDeadline);
      await time.increaseTo(job.revealDeadline);
      const tx = fx.system.escrow.expire(job);
      await expect(tx).to.emit(fx.system.escrow, "JobSettled").withArgs(job.id, keccak256("0x09"), 2, "0x09");
      await expect(tx)
        .to.emit(fx.system.escrow, "NodeSlashed")
        .withArgs(job.id, fx.nodes[2]!.address, COLLATERAL, COLLATERAL / 2n);
      await expect(tx).not.to.emit(fx.system.escrow, "NodeExcused");
      const protocolKept = (job.protocolFee * (MODEL_PRICE + 2n * FEE_PER_NODE)) / (MODEL_PRICE + 3n * FEE_PER_NODE);
      expect(await fx.system.escrow.claimable(fx.requester.address)).to.equal(
        FEE_PER_NODE + job.protocolFee - protocolKept + COLLATERAL / 2n,
      );
      expect(await fx.system.escrow.protocolFees()).to.equal(protocolKept + COLLATERAL / 2n);
      expect(await fx.system.escrow.claimable(fx.owner.address)).to.equal(MODEL_PRICE);
      for (const node of fx.nodes.slice(0, 2))
        expect(await fx.system.escrow.claimable(node.address)).to.equal(FEE_PER_NODE);
      expect(await fx.system.escrow.claimable(fx.nodes[2]!.address)).to.equal(0n);
      expect((await fx.system.staking.operatorOf(fx.nodes[2]!.address)).staked).to.equal(STAKE - COLLATERAL);
      for (const node of fx.nodes) expect(await fx.system.escrow.lockedStake(node.address)).to.equal(0n);
    });

    it("in the reveal phase without a majority: refunds, slashing the node that did not reveal", async () => {
      const fx = await loadSystem();
      const job = await requestJob(fx, { redundancy: 3 });
      const salts = fx.nodes.map(() => hexlify(randomBytes(32)));
      const outputs = ["0x01", "0x02", "0x03"];
      for (const [i, node] of fx.nodes.entries()) {
        await fx.system.escrow.connect(node).claimSlot(job);
        await fx.system.escrow
          .connect(node)
          .commit(job, resultCommitment(job.id, node.address, outputs[i]!, salts[i]!));
      }
      await fx.system.escrow.connect(fx.nodes[0]!).reveal(job, outputs[0]!, salts[0]!, "0x");
      await fx.system.escrow.connect(fx.nodes[1]!).reveal(job, outputs[1]!, salts[1]!, "0x");
      await time.increaseTo(job.revealDeadline);
      const tx = fx.system.escrow.expire(job);
      await expect(tx)
        .to.emit(fx.system.escrow, "JobRefunded")
        .withArgs(job.id, fx.requester.address, jobTotal(job), RefundReason.NoMajority);
      await expect(tx)
        .to.emit(fx.system.escrow, "NodeSlashed")
        .withArgs(job.id, fx.nodes[2]!.address, COLLATERAL, COLLATERAL / 2n);
    });
  });
});
