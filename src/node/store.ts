import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Job } from "../protocol/job";
import { StoreError } from "../sdk/errors";

/**
 * A job's progress on this node. Terminal states: settled, expired (refunded to its requester), skipped (never
 * claimed), failed (claimed but could not deliver).
 */
export type JobState = "seen" | "claimed" | "computed" | "submitted" | "committed" | "revealed" | "settled" | "expired" | "skipped" | "failed";

const TRANSITIONS: Record<JobState, readonly JobState[]> = {
  seen: ["claimed", "skipped", "settled", "expired"],
  claimed: ["computed", "failed", "settled", "expired"],
  computed: ["submitted", "committed", "failed", "settled", "expired"],
  submitted: ["settled", "failed", "expired"],
  committed: ["revealed", "failed", "settled", "expired"],
  revealed: ["settled", "failed", "expired"],
  settled: [],
  expired: [],
  skipped: [],
  failed: ["settled", "expired"],
};

export const ACTIVE_STATES: readonly JobState[] = ["seen", "claimed", "computed", "submitted", "committed", "revealed"];
export const ALL_STATES = Object.keys(TRANSITIONS) as JobState[];

export interface JobRow {
  jobId: bigint;
  state: JobState;
  job: Job;
  input: string;
  inputUri: string;
  output?: string;
  salt?: string;
  proof?: string;
  reason?: string;
  seenAt: number;
  settledAt?: number;
  requestBlock: number;
}

export type TxStatus = "pending" | "mined" | "reverted" | "dropped";

export interface TxRow {
  id: number;
  /** Unique per logical transaction, e.g. `submit:7`: a key is signed once (replacements keep its nonce and data). */
  key: string;
  jobId?: bigint;
  kind: string;
  nonce: number;
  to: string;
  data: string;
  gasLimit: bigint;
  status: TxStatus;
  hash: string;
  createdAt: number;
}

