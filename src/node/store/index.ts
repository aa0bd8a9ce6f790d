import type { CursorStore } from "../../core/follower";
import type { Job } from "../../core/job";
import { escrowCursor } from "./cursor";
import { NodeDatabase } from "./database";
import { Earnings } from "./earnings";
import { JobTable, sameTerms, type JobState } from "./jobs";
import { Outbox } from "./outbox";
import { stateAfterRewind } from "./rewind";

export * from "./cursor";
export * from "./database";
export * from "./earnings";
export * from "./jobs";
export * from "./outbox";
export * from "./rewind";

/** What recording a `JobRequested` event did. */
export type RequestOutcome = "inserted" | "known" | "restored" | "replaced";

/** What undoing the dropped blocks changed. */
export interface Rewound {
  /** Transactions pending again. */
  txs: number;
  /** Jobs whose request is waited for again. */
  stale: number;
  jobs: { jobId: bigint; from: JobState; to: JobState }[];
}

/**
 * The operator node's store: the job table, the transaction outbox and the chain cursor over one SQLite database,
 * so that a range of logs, the job states it changes and the cursor commit together. It only coordinates what spans
 * tables (a request that replaces a job, a reorganisation); each part answers for its own.
 * @example const store = new NodeStore(NodeStore.pathIn(dataDir)); store.jobs.get(7n); store.outbox.get(outboxKey.submit(7n));
 */
export class NodeStore {
  readonly db: NodeDatabase;
  readonly jobs: JobTable;
  readonly outbox: Outbox;
  readonly earnings: Earnings;
  private escrowCursor?: CursorStore;

  constructor(file: string, options: { readonly?: boolean } = {}) {
    this.db = new NodeDatabase(file, options);
    this.jobs = new JobTable(this.db);
    this.outbox = new Outbox(this.db);
    this.earnings = new Earnings(this.db);
  }

  /** The database file in a node's data directory. */
  static pathIn(dataDir: string): string {
    return NodeDatabase.pathIn(dataDir);
  }

  get file(): string {
    return this.db.file;
  }

  /** The escrow follower's cursor and recent block hashes (opened on first use: it creates its tables). */
  get cursor(): CursorStore {
    return (this.escrowCursor ??= escrowCursor(this.db.sqlite));
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` in one transaction. */
  private atomically<T>(fn: () => T): T {
    return this.db.atomically(fn);
  }

  getMeta(key: string): string | undefined {
    return this.db.getMeta(key);
  }

  setMeta(key: string, value: string): void {
    this.db.setMeta(key, value);
  }

  /**
   * Records a `JobRequested` event. A job already known with the same terms is left as it is (logs may be read
   * twice), or made current again if a reorganisation had made it stale. A known job id with other terms means
   * the chain now has another job under that id: the old row is moved to `orphaned_jobs`, its transactions are
   * detached (their keys renamed, so the new job signs its own), and the new job is inserted.
   */
  recordRequest(row: { job: Job; input: string; inputUri: string; requestBlock: number }): RequestOutcome {
    return this.atomically(() => {
      const existing = this.jobs.get(row.job.id);
      if (existing === undefined) return this.jobs.insert(row) ? "inserted" : "known";
      if (sameTerms(existing.job, row.job)) {
        if (!existing.stale) return "known";
        this.jobs.restore(row.job.id, row.requestBlock);
        return "restored";
      }
      this.outbox.detach(row.job.id, this.jobs.orphan(row.job.id));
      this.jobs.insert(row);
      return "replaced";
    });
  }

  /**
   * Undoes everything the blocks above `ancestor` told this node, in one transaction: receipts in those blocks
   * are void (the transactions are pending again and their signed bytes will be re-broadcast), jobs requested in
   * them become stale until their request is seen again, and every job whose state rested on a void receipt or
   * event goes back to the state its remaining receipts support ({@link stateAfterRewind}). The cursor is the
   * follower's to rewind.
   */
  rewind(ancestor: number): Rewound {
    return this.atomically(() => {
      const voided = this.outbox.voidAbove(ancestor);
      const stale = this.jobs.markStaleAbove(ancestor);
      const ids = new Set<bigint>();
      for (const tx of voided) {
        if (tx.jobId !== undefined) ids.add(tx.jobId);
        for (const id of this.outbox.batchMembers(tx.key)) ids.add(id);
      }
      for (const id of this.jobs.decidedAbove(ancestor)) ids.add(id);
      const jobs: Rewound["jobs"] = [];
      for (const id of ids) {
        const row = this.jobs.get(id);
        if (row === undefined) continue;
        const to = stateAfterRewind(row, this.outbox.ofJob(id));
        this.jobs.rewindTo(id, to);
        if (to !== row.state) jobs.push({ jobId: id, from: row.state, to });
      }
      return { txs: voided.length, stale, jobs };
    });
  }

  /** @deprecated `store.jobs.countByState()`; kept for `vin status` (src/cli) until it reads the job table. */
  countByState(): Record<JobState, number> {
    return this.jobs.countByState();
  }

  /** @deprecated `store.earnings.earned()`; kept for `vin status` (src/cli). */
  earned(): bigint {
    return this.earnings.earned();
  }

  /** @deprecated `store.earnings.feesPaid()`; kept for `vin status` (src/cli). */
  totalFeesPaid(): bigint {
    return this.earnings.feesPaid();
  }
}

/** @deprecated The node's store is {@link NodeStore}; this name is kept for src/cli, test/node/harness.ts and bench/ until they use it. */
export { NodeStore as JobStore };
