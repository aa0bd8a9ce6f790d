import type Database from "better-sqlite3";

/** One accepted measurement of a version's TEE binding, as the hub shows it. */
export interface TeeMeasurement {
  /** The enclave measurement (bytes32, lowercase hex). */
  measurement: string;
  /** Whether TeeVerifier revoked it (`measurementRevokedAt` is not zero): no enclave with it serves any job. */
  revoked: boolean;
  /** Chain time of the revocation (`measurementRevokedAt`), or null. */
  revokedAt: number | null;
  /** Enclaves registered with it, not revoked, whose `expiresAt` is after the last indexed block's time. */
  enclaves: number;
}

/** A version's TEE binding: its measurements, and the chain time the enclave counts are as of. */
export interface TeeBinding {
  measurements: TeeMeasurement[];
  /** Timestamp of the last indexed block, or null before the indexer read one. */
  asOf: number | null;
}

/** Tables written by the indexer; rows carry their block so that a rewind deletes what a dropped block wrote. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS hub_tee_bindings (model_id INTEGER NOT NULL, version INTEGER NOT NULL, measurement TEXT NOT NULL, position INTEGER NOT NULL,
  block INTEGER NOT NULL, PRIMARY KEY (model_id, version, measurement));
CREATE TABLE IF NOT EXISTS hub_tee_enclave_events (block INTEGER NOT NULL, log_index INTEGER NOT NULL, signer TEXT NOT NULL, measurement TEXT,
  expires_at INTEGER, PRIMARY KEY (block, log_index));
CREATE INDEX IF NOT EXISTS hub_tee_enclave_events_signer ON hub_tee_enclave_events (signer, block, log_index);
CREATE TABLE IF NOT EXISTS hub_tee_revocations (measurement TEXT PRIMARY KEY, revoked_at INTEGER NOT NULL, block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hub_tee_chain_time (block INTEGER PRIMARY KEY, timestamp INTEGER NOT NULL);
`;
const TABLES = ["hub_tee_bindings", "hub_tee_enclave_events", "hub_tee_revocations", "hub_tee_chain_time"];

/**
 * What the hub knows of TEE mode, in the hub's database: each version's accepted measurements (from
 * `VersionPublished`), TeeVerifier's enclave registrations and revocations as an event log (the latest event of a
 * signer is its state, so a rewind only deletes events), measurement revocations, and the chain time of the last
 * indexed block (what "not expired" is judged against). Writes run inside the indexer's range transaction.
 * @example
 * const tee = new TeeIndex(store.db);
 * tee.bindingOf(1, 2)?.measurements[0]?.enclaves;
 */
export class TeeIndex {
  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
  }

  /** Records the measurements a version's TEE mode accepts, in published order. */
  recordBinding(modelId: number, version: number, measurements: readonly string[], block: number): void {
    const insert = this.db.prepare(
      "INSERT OR REPLACE INTO hub_tee_bindings (model_id, version, measurement, position, block) VALUES (?, ?, ?, ?, ?)",
    );
    measurements.forEach((m, i) => insert.run(modelId, version, m.toLowerCase(), i, block));
  }

  /** `EnclaveRegistered(signer, operator, measurement, expiresAt)`. */
  recordRegistered(e: { block: number; index: number; signer: string; measurement: string; expiresAt: number }): void {
    this.db
      .prepare(
        "INSERT OR REPLACE INTO hub_tee_enclave_events (block, log_index, signer, measurement, expires_at) VALUES (?, ?, ?, ?, ?)",
      )
      .run(e.block, e.index, e.signer.toLowerCase(), e.measurement.toLowerCase(), e.expiresAt);
  }

  /** `EnclaveRevoked(signer)`. */
  recordRevoked(e: { block: number; index: number; signer: string }): void {
    this.db
      .prepare(
        "INSERT OR REPLACE INTO hub_tee_enclave_events (block, log_index, signer, measurement, expires_at) VALUES (?, ?, ?, NULL, NULL)",
      )
      .run(e.block, e.index, e.signer.toLowerCase());
  }

  /** `MeasurementRevoked(measurement)` in a block of time `revokedAt` (what `measurementRevokedAt` returns from then on). */
  recordMeasurementRevoked(measurement: string, revokedAt: number, block: number): void {
    this.db
      .prepare("INSERT OR IGNORE INTO hub_tee_revocations (measurement, revoked_at, block) VALUES (?, ?, ?)")
      .run(measurement.toLowerCase(), revokedAt, block);
  }

  /** The time of the newest indexed block; older times are forgotten. */
  recordChainTime(block: number, timestamp: number): void {
    this.db.prepare("INSERT OR REPLACE INTO hub_tee_chain_time (block, timestamp) VALUES (?, ?)").run(block, timestamp);
    this.db.prepare("DELETE FROM hub_tee_chain_time WHERE block < ?").run(block);
  }

  /** Deletes what blocks after `block` wrote (a reorganisation). */
  rewindTo(block: number): void {
    for (const table of TABLES) this.db.prepare(`DELETE FROM ${table} WHERE block > ?`).run(block);
  }

  /** Chain time of the last indexed block, or null. */
  chainTime(): number | null {
    const row = this.db.prepare("SELECT timestamp FROM hub_tee_chain_time ORDER BY block DESC LIMIT 1").get() as
      { timestamp: number } | undefined;
    return row?.timestamp ?? null;
  }

  /** A version's TEE binding, or `undefined` if it accepts no measurement (not published for TEE). */
  bindingOf(modelId: number, version: number): TeeBinding | undefined {
    const rows = this.db
      .prepare("SELECT measurement FROM hub_tee_bindings WHERE model_id = ? AND version = ? ORDER BY position")
      .all(modelId, version) as { measurement: string }[];
    if (rows.length === 0) return undefined;
    const asOf = this.chainTime();
    return { asOf, measurements: rows.map((r) => this.measurement(r.measurement, asOf)) };
  }

  private measurement(measurement: string, asOf: number | null): TeeMeasurement {
    const revocation = this.db
      .prepare("SELECT revoked_at FROM hub_tee_revocations WHERE measurement = ?")
      .get(measurement) as { revoked_at: number } | undefined;
    // The latest event of each signer is its state: a registration (maybe re-registered under another measurement) or a revocation.
    const live = this.db
      .prepare(
        `SELECT COUNT(*) AS n FROM hub_tee_enclave_events e
         WHERE e.measurement = ? AND e.expires_at > ?
           AND NOT EXISTS (SELECT 1 FROM hub_tee_enclave_events later WHERE later.signer = e.signer
             AND (later.block > e.block OR (later.block = e.block AND later.log_index > e.log_index)))`,
      )
      .get(measurement, asOf ?? Number.MAX_SAFE_INTEGER) as { n: number };
    return {
      measurement,
      revoked: revocation !== undefined,
      revokedAt: revocation?.revoked_at ?? null,
      enclaves: live.n,
    };
  }
}
