import type { NodeDatabase } from "./database";

/**
 * What an outbox transaction of the operator node does. The one place its kinds and keys are named: a key is
 * `<kind>:<what makes it unique>`, built by {@link outboxKey}, and signed once, ever.
 * - `claimSlot`: `escrow.claimSlot(job)`, a job's slot (collateral locked).
 * - `submit`, `commit`, `reveal`: a job's result (k = 1; k > 1 in two phases).
 * - `batch`: `escrow.submitBatch`, the results of several ZK jobs of one model version.
 * - `withdrawEarnings`: `escrow.claim(node)`, the node's fees paid out to it (nothing to do with `claimSlot`).
 *
 * The operator commands (`vin stake`, `vin register`, ...) store theirs under their ABI function's name.
 */
export type OutboxKind = "claimSlot" | "submit" | "commit" | "reveal" | "batch" | "withdrawEarnings";

/** The kinds a job signs on its own, one per job: keyed by the job id. */
export type JobTxKind = "claimSlot" | "submit" | "commit" | "reveal";

export const OUTBOX_KINDS: readonly OutboxKind[] = [
  "claimSlot",
  "submit",
  "commit",
  "reveal",
  "batch",
  "withdrawEarnings",
];

/**
 * The outbox key of each kind of transaction.
 * @example sender.send({ key: outboxKey.submit(job.id), kind: "submit", ... })
 */
export const outboxKey = {
  claimSlot: (jobId: bigint) => `claimSlot:${jobId}`,
  submit: (jobId: bigint) => `submit:${jobId}`,
  commit: (jobId: bigint) => `commit:${jobId}`,
  reveal: (jobId: bigint) => `reveal:${jobId}`,
  /** One per set of members: a batch that never got signed is planned again under the key of its new members. */
  batch: (jobIds: readonly bigint[]) => `batch:${jobIds.join(",")}`,
  /** One per withdrawal, by the time it was decided. */
  withdrawEarnings: (at: number = Date.now()) => `withdrawEarnings:${at}`,
} as const satisfies Record<OutboxKind, (...args: never[]) => string>;

/** What the key of a transaction whose job a reorganisation orphaned gets appended (with the orphan's row id). */
export const ORPHANED_SUFFIX = "~orphaned-";

/** The kind a key was built for (the text before its first colon). */
export function kindOf(key: string): string {
  const colon = key.indexOf(":");
  return colon === -1 ? key : key.slice(0, colon);
}

export type TxStatus = "pending" | "mined" | "reverted" | "dropped";

export interface TxRow {
  id: number;
  /** Unique per logical transaction, e.g. `submit:7` ({@link outboxKey}): replacements keep its nonce and data. */
  key: string;
  jobId?: bigint;
  /** An {@link OutboxKind}, or an operator command's ABI function name. */
  kind: string;
  nonce: number;
  to: string;
  data: string;
  gasLimit: bigint;
  status: TxStatus;
  hash: string;
  createdAt: number;
  /** Last change: signing, a replacement, a receipt, or a reorganisation that made it pending again. */
  updatedAt: number;
  /** From the receipt, once mined. */
  block?: number;
  gasUsed?: bigint;
  feePaid?: bigint;
}

/** A transaction to store, signed and not broadcast yet. */
export interface NewTx {
  key: string;
  jobId?: bigint;
  kind: string;
  nonce: number;
  to: string;
  data: string;
  gasLimit: bigint;
}

/** One signing of a transaction: the first, or a fee-bumped replacement with the same nonce and data. */
export interface TxAttempt {
  hash: string;
  raw: string;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  createdAt: number;
}

/** The meta key of the nonce this database expects the chain to report next for the node's key. */
const EXPECTED_NONCE = "expectedNonce";
/** The meta key of the address that signs the outbox's transactions. */
const SIGNER = "address";

/**
 * The transaction outbox: every transaction the node signed, stored with its raw bytes before it is broadcast, each
 * of its attempts, its receipt once mined, and which jobs a batched submission includes.
 */
export class Outbox {
  constructor(private readonly db: NodeDatabase) {}

  /** The database file, for messages. */
  get file(): string {
    return this.db.file;
  }

