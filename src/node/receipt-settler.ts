/**
 * The receipt settler (issue #14 §4): settles the chat receipts the node's enclave signs on ReceiptSettlement.
 *
 * Every receipt is stored the moment it is signed ({@link ReceiptSettler.record}, before the answer leaves the
 * node), keyed by its payment id, so that nothing is lost across a restart and no payment id is batched twice. Each
 * step then moves the batches along:
 *
 * 1. plan: the receipts in no batch, of one enclave, oldest first, become a batch once there are `batchMax` of them
 *    or the oldest has waited `batchAgeMs` (its members, tree, data and data hash fixed in one transaction);
 *    a receipt is batched only once the chain's time has passed its `issuedAt` (a receipt from the future is a
 *    fault), and one that would reach three quarters of `maxReceiptAge` unbatched is set aside, never committed
 *    (a late receipt is a slashable fault; an unpaid one is only lost revenue);
 * 2. commit: with enough credit in the operator's pool (else it waits for deposits) and a bond topped up if needed,
 *    `commitBatch` goes through the outbox under the batch's own key, so a crash between signing and mining resumes
 *    the same transaction; a reverted commit (nothing on-chain) gives its receipts back to be batched again;
 * 3. while the challenge window's first three quarters run, every requested opening is answered (`openLeaf`);
 * 4. after the window, with no opening outstanding, `finalize` credits the operator;
 * 5. whatever the operator can withdraw is withdrawn.
 *
 * A batch the chain shows cancelled (a successful challenge) is logged as an error: its bond is lost.
 */
import { getAddress, type Interface, type Provider, type TypedDataDomain } from "ethers";
import type { ReceiptSettlement } from "../../typechain-types/contracts/chat/ReceiptSettlement";
import type { IERC20 } from "../../typechain-types/@openzeppelin/contracts/token/ERC20/IERC20";
import { withRetry } from "../core/retry";
import { StateError } from "../core/errors";
import type { TxSender } from "./sender";
import type { Logger } from "../core/log";
import {
  batchDataHash,
  buildReceiptTree,
  encodeBatchData,
  BatchStatus,
  leafProof,
  parseBatchData,
  type BatchData,
  type LeafProofStruct,
  type SignedReceipt,
} from "../core/receipts";
import type { ReceiptBatchRow, ReceiptStore } from "./store/receipts";

export { BatchStatus, type LeafProofStruct };

/** The settlement's parameters the settler needs. */
export interface SettlementParameters {
  challengeWindow: bigint;
  maxReceiptAge: bigint;
  batchBond: bigint;
}

/** The outcome of a settlement transaction sent through the outbox. */
export interface SentTx {
  hash: string;
  /** 1 mined and succeeded, 0 reverted. */
  status: number;
}

/**
 * What the settler reads and sends on-chain; {@link settlementChain} builds it on the contract and the node's outbox.
 * Every `send` is keyed: a key is signed once, ever, and sending it again resumes the stored transaction.
 */
export interface SettlementChain {
  /** The latest block's time (seconds). */
  now(): Promise<bigint>;
  parameters(): Promise<SettlementParameters>;
  /** The operator's credit pool. */
  credit(): Promise<bigint>;
  /** The operator's bond not locked by pending batches. */
  unlockedBond(): Promise<bigint>;
  /** What the operator can withdraw. */
  balance(): Promise<bigint>;
  batch(batchId: bigint): Promise<{ status: BatchStatus; unopened: number }>;
  /** Leaves of `batchId` whose opening was requested and is still outstanding. */
  pendingOpenings(batchId: bigint): Promise<number[]>;
  /** Whether a transaction of `kind` is in flight. */
  inFlight(kind: string): boolean;
  /**
   * Whether the transaction `key` was signed already (its effects may be on-chain: sending it again resumes it).
   * Without it, none is taken as signed: the checks before a commit are made again.
   */
  known?(key: string): boolean;
  depositBond(key: string, amount: bigint): Promise<SentTx>;
  commitBatch(
    key: string,
    batch: { root: string; count: number; total: bigint; enclave: string; dataHash: string },
  ): Promise<SentTx & { batchId?: bigint; committedAt?: bigint }>;
  openLeaf(key: string, batchId: bigint, leaf: LeafProofStruct): Promise<SentTx>;
  finalize(key: string, batchId: bigint): Promise<SentTx>;
  withdraw(key: string): Promise<SentTx>;
}

