import { Transaction, type JsonRpcProvider, type TransactionReceipt, type Wallet } from "ethers";
import { InstanceConflictError, RpcError, VinError } from "../sdk/errors";
import { asContractError, isTransportError, type CallContext } from "../sdk/revert";
import { sleep, withRetry } from "../sdk/retry";
import { crashPoint } from "./faults";
import type { Logger } from "./log";
import type { JobStore, TxAttempt, TxRow } from "./store";

export interface SenderOptions {
  chainId: number;
  rpcTimeoutMs: number;
  /** Re-send with higher fees when a transaction has no receipt after this long. */
  stuckTxMs: number;
  /** Time between receipt polls. */
  pollIntervalMs: number;
}

export interface SendRequest {
  /** Unique per logical transaction; a key is signed once, ever. */
  key: string;
  kind: string;
  jobId?: bigint;
  to: string;
  data: string;
  context: CallContext;
  /** Gas added to the estimate, for calls whose cost depends on what lands first (the last reveal settles the job). */
  extraGas?: bigint;
}

/** Raised when a stored transaction's nonce was consumed by another transaction (another user of the key). */
export class TxDroppedError extends VinError {
  override readonly name = "TxDroppedError";
}

/**
 * The transaction outbox. Each transaction is simulated (`eth_estimateGas`), signed with an explicit nonce, and
 * stored with its raw bytes, hash and nonce BEFORE it is broadcast; after a crash the stored bytes are
 * re-broadcast and receipts looked up, so a logical transaction (`key`) is never signed twice with different
 * contents. A replacement for a stuck transaction keeps the nonce and the data and only raises the fees.
 */
export class TxSender {
  private nextNonce = 0;
  private queue: Promise<unknown> = Promise.resolve();
  readonly address: string;
  /** Called once per transaction when its receipt is first found (metrics hook). */
  onMined?: (tx: TxRow, receipt: TransactionReceipt) => void;

  constructor(
    private readonly store: JobStore,
    private readonly wallet: Wallet,
    private readonly provider: JsonRpcProvider,
    private readonly log: Logger,
    private readonly options: SenderOptions,
  ) {
    this.address = wallet.address;
  }

  /**
   * Checks that no one else uses the key, then loads the local nonce. The database records the nonce it expects
   * the chain to report next; a chain that has seen more transactions than this database sent means another
   * instance (or a copy of the key) is active.
   */
  async init(options: { takeover?: boolean } = {}): Promise<void> {
    const chainPending = await this.rpc("eth_getTransactionCount", () => this.provider.getTransactionCount(this.address, "pending"));
    const recorded = this.store.getMeta("expectedNonce");
    const expected = recorded === undefined ? 0 : Number(recorded);
    if (chainPending > expected && !options.takeover) {
      throw new InstanceConflictError(
        `key ${this.address} has sent ${chainPending} transaction(s) but this node's database (${this.store.file}) recorded ${expected}: another instance uses this key; stop it (or pass --takeover if it is gone for good)`,
      );
    }
    this.store.setMeta("address", this.address);
    this.nextNonce = Math.max(chainPending, (this.store.maxNonce() ?? -1) + 1);
    if (options.takeover) this.store.setMeta("expectedNonce", String(this.nextNonce));
  }

  /** Re-broadcasts every stored transaction that has no receipt yet (after a restart). */
  async recover(): Promise<void> {
    for (const tx of this.store.pendingTxs()) {
      const receipt = await this.findReceipt(tx);
      if (receipt !== undefined) continue;
      const latest = this.store.attemptsOf(tx.id).at(-1)!;
      this.log.info({ key: tx.key, nonce: tx.nonce, hash: latest.hash }, "re-broadcasting a stored transaction after restart");
      await this.broadcast(tx, latest);
    }
  }

