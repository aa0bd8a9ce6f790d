import hre from "hardhat";
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  FeedConsumerExample__factory,
  MockAggregator__factory,
  SubscriptionFeed__factory,
  type FeedConsumerExample,
  type FeedWindowSource,
  type MockAggregator,
  type RealizedVolatilitySource,
  type SubscriptionFeed,
  type SubscriptionManager,
} from "../../../typechain-types";
import type { ISubscriptionManager } from "../../../typechain-types/contracts/subscriptions/SubscriptionManager";
import { COLLATERAL, FEE_PER_NODE, systemFixture, TOKEN, type Fixture } from "../../fixtures/system";
import { Mode } from "../../../src/core/modes";
import { AnswerKind, feedWindowSourceArgs, parseSubscriptionCreated } from "../../../src/core/subscription";
import { requestedJobs, type Job } from "../../../src/core/job";

/** One round's job cost in the fixture: model price 2 + node fee 1 + 5% protocol fee = 3.15 tokens. */
export const JOB_COST = (3n * TOKEN * 105n) / 100n;
export const KEEPER_REWARD = TOKEN / 10n;
export const PERIOD = 600;
export const ROUND_DURATION = 300;
/** The mock feed's decimals and its first prices (8 decimals, around 3000). */
export const FEED_DECIMALS = 8;
export const MAX_AGE = 3_600;

export interface SubscriptionFixture extends Fixture {
  manager: SubscriptionManager;
  aggregator: MockAggregator;
  window: FeedWindowSource;
  volatility: RealizedVolatilitySource;
  subscriber: HardhatEthersSigner;
  keeper: HardhatEthersSigner;
}

/** The system of `systemFixture` (its subscription manager and sources, as deployed) and a mock feed with 70 prices. */
export async function subscriptionFixture(): Promise<SubscriptionFixture> {
  const fx = await systemFixture();
  const { subscriptionManager: manager, feedWindowSource: window, realizedVolatilitySource: volatility } = fx.system;
  const aggregator = await new MockAggregator__factory(fx.deployer).deploy(
    fx.deployer.address,
    FEED_DECIMALS,
    "S&P 500 / USD",
  );
  await aggregator.updateAnswers(prices(70));
  const subscriber = fx.requester;
  await fx.system.token.connect(subscriber).approve(await manager.getAddress(), hre.ethers.MaxUint256);
  const keeper = fx.other;
  return { ...fx, manager, aggregator, window, volatility, subscriber, keeper };
}

/** The fixture restored from its snapshot, one block mined (see `loadSystem`). */
export async function loadSubscriptions(): Promise<SubscriptionFixture> {
  const fx = await loadFixture(subscriptionFixture);
  await mine();
  return fx;
}

/** `n` prices (8 decimals) that wander around 3000: deterministic, positive, moving a little each step. */
export function prices(n: number, seed = 1): bigint[] {
  const out: bigint[] = [];
  let p = 3_000n * 10n ** 8n;
  for (let i = 0; i < n; i++) {
    const step = BigInt(((i * 7919 + seed * 104729) % 201) - 100); // -100 .. 100 basis points of a percent
    p += (p * step) / 10_000n;
    out.push(p);
  }
  return out;
}

/** Subscription parameters: TEE, the fixture's model, 5 rounds every `PERIOD`, the last 4 feed answers as input. */
export async function subscriptionParams(
  fx: SubscriptionFixture,
  overrides: Partial<ISubscriptionManager.SubscriptionParamsStruct> = {},
): Promise<ISubscriptionManager.SubscriptionParamsStruct> {
  return {
    modelId: fx.modelId,
    version: 1,
    mode: Mode.Tee,
    redundancy: 1,
    feePerNode: FEE_PER_NODE,
    collateral: COLLATERAL,
    keeperReward: KEEPER_REWARD,
    maxJobCost: 10n * TOKEN,
    startTime: BigInt(await time.latest()) + 60n,
    period: PERIOD,
    rounds: 5,
    endTime: 0,
    roundDuration: ROUND_DURATION,
    answerKind: AnswerKind.Value,
    zkScaleBits: 0,
    zkInputBits: 0,
    inputSource: await fx.window.getAddress(),
    inputArgs: feedWindowSourceArgs(await fx.aggregator.getAddress(), 4, MAX_AGE),
    description: "S&P 500 volatility forecast (TEE)",
    ...overrides,
  };
}

/** Creates a subscription from the subscriber; returns its id, its feed and its creation receipt. */
export async function subscribe(
  fx: SubscriptionFixture,
  overrides: Partial<ISubscriptionManager.SubscriptionParamsStruct> = {},
): Promise<{ id: bigint; feed: SubscriptionFeed; startTime: bigint }> {
  const receipt = await (
    await fx.manager.connect(fx.subscriber).subscribe(await subscriptionParams(fx, overrides))
  ).wait();
  const info = receipt!.logs.map((log) => parseSubscriptionCreated(fx.manager, log)).find((i) => i !== undefined);
  if (info === undefined) throw new Error("no SubscriptionCreated event");
  return { id: info.id, feed: SubscriptionFeed__factory.connect(info.feed, fx.deployer), startTime: info.startTime };
}

/** Starts the current round of `id` from `caller` (default: the keeper); returns the job it requested. */
export async function startRound(
  fx: SubscriptionFixture,
  id: bigint,
  caller: HardhatEthersSigner = fx.keeper,
): Promise<{ job: Job; input: string; inputUri: string }> {
  const receipt = await (await fx.manager.connect(caller).startRound(id)).wait();
  const [requested] = requestedJobs(fx.system.escrow, receipt);
  if (requested === undefined) throw new Error("no JobRequested event");
  return requested;
}

/** A TEE regressor output: argmax 0, then `value` in units of 10^-4 as a big-endian int32. */
export function teeValueOutput(tenThousandths: number): string {
  const out = new Uint8Array(5);
  new DataView(out.buffer).setInt32(1, tenThousandths);
  return hre.ethers.hexlify(out);
}

/** Deploys a `FeedConsumerExample` reading `feed`, accepting answers up to `maxAge` old from the `modes`. */
export async function deployConsumer(
  fx: SubscriptionFixture,
  feed: SubscriptionFeed,
  maxAge: number,
  modes: number,
): Promise<FeedConsumerExample> {
  return new FeedConsumerExample__factory(fx.deployer).deploy(
    await feed.getAddress(),
    await fx.manager.getAddress(),
    maxAge,
    modes,
  );
}
