import {
  Transaction,
  type JsonRpcError,
  type JsonRpcPayload,
  type JsonRpcProvider,
  type JsonRpcResult,
  type Wallet,
} from "ethers";
import { ConflictError, TransportError, BaseError } from "../core/errors";
import { asRevertError, type CallContext } from "../core/revert";
import { isTransportError } from "../core/transport";
import { sleep, withRetry } from "../core/retry";
import { crashPoint } from "./faults";
import type { Logger } from "../core/log";
import type { Outbox, TxAttempt, TxRow } from "./store";

export interface SenderOptions {
  chainId: number;
  rpcTimeoutMs: number;
  /** Re-send with higher fees when a transaction has no receipt after this long. */
  stuckTxMs: number;
  /** Time between receipt polls. */
  pollIntervalMs: number;
}

export interface SendRequest {
  /** Unique per logical transaction, built by `outboxKey` (store/outbox.ts); a key is signed once, ever. */
  key: string;
  /** An `OutboxKind` (the node's), or an operator command's ABI function name. */
  kind: string;
  jobId?: bigint;
  to: string;
  data: string;
  context: CallContext;
  /** Gas added to the estimate, for calls whose cost depends on what lands first (the last reveal settles the job). */
  extraGas?: bigint;
  /** A quote already asked for this request (see {@link TxSender.quote}), so it is not asked again. */
  quote?: Promise<Quote>;
}

/** What a transaction will be signed with: the simulated gas limit (with margin) and the current fees. */
export interface Quote {
  gasLimit: bigint;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/** What the outbox keeps of a mined transaction. */
export interface TxReceipt {
  /** The attempt that was mined. */
  hash: string;
  /** 1 success, 0 reverted. */
  status: number;
  blockNumber: number;
  gasUsed: bigint;
  /** gasUsed × effective gas price, in wei. */
  fee: bigint;
}

/** How long a fee reading is reused for new transactions. */
const FEE_CACHE_MS = 1_000;

/** Raised when a stored transaction's nonce was consumed by another transaction (another user of the key). */
export class TxDroppedError extends BaseError {
  override readonly name = "TxDroppedError";
}

/**
 * The transaction outbox. Each transaction is simulated (`eth_estimateGas`), signed with an explicit nonce, and
 * stored with its raw bytes, hash and nonce BEFORE it is broadcast; after a crash the stored bytes are
 * re-broadcast and receipts looked up, so a logical transaction (`key`) is never signed twice with different
 * contents. A replacement for a stuck transaction keeps the nonce and the data and only raises the fees; only the
 * transaction the chain waits for (the lowest pending nonce) is replaced, since raising the fees of one queued
 * behind it cannot get it mined sooner.
 */
export class TxSender {
  private nextNonce = 0;
  private queue: Promise<unknown> = Promise.resolve();
  /** Transactions a `send` or a `wait` is driving; `sweep` leaves them alone. */
  private readonly waiting = new Map<number, number>();
  /** The last fee reading, reused for `FEE_CACHE_MS` (replacements always read the fees again). */
  private feeCache?: { at: number; fees: Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> };
  readonly address: string;
  /** Called once per transaction when its receipt is first found (metrics hook). */
  onMined?: (tx: TxRow, receipt: TxReceipt) => void;

  constructor(
    private readonly outbox: Outbox,
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
    const chainPending = await this.rpc("eth_getTransactionCount", () =>
      this.provider.getTransactionCount(this.address, "pending"),
    );
    const expected = this.outbox.expectedNonce() ?? 0;
    if (chainPending > expected && !options.takeover) {
      throw new ConflictError(
        `key ${this.address} has sent ${chainPending} transaction(s) but this node's database (${this.outbox.file}) recorded ${expected}: another instance uses this key; stop it (or pass --takeover if it is gone for good)`,
      );
    }
    this.outbox.setSigner(this.address);
    this.nextNonce = Math.max(chainPending, (this.outbox.maxNonce() ?? -1) + 1);
    if (options.takeover) this.outbox.setExpectedNonce(this.nextNonce);
  }

