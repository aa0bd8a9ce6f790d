/**
 * What the receipts of a run say about payment (bench/agents/settlement settles them). The nodes' side is every receipt their enclaves
 * signed (reported by each node process before the answer left: what its receipt store settles, a killed node's
 * included, as it would settle them on restart); the clients' side is every receipt an agent kept, which its runtime
 * checked against the chain (sdk/agent `chainVerifier`: hashes recomputed from what it sent and got, the enclave's
 * registration, the operator's price).
 *
 * - paid without being served: a receipt a node signed (and settles) that no agent received;
 * - paid twice: a payment id in two signed receipts, or a turn that received two receipts;
 * - lost: a receipt an agent received that its node did not sign (store); one it stores but never settles is
 *   counted by the settlers.
 */
import { parseReceiptFile } from "../../src/core/receipts";
import type { Turn } from "./load";

export interface ReceiptAudit {
  signed: number;
  served: number;
  /** Turns that failed because their receipt did not check. */
  unverified: number;
  paidNotServed: number;
  duplicatePaymentIds: number;
  turnsPaidTwice: number;
  lost: number;
}

/** Compares the receipts `signed` during a run with those its `turns` received (each checked by its agent). */
export function auditReceipts(signed: readonly { file: string; node: number }[], turns: readonly Turn[]): ReceiptAudit {
  const ids = signed.map((s) => parseReceiptFile(JSON.parse(s.file)).receipt.paymentId.toLowerCase());
  const served = turns.flatMap((t) =>
    t.ok && t.receipt !== undefined ? [t.receipt.receipt.paymentId.toLowerCase()] : [],
  );
  const servedIds = new Set(served);
  const signedIds = new Set(ids);
  return {
    signed: ids.length,
    served: served.length,
    unverified: turns.filter((t) => t.unverified === true).length,
    paidNotServed: [...signedIds].filter((id) => !servedIds.has(id)).length,
    duplicatePaymentIds: ids.length - signedIds.size,
    // Two turns holding one payment id would be one payment counted for two answers.
    turnsPaidTwice: served.length - servedIds.size,
    lost: [...servedIds].filter((id) => !signedIds.has(id)).length,
  };
}
