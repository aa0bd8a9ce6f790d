/**
 * The hub's view of subscription feeds (issue #19): `GET /api/feeds` lists every subscription of the deployment's
 * `SubscriptionManager` with its feed's latest verified rounds, `GET /api/feeds/<address>` one feed with more
 * rounds. Read from the chain (the manager's events and the feeds' `AggregatorV3Interface` views) with a short
 * cache, so a page polling it sees the feed advance round by round without loading the endpoint.
 */
import { getAddress, isAddress, type Provider } from "ethers";
import { SubscriptionManager__factory } from "../../typechain-types/factories/contracts/subscriptions/SubscriptionManager__factory";
import { MODE_NAMES } from "../core/modes";
import { listSubscriptions, readFeed, type FeedReading, type SubscriptionInfo } from "../core/subscription";

/** Options of {@link SubscriptionFeeds}. */
export interface SubscriptionFeedsOptions {
  provider: Provider;
  /** The deployment's `subscriptionManager`. */
  manager: string;
  /** The block to read the manager's events from. */
  startBlock: number;
  /** Largest `eth_getLogs` range. Default core's. */
  maxRange?: number;
  /** How long an answer is reused. Default 2 s. */
  cacheMs?: number;
}

/** What the feeds API answers: a status and a JSON body (bigints as decimal strings). */
export interface FeedsAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * Reads the deployment's subscription feeds for the hub's API.
 * @example const feeds = new SubscriptionFeeds({ provider, manager, startBlock }); const { body } = await feeds.answer(new URL("http://hub/api/feeds"));
 */
export class SubscriptionFeeds {
  private readonly manager;
  private subscriptions: SubscriptionInfo[] = [];
  private scannedTo: number;
  private readonly cache = new Map<string, { at: number; answer: Promise<FeedsAnswer> }>();

  constructor(private readonly options: SubscriptionFeedsOptions) {
    this.manager = SubscriptionManager__factory.connect(options.manager, options.provider);
    this.scannedTo = options.startBlock - 1;
  }

  /** The answer to `GET /api/feeds` or `GET /api/feeds/<address>` (404 for another path or an unknown feed). */
  answer(url: URL): Promise<FeedsAnswer> {
    const key = url.pathname.replace(/\/$/, "");
    const hit = this.cache.get(key);
    if (hit !== undefined && Date.now() - hit.at < (this.options.cacheMs ?? 2_000)) return hit.answer;
    const answer = this.compute(key).catch((error: unknown) => {
      this.cache.delete(key);
      throw error;
    });
    this.cache.set(key, { at: Date.now(), answer });
    return answer;
  }

  private async compute(path: string): Promise<FeedsAnswer> {
    await this.discover();
    if (path === "/api/feeds") {
      const [feeds, block] = await Promise.all([
        Promise.all(this.subscriptions.map((s) => this.entry(s, 5))),
        this.options.provider.getBlock("latest"),
      ]);
      // The chain's clock: a page shows ages against it, not against the browser's.
      return { status: 200, body: { manager: this.options.manager, chainTime: block?.timestamp ?? null, feeds } };
    }
    const address = /^\/api\/feeds\/([^/]+)$/.exec(path)?.[1];
    const info =
      address !== undefined && isAddress(address)
        ? this.subscriptions.find((s) => s.feed === getAddress(address))
        : undefined;
    if (info === undefined)
      return { status: 404, body: { error: "NotFound", message: `No subscription feed at ${path}.` } };
    return { status: 200, body: await this.entry(info, 20) };
  }

  private async discover(): Promise<void> {
    const head = await this.options.provider.getBlockNumber();
    if (head <= this.scannedTo) return;
    const found = await listSubscriptions({
      manager: this.manager,
      provider: this.options.provider,
      fromBlock: this.scannedTo + 1,
      toBlock: head,
      maxRange: this.options.maxRange,
    });
    this.subscriptions.push(...found);
    this.scannedTo = head;
  }

  private async entry(info: SubscriptionInfo, rounds: number): Promise<Record<string, unknown>> {
    const reading = await readFeed(this.options.provider, info.feed, { rounds });
    return plain({
      subscriptionId: info.id,
      subscriber: info.subscriber,
      feed: info.feed,
      description: reading.description,
      decimals: reading.decimals,
      modelId: info.modelId,
      version: info.version,
      mode: MODE_NAMES[info.mode],
      redundancy: info.redundancy,
      period: info.period,
      startTime: info.startTime,
      rounds: info.rounds,
      inputSource: info.inputSource,
      state: reading.subscription ?? null,
      latest: reading.latest ?? null,
      recent: reading.rounds satisfies FeedReading["rounds"],
    });
  }
}

/** `value` with every bigint as its decimal string, for JSON. */
function plain(value: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v))) as Record<
    string,
    unknown
  >;
}
