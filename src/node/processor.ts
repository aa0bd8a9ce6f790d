import { formatUnits, keccak256, ZeroAddress, type Log } from "ethers";
import { resultCommitment, toJob, type Job } from "../core/job";
import { JobStatus } from "../core/job";
import { Mode, MODE_NAMES } from "../core/modes";
import type { Contracts } from "../core/contracts";
import { RevertError, InputError, StateError } from "../core/errors";
import { ModelError } from "./errors";
import { withRetry } from "../core/retry";
import { isRetryable } from "../core/transport";
import { readEnclave, type ClaimChecks } from "../modes";
import type { ComputeResult, Computer } from "./compute";
import { crashPoint } from "./faults";
import { InputRefusedError, InputUnavailableError, type InputFetcher } from "./inputs";
import type { Logger } from "../core/log";
import type { NodeMetrics } from "./metrics";
import type { SubmissionStrategy } from "./batcher";
import { defersProofs } from "./zk-batch";
import { TxDroppedError, type Quote, type TxSender } from "./sender";
import {
  ACTIVE_STATES,
  JobReplacedError,
  outboxKey,
  type JobRow,
  type JobState,
  type JobTxKind,
  type NodeStore,
  type TransitionFields,
} from "./store";

export interface ProcessorOptions {
  address: string;
  escrow: string;
  modes: ReadonlySet<number>;
  minFeePerNode: bigint;
  /** Jobs asking more collateral (wei) are not claimed. */
  maxCollateral: bigint;
  rpcTimeoutMs: number;
}

/** How long a job whose input could not be fetched waits before the next attempt (doubling, at most 60 s). */
const INPUT_RETRY_MS = 2_000;
/** The oldest claim quote (simulation and fees) the node still sends with. */
const QUOTE_MAX_AGE_MS = 5_000;
/**
 * How long a model version's deprecation flag and bindings and this node's enclave registration are reused. They
 * only decide whether to take a new job (the verifier checks the enclave again at submission); re-reading them for
 * every job doubled the calls made before a claim.
 */
const CHECK_CACHE_MS = 10_000;

/**
 * Drives each job through the state machine, one step per call, resumable at every step from the database:
 * seen → claimed → computed → submitted (k = 1) or committed → revealed (k > 1) → settled / expired. A job assigned
 * to this node (`requestFor`) goes from seen to claimed without a transaction; one assigned to another is skipped.
 * Every transaction goes through the outbox, so a step re-run after a crash finds its transaction instead of
 * signing a new one. How a k = 1 result is submitted (alone, or in a ZK batch) is the `submission` strategy.
 */
export class JobProcessor {
  /** Jobs whose input could not be fetched: when to try again, and the current delay. */
  private readonly inputRetry = new Map<bigint, { at: number; delayMs: number }>();
  /** Chain reads that only decide whether to take a job, made at most `CHECK_CACHE_MS` ago. */
  private readonly checks = new Map<string, { at: number; value: Promise<unknown> }>();

  constructor(
    private readonly store: NodeStore,
    private readonly sender: TxSender,
    private readonly submission: SubmissionStrategy,
    private readonly contracts: Contracts,
    private readonly computer: Computer,
    private readonly inputs: InputFetcher,
    private readonly metrics: NodeMetrics,
    private readonly log: Logger,
    private readonly options: ProcessorOptions,
  ) {}

