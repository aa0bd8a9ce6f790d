import type Database from "better-sqlite3";
import { ConflictError } from "../../core/errors";
import { parseSignedReceipt, type SignedReceipt } from "../../core/receipts";

/** Where a settlement batch of the node stands (see node/receipt-settler). */
export type ReceiptBatchState = "planned" | "committed" | "finalized" | "cancelled" | "failed";

/** A batch of the node's receipts: planned (its members fixed), then committed on-chain, then finalized. */
export interface ReceiptBatchRow {
  /** Local id: the outbox keys of its transactions are built from it. */
  id: number;
  state: ReceiptBatchState;
  enclave: string;
  count: number;
  total: bigint;
  root: string;
  dataHash: string;
  /** The batch's published data (core/receipts `encodeBatchData`). */
  data: string;
  /** On-chain id, once committed. */
  batchId?: bigint;
  /** Block time of the commit (seconds), once committed. */
  committedAt?: number;
  createdAt: number;
}

/** What a batch is planned with: its members' payment ids in leaf order, and its data. */
export interface PlannedBatch {
  enclave: string;
  paymentIds: readonly string[];
  total: bigint;
  root: string;
  dataHash: string;
  data: string;
}

interface BatchRecord {
  id: number;
  state: ReceiptBatchState;
  enclave: string;
  count: number;
  total: string;
  root: string;
  data_hash: string;
  data: string;
  batch_id: string | null;
  committed_at: number | null;
  created_at: number;
}

/**
 * The chat receipts the enclave signed, each stored the moment it is signed (keyed by its payment id, so a payment
 * id is stored, and so batched, once), and the batches they are settled in. A receipt belongs to at most one live
 * batch: only a batch whose commit failed (reverted, nothing on-chain) gives its receipts back.
 */
export class ReceiptStore {
  private readonly stmt;