  /**
   * Sends the transaction `request.key` once: if it was stored before (even by a previous run), returns it without
   * signing anything; otherwise simulates, signs, stores and broadcasts it.
   * @throws ContractError when the simulation reverts (nothing is signed).
   */
  async send(request: SendRequest): Promise<TxRow> {
    const existing = this.store.txByKey(request.key);
    if (existing !== undefined) return existing;
    const gas = (await this.simulate(request)) + (request.extraGas ?? 0n);
    const tx = await this.serialized(async () => {
      const again = this.store.txByKey(request.key);
      if (again !== undefined) return again;
      const nonce = this.nextNonce;
      const fees = await this.fees();
      const attempt = await this.sign({ to: request.to, data: request.data, nonce, gasLimit: gas, ...fees });
      const row = this.store.atomically(() => {
        const inserted = this.store.insertTx({ key: request.key, jobId: request.jobId, kind: request.kind, nonce, to: request.to, data: request.data, gasLimit: gas }, attempt);
        this.store.setMeta("expectedNonce", String(nonce + 1));
        return inserted;
      });
      this.nextNonce = nonce + 1;
      return row;
    });
    crashPoint(`after-sign:${request.kind}`);
    this.log.info({ key: tx.key, nonce: tx.nonce, hash: tx.hash }, "transaction signed and stored; broadcasting");
    await this.broadcast(tx, this.store.attemptsOf(tx.id).at(-1)!);
    return tx;
  }

  /** Simulates a call from this node; a revert comes back decoded (contract, call, job). */
  async simulate(request: Pick<SendRequest, "to" | "data" | "context">): Promise<bigint> {
    try {
      const estimate = await withRetry(`eth_estimateGas ${request.context.call}`, () => this.provider.estimateGas({ from: this.address, to: request.to, data: request.data }), {
        timeoutMs: this.options.rpcTimeoutMs,
        attempts: 3,
      });
      return (estimate * 12n) / 10n + 10_000n;
    } catch (error) {
      throw asContractError(error, request.context);
    }
  }

  /**
   * Waits for the receipt of a stored transaction, re-broadcasting it while it is missing and replacing it with
   * higher fees when it is stuck. RPC failures are retried until `signal` aborts.
   */
  async wait(tx: TxRow, signal?: AbortSignal): Promise<TransactionReceipt> {
    for (;;) {
      const receipt = await this.findReceipt(tx).catch((error: unknown) => {
        if (!isTransportError(error)) throw error;
        this.log.warn({ key: tx.key, err: String(error) }, "receipt lookup failed; retrying");
        return undefined;
      });
      if (receipt !== undefined) return receipt;
      await this.checkDropped(tx).catch((error: unknown) => {
        if (error instanceof TxDroppedError || !isTransportError(error)) throw error;
      });
      const attempts = this.store.attemptsOf(tx.id);
      const latest = attempts.at(-1)!;
      if (Date.now() - latest.createdAt > this.options.stuckTxMs) await this.bump(tx, latest).catch((e: unknown) => this.log.warn({ key: tx.key, err: String(e) }, "fee bump failed"));
      else await this.broadcast(tx, latest);
      await sleep(this.options.pollIntervalMs, signal);
    }
  }

  /** Resyncs the local nonce from the chain (after a nonce error). */
  async resync(): Promise<void> {
    await this.serialized(async () => {
      const pending = await this.rpc("eth_getTransactionCount", () => this.provider.getTransactionCount(this.address, "pending"));
      this.nextNonce = Math.max(pending, (this.store.maxNonce() ?? -1) + 1);
    });
  }

  private async findReceipt(tx: TxRow): Promise<TransactionReceipt | undefined> {
    for (const attempt of this.store.attemptsOf(tx.id)) {
      const receipt = await this.rpc("eth_getTransactionReceipt", () => this.provider.getTransactionReceipt(attempt.hash));
      if (receipt === null) continue;
      const fee = receipt.gasUsed * receipt.gasPrice;
      const first = this.store.txByKey(tx.key)?.status === "pending";
      this.store.finishTx(tx.id, { status: receipt.status === 1 ? "mined" : "reverted", hash: receipt.hash, block: receipt.blockNumber, gasUsed: receipt.gasUsed, feePaid: fee });
      if (first) this.onMined?.(tx, receipt);
      return receipt;
    }
    return undefined;
  }