  /** Applies escrow logs (inside the follower's transaction). */
  apply(logs: Log[]): void {
    const iface = this.contracts.escrow.interface;
    for (const log of logs) {
      const event = iface.parseLog(log);
      if (event === null) continue;
      const jobId = event.args.jobId as bigint;
      if (event.name === "JobRequested") {
        const job = event.args.job as unknown as Job;
        if (!this.options.modes.has(Number(job.mode))) continue;
        const outcome = this.store.recordRequest({
          job: toJob(event.args.job),
          input: event.args.input as string,
          inputUri: event.args.inputUri as string,
          requestBlock: log.blockNumber,
        });
        const fields = { jobId: jobId.toString(), mode: MODE_NAMES[Number(job.mode) as Mode], block: log.blockNumber };
        if (outcome === "inserted") this.log.info(fields, "job seen");
        else if (outcome === "restored")
          this.log.info(fields, "job requested again after a chain reorganisation, with the same terms");
        else if (outcome === "replaced")
          this.log.warn(
            fields,
            "after a chain reorganisation this job id names another job: the old one is orphaned, the new one is taken up",
          );
      } else if (event.name === "JobSettled") {
        this.onFinal(jobId, "settled", log.blockNumber, event.args.outputHash as string);
      } else if (event.name === "JobRefunded") {
        this.onFinal(jobId, "expired", log.blockNumber);
      } else if (
        event.name === "NodeSlashed" &&
        (event.args.node as string).toLowerCase() === this.options.address.toLowerCase()
      ) {
        this.log.warn(
          { jobId: jobId.toString(), amount: (event.args.amount as bigint).toString() },
          "this node was slashed",
        );
      }
    }
  }

  /**
   * Undoes what blocks above `ancestor` told this node (inside the follower's transaction): see NodeStore.rewind.
   */
  rewind(ancestor: number): void {
    const undone = this.store.rewind(ancestor);
    for (const job of undone.jobs)
      this.log.warn(
        { jobId: job.jobId.toString(), from: job.from, to: job.to },
        "job rewound after a chain reorganisation",
      );
    this.log.warn(
      { ancestor, pendingAgain: undone.txs, staleJobs: undone.stale, rewoundJobs: undone.jobs.length },
      "undid the dropped blocks: their transactions are pending again, jobs requested in them wait to be seen again",
    );
  }

  /** Advances a job as far as it can go now. Transport errors leave it where it is for the next round. */
  async advance(jobId: bigint, signal: AbortSignal): Promise<void> {
    const retry = this.inputRetry.get(jobId);
    if (retry !== undefined && Date.now() < retry.at) return;
    // A claim that just succeeded shows the job open and before its deadline: no need to ask the chain again before
    // computing (the submission's simulation still catches a deadline passed since).
    let claimedNow = false;
    for (let i = 0; i < 8 && !signal.aborted; i++) {
      const row = this.store.jobs.get(jobId);
      if (row === undefined || row.stale || !ACTIVE_STATES.includes(row.state)) return;
      try {
        if (!(await this.step(row, signal, claimedNow))) return;
        claimedNow = row.state === "seen";
      } catch (error) {
        if (signal.aborted) return;
        this.onStepError(row, error);
        return;
      }
    }
  }

  private onStepError(row: JobRow, error: unknown): void {
    const fields = {
      jobId: row.jobId.toString(),
      state: row.state,
      err: String((error as Error)?.message ?? error).split("\n")[0],
    };
    if (error instanceof JobReplacedError)
      this.log.info(
        fields,
        "a chain reorganisation replaced the job during this step; the new job is taken up separately",
      );
    else if (error instanceof InputUnavailableError) {
      const delayMs = Math.min((this.inputRetry.get(row.jobId)?.delayMs ?? INPUT_RETRY_MS / 2) * 2, 60_000);
      this.inputRetry.set(row.jobId, { at: Date.now() + delayMs, delayMs });
      this.log.warn({ ...fields, retryInMs: delayMs }, "input not available yet; will retry");
    } else if (isRetryable(error)) this.log.warn(fields, "RPC failed or timed out; will retry");
    else this.log.error({ ...fields, err: String((error as Error)?.message ?? error) }, "job step failed; will retry");
  }

  private step(row: JobRow, signal: AbortSignal, claimedNow: boolean): Promise<boolean> {
    switch (row.state) {
      case "seen":
        return this.claim(row, signal);
      case "claimed":
        return this.compute(row, claimedNow);
      case "computed":
        return row.job.redundancy === 1n ? this.submit(row, signal) : this.commit(row, signal);
      case "submitted":
        return this.awaitSubmission(row, signal);
      case "committed":
        return this.reveal(row, signal);
      case "revealed":
        return this.awaitReveals(row);
      default:
        return Promise.resolve(false);
    }
  }