  /** Runs `fn` in one transaction that is on disk when this returns (see {@link NodeDatabase.durably}). */
  durably<T>(fn: () => T): T {
    return this.db.durably(fn);
  }

  get(key: string): TxRow | undefined {
    const row = this.db.prepare("SELECT * FROM txs WHERE key = ?").get(key) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : toTxRow(row);
  }

  byId(id: number): TxRow | undefined {
    const row = this.db.prepare("SELECT * FROM txs WHERE id = ?").get(id) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : toTxRow(row);
  }

  /** The job's own transactions and the batched submission it belongs to, if that was stored. */
  ofJob(jobId: bigint): TxRow[] {
    const id = jobId.toString();
    const sql =
      "SELECT * FROM txs WHERE job_id = ? OR key IN (SELECT tx_key FROM batch_members WHERE job_id = ?) ORDER BY id";
    return (this.db.prepare(sql).all(id, id) as Record<string, unknown>[]).map(toTxRow);
  }

  /** Transactions without a receipt, in nonce order. */
  pending(): TxRow[] {
    return (
      this.db.prepare("SELECT * FROM txs WHERE status = 'pending' ORDER BY nonce").all() as Record<string, unknown>[]
    ).map(toTxRow);
  }

  /** The highest nonce of a stored transaction that was not dropped. */
  maxNonce(): number | undefined {
    const row = this.db.prepare("SELECT MAX(nonce) AS n FROM txs WHERE status != 'dropped'").get() as {
      n: number | null;
    };
    return row.n ?? undefined;
  }

  /** Stores a signed transaction before it is broadcast; the key's uniqueness makes a second signing impossible. */
  insert(tx: NewTx, attempt: TxAttempt): TxRow {
    return this.db.atomically(() => {
      const now = Date.now();
      const info = this.db
        .prepare(
          "INSERT INTO txs (key, job_id, kind, nonce, to_addr, data, gas_limit, status, hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
        )
        .run(
          tx.key,
          tx.jobId?.toString() ?? null,
          tx.kind,
          tx.nonce,
          tx.to,
          tx.data,
          tx.gasLimit.toString(),
          attempt.hash,
          now,
          now,
        );
      this.insertAttempt(Number(info.lastInsertRowid), attempt);
      return this.get(tx.key)!;
    });
  }

  /** Stores a fee-bumped replacement (same nonce, same data) before it is broadcast. */
  addAttempt(txId: number, attempt: TxAttempt): void {
    this.db.atomically(() => {
      this.insertAttempt(txId, attempt);
      this.db.prepare("UPDATE txs SET hash = ?, updated_at = ? WHERE id = ?").run(attempt.hash, Date.now(), txId);
    });
  }

  /** Every signing of the transaction, oldest first. */
  attempts(txId: number): TxAttempt[] {
    const rows = this.db
      .prepare("SELECT * FROM tx_attempts WHERE tx_id = ? ORDER BY created_at, rowid")
      .all(txId) as Record<string, string | number>[];
    return rows.map((r) => ({
      hash: r.hash as string,
      raw: r.raw as string,
      maxFeePerGas: BigInt(r.max_fee as string),
      maxPriorityFeePerGas: BigInt(r.priority_fee as string),
      createdAt: r.created_at as number,
    }));
  }

  /** Records the transaction's outcome: its receipt, or that it was dropped. */
  finish(
    txId: number,
    result: { status: TxStatus; hash?: string; block?: number; gasUsed?: bigint; feePaid?: bigint },
  ): void {
    this.db
      .prepare(
        "UPDATE txs SET status = ?, hash = COALESCE(?, hash), block = ?, gas_used = ?, fee_paid = ?, updated_at = ? WHERE id = ?",
      )
      .run(
        result.status,
        result.hash ?? null,
        result.block ?? null,
        result.gasUsed?.toString() ?? null,
        result.feePaid?.toString() ?? null,
        Date.now(),
        txId,
      );
  }

  /** The nonce this database expects the chain to report next for the node's key (see `TxSender.init`). */
  expectedNonce(): number | undefined {
    const value = this.db.getMeta(EXPECTED_NONCE);
    return value === undefined ? undefined : Number(value);
  }

