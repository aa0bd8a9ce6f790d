/**
 * Verified evaluations in the hub: EvaluationRegistry's datasets and recorded results, followed by their own
 * {@link LogFollower} (own cursor, own reorganisation check) into the hub's database, and each version's latest
 * result per dataset with the dataset's name, split and metric, the trivial baseline beside it, and whether the
 * enclave that signed it (or its measurement) has since been revoked, as far as the hub's TEE tables know.
 */
import type Database from "better-sqlite3";
import type { Log, Provider } from "ethers";
import { EvaluationRegistry__factory } from "../../typechain-types";
import { cidString } from "../core/cid";
import { Metric, METRIC_NAMES, isBetter } from "../core/evaluation";
import { LogFollower, type CursorStore } from "../core/follower";
import { type Logger, silentLogger } from "../core/log";
import { withRetry } from "../core/retry";
import { ChainMovedError } from "../core/follower";
import type { HubStore } from "./store";

/** The name of the evaluations' cursor in the hub's store. */
export const EVALUATIONS_CURSOR = "evaluations";

/** A dataset as the hub shows it. */
export interface HubDataset {
  datasetId: number;
  name: string;
  split: string;
  /** `accuracy`, `mae` or `rmse`. */
  metric: string;
  /** Whether a higher value is better (accuracy) or a lower one (errors). */
  higherIsBetter: boolean;
  rowCount: number;
  rowsCid: string;
  rowsSha256: string;
  /** What the trivial baseline is, and its value (fixed point, 10^6 per unit, as a decimal string). */
  baseline: string;
  baselineValue: string;
  registrant: string;
}

