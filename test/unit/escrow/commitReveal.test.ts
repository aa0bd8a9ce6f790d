import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { hexlify, keccak256, randomBytes } from "ethers";
import {
  FEE_PER_NODE,
  governance,
  loadSystem,
  MODEL_PRICE,
  requestJob,
  STAKE,
  type Fixture,
} from "../../fixtures/system";
import { DEFAULT_ESCROW_PARAMETERS } from "../../../deploy/system";
import { jobTotal, resultCommitment, type Job } from "../../../src/core/job";
import { JobStatus, SlotPhase } from "../../../src/core/job";
import { Mode } from "../../../src/core/modes";

const SALTS = [hexlify(randomBytes(32)), hexlify(randomBytes(32)), hexlify(randomBytes(32))];

async function claimedK3(fx: Fixture, overrides = {}): Promise<Job> {
  const job = await requestJob(fx, { redundancy: 3, ...overrides });
  for (const node of fx.nodes) await fx.system.escrow.connect(node).claimSlot(job);
  return job;
}

async function commitAll(fx: Fixture, job: Job, outputs: string[]): Promise<void> {
  for (const [i, node] of fx.nodes.entries()) {
    await fx.system.escrow.connect(node).commit(job, resultCommitment(job.id, node.address, outputs[i]!, SALTS[i]!));
  }
}

