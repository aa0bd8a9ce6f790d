import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Job } from "../core/job";
import { StateError, BaseError } from "../core/errors";

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

/** Raised when a step acts on a job whose terms were replaced meanwhile (a reorganisation re-used its id). */
export class JobReplacedError extends BaseError {
  override readonly name = "JobReplacedError";
}

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
  /** Requested in a block a reorganisation dropped: not acted on until its request is seen again. */
  stale: boolean;
  /** Block of the JobSettled/JobRefunded event that finalised the job, when an event did. */
  finalBlock?: number;
  /** Inference time, for the overhead figures. */
  computeMs?: number;
}

/** What recording a `JobRequested` event did. */
export type RequestOutcome = "inserted" | "known" | "restored" | "replaced";

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
  /** Last change: signing, a replacement, a receipt, or a reorganisation that made it pending again. */
  updatedAt: number;
  /** From the receipt, once mined. */
  block?: number;
  gasUsed?: bigint;
  feePaid?: bigint;
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

/** Schema changes after the first release, applied in order; `PRAGMA user_version` counts the applied ones. */
const MIGRATIONS = [
  `ALTER TABLE jobs ADD COLUMN stale INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN final_block INTEGER;
   ALTER TABLE jobs ADD COLUMN compute_ms REAL;
   CREATE TABLE blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL);
   CREATE TABLE orphaned_jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, state TEXT NOT NULL, job TEXT NOT NULL,
     input TEXT NOT NULL, input_uri TEXT NOT NULL, output TEXT, reason TEXT, request_block INTEGER NOT NULL, orphaned_at INTEGER NOT NULL);`,
  // The jobs a batched submission (one submitBatch transaction) settles: written before the transaction is signed,
  // so a row whose transaction never got stored is only a plan and is replaced by the next batch.
  `CREATE TABLE batch_members (job_id TEXT PRIMARY KEY, tx_key TEXT NOT NULL);
   CREATE INDEX batch_members_tx ON batch_members(tx_key);`,
];

/** The node's SQLite database (WAL): jobs and their state machine, the transaction outbox, the chain cursor. */
export class JobStore {
  private readonly db: Database.Database;

  constructor(readonly file: string, options: { readonly?: boolean } = {}) {
    try {
      if (!options.readonly) mkdirSync(path.dirname(file), { recursive: true });
      this.db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
      if (!options.readonly) {
        this.db.pragma("journal_mode = WAL");
        // WAL + NORMAL: a commit survives a crash of the process, and a power cut may lose the last commits, which
        // only re-reads blocks or repeats a step. What must survive a power cut (a signed transaction before it is
        // broadcast) is written with `durably`.
        this.db.pragma("synchronous = NORMAL");
        this.db.exec(SCHEMA);
        this.migrate();
      }
    } catch (cause) {
      throw new StateError(`cannot open the node database ${file}: ${(cause as Error).message}`, { cause });
    }
  }

