/**
 * The one chain log follower, used by the operator node and by the hub's indexer: it polls `eth_getLogs` over
 * bounded ranges of blocks at least `confirmations` deep, applies each range's logs in the same database
 * transaction that advances its cursor (so a restart resumes exactly where it stopped), and remembers the hashes of
 * recent blocks. When the stored hash of the cursor block no longer matches the chain, the blocks above the newest
 * remembered block that still matches were dropped by a reorganisation: it rewinds to that block (`rewind`) and
 * reads the new blocks again. No subscriptions: an RPC outage only delays the next poll.
 */
import type { Block, Log, Provider } from "ethers";
import type Database from "better-sqlite3";
import { TransportError, firstLine } from "./errors";
import type { Logger } from "./log";
import { getLogsChunked } from "./logs";
import { sleep, withRetry } from "./retry";

/** Where a follower keeps its cursor and the hashes of recent blocks; writes happen inside `atomically`. */
export interface CursorStore {
  /** The last processed block, or undefined before the first range. */
  cursor(): number | undefined;
  setCursor(block: number): void;
  blockHash(number: number): string | undefined;
  /** Remembered blocks, oldest first. */
  blockHashes(): { number: number; hash: string }[];
  /** Remembers `blocks` and forgets those below `keepFrom`. */
  recordBlocks(blocks: { number: number; hash: string }[], keepFrom: number): void;
  /** Forgets remembered blocks above `block`. */
  forgetAbove(block: number): void;
  /** Runs `fn` in one database transaction. */
  atomically<T>(fn: () => T): T;
}

/**
 * A {@link CursorStore} in two tables of an SQLite database the caller owns (the node's or the hub's), keyed by
 * `name` so one database can hold several followers.
 * @example const cursor = new SqliteCursorStore(db, "escrow");
 */
export class SqliteCursorStore implements CursorStore {
  private readonly stmt;

