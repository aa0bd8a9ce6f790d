import { expect } from "chai";
import hre from "hardhat";
import { mine, time } from "@nomicfoundation/hardhat-network-helpers";
import { keccak256, ZeroAddress, ZeroHash } from "ethers";
import { Mode } from "../../../src/core/modes";
import { requestedJobs } from "../../../src/core/job";
import { roundInput } from "../../../src/core/subscription";
import { TOKEN } from "../../fixtures/system";
import { FakeInputSource__factory, RoundInputEncoder__factory } from "../../../typechain-types";
import {
  FEED_DECIMALS,
  JOB_COST,
  KEEPER_REWARD,
  loadSubscriptions,
  MAX_AGE,
  PERIOD,
  prices,
  ROUND_DURATION,
  startRound,
  subscribe,
  subscriptionParams,
  type SubscriptionFixture,
} from "./subscriptions.fixture";

/** The fixed-point values (16 bits) `FeedWindowSource` returns for the last `n` feed answers up to round `last`. */
async function windowValues(fx: SubscriptionFixture, last: bigint, n: number): Promise<bigint[]> {
  const out: bigint[] = [];
  for (let id = last - BigInt(n) + 1n; id <= last; id++) {
    const [, answer] = await fx.aggregator.getRoundData(id);
    const v = (answer << 16n) / 10n ** BigInt(FEED_DECIMALS);
    out.push(v);
  }
  return out;
}