  private async claim(row: JobRow, signal: AbortSignal): Promise<boolean> {
    const { job } = row;
    let quote: Promise<Quote> | undefined;
    const data = this.iface.encodeFunctionData("claimSlot", [job]);
    if (this.store.outbox.get(outboxKey.claimSlot(job.id)) === undefined) {
      // A job sealed to other nodes is theirs: skipped before anything is asked of the chain.
      const elsewhere = this.inputs.sealedElsewhere(row.input);
      if (elsewhere !== undefined) return this.skip(row, elsewhere);
      const assignee = await this.assigneeOf(job.id);
      if (assignee !== undefined) return this.takeAssigned(row, assignee, signal);
      // With the input at hand, the claim's simulation and fees are read while the node decides whether it wants the
      // job (one round trip); an input still to fetch may take long enough for them to go stale.
      quote =
        row.input === "0x"
          ? undefined
          : this.sender.quote({ to: this.options.escrow, data, context: this.context("claimSlot", job.id) });
      quote?.catch(() => undefined);
      const deciding = Date.now();
      const reason = await this.refusal(row, signal);
      if (reason !== undefined) return this.skip(row, reason);
      // The first job of a ZK version waits while its circuit is rebuilt and checked: a quote that old is asked again.
      if (Date.now() - deciding > QUOTE_MAX_AGE_MS) quote = undefined;
    }
    const tx = await this.sendOrSkip(row, { kind: "claimSlot", call: "claimSlot", data, quote });
    if (tx === undefined) return false;
    const receipt = await this.sender.wait(tx, signal);
    if (receipt.status !== 1) return this.skip(row, `claimSlot reverted in ${receipt.hash}`);
    this.transition(row, "claimed");
    this.log.info({ jobId: job.id.toString(), tx: receipt.hash }, "slot claimed");
    crashPoint("after-claim");
    return true;
  }

  /**
   * The node a job was assigned to (`requestFor`), or undefined for a job open to claims. Read from the job's state
   * (the assignment never changes), so a job seen before a restart or a reorganisation is read the same way.
   */
  private async assigneeOf(jobId: bigint): Promise<string | undefined> {
    const state = await withRetry("escrow.stateOf", () => this.contracts.escrow.stateOf(jobId), {
      timeoutMs: this.options.rpcTimeoutMs,
    });
    return state.assignee === ZeroAddress ? undefined : state.assignee;
  }

  /**
   * A job assigned to one node: another node's is skipped; this node's is served, if it wants it, without a claim
   * transaction. Nothing is locked (the escrow checks the collateral is unlocked when the result is submitted) and
   * nothing is slashed if the node lets it pass.
   */
  private async takeAssigned(row: JobRow, assignee: string, signal: AbortSignal): Promise<boolean> {
    if (assignee.toLowerCase() !== this.options.address.toLowerCase())
      return this.skip(row, `assigned to node ${assignee}`);
    const reason = await this.refusal(row, signal);
    if (reason !== undefined) return this.skip(row, reason);
    this.transition(row, "claimed");
    this.log.info({ jobId: row.jobId.toString() }, "job assigned to this node: served without a claim");
    return true;
  }

  /** Why this node should not take the job, or undefined. The claim's simulation catches the rest. */
  private async refusal(row: JobRow, signal: AbortSignal): Promise<string | undefined> {
    const { job } = row;
    if (job.feePerNode < this.options.minFeePerNode) return `fee ${job.feePerNode} is below minFeePerNode`;
    if (job.collateral > this.options.maxCollateral)
      return `collateral ${formatUnits(job.collateral, 18)} exceeds maxCollateral ${formatUnits(this.options.maxCollateral, 18)} tokens`;
    // The escrow refuses both at request; a job that shows either anyway is not one this node knows how to finish.
    if (job.redundancy % 2n === 0n)
      return `redundancy ${job.redundancy} is even: only odd redundancy has a strict majority`;
    const terms = this.computer.claimRefusal(job);
    if (terms !== undefined) return terms;
    const retry = { timeoutMs: this.options.rpcTimeoutMs };
    const [input, deprecated, ready] = await Promise.all([
      this.input(row, signal),
      this.cached(`version:${job.modelId}@${job.version}`, () =>
        withRetry("registry.versionOf", () => this.contracts.registry.versionOf(job.modelId, job.version), retry).then(
          (info) => info.deprecated,
        ),
      ),
      this.computer.readiness(job, this.claimChecks(job, retry)),
    ]);
    if (input.refusal !== undefined) return input.refusal;
    if (deprecated) return `model ${job.modelId}@${job.version} is deprecated`;
    return ready;
  }

