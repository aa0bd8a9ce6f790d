import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { hexlify, keccak256, randomBytes, Wallet, type HDNodeWallet } from "ethers";
import {
  COLLATERAL,
  FEE_PER_NODE,
  MODEL_PRICE,
  STAKE,
  governor,
  loadSystem,
  registerByQuote,
  requestJob,
  teeProof,
  type Fixture,
} from "../fixtures/system";
import { jobTotal, resultCommitment, type Job } from "../../src/core/job";
import { Mode } from "../../src/core/modes";
import { RefundReason } from "../../src/core/job";

/** A k = 1 TEE job claimed by node 0, whose enclave is the fixture's. */
async function claimedTeeJob(fx: Fixture): Promise<Job> {
  const job = await requestJob(fx, { mode: Mode.Tee });
  await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
  return job;
}

/** Expires `job` at its deadline and checks the node was excused: full refund, no slash, stake whole and unlocked. */
async function expectExcused(fx: Fixture, job: Job): Promise<void> {
  const { escrow, staking } = fx.system;
  const node = fx.nodes[0]!;
  await time.increaseTo(job.deadline);
  const tx = escrow.connect(fx.other).expire(job);
  await expect(tx)
    .to.emit(escrow, "JobRefunded")
    .withArgs(job.id, fx.requester.address, jobTotal(job), RefundReason.Expired);
  await expect(tx).to.emit(escrow, "NodeExcused").withArgs(job.id, node.address);
  await expect(tx).not.to.emit(escrow, "NodeSlashed");
  await expect(tx).not.to.emit(staking, "Slashed");
  expect(await escrow.claimable(fx.requester.address)).to.equal(jobTotal(job));
  expect(await escrow.protocolFees()).to.equal(0n);
  expect(await escrow.lockedStake(node.address)).to.equal(0n);
  expect((await staking.operatorOf(node.address)).staked).to.equal(STAKE);
  expect(await staking.availableStake(node.address)).to.equal(STAKE);
}

/** Expires `job` at its deadline and checks node 0 was slashed as any node that did not deliver. */
async function expectSlashed(fx: Fixture, job: Job): Promise<void> {
  const { escrow, staking } = fx.system;
  const node = fx.nodes[0]!;
  await time.increaseTo(job.deadline);
  const tx = escrow.expire(job);
  await expect(tx)
    .to.emit(escrow, "NodeSlashed")
    .withArgs(job.id, node.address, COLLATERAL, COLLATERAL / 2n);
  await expect(tx).not.to.emit(escrow, "NodeExcused");
  expect(await escrow.claimable(fx.requester.address)).to.equal(jobTotal(job) + COLLATERAL / 2n);
  expect((await staking.operatorOf(node.address)).staked).to.equal(STAKE - COLLATERAL);
}

