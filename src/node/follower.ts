import type { Block, JsonRpcProvider, Log } from "ethers";
import { TransportError, BaseError } from "../core/errors";
import { sleep, withRetry } from "../core/retry";
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
  /** Block hashes kept to find where a reorganisation forked (blocks behind the cursor). Default 256. */
  reorgWindow?: number;
  /** Applies a batch of logs; runs inside the same SQLite transaction that advances the cursor. */
  apply: (logs: Log[]) => void;
  /** Undoes what the blocks above `ancestor` told the node; runs inside the transaction that rewinds the cursor. */
  rewind: (ancestor: number) => void;
  /** Called after a batch of logs is committed (to wake whoever acts on them). */
  onApplied?: (logs: Log[]) => void;
  onError?: (error: unknown) => void;
}

const CURSOR = "lastProcessedBlock";

/** The chain changed while a range was read (a log's block hash differs from the block read first). */
export class ChainMovedError extends BaseError {
  override readonly name = "ChainMovedError";
}

/**
 * Follows the escrow's logs by polling `eth_getLogs` over bounded ranges of blocks at least `confirmations`
 * deep. The last processed block is stored with the applied logs in one transaction, so a restart resumes
 * exactly where it stopped, together with the hashes of recently processed blocks: when the stored hash of the
 * cursor block no longer matches the chain, the blocks above the newest block that still matches were dropped by
 * a reorganisation, and the follower rewinds to it (`rewind`) and reads the new blocks again. No
 * subscriptions: an RPC outage only delays the next poll.
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

  /** Processes one range, or rewinds after a reorganisation; returns whether the follower is caught up. */
  async step(): Promise<boolean> {
    const cursor = this.cursor;
    const stored = this.store.blockHash(cursor);
    const head = await this.head();
    // Whether the cursor block is still on the chain, read from the head or the block after the cursor when they
    // are at hand (one request per idle poll), otherwise from the block after the cursor.
    const next = head.number === cursor + 1 ? head : head.number > cursor + 1 && stored !== undefined ? await this.block(cursor + 1) : undefined;
    if (stored !== undefined) {
      const onChain = head.number === cursor ? head.hash : head.number < cursor ? undefined : next?.parentHash;
      if (onChain !== stored) {
        await this.rewind(cursor, stored, onChain ?? undefined);
        return false;
      }
    }
    const safe = head.number - this.options.confirmations;
    const from = cursor + 1;
    if (from > safe) return true;
    const to = Math.min(safe, from + this.options.maxBlockRange - 1);
    // The hash of `to` is read before its logs: if the chain moves in between, the next poll sees the stored hash
    // disagree and rewinds, instead of keeping logs of one chain under the hash of another.
    const last = to === head.number ? head : to === next?.number ? next : await this.block(to);
    if (last === undefined) throw new ChainMovedError(`block ${to} disappeared while the follower read it; reading again`);
    const logs = await withRetry(`eth_getLogs ${from}..${to}`, () => this.provider.getLogs({ address: this.options.address, topics: [this.options.topics], fromBlock: from, toBlock: to }), this.retry);
    const moved = logs.find((l) => l.removed || (l.blockNumber === to && l.blockHash !== last.hash));
    if (moved !== undefined) throw new ChainMovedError(`block ${to} changed while its logs were read (${last.hash} then ${moved.blockHash}); reading it again`);
    const hashes = new Map<number, string>(logs.map((l) => [l.blockNumber, l.blockHash]));
    hashes.set(to, last.hash!);
    this.store.atomically(() => {
      this.options.apply(logs);
      this.store.recordBlocks([...hashes].map(([number, hash]) => ({ number, hash })), to - (this.options.reorgWindow ?? 256));
      this.store.setMeta(CURSOR, String(to));
    });
    if (logs.length > 0) this.options.onApplied?.(logs);
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
        if (caughtUp) await sleep(this.options.pollIntervalMs, signal).catch(() => undefined);
      } catch (error) {
        if (signal.aborted) break;
        this.options.onError?.(error);
        this.log.warn({ err: String((error as Error)?.message ?? error).split("\n")[0], retryInMs: backoff }, "chain follower: RPC failed; retrying");
        await sleep(backoff, signal).catch(() => undefined);
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }

  /**
   * The cursor block's hash seems to have changed (`now` is what the chain says, if it still has that block): finds
   * the newest remembered block the chain still has (a binary search, as a matching block implies matching
   * ancestors), rewinds to it, and lets the next step read from there. A fork deeper than every remembered block
   * rewinds to the start block. If the cursor block itself still matches, the chain only moved while it was read.
   */
  private async rewind(cursor: number, stored: string, now: string | undefined): Promise<void> {
    const known = this.store.blockHashes().filter((b) => b.number <= cursor);
    let [low, high, ancestor] = [0, known.length - 1, this.options.startBlock - 1];
    while (low <= high) {
      const mid = (low + high) >> 1;
      const entry = known[mid]!;
      if ((await this.block(entry.number))?.hash === entry.hash) {
        ancestor = entry.number;
        low = mid + 1;
      } else high = mid - 1;
    }
    if (ancestor === cursor) return;
    this.store.atomically(() => {
      this.options.rewind(ancestor);
      this.store.setMeta(CURSOR, String(ancestor));
    });
    this.log.warn({ block: cursor, storedHash: stored, chainHash: now ?? null, rewoundTo: ancestor, depth: cursor - ancestor }, "chain reorganisation: blocks this node processed were dropped; rewinding and reading them again");
  }

  private async head(): Promise<Block> {
    const block = await this.block("latest");
    if (block === undefined) throw new TransportError("eth_getBlockByNumber latest returned nothing");
    return block;
  }

  /** The block `tag`, or undefined if the chain has no such block (it can be shorter after a reorganisation). */
  private async block(tag: number | "latest"): Promise<Block | undefined> {
    return (await withRetry(`eth_getBlockByNumber ${tag}`, () => this.provider.getBlock(tag), this.retry)) ?? undefined;
  }

  private get retry() {
    return { timeoutMs: this.options.rpcTimeoutMs, attempts: 2 };
  }
}
