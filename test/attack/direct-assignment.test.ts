import { expect } from "chai";
import hre from "hardhat";
import { mine, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { loadSystem, requestParams, STAKE, teeProof, type Fixture } from "../fixtures/system";
import type { IJobEscrow } from "../../typechain-types/contracts/escrow/JobEscrow";
import { JobStatus, jobTotal, requestedJobs, type Job } from "../../src/core/job";
import { Mode } from "../../src/core/modes";

const OUTPUT = "0x2a";

/** A k = 1 job only `node` may serve (`requestFor`). */
async function assignJob(
  fx: Fixture,
  node: HardhatEthersSigner,
  overrides: Partial<IJobEscrow.RequestParamsStruct> = {},
): Promise<Job> {
  const tx = await fx.system.escrow.connect(fx.requester).requestFor(await requestParams(overrides), node.address);
  const [requested] = requestedJobs(fx.system.escrow, await tx.wait());
  if (requested === undefined) throw new Error("no JobRequested event");
  return requested.job;
}

/**
 * The assignee's `submit` and a copier's identical call with a higher tip, mined in one block with the copier's
 * first, as a front-runner watching the mempool would have them. The copier's is also sent first: the higher tip
 * orders it first on a network that prices gas, and arrival does where every fee is zero (the coverage network).
 * Returns both receipts.
 */
async function race(fx: Fixture, job: Job, assignee: HardhatEthersSigner, copier: HardhatEthersSigner, proof: string) {
  const { escrow } = fx.system;
  await hre.network.provider.send("evm_setAutomine", [false]);
  try {
    const fees = await hre.ethers.provider.getFeeData();
    const tip = fees.maxPriorityFeePerGas ?? 0n;
    const cap = fees.maxFeePerGas ?? 0n;
    const copy = await escrow.connect(copier).submit(job, OUTPUT, proof, {
      gasLimit: 1_000_000,
      maxPriorityFeePerGas: tip * 10n + 1n,
      maxFeePerGas: cap * 10n + 1n,
    });
    const honest = await escrow
      .connect(assignee)
      .submit(job, OUTPUT, proof, { gasLimit: 1_000_000, maxPriorityFeePerGas: tip, maxFeePerGas: cap });
    await mine();
    const provider = hre.ethers.provider;
    const [h, c] = await Promise.all([
      provider.getTransactionReceipt(honest.hash),
      provider.getTransactionReceipt(copy.hash),
    ]);
    return { honest: h!, copy: c! };
  } finally {
    await hre.network.provider.send("evm_setAutomine", [true]);
  }
}

describe("attack: assigned jobs (requestFor)", () => {
  describe("front-running", () => {
    for (const mode of [Mode.Vanilla, Mode.Tee]) {
      it(`a copier that mines the assignee's ${mode === Mode.Vanilla ? "vanilla output" : "TEE result"} first gets nothing`, async () => {
        const fx = await loadSystem();
        const { escrow } = fx.system;
        const [assignee, copier] = [fx.nodes[0]!, fx.nodes[1]!];
        const job = await assignJob(fx, assignee, { mode });
        const proof = mode === Mode.Tee ? await teeProof(fx, job, OUTPUT) : "0x";
        const { honest, copy } = await race(fx, job, assignee, copier, proof);
        expect(copy.blockNumber).to.equal(honest.blockNumber);
        expect(copy.index).to.be.lessThan(honest.index);
        expect(copy.status).to.equal(0);
        expect(honest.status).to.equal(1);
        expect(await escrow.claimable(copier.address)).to.equal(0n);
        expect(await escrow.claimable(assignee.address)).to.equal(job.feePerNode);
      });
    }

    it("the copier's call alone reverts with JobEscrowNotAssigned before its proof is looked at", async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      const job = await assignJob(fx, fx.nodes[0]!, { mode: Mode.Tee });
      await expect(escrow.connect(fx.nodes[1]!).submit(job, OUTPUT, await teeProof(fx, job, OUTPUT)))
        .to.be.revertedWithCustomError(escrow, "JobEscrowNotAssigned")
        .withArgs(job.id, fx.nodes[1]!.address);
    });

    it("no one can take the job by claiming its slot first", async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      const job = await assignJob(fx, fx.nodes[0]!);
      await expect(escrow.connect(fx.nodes[1]!).claimSlot(job))
        .to.be.revertedWithCustomError(escrow, "JobEscrowJobAssigned")
        .withArgs(job.id, fx.nodes[0]!.address);
      await expect(escrow.connect(fx.nodes[0]!).submit(job, OUTPUT, "0x")).to.emit(escrow, "JobSettled");
    });
  });

  describe("a requester against a node that never agreed", () => {
    it("cannot lock its stake, however many and however large the jobs it names it for", async () => {
      const fx = await loadSystem();
      const { escrow, staking } = fx.system;
      const victim = fx.nodes[2]!;
      const fee = (await requestParams()).feePerNode as bigint;
      const ratio = (await escrow.parameters()).maxCollateralRatio;
      for (let i = 0; i < 5; i++) await assignJob(fx, victim, { collateral: fee * ratio });
      expect(await escrow.lockedStake(victim.address)).to.equal(0n);
      expect(await staking.availableStake(victim.address)).to.equal(STAKE);
      expect(await staking.isEligible(victim.address, Mode.Vanilla, STAKE)).to.equal(true);
    });

    it("cannot have it slashed, nor profit, when it does not serve: the refund is exactly what was paid", async () => {
      const fx = await loadSystem();
      const { escrow, staking, token } = fx.system;
      const victim = fx.nodes[2]!;
      const before = await token.balanceOf(fx.requester.address);
      const jobs = [await assignJob(fx, victim), await assignJob(fx, victim, { mode: Mode.Tee })];
      await time.increaseTo(jobs[1]!.deadline);
      for (const job of jobs) {
        const tx = escrow.connect(fx.requester).expire(job);
        await expect(tx).not.to.emit(escrow, "NodeSlashed");
        await expect(tx).not.to.emit(staking, "Slashed");
      }
      expect((await staking.operatorOf(victim.address)).staked).to.equal(STAKE);
      expect(await escrow.claimable(fx.requester.address)).to.equal(jobTotal(jobs[0]!) + jobTotal(jobs[1]!));
      await escrow.connect(fx.requester).claim(fx.requester.address);
      expect(await token.balanceOf(fx.requester.address)).to.equal(before);
    });

    it("cannot take over the job it assigned, even as a staked node itself", async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      const requester = fx.nodes[1]!;
      const tx = await escrow.connect(requester).requestFor(await requestParams(), fx.nodes[2]!.address);
      const job = requestedJobs(escrow, await tx.wait())[0]!.job;
      await expect(escrow.connect(requester).claimSlot(job))
        .to.be.revertedWithCustomError(escrow, "JobEscrowJobAssigned")
        .withArgs(job.id, fx.nodes[2]!.address);
      await expect(escrow.connect(requester).submit(job, OUTPUT, "0x"))
        .to.be.revertedWithCustomError(escrow, "JobEscrowNotAssigned")
        .withArgs(job.id, requester.address);
    });
  });

  describe("replay", () => {
    it("a settled assigned job takes no second submit, claim or expiry", async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      const node = fx.nodes[0]!;
      const job = await assignJob(fx, node);
      await escrow.connect(node).submit(job, OUTPUT, "0x");
      await time.increaseTo(job.deadline);
      const calls = [
        () => escrow.connect(node).submit(job, OUTPUT, "0x"),
        () => escrow.connect(node).claimSlot(job),
        () => escrow.connect(fx.requester).expire(job),
      ];
      for (const call of calls) {
        await expect(call())
          .to.be.revertedWithCustomError(escrow, "JobEscrowJobNotOpen")
          .withArgs(job.id, JobStatus.Settled);
      }
      expect(await escrow.claimable(node.address)).to.equal(job.feePerNode);
    });

    it("a TEE signature accepted for one assigned job is refused on another assigned to the same node", async () => {
      const fx = await loadSystem();
      const { escrow, teeVerifier } = fx.system;
      const node = fx.nodes[0]!;
      const first = await assignJob(fx, node, { mode: Mode.Tee });
      const second = await assignJob(fx, node, { mode: Mode.Tee });
      const proof = await teeProof(fx, first, OUTPUT);
      await escrow.connect(node).submit(first, OUTPUT, proof);
      await expect(escrow.connect(node).submit(second, OUTPUT, proof)).to.be.revertedWithCustomError(
        teeVerifier,
        "TeeVerifierUnknownEnclave",
      );
      expect((await escrow.stateOf(second.id)).status).to.equal(BigInt(JobStatus.Open));
    });

    it("an assigned job's terms under another job's id do not match its hash", async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      const node = fx.nodes[0]!;
      const first = await assignJob(fx, node);
      const second = await assignJob(fx, node);
      await expect(
        escrow.connect(node).submit({ ...first, id: second.id }, OUTPUT, "0x"),
      ).to.be.revertedWithCustomError(escrow, "JobEscrowJobMismatch");
    });
  });
});
