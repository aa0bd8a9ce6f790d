import { expect } from "chai";
import { JobStatus } from "../../src/core/job";
import { encodeZkSlotProof } from "../../src/zkml/batch-solidity";
import { encodeZkOutput } from "../../src/zkml/claim";
import { releaseSnarkjs } from "../../src/zkml/prover";
import { SLOTS, slotFixture, slotJobs, type SlotFixture, type SlotTestJob } from "../zkml/batch-fixtures";

/** Submits `jobs` as one batch with a slot proof of `proven` (default: the same jobs). */
async function submitSlots(s: SlotFixture, jobs: SlotTestJob[], proven: SlotTestJob[] = jobs, packed?: bigint[]) {
  const { solidity } = await s.prover.prove(proven);
  return s.fx.system.escrow.connect(s.fx.nodes[0]!).submitBatch(
    jobs.map((j) => j.job),
    jobs.map((j) => j.output),
    encodeZkSlotProof(SLOTS, packed ?? jobs.map((j) => j.packedOutput), solidity),
  );
}

describe("attack: one N-slot proof settles N ZK jobs (issue #15 §1)", () => {
  after(releaseSnarkjs);

  it("settles 4 jobs with one 4-slot proof, and 3 jobs with the 4th slot padded by job 0", async () => {
    const s = await slotFixture();
    const { escrow } = s.fx.system;
    const four = await slotJobs(s, 4, 1);
    await expect(submitSlots(s, four)).to.emit(escrow, "JobSettled");
    for (const j of four) {
      expect((await escrow.stateOf(j.job.id)).status).to.equal(JobStatus.Settled);
      expect((await escrow.resultOf(j.job.id))[1]).to.equal(j.output);
    }
    const three = await slotJobs(s, 3, 2);
    await submitSlots(s, three);
    for (const j of three) expect((await escrow.stateOf(j.job.id)).status).to.equal(JobStatus.Settled);
  });

  it("a padded slot cannot carry a claim: a proof of 4 jobs does not settle 3 of them, nor a 4th job it did not prove", async () => {
    const s = await slotFixture();
    const { escrow } = s.fx.system;
    const { zkVerifier } = s.fx.system;
    const jobs = await slotJobs(s, 5, 3);
    // Slot 3 of this proof holds job 3's claim, but with 3 jobs listed the verifier puts job 0's claim there.
    await expect(submitSlots(s, jobs.slice(0, 3), jobs.slice(0, 4)))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierInvalidBatch")
      .withArgs(3n);
    // A proof of jobs 0..2 padded with job 0 does not settle job 4 in slot 3.
    await expect(submitSlots(s, [...jobs.slice(0, 3), jobs[4]!], jobs.slice(0, 3)))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierInvalidBatch")
      .withArgs(4n);
    for (const j of jobs) expect((await escrow.stateOf(j.job.id)).status).to.equal(JobStatus.Open);
  });

  it("swapped slots and a wrong output in any slot reject the whole batch", async () => {
    const s = await slotFixture();
    const { escrow, zkVerifier } = s.fx.system;
    const jobs = await slotJobs(s, 4, 4);
    const swapped = [jobs[1]!, jobs[0]!, jobs[2]!, jobs[3]!];
    await expect(submitSlots(s, swapped, jobs))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierInvalidBatch")
      .withArgs(4n);
    for (let k = 0; k < SLOTS; k++) {
      const wrong = (jobs[k]!.packedOutput + 1n) % 3n;
      const lying = jobs.map((j, i) => (i === k ? { ...j, packedOutput: wrong, output: encodeZkOutput(wrong) } : j));
      await expect(submitSlots(s, lying, jobs), `slot ${k}`)
        .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierInvalidBatch")
        .withArgs(4n);
    }
    for (const j of jobs) expect((await escrow.stateOf(j.job.id)).status).to.equal(JobStatus.Open);
  });

  it("a packed output that differs from the output bytes is refused (ZkInferenceVerifierOutputMismatch)", async () => {
    const s = await slotFixture();
    const { zkVerifier } = s.fx.system;
    const jobs = await slotJobs(s, 2, 5);
    const packed = [jobs[0]!.packedOutput, (jobs[1]!.packedOutput + 1n) % 3n];
    await expect(submitSlots(s, jobs, jobs, packed)).to.be.revertedWithCustomError(
      zkVerifier,
      "ZkInferenceVerifierOutputMismatch",
    );
  });

  it("refuses more jobs than slots, a slot count the version has not bound, and a version without slot keys", async () => {
    const s = await slotFixture();
    const { escrow, zkVerifier } = s.fx.system;
    const jobs = await slotJobs(s, 5, 6);
    const { solidity } = await s.prover.prove(jobs.slice(0, 4));
    const node = s.fx.nodes[0]!;
    const submit = (slots: number, list: SlotTestJob[]) =>
      escrow.connect(node).submitBatch(
        list.map((j) => j.job),
        list.map((j) => j.output),
        encodeZkSlotProof(
          slots,
          list.map((j) => j.packedOutput),
          solidity,
        ),
      );
    await expect(submit(SLOTS, jobs))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierSlotCountMismatch")
      .withArgs(5n, 5n, BigInt(SLOTS));
    await expect(submit(8, jobs.slice(0, 4)))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierNoSlotVerifier")
      .withArgs(s.modelId, 1n, 8n);
    const unbound = await slotFixture({ bind: false });
    const other = await slotJobs(unbound, 1, 7);
    const proof = await unbound.prover.prove(other);
    await expect(
      unbound.fx.system.escrow
        .connect(unbound.fx.nodes[0]!)
        .submitBatch(
          [other[0]!.job],
          [other[0]!.output],
          encodeZkSlotProof(SLOTS, [other[0]!.packedOutput], proof.solidity),
        ),
    )
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierNoSlotVerifier")
      .withArgs(unbound.modelId, 1n, BigInt(SLOTS));
  });
});