  constructor(
    private readonly db: Database.Database,
    private readonly name: string,
  ) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS follower_cursors (name TEXT PRIMARY KEY, block INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS follower_blocks (name TEXT NOT NULL, number INTEGER NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (name, number));
    `);
    this.stmt = {
      cursor: db.prepare("SELECT block FROM follower_cursors WHERE name = ?"),
      setCursor: db.prepare(
        "INSERT INTO follower_cursors (name, block) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET block = excluded.block",
      ),
      blockHash: db.prepare("SELECT hash FROM follower_blocks WHERE name = ? AND number = ?"),
      blockHashes: db.prepare("SELECT number, hash FROM follower_blocks WHERE name = ? ORDER BY number"),
      record: db.prepare("INSERT OR REPLACE INTO follower_blocks (name, number, hash) VALUES (?, ?, ?)"),
      prune: db.prepare("DELETE FROM follower_blocks WHERE name = ? AND number < ?"),
      forgetAbove: db.prepare("DELETE FROM follower_blocks WHERE name = ? AND number > ?"),
    };
  }

  cursor(): number | undefined {
    return (this.stmt.cursor.get(this.name) as { block: number } | undefined)?.block;
  }

  setCursor(block: number): void {
    this.stmt.setCursor.run(this.name, block);
  }

  blockHash(number: number): string | undefined {
    return (this.stmt.blockHash.get(this.name, number) as { hash: string } | undefined)?.hash;
  }

  blockHashes(): { number: number; hash: string }[] {
    return this.stmt.blockHashes.all(this.name) as { number: number; hash: string }[];
  }

  recordBlocks(blocks: { number: number; hash: string }[], keepFrom: number): void {
    for (const b of blocks) this.stmt.record.run(this.name, b.number, b.hash);
    this.stmt.prune.run(this.name, keepFrom);
  }

  forgetAbove(block: number): void {
    this.stmt.forgetAbove.run(this.name, block);
  }

  atomically<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : this.db.transaction(fn)();
  }
}

/** Options of {@link LogFollower}. */
export interface FollowerOptions {
  /** Contract address(es) whose logs to read. */
  address: string | string[];
  /** Event topics (any of them). */
  topics: string[];
  /** First block to read. */
  startBlock: number;
  /** Blocks a log must be buried under before it is applied. */
  confirmations: number;
  /** Largest block range per `eth_getLogs`. */
  maxBlockRange: number;
  pollIntervalMs: number;
  /** Per-request timeout. */
  rpcTimeoutMs: number;
  /** Block hashes remembered behind the cursor, to find where a fork began. Default 256. */
  reorgWindow?: number;
  /** Applies a range's logs (in block order); runs inside the transaction that advances the cursor. May be async only in what it awaits before writing: see `prepare`. */
  apply: (logs: Log[], range: { from: number; to: number }) => void;
  /** Fetches what `apply` needs from outside the database (cards, timestamps) before the transaction. */
  prepare?: (logs: Log[], range: { from: number; to: number }) => Promise<void>;
  /** Undoes what blocks above `ancestor` recorded; runs inside the transaction that rewinds the cursor. */
  rewind: (ancestor: number) => void;
  /** Called after a range is committed (to wake whoever acts on it). */
  onApplied?: (logs: Log[]) => void;
  /** Called by {@link LogFollower.run} at each poll that finds the follower caught up, before it sleeps (the hub retries card fetches there); a failure backs off like a failed step. */
  onCaughtUp?: () => Promise<void>;
  onError?: (error: unknown) => void;
}

/** The chain changed while a range was read (a log's block hash differs from the block read first). */
export class ChainMovedError extends TransportError {
  override name = "ChainMovedError";
}

/**
 * Follows a contract's logs with reorganisation handling (see the file comment).
 * @example
 * const follower = new LogFollower(provider, new SqliteCursorStore(db, "escrow"), log, { address, topics, startBlock, confirmations: 2, maxBlockRange: 2_000, pollIntervalMs: 1_000, rpcTimeoutMs: 10_000, apply, rewind });
 * await follower.run(abort.signal);
 */
export class LogFollower {
  constructor(
    private readonly provider: Provider,
    private readonly store: CursorStore,
    private readonly log: Logger,
    private readonly options: FollowerOptions,
  ) {}

  /** The last processed block (one before the start block at first). */
  get cursor(): number {
    return this.store.cursor() ?? this.options.startBlock - 1;
  }

  /** Processes one range, or rewinds after a reorganisation; returns whether the follower is caught up. */
  async step(): Promise<boolean> {
    const cursor = this.cursor;
    const stored = this.store.blockHash(cursor);
    const head = await this.head();
    // Whether the cursor block is still on the chain, read from the head or the block after the cursor when they
    // are at hand (one request per idle poll), otherwise from the block after the cursor.
    const next =
      head.number === cursor + 1
        ? head
        : head.number > cursor + 1 && stored !== undefined
          ? await this.block(cursor + 1)
          : undefined;
    if (stored !== undefined) {
      const onChain = head.number === cursor ? head.hash : head.number < cursor ? undefined : next?.parentHash;
      if (onChain !== stored && (await this.rewind(cursor, stored, onChain ?? undefined))) return false;
    }
    const safe = head.number - this.options.confirmations;
    const from = cursor + 1;
    if (from > safe) return true;
    const to = Math.min(safe, from + this.options.maxBlockRange - 1);
    // The hash of `to` is read before its logs: if the chain moves in between, the next poll sees the stored hash
    // disagree and rewinds, instead of keeping logs of one chain under the hash of another.
    const last = to === head.number ? head : to === next?.number ? next : await this.block(to);
    if (last === undefined)
      throw new ChainMovedError(`block ${to} disappeared while the follower read it; reading again`);
    // One request: the range is at most `maxBlockRange` blocks.
    const logs = await getLogsChunked(this.provider, {
      address: this.options.address,
      topics: [this.options.topics],
      fromBlock: from,
      toBlock: to,
      maxRange: this.options.maxBlockRange,
      retry: this.retry,
    });
    const moved = logs.find((l) => l.removed || (l.blockNumber === to && l.blockHash !== last.hash));
    if (moved !== undefined)
      throw new ChainMovedError(
        `block ${to} changed while its logs were read (${last.hash} then ${moved.blockHash}); reading it again`,
      );
    await this.options.prepare?.(logs, { from, to });
    const hashes = new Map<number, string>(logs.map((l) => [l.blockNumber, l.blockHash]));
    hashes.set(to, last.hash!);
    this.store.atomically(() => {
      this.options.apply(logs, { from, to });
      this.store.recordBlocks(
        [...hashes].map(([number, hash]) => ({ number, hash })),
        to - (this.options.reorgWindow ?? 256),
      );
      this.store.setCursor(to);
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
        if (caughtUp) {
          await this.options.onCaughtUp?.();
          await sleep(this.options.pollIntervalMs, signal).catch(() => undefined);
        }
      } catch (error) {
        if (signal.aborted) break;
        this.options.onError?.(error);
        this.log.warn({ err: firstLine(error), retryInMs: backoff }, "chain follower: RPC failed; retrying");
        await sleep(backoff, signal).catch(() => undefined);
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }

  /**
   * The cursor block's hash seems to have changed (`now` is what the chain says, if it still has that block): finds
   * the newest remembered block the chain still has (a binary search, as a matching block implies matching
   * ancestors), rewinds to it, and lets the next step read from there. A fork deeper than every remembered block
   * rewinds to the start block. Returns false, rewinding nothing, if the cursor block itself still matches: the chain
   * only moved while it was read, or the node gave a parent hash that is not the parent's hash (Hardhat does, for
   * blocks made by `hardhat_mine`), and the step goes on reading.
   */
  private async rewind(cursor: number, stored: string, now: string | undefined): Promise<boolean> {
    if ((await this.block(cursor))?.hash === stored) return false;
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
    if (ancestor === cursor) return false;
    this.store.atomically(() => {
      this.options.rewind(ancestor);
      this.store.forgetAbove(ancestor);
      this.store.setCursor(ancestor);
    });
    this.log.warn(
      { block: cursor, storedHash: stored, chainHash: now ?? null, rewoundTo: ancestor, depth: cursor - ancestor },
      "chain reorganisation: blocks this node processed were dropped; rewinding and reading them again",
    );
    return true;
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
