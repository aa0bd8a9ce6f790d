import type { Interface } from "ethers";
import { RevertError, StateError } from "../core/errors";
import { decodeZkProof, encodeZkBatchProof } from "../zkml/claim";
import type { Logger } from "./log";
import type { TxSender } from "./sender";
import { JobReplacedError, type JobRow, type JobStore } from "./store";

export interface ZkBatcherOptions {
  escrow: string;
  /** Most jobs per `submitBatch` (at most the escrow's MAX_BATCH). */
  maxBatch: number;
  /** How long the first job of a batch waits for others. */
  windowMs: number;
}

export interface ZkBatcherHooks {
  /** A job the batch could not take (alone in its window, or the batch would revert): submit it on its own. */
  solo(row: JobRow): void;
  /** Jobs moved to `submitted` with a stored batch transaction (wake whoever waits for receipts). */
  submitted(): void;
}

/**
 * Collects computed ZK jobs (k = 1) and settles those of one model version with one `submitBatch`: one batched
 * Groth16 check (n + 3 pairings instead of 4n) and one transaction's overhead for all of them.
 *
 * Crash safety follows the outbox: the batch's members are recorded before its transaction is signed, and a job is
 * moved to `submitted` only once that transaction is stored. After a restart a job whose batch transaction exists
 * waits for its receipt; one whose batch was only planned is batched again. A batch that would revert (one job
 * expired meanwhile) or did revert is not retried: its jobs are submitted one by one, each with its own simulation.
 */
export class ZkBatcher {
  /** Jobs waiting for their batch, by verifier and model version (only jobs of one version can share a proof check). */
  private readonly groups = new Map<string, { rows: Map<bigint, JobRow>; timer?: NodeJS.Timeout }>();
  /** Jobs in a batch being signed and sent. */
  private readonly inflight = new Set<bigint>();
  /** Batches being signed and sent. */
  private readonly flushing = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly store: JobStore,
    private readonly sender: TxSender,
    private readonly iface: Interface,
    private readonly log: Logger,
    private readonly options: ZkBatcherOptions,
    private readonly hooks: ZkBatcherHooks,
  ) {}

  /** Queues a computed job for the next batch of its model version; returns at once. */
  add(row: JobRow): void {
    if (this.stopped || this.inflight.has(row.jobId)) return;
    const key = `${row.job.verifier.toLowerCase()}:${row.job.modelId}@${row.job.version}`;
    let group = this.groups.get(key);
    if (group === undefined) this.groups.set(key, (group = { rows: new Map() }));
    group.rows.set(row.jobId, row);
    if (group.rows.size >= this.options.maxBatch) this.startFlush(key);
    else group.timer ??= setTimeout(() => this.startFlush(key), this.options.windowMs);
  }

  /**
   * At shutdown: forgets the waiting jobs (they stay `computed` in the database and are batched after a restart)
   * and waits for the batches being sent.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const group of this.groups.values()) clearTimeout(group.timer);
    this.groups.clear();
    await Promise.allSettled([...this.flushing]);
  }

  private startFlush(key: string): void {
    const flush = this.flush(key).finally(() => this.flushing.delete(flush));
    this.flushing.add(flush);
  }

  private async flush(key: string): Promise<void> {
    const group = this.groups.get(key);
    if (group === undefined) return;
    clearTimeout(group.timer);
    group.timer = undefined;
    const rows = [...group.rows.values()].slice(0, this.options.maxBatch);
    for (const row of rows) group.rows.delete(row.jobId);
    if (group.rows.size === 0) this.groups.delete(key);
    else group.timer = setTimeout(() => this.startFlush(key), 0);
    for (const row of rows) this.inflight.add(row.jobId);
    try {
      await this.send(rows);
    } catch (error) {
      // A transport failure: the jobs stay `computed` and the scheduler offers them again.
      this.log.warn({ jobs: rows.map((r) => r.jobId.toString()), err: String((error as Error)?.message ?? error).split("\n")[0] }, "batched submission failed; will retry");
    } finally {
      for (const row of rows) this.inflight.delete(row.jobId);
    }
  }

  private async send(candidates: JobRow[]): Promise<void> {
    // Only jobs still computed and not already in a stored submission (theirs or a batch's).
    const rows = candidates.flatMap((c) => {
      const row = this.store.getJob(c.jobId);
      const free = row !== undefined && !row.stale && row.state === "computed" && row.output !== undefined && row.proof !== undefined;
      return free && this.store.txByKey(`submit:${row.jobId}`) === undefined && this.store.batchTxOf(row.jobId) === undefined ? [row] : [];
    });
    // A stored proof that does not decode (never expected) is the job's own problem, not the batch's.
    const proofs = new Map<bigint, ReturnType<typeof decodeZkProof>>();
    for (const row of rows) {
      try {
        proofs.set(row.jobId, decodeZkProof(row.proof!));
      } catch {
        this.hooks.solo(row);
      }
    }
    const batchable = rows.filter((r) => proofs.has(r.jobId));
    if (batchable.length === 0) return;
    if (batchable.length === 1) return this.hooks.solo(batchable[0]!);
    return this.sendBatch(batchable, proofs);
  }

  private async sendBatch(rows: JobRow[], proofs: Map<bigint, ReturnType<typeof decodeZkProof>>): Promise<void> {
    const ids = rows.map((r) => r.jobId);
    const key = `batch:${ids.join(",")}`;
    const proof = encodeZkBatchProof(rows.map((r) => proofs.get(r.jobId)!));
    const data = this.iface.encodeFunctionData("submitBatch", [rows.map((r) => r.job), rows.map((r) => r.output!), proof]);
    this.store.planBatch(key, ids);
    try {
      await this.sender.send({ key, kind: "submit", to: this.options.escrow, data, context: { contract: "escrow", call: "submitBatch" } });
    } catch (error) {
      if (!(error instanceof RevertError)) throw error;
      this.log.warn({ jobs: ids.map(String), err: error.message }, "submitBatch would revert; submitting these jobs one by one");
      for (const row of rows) this.hooks.solo(row);
      return;
    }
    // A member that moved meanwhile (refunded, rewound, replaced) keeps its state: its next step reads the batch.
    for (const row of rows) {
      try {
        this.store.transition(row.jobId, "submitted", {}, row.job);
      } catch (error) {
        if (!(error instanceof JobReplacedError || error instanceof StateError)) throw error;
      }
    }
    this.log.info({ jobs: ids.map(String), key }, `${ids.length} ZK jobs submitted in one batch`);
    this.hooks.submitted();
  }
}