  /** A nonce the chain has passed with none of our attempts mined was used by someone else. */
  private async checkDropped(tx: TxRow): Promise<void> {
    const latest = await this.rpc("eth_getTransactionCount", () => this.provider.getTransactionCount(this.address, "latest"));
    if (latest <= tx.nonce) return;
    if ((await this.findReceipt(tx)) !== undefined) return;
    this.store.finishTx(tx.id, { status: "dropped" });
    throw new TxDroppedError(`transaction ${tx.key} (nonce ${tx.nonce}) was replaced by another transaction of key ${this.address}: another instance uses this key`);
  }

  private async bump(tx: TxRow, latest: TxAttempt): Promise<void> {
    const current = await this.fees();
    const bumped = (fee: bigint) => (fee * 1125n) / 1000n + 1n;
    const maxPriorityFeePerGas = max(bumped(latest.maxPriorityFeePerGas), current.maxPriorityFeePerGas);
    const maxFeePerGas = max(bumped(latest.maxFeePerGas), current.maxFeePerGas, maxPriorityFeePerGas);
    const attempt = await this.sign({ to: tx.to, data: tx.data, nonce: tx.nonce, gasLimit: tx.gasLimit, maxFeePerGas, maxPriorityFeePerGas });
    this.store.addAttempt(tx.id, attempt);
    this.log.warn({ key: tx.key, nonce: tx.nonce, hash: attempt.hash, maxFeePerGas: maxFeePerGas.toString() }, "transaction stuck; replaced with higher fees");
    await this.broadcast(tx, attempt);
  }

  private async broadcast(tx: TxRow, attempt: TxAttempt): Promise<void> {
    try {
      await withRetry("eth_sendRawTransaction", () => this.provider.send("eth_sendRawTransaction", [attempt.raw]), { timeoutMs: this.options.rpcTimeoutMs, attempts: 2 });
    } catch (error) {
      const text = String((error as Error)?.message ?? error);
      if (/already known|known transaction|already imported|nonce too low|nonce has already been used|replacement/i.test(text)) return; // mined or pending: the receipt decides
      if (isTransportError(error)) {
        this.log.warn({ key: tx.key, err: text.split("\n")[0] }, "broadcast failed; will retry");
        return;
      }
      this.log.error({ key: tx.key, err: text.split("\n")[0] }, "broadcast rejected");
      if (/nonce/i.test(text)) await this.resync();
    }
  }

  private async sign(fields: { to: string; data: string; nonce: number; gasLimit: bigint; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }): Promise<TxAttempt> {
    const raw = await this.wallet.signTransaction({ type: 2, chainId: this.options.chainId, ...fields });
    return { hash: Transaction.from(raw).hash!, raw, maxFeePerGas: fields.maxFeePerGas, maxPriorityFeePerGas: fields.maxPriorityFeePerGas, createdAt: Date.now() };
  }

  private async fees(): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    const data = await this.rpc("eth_feeHistory", () => this.provider.getFeeData());
    const maxPriorityFeePerGas = data.maxPriorityFeePerGas ?? 1_000_000_000n;
    return { maxFeePerGas: data.maxFeePerGas ?? (data.gasPrice ?? 1_000_000_000n) * 2n, maxPriorityFeePerGas };
  }

  private rpc<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(what, fn, { timeoutMs: this.options.rpcTimeoutMs, attempts: 3 }).catch((error: unknown) => {
      throw isTransportError(error) && !(error instanceof RpcError) ? new RpcError(`${what} failed`, { cause: error }) : error;
    });
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function max(...values: bigint[]): bigint {
  return values.reduce((a, b) => (a > b ? a : b));
}