describe("JobEscrow commit-reveal (k > 1)", () => {
  it("settles when all agree: every node paid, nothing slashed", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const job = await claimedK3(fx);
    const output = "0x07";
    await commitAll(fx, job, [output, output, output]);
    await expect(escrow.connect(fx.nodes[0]!).reveal(job, output, SALTS[0]!, "0x"))
      .to.emit(escrow, "ResultRevealed")
      .withArgs(job.id, fx.nodes[0]!.address, keccak256(output));
    const [slot, digest] = await escrow.slotOf(job.id, 0);
    expect([slot.node, slot.phase, digest]).to.deep.equal([
      fx.nodes[0]!.address,
      BigInt(SlotPhase.Revealed),
      "0x0700000000000000000000000000000000000000000000000000000000000001",
    ]);
    await escrow.connect(fx.nodes[1]!).reveal(job, output, SALTS[1]!, "0x");
    await expect(escrow.connect(fx.nodes[2]!).reveal(job, output, SALTS[2]!, "0x"))
      .to.emit(escrow, "JobSettled")
      .withArgs(job.id, keccak256(output), 3, output);
    expect((await escrow.stateOf(job.id)).revealed).to.equal(3n);
    for (const node of fx.nodes) {
      expect(await escrow.claimable(node.address)).to.equal(FEE_PER_NODE);
      expect(await escrow.lockedStake(node.address)).to.equal(0n);
    }
    expect(await escrow.claimable(fx.owner.address)).to.equal(MODEL_PRICE);
    expect(await escrow.claimable(fx.requester.address)).to.equal(0n);
    expect(await escrow.resultOf(job.id)).to.deep.equal([keccak256(output), output]);
  });

  it("settles 2-1 by majority: the dissenter is released unpaid and NOT slashed; its fee and the protocol fee on it go back to the requester", async () => {
    const fx = await loadSystem();
    const { escrow, staking } = fx.system;
    const job = await claimedK3(fx);
    const [good, bad] = [hexlify(randomBytes(40)), hexlify(randomBytes(40))];
    await commitAll(fx, job, [bad, good, good]);
    await escrow.connect(fx.nodes[0]!).reveal(job, bad, SALTS[0]!, "0x");
    await escrow.connect(fx.nodes[1]!).reveal(job, good, SALTS[1]!, "0x");
    const last = escrow.connect(fx.nodes[2]!).reveal(job, good, SALTS[2]!, "0x");
    await expect(last).to.emit(escrow, "JobSettled").withArgs(job.id, keccak256(good), 2, good);
    await expect(last).not.to.emit(escrow, "NodeSlashed");
    await expect(last).not.to.emit(escrow, "NodeExcused");
    const protocolKept = (job.protocolFee * (MODEL_PRICE + 2n * FEE_PER_NODE)) / (MODEL_PRICE + 3n * FEE_PER_NODE);
    expect(await escrow.claimable(fx.nodes[0]!.address)).to.equal(0n);
    expect(await escrow.claimable(fx.nodes[1]!.address)).to.equal(FEE_PER_NODE);
    expect(await escrow.claimable(fx.nodes[2]!.address)).to.equal(FEE_PER_NODE);
    expect(await escrow.claimable(fx.requester.address)).to.equal(FEE_PER_NODE + job.protocolFee - protocolKept);
    expect(await escrow.protocolFees()).to.equal(protocolKept);
    expect((await staking.operatorOf(fx.nodes[0]!.address)).staked).to.equal(STAKE);
    expect(await escrow.lockedStake(fx.nodes[0]!.address)).to.equal(0n);
    expect(await escrow.resultOf(job.id)).to.deep.equal([keccak256(good), good]);
  });

  it("refunds the protocol fee on an unpaid node fee to the wei, rounding the protocol's share down (issue #10 §1, odd amounts)", async () => {
    const fx = await loadSystem();
    const { escrow, token } = fx.system;
    const price = 3n * 10n ** 18n + 7n;
    const fee = 10n ** 18n + 1n;
    await fx.system.registry.connect(fx.owner).setPrice(1n, price);
    const job = await claimedK3(fx, { feePerNode: fee });
    const base = price + 3n * fee;
    const protocolFee = (base * 500n) / 10_000n;
    expect(job.protocolFee).to.equal(protocolFee);
    // The protocol keeps its fee on the model price and the two paid node fees only, rounded down: a real rounding.
    const paidBase = price + 2n * fee;
    expect((protocolFee * paidBase) % base).to.not.equal(0n);
    const kept = (protocolFee * paidBase) / base;
    await commitAll(fx, job, ["0x01", "0x02", "0x02"]);
    for (const [i, output] of ["0x01", "0x02", "0x02"].entries())
      await escrow.connect(fx.nodes[i]!).reveal(job, output, SALTS[i]!, "0x");
    expect(await escrow.protocolFees()).to.equal(kept);
    expect(await escrow.claimable(fx.requester.address)).to.equal(fee + protocolFee - kept);
    expect(await escrow.claimable(fx.owner.address)).to.equal(price);
    const paid = await Promise.all(fx.nodes.map((n) => escrow.claimable(n.address)));
    expect(paid).to.deep.equal([0n, fee, fee]);
    // Every escrowed wei is credited to someone, none twice.
    const credited = kept + (fee + protocolFee - kept) + price + 2n * fee;
    expect(credited).to.equal(price + 3n * fee + protocolFee);
    expect(await token.balanceOf(await escrow.getAddress())).to.equal(credited);
  });

  it("settles a free k = 3 job (no model price, no node fee, no collateral) 2-1 without dividing by a zero fee base", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    await governance(
      fx,
      escrow,
      escrow.interface.encodeFunctionData("setParameters", [{ ...DEFAULT_ESCROW_PARAMETERS, minCollateral: 0 }]),
    );
    await fx.system.registry.connect(fx.owner).setPrice(1n, 0n);
    const job = await claimedK3(fx, { feePerNode: 0n, collateral: 0n });
    expect(jobTotal(job)).to.equal(0n);
    await commitAll(fx, job, ["0x01", "0x02", "0x02"]);
    for (const [i, output] of ["0x01", "0x02", "0x02"].entries())
      await escrow.connect(fx.nodes[i]!).reveal(job, output, SALTS[i]!, "0x");
    expect((await escrow.stateOf(job.id)).status).to.equal(BigInt(JobStatus.Settled));
    expect(await escrow.resultOf(job.id)).to.deep.equal([keccak256("0x02"), "0x02"]);
    expect(await escrow.protocolFees()).to.equal(0n);
    for (const account of [fx.requester, fx.owner, ...fx.nodes])
      expect(await escrow.claimable(account.address)).to.equal(0n);
  });

  it("refunds in full when all k = 3 reveals differ, slashing nobody who revealed", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const job = await claimedK3(fx);
    const outputs = ["0x01", "0x02", "0x03"];
    await commitAll(fx, job, outputs);
    await escrow.connect(fx.nodes[0]!).reveal(job, outputs[0]!, SALTS[0]!, "0x");
    await escrow.connect(fx.nodes[1]!).reveal(job, outputs[1]!, SALTS[1]!, "0x");
    const total = MODEL_PRICE + 3n * FEE_PER_NODE + job.protocolFee;
    const last = escrow.connect(fx.nodes[2]!).reveal(job, outputs[2]!, SALTS[2]!, "0x");
    await expect(last).to.emit(escrow, "JobRefunded").withArgs(job.id, fx.requester.address, total, 1);
    await expect(last).not.to.emit(escrow, "NodeSlashed");
    expect(await escrow.claimable(fx.requester.address)).to.equal(total);
    expect((await escrow.stateOf(job.id)).status).to.equal(BigInt(JobStatus.Refunded));
    for (const node of fx.nodes) expect(await escrow.lockedStake(node.address)).to.equal(0n);
  });

  it("records commitments and reveals per slot", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const job = await claimedK3(fx);
    const commitment = resultCommitment(job.id, fx.nodes[0]!.address, "0x07", SALTS[0]!);
    await expect(escrow.connect(fx.nodes[0]!).commit(job, commitment))
      .to.emit(escrow, "ResultCommitted")
      .withArgs(job.id, fx.nodes[0]!.address, commitment);
    const [slot, digest] = await escrow.slotOf(job.id, 0);
    expect([slot.phase, digest]).to.deep.equal([BigInt(SlotPhase.Committed), commitment]);
    expect((await escrow.stateOf(job.id)).committed).to.equal(1n);
  });

  describe("reverts", () => {
    it("commit with JobEscrowWrongRedundancy on a k = 1 job", async () => {
      const fx = await loadSystem();
      const job = await requestJob(fx);
      await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
      await expect(fx.system.escrow.connect(fx.nodes[0]!).commit(job, SALTS[0]!))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowWrongRedundancy")
        .withArgs(job.id, 1);
      await expect(fx.system.escrow.connect(fx.nodes[0]!).reveal(job, "0x01", SALTS[0]!, "0x"))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowWrongRedundancy")
        .withArgs(job.id, 1);
    });

    it("commit with JobEscrowNotAssigned without a slot and JobEscrowWrongPhase on a second commit", async () => {
      const fx = await loadSystem();
      const job = await claimedK3(fx);
      await expect(fx.system.escrow.connect(fx.other).commit(job, SALTS[0]!))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowNotAssigned")
        .withArgs(job.id, fx.other.address);
      await fx.system.escrow.connect(fx.nodes[0]!).commit(job, SALTS[0]!);
      await expect(fx.system.escrow.connect(fx.nodes[0]!).commit(job, SALTS[1]!))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowWrongPhase")
        .withArgs(job.id, fx.nodes[0]!.address, SlotPhase.Committed);
    });

    it("commit with JobEscrowDeadlinePassed at the deadline", async () => {
      const fx = await loadSystem();
      const job = await claimedK3(fx);
      await time.setNextBlockTimestamp(job.deadline);
      await expect(fx.system.escrow.connect(fx.nodes[0]!).commit(job, SALTS[0]!))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowDeadlinePassed")
        .withArgs(job.id, job.deadline);
    });

    it("reveal with JobEscrowRevealNotOpen until every slot has committed", async () => {
      const fx = await loadSystem();
      const job = await claimedK3(fx);
      await fx.system.escrow
        .connect(fx.nodes[0]!)
        .commit(job, resultCommitment(job.id, fx.nodes[0]!.address, "0x01", SALTS[0]!));
      await expect(fx.system.escrow.connect(fx.nodes[0]!).reveal(job, "0x01", SALTS[0]!, "0x"))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowRevealNotOpen")
        .withArgs(job.id, 1, 3);
    });

    it("reveal with JobEscrowCommitmentMismatch for another output, salt, or another node's commitment", async () => {
      const fx = await loadSystem();
      const job = await claimedK3(fx);
      await commitAll(fx, job, ["0x01", "0x01", "0x01"]);
      const [a, b] = fx.nodes;
      await expect(fx.system.escrow.connect(a!).reveal(job, "0x02", SALTS[0]!, "0x"))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowCommitmentMismatch")
        .withArgs(job.id, a!.address);
      await expect(fx.system.escrow.connect(a!).reveal(job, "0x01", SALTS[1]!, "0x"))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowCommitmentMismatch")
        .withArgs(job.id, a!.address);
      // b replays a's revealed output and salt: the commitment names the node, so it does not match b's.
      await fx.system.escrow.connect(a!).reveal(job, "0x01", SALTS[0]!, "0x");
      await expect(fx.system.escrow.connect(b!).reveal(job, "0x01", SALTS[0]!, "0x"))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowCommitmentMismatch")
        .withArgs(job.id, b!.address);
      await expect(fx.system.escrow.connect(a!).reveal(job, "0x01", SALTS[0]!, "0x"))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowWrongPhase")
        .withArgs(job.id, a!.address, SlotPhase.Revealed);
    });

    it("reveal with JobEscrowDeadlinePassed after the reveal deadline", async () => {
      const fx = await loadSystem();
      const job = await claimedK3(fx);
      await commitAll(fx, job, ["0x01", "0x01", "0x01"]);
      await time.setNextBlockTimestamp(job.revealDeadline);
      await expect(fx.system.escrow.connect(fx.nodes[0]!).reveal(job, "0x01", SALTS[0]!, "0x"))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowDeadlinePassed")
        .withArgs(job.id, job.revealDeadline);
    });

    it("reveal with the verifier's error for a TEE job whose reveal carries a bad signature", async () => {
      const fx = await loadSystem();
      const job = await claimedK3(fx, { mode: Mode.Tee });
      await commitAll(fx, job, ["0x01", "0x01", "0x01"]);
      await expect(
        fx.system.escrow.connect(fx.nodes[0]!).reveal(job, "0x01", SALTS[0]!, "0x"),
      ).to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierInvalidSignature");
    });
  });
});
