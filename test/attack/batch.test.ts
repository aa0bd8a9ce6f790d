import { expect } from "chai";
import { FEE_PER_NODE, MODEL_PRICE, consumerJob, loadSystem, requestJob } from "../fixtures/system";
import { jobTotal } from "../../src/core/job";
import { JobStatus } from "../../src/core/job";
import { Mode } from "../../src/core/modes";
import { ReentrantConsumer__factory } from "../../typechain-types";

describe("attack: batch submission", () => {
  it("cannot be paid twice by listing a job twice; the whole batch reverts and nothing moves", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const node = fx.nodes[0]!;
    const job = await requestJob(fx);
    await escrow.connect(node).claimSlot(job);
    await expect(escrow.connect(node).submitBatch([job, job], ["0x2a", "0x2a"], "0x"))
      .to.be.revertedWithCustomError(escrow, "JobEscrowJobNotOpen")
      .withArgs(job.id, JobStatus.Settled);
    expect(await escrow.claimable(node.address)).to.equal(0n);
    expect((await escrow.stateOf(job.id)).status).to.equal(JobStatus.Open);
  });

  it("cannot settle another node's job inside one's own batch", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const mine = await requestJob(fx);
    const theirs = await requestJob(fx);
    await escrow.connect(fx.nodes[0]!).claimSlot(mine);
    await escrow.connect(fx.nodes[1]!).claimSlot(theirs);
    await expect(escrow.connect(fx.nodes[0]!).submitBatch([mine, theirs], ["0x01", "0x02"], "0x"))
      .to.be.revertedWithCustomError(escrow, "JobEscrowNotAssigned")
      .withArgs(theirs.id, fx.nodes[0]!.address);
    expect((await escrow.stateOf(mine.id)).status).to.equal(JobStatus.Open);
  });

  it("cannot smuggle a job with forged terms (cheaper collateral, higher fee) into a batch", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const job = await requestJob(fx);
    await escrow.connect(fx.nodes[0]!).claimSlot(job);
    const forged = { ...job, feePerNode: job.feePerNode * 10n };
    await expect(escrow.connect(fx.nodes[0]!).submitBatch([forged], ["0x01"], "0x")).to.be.revertedWithCustomError(
      escrow,
      "JobEscrowJobMismatch",
    );
  });

  it("a consumer re-entering from its callback cannot settle or claim inside the batch; every job is paid once", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const node = fx.nodes[0]!;
    const consumer = await new ReentrantConsumer__factory(fx.deployer).deploy(await escrow.getAddress());
    const a = await consumerJob(fx, consumer, { callbackGasLimit: 300_000 });
    const b = await requestJob(fx);
    await consumer.setReentry(escrow.interface.encodeFunctionData("submitBatch", [[b], ["0x2a"], "0x"]));
    for (const job of [a, b]) await escrow.connect(node).claimSlot(job);
    const tx = escrow.connect(node).submitBatch([a, b], ["0x2a", "0x2b"], "0x");
    await expect(tx)
      .to.emit(escrow, "CallbackDelivered")
      .withArgs(a.id, await consumer.getAddress(), true);
    expect(await consumer.reentrySucceeded()).to.equal(false);
    expect(await consumer.reentryResult()).to.equal(escrow.interface.encodeErrorResult("ReentrancyGuardReentrantCall"));
    expect(await escrow.claimable(node.address)).to.equal(2n * FEE_PER_NODE);
    expect(await escrow.claimable(fx.owner.address)).to.equal(2n * MODEL_PRICE);
    expect((await escrow.resultOf(b.id))[1]).to.equal("0x2b");
    const held = await fx.system.token.balanceOf(await escrow.getAddress());
    expect(held).to.equal(jobTotal(a) + jobTotal(b));
  });

  it("refuses an empty batch, or one whose outputs do not match its jobs, with JobEscrowInvalidBatch", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const job = await requestJob(fx);
    await escrow.connect(fx.nodes[0]!).claimSlot(job);
    await expect(escrow.connect(fx.nodes[0]!).submitBatch([], [], "0x"))
      .to.be.revertedWithCustomError(escrow, "JobEscrowInvalidBatch")
      .withArgs(0n, 0n, 64n);
    await expect(escrow.connect(fx.nodes[0]!).submitBatch([job], ["0x01", "0x02"], "0x"))
      .to.be.revertedWithCustomError(escrow, "JobEscrowInvalidBatch")
      .withArgs(1n, 2n, 64n);
    expect((await escrow.stateOf(job.id)).status).to.equal(JobStatus.Open);
  });

  it("cannot slip a job of another mode into a batch checked by one verifier (JobEscrowBatchVerifierMismatch)", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const vanilla = await requestJob(fx);
    const tee = await requestJob(fx, { mode: Mode.Tee });
    for (const job of [vanilla, tee]) await escrow.connect(fx.nodes[0]!).claimSlot(job);
    await expect(escrow.connect(fx.nodes[0]!).submitBatch([vanilla, tee], ["0x01", "0x02"], "0x"))
      .to.be.revertedWithCustomError(escrow, "JobEscrowBatchVerifierMismatch")
      .withArgs(tee.id, tee.verifier, vanilla.verifier);
    expect((await escrow.stateOf(tee.id)).status).to.equal(JobStatus.Open);
  });

  it("refuses an oversized batch before touching any job", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const job = await requestJob(fx);
    const max = await escrow.MAX_BATCH();
    const jobs = Array.from({ length: Number(max) + 1 }, () => job);
    await expect(
      escrow.connect(fx.nodes[0]!).submitBatch(
        jobs,
        jobs.map(() => "0x01"),
        "0x",
      ),
    )
      .to.be.revertedWithCustomError(escrow, "JobEscrowInvalidBatch")
      .withArgs(max + 1n, max + 1n, max);
  });
});
