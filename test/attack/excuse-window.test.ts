import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { hexlify, randomBytes } from "ethers";
import { COLLATERAL, STAKE, loadSystem, requestJob, type Fixture, governor } from "../fixtures/system";
import { resultCommitment, type Job } from "../../src/core/job";
import { Mode } from "../../src/core/modes";

/** A k = 3 TEE job claimed and committed by the fixture's three nodes (node 0 holds the fixture's enclave). */
async function committedTeeJob(fx: Fixture): Promise<Job> {
  const job = await requestJob(fx, { mode: Mode.Tee, redundancy: 3 });
  const salts = fx.nodes.map(() => hexlify(randomBytes(32)));
  for (const n of fx.nodes) await fx.system.escrow.connect(n).claimSlot(job);
  for (const [i, n] of fx.nodes.entries())
    await fx.system.escrow.connect(n).commit(job, resultCommitment(job.id, n.address, "0x07", salts[i]!));
  return job;
}

describe("attack: a node excused by a revocation it asked for after failing (issue #10 §3, review)", () => {
  it("k = 1: a revocation after the deadline, before anyone expires the job, does not excuse: the node is slashed", async () => {
    const fx = await loadSystem();
    const { escrow, teeVerifier } = fx.system;
    const node = fx.nodes[0]!;
    const job = await requestJob(fx, { mode: Mode.Tee });
    await escrow.connect(node).claimSlot(job);
    // The node does not deliver; once the deadline has passed it has governance revoke its key.
    await time.increaseTo(job.deadline + 5n);
    await teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
    const tx = escrow.connect(fx.other).expire(job);
    await expect(tx)
      .to.emit(escrow, "NodeSlashed")
      .withArgs(job.id, node.address, COLLATERAL, COLLATERAL / 2n);
    await expect(tx).not.to.emit(escrow, "NodeExcused");
    expect((await fx.system.staking.operatorOf(node.address)).staked).to.equal(STAKE - COLLATERAL);
  });

  it("k = 3: a node that committed but did not reveal is not excused by a revocation after the reveal deadline", async () => {
    const fx = await loadSystem();
    const { escrow, teeVerifier } = fx.system;
    const job = await committedTeeJob(fx);
    await time.increaseTo(job.revealDeadline + 5n);
    // Only node 0 holds the fixture's enclave; nobody revealed, so all three are silent; node 0's key is revoked late.
    await teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
    const tx = escrow.connect(fx.other).expire(job);
    await expect(tx).not.to.emit(escrow, "NodeExcused");
    for (const n of fx.nodes)
      await expect(tx)
        .to.emit(escrow, "NodeSlashed")
        .withArgs(job.id, n.address, COLLATERAL, COLLATERAL / 2n);
  });

  it("k = 3: a revocation during the reveal window excuses a committed node that then could not reveal", async () => {
    const fx = await loadSystem();
    const { escrow, teeVerifier } = fx.system;
    const job = await committedTeeJob(fx);
    // After the commit deadline, within the reveal window: still before the deadline the node missed (to reveal).
    await time.increaseTo(job.deadline + 1n);
    await teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
    await time.increaseTo(job.revealDeadline + 1n);
    const tx = escrow.connect(fx.other).expire(job);
    await expect(tx).to.emit(escrow, "NodeExcused").withArgs(job.id, fx.nodes[0]!.address);
    for (const n of fx.nodes.slice(1))
      await expect(tx)
        .to.emit(escrow, "NodeSlashed")
        .withArgs(job.id, n.address, COLLATERAL, COLLATERAL / 2n);
  });
});
