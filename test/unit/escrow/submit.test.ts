import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { hexlify, keccak256, randomBytes } from "ethers";
import { COLLATERAL, FEE_PER_NODE, loadSystem, MODEL_PRICE, requestJob, teeProof } from "../../fixtures/system";
import { hashJob } from "../../../src/core/job";
import { JobStatus } from "../../../src/core/job";
import { Mode } from "../../../src/core/modes";

describe("JobEscrow.submit", () => {
  it("settles a vanilla k = 1 job: credits node, model owner and protocol, releases the collateral", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const node = fx.nodes[0]!;
    const job = await requestJob(fx);
    await escrow.connect(node).claimSlot(job);
    const output = "0x0102";
    await expect(escrow.connect(node).submit(job, output, "0x"))
      .to.emit(escrow, "JobSettled")
      .withArgs(job.id, keccak256(output), 1, output);
    expect(await escrow.claimable(node.address)).to.equal(FEE_PER_NODE);
    expect(await escrow.claimable(fx.owner.address)).to.equal(MODEL_PRICE);
    expect(await escrow.protocolFees()).to.equal(job.protocolFee);
    expect(await escrow.lockedStake(node.address)).to.equal(0n);
    expect((await escrow.stateOf(job.id)).status).to.equal(BigInt(JobStatus.Settled));
    expect(await escrow.resultOf(job.id)).to.deep.equal([keccak256(output), output]);
  });

  for (const length of [1, 31, 32, 33, 1024]) {
    it(`stores a ${length}-byte output readable with resultOf`, async () => {
      const fx = await loadSystem();
      const job = await requestJob(fx);
      await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
      const output = hexlify(randomBytes(length));
      await fx.system.escrow.connect(fx.nodes[0]!).submit(job, output, "0x");
      expect(await fx.system.escrow.resultOf(job.id)).to.deep.equal([keccak256(output), output]);
    });
  }

  it("returns an empty result for a job that has not settled", async () => {
    const fx = await loadSystem();
    const job = await requestJob(fx);
    expect(await fx.system.escrow.resultOf(job.id)).to.deep.equal([`0x${"0".repeat(64)}`, "0x"]);
  });

  it("settles a TEE job with a signature from the node's registered enclave", async () => {
    const fx = await loadSystem();
    const job = await requestJob(fx, { mode: Mode.Tee });
    await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
    const output = "0x2a";
    await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, output, await teeProof(fx, job, output))).to.emit(
      fx.system.escrow,
      "JobSettled",
    );
  });

  describe("reverts", () => {
    it("with JobEscrowNotAssigned for a node without the slot, or before anyone claimed it", async () => {
      const fx = await loadSystem();
      const job = await requestJob(fx);
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", "0x"))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowNotAssigned")
        .withArgs(job.id, fx.nodes[0]!.address);
      await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
      await expect(fx.system.escrow.connect(fx.nodes[1]!).submit(job, "0x01", "0x"))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowNotAssigned")
        .withArgs(job.id, fx.nodes[1]!.address);
    });

    it("with JobEscrowWrongRedundancy for a redundant job", async () => {
      const fx = await loadSystem();
      const job = await requestJob(fx, { redundancy: 3 });
      await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", "0x"))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowWrongRedundancy")
        .withArgs(job.id, 3);
    });

    it("with JobEscrowDeadlinePassed at the deadline", async () => {
      const fx = await loadSystem();
      const job = await requestJob(fx);
      await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
      await time.setNextBlockTimestamp(job.deadline);
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", "0x"))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowDeadlinePassed")
        .withArgs(job.id, job.deadline);
    });

    it("with JobEscrowInvalidOutputLength for an empty or oversize output", async () => {
      const fx = await loadSystem();
      const job = await requestJob(fx);
      await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x", "0x"))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowInvalidOutputLength")
        .withArgs(0n, 1024n);
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, new Uint8Array(1025), "0x"))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowInvalidOutputLength")
        .withArgs(1025n, 1024n);
    });

    it("with JobEscrowJobNotOpen on a second submission, and with JobEscrowJobMismatch for tampered terms", async () => {
      const fx = await loadSystem();
      const job = await requestJob(fx);
      await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
      const tampered = { ...job, feePerNode: job.feePerNode + 1n };
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(tampered, "0x01", "0x"))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowJobMismatch")
        .withArgs(job.id, hashJob(job), hashJob(tampered));
      await fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", "0x");
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", "0x"))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowJobNotOpen")
        .withArgs(job.id, 2);
    });

    it("with the verifier's error for a TEE result whose signature does not match", async () => {
      const fx = await loadSystem();
      const job = await requestJob(fx, { mode: Mode.Tee });
      await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
      const proof = await teeProof(fx, job, "0x01");
      // The signature covers another output: it recovers to a different, unknown key.
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x02", proof)).to.be.revertedWithCustomError(
        fx.system.teeVerifier,
        "TeeVerifierUnknownEnclave",
      );
      expect(await fx.system.escrow.lockedStake(fx.nodes[0]!.address)).to.equal(COLLATERAL);
    });
  });
});