  private migrate(): void {
    const applied = this.db.pragma("user_version", { simple: true }) as number;
    for (let version = applied; version < MIGRATIONS.length; version++) {
      this.atomically(() => {
        this.db.exec(MIGRATIONS[version]!);
        this.db.pragma(`user_version = ${version + 1}`);
      });
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

  /** Runs `fn` in one transaction that is on disk (fsync) when this returns, with everything committed before it. */
  durably<T>(fn: () => T): T {
    if (this.db.inTransaction) throw new StateError("durably() cannot run inside another transaction");
    this.db.pragma("synchronous = FULL");
    try {
      return this.atomically(fn);
    } finally {
      this.db.pragma("synchronous = NORMAL");
    }
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

  /**
   * Records a `JobRequested` event. A job already known with the same terms is left as it is (logs may be read
   * twice), or made current again if a reorganisation had made it stale. A known job id with other terms means
   * the chain now has another job under that id: the old row is moved to `orphaned_jobs`, its transactions are
   * detached (their keys renamed, so the new job signs its own), and the new job is inserted.
   */
  recordRequest(row: { job: Job; input: string; inputUri: string; requestBlock: number }): RequestOutcome {
    return this.atomically(() => {
      const existing = this.getJob(row.job.id);
      if (existing === undefined) return this.insertJob(row) ? "inserted" : "known";
      if (sameTerms(existing.job, row.job)) {
        if (!existing.stale) return "known";
        this.db.prepare("UPDATE jobs SET stale = 0, request_block = ?, updated_at = ? WHERE job_id = ?").run(row.requestBlock, Date.now(), row.job.id.toString());
        return "restored";
      }
      this.orphan(existing);
      this.insertJob(row);
      return "replaced";
    });
  }

  private orphan(row: JobRow): void {
    const id = row.jobId.toString();
    const info = this.db
      .prepare("INSERT INTO orphaned_jobs (job_id, state, job, input, input_uri, output, reason, request_block, orphaned_at) SELECT job_id, state, job, input, input_uri, output, reason, request_block, ? FROM jobs WHERE job_id = ?")
      .run(Date.now(), id);
    this.db.prepare("UPDATE txs SET key = key || '~orphaned-' || ?, job_id = NULL, updated_at = ? WHERE job_id = ?").run(String(info.lastInsertRowid), Date.now(), id);
    // The old job's place in a batch: its batch transaction (if any) is the old job's, not the new one's.
    this.db.prepare("DELETE FROM batch_members WHERE job_id = ?").run(id);
    this.db.prepare("DELETE FROM jobs WHERE job_id = ?").run(id);
  }

  /** Rows of `orphaned_jobs` for `jobId` (jobs whose id a reorganisation gave to other terms). */
  orphanedJobs(jobId: bigint): { state: string; job: Job; reason?: string }[] {
    const rows = this.db.prepare("SELECT * FROM orphaned_jobs WHERE job_id = ? ORDER BY id").all(jobId.toString()) as Record<string, unknown>[];
    return rows.map((r) => ({ state: r.state as string, job: parseJob(r.job as string), reason: (r.reason as string | null) ?? undefined }));
  }

  /** Stores an input fetched by URI (already checked against the job's input hash). */
  setInput(jobId: bigint, input: string): void {
    this.db.prepare("UPDATE jobs SET input = ?, updated_at = ? WHERE job_id = ?").run(input, Date.now(), jobId.toString());
  }

  getJob(jobId: bigint): JobRow | undefined {
    const row = this.db.prepare("SELECT * FROM jobs WHERE job_id = ?").get(jobId.toString()) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : toJobRow(row);
  }

  jobsIn(states: readonly JobState[], limit = 1_000): JobRow[] {
    const rows = this.db.prepare(`SELECT * FROM jobs WHERE state IN (${states.map(() => "?").join(",")}) AND stale = 0 ORDER BY CAST(job_id AS INTEGER) LIMIT ?`).all(...states, limit) as Record<string, unknown>[];
    return rows.map(toJobRow);
  }

  countByState(): Record<JobState, number> {
    const counts = Object.fromEntries(ALL_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const row of this.db.prepare("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").all() as { state: JobState; n: number }[]) counts[row.state] = row.n;
    return counts;
  }

  /**
   * Moves a job along the state machine, storing `fields` with it. Throws on a transition the machine does not
   * allow; returns false (and changes nothing) if the job is already in `to`. With `terms`, throws
   * JobReplacedError if the job id now carries other terms (a step that started before a reorganisation).
   */
  transition(jobId: bigint, to: JobState, fields: TransitionFields = {}, terms?: Job): boolean {
    return this.atomically(() => {
      const current = this.getJob(jobId);
      if (current === undefined) throw new StateError(`job ${jobId} is not in the database`);
      if (terms !== undefined && !sameTerms(current.job, terms)) throw new JobReplacedError(`job ${jobId} was replaced by other terms after a chain reorganisation`);
      if (current.state === to) return false;
      if (!TRANSITIONS[current.state].includes(to)) throw new StateError(`job ${jobId}: no transition from ${current.state} to ${to}`);
      const now = Date.now();
      this.db
        .prepare(
          "UPDATE jobs SET state = ?, output = COALESCE(?, output), salt = COALESCE(?, salt), proof = COALESCE(?, proof), reason = COALESCE(?, reason), final_block = COALESCE(?, final_block), compute_ms = COALESCE(?, compute_ms), settled_at = CASE WHEN ? IN ('settled','expired') THEN ? ELSE settled_at END, updated_at = ? WHERE job_id = ?",
        )
        .run(to, fields.output ?? null, fields.salt ?? null, fields.proof ?? null, fields.reason ?? null, fields.finalBlock ?? null, fields.computeMs ?? null, to, now, now, jobId.toString());
      return true;
    });
  }

  /** Whether `to` is reachable from the job's current state in one step. */
  canTransition(jobId: bigint, to: JobState): boolean {
    const current = this.getJob(jobId);
    return current !== undefined && TRANSITIONS[current.state].includes(to);
  }

  /* REORGANISATIONS */

  /**
   * Undoes everything the blocks above `ancestor` told this node, in one transaction: receipts in those blocks
   * are void (the transactions are pending again and their signed bytes will be re-broadcast), jobs requested in
   * them become stale until their request is seen again, and every job whose state rested on a void receipt or
   * event goes back to the state its remaining receipts support ({@link stateAfterRewind}). Returns what changed.
   */
  rewind(ancestor: number): { txs: number; stale: number; jobs: { jobId: bigint; from: JobState; to: JobState }[] } {
    return this.atomically(() => {
      const now = Date.now();
      const reset = this.db
        .prepare("UPDATE txs SET status = 'pending', block = NULL, gas_used = NULL, fee_paid = NULL, updated_at = ? WHERE block > ? AND status IN ('mined', 'reverted') RETURNING job_id, key")
        .all(now, ancestor) as { job_id: string | null; key: string }[];
      const stale = this.db.prepare("UPDATE jobs SET stale = 1, updated_at = ? WHERE request_block > ? AND stale = 0").run(now, ancestor).changes;
      const ids = new Set(reset.flatMap((r) => (r.job_id === null ? [] : [r.job_id])));
      for (const r of reset) for (const id of this.batchMembers(r.key)) ids.add(id.toString());
      for (const r of this.db.prepare("SELECT job_id FROM jobs WHERE request_block > ? OR final_block > ?").all(ancestor, ancestor) as { job_id: string }[]) ids.add(r.job_id);
      const jobs: { jobId: bigint; from: JobState; to: JobState }[] = [];
      for (const id of ids) {
        const row = this.getJob(BigInt(id));
        if (row === undefined) continue;
        const to = stateAfterRewind(row, this.txsFor(row.jobId));
        const final = to === "settled" || to === "expired";
        // The reason of a state the dropped blocks decided (a skip, a failure) no longer holds.
        this.db
          .prepare("UPDATE jobs SET state = ?, final_block = NULL, settled_at = CASE WHEN ? THEN settled_at ELSE NULL END, reason = CASE WHEN state = ? THEN reason ELSE NULL END, updated_at = ? WHERE job_id = ?")
          .run(to, final ? 1 : 0, to, now, id);
        if (to !== row.state) jobs.push({ jobId: row.jobId, from: row.state, to });
      }
      this.db.prepare("DELETE FROM blocks WHERE number > ?").run(ancestor);
      return { txs: reset.length, stale, jobs };
    });
  }

  /** Remembers the hashes of processed blocks (to notice a reorganisation) and forgets those below `keepFrom`. */
  recordBlocks(blocks: { number: number; hash: string }[], keepFrom: number): void {
    const insert = this.db.prepare("INSERT INTO blocks (number, hash) VALUES (?, ?) ON CONFLICT(number) DO UPDATE SET hash = excluded.hash");
    for (const b of blocks) insert.run(b.number, b.hash);
    this.db.prepare("DELETE FROM blocks WHERE number < ?").run(keepFrom);
  }

  /** The remembered block hashes, lowest block first. */
  blockHashes(): { number: number; hash: string }[] {
    return this.db.prepare("SELECT number, hash FROM blocks ORDER BY number").all() as { number: number; hash: string }[];
  }

  /** Forgets the hashes of blocks above `block` (dropped by a reorganisation). */
  forgetBlocksAbove(block: number): void {
    this.db.prepare("DELETE FROM blocks WHERE number > ?").run(block);
  }

  blockHash(number: number): string | undefined {
    return (this.db.prepare("SELECT hash FROM blocks WHERE number = ?").get(number) as { hash: string } | undefined)?.hash;
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

  /** The job's own transactions and the batched submission it belongs to, if that was stored. */
  txsFor(jobId: bigint): TxRow[] {
    const id = jobId.toString();
    return (this.db.prepare("SELECT * FROM txs WHERE job_id = ? OR key IN (SELECT tx_key FROM batch_members WHERE job_id = ?) ORDER BY id").all(id, id) as Record<string, unknown>[]).map(toTxRow);
  }

  /* BATCHED SUBMISSIONS */

  /** Records that the transaction `txKey` (not signed yet) will submit `jobIds`, replacing any earlier plan. */
  planBatch(txKey: string, jobIds: readonly bigint[]): void {
    this.atomically(() => {
      const insert = this.db.prepare("INSERT INTO batch_members (job_id, tx_key) VALUES (?, ?) ON CONFLICT(job_id) DO UPDATE SET tx_key = excluded.tx_key");
      for (const id of jobIds) insert.run(id.toString(), txKey);
    });
  }

  /** The stored batched submission that includes the job, if any (a plan whose transaction was never stored is none). */
  batchTxOf(jobId: bigint): TxRow | undefined {
    const row = this.db.prepare("SELECT txs.* FROM txs JOIN batch_members b ON b.tx_key = txs.key WHERE b.job_id = ?").get(jobId.toString()) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : toTxRow(row);
  }

  /** The jobs a batched submission includes. */
  batchMembers(txKey: string): bigint[] {
    return (this.db.prepare("SELECT job_id FROM batch_members WHERE tx_key = ? ORDER BY CAST(job_id AS INTEGER)").all(txKey) as { job_id: string }[]).map((r) => BigInt(r.job_id));
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

export interface TransitionFields {
  output?: string;
  salt?: string;
  proof?: string;
  reason?: string;
  /** Block of the event that finalised the job (void if a reorganisation drops it). */
  finalBlock?: number;
  computeMs?: number;
}

/**
 * The furthest state a job's mined transactions still support, used after a reorganisation voided some of its
 * receipts or events. A claim that is not mined (pending again) means the job is back to `seen`: the claim step
 * finds the stored claim and waits for it instead of signing another. A job never claimed goes back to `seen`
 * too, so a skip decided on dropped blocks (e.g. "settled by other nodes") is reconsidered.
 */
export function stateAfterRewind(row: JobRow, txs: readonly TxRow[]): JobState {
  // A job may have two submissions: a batch that reverted, then its own. A mined one decides, then a pending one.
  const status = (kind: string) => {
    const statuses = txs.filter((t) => t.kind === kind).map((t) => t.status);
    return statuses.includes("mined") ? "mined" : statuses.includes("pending") ? "pending" : statuses[0];
  };
  const claim = status("claim");
  if (claim === undefined || claim === "pending") return "seen";
  if (claim !== "mined") return row.state;
  const computed: JobState = row.output === undefined ? "claimed" : "computed";
  if (row.job.redundancy === 1n) {
    const submit = status("submit");
    return submit === "mined" ? "settled" : submit === "reverted" ? "failed" : computed;
  }
  const [commit, reveal] = [status("commit"), status("reveal")];
  if (commit === "reverted" || reveal === "reverted") return "failed";
  return reveal === "mined" ? "revealed" : commit === "mined" ? "committed" : computed;
}

/** Whether two jobs have the same terms (the escrow's job hash would match; ABI-hashing costs a millisecond). */
function sameTerms(a: Job, b: Job): boolean {
  const keys = Object.keys(a) as (keyof Job)[];
  return keys.length === Object.keys(b).length && keys.every((k) => String(a[k]).toLowerCase() === String(b[k]).toLowerCase());
}

function parseJob(text: string): Job {
  const plain = JSON.parse(text) as Record<string, string>;
  return Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, /^(requester|inputHash|modelOwner|verifier|callback)$/.test(k) ? v : BigInt(v)])) as unknown as Job;
}

function toJobRow(r: Record<string, unknown>): JobRow {
  return {
    jobId: BigInt(r.job_id as string),
    state: r.state as JobState,
    job: parseJob(r.job as string),
    input: r.input as string,
    inputUri: r.input_uri as string,
    output: (r.output as string | null) ?? undefined,
    salt: (r.salt as string | null) ?? undefined,
    proof: (r.proof as string | null) ?? undefined,
    reason: (r.reason as string | null) ?? undefined,
    seenAt: r.seen_at as number,
    settledAt: (r.settled_at as number | null) ?? undefined,
    requestBlock: r.request_block as number,
    stale: r.stale === 1,
    finalBlock: (r.final_block as number | null | undefined) ?? undefined,
    computeMs: (r.compute_ms as number | null | undefined) ?? undefined,
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
    updatedAt: r.updated_at as number,
    block: (r.block as number | null) ?? undefined,
    gasUsed: r.gas_used === null ? undefined : BigInt(r.gas_used as string),
    feePaid: r.fee_paid === null ? undefined : BigInt(r.fee_paid as string),
  };
}
