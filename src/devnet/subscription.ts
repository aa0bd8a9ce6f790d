/**
 * Recurring verified inference on a devnet (issue #19): a mock `AggregatorV3Interface` price feed that replays the
 * bundled S&P 500 daily closes (one close per tick), and subscriptions that run the volatility model every period
 * over it (TEE, and ZK when the model has a circuit), their inputs read on-chain by `RealizedVolatilitySource`. A
 * keeper account starts each round when it is due; the operator daemons serve the round jobs as any job, and every
 * verified answer lands in the subscription's feed, which a `FeedConsumerExample` reads like a price feed.
 */
import { NonceManager, Wallet, type JsonRpcProvider } from "ethers";
import {
  FeedConsumerExample__factory,
  MockAggregator__factory,
  SubscriptionFeed__factory,
} from "../../typechain-types";
import type { MockAggregator } from "../../typechain-types";
import type { ISubscriptionManager } from "../../typechain-types/contracts/subscriptions/SubscriptionManager";
import { firstLine } from "../core/errors";
import { silentLogger } from "../core/log";
import { Mode, MODE_NAMES, MODES, modeMask } from "../core/modes";
import { sleep } from "../core/retry";
import { AnswerKind, answerToNumber, parseSubscriptionCreated, volatilitySourceArgs } from "../core/subscription";
import type { AnyBundledModel } from "../models";
import { loadSp500Daily } from "../models/datasets";
import { signerRoundStarter, SubscriptionKeeper } from "../node/subscription-keeper";
import type { Devnet } from "./devnet";

const TOKEN = 10n ** 18n;
/** The bundled volatility model's name. */
const VOLATILITY_MODEL = "sp500-volatility-mlp";
/** Feed decimals, as Chainlink's USD feeds. */
const FEED_DECIMALS = 8;
/** The 67 closes the volatility features need, then one more so the first round has a full window. */
const HISTORY = 68;

/** Options of {@link startDevnetSubscriptions}. */
export interface DevnetSubscriptionsOptions {
  /** Seconds between rounds. Default 20. */
  period?: number;
  /** A new close every this many ms. Default 10,000. */
  tickMs?: number;
  /** Rounds per subscription. Default 500. */
  rounds?: number;
  /** The first close fed after the seeded history: the first trading day on or after this date. Default 2019-11-01. */
  from?: string;
  /** Answered rounds of every feed to wait for before returning. Default 2. */
  waitRounds?: number;
  /** Longest wait for them, in ms. Default 300,000. */
  timeoutMs?: number;
  log?: (line: string) => void;
}

/** One subscription of the devnet and its feed. */
export interface DevnetFeed {
  mode: Mode;
  subscriptionId: bigint;
  feed: string;
}

/** What {@link startDevnetSubscriptions} runs. */
export interface DevnetSubscriptions {
  /** The mock S&P 500 price feed. */
  priceFeed: string;
  feeds: DevnetFeed[];
  /** A `FeedConsumerExample` reading the first feed (TEE), accepting TEE, ZK and dual answers up to 10 minutes old. */
  consumer: string;
  /** Stops the feed's ticks and the keeper (the subscriptions stay; their remaining rounds go unstarted). */
  stop(): void;
}

/**
 * Deploys the S&P 500 price feed, subscribes to the volatility model over it (TEE; ZK too when the model has a
 * circuit and an operator serves ZK), and keeps the feed ticking and the rounds starting in the background; resolves
 * once every feed has `waitRounds` verified answers, printed with the consumer's reading.
 * @throws Error when the devnet has no volatility model, or the rounds are not answered in time.
 * @example const subscriptions = await startDevnetSubscriptions(devnet, { log: console.log });
 */