export interface TxAttempt {
  hash: string;
  raw: string;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  createdAt: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
  job_id TEXT PRIMARY KEY, state TEXT NOT NULL, job TEXT NOT NULL, input TEXT NOT NULL, input_uri TEXT NOT NULL,
  output TEXT, salt TEXT, proof TEXT, reason TEXT, seen_at INTEGER NOT NULL, settled_at INTEGER, request_block INTEGER NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE TABLE IF NOT EXISTS txs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, job_id TEXT, kind TEXT NOT NULL, nonce INTEGER NOT NULL,
  to_addr TEXT NOT NULL, data TEXT NOT NULL, gas_limit TEXT NOT NULL, status TEXT NOT NULL, hash TEXT NOT NULL,
  block INTEGER, gas_used TEXT, fee_paid TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS txs_status ON txs(status);
CREATE TABLE IF NOT EXISTS tx_attempts (
  hash TEXT PRIMARY KEY, tx_id INTEGER NOT NULL REFERENCES txs(id), raw TEXT NOT NULL, max_fee TEXT NOT NULL,
  priority_fee TEXT NOT NULL, created_at INTEGER NOT NULL);
`;

/** The node's SQLite database (WAL): jobs and their state machine, the transaction outbox, the chain cursor. */
export class JobStore {
  private readonly db: Database.Database;

  constructor(readonly file: string, options: { readonly?: boolean } = {}) {
    try {
      if (!options.readonly) mkdirSync(path.dirname(file), { recursive: true });
      this.db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
      if (!options.readonly) {
        this.db.pragma("journal_mode = WAL");
        this.db.pragma("synchronous = FULL");
        this.db.exec(SCHEMA);
      }
    } catch (cause) {
      throw new StoreError(`cannot open the node database ${file}: ${(cause as Error).message}`, { cause });
    }
  }

  static pathIn(dataDir: string): string {
    return path.join(dataDir, "node.sqlite");
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` in one transaction. */
  atomically<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  getMeta(key: string): string | undefined {
    return (this.db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(key, value);
  }

  /* JOBS */

  /** Records a newly seen job; a job already known is left as it is (logs may be read twice). */
  insertJob(row: { job: Job; input: string; inputUri: string; requestBlock: number; state?: JobState; reason?: string }): boolean {
    const now = Date.now();
    const result = this.db
      .prepare("INSERT OR IGNORE INTO jobs (job_id, state, job, input, input_uri, reason, seen_at, request_block, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .run(row.job.id.toString(), row.state ?? "seen", JSON.stringify(row.job, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v)), row.input, row.inputUri, row.reason ?? null, now, row.requestBlock, now);
    return result.changes === 1;
  }

  getJob(jobId: bigint): JobRow | undefined {
    const row = this.db.prepare("SELECT * FROM jobs WHERE job_id = ?").get(jobId.toString()) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : toJobRow(row);
  }

  jobsIn(states: readonly JobState[], limit = 1_000): JobRow[] {
    const rows = this.db.prepare(`SELECT * FROM jobs WHERE state IN (${states.map(() => "?").join(",")}) ORDER BY CAST(job_id AS INTEGER) LIMIT ?`).all(...states, limit) as Record<string, unknown>[];
    return rows.map(toJobRow);
  }

  countByState(): Record<JobState, number> {
    const counts = Object.fromEntries(ALL_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const row of this.db.prepare("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").all() as { state: JobState; n: number }[]) counts[row.state] = row.n;
    return counts;
  }

  /**
   * Moves a job along the state machine, storing `fields` with it. Throws on a transition the machine does not
   * allow; returns false (and changes nothing) if the job is already in `to`.
   */
  transition(jobId: bigint, to: JobState, fields: { output?: string; salt?: string; proof?: string; reason?: string } = {}): boolean {
    return this.atomically(() => {
      const current = this.getJob(jobId);
      if (current === undefined) throw new StoreError(`job ${jobId} is not in the database`);
      if (current.state === to) return false;
      if (!TRANSITIONS[current.state].includes(to)) throw new StoreError(`job ${jobId}: no transition from ${current.state} to ${to}`);
      const now = Date.now();
      this.db
        .prepare(
          "UPDATE jobs SET state = ?, output = COALESCE(?, output), salt = COALESCE(?, salt), proof = COALESCE(?, proof), reason = COALESCE(?, reason), settled_at = CASE WHEN ? IN ('settled','expired') THEN ? ELSE settled_at END, updated_at = ? WHERE job_id = ?",
        )
        .run(to, fields.output ?? null, fields.salt ?? null, fields.proof ?? null, fields.reason ?? null, to, now, now, jobId.toString());
      return true;
    });
  }

  /** Whether `to` is reachable from the job's current state in one step. */
  canTransition(jobId: bigint, to: JobState): boolean {
    const current = this.getJob(jobId);
    return current !== undefined && TRANSITIONS[current.state].includes(to);
  }

  /* OUTBOX */

  txByKey(key: string): TxRow | undefined {
    const row = this.db.prepare("SELECT * FROM txs WHERE key = ?").get(key) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : toTxRow(row);
  }

  txById(id: number): TxRow | undefined {
    const row = this.db.prepare("SELECT * FROM txs WHERE id = ?").get(id) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : toTxRow(row);
  }

  txsFor(jobId: bigint): TxRow[] {
    return (this.db.prepare("SELECT * FROM txs WHERE job_id = ? ORDER BY id").all(jobId.toString()) as Record<string, unknown>[]).map(toTxRow);
  }

  pendingTxs(): TxRow[] {
    return (this.db.prepare("SELECT * FROM txs WHERE status = 'pending' ORDER BY nonce").all() as Record<string, unknown>[]).map(toTxRow);
  }

  maxNonce(): number | undefined {
    const row = this.db.prepare("SELECT MAX(nonce) AS n FROM txs WHERE status != 'dropped'").get() as { n: number | null };
    return row.n ?? undefined;
  }

  /** Stores a signed transaction before it is broadcast; the key's uniqueness makes a second signing impossible. */
  insertTx(tx: { key: string; jobId?: bigint; kind: string; nonce: number; to: string; data: string; gasLimit: bigint }, attempt: TxAttempt): TxRow {
    return this.atomically(() => {
      const now = Date.now();
      const info = this.db
        .prepare("INSERT INTO txs (key, job_id, kind, nonce, to_addr, data, gas_limit, status, hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)")
        .run(tx.key, tx.jobId?.toString() ?? null, tx.kind, tx.nonce, tx.to, tx.data, tx.gasLimit.toString(), attempt.hash, now, now);
      this.insertAttempt(Number(info.lastInsertRowid), attempt);
      return this.txByKey(tx.key)!;
    });
  }

  /** Stores a fee-bumped replacement (same nonce, same data) before it is broadcast. */
  addAttempt(txId: number, attempt: TxAttempt): void {
    this.atomically(() => {
      this.insertAttempt(txId, attempt);
      this.db.prepare("UPDATE txs SET hash = ?, updated_at = ? WHERE id = ?").run(attempt.hash, Date.now(), txId);
    });
  }

  attemptsOf(txId: number): TxAttempt[] {
    return (this.db.prepare("SELECT * FROM tx_attempts WHERE tx_id = ? ORDER BY created_at, rowid").all(txId) as Record<string, string | number>[]).map((r) => ({
      hash: r.hash as string,
      raw: r.raw as string,
      maxFeePerGas: BigInt(r.max_fee as string),
      maxPriorityFeePerGas: BigInt(r.priority_fee as string),
      createdAt: r.created_at as number,
    }));
  }

  finishTx(txId: number, result: { status: TxStatus; hash?: string; block?: number; gasUsed?: bigint; feePaid?: bigint }): void {
    this.db
      .prepare("UPDATE txs SET status = ?, hash = COALESCE(?, hash), block = ?, gas_used = ?, fee_paid = ?, updated_at = ? WHERE id = ?")
      .run(result.status, result.hash ?? null, result.block ?? null, result.gasUsed?.toString() ?? null, result.feePaid?.toString() ?? null, Date.now(), txId);
  }

  /** Fees of the jobs this node settled (what it earned, claimed or not). */
  earned(): bigint {
    const rows = this.db.prepare("SELECT job FROM jobs WHERE state = 'settled'").all() as { job: string }[];
    return rows.reduce((sum, r) => sum + BigInt((JSON.parse(r.job) as { feePerNode: string }).feePerNode), 0n);
  }

  totalFeesPaid(): bigint {
    const rows = this.db.prepare("SELECT fee_paid FROM txs WHERE fee_paid IS NOT NULL").all() as { fee_paid: string }[];
    return rows.reduce((sum, r) => sum + BigInt(r.fee_paid), 0n);
  }

  private insertAttempt(txId: number, attempt: TxAttempt): void {
    this.db
      .prepare("INSERT INTO tx_attempts (hash, tx_id, raw, max_fee, priority_fee, created_at) VALUES (?, ?, ?, ?, ?, ?)")
      .run(attempt.hash, txId, attempt.raw, attempt.maxFeePerGas.toString(), attempt.maxPriorityFeePerGas.toString(), attempt.createdAt);
  }
}

function toJobRow(r: Record<string, unknown>): JobRow {
  const plain = JSON.parse(r.job as string) as Record<string, string>;
  const job = Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, /^(requester|inputHash|modelOwner|verifier|callback)$/.test(k) ? v : BigInt(v)])) as unknown as Job;
  return {
    jobId: BigInt(r.job_id as string),
    state: r.state as JobState,
    job,
    input: r.input as string,
    inputUri: r.input_uri as string,
    output: (r.output as string | null) ?? undefined,
    salt: (r.salt as string | null) ?? undefined,
    proof: (r.proof as string | null) ?? undefined,
    reason: (r.reason as string | null) ?? undefined,
    seenAt: r.seen_at as number,
    settledAt: (r.settled_at as number | null) ?? undefined,
    requestBlock: r.request_block as number,
  };
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
  };
}
