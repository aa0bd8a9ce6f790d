import type { NodeDatabase } from "./database";

/** What the node earned and spent, read from the job table and the outbox (for `vin status`). */
export class Earnings {
  constructor(private readonly db: NodeDatabase) {}

  /** Fees of the jobs this node settled (what it earned, withdrawn or not). */
  earned(): bigint {
    const rows = this.db.prepare("SELECT job FROM jobs WHERE state = 'settled'").all() as { job: string }[];
    return rows.reduce((sum, r) => sum + BigInt((JSON.parse(r.job) as { feePerNode: string }).feePerNode), 0n);
  }

  /** Transaction fees paid by every mined transaction of the outbox. */
  feesPaid(): bigint {
    const rows = this.db.prepare("SELECT fee_paid FROM txs WHERE fee_paid IS NOT NULL").all() as { fee_paid: string }[];
    return rows.reduce((sum, r) => sum + BigInt(r.fee_paid), 0n);
  }
}
