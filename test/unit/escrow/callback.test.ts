import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { keccak256 } from "ethers";
import { loadSystem, requestJob } from "../../fixtures/system";

describe("JobEscrow callbacks", () => {
  it("delivers a settled result to the consumer with the job's gas limit", async () => {
    const fx = await loadSystem();
    const consumer = fx.system.exampleConsumer;
    const job = await requestJob(fx, { callback: await consumer.getAddress(), callbackGasLimit: 200_000 });
    await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
    const tx = fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x2a", "0x");
    await expect(tx).to.emit(fx.system.escrow, "CallbackDelivered").withArgs(job.id, await consumer.getAddress(), true);
    await expect(tx).to.emit(consumer, "OutcomeReceived").withArgs(job.id, true, keccak256("0x2a"));
    const outcome = await consumer.outcomeOf(job.id);
    expect([outcome.delivered, outcome.settled, outcome.output]).to.deep.equal([true, true, "0x2a"]);
  });

  it("delivers a refund as settled = false", async () => {
    const fx = await loadSystem();
    const consumer = fx.system.exampleConsumer;
    const job = await requestJob(fx, { callback: await consumer.getAddress(), callbackGasLimit: 200_000 });
    await time.increaseTo(job.deadline);
    await expect(fx.system.escrow.expire(job)).to.emit(consumer, "OutcomeReceived").withArgs(job.id, false, hre.ethers.ZeroHash);
  });

  it("records a failed callback (out of gas) without blocking settlement or payment", async () => {
    const fx = await loadSystem();
    const consumer = fx.system.exampleConsumer;
    const job = await requestJob(fx, { callback: await consumer.getAddress(), callbackGasLimit: 1_000 });
    await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
    const tx = fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x2a", "0x");
    await expect(tx).to.emit(fx.system.escrow, "CallbackDelivered").withArgs(job.id, await consumer.getAddress(), false);
    await expect(tx).to.emit(fx.system.escrow, "JobSettled");
    expect((await consumer.outcomeOf(job.id)).delivered).to.equal(false);
    expect(await fx.system.escrow.resultOf(job.id)).to.deep.equal([keccak256("0x2a"), "0x2a"]);
  });

  it("records a callback to an account without code as failed", async () => {
    const fx = await loadSystem();
    const job = await requestJob(fx, { callback: fx.other.address, callbackGasLimit: 50_000 });
    await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
    await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x2a", "0x")).to.emit(fx.system.escrow, "CallbackDelivered").withArgs(job.id, fx.other.address, false);
  });

  it("reverts with JobEscrowInsufficientGasForCallback when the caller sends too little gas for the callback", async () => {
    const fx = await loadSystem();
    const consumer = fx.system.exampleConsumer;
    const job = await requestJob(fx, { callback: await consumer.getAddress(), callbackGasLimit: 400_000 });
    await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
    await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x2a", "0x", { gasLimit: 300_000 })).to.be.revertedWithCustomError(
      fx.system.escrow,
      "JobEscrowInsufficientGasForCallback",
    );
  });

  it("the consumer base accepts calls from the escrow only", async () => {
    const fx = await loadSystem();
    await expect(fx.system.exampleConsumer.connect(fx.other).onInferenceResult(1n, true, hre.ethers.ZeroHash, "0x"))
      .to.be.revertedWithCustomError(fx.system.exampleConsumer, "InferenceConsumerUnauthorizedCaller")
      .withArgs(fx.other.address);
  });
});
