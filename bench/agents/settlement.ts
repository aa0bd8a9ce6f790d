/**
 * Settles the benchmark's receipts as the nodes do: one node/receipt-settler `ReceiptSettler` per operator, its
 * receipts in a node/store `ReceiptStore` (an in-memory SQLite database), batched (at most `batchMax` each),
 * committed, and finalized after the challenge window. Its chain is ReceiptSettlement on the in-process Hardhat
 * network, each transaction sent by the operator's Hardhat account (the node's outbox needs a JSON-RPC provider),
 * once per key as the outbox would; the gas of every commit and finalize is read from its transaction receipt.
 * Nobody challenges or requests an opening here.
 */
import Database from "better-sqlite3";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionResponse } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { silentLogger } from "../../src/core/log";
import { parseReceiptFile } from "../../src/core/receipts";
import { teeDomain } from "../../src/core/tee";
import { BatchStatus, ReceiptSettler, type SentTx, type SettlementChain } from "../../src/node/receipt-settler";
import { ReceiptStore } from "../../src/node/store/receipts";
import type { ReceiptSettlement } from "../../typechain-types";
import type { Network } from "./network";

/** The batches that settled a group of receipts. */
export interface PostedRun {
  receipts: number;
  batches: { batchId: bigint; count: number; commitGas: bigint; finalizeGas?: bigint }[];
}

/** Gas of each commit (with its receipt count) and finalize, by batch id. */
interface GasLog {
  commits: Map<bigint, { count: number; gas: bigint }>;
  finalizes: Map<bigint, bigint>;
}

/** ReceiptSettlement as the settler's chain, sent from `operator`'s account. */
function benchChain(settlement: ReceiptSettlement, operator: HardhatEthersSigner, gas: GasLog): SettlementChain {
  const s = settlement.connect(operator);
  const sent = new Map<string, SentTx & { batchId?: bigint; committedAt?: bigint }>();
  const once = async (
    key: string,
    send: () => Promise<ContractTransactionResponse>,
    after: (receipt: NonNullable<Awaited<ReturnType<ContractTransactionResponse["wait"]>>>) => Promise<object> = () =>
      Promise.resolve({}),
  ) => {
    const known = sent.get(key);
    if (known !== undefined) return known;
    let result: SentTx & { batchId?: bigint; committedAt?: bigint };
    try {
      const receipt = (await (await send()).wait())!;
      result = { hash: receipt.hash, status: receipt.status ?? 0, ...(await after(receipt)) };
    } catch {
      result = { hash: key, status: 0 };
    }
    sent.set(key, result);
    return result;
  };
  return {
    now: async () => BigInt(await time.latest()),
    parameters: async () => {
      const p = await settlement.parameters();
      return { challengeWindow: p.challengeWindow, maxReceiptAge: p.maxReceiptAge, batchBond: p.batchBond };
    },
    credit: () => settlement.creditOf(operator.address),
    unlockedBond: async () => {
      const [bond, locked] = await settlement.bondOf(operator.address);
      return bond - locked;
    },
    balance: () => settlement.balanceOf(operator.address),
    batch: async (batchId) => {
      const b = await settlement.batch(batchId);
      return { status: Number(b.status) as BatchStatus, unopened: Number(b.unopened) };
    },
    // Nobody requests an opening in the benchmark.
    pendingOpenings: () => Promise.resolve([]),
    inFlight: () => false,
    known: (key) => sent.has(key),
    depositBond: (key, amount) => once(key, () => s.depositBond(amount)),
    commitBatch: (key, b) =>
      once(
        key,
        () => s.commitBatch(b.root, b.count, b.total, b.enclave, b.dataHash),
        async (receipt) => {
          const event = receipt.logs
            .map((log) => settlement.interface.parseLog(log))
            .find((parsed) => parsed?.name === "BatchCommitted");
          const batchId = event!.args.batchId as bigint;
          gas.commits.set(batchId, { count: b.count, gas: receipt.gasUsed });
          const block = await receipt.getBlock();
          return { batchId, committedAt: BigInt(block.timestamp) };
        },
      ),
    openLeaf: (key, batchId, leaf) => once(key, () => s.openLeaf(batchId, leaf)),
    finalize: (key, batchId) =>
      once(
        key,
        () => s.finalize(batchId),
        (receipt) => {
          gas.finalizes.set(batchId, receipt.gasUsed);
          return Promise.resolve({});
        },
      ),
    withdraw: (key) => once(key, () => s.withdraw(operator.address)),
  };
}

