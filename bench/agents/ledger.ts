/**
 * What the receipts of a run say about payment, and their settlement. The nodes' side is every receipt their enclaves
 * signed (reported by each node process before the answer left: what its receipt store settles, a killed node's
 * included, as it would settle them on restart); the clients' side is every receipt an agent received, each checked
 * with sdk/chat `verifyChatReceipt` (hashes recomputed from what it sent and got, the enclave's registration and the
 * operator's price read from the chain).
 *
 * - paid without being served: a receipt a node signed (and settles) that no agent received;
 * - paid twice: a payment id in two signed receipts, or a turn that received two receipts;
 * - lost: a receipt an agent received that its node does not settle.
 *
 * Settlement: each operator's receipts of a group of runs in batches of at most `batchSize` through sdk/receipts `postBatch`
 * (one commitBatch each), finalized after the challenge window; gas per receipt = commit and finalize gas of the
 * group's batches over its receipts, from the transactions' receipts.
 */
import hre from "hardhat";
import { parseReceiptFile, type ReceiptFile } from "../../src/core/receipts";
import { verifyChatReceipt } from "../../src/sdk/chat";
import { postBatch } from "../../src/sdk/receipts";
import type { Network } from "./network";
import type { Turn } from "./load";

export interface ReceiptAudit {
  signed: number;
  served: number;
  verified: number;
  verifyFailures: string[];
  paidNotServed: number;
  duplicatePaymentIds: number;
  turnsPaidTwice: number;
  lost: number;
}

/** Compares the receipts `signed` during a run with those its `turns` received, and verifies the received ones. */
export async function auditReceipts(
  network: Network,
  signed: readonly { file: string; node: number }[],
  turns: readonly Turn[],
  verifyConcurrency = 8,
): Promise<ReceiptAudit> {
  const nodeSide = signed.map((s) => parseReceiptFile(JSON.parse(s.file)));
  const ids = nodeSide.map((f) => f.receipt.paymentId.toLowerCase());
  const served = turns.filter((t) => t.ok && t.receipt !== undefined);
  const servedIds = new Set(served.map((t) => parseReceiptFile(t.receipt).receipt.paymentId.toLowerCase()));
  const signedIds = new Set(ids);
  const verifyFailures: string[] = [];
  let verified = 0;
  const queue = [...served];
  await Promise.all(
    Array.from({ length: verifyConcurrency }, async () => {
      for (let turn = queue.shift(); turn !== undefined; turn = queue.shift()) {
        try {
          await verifyChatReceipt({
            contracts: network.fx.system,
            settlement: network.settlement,
            request: turn.request,
            response: { chunks: turn.chunks ?? [] },
            operator: network.operators[turn.node!]!.signer.address,
          });
          verified += 1;
        } catch (error) {
          verifyFailures.push(`agent ${turn.agent}: ${(error as Error).message.split("\n")[0]}`);
        }
      }
    }),
  );
  return {
    signed: nodeSide.length,
    served: served.length,
    verified,
    verifyFailures,
    paidNotServed: [...signedIds].filter((id) => !servedIds.has(id)).length,
    duplicatePaymentIds: ids.length - signedIds.size,
    // A turn holds one receipt by construction; two turns holding one payment id would be one payment served twice.
    turnsPaidTwice: served.length - servedIds.size,
    lost: [...servedIds].filter((id) => !signedIds.has(id)).length,
  };
}

export interface PostedRun {
  receipts: number;
  batches: { batchId: bigint; count: number; commitGas: bigint; finalizeGas?: bigint }[];
}

/** Commits signed receipts, per operator, in batches of at most `batchSize`. */
export async function commitRun(
  network: Network,
  signed: readonly { file: string; node: number }[],
  batchSize: number,
): Promise<PostedRun> {
  const batches: PostedRun["batches"] = [];
  for (const operator of network.operators) {
    const mine: ReceiptFile[] = signed
      .filter((s) => s.node === operator.index)
      .map((s) => parseReceiptFile(JSON.parse(s.file)));
    for (let i = 0; i < mine.length; i += batchSize) {
      const chunk = mine.slice(i, i + batchSize).map(({ receipt, signature }) => ({ receipt, signature }));
      const posted = await postBatch(network.settlement.connect(operator.signer), operator.enclave.address, chunk);
      const gas = (await hre.ethers.provider.getTransactionReceipt(posted.transactionHash))!.gasUsed;
      batches.push({ batchId: posted.batchId, count: chunk.length, commitGas: gas });
    }
  }
  return { receipts: signed.length, batches };
}

/** Finalizes the posted batches (the challenge window must have passed), recording each one's gas. */
export async function finalizeRun(network: Network, posted: PostedRun): Promise<void> {
  for (const batch of posted.batches) {
    const receipt = await (await network.settlement.finalize(batch.batchId)).wait();
    batch.finalizeGas = receipt!.gasUsed;
  }
}

/** Commit and finalize gas of the posted batches over their receipts. */
export function gasPerReceipt(posted: PostedRun): number {
  const total = posted.batches.reduce((s, b) => s + b.commitGas + (b.finalizeGas ?? 0n), 0n);
  return posted.receipts === 0 ? Number.NaN : Math.round((Number(total) / posted.receipts) * 10) / 10;
}
