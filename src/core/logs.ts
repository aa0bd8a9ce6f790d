/**
 * The one bounded range reader of the off-chain code: `eth_getLogs` over a block range split into requests of at
 * most `maxRange` blocks (public endpoints cap the range), each retried with core's `withRetry`. It reads a fixed
 * range once; a process that follows the chain (confirmations, reorganisations) uses `LogFollower`, whose steps
 * read through it.
 */
import type { Log, Provider, TopicFilter } from "ethers";
import { InputError } from "./errors";
import { withRetry, type RetryOptions } from "./retry";

/** Largest block range per request when none is given. */
export const DEFAULT_MAX_BLOCK_RANGE = 2_000;

/** Parameters of {@link getLogsChunked}. */
export interface GetLogsParams {
  address: string | string[];
  topics: TopicFilter;
  fromBlock: number;
  /** Last block read (inclusive); nothing is read when it is below `fromBlock`. */
  toBlock: number;
  /** Largest block range per `eth_getLogs` request. Default 2,000. */
  maxRange?: number;
  /** Retry policy of each request; its `signal` also stops the reading between requests. */
  retry?: RetryOptions;
}

/**
 * The logs of blocks `fromBlock`..`toBlock`, in chain order, read in requests of at most `maxRange` blocks, each
 * retried.
 * @throws InputError when `maxRange` is not a whole number of at least 1; the last request's error (a
 * TransportError when the endpoint stays unreachable) when a request fails every attempt.
 * @example const logs = await getLogsChunked(provider, { address: escrow, topics: [topic], fromBlock: 0, toBlock: 10_000 });
 */
export async function getLogsChunked(provider: Pick<Provider, "getLogs">, params: GetLogsParams): Promise<Log[]> {
  const range = params.maxRange ?? DEFAULT_MAX_BLOCK_RANGE;
  if (!Number.isSafeInteger(range) || range < 1)
    throw new InputError(`maxRange ${range} is out of range: a whole number of blocks, at least 1`, {
      context: { parameter: "maxRange" },
    });
  const logs: Log[] = [];
  for (let from = params.fromBlock; from <= params.toBlock; from += range) {
    const to = Math.min(params.toBlock, from + range - 1);
    const chunk = await withRetry(
      `eth_getLogs ${from}..${to}`,
      () => provider.getLogs({ address: params.address, topics: params.topics, fromBlock: from, toBlock: to }),
      params.retry,
    );
    for (const log of chunk) logs.push(log);
  }
  return logs;
}
