import { expect } from "chai";
import { anyUint } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { FEE_PER_NODE, loadSystem, requestJob } from "../fixtures/system";
import { GasBurnerConsumer__factory, ReturnBombConsumer__factory } from "../../typechain-types";

/** What the escrow demands before a callback of `gasLimit` (JobEscrow: limit + limit / 63 + CALLBACK_GAS_RESERVE). */
function neededGas(gasLimit: bigint): bigint {
  return gasLimit + gasLimit / 63n + 10_000n;
}

describe("attack: callback gas griefing", () => {
  it("reverts with JobEscrowInsufficientGasForCallback when the node sends too little gas for the callback", async () => {
    const fx = await loadSystem();
    const { escrow, exampleConsumer } = fx.system;
    const gasLimit = 500_000n;
    const job = await requestJob(fx, { callback: await exampleConsumer.getAddress(), callbackGasLimit: gasLimit });
    await escrow.connect(fx.nodes[0]!).claimSlot(job);
    // Enough to reach the callback, not enough to give it its whole limit: a node must not be able to make the
    // callback fail on purpose and still settle.
    await expect(escrow.connect(fx.nodes[0]!).submit(job, "0x2a", "0x", { gasLimit: 300_000 }))
      .to.be.revertedWithCustomError(escrow, "JobEscrowInsufficientGasForCallback")
      .withArgs(job.id, anyUint, neededGas(gasLimit));
    expect((await escrow.stateOf(job.id)).status).to.equal(1n);
  });

  it("settles and pays when the consumer burns all of its gas; the callback is recorded as failed", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const burner = await new GasBurnerConsumer__factory(fx.deployer).deploy();
    const job = await requestJob(fx, { callback: await burner.getAddress(), callbackGasLimit: 500_000 });
    await escrow.connect(fx.nodes[0]!).claimSlot(job);
    const tx = escrow.connect(fx.nodes[0]!).submit(job, "0x2a", "0x", { gasLimit: 1_000_000 });
    await expect(tx).to.emit(escrow, "JobSettled");
    await expect(tx).to.emit(escrow, "CallbackDelivered").withArgs(job.id, await burner.getAddress(), false);
    expect(await escrow.claimable(fx.nodes[0]!.address)).to.equal(FEE_PER_NODE);
    expect((await escrow.stateOf(job.id)).status).to.equal(2n);
  });

  for (const reverts of [false, true]) {
    it(`does not copy a ${reverts ? "revert" : "return"}-data bomb: escrow gas does not grow with its size`, async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      // Settle one job first so that both measured jobs credit accounts that already hold a balance.
      const warm = await requestJob(fx);
      await escrow.connect(fx.nodes[0]!).claimSlot(warm);
      await escrow.connect(fx.nodes[0]!).submit(warm, "0x2a", "0x");
      const used: bigint[] = [];
      for (const size of [0n, 200_000n]) {
        const bomb = await new ReturnBombConsumer__factory(fx.deployer).deploy(size, reverts);
        const job = await requestJob(fx, { callback: await bomb.getAddress(), callbackGasLimit: 400_000 });
        await escrow.connect(fx.nodes[0]!).claimSlot(job);
        const tx = escrow.connect(fx.nodes[0]!).submit(job, "0x2a", "0x", { gasLimit: 1_000_000 });
        await expect(tx).to.emit(escrow, "CallbackDelivered").withArgs(job.id, await bomb.getAddress(), !reverts);
        used.push((await (await tx).wait())!.gasUsed);
      }
      // The consumer pays for its own memory (3n/32 + n^2/524288 gas for n bytes); an escrow that copied the
      // data would pay about as much again on top.
      const n = 200_000n;
      const consumerMemory = (3n * n) / 32n + (n * n) / 524_288n;
      const growth = used[1]! - used[0]!;
      expect(growth).to.be.lessThan(consumerMemory + 5_000n);
      expect(growth).to.be.greaterThan(consumerMemory - 5_000n);
    });
  }
});