  /** The chain reads a job's mode may ask for before the claim, each cached for `CHECK_CACHE_MS`. */
  private claimChecks(job: Job, retry: { timeoutMs: number }): ClaimChecks {
    const { registry } = this.contracts;
    return {
      job,
      enclave: (enclave) => this.cached(`enclave:${enclave}`, () => readEnclave(this.contracts, enclave, retry)),
      isBound: (modelId, version, mode, binding) =>
        this.cached(`bound:${modelId}@${version}:${mode}:${binding}`, () =>
          withRetry("registry.isBound", () => registry.isBound(modelId, version, mode, binding), retry),
        ),
    };
  }

  /** `read()`, or its result from at most `CHECK_CACHE_MS` ago (a failed read is not kept). */
  private cached<T>(key: string, read: () => Promise<T>): Promise<T> {
    const hit = this.checks.get(key);
    if (hit !== undefined && Date.now() - hit.at <= CHECK_CACHE_MS) return hit.value as Promise<T>;
    const value = read();
    this.checks.set(key, { at: Date.now(), value });
    value.catch(() => this.checks.delete(key));
    return value;
  }

  /**
   * Makes sure the job's input is at hand before the node commits collateral to it: inline, or fetched from its
   * URI (then stored with the job, as fetched), opened when it is sealed, and checked against the job's input hash.
   * A refusal is a reason to skip.
   * @throws InputUnavailableError when the content cannot be fetched now.
   */
  private async input(row: JobRow, signal: AbortSignal): Promise<{ refusal?: string }> {
    const { job } = row;
    try {
      if (row.input !== "0x") {
        const refusal = await this.computer.refusal(job, await this.inputs.open(job, row.input));
        return refusal === undefined ? {} : { refusal: `the inline input: ${refusal}` };
      }
      if (row.inputUri === "") return { refusal: "the job has neither an inline input nor an input URI" };
      const fetched = await this.inputs.fetch(job, row.inputUri, signal);
      const refusal = await this.computer.refusal(job, await this.inputs.open(job, fetched));
      if (refusal !== undefined) return { refusal: `the input at ${row.inputUri}: ${refusal}` };
      this.store.jobs.setInput(job.id, fetched);
      this.inputRetry.delete(job.id);
      this.log.info(
        { jobId: job.id.toString(), uri: row.inputUri, bytes: (fetched.length - 2) / 2 },
        "input fetched and matches the job's input commitment",
      );
      return {};
    } catch (error) {
      if (error instanceof InputRefusedError) return { refusal: error.message };
      if (error instanceof InputUnavailableError && BigInt(Math.floor(Date.now() / 1000)) >= job.deadline)
        return { refusal: `${error.message}; the deadline has passed` };
      throw error;
    }
  }

