import type { Interface } from "ethers";
import { firstLine, RevertError, StateError } from "../core/errors";
import { Mode } from "../core/modes";
import type { Logger } from "../core/log";
import type { SlotJob } from "../zkml/batch-prover";
import { encodeZkSlotProof } from "../zkml/batch-solidity";
import { claimSignal, encodeZkOutput, packedOutputOf } from "../zkml/claim";
import { openZkJobInput } from "../zkml/job";
import { evaluateQuantized } from "../zkml/reference";
import type { SubmissionStrategy } from "./batcher";
import type { TxSender } from "./sender";
import { JobReplacedError, outboxKey, type JobRow, type NodeStore } from "./store";
import type { SlotProverSource } from "./zk";

export interface ZkSlotBatcherOptions {
  escrow: string;
  /** Slots of the proof: the N of the versions' N-slot keys. */
  slots: number;
  /** Longest the first job of a group waits for others. */
  maxWaitMs: number;
  /** A job whose deadline is closer than this is not held back (see `ZkBatchConfig.deadlineMarginMs`). */
  deadlineMarginMs: number;
}

/** What the slot batcher needs from the node. */
export interface ZkSlotBatcherDeps {
  store: NodeStore;
  sender: Pick<TxSender, "send">;
  iface: Interface;
  provers: SlotProverSource;
  /** A job's input as the requester wrote it (a sealed input opened with the node's key). */
  open(row: JobRow): Promise<string>;
  log: Logger;
  /** Jobs moved to `submitted`, or handed back to be proved alone: wake the scheduler. */
  wake(): void;
  /** How jobs proved one by one are submitted (alone, or in a random-linear-combination batch). */
  fallback: SubmissionStrategy;
  /** Milliseconds since the epoch (tests pass a clock). */
  now?: () => number;
}

/** A submission strategy that can take a ZK job computed without its proof, to prove it with others. */
export interface ProofDeferringStrategy extends SubmissionStrategy {
  /**
   * The output of a computed ZK job whose proof is left to a batch, or undefined when the job is to be proved on its
   * own now (not ZK, no usable N-slot key for its version, its deadline too near, an input the batch cannot take).
   */
  deferProof(row: JobRow, input: string): Promise<string | undefined>;
}

/** Whether `strategy` proves jobs in batches (`deferProof`). */
export function defersProofs(strategy: SubmissionStrategy): strategy is ProofDeferringStrategy {
  return typeof (strategy as Partial<ProofDeferringStrategy>).deferProof === "function";
}

interface Group {
  rows: Map<bigint, JobRow>;
  /** When the group is proved at the latest: its first job's wait, or sooner for a job near its deadline. */
  dueAt: number;
  timer?: NodeJS.Timeout;
}

/**
 * Proves the computed ZK jobs (k = 1) of one model version together, with the version's N-slot key: one Groth16 proof
 * whose N public claims are the jobs' claims in slot order, settled by one `submitBatch` (one pairing check for all).
 * A group is proved when it has N jobs, when its first job has waited `maxWaitMs`, or at once when a member's
 * deadline is within `deadlineMarginMs`; fewer jobs than slots are padded by the prover (every unused slot repeats
 * slot 0, which the verifier checks against slot 0's claim, so it settles nothing).
 *
 * A job's input and salt stay in the job's row until it is final, and its proof is not stored: a crash before the
 * batch's transaction is stored leaves the jobs `computed`, and they are batched (and proved) again after the restart.
 * The members are recorded (`planBatch`) before the transaction is signed and the jobs move to `submitted` only once
 * it is stored, as the RLC batcher does, so the processor's receipt handling applies unchanged. A job this batcher
 * cannot take (no usable N-slot key, an input that does not open, a batch that would revert or did) is handed back
 * and proved on its own by the processor; jobs that come with their own proof go to `fallback`.
 */
export class ZkSlotBatcher implements ProofDeferringStrategy {
  /** Jobs handed back: proved and submitted on their own (until a restart, which batches them again). */
  private readonly solo = new Set<bigint>();
  /** Jobs waiting for their proof, by verifier and model version. */
  private readonly groups = new Map<string, Group>();
  private readonly inflight = new Set<bigint>();
  private readonly flushing = new Set<Promise<void>>();
  /** Versions whose jobs are proved alone, with why (logged once per reason). */
  private readonly unbatched = new Map<string, string>();
  /** The proof being made: one at a time, the prover takes every core. */
  private proving: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly now: () => number;

