import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { keccak256 } from "ethers";
import { consumerJob, loadSystem, requestJob, requestParams, TOKEN } from "../../fixtures/system";
import { jobTotal } from "../../../src/core/job";
import { EscrowStandIn__factory, ExampleConsumer__factory } from "../../../typechain-types";

describe("JobEscrow callbacks", () => {
  it("delivers a settled result to the consumer with the job's gas limit", async () => {
    const fx = await loadSystem();
    const consumer = fx.system.exampleConsumer;
    const job = await consumerJob(fx, consumer, { callbackGasLimit: 200_000 });
    await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
    const tx = fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x2a", "0x");
    await expect(tx)
      .to.emit(fx.system.escrow, "CallbackDelivered")
      .withArgs(job.id, await consumer.getAddress(), true);
    await expect(tx).to.emit(consumer, "OutcomeReceived").withArgs(job.id, true, keccak256("0x2a"));
    const outcome = await consumer.outcomeOf(job.id);
    expect([outcome.delivered, outcome.settled, outcome.output]).to.deep.equal([true, true, "0x2a"]);
  });

  it("delivers a refund as settled = false", async () => {
    const fx = await loadSystem();
    const consumer = fx.system.exampleConsumer;
    const job = await consumerJob(fx, consumer, { callbackGasLimit: 200_000 });
    await time.increaseTo(job.deadline);
    await expect(fx.system.escrow.expire(job))
      .to.emit(consumer, "OutcomeReceived")
      .withArgs(job.id, false, hre.ethers.ZeroHash);
  });

  it("records a failed callback (out of gas) without blocking settlement or payment", async () => {
    const fx = await loadSystem();
    const consumer = fx.system.exampleConsumer;
    const job = await consumerJob(fx, consumer, { callbackGasLimit: 1_000 });
    await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
    const tx = fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x2a", "0x");
    await expect(tx)
      .to.emit(fx.system.escrow, "CallbackDelivered")
      .withArgs(job.id, await consumer.getAddress(), false);
    await expect(tx).to.emit(fx.system.escrow, "JobSettled");
    expect((await consumer.outcomeOf(job.id)).delivered).to.equal(false);
    expect(await fx.system.escrow.resultOf(job.id)).to.deep.equal([keccak256("0x2a"), "0x2a"]);
  });

  it("records a callback to an account without code (the requester itself) as failed", async () => {
    const fx = await loadSystem();
    const job = await requestJob(fx, { callback: fx.requester.address, callbackGasLimit: 50_000 });
    await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
    await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x2a", "0x"))
      .to.emit(fx.system.escrow, "CallbackDelivered")
      .withArgs(job.id, fx.requester.address, false);
  });

  it("reverts with JobEscrowInsufficientGasForCallback when the caller sends too little gas for the callback", async () => {
    const fx = await loadSystem();
    const consumer = fx.system.exampleConsumer;
    const job = await consumerJob(fx, consumer, { callbackGasLimit: 400_000 });
    await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
    await expect(
      fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x2a", "0x", { gasLimit: 300_000 }),
    ).to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowInsufficientGasForCallback");
  });

  describe("unsolicited callbacks (issue #10 §2)", () => {
    it("reverts with JobEscrowInvalidCallback(consumer, attacker) when an attacker's request names someone else's consumer", async () => {
      const fx = await loadSystem();
      const consumer = await fx.system.exampleConsumer.getAddress();
      await expect(
        fx.system.escrow
          .connect(fx.other)
          .request(await requestParams({ callback: consumer, callbackGasLimit: 200_000 })),
      )
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowInvalidCallback")
        .withArgs(consumer, fx.other.address);
      expect(await fx.system.escrow.jobCount()).to.equal(0n);
    });

    it("the consumer base accepts calls from the escrow only (InferenceConsumerUnauthorizedCaller)", async () => {
      const fx = await loadSystem();
      await expect(fx.system.exampleConsumer.connect(fx.other).onInferenceResult(1n, true, hre.ethers.ZeroHash, "0x"))
        .to.be.revertedWithCustomError(fx.system.exampleConsumer, "InferenceConsumerUnauthorizedCaller")
        .withArgs(fx.other.address);
    });

    it("refuses with InferenceConsumerUnknownJob an outcome for a job the consumer did not request, or a second delivery of its own job", async () => {
      const fx = await loadSystem();
      const standIn = await new EscrowStandIn__factory(fx.deployer).deploy(await fx.system.token.getAddress());
      const consumer = await new ExampleConsumer__factory(fx.deployer).deploy(standIn, fx.deployer.address);
      await expect(standIn.deliver(consumer, 1n, "0x2a"))
        .to.be.revertedWithCustomError(consumer, "InferenceConsumerUnknownJob")
        .withArgs(1n);
      await expect(consumer.request(await requestParams({ callback: fx.other.address })))
        .to.emit(standIn, "Requested")
        .withArgs(1n, await consumer.getAddress(), await consumer.getAddress());
      expect(await consumer.isPending(1n)).to.equal(true);
      expect(await consumer.isPending(2n)).to.equal(false);
      await expect(standIn.deliver(consumer, 2n, "0x2a"))
        .to.be.revertedWithCustomError(consumer, "InferenceConsumerUnknownJob")
        .withArgs(2n);
      await expect(standIn.deliver(consumer, 1n, "0x2a"))
        .to.emit(consumer, "OutcomeReceived")
        .withArgs(1n, true, keccak256("0x2a"));
      expect(await consumer.isPending(1n)).to.equal(false);
      await expect(standIn.deliver(consumer, 1n, "0x2b"))
        .to.be.revertedWithCustomError(consumer, "InferenceConsumerUnknownJob")
        .withArgs(1n);
      expect((await consumer.outcomeOf(1n)).output).to.equal("0x2a");
    });

    it("ExampleConsumer.request is for its owner only (ExampleConsumerUnauthorizedCaller)", async () => {
      const fx = await loadSystem();
      const consumer = fx.system.exampleConsumer;
      expect(await consumer.owner()).to.equal(fx.deployer.address);
      await expect(consumer.connect(fx.other).request(await requestParams()))
        .to.be.revertedWithCustomError(consumer, "ExampleConsumerUnauthorizedCaller")
        .withArgs(fx.other.address);
    });

    it("delivers the ExampleConsumer's own request exactly once, paid from its own tokens", async () => {
      const fx = await loadSystem();
      const consumer = fx.system.exampleConsumer;
      const address = await consumer.getAddress();
      const job = await consumerJob(fx, consumer);
      expect(job.requester).to.equal(address);
      expect(job.callback).to.equal(address);
      expect(await fx.system.token.balanceOf(address)).to.equal(1_000n * TOKEN - jobTotal(job));
      expect(await consumer.isPending(job.id)).to.equal(true);
      await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
      const receipt = await (await fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x2a", "0x")).wait();
      const outcomes = receipt!.logs.filter(
        (log) => log.address === address && consumer.interface.parseLog(log)?.name === "OutcomeReceived",
      );
      expect(outcomes).to.have.length(1);
      const delivered = receipt!.logs
        .map((log) => fx.system.escrow.interface.parseLog(log))
        .filter((e) => e?.name === "CallbackDelivered");
      expect(delivered.map((e) => [e!.args.jobId, e!.args.consumer, e!.args.success])).to.deep.equal([
        [job.id, address, true],
      ]);
      expect(await consumer.isPending(job.id)).to.equal(false);
      expect(await consumer.outcomeOf(job.id)).to.deep.equal([true, true, keccak256("0x2a"), "0x2a"]);
      // A job expired after settlement cannot be delivered again: the escrow refuses before any callback.
      await time.increaseTo(job.deadline);
      await expect(fx.system.escrow.expire(job))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowJobNotOpen")
        .withArgs(job.id, 2);
    });
  });
});