  /** Re-broadcasts every stored transaction that has no receipt yet (after a restart). */
  async recover(): Promise<void> {
    for (const tx of this.outbox.pending()) {
      if ((await this.findReceipt(tx)) !== undefined) continue;
      const latest = this.outbox.attempts(tx.id).at(-1)!;
      this.log.info(
        { key: tx.key, nonce: tx.nonce, hash: latest.hash },
        "re-broadcasting a stored transaction after restart",
      );
      await this.broadcast(tx, latest);
    }
  }

  /**
   * Sends the transaction `request.key` once: if it was stored before (even by a previous run), returns it without
   * signing anything; otherwise simulates, signs, stores and broadcasts it.
   * @throws ContractError when the simulation reverts (nothing is signed).
   */
  async send(request: SendRequest): Promise<TxRow> {
    const existing = this.outbox.get(request.key);
    if (existing !== undefined) return existing;
    const quote = await (request.quote ?? this.quote(request));
    const tx = await this.serialized(async () => {
      const again = this.outbox.get(request.key);
      if (again !== undefined) return again;
      const nonce = this.nextNonce;
      const attempt = await this.sign({ to: request.to, data: request.data, nonce, ...quote });
      // Durable before it leaves the process: a power cut after the broadcast must not lose the signed bytes.
      const row = this.outbox.durably(() => {
        const inserted = this.outbox.insert(
          {
            key: request.key,
            jobId: request.jobId,
            kind: request.kind,
            nonce,
            to: request.to,
            data: request.data,
            gasLimit: quote.gasLimit,
          },
          attempt,
        );
        this.outbox.setExpectedNonce(nonce + 1);
        return inserted;
      });
      this.nextNonce = nonce + 1;
      return row;
    });
    crashPoint(`after-sign:${request.kind}`);
    this.log.info({ key: tx.key, nonce: tx.nonce, hash: tx.hash }, "transaction signed and stored; broadcasting");
    await this.driving(tx, () => this.broadcast(tx, this.outbox.attempts(tx.id).at(-1)!));
    return tx;
  }

  /**
   * Simulates the request and reads the current fees, in parallel (one round trip).
   * @throws ContractError when the simulation reverts.
   */
  async quote(request: Pick<SendRequest, "to" | "data" | "context" | "extraGas">): Promise<Quote> {
    const [estimate, fees] = await Promise.all([this.simulate(request), this.recentFees()]);
    return { gasLimit: estimate + (request.extraGas ?? 0n), ...fees };
  }

  /** Simulates a call from this node; a revert comes back decoded (contract, call, job). */
  async simulate(request: Pick<SendRequest, "to" | "data" | "context">): Promise<bigint> {
    try {
      const estimate = await withRetry(
        `eth_estimateGas ${request.context.call}`,
        () => this.provider.estimateGas({ from: this.address, to: request.to, data: request.data }),
        {
          timeoutMs: this.options.rpcTimeoutMs,
          attempts: 3,
        },
      );
      return (estimate * 12n) / 10n + 10_000n;
    } catch (error) {
      throw asRevertError(error, request.context);
    }
  }

  /**
   * Waits for the receipt of a stored transaction, re-broadcasting it while it is missing and replacing it with
   * higher fees when it is stuck. RPC failures are retried until `signal` aborts.
   */
  wait(tx: TxRow, signal?: AbortSignal): Promise<TxReceipt> {
    return this.driving(tx, async () => {
      for (;;) {
        const receipt = this.storedReceipt(tx.id) ?? (await this.tick(tx));
        if (receipt !== undefined) return receipt;
        await sleep(this.options.pollIntervalMs, signal);
      }
    });
  }

