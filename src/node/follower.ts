import type { JsonRpcProvider, Log } from "ethers";
import { sleep, withRetry } from "../sdk/retry";
import type { Logger } from "./log";
import type { JobStore } from "./store";

export interface FollowerOptions {
  address: string;
  topics: string[];
  startBlock: number;
  confirmations: number;
  maxBlockRange: number;
  pollIntervalMs: number;
  rpcTimeoutMs: number;
  /** Applies a batch of logs; runs inside the same SQLite transaction that advances the cursor. */
  apply: (logs: Log[]) => void;
  onError?: (error: unknown) => void;
}

const CURSOR = "lastProcessedBlock";

/**
 * Follows the escrow's logs by polling `eth_getLogs` over bounded ranges of blocks at least `confirmations`
 * deep. The last processed block is stored with the applied logs in one transaction, so a restart resumes
 * exactly where it stopped. No subscriptions: an RPC outage only delays the next poll.
 */
export class ChainFollower {
  constructor(
    private readonly provider: JsonRpcProvider,
    private readonly store: JobStore,
    private readonly log: Logger,
    private readonly options: FollowerOptions,
  ) {}

  get cursor(): number {
    return Number(this.store.getMeta(CURSOR) ?? this.options.startBlock - 1);
  }

  /** Processes one range; returns whether the follower is caught up with the confirmed head. */
  async step(): Promise<boolean> {
    const retry = { timeoutMs: this.options.rpcTimeoutMs, attempts: 2 };
    const head = await withRetry("eth_blockNumber", () => this.provider.getBlockNumber(), retry);
    const safe = head - this.options.confirmations;
    const from = this.cursor + 1;
    if (from > safe) return true;
    const to = Math.min(safe, from + this.options.maxBlockRange - 1);
    const logs = await withRetry(`eth_getLogs ${from}..${to}`, () => this.provider.getLogs({ address: this.options.address, topics: [this.options.topics], fromBlock: from, toBlock: to }), retry);
    this.store.atomically(() => {
      this.options.apply(logs);
      this.store.setMeta(CURSOR, String(to));
    });
    this.log.debug({ from, to, logs: logs.length }, "processed blocks");
    return to === safe;
  }

  /** Polls until `signal` aborts; errors are logged and retried with backoff, never fatal. */
  async run(signal: AbortSignal): Promise<void> {
    let backoff = this.options.pollIntervalMs;
    while (!signal.aborted) {
      try {
        const caughtUp = await this.step();
        backoff = this.options.pollIntervalMs;
        if (caughtUp) await sleep(this.options.pollIntervalMs, signal);
      } catch (error) {
        if (signal.aborted) break;
        this.options.onError?.(error);
        this.log.warn({ err: String((error as Error)?.message ?? error).split("\n")[0], retryInMs: backoff }, "chain follower: RPC failed; retrying");
        await sleep(backoff, signal).catch(() => undefined);
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }
}