/** One settler per operator of the network. */
export class Settlers {
  private readonly gas: GasLog = { commits: new Map(), finalizes: new Map() };
  private readonly settlers: ReceiptSettler[];
  private readonly posted: PostedRun[] = [];
  /** Receipts a store refused as already stored (a payment id recorded twice). */
  conflicts = 0;

  constructor(network: Network, batchMax: number) {
    const settlement = network.settlement;
    const domain = teeDomain(network.chainId, network.teeVerifier);
    this.settlers = network.operators.map(
      (op) =>
        new ReceiptSettler(
          new ReceiptStore(new Database(":memory:")),
          benchChain(settlement, op.signer, this.gas),
          silentLogger,
          { operator: op.signer.address, settlement: network.settlementAddress, domain, batchMax, batchAgeMs: 0 },
        ),
    );
  }

  /** Records `signed` in each node's store and steps every settler until all of them are committed. */
  async settle(signed: readonly { file: string; node: number }[]): Promise<PostedRun> {
    let latest = 0n;
    for (const { file, node } of signed) {
      const { receipt, signature } = parseReceiptFile(JSON.parse(file));
      if (receipt.issuedAt > latest) latest = receipt.issuedAt;
      try {
        this.settlers[node]!.record({ receipt, signature });
      } catch {
        this.conflicts += 1;
      }
    }
    // A receipt is batched once the chain's time has passed its issuedAt (no block was mined during the run).
    const now = BigInt(await time.latest());
    if (now <= latest) await time.increase(Number(latest - now) + 1);
    const batches: PostedRun["batches"] = [];
    for (const settler of this.settlers)
      for (let idle = 0; idle < 5;) {
        const status = settler.status();
        if (status.unbatched === 0 && status.planned === 0) break;
        const step = await settler.step();
        for (const batchId of step.committed) {
          const { count, gas } = this.gas.commits.get(batchId)!;
          batches.push({ batchId, count, commitGas: gas });
        }
        if (step.planned.length === 0 && step.committed.length === 0) {
          // Nothing due yet: let a second go by.
          await time.increase(1);
          idle += 1;
        }
      }
    const posted = { receipts: signed.length, batches };
    this.posted.push(posted);
    return posted;
  }

  /** After the challenge window: every settler finalizes its batches (and withdraws); records their gas. */
  async finalizeAll(): Promise<void> {
    for (const settler of this.settlers) await settler.step();
    for (const posted of this.posted)
      for (const batch of posted.batches) {
        const gas = this.gas.finalizes.get(batch.batchId);
        if (gas !== undefined) batch.finalizeGas = gas;
      }
  }

  /** Receipts left unsettled (never batched, or set aside as too old) across the settlers. */
  unsettled(): number {
    return this.settlers.reduce((sum, s) => {
      const status = s.status();
      return sum + status.unbatched + status.expired;
    }, 0);
  }
}

/** Commit and finalize gas of the posted batches over their receipts. */
export function gasPerReceipt(posted: PostedRun): number {
  const total = posted.batches.reduce((s, b) => s + b.commitGas + (b.finalizeGas ?? 0n), 0n);
  return posted.receipts === 0 ? Number.NaN : Math.round((Number(total) / posted.receipts) * 10) / 10;
}