  /** Runs `fn` with `tx` marked as driven, so that `sweep` does not look at it at the same time. */
  private async driving<T>(tx: TxRow, fn: () => Promise<T>): Promise<T> {
    this.waiting.set(tx.id, (this.waiting.get(tx.id) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const left = this.waiting.get(tx.id)! - 1;
      if (left === 0) this.waiting.delete(tx.id);
      else this.waiting.set(tx.id, left);
    }
  }

  /**
   * Drives every pending transaction no `wait` is driving: a transaction whose waiter is gone (an earnings withdrawal
   * after a restart, a transaction of a job a reorganisation replaced, one whose block was dropped) is still
   * re-broadcast and, when stuck, replaced, so it cannot hold back every later nonce. In nonce order.
   */
  async sweep(): Promise<void> {
    for (const tx of this.outbox.pending()) {
      if (this.waiting.has(tx.id)) continue;
      const receipt = await this.tick(tx).catch((error: unknown) => {
        if (error instanceof TxDroppedError)
          this.log.error({ key: tx.key, nonce: tx.nonce, err: error.message }, "transaction dropped");
        else if (!isTransportError(error)) throw error;
        return undefined;
      });
      if (receipt !== undefined)
        this.log.info(
          { key: tx.key, nonce: tx.nonce, hash: receipt.hash, status: receipt.status },
          "pending transaction mined",
        );
    }
  }

  /**
   * One look at a pending transaction: its receipt if one of its attempts is mined; otherwise it is re-broadcast,
   * or replaced with higher fees if it is the transaction the chain waits for and has waited `stuckTxMs`.
   * @throws TxDroppedError when its nonce was used by a transaction this node never signed.
   */
  private async tick(tx: TxRow): Promise<TxReceipt | undefined> {
    const receipt = await this.findReceipt(tx).catch((error: unknown) => {
      if (!isTransportError(error)) throw error;
      this.log.warn({ key: tx.key, err: String(error) }, "receipt lookup failed; retrying");
      return undefined;
    });
    if (receipt !== undefined) return receipt;
    const next = await this.rpc("eth_getTransactionCount", () =>
      this.provider.getTransactionCount(this.address, "latest"),
    ).catch((error: unknown) => {
      if (!isTransportError(error)) throw error;
      return undefined;
    });
    if (next !== undefined && next > tx.nonce) {
      const late = await this.findReceipt(tx); // mined between the two lookups
      if (late !== undefined) return late;
      this.outbox.finish(tx.id, { status: "dropped" });
      throw new TxDroppedError(
        `transaction ${tx.key} (nonce ${tx.nonce}) was replaced by another transaction of key ${this.address}: another instance uses this key`,
      );
    }
    const latest = this.outbox.attempts(tx.id).at(-1)!;
    // Pending since its last signing, or since a reorganisation dropped the block that had mined it.
    const pendingSince = Math.max(latest.createdAt, this.outbox.byId(tx.id)?.updatedAt ?? 0);
    if (next === tx.nonce && Date.now() - pendingSince > this.options.stuckTxMs)
      return this.bump(tx, latest).catch(
        (e: unknown) => void this.log.warn({ key: tx.key, err: String(e) }, "fee bump failed"),
      );
    return this.broadcast(tx, latest);
  }

  /** Resyncs the local nonce from the chain (after a nonce error). */
  async resync(): Promise<void> {
    await this.serialized(async () => {
      const pending = await this.rpc("eth_getTransactionCount", () =>
        this.provider.getTransactionCount(this.address, "pending"),
      );
      this.nextNonce = Math.max(pending, (this.outbox.maxNonce() ?? -1) + 1);
    });
  }

  /** The receipt of one of the transaction's attempts, looked up on chain and recorded in the outbox. */
  private async findReceipt(tx: TxRow): Promise<TxReceipt | undefined> {
    const attempts = this.outbox.attempts(tx.id);
    const found = await Promise.all(
      attempts.map((a) =>
        this.rpc(
          "eth_getTransactionReceipt",
          () => this.provider.send("eth_getTransactionReceipt", [a.hash]) as Promise<RawReceipt | null>,
        ),
      ),
    );
    const raw = found.find((r) => r !== null);
    return raw === undefined || raw === null ? undefined : this.record(tx, raw);
  }

  /** Records a receipt in the outbox (once) and tells the metrics hook. */
  private record(tx: TxRow, raw: RawReceipt): TxReceipt {
    const receipt = parseReceipt(raw);
    const first = this.outbox.byId(tx.id)?.status === "pending";
    this.outbox.finish(tx.id, {
      status: receipt.status === 1 ? "mined" : "reverted",
      hash: receipt.hash,
      block: receipt.blockNumber,
      gasUsed: receipt.gasUsed,
      feePaid: receipt.fee,
    });
    if (first) this.onMined?.(tx, receipt);
    return receipt;
  }

  /** The receipt the outbox already holds for a transaction, if it is mined. */
  private storedReceipt(txId: number): TxReceipt | undefined {
    const row = this.outbox.byId(txId);
    if (row === undefined || (row.status !== "mined" && row.status !== "reverted") || row.block === undefined)
      return undefined;
    return {
      hash: row.hash,
      status: row.status === "mined" ? 1 : 0,
      blockNumber: row.block,
      gasUsed: row.gasUsed ?? 0n,
      fee: row.feePaid ?? 0n,
    };
  }

  private async bump(tx: TxRow, latest: TxAttempt): Promise<TxReceipt | undefined> {
    const current = await this.fees();
    const bumped = (fee: bigint) => (fee * 1125n) / 1000n + 1n;
    const maxPriorityFeePerGas = max(bumped(latest.maxPriorityFeePerGas), current.maxPriorityFeePerGas);
    const maxFeePerGas = max(bumped(latest.maxFeePerGas), current.maxFeePerGas, maxPriorityFeePerGas);
    const attempt = await this.sign({
      to: tx.to,
      data: tx.data,
      nonce: tx.nonce,
      gasLimit: tx.gasLimit,
      maxFeePerGas,
      maxPriorityFeePerGas,
    });
    this.outbox.durably(() => this.outbox.addAttempt(tx.id, attempt));
    this.log.warn(
      {
        key: tx.key,
        nonce: tx.nonce,
        hash: attempt.hash,
        replaces: latest.hash,
        maxFeePerGas: maxFeePerGas.toString(),
        maxPriorityFeePerGas: maxPriorityFeePerGas.toString(),
      },
      "transaction stuck; replaced with higher fees",
    );
    return this.broadcast(tx, attempt);
  }

  /**
   * Broadcasts an attempt and, in the same JSON-RPC batch (one HTTP round trip), looks up its receipt: a chain that
   * mines on arrival (a development chain) answers with it at once, any other chain with null, and the receipt is
   * then polled. Refusals that only mean "already there" or "wait for an earlier nonce" are not errors.
   */
  private async broadcast(tx: TxRow, attempt: TxAttempt): Promise<TxReceipt | undefined> {
    const batch: JsonRpcPayload[] = [
      { jsonrpc: "2.0", id: 1, method: "eth_sendRawTransaction", params: [attempt.raw] },
      { jsonrpc: "2.0", id: 2, method: "eth_getTransactionReceipt", params: [attempt.hash] },
    ];
    let answers: (JsonRpcResult | JsonRpcError)[];
    try {
      answers = await withRetry("eth_sendRawTransaction", () => this.provider._send(batch), {
        timeoutMs: this.options.rpcTimeoutMs,
        attempts: 2,
      });
    } catch (error) {
      const text = String((error as Error)?.message ?? error).split("\n")[0];
      if (isTransportError(error)) this.log.warn({ key: tx.key, err: text }, "broadcast failed; will retry");
      else this.log.error({ key: tx.key, err: text }, "broadcast failed");
      return undefined;
    }
    const [sent, looked] = [answers.find((a) => a.id === 1), answers.find((a) => a.id === 2)];
    if (sent !== undefined && "error" in sent)
      await this.refused(tx, attempt, sent.error.message ?? JSON.stringify(sent.error));
    const raw = looked !== undefined && "result" in looked ? (looked.result as RawReceipt | null) : null;
    return raw === null ? undefined : this.record(tx, raw);
  }

  private async refused(tx: TxRow, attempt: TxAttempt, message: string): Promise<void> {
    const text = message.split("\n")[0];
    if (/already known|known transaction|already imported|nonce too low|nonce has already been used/i.test(text))
      return; // mined or pending: the receipt decides
    if (/nonce too high|can't be queued/i.test(text)) {
      this.log.debug({ key: tx.key, nonce: tx.nonce }, "broadcast refused until an earlier nonce is mined");
      return;
    }
    if (/underpriced|replacement/i.test(text)) {
      this.log.warn(
        { key: tx.key, nonce: tx.nonce, hash: attempt.hash, err: text },
        "the node refused the transaction's fees; it will be replaced when it counts as stuck",
      );
      return;
    }
    if (/revert/i.test(text)) {
      // A development chain that mines on arrival reports a reverted transaction as an error; it is mined all the same.
      this.log.debug({ key: tx.key, nonce: tx.nonce, err: text }, "the transaction reverted on arrival");
      return;
    }
    this.log.error({ key: tx.key, err: text }, "broadcast rejected");
    if (/nonce/i.test(text)) await this.resync();
  }

  private async sign(fields: {
    to: string;
    data: string;
    nonce: number;
    gasLimit: bigint;
    maxFeePerGas: bigint;
    maxPriorityFeePerGas: bigint;
  }): Promise<TxAttempt> {
    const raw = await this.wallet.signTransaction({ type: 2, chainId: this.options.chainId, ...fields });
    return {
      hash: Transaction.from(raw).hash!,
      raw,
      maxFeePerGas: fields.maxFeePerGas,
      maxPriorityFeePerGas: fields.maxPriorityFeePerGas,
      createdAt: Date.now(),
    };
  }

  /**
   * Fees read at most `FEE_CACHE_MS` ago. The max fee has room for the base fee to double, which takes several full
   * blocks, and a transaction that is priced out anyway is replaced once it counts as stuck.
   */
  private recentFees(): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    const now = Date.now();
    if (this.feeCache === undefined || now - this.feeCache.at > FEE_CACHE_MS) {
      const fees = this.fees();
      this.feeCache = { at: now, fees };
      fees.catch(() => (this.feeCache = undefined));
    }
    return this.feeCache.fees;
  }