describe("SubscriptionManager.startRound", () => {
  it("starts the due round: requests its job with the input as of the due time and credits the keeper", async () => {
    const fx = await loadSubscriptions();
    const { id, startTime } = await subscribe(fx);
    await time.increaseTo(startTime);
    const balance = (await fx.manager.subscriptionOf(id)).balance;
    const tx = fx.manager.connect(fx.keeper).startRound(id);
    await expect(tx).to.emit(fx.manager, "RoundStarted").withArgs(id, 0, 1, fx.keeper.address, JOB_COST, KEEPER_REWARD);
    const [requested] = requestedJobs(fx.system.escrow, await (await tx).wait());
    const { job, input, inputUri } = requested!;
    const now = BigInt(await time.latest());
    const managerAddress = await fx.manager.getAddress();
    expect(job.requester).to.equal(managerAddress);
    expect(job.callback).to.equal(managerAddress);
    expect(job.callbackGasLimit).to.equal(120_000n);
    expect([job.modelId, job.version, job.mode, job.redundancy]).to.deep.equal([1n, 1n, BigInt(Mode.Tee), 1n]);
    expect(job.deadline).to.equal(now + BigInt(ROUND_DURATION));
    expect(inputUri).to.equal("");
    const expected = roundInput(await windowValues(fx, 70n, 4), 16, false);
    expect(input).to.equal(expected);
    expect(job.inputHash).to.equal(keccak256(expected));
    const s = await fx.manager.subscriptionOf(id);
    expect(s.balance).to.equal(balance - JOB_COST - KEEPER_REWARD);
    expect(s.nextRound).to.equal(1n);
    expect((await fx.manager.roundOf(id, 0)).jobId).to.equal(job.id);
    expect(await fx.manager.keeperRewardsOf(fx.keeper.address)).to.equal(KEEPER_REWARD);
    expect(await fx.system.escrow.commitmentOf(job.id)).to.not.equal(ZeroHash);
  });

  it("reverts with SubscriptionManagerRoundNotDue before the first round is due (nobody starts a round early)", async () => {
    const fx = await loadSubscriptions();
    const { id, startTime } = await subscribe(fx);
    await expect(fx.manager.startRound(id))
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerRoundNotDue")
      .withArgs(id, startTime);
    expect(await fx.manager.currentRound(id)).to.deep.equal([0n, startTime, false]);
    await time.setNextBlockTimestamp(startTime - 1n);
    await expect(fx.manager.startRound(id)).to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerRoundNotDue");
    await startRound(fx, id);
  });

  it("reverts with SubscriptionManagerRoundStarted for a round started already, until the next is due", async () => {
    const fx = await loadSubscriptions();
    const { id, startTime } = await subscribe(fx);
    await time.increaseTo(startTime);
    await startRound(fx, id);
    expect(await fx.manager.currentRound(id)).to.deep.equal([0n, startTime, false]);
    await expect(fx.manager.connect(fx.nodes[1]).startRound(id))
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerRoundStarted")
      .withArgs(id, 0);
    await time.setNextBlockTimestamp(startTime + BigInt(PERIOD) - 1n);
    await expect(fx.manager.startRound(id))
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerRoundStarted")
      .withArgs(id, 0);
    await mine();
    expect(await fx.manager.currentRound(id)).to.deep.equal([1n, startTime + BigInt(PERIOD), true]);
    const { job } = await startRound(fx, id, fx.nodes[1]!);
    expect((await fx.manager.roundOf(id, 1)).jobId).to.equal(job.id);
  });

  it("lets one of two nodes racing in the same block start the round; the other's transaction reverts", async () => {
    const fx = await loadSubscriptions();
    const { id, startTime } = await subscribe(fx);
    await time.increaseTo(startTime);
    await hre.network.provider.send("evm_setAutomine", [false]);
    try {
      const first = await fx.manager.connect(fx.nodes[0]).startRound(id, { gasLimit: 1_000_000 });
      const second = await fx.manager.connect(fx.nodes[1]).startRound(id, { gasLimit: 1_000_000 });
      await mine();
      const receipts = await Promise.all(
        [first, second].map((tx) => hre.ethers.provider.getTransactionReceipt(tx.hash)),
      );
      expect(receipts.map((r) => r!.status)).to.deep.equal([1, 0]);
      expect(receipts[0]!.blockNumber).to.equal(receipts[1]!.blockNumber);
    } finally {
      await hre.network.provider.send("evm_setAutomine", [true]);
    }
    expect(await fx.manager.keeperRewardsOf(fx.nodes[0]!.address)).to.equal(KEEPER_REWARD);
    expect(await fx.manager.keeperRewardsOf(fx.nodes[1]!.address)).to.equal(0n);
    expect(await fx.system.escrow.jobCount()).to.equal(1n);
  });

  it("reads the input as of the due time when started late: answers written after it are not used", async () => {
    const fx = await loadSubscriptions();
    const { id, startTime } = await subscribe(fx);
    await time.increaseTo(startTime + 100n);
    await fx.aggregator.updateAnswers(prices(3, 7));
    expect(await fx.aggregator.latestRound()).to.equal(73n);
    await time.increaseTo(startTime + BigInt(PERIOD) - 10n);
    const { input } = await startRound(fx, id);
    expect(input).to.equal(roundInput(await windowValues(fx, 70n, 4), 16, false));
    // The next round, due after the new answers, reads them.
    await time.increaseTo(startTime + BigInt(PERIOD));
    const next = await startRound(fx, id);
    expect(next.input).to.equal(roundInput(await windowValues(fx, 73n, 4), 16, false));
  });

  it("skips a missed round: the next round starts in its own window and the missed round's funds stay", async () => {
    const fx = await loadSubscriptions();
    const { id, startTime, feed } = await subscribe(fx);
    await time.increaseTo(startTime);
    await startRound(fx, id);
    await time.increaseTo(startTime + 2n * BigInt(PERIOD));
    const { job } = await startRound(fx, id);
    expect((await fx.manager.roundOf(id, 1)).jobId).to.equal(0n);
    expect((await fx.manager.roundOf(id, 2)).jobId).to.equal(job.id);
    const s = await fx.manager.subscriptionOf(id);
    expect(s.nextRound).to.equal(3n);
    expect(s.balance).to.equal(3n * (JOB_COST + KEEPER_REWARD));
    await expect(feed.getRoundData(2))
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerNoData")
      .withArgs(id, 2);
    expect(await feed.jobOf(2)).to.equal(0n);
    expect(await feed.jobOf(3)).to.equal(job.id);
  });

  it("reverts with SubscriptionManagerEnded once the last round's window has passed", async () => {
    const fx = await loadSubscriptions();
    const { id, startTime } = await subscribe(fx, { rounds: 2 });
    const end = startTime + 2n * BigInt(PERIOD);
    await time.increaseTo(end);
    await expect(fx.manager.startRound(id))
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerEnded")
      .withArgs(id, end);
    expect(await fx.manager.currentRound(id)).to.deep.equal([2n, end, false]);
  });

  it("reverts with SubscriptionManagerInsufficientBalance after a price rise, and starts again once topped up", async () => {
    const fx = await loadSubscriptions();
    const { id, startTime } = await subscribe(fx, { rounds: 1 });
    await fx.system.registry.connect(fx.owner).setPrice(1, 3n * TOKEN);
    const cost = (4n * TOKEN * 105n) / 100n;
    await time.increaseTo(startTime);
    await expect(fx.manager.startRound(id))
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInsufficientBalance")
      .withArgs(id, JOB_COST + KEEPER_REWARD, cost + KEEPER_REWARD);
    await fx.manager.connect(fx.subscriber).topUp(id, cost - JOB_COST);
    await startRound(fx, id);
    expect((await fx.manager.subscriptionOf(id)).balance).to.equal(0n);
  });

  it("reverts with SubscriptionManagerCostAboveMax when the price rose past maxJobCost", async () => {
    const fx = await loadSubscriptions();
    const { id, startTime } = await subscribe(fx, { maxJobCost: JOB_COST });
    await fx.system.registry.connect(fx.owner).setPrice(1, 3n * TOKEN);
    await time.increaseTo(startTime);
    await expect(fx.manager.startRound(id))
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerCostAboveMax")
      .withArgs((4n * TOKEN * 105n) / 100n, JOB_COST);
  });

  it("reverts with the source's InputSourceStale when the feed's answer before the due time is too old", async () => {
    const fx = await loadSubscriptions();
    const { id, startTime } = await subscribe(fx, { rounds: 20 });
    await time.increaseTo(startTime + BigInt(MAX_AGE) + 1000n);
    // Round 0's window has passed; round k is due at startTime + k * PERIOD.
    const round = (BigInt(MAX_AGE) + 1000n) / BigInt(PERIOD);
    const due = startTime + round * BigInt(PERIOD);
    const [, , , updatedAt] = await fx.aggregator.latestRoundData();
    await expect(fx.manager.startRound(id))
      .to.be.revertedWithCustomError(fx.window, "InputSourceStale")
      .withArgs(await fx.aggregator.getAddress(), updatedAt, due, MAX_AGE);
  });

  it("reverts with SubscriptionManagerUnknownSubscription and SubscriptionManagerNotActive", async () => {
    const fx = await loadSubscriptions();
    await expect(fx.manager.startRound(7))
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerUnknownSubscription")
      .withArgs(7);
    const { id, startTime } = await subscribe(fx);
    await fx.manager.connect(fx.subscriber).cancel(id);
    await time.increaseTo(startTime);
    await expect(fx.manager.startRound(id))
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerNotActive")
      .withArgs(id, 2);
    expect((await fx.manager.currentRound(id))[2]).to.equal(false);
  });

  it("refuses a round the escrow refuses (requests paused): nothing is spent and the round can start once unpaused", async () => {
    const fx = await loadSubscriptions();
    const { id, startTime } = await subscribe(fx);
    await fx.system.escrow.connect(fx.deployer).setPaused(true);
    await time.increaseTo(startTime);
    await expect(fx.manager.startRound(id)).to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowRequestsPaused");
    await fx.system.escrow.connect(fx.deployer).setPaused(false);
    const { job } = await startRound(fx, id);
    expect(job.id).to.equal(1n);
  });

  describe("posted inputs", () => {
    it("requests the round with the posted commitment and URI, and forgets the post", async () => {
      const fx = await loadSubscriptions();
      const { id, startTime } = await subscribe(fx, { inputSource: ZeroAddress, inputArgs: "0x" });
      const commitment = keccak256("0x1234");
      await expect(fx.manager.connect(fx.subscriber).postInput(id, 0, commitment, "ipfs://bafkreiexample"))
        .to.emit(fx.manager, "InputPosted")
        .withArgs(id, 0, commitment, "ipfs://bafkreiexample");
      expect(await fx.manager.postedInputOf(id, 0)).to.deep.equal([commitment, "ipfs://bafkreiexample"]);
      await time.increaseTo(startTime);
      const { job, input, inputUri } = await startRound(fx, id);
      expect(job.inputHash).to.equal(commitment);
      expect(input).to.equal("0x");
      expect(inputUri).to.equal("ipfs://bafkreiexample");
      expect(await fx.manager.postedInputOf(id, 0)).to.deep.equal([ZeroHash, ""]);
    });

    it("reverts with SubscriptionManagerInputMissing for a round without a post", async () => {
      const fx = await loadSubscriptions();
      const { id, startTime } = await subscribe(fx, { inputSource: ZeroAddress, inputArgs: "0x" });
      await fx.manager.connect(fx.subscriber).postInput(id, 1, keccak256("0x01"), "ipfs://x");
      await time.increaseTo(startTime);
      await expect(fx.manager.startRound(id))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInputMissing")
        .withArgs(id, 0);
    });

    it("reverts with SubscriptionManagerInvalidPostedInput for a source subscription, a started or out-of-range round, no commitment or a bad URI", async () => {
      const fx = await loadSubscriptions();
      const posted = await subscribe(fx, { inputSource: ZeroAddress, inputArgs: "0x", rounds: 3 });
      const sourced = await subscribe(fx);
      const c = keccak256("0x01");
      const cases: [bigint, number, string, string][] = [
        [sourced.id, 0, c, "ipfs://x"],
        [posted.id, 3, c, "ipfs://x"],
        [posted.id, 0, ZeroHash, "ipfs://x"],
        [posted.id, 0, c, ""],
        [posted.id, 0, c, "x".repeat(513)],
      ];
      for (const [id, round, commitment, uri] of cases) {
        await expect(fx.manager.connect(fx.subscriber).postInput(id, round, commitment, uri))
          .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInvalidPostedInput")
          .withArgs(id, round);
      }
      await fx.manager.connect(fx.subscriber).postInput(posted.id, 0, c, "x".repeat(512));
      await time.increaseTo(posted.startTime);
      await startRound(fx, posted.id);
      await expect(fx.manager.connect(fx.subscriber).postInput(posted.id, 0, c, "ipfs://x"))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInvalidPostedInput")
        .withArgs(posted.id, 0);
      await expect(fx.manager.connect(fx.keeper).postInput(posted.id, 1, c, "ipfs://x"))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerUnauthorizedCaller")
        .withArgs(posted.id, fx.keeper.address);
      await fx.manager.connect(fx.subscriber).cancel(posted.id);
      await expect(fx.manager.connect(fx.subscriber).postInput(posted.id, 1, c, "ipfs://x"))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerNotActive")
        .withArgs(posted.id, 2);
    });
  });
});

