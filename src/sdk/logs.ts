import type { Log, Provider, TopicFilter } from "ethers";
import { withRetry, type RetryOptions } from "../core/retry";

export interface GetLogsParams {
  address: string | string[];
  topics: TopicFilter;
  fromBlock: number;
  toBlock: number;
  /** Largest block range per `eth_getLogs` request. Default 2,000. */
  maxRange?: number;
  retry?: RetryOptions;
}

/**
 * `eth_getLogs` in bounded block ranges (public endpoints cap the range), each request retried.
 * @example const logs = await getLogsChunked(provider, { address: escrow, topics: [topic], fromBlock: 0, toBlock: 10_000 });
 */
export async function getLogsChunked(provider: Provider, params: GetLogsParams): Promise<Log[]> {
  const range = params.maxRange ?? 2_000;
  const logs: Log[] = [];
  for (let from = params.fromBlock; from <= params.toBlock; from += range) {
    const to = Math.min(params.toBlock, from + range - 1);
    logs.push(...(await withRetry(`eth_getLogs ${from}..${to}`, () => provider.getLogs({ address: params.address, topics: params.topics, fromBlock: from, toBlock: to }), params.retry)));
  }
  return logs;
}