export async function startDevnetSubscriptions(
  devnet: Devnet<AnyBundledModel>,
  options: DevnetSubscriptionsOptions = {},
): Promise<DevnetSubscriptions> {
  const log = options.log ?? (() => undefined);
  const period = options.period ?? 20;
  const entry = devnet.models.find((m) => m.model.name === VOLATILITY_MODEL);
  if (entry === undefined) throw new Error(`the devnet has no ${VOLATILITY_MODEL} model to subscribe to`);
  const { provider, system } = devnet;
  const [oracle, subscriber, keeper] = await Promise.all(["oracle", "subscriber", "keeper"].map(() => account(devnet)));

  // The price feed, with the history the first round's features need already in the past.
  const series = loadSp500Daily();
  const first = Math.max(
    HISTORY,
    series.dates.findIndex((d) => d >= (options.from ?? "2019-11-01")),
  );
  const answerOf = (i: number) => BigInt(Math.round(series.close[i]! * 10 ** FEED_DECIMALS));
  const priceFeed = await new MockAggregator__factory(oracle).deploy(
    await oracle.getAddress(),
    FEED_DECIMALS,
    "S&P 500 / USD (devnet replay of daily closes)",
  );
  await priceFeed.waitForDeployment();
  await (
    await priceFeed.updateAnswers(
      series.close.slice(first - HISTORY, first).map((_, i) => answerOf(first - HISTORY + i)),
    )
  ).wait();
  let next = first;
  const dateOfRound = (feedRound: bigint) => series.dates[first - HISTORY + Number(feedRound) - 1] ?? "?";
  log(
    `\nS&P 500 price feed ${await priceFeed.getAddress()}: ${HISTORY} daily closes up to ${series.dates[first - 1]}, then one close every ${(options.tickMs ?? 10_000) / 1000} s`,
  );

  // The subscriptions: the TEE operator's mode always, ZK when the model has a circuit and someone serves it.
  const modes: Mode[] = [Mode.Tee];
  if (entry.zk !== undefined && devnet.operators.some((o) => o.modes.includes("zk"))) modes.push(Mode.Zk);
  const manager = system.subscriptionManager.connect(subscriber);
  const version = await system.registry.versionCount(entry.modelId);
  const feeds: DevnetFeed[] = [];
  const managerAddress = await manager.getAddress();
  await (await system.token.connect(subscriber).approve(managerAddress, 2n ** 255n)).wait();
  const fromBlock = await provider.getBlockNumber();
  for (const mode of modes) {
    const [jobCost] = await system.escrow.quote(entry.modelId, version, mode, 1, TOKEN / 2n);
    const params: ISubscriptionManager.SubscriptionParamsStruct = {
      modelId: entry.modelId,
      version,
      mode,
      redundancy: 1,
      feePerNode: TOKEN / 2n,
      collateral: 10n * TOKEN,
      keeperReward: TOKEN / 100n,
      maxJobCost: jobCost * 2n,
      startTime: BigInt((await provider.getBlock("latest"))!.timestamp) + 5n,
      period,
      rounds: options.rounds ?? 500,
      endTime: 0,
      roundDuration: 120,
      answerKind: AnswerKind.Value,
      zkScaleBits: entry.zk?.zk.model.scaleBits ?? 0,
      zkInputBits: entry.zk?.zk.model.inputBits ?? 0,
      inputSource: await system.realizedVolatilitySource.getAddress(),
      inputArgs: volatilitySourceArgs(await priceFeed.getAddress(), 3_600),
      description: `S&P 500 volatility, next 5 days (% per day), ${VOLATILITY_MODEL} in ${MODE_NAMES[mode]} mode`,
    };
    const receipt = await (await manager.subscribe(params)).wait();
    const info = receipt!.logs.map((l) => parseSubscriptionCreated(manager, l)).find((i) => i !== undefined)!;
    feeds.push({ mode, subscriptionId: info.id, feed: info.feed });
    log(
      `  subscription ${info.id} (${labelOf(mode)}): model ${entry.modelId}@${version}, a round every ${period} s, ${info.rounds} rounds funded (${Number(info.funded) / 1e18} tokens); feed ${info.feed}`,
    );
  }

  // Background: the feed ticks, the keeper starts due rounds.
  const stops: (() => void)[] = [];
  stops.push(
    every(options.tickMs ?? 10_000, log, "price feed tick", async () => {
      if (next >= series.close.length) return;
      await (await priceFeed.updateAnswers([answerOf(next)])).wait();
      next += 1;
    }),
  );
  const roundKeeper = new SubscriptionKeeper({
    manager: system.subscriptionManager.connect(provider),
    provider,
    start: signerRoundStarter(system.subscriptionManager.connect(keeper)),
    modes: new Set(modes),
    startBlock: fromBlock,
    rpcTimeoutMs: 10_000,
    log: silentLogger,
  });
  stops.push(
    every(1_000, log, "subscription keeper", async () => {
      await roundKeeper.check();
    }),
  );
  const stop = () => stops.forEach((s) => s());

  try {
    await waitForAnswers(
      devnet,
      feeds,
      options.waitRounds ?? 2,
      options.timeoutMs ?? 300_000,
      dateOfRound,
      priceFeed,
      log,
    );
  } catch (error) {
    stop();
    throw error;
  }
  const consumer = await new FeedConsumerExample__factory(subscriber).deploy(
    feeds[0]!.feed,
    managerAddress,
    600,
    modeMask([Mode.Tee, Mode.Zk, Mode.Dual]),
  );
  await consumer.waitForDeployment();
  await (await consumer.refresh()).wait();
  const [answer, round] = [await consumer.answer(), await consumer.roundId()];
  log(
    `  FeedConsumerExample ${await consumer.getAddress()} read feed ${feeds[0]!.feed} through latestRoundData: round ${round}, ${answerToNumber(answer, 4)} % per day (fresh, TEE-verified, its job settled)`,
  );
  for (const f of feeds) log(`  npm run vin -- feed ${f.feed}`);
  return { priceFeed: await priceFeed.getAddress(), feeds, consumer: await consumer.getAddress(), stop };
}

