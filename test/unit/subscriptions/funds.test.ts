import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { ZeroAddress } from "ethers";
import { Mode, modeMask } from "../../../src/core/modes";
import { teeProof, TOKEN } from "../../fixtures/system";
import {
  deployConsumer,
  JOB_COST,
  KEEPER_REWARD,
  loadSubscriptions,
  PERIOD,
  startRound,
  subscribe,
  teeValueOutput,
  type SubscriptionFixture,
} from "./subscriptions.fixture";
import { SubscriptionFeed__factory, SubscriptionManager__factory } from "../../../typechain-types";

describe("SubscriptionManager funds", () => {
  describe("topUp", () => {
    it("adds anyone's payment to an active subscription and emits SubscriptionToppedUp", async () => {
      const fx = await loadSubscriptions();
      const { id } = await subscribe(fx);
      const balance = (await fx.manager.subscriptionOf(id)).balance;
      await fx.system.token.connect(fx.other).approve(await fx.manager.getAddress(), TOKEN);
      await expect(fx.manager.connect(fx.other).topUp(id, TOKEN))
        .to.emit(fx.manager, "SubscriptionToppedUp")
        .withArgs(id, fx.other.address, TOKEN);
      expect((await fx.manager.subscriptionOf(id)).balance).to.equal(balance + TOKEN);
    });

    it("reverts with SubscriptionManagerZeroAmount, SubscriptionManagerNotActive and SubscriptionManagerUnknownSubscription", async () => {
      const fx = await loadSubscriptions();
      const { id } = await subscribe(fx);
      await expect(fx.manager.connect(fx.subscriber).topUp(id, 0)).to.be.revertedWithCustomError(
        fx.manager,
        "SubscriptionManagerZeroAmount",
      );
      await expect(fx.manager.connect(fx.subscriber).topUp(id + 1n, 1))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerUnknownSubscription")
        .withArgs(id + 1n);
      await fx.manager.connect(fx.subscriber).cancel(id);
      await expect(fx.manager.connect(fx.subscriber).topUp(id, 1))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerNotActive")
        .withArgs(id, 2);
    });
  });

  describe("cancel", () => {
    it("reverts with SubscriptionManagerUnauthorizedCaller for anyone but the subscriber, and NotActive twice", async () => {
      const fx = await loadSubscriptions();
      const { id } = await subscribe(fx);
      await expect(fx.manager.connect(fx.other).cancel(id))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerUnauthorizedCaller")
        .withArgs(id, fx.other.address);
      await fx.manager.connect(fx.subscriber).cancel(id);
      expect((await fx.manager.subscriptionOf(id)).balance).to.equal(0n);
      await expect(fx.manager.connect(fx.subscriber).cancel(id))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerNotActive")
        .withArgs(id, 2);
    });
  });

  describe("withdraw", () => {
    it("reverts with SubscriptionManagerStillRunning before the last round's window closes", async () => {
      const fx = await loadSubscriptions();
      const { id, startTime } = await subscribe(fx, { rounds: 2 });
      const end = startTime + 2n * BigInt(PERIOD);
      await expect(fx.manager.connect(fx.subscriber).withdraw(id, fx.subscriber.address))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerStillRunning")
        .withArgs(id, end);
      await time.increaseTo(end);
      await expect(fx.manager.connect(fx.subscriber).withdraw(id, fx.subscriber.address))
        .to.emit(fx.manager, "SubscriptionWithdrawn")
        .withArgs(id, fx.subscriber.address, 2n * (JOB_COST + KEEPER_REWARD));
    });

    it("reverts with InvalidRecipient, UnauthorizedCaller and NothingToWithdraw", async () => {
      const fx = await loadSubscriptions();
      const { id } = await subscribe(fx);
      await fx.manager.connect(fx.subscriber).cancel(id);
      await expect(fx.manager.connect(fx.subscriber).withdraw(id, ZeroAddress))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInvalidRecipient")
        .withArgs(ZeroAddress);
      await expect(fx.manager.connect(fx.other).withdraw(id, fx.other.address))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerUnauthorizedCaller")
        .withArgs(id, fx.other.address);
      await expect(fx.manager.connect(fx.subscriber).withdraw(id, fx.subscriber.address))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerNothingToWithdraw")
        .withArgs(fx.subscriber.address);
    });
  });

  describe("claimKeeperRewards", () => {
    it("pays the keeper's rewards once; then NothingToWithdraw", async () => {
      const fx = await loadSubscriptions();
      const { id, startTime } = await subscribe(fx);
      await time.increaseTo(startTime);
      await startRound(fx, id);
      await time.increaseTo(startTime + BigInt(PERIOD));
      await startRound(fx, id);
      await expect(fx.manager.connect(fx.keeper).claimKeeperRewards(ZeroAddress))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInvalidRecipient")
        .withArgs(ZeroAddress);
      const before = await fx.system.token.balanceOf(fx.owner.address);
      await expect(fx.manager.connect(fx.keeper).claimKeeperRewards(fx.owner.address))
        .to.emit(fx.manager, "KeeperRewardsClaimed")
        .withArgs(fx.keeper.address, fx.owner.address, 2n * KEEPER_REWARD);
      expect((await fx.system.token.balanceOf(fx.owner.address)) - before).to.equal(2n * KEEPER_REWARD);
      await expect(fx.manager.connect(fx.keeper).claimKeeperRewards(fx.keeper.address))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerNothingToWithdraw")
        .withArgs(fx.keeper.address);
    });

    it("credits nothing for a round without a keeper reward", async () => {
      const fx = await loadSubscriptions();
      const { id, startTime } = await subscribe(fx, { keeperReward: 0 });
      await time.increaseTo(startTime);
      await startRound(fx, id);
      expect(await fx.manager.keeperRewardsOf(fx.keeper.address)).to.equal(0n);
    });
  });
});