  /**
   * EIP-1559 fees from the latest block's base fee (twice it, so that the transaction stays includable while the
   * base fee rises for a few blocks) and the node's suggested priority fee; a chain without a base fee gets twice
   * its gas price. Two requests in parallel (ethers' getFeeData makes three).
   */
  private async fees(): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    const [block, priority] = await Promise.all([
      this.rpc("eth_getBlockByNumber", () => this.provider.getBlock("latest")),
      this.rpc(
        "eth_maxPriorityFeePerGas",
        () => this.provider.send("eth_maxPriorityFeePerGas", []) as Promise<string>,
      ).then(BigInt, () => undefined),
    ]);
    const maxPriorityFeePerGas = priority ?? 1_000_000_000n;
    const base = block?.baseFeePerGas;
    if (base !== null && base !== undefined)
      return { maxFeePerGas: base * 2n + maxPriorityFeePerGas, maxPriorityFeePerGas };
    const gasPrice = BigInt(
      await this.rpc("eth_gasPrice", () => this.provider.send("eth_gasPrice", []) as Promise<string>),
    );
    return {
      maxFeePerGas: gasPrice * 2n,
      maxPriorityFeePerGas: gasPrice < maxPriorityFeePerGas ? gasPrice : maxPriorityFeePerGas,
    };
  }

  private rpc<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(what, fn, { timeoutMs: this.options.rpcTimeoutMs, attempts: 3 }).catch((error: unknown) => {
      throw isTransportError(error) && !(error instanceof TransportError)
        ? new TransportError(`${what} failed`, { cause: error })
        : error;
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

/** A receipt as JSON-RPC returns it (quantities in hex). */
interface RawReceipt {
  transactionHash: string;
  status: string;
  blockNumber: string;
  gasUsed: string;
  effectiveGasPrice?: string;
}

function parseReceipt(raw: RawReceipt): TxReceipt {
  const gasUsed = BigInt(raw.gasUsed);
  return {
    hash: raw.transactionHash,
    status: Number(raw.status),
    blockNumber: Number(raw.blockNumber),
    gasUsed,
    fee: gasUsed * BigInt(raw.effectiveGasPrice ?? 0),
  };
}
