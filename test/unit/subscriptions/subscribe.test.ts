import { expect } from "chai";
import hre from "hardhat";
import { AbiCoder } from "ethers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { Mode } from "../../../src/core/modes";
import { AnswerKind, feedWindowSourceArgs, SubscriptionStatus } from "../../../src/core/subscription";
import {
  JOB_COST,
  KEEPER_REWARD,
  loadSubscriptions,
  MAX_AGE,
  PERIOD,
  ROUND_DURATION,
  subscribe,
  subscriptionParams,
} from "./subscriptions.fixture";

const DAY = 24 * 3600;

describe("SubscriptionManager.subscribe", () => {
  it("stores the terms, pulls rounds x (job cost + keeper reward), deploys the feed and emits SubscriptionCreated", async () => {
    const fx = await loadSubscriptions();
    const { manager, token } = { manager: fx.manager, token: fx.system.token };
    const params = await subscriptionParams(fx);
    const before = await token.balanceOf(fx.subscriber.address);
    const funded = 5n * (JOB_COST + KEEPER_REWARD);
    const tx = manager.connect(fx.subscriber).subscribe(params);
    await expect(tx).to.emit(manager, "SubscriptionCreated");
    const { id, feed } = { id: 1n, feed: (await manager.subscriptionOf(1)).feed };
    const receipt = await (await tx).wait();
    const managerAddress = await manager.getAddress();
    const event = manager.interface.parseLog(receipt!.logs.find((l) => l.address === managerAddress)!);
    expect(event!.args.subscriptionId).to.equal(id);
    expect(event!.args.subscriber).to.equal(fx.subscriber.address);
    expect(event!.args.feed).to.equal(feed);
    expect(event!.args.rounds).to.equal(5n);
    expect(event!.args.startTime).to.equal(params.startTime);
    expect(event!.args.funded).to.equal(funded);
    expect(event!.args.params.inputArgs).to.equal(params.inputArgs);
    expect(event!.args.params.description).to.equal(params.description);
    expect(before - (await token.balanceOf(fx.subscriber.address))).to.equal(funded);
    expect(await token.balanceOf(await manager.getAddress())).to.equal(funded);

    const s = await manager.subscriptionOf(id);
    expect(s.subscriber).to.equal(fx.subscriber.address);
    expect([s.modelId, s.version, s.mode, s.redundancy]).to.deep.equal([1n, 1n, BigInt(Mode.Tee), 1n]);
    expect([s.startTime, s.period, s.rounds, s.roundDuration, s.nextRound, s.latestRound]).to.deep.equal([
      BigInt(params.startTime),
      BigInt(PERIOD),
      5n,
      BigInt(ROUND_DURATION),
      0n,
      0n,
    ]);
    expect(s.status).to.equal(BigInt(SubscriptionStatus.Active));
    expect(s.balance).to.equal(funded);
    expect(s.fractionBits).to.equal(16n);
    expect(s.inputSource).to.equal(await fx.window.getAddress());
    expect(await manager.inputArgsOf(id)).to.equal(params.inputArgs);
    expect(await manager.subscriptionCount()).to.equal(1n);
    expect(await manager.roundCost(id)).to.deep.equal([JOB_COST, JOB_COST + KEEPER_REWARD]);
  });

  it("deploys a feed clone that names its manager, subscription, decimals, description and terms", async () => {
    const fx = await loadSubscriptions();
    const { id, feed } = await subscribe(fx);
    expect(await feed.manager()).to.equal(await fx.manager.getAddress());
    expect(await feed.subscriptionId()).to.equal(id);
    expect(await feed.decimals()).to.equal(4n);
    expect(await feed.description()).to.equal("S&P 500 volatility forecast (TEE)");
    expect(await feed.version()).to.equal(1n);
    expect(await feed.terms()).to.deep.equal([1n, 1n, BigInt(Mode.Tee), 1n]);
    const label = await subscribe(fx, { answerKind: AnswerKind.Label, description: "" });
    expect(await label.feed.decimals()).to.equal(0n);
    expect(await label.feed.description()).to.equal("");
    expect(label.id).to.equal(id + 1n);
  });

  it("starts now when startTime is zero and counts the rounds due before endTime", async () => {
    const fx = await loadSubscriptions();
    const now = BigInt(await time.latest()) + 1n;
    const { id } = await subscribe(fx, { startTime: 0, rounds: 0, endTime: now + BigInt(PERIOD) * 3n + 1n });
    const s = await fx.manager.subscriptionOf(id);
    expect(s.startTime).to.equal(now);
    expect(s.rounds).to.equal(4n);
    const exact = await subscribe(fx, { rounds: 0, endTime: BigInt(await time.latest()) + 60n + BigInt(PERIOD) * 3n });
    expect((await fx.manager.subscriptionOf(exact.id)).rounds).to.equal(3n);
  });

  it("reverts with SubscriptionManagerInvalidPeriod outside 10 seconds .. 365 days", async () => {
    const fx = await loadSubscriptions();
    for (const period of [0, 9, 365 * DAY + 1]) {
      await expect(fx.manager.connect(fx.subscriber).subscribe(await subscriptionParams(fx, { period })))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInvalidPeriod")
        .withArgs(period, 10, 365 * DAY);
    }
  });

  it("reverts with SubscriptionManagerInvalidSchedule without rounds, with both rounds and endTime, or past MAX_ROUNDS", async () => {
    const fx = await loadSubscriptions();
    const start = BigInt(await time.latest()) + 60n;
    for (const [rounds, endTime] of [
      [0, 0n],
      [3, start + 10_000n],
      [100_001, 0n],
      [0, start],
      [0, start - 1n],
    ] as const) {
      await expect(
        fx.manager
          .connect(fx.subscriber)
          .subscribe(await subscriptionParams(fx, { startTime: start, rounds, endTime })),
      )
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInvalidSchedule")
        .withArgs(rounds, endTime, 100_000);
    }
  });

  it("reverts with SubscriptionManagerInvalidStartTime for a start in the past", async () => {
    const fx = await loadSubscriptions();
    const now = BigInt(await time.latest());
    await expect(fx.manager.connect(fx.subscriber).subscribe(await subscriptionParams(fx, { startTime: now - 5n })))
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInvalidStartTime")
      .withArgs(now - 5n, now + 1n);
  });

  it("reverts with SubscriptionManagerModeDisabled for a mode without a verifier", async () => {
    const fx = await loadSubscriptions();
    await expect(fx.manager.connect(fx.subscriber).subscribe(await subscriptionParams(fx, { mode: 5 })))
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerModeDisabled")
      .withArgs(5);
  });

  it("reverts with SubscriptionManagerInvalidRedundancy for an even k, k > 7, and k > 1 in ZK and dual modes", async () => {
    const fx = await loadSubscriptions();
    for (const [mode, redundancy, max] of [
      [Mode.Tee, 2, 7],
      [Mode.Vanilla, 9, 7],
      [Mode.Vanilla, 0, 7],
      [Mode.Zk, 3, 1],
      [Mode.Dual, 3, 1],
    ] as const) {
      await expect(
        fx.manager
          .connect(fx.subscriber)
          .subscribe(await subscriptionParams(fx, { mode, redundancy, zkInputBits: 17 })),
      )
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInvalidRedundancy")
        .withArgs(redundancy, max);
    }
  });

  it("reverts with SubscriptionManagerInvalidRoundDuration outside the escrow's durations", async () => {
    const fx = await loadSubscriptions();
    for (const roundDuration of [29, 30 * DAY + 1]) {
      await expect(fx.manager.connect(fx.subscriber).subscribe(await subscriptionParams(fx, { roundDuration })))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInvalidRoundDuration")
        .withArgs(roundDuration, 30, 30 * DAY);
    }
  });

  it("reverts with SubscriptionManagerDescriptionTooLong beyond 128 bytes", async () => {
    const fx = await loadSubscriptions();
    await subscribe(fx, { description: "x".repeat(128) });
    await expect(
      fx.manager.connect(fx.subscriber).subscribe(await subscriptionParams(fx, { description: "x".repeat(129) })),
    )
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerDescriptionTooLong")
      .withArgs(129, 128);
  });

  it("reverts with SubscriptionManagerInvalidZkParameters for a scale beyond 32 bits or inputs wider than one word", async () => {
    const fx = await loadSubscriptions();
    await expect(
      fx.manager
        .connect(fx.subscriber)
        .subscribe(await subscriptionParams(fx, { mode: Mode.Zk, zkScaleBits: 33, zkInputBits: 17 })),
    )
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInvalidZkParameters")
      .withArgs(33, 17, 0, 0);
    // 4 inputs of 100 bits: 253 / 101 = 2 fit the one-word commitment.
    await expect(
      fx.manager
        .connect(fx.subscriber)
        .subscribe(await subscriptionParams(fx, { mode: Mode.Zk, zkScaleBits: 12, zkInputBits: 100 })),
    )
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInvalidZkParameters")
      .withArgs(12, 100, 4, 2);
    await expect(
      fx.manager
        .connect(fx.subscriber)
        .subscribe(await subscriptionParams(fx, { mode: Mode.Zk, zkScaleBits: 12, zkInputBits: 0 })),
    )
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInvalidZkParameters")
      .withArgs(12, 0, 4, 253);
  });

  it("reverts with SubscriptionManagerInvalidInputSource for long arguments, and with the source's error for bad ones", async () => {
    const fx = await loadSubscriptions();
    const source = await fx.window.getAddress();
    await expect(
      fx.manager
        .connect(fx.subscriber)
        .subscribe(await subscriptionParams(fx, { inputArgs: `0x${"00".repeat(1025)}` })),
    )
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerInvalidInputSource")
      .withArgs(source, 1025, 1024);
    await subscribe(fx, { inputArgs: feedWindowSourceArgs(await fx.aggregator.getAddress(), 64, MAX_AGE) });
    const tooMany = AbiCoder.defaultAbiCoder().encode(
      ["address", "uint16", "uint32"],
      [await fx.aggregator.getAddress(), 65, MAX_AGE],
    );
    await expect(
      fx.manager.connect(fx.subscriber).subscribe(await subscriptionParams(fx, { inputArgs: tooMany })),
    ).to.be.revertedWithCustomError(fx.window, "InputSourceInvalidArgs");
    await expect(
      fx.manager.connect(fx.subscriber).subscribe(await subscriptionParams(fx, { inputArgs: "0x1234" })),
    ).to.be.revertedWithCustomError(fx.window, "InputSourceInvalidArgs");
  });

  it("reverts with SubscriptionManagerCostAboveMax when a round costs more than maxJobCost", async () => {
    const fx = await loadSubscriptions();
    await expect(
      fx.manager.connect(fx.subscriber).subscribe(await subscriptionParams(fx, { maxJobCost: JOB_COST - 1n })),
    )
      .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerCostAboveMax")
      .withArgs(JOB_COST, JOB_COST - 1n);
    await subscribe(fx, { maxJobCost: JOB_COST });
  });

  it("reverts with the registry's error for an unknown model, and the token's without allowance", async () => {
    const fx = await loadSubscriptions();
    await expect(
      fx.manager.connect(fx.subscriber).subscribe(await subscriptionParams(fx, { modelId: 9 })),
    ).to.be.revertedWithCustomError(fx.system.registry, "ModelRegistryUnknownModel");
    await expect(fx.manager.connect(fx.owner).subscribe(await subscriptionParams(fx))).to.be.revertedWithCustomError(
      fx.system.token,
      "ERC20InsufficientAllowance",
    );
    expect(await fx.system.token.balanceOf(await fx.manager.getAddress())).to.equal(0n);
    expect(await hre.ethers.provider.getCode(await fx.manager.feedImplementation())).to.not.equal("0x");
  });
});