describe("SubscriptionManager and a misbehaving input source", () => {
  it("refuses at subscribe a source with more than 32 fraction bits or declaring 0 or more than 64 inputs", async () => {
    const fx = await loadSubscriptions();
    const fake = await new FakeInputSource__factory(fx.deployer).deploy();
    const source = await fake.getAddress();
    for (const [bits, size, reported, max] of [
      [33, 4, 33, 32],
      [16, 0, 0, 64],
      [16, 65, 65, 64],
    ] as const) {
      await fake.set(bits, size, []);
      await expect(
        fx.manager
          .connect(fx.subscriber)
          .subscribe(await subscriptionParams(fx, { inputSource: source, inputArgs: "0x" })),
      )
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInvalidInputSource")
        .withArgs(source, reported, max);
    }
  });

  it("refuses to start a round whose source returns no value or more than 64 (SubscriptionManagerInvalidInputSize)", async () => {
    const fx = await loadSubscriptions();
    const fake = await new FakeInputSource__factory(fx.deployer).deploy();
    await fake.set(16, 4, [1n, 2n]);
    const { id, startTime } = await subscribe(fx, { inputSource: await fake.getAddress(), inputArgs: "0x" });
    await fake.set(16, 4, []);
    await time.increaseTo(startTime);
    await expect(fx.manager.startRound(id))
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInvalidInputSize")
      .withArgs(id, 0, 64);
    await fake.set(
      16,
      4,
      Array.from({ length: 65 }, (_, i) => BigInt(i)),
    );
    await expect(fx.manager.startRound(id))
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInvalidInputSize")
      .withArgs(id, 65, 64);
    await fake.set(16, 4, [1n << 53n]);
    const encoder = RoundInputEncoder__factory.connect(await fx.manager.inputEncoder(), fx.deployer);
    await expect(fx.manager.startRound(id))
      .to.be.revertedWithCustomError(encoder, "RoundInputOutOfRange")
      .withArgs(0, 1n << 53n, (1n << 53n) - 1n);
    await fake.set(16, 4, [65536n, -32768n]);
    const { input } = await startRound(fx, id);
    expect(input).to.equal(roundInput([65536n, -32768n], 16, false));
    expect(await fx.manager.token()).to.equal(await fx.system.token.getAddress());
    expect(await fx.manager.escrow()).to.equal(await fx.system.escrow.getAddress());
  });
});