  setExpectedNonce(nonce: number): void {
    this.db.setMeta(EXPECTED_NONCE, String(nonce));
  }

  /** Records the address that signs this outbox's transactions. */
  setSigner(address: string): void {
    this.db.setMeta(SIGNER, address);
  }

  /* BATCHED SUBMISSIONS */

  /** Records that the transaction `txKey` (not signed yet) will submit `jobIds`, replacing any earlier plan. */
  planBatch(txKey: string, jobIds: readonly bigint[]): void {
    this.db.atomically(() => {
      const insert = this.db.prepare(
        "INSERT INTO batch_members (job_id, tx_key) VALUES (?, ?) ON CONFLICT(job_id) DO UPDATE SET tx_key = excluded.tx_key",
      );
      for (const id of jobIds) insert.run(id.toString(), txKey);
    });
  }

  /** The stored batched submission that includes the job, if any (a plan whose transaction was never stored is none). */
  batchOf(jobId: bigint): TxRow | undefined {
    const row = this.db
      .prepare("SELECT txs.* FROM txs JOIN batch_members b ON b.tx_key = txs.key WHERE b.job_id = ?")
      .get(jobId.toString()) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : toTxRow(row);
  }

  /** The jobs a batched submission includes. */
  batchMembers(txKey: string): bigint[] {
    const rows = this.db
      .prepare("SELECT job_id FROM batch_members WHERE tx_key = ? ORDER BY CAST(job_id AS INTEGER)")
      .all(txKey) as { job_id: string }[];
    return rows.map((r) => BigInt(r.job_id));
  }

  /* REORGANISATIONS */

  /**
   * Detaches the transactions of a job a reorganisation orphaned (row `orphanId` of `orphaned_jobs`): their keys get
   * {@link ORPHANED_SUFFIX}, so the job that now has the id signs its own, and the job leaves its batch (the batch
   * transaction, if any, is the old job's).
   */
  detach(jobId: bigint, orphanId: number): void {
    const id = jobId.toString();
    this.db
      .prepare("UPDATE txs SET key = key || ? || ?, job_id = NULL, updated_at = ? WHERE job_id = ?")
      .run(ORPHANED_SUFFIX, String(orphanId), Date.now(), id);
    this.db.prepare("DELETE FROM batch_members WHERE job_id = ?").run(id);
  }

  /** Voids the receipts of blocks above `block`: those transactions are pending again. Returns them. */
  voidAbove(block: number): { jobId?: bigint; key: string }[] {
    const rows = this.db
      .prepare(
        "UPDATE txs SET status = 'pending', block = NULL, gas_used = NULL, fee_paid = NULL, updated_at = ? WHERE block > ? AND status IN ('mined', 'reverted') RETURNING job_id, key",
      )
      .all(Date.now(), block) as { job_id: string | null; key: string }[];
    return rows.map((r) => ({ jobId: r.job_id === null ? undefined : BigInt(r.job_id), key: r.key }));
  }

  private insertAttempt(txId: number, attempt: TxAttempt): void {
    this.db
      .prepare(
        "INSERT INTO tx_attempts (hash, tx_id, raw, max_fee, priority_fee, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      )
      .run(
        attempt.hash,
        txId,
        attempt.raw,
        attempt.maxFeePerGas.toString(),
        attempt.maxPriorityFeePerGas.toString(),
        attempt.createdAt,
      );
  }
}

function toTxRow(r: Record<string, unknown>): TxRow {
  return {
    id: r.id as number,
    key: r.key as string,
    jobId: r.job_id === null ? undefined : BigInt(r.job_id as string),
    kind: r.kind as string,
    nonce: r.nonce as number,
    to: r.to_addr as string,
    data: r.data as string,
    gasLimit: BigInt(r.gas_limit as string),
    status: r.status as TxStatus,
    hash: r.hash as string,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
    block: (r.block as number | null) ?? undefined,
    gasUsed: r.gas_used === null ? undefined : BigInt(r.gas_used as string),
    feePaid: r.fee_paid === null ? undefined : BigInt(r.fee_paid as string),
  };
}