// Once the attestor could also re-register a node's key to another operator; it has been removed (issue #12), and
// governance (the timelock) can only revoke. These tests hold the same property against governance and other operators.
describe("attack: governance or another operator slashing nodes by disrupting their enclaves (issue #10 §3)", () => {
  it("a revocation after the claim excuses the node at expire: full refund, no slash, NodeExcused, stake released", async () => {
    const fx = await loadSystem();
    const job = await claimedTeeJob(fx);
    await fx.system.teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
    await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", await teeProof(fx, job, "0x01")))
      .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierEnclaveRevoked")
      .withArgs(fx.enclave.address);
    await expectExcused(fx, job);
  });

  it("another operator cannot take the node's enclave key after the claim (TeeVerifierOperatorMismatch): the node still delivers", async () => {
    const fx = await loadSystem();
    const job = await claimedTeeJob(fx);
    await expect(registerByQuote(fx.system, fx.nodes[1]!, fx.enclave))
      .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierOperatorMismatch")
      .withArgs(fx.enclave.address, fx.nodes[0]!.address, fx.nodes[1]!.address);
    await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", await teeProof(fx, job, "0x01"))).to.emit(
      fx.system.escrow,
      "JobSettled",
    );
    expect(await fx.system.teeVerifier.disruptedAt(fx.nodes[0]!.address)).to.equal(0n);
  });

  it("a revocation before the claim does not excuse: the node claimed knowing it, and is slashed at expire", async () => {
    const fx = await loadSystem();
    await fx.system.teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
    const job = await claimedTeeJob(fx);
    await expectSlashed(fx, job);
  });

  it("an enclave that merely expires does not excuse: its expiry was known at the claim, and the node is slashed at expire", async () => {
    const fx = await loadSystem();
    const { expiresAt } = await fx.system.teeVerifier.enclaveOf(fx.enclave.address);
    await time.increaseTo(expiresAt - 60n);
    const job = await claimedTeeJob(fx);
    await time.increaseTo(expiresAt);
    await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", await teeProof(fx, job, "0x01")))
      .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierEnclaveExpired")
      .withArgs(fx.enclave.address, expiresAt);
    await expectSlashed(fx, job);
  });

  it("k = 3: a node whose enclave is revoked between commit and reveal is excused at the reveal deadline; the other two settle the job", async () => {
    const fx = await loadSystem();
    const { escrow, teeVerifier, staking } = fx.system;
    const enclaves: HDNodeWallet[] = [fx.enclave, Wallet.createRandom(), Wallet.createRandom()];
    for (const i of [1, 2]) await registerByQuote(fx.system, fx.nodes[i]!, enclaves[i]!);
    const job = await requestJob(fx, { mode: Mode.Tee, redundancy: 3 });
    const salts = fx.nodes.map(() => hexlify(randomBytes(32)));
    for (const [i, node] of fx.nodes.entries()) {
      await escrow.connect(node).claimSlot(job);
      await escrow.connect(node).commit(job, resultCommitment(job.id, node.address, "0x07", salts[i]!));
    }
    const victim = fx.nodes[2]!;
    await teeVerifier.connect(await governor(fx)).revokeEnclave(enclaves[2]!.address);
    for (const i of [0, 1]) {
      const node = fx.nodes[i]!;
      await escrow
        .connect(node)
        .reveal(job, "0x07", salts[i]!, await teeProof(fx, job, "0x07", { signer: enclaves[i]!, node: node.address }));
    }
    await time.increaseTo(job.revealDeadline);
    const tx = escrow.expire(job);
    await expect(tx).to.emit(escrow, "JobSettled").withArgs(job.id, keccak256("0x07"), 2, "0x07");
    await expect(tx).to.emit(escrow, "NodeExcused").withArgs(job.id, victim.address);
    await expect(tx).not.to.emit(escrow, "NodeSlashed");
    const kept = (job.protocolFee * (MODEL_PRICE + 2n * FEE_PER_NODE)) / (MODEL_PRICE + 3n * FEE_PER_NODE);
    expect(await escrow.claimable(fx.requester.address)).to.equal(FEE_PER_NODE + job.protocolFee - kept);
    expect(await escrow.claimable(victim.address)).to.equal(0n);
    expect(await escrow.lockedStake(victim.address)).to.equal(0n);
    expect((await staking.operatorOf(victim.address)).staked).to.equal(STAKE);
  });

  it("k = 3 in the commit phase: a node whose enclave is revoked before it commits is excused; the one that never committed is slashed", async () => {
    const fx = await loadSystem();
    const { escrow, teeVerifier } = fx.system;
    const victimEnclave = Wallet.createRandom();
    await registerByQuote(fx.system, fx.nodes[1]!, victimEnclave);
    const job = await requestJob(fx, { mode: Mode.Tee, redundancy: 3 });
    for (const node of fx.nodes) await escrow.connect(node).claimSlot(job);
    await escrow
      .connect(fx.nodes[0]!)
      .commit(job, resultCommitment(job.id, fx.nodes[0]!.address, "0x07", hexlify(randomBytes(32))));
    await teeVerifier.connect(await governor(fx)).revokeEnclave(victimEnclave.address);
    await time.increaseTo(job.deadline);
    const tx = escrow.expire(job);
    await expect(tx)
      .to.emit(escrow, "JobRefunded")
      .withArgs(job.id, fx.requester.address, jobTotal(job), RefundReason.Expired);
    await expect(tx).to.emit(escrow, "NodeExcused").withArgs(job.id, fx.nodes[1]!.address);
    await expect(tx)
      .to.emit(escrow, "NodeSlashed")
      .withArgs(job.id, fx.nodes[2]!.address, COLLATERAL, COLLATERAL / 2n);
    expect(await escrow.claimable(fx.requester.address)).to.equal(jobTotal(job) + COLLATERAL / 2n);
  });
});
