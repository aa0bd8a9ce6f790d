import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { ZeroAddress, keccak256, type Signer } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  COLLATERAL,
  FEE_PER_NODE,
  loadSystem,
  MODEL_PRICE,
  requestJob,
  requestParams,
  STAKE,
  teeProof,
  TOKEN,
  type Fixture,
} from "../../fixtures/system";
import type { IJobEscrow } from "../../../typechain-types/contracts/escrow/JobEscrow";
import { JobStatus, RefundReason, jobTotal, requestedJobs, type Job } from "../../../src/core/job";
import { Mode, modeMask } from "../../../src/core/modes";

/** Requests a k = 1 job that only `node` may serve (`requestFor`) and returns its terms. */
async function assignJob(
  fx: Fixture,
  node: HardhatEthersSigner,
  overrides: Partial<IJobEscrow.RequestParamsStruct> = {},
  requester: Signer = fx.requester,
): Promise<Job> {
  const tx = await fx.system.escrow.connect(requester).requestFor(await requestParams(overrides), node.address);
  const [requested] = requestedJobs(fx.system.escrow, await tx.wait());
  if (requested === undefined) throw new Error("no JobRequested event");
  return requested.job;
}

describe("JobEscrow.requestFor", () => {
  it("records the assignee without locking its stake, and announces it after JobRequested", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const node = fx.nodes[0]!;
    const id = (await escrow.jobCount()) + 1n;
    const tx = escrow.connect(fx.requester).requestFor(await requestParams(), node.address);
    await expect(tx).to.emit(escrow, "JobRequested");
    await expect(tx).to.emit(escrow, "JobAssigned").withArgs(id, node.address);
    const state = await escrow.stateOf(id);
    expect(state.status).to.equal(BigInt(JobStatus.Open));
    expect(state.assignee).to.equal(node.address);
    expect(state.filled).to.equal(0n);
    expect(await escrow.lockedStake(node.address)).to.equal(0n);
    expect(await fx.system.staking.availableStake(node.address)).to.equal(STAKE);
  });

  it("escrows exactly the job's total, as request does", async () => {
    const fx = await loadSystem();
    const { escrow, token } = fx.system;
    const before = await token.balanceOf(fx.requester.address);
    const job = await assignJob(fx, fx.nodes[0]!);
    expect(before - (await token.balanceOf(fx.requester.address))).to.equal(jobTotal(job));
    expect(await token.balanceOf(await escrow.getAddress())).to.equal(jobTotal(job));
  });

  describe("submit by the assignee", () => {
    it("settles a vanilla job without a claim: pays the fee, the model price and the protocol fee, to the wei", async () => {
      const fx = await loadSystem();
      const { escrow, token } = fx.system;
      const node = fx.nodes[1]!;
      const job = await assignJob(fx, node);
      const output = "0x0102";
      await expect(escrow.connect(node).submit(job, output, "0x"))
        .to.emit(escrow, "JobSettled")
        .withArgs(job.id, keccak256(output), 1, output);
      expect(await escrow.claimable(node.address)).to.equal(FEE_PER_NODE);
      expect(await escrow.claimable(fx.owner.address)).to.equal(MODEL_PRICE);
      expect(await escrow.protocolFees()).to.equal(job.protocolFee);
      expect(await escrow.claimable(fx.requester.address)).to.equal(0n);
      expect(FEE_PER_NODE + MODEL_PRICE + job.protocolFee).to.equal(jobTotal(job));
      expect(await escrow.lockedStake(node.address)).to.equal(0n);
      expect((await escrow.stateOf(job.id)).status).to.equal(BigInt(JobStatus.Settled));
      expect(await escrow.resultOf(job.id)).to.deep.equal([keccak256(output), output]);
      // Everyone withdraws: the escrow holds nothing more and nothing less than it owed.
      await escrow.connect(node).claim(node.address);
      await escrow.connect(fx.owner).claim(fx.owner.address);
      await escrow.claimProtocolFees();
      expect(await token.balanceOf(await escrow.getAddress())).to.equal(0n);
    });

    it("settles a TEE job with its enclave's signature", async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      const node = fx.nodes[0]!;
      const job = await assignJob(fx, node, { mode: Mode.Tee });
      const output = "0x2a";
      await expect(escrow.connect(node).submit(job, output, await teeProof(fx, job, output)))
        .to.emit(escrow, "JobSettled")
        .withArgs(job.id, keccak256(output), 1, output);
      expect(await escrow.claimable(node.address)).to.equal(FEE_PER_NODE);
      expect(await escrow.lockedStake(node.address)).to.equal(0n);
    });

    it("settles assigned jobs in a submitBatch, each paid as one submission", async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      const node = fx.nodes[2]!;
      const jobs = [await assignJob(fx, node), await assignJob(fx, node)];
      await escrow.connect(node).submitBatch(jobs, ["0x01", "0x02"], "0x");
      for (const job of jobs) expect((await escrow.stateOf(job.id)).status).to.equal(BigInt(JobStatus.Settled));
      expect(await escrow.claimable(node.address)).to.equal(2n * FEE_PER_NODE);
      expect(await escrow.lockedStake(node.address)).to.equal(0n);
    });
  });

  describe("expire", () => {
    it("refunds in full a job its assignee never served, slashing no one", async () => {
      const fx = await loadSystem();
      const { escrow, staking } = fx.system;
      const node = fx.nodes[0]!;
      const job = await assignJob(fx, node);
      await time.increaseTo(job.deadline);
      const tx = escrow.connect(fx.other).expire(job);
      await expect(tx)
        .to.emit(escrow, "JobRefunded")
        .withArgs(job.id, fx.requester.address, jobTotal(job), RefundReason.Expired);
      await expect(tx).not.to.emit(escrow, "NodeSlashed");
      await expect(tx).not.to.emit(escrow, "NodeExcused");
      expect(await escrow.claimable(fx.requester.address)).to.equal(jobTotal(job));
      expect(await escrow.protocolFees()).to.equal(0n);
      expect((await staking.operatorOf(node.address)).staked).to.equal(STAKE);
      expect((await escrow.stateOf(job.id)).status).to.equal(BigInt(JobStatus.Refunded));
    });

    it("reverts with JobEscrowNotExpired before the deadline", async () => {
      const fx = await loadSystem();
      const job = await assignJob(fx, fx.nodes[0]!);
      await expect(fx.system.escrow.expire(job))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowNotExpired")
        .withArgs(job.id, job.deadline);
    });
  });

  describe("reverts", () => {
    it("with JobEscrowWrongRedundancy(jobId, k) for k != 1", async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      const id = (await escrow.jobCount()) + 1n;
      for (const redundancy of [3, 5]) {
        await expect(escrow.connect(fx.requester).requestFor(await requestParams({ redundancy }), fx.nodes[0]!))
          .to.be.revertedWithCustomError(escrow, "JobEscrowWrongRedundancy")
          .withArgs(id, redundancy);
      }
    });

    it("with JobEscrowInvalidAssignee for the zero address", async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      await expect(escrow.connect(fx.requester).requestFor(await requestParams(), ZeroAddress))
        .to.be.revertedWithCustomError(escrow, "JobEscrowInvalidAssignee")
        .withArgs(ZeroAddress);
    });

    it("with JobEscrowRequestsPaused while paused", async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      await escrow.connect(fx.deployer).setPaused(true);
      await expect(
        escrow.connect(fx.requester).requestFor(await requestParams(), fx.nodes[0]!),
      ).to.be.revertedWithCustomError(escrow, "JobEscrowRequestsPaused");
    });

    it("submit: with JobEscrowNotAssigned(jobId, caller) for any node but the assignee", async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      const job = await assignJob(fx, fx.nodes[0]!);
      for (const caller of [fx.nodes[1]!, fx.requester, fx.other]) {
        await expect(escrow.connect(caller).submit(job, "0x01", "0x"))
          .to.be.revertedWithCustomError(escrow, "JobEscrowNotAssigned")
          .withArgs(job.id, caller.address);
      }
    });

    it("claimSlot: with JobEscrowJobAssigned(jobId, assignee), for the assignee too", async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      const job = await assignJob(fx, fx.nodes[0]!);
      for (const node of fx.nodes) {
        await expect(escrow.connect(node).claimSlot(job))
          .to.be.revertedWithCustomError(escrow, "JobEscrowJobAssigned")
          .withArgs(job.id, fx.nodes[0]!.address);
      }
    });

    it("submit: with JobEscrowDeadlinePassed at the deadline", async () => {
      const fx = await loadSystem();
      const job = await assignJob(fx, fx.nodes[0]!);
      await time.setNextBlockTimestamp(job.deadline);
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", "0x"))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowDeadlinePassed")
        .withArgs(job.id, job.deadline);
    });

    it("submit: with JobEscrowNodeIneligible for an assignee that never staked or fell below the minimum", async () => {
      const fx = await loadSystem();
      const { escrow, staking } = fx.system;
      const unstaked = await assignJob(fx, fx.other);
      await expect(escrow.connect(fx.other).submit(unstaked, "0x01", "0x"))
        .to.be.revertedWithCustomError(escrow, "JobEscrowNodeIneligible")
        .withArgs(unstaked.id, fx.other.address);
      const node = fx.nodes[1]!;
      const job = await assignJob(fx, node);
      await staking.connect(node).unstake(STAKE - 10n * TOKEN);
      await expect(escrow.connect(node).submit(job, "0x01", "0x"))
        .to.be.revertedWithCustomError(escrow, "JobEscrowNodeIneligible")
        .withArgs(job.id, node.address);
    });

    it("submit: with JobEscrowNodeIneligible for an assignee not registered for the job's mode", async () => {
      const fx = await loadSystem();
      const { escrow, staking } = fx.system;
      const node = fx.nodes[1]!;
      await staking.connect(node).register(modeMask([Mode.Vanilla]));
      const job = await assignJob(fx, node, { mode: Mode.Tee });
      await expect(escrow.connect(node).submit(job, "0x2a", await teeProof(fx, job, "0x2a", { node: node.address })))
        .to.be.revertedWithCustomError(escrow, "JobEscrowNodeIneligible")
        .withArgs(job.id, node.address);
    });

    it("submit: with JobEscrowInsufficientStake(node, available, collateral) when its unlocked stake is short", async () => {
      const fx = await loadSystem();
      const { escrow, staking } = fx.system;
      const node = fx.nodes[1]!;
      const job = await assignJob(fx, node);
      // Keep the minimum stake (100 tokens) and lock all of it in a claimed job: nothing is left unlocked.
      await staking.connect(node).unstake(STAKE - 100n * TOKEN);
      const big = await requestJob(fx, { feePerNode: 5n * TOKEN, collateral: 100n * TOKEN });
      await escrow.connect(node).claimSlot(big);
      await expect(escrow.connect(node).submit(job, "0x01", "0x"))
        .to.be.revertedWithCustomError(escrow, "JobEscrowInsufficientStake")
        .withArgs(node.address, 0n, COLLATERAL);
    });
  });
});