export interface ReceiptSettlerOptions {
  /** The operator (the outbox's signer). */
  operator: string;
  /** ReceiptSettlement's address. */
  settlement: string;
  /** The receipts' EIP-712 domain (the TeeVerifier's). */
  domain: TypedDataDomain;
  /** Most receipts per batch. */
  batchMax: number;
  /** Longest a receipt waits for its batch, in ms (measured on the chain's clock). */
  batchAgeMs: number;
  /** Called with each planned batch's data (`encodeBatchData`) and its hash, before it is committed. */
  publish?: (dataHash: string, data: string) => void;
}

/** What one step did, for logs and tests. */
export interface SettlerStep {
  planned: number[];
  committed: bigint[];
  opened: number;
  finalized: bigint[];
  withdrawn: bigint;
}

/** The outbox kinds the settler sends under. */
export const SETTLER_KINDS = {
  depositBond: "depositSettlementBond",
  commit: "commitReceiptBatch",
  open: "openReceiptLeaf",
  finalize: "finalizeReceiptBatch",
  withdraw: "withdrawReceiptEarnings",
} as const;

/**
 * Settles the enclave's receipts in batches.
 * @example const settler = new ReceiptSettler(store.receipts, chain, log, options); await settler.step();
 */
export class ReceiptSettler {
  private parameters?: SettlementParameters;

  constructor(
    private readonly store: ReceiptStore,
    private readonly chain: SettlementChain,
    private readonly log: Logger,
    private readonly options: ReceiptSettlerOptions,
  ) {}

  /**
   * Stores a receipt the enclave just signed (the chat API's hook: called before the answer is sent).
   * @throws ConflictError when its payment id was stored before.
   */
  record(signed: SignedReceipt): void {
    this.store.add(signed);
  }

  /** One pass: plan, commit, open, finalize, withdraw. */
  async step(): Promise<SettlerStep> {
    const done: SettlerStep = { planned: [], committed: [], opened: 0, finalized: [], withdrawn: 0n };
    const params = (this.parameters ??= await this.chain.parameters());
    const now = await this.chain.now();
    if (this.store.inState("planned").length === 0) {
      const planned = this.plan(now, params);
      if (planned !== undefined) done.planned.push(planned.id);
    }
    for (const batch of this.store.inState("planned")) {
      const batchId = await this.commit(batch, now, params);
      if (batchId === undefined) break;
      done.committed.push(batchId);
    }
    for (const batch of this.store.inState("committed")) {
      const { opened, finalized } = await this.advance(batch, now, params);
      done.opened += opened;
      if (finalized) done.finalized.push(batch.batchId!);
    }
    done.withdrawn = await this.withdraw();
    return done;
  }