  private async compute(row: JobRow, claimedNow: boolean): Promise<boolean> {
    // A job whose result this node already signed (a submission or commitment, e.g. before a reorganisation made it
    // pending again) is decided by that transaction's receipt, not by the job's state now.
    const { outbox } = this.store;
    const signed =
      outbox.get(outboxKey.submit(row.jobId)) ?? outbox.get(outboxKey.commit(row.jobId)) ?? outbox.batchOf(row.jobId);
    const unpayable = claimedNow || signed !== undefined ? undefined : await this.unpayable(row);
    if (unpayable !== undefined) {
      this.transition(row, "failed", { reason: unpayable });
      this.log.warn({ jobId: row.jobId.toString(), reason: unpayable }, "not computing a job that cannot be paid");
      return false;
    }
    if (row.output !== undefined) {
      // Computed before a reorganisation rewound the job: a stored commitment may already carry this output and salt.
      this.transition(row, "computed");
      return true;
    }
    const started = process.hrtime.bigint();
    try {
      const input = await this.inputs.open(row.job, row.input);
      // A ZK job batched by slots is proved with its batch: only its output is computed here.
      const deferred = defersProofs(this.submission) ? await this.submission.deferProof(row, input) : undefined;
      const result: Partial<ComputeResult> & { output: string } =
        deferred !== undefined ? { output: deferred } : await this.computer.compute(row.job, input);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.metrics.computeSeconds.observe(seconds);
      this.transition(row, "computed", {
        output: result.output,
        proof: result.proof,
        salt: result.salt,
        computeMs: seconds * 1000,
      });
      this.log.info({ jobId: row.jobId.toString(), outputHash: keccak256(result.output) }, "result computed");
      crashPoint("after-compute");
      return true;
    } catch (error) {
      if (error instanceof InputError || error instanceof ModelError || error instanceof InputRefusedError) {
        this.transition(row, "failed", { reason: error.message });
        this.log.error({ jobId: row.jobId.toString(), err: error.message }, "cannot compute the job");
        return false;
      }
      throw error;
    }
  }

  /** Why a claimed job can no longer be paid (closed, or past its deadline at the chain's clock), or undefined. */
  private async unpayable(row: JobRow): Promise<string | undefined> {
    const retry = { timeoutMs: this.options.rpcTimeoutMs };
    const [state, block] = await Promise.all([
      withRetry("escrow.stateOf", () => this.contracts.escrow.stateOf(row.jobId), retry),
      withRetry("eth_getBlock", () => this.contracts.escrow.runner!.provider!.getBlock("latest"), retry),
    ]);
    if (Number(state.status) !== JobStatus.Open) return `the job is no longer open (status ${state.status})`;
    if (block !== null && BigInt(block.timestamp) >= row.job.deadline)
      return `the deadline ${row.job.deadline} has passed (chain time ${block.timestamp})`;
    return undefined;
  }

  private async submit(row: JobRow, signal: AbortSignal): Promise<boolean> {
    if (this.submission.batches(row) && this.store.outbox.get(outboxKey.submit(row.jobId)) === undefined) {
      const batch = this.store.outbox.batchOf(row.jobId);
      if (batch === undefined) {
        this.submission.add(row);
        return false;
      }
      if (batch.status !== "reverted" && batch.status !== "dropped") {
        // Signed before a crash (or a reorganisation made it pending again): its receipt decides.
        this.transition(row, "submitted");
        return this.awaitSubmission({ ...row, state: "submitted" }, signal);
      }
    }
    return this.submitOwn(row, signal);
  }

  private async submitOwn(row: JobRow, signal: AbortSignal): Promise<boolean> {
    const proof = row.proof ?? (await this.proofAlone(row));
    const data = this.iface.encodeFunctionData("submit", [row.job, row.output!, proof]);
    const tx = await this.sendOrFail(row, { kind: "submit", call: "submit", data });
    if (tx === undefined) return false;
    this.transition(row, "submitted");
    return this.awaitSubmission({ ...row, state: "submitted" }, signal);
  }

  /**
   * The proof of a ZK job computed for a slot batch (it has none) that is submitted on its own after all: handed back
   * by the batcher, or its batch reverted or was dropped. Not made when the submission is already stored.
   */
  private async proofAlone(row: JobRow): Promise<string> {
    if (Number(row.job.mode) !== Mode.Zk || this.store.outbox.get(outboxKey.submit(row.jobId)) !== undefined)
      return "0x";
    const result = await this.computer.compute(row.job, await this.inputs.open(row.job, row.input));
    if (result.output !== row.output)
      throw new StateError(`job ${row.jobId}: proved output ${result.output} differs from the computed ${row.output}`);
    this.log.info({ jobId: row.jobId.toString() }, "ZK job proved on its own");
    return result.proof ?? "0x";
  }