  constructor(
    private readonly deps: ZkSlotBatcherDeps,
    private readonly options: ZkSlotBatcherOptions,
  ) {
    this.now = deps.now ?? Date.now;
  }

  async deferProof(row: JobRow, input: string): Promise<string | undefined> {
    const { job } = row;
    if (!isZkSingle(row) || this.solo.has(row.jobId)) return undefined;
    if (this.nearDeadline(row)) {
      this.deps.log.info({ jobId: job.id.toString() }, "ZK job near its deadline: proved on its own, not batched");
      return undefined;
    }
    const version = versionKey(row);
    let model;
    try {
      model = (await this.deps.provers.load(job)).model;
    } catch (error) {
      this.proveAlone(version, firstLine(error));
      return undefined;
    }
    try {
      const { quantized } = openZkJobInput(model, input, job.inputHash);
      return encodeZkOutput(packedOutputOf(model, evaluateQuantized(model, quantized)));
    } catch {
      // The processor's own computation reports why this input cannot be proved.
      return undefined;
    }
  }

  batches(row: JobRow): boolean {
    if (row.proof !== undefined || !isZkSingle(row)) return this.deps.fallback.batches(row);
    return !this.solo.has(row.jobId);
  }

  add(row: JobRow): void {
    if (row.proof !== undefined) return this.deps.fallback.add(row);
    if (this.stopped || this.inflight.has(row.jobId)) return;
    const key = versionKey(row);
    let group = this.groups.get(key);
    if (group === undefined)
      this.groups.set(key, (group = { rows: new Map(), dueAt: this.now() + this.options.maxWaitMs }));
    group.rows.set(row.jobId, row);
    group.dueAt = Math.min(group.dueAt, Number(row.job.deadline) * 1000 - this.options.deadlineMarginMs);
    if (group.rows.size >= this.options.slots || group.dueAt <= this.now()) return this.startFlush(key);
    clearTimeout(group.timer);
    group.timer = setTimeout(() => this.startFlush(key), group.dueAt - this.now());
  }

  settled(jobId: bigint): void {
    this.solo.delete(jobId);
    this.deps.fallback.settled(jobId);
  }

  /** Forgets the waiting jobs (they stay `computed` and are batched after a restart) and waits for the batch being sent. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const group of this.groups.values()) clearTimeout(group.timer);
    this.groups.clear();
    await Promise.allSettled([...this.flushing]);
    await this.deps.fallback.stop();
  }

  private nearDeadline(row: JobRow): boolean {
    return Number(row.job.deadline) * 1000 - this.options.deadlineMarginMs <= this.now();
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
    // Oldest jobs first, in id order: the same members get the same outbox key whatever order they came in.
    const rows = [...group.rows.values()].sort((a, b) => (a.jobId < b.jobId ? -1 : 1)).slice(0, this.options.slots);
    for (const row of rows) group.rows.delete(row.jobId);
    if (group.rows.size === 0) this.groups.delete(key);
    else group.timer = setTimeout(() => this.startFlush(key), 0);
    for (const row of rows) this.inflight.add(row.jobId);
    try {
      await this.send(rows.flatMap((r) => this.free(r)));
    } catch (error) {
      // A transport failure: the jobs stay `computed` and the scheduler offers them again.
      this.deps.log.warn(
        { jobs: rows.map((r) => r.jobId.toString()), err: firstLine(error) },
        "slot-proof submission failed; will retry",
      );
    } finally {
      for (const row of rows) this.inflight.delete(row.jobId);
    }
  }

  /** The job as stored now, if it still waits for a proof and is in no stored submission. */
  private free(candidate: JobRow): JobRow[] {
    const { store } = this.deps;
    const row = store.jobs.get(candidate.jobId);
    const free =
      row !== undefined &&
      !row.stale &&
      row.state === "computed" &&
      row.output !== undefined &&
      row.proof === undefined &&
      store.outbox.get(outboxKey.submit(row.jobId)) === undefined &&
      store.outbox.batchOf(row.jobId) === undefined;
    return free ? [row] : [];
  }

