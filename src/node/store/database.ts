import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { StateError } from "../../core/errors";
import { ESCROW_CURSOR } from "./cursor";

/** The tables of the first release; later changes are {@link MIGRATIONS}. */
export const SCHEMA = `
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

/** Selector of `JobEscrow.claim(address)` (withdraws a node's earnings), to tell it from `claimSlot` in old rows. */
const ESCROW_CLAIM_SELECTOR = "0x1e83409a";

/** Schema changes after the first release, applied in order; `PRAGMA user_version` counts the applied ones. */
export const MIGRATIONS = [
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
  // Outbox kinds named once (store/outbox.ts), key prefix = kind: "claim" was both claimSlot (the daemon's, with a job)
  // and escrow.claim (vin claim's), "reward" the daemon's escrow.claim, and a batch was a "submit". The chain cursor
  // moves to core's follower tables (SqliteCursorStore), where the hub's indexer keeps its own.
  `UPDATE txs SET kind = 'withdrawEarnings', key = 'withdrawEarnings:' || substr(key, 8) WHERE kind = 'reward';
   UPDATE txs SET kind = 'withdrawEarnings', key = 'withdrawEarnings:' || substr(key, 7)
     WHERE kind = 'claim' AND substr(data, 1, 10) = '${ESCROW_CLAIM_SELECTOR}';
   UPDATE txs SET kind = 'claimSlot', key = 'claimSlot:' || substr(key, 7) WHERE kind = 'claim';
   UPDATE txs SET kind = 'batch' WHERE kind = 'submit' AND key LIKE 'batch:%';
   CREATE TABLE IF NOT EXISTS follower_cursors (name TEXT PRIMARY KEY, block INTEGER NOT NULL);
   CREATE TABLE IF NOT EXISTS follower_blocks (name TEXT NOT NULL, number INTEGER NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (name, number));
   INSERT INTO follower_cursors (name, block) SELECT '${ESCROW_CURSOR}', CAST(value AS INTEGER) FROM meta WHERE key = 'lastProcessedBlock';
   INSERT INTO follower_blocks (name, number, hash) SELECT '${ESCROW_CURSOR}', number, hash FROM blocks;
   DELETE FROM meta WHERE key = 'lastProcessedBlock';
   DROP TABLE blocks;`,
];

/**
 * The node's one SQLite database (WAL), which the job table, the outbox and the chain cursor share, so that a step
 * moves all three in one transaction. Opening it for writing brings its schema up to date.
 * @example const db = new NodeDatabase(NodeDatabase.pathIn(dataDir));
 */
export class NodeDatabase {
  readonly sqlite: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    readonly file: string,
    options: { readonly?: boolean } = {},
  ) {
    try {
      if (!options.readonly) mkdirSync(path.dirname(file), { recursive: true });
      this.sqlite = new Database(file, {
        readonly: options.readonly ?? false,
        fileMustExist: options.readonly ?? false,
      });
      if (!options.readonly) {
        this.sqlite.pragma("journal_mode = WAL");
        // WAL + NORMAL: a commit survives a crash of the process, and a power cut may lose the last commits, which
        // only re-reads blocks or repeats a step. What must survive a power cut (a signed transaction before it is
        // broadcast) is written with `durably`.
        this.sqlite.pragma("synchronous = NORMAL");
        this.sqlite.exec(SCHEMA);
        this.migrate();
      }
    } catch (cause) {
      throw new StateError(`cannot open the node database ${file}: ${(cause as Error).message}`, { cause });
    }
  }

  /** The database file in a node's data directory. */
  static pathIn(dataDir: string): string {
    return path.join(dataDir, "node.sqlite");
  }

  /** The applied migrations (`PRAGMA user_version`). */
  get version(): number {
    return this.sqlite.pragma("user_version", { simple: true }) as number;
  }

  private migrate(): void {
    for (let version = this.version; version < MIGRATIONS.length; version++) {
      this.atomically(() => {
        this.sqlite.exec(MIGRATIONS[version]!);
        this.sqlite.pragma(`user_version = ${version + 1}`);
      });
    }
  }

  /** `sql` prepared once per connection. */
  prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) this.statements.set(sql, (statement = this.sqlite.prepare(sql)));
    return statement;
  }

  close(): void {
    this.sqlite.close();
  }

  /** Runs `fn` in one transaction (a savepoint inside another). */
  atomically<T>(fn: () => T): T {
    return this.sqlite.transaction(fn)();
  }

  /** Runs `fn` in one transaction that is on disk (fsync) when this returns, with everything committed before it. */
  durably<T>(fn: () => T): T {
    if (this.sqlite.inTransaction) throw new StateError("durably() cannot run inside another transaction");
    this.sqlite.pragma("synchronous = FULL");
    try {
      return this.atomically(fn);
    } finally {
      this.sqlite.pragma("synchronous = NORMAL");
    }
  }

  getMeta(key: string): string | undefined {
    return (this.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    ).run(key, value);
  }
}