  constructor(private readonly db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS chat_receipts (
      payment_id TEXT PRIMARY KEY, enclave TEXT NOT NULL, issued_at INTEGER NOT NULL, receipt TEXT NOT NULL,
      stored_at INTEGER NOT NULL, batch INTEGER, position INTEGER, expired INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX IF NOT EXISTS chat_receipts_batch ON chat_receipts(batch);
    CREATE TABLE IF NOT EXISTS chat_batches (
      id INTEGER PRIMARY KEY AUTOINCREMENT, state TEXT NOT NULL, enclave TEXT NOT NULL, count INTEGER NOT NULL,
      total TEXT NOT NULL, root TEXT NOT NULL, data_hash TEXT NOT NULL, data TEXT NOT NULL, batch_id TEXT,
      committed_at INTEGER, created_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS chat_batches_state ON chat_batches(state);`);
    this.stmt = {
      insert: db.prepare(
        "INSERT INTO chat_receipts (payment_id, enclave, issued_at, receipt, stored_at) VALUES (?, ?, ?, ?, ?)",
      ),
      has: db.prepare("SELECT 1 FROM chat_receipts WHERE payment_id = ?"),
      unbatched: db.prepare(
        "SELECT payment_id, enclave, issued_at, receipt FROM chat_receipts WHERE batch IS NULL AND expired = 0 ORDER BY issued_at, rowid",
      ),
      expire: db.prepare("UPDATE chat_receipts SET expired = 1 WHERE payment_id = ? AND batch IS NULL"),
      assign: db.prepare("UPDATE chat_receipts SET batch = ?, position = ? WHERE payment_id = ? AND batch IS NULL"),
      release: db.prepare("UPDATE chat_receipts SET batch = NULL, position = NULL WHERE batch = ?"),
      members: db.prepare("SELECT receipt FROM chat_receipts WHERE batch = ? ORDER BY position"),
      insertBatch: db.prepare(
        "INSERT INTO chat_batches (state, enclave, count, total, root, data_hash, data, created_at) VALUES ('planned', ?, ?, ?, ?, ?, ?, ?)",
      ),
      batch: db.prepare("SELECT * FROM chat_batches WHERE id = ?"),
      inState: db.prepare("SELECT * FROM chat_batches WHERE state = ? ORDER BY id"),
      setState: db.prepare("UPDATE chat_batches SET state = ? WHERE id = ?"),
      commit: db.prepare("UPDATE chat_batches SET state = 'committed', batch_id = ?, committed_at = ? WHERE id = ?"),
      counts: db.prepare(
        "SELECT (SELECT COUNT(*) FROM chat_receipts WHERE batch IS NULL AND expired = 0) AS unbatched, (SELECT COUNT(*) FROM chat_receipts WHERE expired = 1) AS expired",
      ),
    };
  }

  /**
   * Stores a signed receipt.
   * @throws ConflictError when a receipt with its payment id is stored already (a payment id is spent once).
   */
  add(signed: SignedReceipt, now = Date.now()): void {
    const id = signed.receipt.paymentId.toLowerCase();
    const text = JSON.stringify(signed, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
    try {
      this.stmt.insert.run(id, signed.receipt.enclave.toLowerCase(), Number(signed.receipt.issuedAt), text, now);
    } catch (cause) {
      if ((cause as { code?: string }).code === "SQLITE_CONSTRAINT_PRIMARYKEY")
        throw new ConflictError(`a receipt with payment id ${id} is stored already`, { cause });
      throw cause;
    }
  }

  /** Whether a receipt spending `paymentId` was stored. */
  has(paymentId: string): boolean {
    return this.stmt.has.get(paymentId.toLowerCase()) !== undefined;
  }

  /** The receipts in no batch yet, oldest first. */
  unbatched(): { paymentId: string; enclave: string; issuedAt: number; signed: SignedReceipt }[] {
    return (
      this.stmt.unbatched.all() as { payment_id: string; enclave: string; issued_at: number; receipt: string }[]
    ).map((row) => ({
      paymentId: row.payment_id,
      enclave: row.enclave,
      issuedAt: row.issued_at,
      signed: parseSignedReceipt(JSON.parse(row.receipt) as Record<string, unknown>),
    }));
  }

  /** Marks receipts too old to be committed (their batch would be challengeable): they are never batched. */
  expire(paymentIds: readonly string[]): void {
    this.db.transaction(() => paymentIds.forEach((id) => this.stmt.expire.run(id)))();
  }

  /**
   * Plans a batch of receipts in no batch, in one transaction.
   * @throws ConflictError when one of them is in a batch already.
   */
  plan(batch: PlannedBatch, now = Date.now()): ReceiptBatchRow {
    return this.db.transaction(() => {
      const { lastInsertRowid } = this.stmt.insertBatch.run(
        batch.enclave.toLowerCase(),
        batch.paymentIds.length,
        batch.total.toString(),
        batch.root,
        batch.dataHash,
        batch.data,
        now,
      );
      const id = Number(lastInsertRowid);
      batch.paymentIds.forEach((paymentId, position) => {
        if (this.stmt.assign.run(id, position, paymentId.toLowerCase()).changes !== 1)
          throw new ConflictError(`receipt ${paymentId} is in a batch already, or unknown`);
      });
      return this.batch(id)!;
    })();
  }

  batch(id: number): ReceiptBatchRow | undefined {
    const row = this.stmt.batch.get(id) as BatchRecord | undefined;
    return row === undefined ? undefined : toRow(row);
  }

  /** The batches in `state`, oldest first. */
  inState(state: ReceiptBatchState): ReceiptBatchRow[] {
    return (this.stmt.inState.all(state) as BatchRecord[]).map(toRow);
  }

  /** The signed receipts of batch `id`, in leaf order. */
  members(id: number): SignedReceipt[] {
    return (this.stmt.members.all(id) as { receipt: string }[]).map((row) =>
      parseSignedReceipt(JSON.parse(row.receipt) as Record<string, unknown>),
    );
  }

  /** Records the on-chain commit of planned batch `id`. */
  committed(id: number, batchId: bigint, committedAt: number): void {
    this.stmt.commit.run(batchId.toString(), committedAt, id);
  }

  /** Moves batch `id` to `state`; a failed batch (its commit reverted: nothing on-chain) gives its receipts back. */
  setState(id: number, state: Exclude<ReceiptBatchState, "planned" | "committed">): void {
    this.db.transaction(() => {
      this.stmt.setState.run(state, id);
      if (state === "failed") this.stmt.release.run(id);
    })();
  }

  /** Receipts waiting for a batch, and receipts expired unbatched. */
  counts(): { unbatched: number; expired: number } {
    return this.stmt.counts.get() as { unbatched: number; expired: number };
  }
}

function toRow(row: BatchRecord): ReceiptBatchRow {
  return {
    id: row.id,
    state: row.state,
    enclave: row.enclave,
    count: row.count,
    total: BigInt(row.total),
    root: row.root,
    dataHash: row.data_hash,
    data: row.data,
    ...(row.batch_id === null ? {} : { batchId: BigInt(row.batch_id) }),
    ...(row.committed_at === null ? {} : { committedAt: row.committed_at }),
    createdAt: row.created_at,
  };
}