  private async send(candidates: JobRow[]): Promise<void> {
    if (candidates.length === 0) return;
    const version = versionKey(candidates[0]!);
    let prover;
    try {
      prover = await this.deps.provers.load(candidates[0]!.job);
    } catch (error) {
      this.proveAlone(version, firstLine(error));
      return candidates.forEach((r) => this.handBack(r));
    }
    const rows: JobRow[] = [];
    const slots: SlotJob[] = [];
    for (const row of candidates) {
      try {
        const { quantized, input } = openZkJobInput(prover.model, await this.deps.open(row), row.job.inputHash);
        rows.push(row);
        slots.push({ input: quantized, inputSalt: input.salt });
      } catch {
        this.handBack(row);
      }
    }
    if (rows.length === 0) return;
    const proved = await this.prove(() => prover.prove(slots));
    const packed = rows.map((r) => BigInt(r.output!));
    // The stored outputs are what the escrow records: a proof of other claims would only revert.
    const mismatch = rows.findIndex((r, i) => proved.claims[i] !== claimSignal(BigInt(r.job.inputHash), packed[i]!));
    if (mismatch !== -1) {
      this.deps.log.error(
        { jobId: rows[mismatch]!.jobId.toString() },
        "the slot proof's claim differs from the job's computed output; proving these jobs one by one",
      );
      return rows.forEach((r) => this.handBack(r));
    }
    this.deps.log.info(
      { jobs: rows.length, slots: this.options.slots, proveSeconds: proved.proveSeconds },
      `${rows.length} ZK jobs proved in one ${this.options.slots}-slot proof`,
    );
    await this.sendBatch(rows, encodeZkSlotProof(this.options.slots, packed, proved.solidity));
  }

  private async sendBatch(rows: JobRow[], proof: string): Promise<void> {
    const { store, sender, iface, log } = this.deps;
    const ids = rows.map((r) => r.jobId);
    const key = outboxKey.batch(ids);
    const data = iface.encodeFunctionData("submitBatch", [rows.map((r) => r.job), rows.map((r) => r.output!), proof]);
    store.outbox.planBatch(key, ids);
    try {
      await sender.send({
        key,
        kind: "batch",
        to: this.options.escrow,
        data,
        context: { contract: "escrow", call: "submitBatch" },
      });
    } catch (error) {
      if (!(error instanceof RevertError)) throw error;
      log.warn(
        { jobs: ids.map(String), err: error.message },
        "submitBatch would revert; proving these jobs one by one",
      );
      return rows.forEach((r) => this.handBack(r));
    }
    // A member that moved meanwhile (refunded, rewound, replaced) keeps its state: its next step reads the batch.
    for (const row of rows) {
      try {
        store.jobs.transition(row.jobId, "submitted", {}, row.job);
      } catch (error) {
        if (!(error instanceof JobReplacedError || error instanceof StateError)) throw error;
      }
    }
    log.info({ jobs: ids.map(String), key }, `${ids.length} ZK jobs submitted with one slot proof`);
    this.deps.wake();
  }

  /** Runs `prove` after the proof being made, so two batches never share the cores. */
  private prove<T>(prove: () => Promise<T>): Promise<T> {
    const run = this.proving.then(prove, prove);
    this.proving = run.catch(() => undefined);
    return run;
  }

  private proveAlone(version: string, reason: string): void {
    if (this.unbatched.get(version) === reason) return;
    this.unbatched.set(version, reason);
    this.deps.log.warn({ model: version, reason }, "ZK jobs of this version are proved one by one");
  }

  private handBack(row: JobRow): void {
    this.solo.add(row.jobId);
    this.deps.wake();
  }
}

function isZkSingle(row: JobRow): boolean {
  return Number(row.job.mode) === Mode.Zk && row.job.redundancy === 1n;
}

function versionKey(row: JobRow): string {
  return `${row.job.verifier.toLowerCase()}:${row.job.modelId}@${row.job.version}`;
}
