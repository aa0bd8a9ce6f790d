import type { Interface } from "ethers";
import { RevertError, StateError } from "../core/errors";
import { modeModule } from "../modes";
import { decodeZkProof, encodeZkBatchProof } from "../zkml/claim";
import type { Logger } from "../core/log";
import type { TxSender } from "./sender";
import { JobReplacedError, outboxKey, type JobRow, type NodeStore } from "./store";

/**
 * How the processor submits a computed job with redundancy 1: in its own `submit`, or gathered with others into one
 * `submitBatch` ({@link ZkBatcher}). Chosen when the node starts and given to the processor when it is built.
 */
export interface SubmissionStrategy {
  /** Whether the job goes into a batch (the processor waits for the batch's receipt); false: it is submitted alone. */
  batches(row: JobRow): boolean;
  /** Takes a computed job whose batch is not stored yet; returns at once. */
  add(row: JobRow): void;
  /** The job settled: nothing more to remember of it. */
  settled(jobId: bigint): void;
  /** At shutdown: waits for what is being sent. */
  stop(): Promise<void>;
}

/** Every job submitted on its own. */
export const SUBMIT_ALONE: SubmissionStrategy = {
  batches: () => false,
  add: () => undefined,
  settled: () => undefined,
  stop: () => Promise.resolve(),
};

export interface ZkBatcherOptions {
  escrow: string;
  /** Most jobs per `submitBatch` (at most the escrow's MAX_BATCH). */
  maxBatch: number;
  /** How long the first job of a batch waits for others. */
  windowMs: number;
}

export interface ZkBatcherHooks {
  /**
   * Jobs moved to `submitted` with a stored batch transaction, or handed back to be submitted alone (alone in their
   * window, or the batch would revert): wake the scheduler.
   */
  wake(): void;
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
export class ZkBatcher implements SubmissionStrategy {
  /** ZK jobs the batch could not take: submitted on their own (until a restart, which batches them again). */
  private readonly solo = new Set<bigint>();
  /** Jobs waiting for their batch, by verifier and model version (only jobs of one version can share a proof check). */
  private readonly groups = new Map<string, { rows: Map<bigint, JobRow>; timer?: NodeJS.Timeout }>();
  /** Jobs in a batch being signed and sent. */
  private readonly inflight = new Set<bigint>();
  /** Batches being signed and sent. */
  private readonly flushing = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly store: NodeStore,
    private readonly sender: TxSender,
    private readonly iface: Interface,
    private readonly log: Logger,
    private readonly options: ZkBatcherOptions,
    private readonly hooks: ZkBatcherHooks,
  ) {}

  /** Jobs of a batchable mode (ZK) are batched unless handed back. */
  batches(row: JobRow): boolean {
    // A job computed without its proof (for a slot batch, e.g. before a restart without `zkBatch`) is never batched
    // here (send takes proved jobs only): it is submitted on its own, which proves it.
    return row.proof !== undefined && modeModule(row.job.mode).batchable && !this.solo.has(row.jobId);
  }

  /** A job the batch could not take: it is submitted on its own at its next step. */
  submitAlone(jobId: bigint): void {
    this.solo.add(jobId);
  }

  settled(jobId: bigint): void {
    this.solo.delete(jobId);
  }

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
      this.log.warn(
        { jobs: rows.map((r) => r.jobId.toString()), err: String((error as Error)?.message ?? error).split("\n")[0] },
        "batched submission failed; will retry",
      );
    } finally {
      for (const row of rows) this.inflight.delete(row.jobId);
    }
  }

  private async send(candidates: JobRow[]): Promise<void> {
    // Only jobs still computed and not already in a stored submission (theirs or a batch's).
    const rows = candidates.flatMap((c) => {
      const row = this.store.jobs.get(c.jobId);
      const free =
        row !== undefined &&
        !row.stale &&
        row.state === "computed" &&
        row.output !== undefined &&
        row.proof !== undefined;
      return free &&
        this.store.outbox.get(outboxKey.submit(row.jobId)) === undefined &&
        this.store.outbox.batchOf(row.jobId) === undefined
        ? [row]
        : [];
    });
    // A stored proof that does not decode (never expected) is the job's own problem, not the batch's.
    const proofs = new Map<bigint, ReturnType<typeof decodeZkProof>>();
    for (const row of rows) {
      try {
        proofs.set(row.jobId, decodeZkProof(row.proof!));
      } catch {
        this.handBack(row);
      }
    }
    const batchable = rows.filter((r) => proofs.has(r.jobId));
    if (batchable.length === 0) return;
    if (batchable.length === 1) return this.handBack(batchable[0]!);
    return this.sendBatch(batchable, proofs);
  }

  private async sendBatch(rows: JobRow[], proofs: Map<bigint, ReturnType<typeof decodeZkProof>>): Promise<void> {
    const ids = rows.map((r) => r.jobId);
    const key = outboxKey.batch(ids);
    const proof = encodeZkBatchProof(rows.map((r) => proofs.get(r.jobId)!));
    const data = this.iface.encodeFunctionData("submitBatch", [
      rows.map((r) => r.job),
      rows.map((r) => r.output!),
      proof,
    ]);
    this.store.outbox.planBatch(key, ids);
    try {
      await this.sender.send({
        key,
        kind: "batch",
        to: this.options.escrow,
        data,
        context: { contract: "escrow", call: "submitBatch" },
      });
    } catch (error) {
      if (!(error instanceof RevertError)) throw error;
      this.log.warn(
        { jobs: ids.map(String), err: error.message },
        "submitBatch would revert; submitting these jobs one by one",
      );
      for (const row of rows) this.handBack(row);
      return;
    }
    // A member that moved meanwhile (refunded, rewound, replaced) keeps its state: its next step reads the batch.
    for (const row of rows) {
      try {
        this.store.jobs.transition(row.jobId, "submitted", {}, row.job);
      } catch (error) {
        if (!(error instanceof JobReplacedError || error instanceof StateError)) throw error;
      }
    }
    this.log.info({ jobs: ids.map(String), key }, `${ids.length} ZK jobs submitted in one batch`);
    this.hooks.wake();
  }

  private handBack(row: JobRow): void {
    this.submitAlone(row.jobId);
    this.hooks.wake();
  }
}
