import type { Provider } from "ethers";
import { LogFollower, type CursorStore, type FollowerOptions } from "../core/follower";
import type { Logger } from "../core/log";
import type { JobStore } from "./store";

/** The meta key of the last processed block. */
const CURSOR = "lastProcessedBlock";

/** The node's database as the follower's cursor store: the cursor in its meta table, hashes in its blocks table. */
class JobStoreCursor implements CursorStore {
  constructor(private readonly store: JobStore) {}

  cursor(): number | undefined {
    const value = this.store.getMeta(CURSOR);
    return value === undefined ? undefined : Number(value);
  }

  setCursor(block: number): void {
    this.store.setMeta(CURSOR, String(block));
  }

  blockHash(number: number): string | undefined {
    return this.store.blockHash(number);
  }

  blockHashes(): { number: number; hash: string }[] {
    return this.store.blockHashes();
  }

  recordBlocks(blocks: { number: number; hash: string }[], keepFrom: number): void {
    this.store.recordBlocks(blocks, keepFrom);
  }

  forgetAbove(block: number): void {
    this.store.forgetBlocksAbove(block);
  }

  atomically<T>(fn: () => T): T {
    return this.store.atomically(fn);
  }
}

/**
 * The operator node's chain follower: the core {@link LogFollower} (bounded `eth_getLogs` ranges, confirmation depth,
 * reorganisations found by stored block hashes and rewound) over the node's own database, so the job state, the
 * outbox and the cursor move in one transaction.
 */
export class ChainFollower extends LogFollower {
  constructor(provider: Provider, store: JobStore, log: Logger, options: FollowerOptions) {
    super(provider, new JobStoreCursor(store), log, options);
  }
}