  private async awaitSubmission(row: JobRow, signal: AbortSignal): Promise<boolean> {
    const own = this.store.outbox.get(outboxKey.submit(row.jobId));
    const tx = own ?? this.store.outbox.batchOf(row.jobId);
    if (tx === undefined) return this.submitOwn(row, signal);
    let receipt;
    try {
      // A batch whose nonce another transaction used (another instance of this key) never lands: submit alone.
      if (own === undefined && tx.status === "dropped")
        throw new TxDroppedError(`batched submission ${tx.key} was dropped`);
      receipt = await this.sender.wait(tx, signal);
    } catch (error) {
      if (own !== undefined || !(error instanceof TxDroppedError)) throw error;
      this.log.warn(
        { jobId: row.jobId.toString(), tx: tx.key },
        "the batched submission was dropped; submitting the job on its own",
      );
      return this.submitOwn(row, signal);
    }
    if (receipt.status !== 1 && own === undefined) {
      this.log.warn(
        { jobId: row.jobId.toString(), tx: receipt.hash },
        "the batched submission reverted; submitting the job on its own",
      );
      return this.submitOwn(row, signal);
    }
    if (receipt.status !== 1) {
      this.transition(row, "failed", { reason: `submit reverted in ${receipt.hash}` });
      return false;
    }
    this.settle(row, keccak256(row.output!), receipt.blockNumber);
    return false;
  }

  private async commit(row: JobRow, signal: AbortSignal): Promise<boolean> {
    const commitment = resultCommitment(row.jobId, this.options.address, row.output!, row.salt!);
    const data = this.iface.encodeFunctionData("commit", [row.job, commitment]);
    const tx = await this.sendOrFail(row, { kind: "commit", call: "commit", data });
    if (tx === undefined) return false;
    const receipt = await this.sender.wait(tx, signal);
    if (receipt.status !== 1) {
      this.transition(row, "failed", { reason: `commit reverted in ${receipt.hash}` });
      return false;
    }
    this.transition(row, "committed");
    this.log.info({ jobId: row.jobId.toString(), tx: receipt.hash }, "result committed");
    return true;
  }

  private async reveal(row: JobRow, signal: AbortSignal): Promise<boolean> {
    if (this.store.outbox.get(outboxKey.reveal(row.jobId)) === undefined) {
      const state = await withRetry("escrow.stateOf", () => this.contracts.escrow.stateOf(row.jobId), {
        timeoutMs: this.options.rpcTimeoutMs,
      });
      if (Number(state.status) !== JobStatus.Open || state.committed < row.job.redundancy) return false; // reveals not open yet
    }
    const data = this.iface.encodeFunctionData("reveal", [row.job, row.output!, row.salt!, row.proof ?? "0x"]);
    // Whichever reveal lands last settles and pays everyone, whatever the order was when it was estimated.
    const extraGas = 60_000n * row.job.redundancy + 150_000n;
    const tx = await this.sendOrFail(row, { kind: "reveal", call: "reveal", data, extraGas });
    if (tx === undefined) return false;
    const receipt = await this.sender.wait(tx, signal);
    if (receipt.status !== 1) {
      this.transition(row, "failed", { reason: `reveal reverted in ${receipt.hash}` });
      return false;
    }
    this.transition(row, "revealed");
    this.log.info({ jobId: row.jobId.toString(), tx: receipt.hash }, "result revealed");
    return true;
  }

  private async awaitReveals(row: JobRow): Promise<boolean> {
    const state = await withRetry("escrow.stateOf", () => this.contracts.escrow.stateOf(row.jobId), {
      timeoutMs: this.options.rpcTimeoutMs,
    });
    if (Number(state.status) === JobStatus.Settled) {
      const [outputHash] = await withRetry("escrow.resultOf", () => this.contracts.escrow.resultOf(row.jobId));
      this.onFinal(row.jobId, "settled", undefined, outputHash);
    } else if (Number(state.status) === JobStatus.Refunded) this.onFinal(row.jobId, "expired");
    return false;
  }

