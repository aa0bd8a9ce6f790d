import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { TOKEN, consumerJob, loadSystem, governor } from "../../fixtures/system";
import { jobTotal } from "../../../src/core/job";

describe("ExampleConsumer: a consumer's own credits and tokens (found by the invariant tier)", () => {
  it("claims the refund of a job nobody served to the owner's recipient; only the owner may", async () => {
    const fx = await loadSystem();
    const { escrow, token, exampleConsumer: consumer } = fx.system;
    const job = await consumerJob(fx, consumer);
    await time.increaseTo(job.deadline);
    await escrow.connect(fx.other).expire(job);
    const address = await consumer.getAddress();
    expect(await escrow.claimable(address)).to.equal(jobTotal(job));
    await expect(consumer.connect(fx.other).claim(fx.other.address))
      .to.be.revertedWithCustomError(consumer, "ExampleConsumerUnauthorizedCaller")
      .withArgs(fx.other.address);
    const before = await token.balanceOf(fx.requester.address);
    await expect(consumer.connect(fx.deployer).claim(fx.requester.address))
      .to.emit(escrow, "Claimed")
      .withArgs(address, fx.requester.address, jobTotal(job));
    expect(await token.balanceOf(fx.requester.address)).to.equal(before + jobTotal(job));
    expect(await escrow.claimable(address)).to.equal(0n);
  });

  it("sends tokens it holds and has not spent back to the owner's recipient; only the owner may", async () => {
    const fx = await loadSystem();
    const { token, exampleConsumer: consumer } = fx.system;
    await token.mint(await consumer.getAddress(), 5n * TOKEN);
    await expect(consumer.connect(fx.other).withdrawTokens(fx.other.address, TOKEN))
      .to.be.revertedWithCustomError(consumer, "ExampleConsumerUnauthorizedCaller")
      .withArgs(fx.other.address);
    await consumer.connect(fx.deployer).withdrawTokens(fx.requester.address, 2n * TOKEN);
    expect(await token.balanceOf(await consumer.getAddress())).to.equal(3n * TOKEN);
  });

  it("a key revoked twice: the second revocation reverts with TeeVerifierEnclaveRevoked and records no disruption", async () => {
    const fx = await loadSystem();
    const { teeVerifier } = fx.system;
    await teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
    const first = await teeVerifier.disruptedAt(fx.nodes[0]!.address);
    await time.increase(100);
    await expect(teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address))
      .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierEnclaveRevoked")
      .withArgs(fx.enclave.address);
    expect(await teeVerifier.disruptedAt(fx.nodes[0]!.address)).to.equal(first);
  });
});