/** A subscription with its round 0 answered (TEE, `value` in units of 10^-4). */
async function answered(fx: SubscriptionFixture, value: number, overrides = {}) {
  const sub = await subscribe(fx, overrides);
  await time.increaseTo(sub.startTime);
  const { job } = await startRound(fx, sub.id);
  const node = fx.nodes[0]!;
  await fx.system.escrow.connect(node).claimSlot(job);
  const output = teeValueOutput(value);
  const proof =
    (await fx.manager.subscriptionOf(sub.id)).mode === BigInt(Mode.Tee) ? await teeProof(fx, job, output) : "0x";
  await fx.system.escrow.connect(node).submit(job, output, proof);
  return { ...sub, job };
}

describe("SubscriptionFeed", () => {
  it("reverts with SubscriptionManagerNoData for round 0, rounds past the schedule, and before any answer", async () => {
    const fx = await loadSubscriptions();
    const { id, feed } = await subscribe(fx);
    for (const round of [0, 1, 6, 2 ** 40]) {
      await expect(feed.getRoundData(round))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerNoData")
        .withArgs(id, round);
    }
    await expect(feed.latestRoundData())
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerNoData")
      .withArgs(id, 0);
    expect(await feed.jobOf(0)).to.equal(0n);
    expect(await feed.jobOf(2n ** 40n)).to.equal(0n);
  });

  it("reverts with SubscriptionFeedNotAClone on the implementation", async () => {
    const fx = await loadSubscriptions();
    const implementation = SubscriptionFeed__factory.connect(await fx.manager.feedImplementation(), fx.deployer);
    await expect(implementation.latestRoundData()).to.be.revertedWithCustomError(
      implementation,
      "SubscriptionFeedNotAClone",
    );
    await expect(implementation.decimals()).to.be.revertedWithCustomError(implementation, "SubscriptionFeedNotAClone");
    expect(await implementation.version()).to.equal(1n);
  });
});

describe("FeedConsumerExample", () => {
  const VERIFIED = modeMask([Mode.Tee, Mode.Zk, Mode.Dual]);

  it("reads a fresh TEE round like a price feed and records it (AnswerAccepted)", async () => {
    const fx = await loadSubscriptions();
    const { feed } = await answered(fx, 15_000);
    const updatedAt = BigInt(await time.latest());
    const consumer = await deployConsumer(fx, feed, 3_600, VERIFIED);
    await expect(consumer.refresh()).to.emit(consumer, "AnswerAccepted").withArgs(1, 15_000, updatedAt);
    expect(await consumer.answer()).to.equal(15_000n);
    expect(await consumer.roundId()).to.equal(1n);
  });

  it("rejects a stale round with FeedConsumerStaleRound", async () => {
    const fx = await loadSubscriptions();
    const { feed } = await answered(fx, 15_000);
    const updatedAt = BigInt(await time.latest());
    const consumer = await deployConsumer(fx, feed, 3_600, VERIFIED);
    await time.increaseTo(updatedAt + 3_601n);
    await expect(consumer.refresh())
      .to.be.revertedWithCustomError(consumer, "FeedConsumerStaleRound")
      .withArgs(1, updatedAt, 3_600);
  });

  it("rejects a round of a mode it does not count as verified with FeedConsumerUnverifiedRound", async () => {
    const fx = await loadSubscriptions();
    const { feed, job } = await answered(fx, 15_000, { mode: Mode.Vanilla });
    const consumer = await deployConsumer(fx, feed, 3_600, VERIFIED);
    await expect(consumer.read())
      .to.be.revertedWithCustomError(consumer, "FeedConsumerUnverifiedRound")
      .withArgs(1, Mode.Vanilla, job.id);
    const lenient = await deployConsumer(fx, feed, 3_600, modeMask([Mode.Vanilla]));
    expect((await lenient.read())[0]).to.equal(15_000n);
  });

  it("rejects a feed its manager does not record with FeedConsumerUnknownFeed", async () => {
    const fx = await loadSubscriptions();
    await answered(fx, 15_000);
    // Another manager's subscription 1: same id, another feed.
    const other = await new SubscriptionManager__factory(fx.deployer).deploy(await fx.system.escrow.getAddress());
    await fx.system.token.connect(fx.subscriber).approve(await other.getAddress(), 100n * TOKEN);
    const foreign = await answered({ ...fx, manager: other }, 99, {});
    const consumer = await deployConsumer(fx, foreign.feed, 3_600, VERIFIED);
    await expect(consumer.read())
      .to.be.revertedWithCustomError(consumer, "FeedConsumerUnknownFeed")
      .withArgs(await foreign.feed.getAddress());
  });
});