  /** Plans the next batch, if one is due. */
  private plan(now: bigint, params: SettlementParameters): ReceiptBatchRow | undefined {
    const { operator, settlement, batchMax, batchAgeMs } = this.options;
    const lastUsable = (params.maxReceiptAge * 3n) / 4n;
    const stale: string[] = [];
    const usable = this.store.unbatched().filter(({ paymentId, signed: { receipt } }) => {
      const foreign =
        receipt.operator.toLowerCase() !== operator.toLowerCase() ||
        receipt.settlement.toLowerCase() !== settlement.toLowerCase();
      if (foreign || now - receipt.issuedAt >= lastUsable) stale.push(paymentId);
      return !foreign && now - receipt.issuedAt < lastUsable && receipt.issuedAt < now;
    });
    if (stale.length > 0) {
      this.store.expire(stale);
      this.log.error(
        { receipts: stale.length },
        "receipts set aside unsettled: too old to commit (or of another operator or settlement contract)",
      );
    }
    if (usable.length === 0) return undefined;
    const enclave = usable[0]!.enclave;
    const members = usable.filter((r) => r.enclave === enclave).slice(0, batchMax);
    const due = members.length >= batchMax || (now - BigInt(members[0]!.issuedAt)) * 1000n >= BigInt(batchAgeMs);
    if (!due) return undefined;
    const receipts = members.map((m) => m.signed);
    // One enclave, this operator and contract (filtered above), each payment id once (the store's key).
    const tree = buildReceiptTree(this.options.domain, receipts);
    const data: BatchData = {
      chainId: BigInt(this.options.domain.chainId!),
      settlement: getAddress(settlement),
      teeVerifier: getAddress(String(this.options.domain.verifyingContract)),
      receipts,
    };
    const dataHash = batchDataHash(data);
    const text = encodeBatchData(data);
    this.options.publish?.(dataHash, text);
    const row = this.store.plan({
      enclave,
      paymentIds: members.map((m) => m.paymentId),
      total: tree.total,
      root: tree.root,
      dataHash,
      data: text,
    });
    this.log.info({ batch: row.id, receipts: row.count, total: row.total.toString() }, "receipt batch planned");
    return row;
  }

  /** Commits a planned batch; undefined while it must wait (credit) or when its commit reverted. */
  private async commit(batch: ReceiptBatchRow, now: bigint, params: SettlementParameters): Promise<bigint | undefined> {
    const key = `${SETTLER_KINDS.commit}:${batch.id}`;
    // Signed before a restart: its checks were made then, and the pool and bond may already show its effects.
    if (this.chain.known?.(key) !== true) {
      // A batch that waited (for credit) until its oldest receipt is as old as plan() accepts would be committed out
      // of time, a fault that costs the bond: it is dropped, and plan() sets its receipts aside.
      const oldest = parseBatchData(JSON.parse(batch.data)).receipts.reduce(
        (min, { receipt }) => (receipt.issuedAt < min ? receipt.issuedAt : min),
        now,
      );
      if (now - oldest >= (params.maxReceiptAge * 3n) / 4n) {
        this.store.setState(batch.id, "failed");
        this.log.error({ batch: batch.id }, "the batch waited too long to commit in time: not committed");
        return undefined;
      }
      if (!(await this.ready(batch, params))) return undefined;
    }
    const sent = await this.chain.commitBatch(key, {
      root: batch.root,
      count: batch.count,
      total: batch.total,
      enclave: batch.enclave,
      dataHash: batch.dataHash,
    });
    if (sent.status !== 1 || sent.batchId === undefined || sent.committedAt === undefined) {
      this.store.setState(batch.id, "failed");
      this.log.error({ batch: batch.id, tx: sent.hash }, "the batch's commit reverted: its receipts go to a new batch");
      return undefined;
    }
    this.store.committed(batch.id, sent.batchId, Number(sent.committedAt));
    this.log.info(
      { batch: batch.id, batchId: sent.batchId.toString(), receipts: batch.count, tx: sent.hash },
      "receipt batch committed",
    );
    return sent.batchId;
  }

  /** Whether the pool covers the batch (else it waits for deposits), with the bond topped up if it must be. */
  private async ready(batch: ReceiptBatchRow, params: SettlementParameters): Promise<boolean> {
    const credit = await this.chain.credit();
    if (credit < batch.total) {
      this.log.warn(
        { batch: batch.id, credit: credit.toString(), needed: batch.total.toString() },
        "the credit pool holds less than the batch's total: waiting for deposits",
      );
      return false;
    }
    const unlocked = await this.chain.unlockedBond();
    if (unlocked < params.batchBond) {
      const key = `${SETTLER_KINDS.depositBond}:${batch.id}`;
      const sent = await this.chain.depositBond(key, params.batchBond - unlocked);
      if (sent.status !== 1) {
        this.log.error({ batch: batch.id, tx: sent.hash }, "the settlement bond deposit reverted: fund the operator");
        return false;
      }
    }
    return true;
  }