function labelOf(mode: Mode): string {
  return MODES.find((m) => m.mode === mode)?.label ?? MODE_NAMES[mode];
}

/** A new account funded with gas and tokens by the devnet. */
async function account(devnet: Devnet<AnyBundledModel>): Promise<NonceManager> {
  const wallet = Wallet.createRandom().connect(devnet.provider as JsonRpcProvider);
  await devnet.fund(wallet.address, { eth: 10n * TOKEN, tokens: 5_000n * TOKEN });
  return new NonceManager(wallet);
}

/** Runs `body` every `ms` in the background (never two at once); a failure is printed once until the next success. */
function every(ms: number, log: (line: string) => void, name: string, body: () => Promise<void>): () => void {
  let busy = false;
  let failing = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    body()
      .then(() => (failing = false))
      .catch((error: unknown) => {
        if (!failing) log(`  ${name} failed: ${firstLine(error)}`);
        failing = true;
      })
      .finally(() => (busy = false));
  }, ms);
  timer.unref();
  return () => clearInterval(timer);
}

/** Waits until every feed has `rounds` answers, printing each as it arrives. */
async function waitForAnswers(
  devnet: Devnet<AnyBundledModel>,
  feeds: DevnetFeed[],
  rounds: number,
  timeoutMs: number,
  dateOfRound: (feedRound: bigint) => string,
  priceFeed: MockAggregator,
  log: (line: string) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const seen = new Map<string, Set<bigint>>(feeds.map((f) => [f.feed, new Set()]));
  while ([...seen.values()].some((s) => s.size < rounds)) {
    if (Date.now() > deadline)
      throw new Error(
        `the subscriptions' feeds did not get ${rounds} verified answers within ${timeoutMs / 1000} s (see .vin/nodes/*.log)`,
      );
    for (const f of feeds) {
      const feed = SubscriptionFeed__factory.connect(f.feed, devnet.provider);
      const [roundId, answer, startedAt, updatedAt] = await feed
        .latestRoundData()
        .catch(() => [0n, 0n, 0n, 0n] as const);
      const got = seen.get(f.feed)!;
      if (roundId === 0n || got.has(roundId) || got.size >= rounds) continue;
      got.add(roundId);
      const job = await feed.jobOf(roundId);
      // The input is as of the due time: the last close the feed had before it.
      const asOf = await lastRoundBefore(priceFeed, startedAt);
      log(
        `  [${labelOf(f.mode)}] feed round ${roundId}: ${answerToNumber(answer, 4)} % per day over the next 5 days, from the closes up to ${dateOfRound(asOf)}; job ${job} settled ${Number(updatedAt - startedAt)} s after the round was due`,
      );
    }
    await sleep(1_000);
  }
}

/** The price feed's last round written before `time`. */
async function lastRoundBefore(priceFeed: MockAggregator, time: bigint): Promise<bigint> {
  let round = await priceFeed.latestRound();
  while (round > 1n) {
    const [, , , updatedAt] = await priceFeed.getRoundData(round);
    if (updatedAt < time) break;
    round -= 1n;
  }
  return round;
}