  /**
   * A settlement or refund seen on chain (in `block`, when it comes from an event). A job this node never claimed
   * was lost to others: skipped.
   */
  private onFinal(jobId: bigint, outcome: "settled" | "expired", block?: number, outputHash?: string): void {
    const row = this.store.jobs.get(jobId);
    if (row === undefined || (!ACTIVE_STATES.includes(row.state) && row.state !== "failed")) return;
    if (row.state === "seen") {
      // A job sealed to other nodes was never this node's, whoever finished it: that reason is logged either way,
      // also when the settlement is seen in the same blocks as the request (a node that lags).
      if (this.store.outbox.get(outboxKey.claimSlot(jobId)) === undefined)
        this.skip(
          row,
          this.inputs.sealedElsewhere(row.input) ??
            (outcome === "settled" ? "settled by other nodes" : "refunded before this node claimed it"),
          block,
        );
      return;
    }
    if (outcome === "settled" && row.output !== undefined && keccak256(row.output) === outputHash)
      this.settle(row, outputHash, block);
    else if (this.store.jobs.canTransition(jobId, outcome))
      this.transition(row, outcome, {
        reason: outcome === "settled" ? "settled with another output" : "refunded",
        finalBlock: block,
      });
  }

  private settle(row: JobRow, outputHash: string, block?: number): void {
    if (!this.store.jobs.canTransition(row.jobId, "settled") || !this.transition(row, "settled", { finalBlock: block }))
      return;
    this.submission.settled(row.jobId);
    this.metrics.earnings.inc(Number(row.job.feePerNode));
    this.metrics.latency.observe(
      { mode: MODE_NAMES[Number(row.job.mode) as Mode] ?? "?" },
      (Date.now() - row.seenAt) / 1000,
    );
    this.log.info({ jobId: row.jobId.toString(), outputHash }, "job settled");
  }

  private skip(row: JobRow, reason: string, block?: number): false {
    this.inputRetry.delete(row.jobId);
    if (this.store.jobs.canTransition(row.jobId, "skipped"))
      this.transition(row, "skipped", { reason, finalBlock: block });
    this.log.info({ jobId: row.jobId.toString(), reason }, "job skipped");
    return false;
  }

  /** A transition of the job `row` was read as; refused (JobReplacedError) if a reorganisation replaced its terms. */
  private transition(row: JobRow, to: JobState, fields: TransitionFields = {}): boolean {
    return this.store.jobs.transition(row.jobId, to, fields, row.job);
  }

  private async sendOrSkip(row: JobRow, call: EscrowCall) {
    try {
      return await this.send(row, call);
    } catch (error) {
      if (!(error instanceof RevertError)) throw error;
      this.skip(row, error.message);
      return undefined;
    }
  }

  private async sendOrFail(row: JobRow, call: EscrowCall) {
    try {
      return await this.send(row, call);
    } catch (error) {
      if (!(error instanceof RevertError)) throw error;
      this.transition(row, "failed", { reason: error.message });
      this.log.error(
        { jobId: row.jobId.toString(), err: error.message },
        `${call.call} would revert; giving up on the job`,
      );
      return undefined;
    }
  }

  private send(row: JobRow, call: EscrowCall) {
    return this.sender.send({
      key: outboxKey[call.kind](row.jobId),
      kind: call.kind,
      jobId: row.jobId,
      to: this.options.escrow,
      data: call.data,
      context: this.context(call.call, row.jobId),
      extraGas: call.extraGas,
      quote: call.quote,
    });
  }

  private context(call: string, jobId: bigint) {
    return { contract: "escrow" as const, call, jobId };
  }

  private get iface() {
    return this.contracts.escrow.interface;
  }
}

/** One escrow transaction of a job: its outbox kind (the key is the kind's for the job), its calldata (typed encoding) and, optionally, a quote already asked. */
interface EscrowCall {
  kind: JobTxKind;
  call: string;
  data: string;
  extraGas?: bigint;
  quote?: Promise<Quote>;
}