/** A version's verified evaluation on one dataset, as `/api/models/:id` serves it. */
export interface HubEvaluation {
  requestId: string;
  dataset: HubDataset;
  /** The version's value (fixed point, 10^6 per unit, as a decimal string). */
  value: string;
  beatsBaseline: boolean;
  /** How it was computed: TEE, by this enclave of this operator, with this measurement. */
  method: "tee";
  enclave: string;
  operator: string;
  measurement: string;
  block: number;
  /** Chain time of the block it was recorded in. */
  evaluatedAt: number;
  /** False once the hub has seen the enclave or its measurement revoked: no longer verified. */
  valid: boolean;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS hub_eval_datasets (dataset_id INTEGER PRIMARY KEY, name TEXT NOT NULL, split TEXT NOT NULL, metric INTEGER NOT NULL,
  row_count INTEGER NOT NULL, rows_cid TEXT NOT NULL, rows_sha256 TEXT NOT NULL, baseline TEXT NOT NULL, baseline_value TEXT NOT NULL,
  registrant TEXT NOT NULL, block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hub_eval_results (request_id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL, version INTEGER NOT NULL,
  dataset_id INTEGER NOT NULL, value TEXT NOT NULL, enclave TEXT NOT NULL, operator TEXT NOT NULL, measurement TEXT NOT NULL,
  fee TEXT NOT NULL, block INTEGER NOT NULL, log_index INTEGER NOT NULL, timestamp INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS hub_eval_results_version ON hub_eval_results (model_id, version, dataset_id, block, log_index);
`;
const TABLES = ["hub_eval_datasets", "hub_eval_results"];
const EVENTS = ["DatasetRegistered", "EvaluationRecorded"];

/**
 * The evaluation tables of the hub's database and their queries; writes run in the follower's range transaction.
 * @example new EvaluationIndex(store.db).ofVersion(4, 1)[0]?.value
 */
export class EvaluationIndex {
  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
  }

  /** `DatasetRegistered`. */
  recordDataset(e: {
    datasetId: number;
    name: string;
    split: string;
    metric: number;
    rowCount: number;
    rowsCid: string;
    rowsSha256: string;
    baseline: string;
    baselineValue: bigint;
    registrant: string;
    block: number;
  }): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO hub_eval_datasets (dataset_id, name, split, metric, row_count, rows_cid, rows_sha256, baseline, baseline_value, registrant, block)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        e.datasetId,
        e.name,
        e.split,
        e.metric,
        e.rowCount,
        e.rowsCid,
        e.rowsSha256.toLowerCase(),
        e.baseline,
        e.baselineValue.toString(),
        e.registrant,
        e.block,
      );
  }

  /** `EvaluationRecorded`, in a block of chain time `timestamp`. */
  recordResult(e: {
    requestId: number;
    modelId: number;
    version: number;
    datasetId: number;
    value: bigint;
    enclave: string;
    operator: string;
    measurement: string;
    fee: bigint;
    block: number;
    logIndex: number;
    timestamp: number;
  }): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO hub_eval_results (request_id, model_id, version, dataset_id, value, enclave, operator, measurement, fee, block, log_index, timestamp)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        e.requestId,
        e.modelId,
        e.version,
        e.datasetId,
        e.value.toString(),
        e.enclave.toLowerCase(),
        e.operator,
        e.measurement.toLowerCase(),
        e.fee.toString(),
        e.block,
        e.logIndex,
        e.timestamp,
      );
  }

  /** Deletes what blocks after `block` wrote (a reorganisation). */
  rewindTo(block: number): void {
    for (const table of TABLES) this.db.prepare(`DELETE FROM ${table} WHERE block > ?`).run(block);
  }

  /** A version's latest result on each dataset it was evaluated on, by dataset id. */
  ofVersion(modelId: number, version: number): HubEvaluation[] {
    const rows = this.db
      .prepare(
        `SELECT r.*, d.name, d.split, d.metric, d.row_count, d.rows_cid, d.rows_sha256, d.baseline, d.baseline_value, d.registrant
         FROM hub_eval_results r JOIN hub_eval_datasets d ON d.dataset_id = r.dataset_id
         WHERE r.model_id = ? AND r.version = ? AND NOT EXISTS (SELECT 1 FROM hub_eval_results later
           WHERE later.model_id = r.model_id AND later.version = r.version AND later.dataset_id = r.dataset_id
             AND (later.block > r.block OR (later.block = r.block AND later.log_index > r.log_index)))
         ORDER BY r.dataset_id`,
      )
      .all(modelId, version) as ResultRow[];
    return rows.map((r) => this.toEvaluation(r));
  }

  private toEvaluation(r: ResultRow): HubEvaluation {
    const metric = r.metric as Metric;
    return {
      requestId: String(r.request_id),
      dataset: {
        datasetId: r.dataset_id,
        name: r.name,
        split: r.split,
        metric: METRIC_NAMES[metric] ?? String(r.metric),
        higherIsBetter: metric === Metric.Accuracy,
        rowCount: r.row_count,
        rowsCid: r.rows_cid,
        rowsSha256: r.rows_sha256,
        baseline: r.baseline,
        baselineValue: r.baseline_value,
        registrant: r.registrant,
      },
      value: r.value,
      beatsBaseline: isBetter(metric, BigInt(r.value), BigInt(r.baseline_value)),
      method: "tee",
      enclave: r.enclave,
      operator: r.operator,
      measurement: r.measurement,
      block: r.block,
      evaluatedAt: r.timestamp,
      valid: !this.revoked(r.enclave, r.measurement),
    };
  }

  /** Whether the hub's TEE tables (TeeIndex, when TeeVerifier is followed) record the enclave or the measurement revoked. */
  private revoked(enclave: string, measurement: string): boolean {
    const has = (table: string) =>
      this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
    const enclaveRevoked =
      has("hub_tee_enclave_events") &&
      this.db
        .prepare("SELECT 1 FROM hub_tee_enclave_events WHERE signer = ? AND measurement IS NULL LIMIT 1")
        .get(enclave) !== undefined;
    const measurementRevoked =
      has("hub_tee_revocations") &&
      this.db.prepare("SELECT 1 FROM hub_tee_revocations WHERE measurement = ?").get(measurement) !== undefined;
    return enclaveRevoked || measurementRevoked;
  }
}

interface ResultRow {
  request_id: number;
  model_id: number;
  version: number;
  dataset_id: number;
  value: string;
  enclave: string;
  operator: string;
  measurement: string;
  block: number;
  log_index: number;
  timestamp: number;
  name: string;
  split: string;
  metric: number;
  row_count: number;
  rows_cid: string;
  rows_sha256: string;
  baseline: string;
  baseline_value: string;
  registrant: string;
}

/** Options of {@link followEvaluations}. */
export interface FollowEvaluationsOptions {
  provider: Provider;
  store: HubStore;
  /** The EvaluationRegistry's address. */
  address: string;
  startBlock: number;
  confirmations: number;
  maxBlockRange: number;
  pollIntervalMs: number;
  rpcTimeoutMs: number;
  logger?: Logger;
}

/**
 * A follower of EvaluationRegistry's `DatasetRegistered` and `EvaluationRecorded` into an {@link EvaluationIndex}
 * of the store, behind its own cursor (`evaluations`): a store indexed before it existed reads them from the start
 * block. Block times are fetched before the range's transaction.
 * @example const { index, follower } = followEvaluations({ provider, store, address, startBlock, ... }); await follower.step();
 */
export function followEvaluations(options: FollowEvaluationsOptions): {
  index: EvaluationIndex;
  follower: LogFollower;
} {
  const iface = EvaluationRegistry__factory.createInterface();
  const index = new EvaluationIndex(options.store.db);
  const cursor: CursorStore = options.store.cursor(EVALUATIONS_CURSOR);
  let times = new Map<number, number>();
  const follower = new LogFollower(options.provider, cursor, options.logger ?? silentLogger, {
    address: options.address,
    topics: EVENTS.map((name) => iface.getEvent(name as "EvaluationRecorded").topicHash),
    startBlock: options.startBlock,
    confirmations: options.confirmations,
    maxBlockRange: options.maxBlockRange,
    pollIntervalMs: options.pollIntervalMs,
    rpcTimeoutMs: options.rpcTimeoutMs,
    prepare: async (logs) => {
      times = new Map();
      for (const log of logs) {
        if (times.has(log.blockNumber)) continue;
        const block = await withRetry(`eth_getBlockByNumber ${log.blockNumber}`, () =>
          options.provider.getBlock(log.blockNumber),
        );
        if (block === null) throw new ChainMovedError(`block ${log.blockNumber} disappeared while the hub read it`);
        times.set(log.blockNumber, block.timestamp);
      }
    },
    apply: (logs) => {
      for (const log of logs) applyLog(index, iface, log, times);
    },
    rewind: (ancestor) => index.rewindTo(ancestor),
  });
  return { index, follower };
}

function applyLog(
  index: EvaluationIndex,
  iface: ReturnType<typeof EvaluationRegistry__factory.createInterface>,
  log: Log,
  times: ReadonlyMap<number, number>,
): void {
  const event = iface.parseLog({ topics: [...log.topics], data: log.data });
  if (event === null) return;
  const a = event.args;
  if (event.name === "DatasetRegistered")
    index.recordDataset({
      datasetId: Number(a.datasetId),
      name: String(a.name),
      split: String(a.split),
      metric: Number(a.metric),
      rowCount: Number(a.rowCount),
      rowsCid: cidString(String(a.rowsCid)),
      rowsSha256: String(a.rowsSha256),
      baseline: String(a.baseline),
      baselineValue: BigInt(a.baselineValue),
      registrant: String(a.registrant),
      block: log.blockNumber,
    });
  if (event.name === "EvaluationRecorded")
    index.recordResult({
      requestId: Number(a.requestId),
      modelId: Number(a.modelId),
      version: Number(a.version),
      datasetId: Number(a.datasetId),
      value: BigInt(a.value),
      enclave: String(a.enclave),
      operator: String(a.operator),
      measurement: String(a.measurement),
      fee: BigInt(a.fee),
      block: log.blockNumber,
      logIndex: log.index,
      timestamp: times.get(log.blockNumber) ?? 0,
    });
}