  /** Answers openings while they may be answered; finalizes after the window. */
  private async advance(
    batch: ReceiptBatchRow,
    now: bigint,
    params: SettlementParameters,
  ): Promise<{ opened: number; finalized: boolean }> {
    const batchId = batch.batchId!;
    const onChain = await this.chain.batch(batchId);
    if (onChain.status === BatchStatus.Finalized) {
      this.store.setState(batch.id, "finalized");
      return { opened: 0, finalized: true };
    }
    if (onChain.status === BatchStatus.Cancelled) {
      this.store.setState(batch.id, "cancelled");
      this.log.error({ batchId: batchId.toString() }, "receipt batch cancelled by a challenge: its bond is lost");
      return { opened: 0, finalized: false };
    }
    const committedAt = BigInt(batch.committedAt!);
    let opened = 0;
    if (now < committedAt + (params.challengeWindow * 3n) / 4n && onChain.unopened > 0) {
      const data = parseBatchData(JSON.parse(batch.data));
      const tree = buildReceiptTree(this.options.domain, data.receipts);
      for (const index of await this.chain.pendingOpenings(batchId)) {
        const key = `${SETTLER_KINDS.open}:${batchId}:${index}`;
        const sent = await this.chain.openLeaf(key, batchId, leafProof(data, tree, index));
        if (sent.status === 1) opened += 1;
      }
      if (opened > 0) this.log.info({ batchId: batchId.toString(), opened }, "receipt openings answered");
    }
    if (now < committedAt + params.challengeWindow || onChain.unopened - opened > 0)
      return { opened, finalized: false };
    const sent = await this.chain.finalize(`${SETTLER_KINDS.finalize}:${batchId}`, batchId);
    // A reverted finalize (someone finalized first) is read back from the chain next step.
    if (sent.status !== 1) return { opened, finalized: false };
    this.store.setState(batch.id, "finalized");
    this.log.info({ batchId: batchId.toString(), total: batch.total.toString() }, "receipt batch finalized");
    return { opened, finalized: true };
  }

  /** Withdraws the operator's balance; 0 when there is none or a withdrawal is in flight. */
  private async withdraw(): Promise<bigint> {
    if (this.chain.inFlight(SETTLER_KINDS.withdraw)) return 0n;
    const balance = await this.chain.balance();
    if (balance === 0n) return 0n;
    const sent = await this.chain.withdraw(`${SETTLER_KINDS.withdraw}:${Date.now()}`);
    if (sent.status !== 1) return 0n;
    this.log.info({ amount: balance.toString(), tx: sent.hash }, "receipt earnings withdrawn");
    return balance;
  }

  /** Receipts waiting, set aside, and batches by state. */
  status(): { unbatched: number; expired: number; planned: number; committed: number } {
    return {
      ...this.store.counts(),
      planned: this.store.inState("planned").length,
      committed: this.store.inState("committed").length,
    };
  }
}

/** Where {@link settlementChain} reads and sends. */
export interface SettlementChainOptions {
  settlement: ReceiptSettlement;
  /** The settlement's token (the bond is approved to it). */
  token: Pick<IERC20, "interface">;
  tokenAddress: string;
  sender: Pick<TxSender, "send" | "wait">;
  /** The outbox, to tell whether a kind is in flight. */
  pending: () => readonly { kind: string }[];
  /** Whether the outbox holds transaction `key`. */
  known: (key: string) => boolean;
  provider: Provider;
  operator: string;
  rpcTimeoutMs: number;
  signal?: AbortSignal;
}

/**
 * The settler's chain on the deployed ReceiptSettlement, every transaction through the node's outbox.
 * @example const chain = settlementChain({ settlement, token, tokenAddress, sender, pending: () => store.outbox.pending(), provider, operator, rpcTimeoutMs });
 */
export function settlementChain(options: SettlementChainOptions): SettlementChain {
  const { settlement, sender, provider, operator, signal } = options;
  const retry = { timeoutMs: options.rpcTimeoutMs };
  const read = <T>(what: string, fn: () => Promise<T>) => withRetry(`receiptSettlement.${what}`, fn, retry);
  const address = settlement.getAddress();
  const iface = settlement.interface;
  const send = async (key: string, kind: string, to: string, data: string, call: string) => {
    const tx = await sender.send({ key, kind, to, data, context: { contract: "receiptSettlement", call } });
    const receipt = await sender.wait(tx, signal);
    return { hash: receipt.hash, status: receipt.status };
  };
  const call = async (key: string, kind: string, fn: string, args: unknown[]) =>
    send(key, kind, await address, (iface as Interface).encodeFunctionData(fn, args), fn);
  return {
    now: async () => {
      const block = await withRetry("eth_getBlockByNumber", () => provider.getBlock("latest"), retry);
      if (block === null) throw new StateError("the node's RPC returned no latest block");
      return BigInt(block.timestamp);
    },
    parameters: async () => {
      const p = await read("parameters", () => settlement.parameters());
      return { challengeWindow: p.challengeWindow, maxReceiptAge: p.maxReceiptAge, batchBond: p.batchBond };
    },
    credit: () => read("creditOf", () => settlement.creditOf(operator)),
    unlockedBond: async () => {
      const [bond, locked] = await read("bondOf", () => settlement.bondOf(operator));
      return bond - locked;
    },
    balance: () => read("balanceOf", () => settlement.balanceOf(operator)),
    batch: async (batchId) => {
      const b = await read("batch", () => settlement.batch(batchId));
      return { status: Number(b.status) as BatchStatus, unopened: Number(b.unopened) };
    },
    pendingOpenings: async (batchId) => {
      const requests = await read("OpeningRequested", () =>
        settlement.queryFilter(settlement.filters.OpeningRequested(batchId)),
      );
      const open: number[] = [];
      for (const index of new Set(requests.map((r) => Number(r.args.index)))) {
        const { closed } = await read("opening", () => settlement.opening(batchId, index));
        if (!closed) open.push(index);
      }
      return open;
    },
    inFlight: (kind) => options.pending().some((tx) => tx.kind === kind),
    known: (key) => options.known(key),
    depositBond: async (key, amount) => {
      const approve = options.token.interface.encodeFunctionData("approve", [await address, amount]);
      const approved = await send(`${key}:approve`, "approve", options.tokenAddress, approve, "approve");
      if (approved.status !== 1) return approved;
      return call(key, SETTLER_KINDS.depositBond, "depositBond", [amount]);
    },
    commitBatch: async (key, batch) => {
      const sent = await call(key, SETTLER_KINDS.commit, "commitBatch", [
        batch.root,
        batch.count,
        batch.total,
        batch.enclave,
        batch.dataHash,
      ]);
      if (sent.status !== 1) return sent;
      const receipt = await withRetry(
        "eth_getTransactionReceipt",
        () => provider.getTransactionReceipt(sent.hash),
        retry,
      );
      const event = receipt?.logs.map((log) => iface.parseLog(log)).find((parsed) => parsed?.name === "BatchCommitted");
      if (receipt === null || event === undefined || event === null)
        throw new StateError(`commitBatch ${sent.hash} emitted no BatchCommitted`);
      const block = await withRetry("eth_getBlockByNumber", () => provider.getBlock(receipt.blockNumber), retry);
      return { ...sent, batchId: event.args.batchId as bigint, committedAt: BigInt(block!.timestamp) };
    },
    openLeaf: (key, batchId, leaf) => call(key, SETTLER_KINDS.open, "openLeaf", [batchId, leaf]),
    finalize: (key, batchId) => call(key, SETTLER_KINDS.finalize, "finalize", [batchId]),
    withdraw: (key) => call(key, SETTLER_KINDS.withdraw, "withdraw", [operator]),
  };
}
