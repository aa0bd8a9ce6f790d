/**
 * The TEE node's evaluation service: it follows `EvaluationRequested` in the EvaluationRegistry, and for each open
 * request its enclave may serve (registered to an operator eligible for TEE, unrevoked, unexpired, with an unrevoked
 * measurement the version binds) fetches the dataset's rows by CID, checks their SHA-256, row count and baseline
 * against the registry, runs the version (loaded by CID and SHA-256, as for jobs) on every row, scores it and the
 * baseline, has the enclave sign the result, and submits it. The fee is credited to the enclave's operator whoever
 * submits, so the service sends from its own hot key (`<dataDir>/evaluator.key`, gas only): the daemon's nonces and
 * outbox are left alone.
 *
 * Its state (the requests seen and what became of them, the follower's cursor) lives in `<dataDir>/evaluator.db`;
 * the chain stays the truth: a request is served only while `requestOf` says it is open, so a restart, a reorganisation
 * or another node serving first costs at most a refused transaction.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { Wallet, type Log, type Provider, type TypedDataDomain } from "ethers";
import { cidString } from "../core/cid";
import { fetchVerified, type ContentStore } from "../core/content";
import { BaseError, firstLine, InputError, IntegrityError, KeyError, NotFoundError } from "../core/errors";
import {
  EvaluationStatus,
  evaluationDomain,
  signEvaluationResult,
  toMetric,
  type EvaluationResultMessage,
} from "../core/evaluation";
import { LogFollower, SqliteCursorStore } from "../core/follower";
import { Mode } from "../core/modes";
import { asRevertError } from "../core/revert";
import { sleep, withRetry, withTimeout } from "../core/retry";
import { InferenceError } from "../inference/onnx";
import { checkRows, evaluateRows, EvaluationRowsError, type RowRunner } from "../models/evaluation";
import { DevEnclave } from "../tee/dev-enclave";
import type { EvaluationRegistry } from "../../typechain-types/contracts/evaluation/EvaluationRegistry";
import type { ModelRegistry } from "../../typechain-types/contracts/registry/ModelRegistry";
import type { NodeStaking } from "../../typechain-types/contracts/staking/NodeStaking";
import type { TeeVerifier } from "../../typechain-types/contracts/verifiers/TeeVerifier";
import type { Logger } from "../core/log";

/** The hot key that sends evaluation results (hex, mode 0600): it pays gas and is paid nothing. */
export const EVALUATOR_KEY_FILE = "evaluator.key";
/** The evaluation service's database in the data directory. */
export const EVALUATOR_DB_FILE = "evaluator.db";

/** What signs results inside the enclave. */
export interface EvaluationSigner {
  readonly address: string;
  signEvaluation(domain: TypedDataDomain, message: EvaluationResultMessage): Promise<string>;
}

/**
 * DEVELOPMENT ONLY: the node's development enclave (`<dataDir>/dev-enclave.key`, which the daemon creates and
 * registers) as an evaluation signer. It proves nothing, as the development enclave proves nothing; inside a TDX guest
 * the key is the TD's and this service runs in the same TD.
 * @throws NotFoundError when the node has no enclave yet (run the daemon, or `vin enclave register`, first).
 */
export function loadEvaluationSigner(dataDir: string): EvaluationSigner {
  const file = path.join(dataDir, "dev-enclave.key");
  if (!existsSync(file))
    throw new NotFoundError(
      `${file} does not exist: this node has no enclave; serve "tee" and start the daemon (or \`vin enclave register\`) first`,
    );
  const key = readFileSync(file, "utf8").trim();
  const wallet = new Wallet(key);
  const enclave = new DevEnclave(key);
  return {
    address: enclave.address,
    signEvaluation: (domain, message) => signEvaluationResult(wallet, domain, message),
  };
}

/**
 * The service's hot key in `<dataDir>/evaluator.key`, created (mode 0600) when absent if `create` is set.
 * @throws KeyError when the file does not hold a private key.
 */
export function loadEvaluatorKey(dataDir: string, options: { create?: boolean } = {}): Wallet | undefined {
  const file = path.join(dataDir, EVALUATOR_KEY_FILE);
  if (!existsSync(file)) {
    if (!options.create) return undefined;
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${Wallet.createRandom().privateKey}\n`, { mode: 0o600, flag: "wx" });
  }
  try {
    return new Wallet(readFileSync(file, "utf8").trim());
  } catch (cause) {
    throw new KeyError(`${file} does not hold a private key: delete it to make a new one`, { cause });
  }
}

/** The contracts the service reads and writes (the registry connected to the hot key). */
export interface EvaluationContracts {
  evaluations: EvaluationRegistry;
  registry: ModelRegistry;
  teeVerifier: TeeVerifier;
  staking: NodeStaking;
}

/** Where the service gets a version's model. */
export interface EvaluationModels {
  load(modelId: bigint, version: bigint): Promise<RowRunner>;
}

export interface EvaluationServiceOptions {
  provider: Provider;
  contracts: EvaluationContracts;
  enclave: EvaluationSigner;
  models: EvaluationModels;
  content: Pick<ContentStore, "cat">;
  /** The service's database (see {@link openEvaluatorDatabase}). */
  db: Database.Database;
  chainId: bigint;
  startBlock: number;
  log: Logger;
  confirmations?: number;
  pollIntervalMs?: number;
  maxBlockRange?: number;
  rpcTimeoutMs?: number;
  contentTimeoutMs?: number;
  /** Requests paying less are left to others. Default 0. */
  minFee?: bigint;
  /** A request is started only with at least this many seconds before its deadline. Default 10. */
  deadlineMarginSeconds?: number;
  /** Failed attempts (other than a refusal) before a request is given up. Default 3. */
  maxAttempts?: number;
  /** How long a submitted result may take to be mined. Default 120 s. */
  receiptTimeoutMs?: number;
}

/** What became of a request: the states a row moves through. */
export type RequestState = "queued" | "evaluated" | "closed" | "skipped" | "failed";

/** A request as the service keeps it. */
export interface RequestRow {
  id: bigint;
  state: RequestState;
  /** Why it was skipped, failed, or is still waiting. */
  reason: string | null;
  /** The submitting transaction. */
  tx: string | null;
  value: bigint | null;
  attempts: number;
}

/** Opens (creating) the service's database `<dataDir>/evaluator.db`. */
export function openEvaluatorDatabase(dataDir: string): Database.Database {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(path.join(dataDir, EVALUATOR_DB_FILE));
  db.pragma("journal_mode = WAL");
  return db;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS evaluation_requests (id TEXT PRIMARY KEY, block INTEGER NOT NULL, state TEXT NOT NULL,
  reason TEXT, tx TEXT, value TEXT, attempts INTEGER NOT NULL DEFAULT 0);
`;

/** A request this node's enclave may not serve now (retried while the request is open). */
class NotReadyError extends BaseError {
  override readonly name = "NotReadyError";
}

/**
 * The evaluation service. {@link run} follows the chain and serves until aborted; {@link syncOnce} does one pass.
 * @example
 * const service = new EvaluationService({ provider, contracts, enclave, models, content, db, chainId, startBlock, log });
 * await service.run(abort.signal);
 */
export class EvaluationService {
  private readonly follower: LogFollower;
  private readonly cache = new Map<string, Promise<Awaited<ReturnType<typeof evaluateRows>>>>();
  private readonly waiting = new Map<string, string>();

  constructor(private readonly options: EvaluationServiceOptions) {
    options.db.exec(SCHEMA);
    const { evaluations } = options.contracts;
    this.follower = new LogFollower(options.provider, new SqliteCursorStore(options.db, "evaluations"), options.log, {
      address: evaluations.target as string,
      topics: [evaluations.interface.getEvent("EvaluationRequested").topicHash],
      startBlock: options.startBlock,
      confirmations: options.confirmations ?? 1,
      maxBlockRange: options.maxBlockRange ?? 2_000,
      pollIntervalMs: options.pollIntervalMs ?? 1_000,
      rpcTimeoutMs: options.rpcTimeoutMs ?? 10_000,
      apply: (logs) => this.apply(logs),
      rewind: (ancestor) => {
        options.db.prepare("DELETE FROM evaluation_requests WHERE block > ?").run(ancestor);
      },
    });
  }

  /** Follows the registry and serves queued requests until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const interval = this.options.pollIntervalMs ?? 1_000;
    const serve = async () => {
      while (!signal.aborted) {
        await this.serveQueued().catch((error: unknown) =>
          this.options.log.warn({ err: firstLine(error) }, "evaluation pass failed; retrying"),
        );
        await sleep(interval, signal).catch(() => undefined);
      }
    };
    await Promise.all([this.follower.run(signal), serve()]);
  }

  /** Reads the chain up to its confirmed head and serves every queued request once. */
  async syncOnce(): Promise<RequestRow[]> {
    while (!(await this.follower.step()));
    await this.serveQueued();
    return this.requests();
  }

  /** Every request seen, oldest first. */
  requests(): RequestRow[] {
    const rows = this.options.db
      .prepare("SELECT id, state, reason, tx, value, attempts FROM evaluation_requests ORDER BY CAST(id AS INTEGER)")
      .all() as {
      id: string;
      state: RequestState;
      reason: string | null;
      tx: string | null;
      value: string | null;
      attempts: number;
    }[];
    return rows.map((r) => ({ ...r, id: BigInt(r.id), value: r.value === null ? null : BigInt(r.value) }));
  }

  private apply(logs: readonly Log[]): void {
    const { evaluations } = this.options.contracts;
    const insert = this.options.db.prepare(
      "INSERT OR IGNORE INTO evaluation_requests (id, block, state) VALUES (?, ?, 'queued')",
    );
    for (const log of logs) {
      const event = evaluations.interface.parseLog({ topics: [...log.topics], data: log.data });
      if (event?.name === "EvaluationRequested") insert.run(String(event.args.requestId), log.blockNumber);
    }
  }

  /** Serves every queued request, one at a time (they share the enclave and the hot key's nonces). */
  private async serveQueued(): Promise<void> {
    const queued = this.requests().filter((r) => r.state === "queued");
    for (const row of queued) await this.serveOne(row);
  }

  private async serveOne(row: RequestRow): Promise<void> {
    const { log } = this.options;
    const id = row.id.toString();
    try {
      const outcome = await this.serve(row.id);
      this.record(id, outcome.state, outcome.reason ?? null, outcome.tx ?? null, outcome.value ?? null, 0);
      this.waiting.delete(id);
      const fields = { requestId: id, ...outcome, value: outcome.value?.toString() };
      if (outcome.state === "evaluated") log.info(fields, "evaluation submitted");
      else log.info(fields, `evaluation request ${outcome.state}`);
    } catch (error) {
      const reason = error instanceof BaseError ? error.shortMessage : firstLine(error);
      if (error instanceof NotReadyError) {
        if (this.waiting.get(id) !== reason) log.warn({ requestId: id, reason }, "evaluation request waiting");
        this.waiting.set(id, reason);
        this.record(id, "queued", reason, null, null, 0);
        return;
      }
      const attempts = row.attempts + 1;
      const state: RequestState = attempts >= (this.options.maxAttempts ?? 3) ? "failed" : "queued";
      log.warn(
        { requestId: id, reason, attempts },
        state === "failed" ? "evaluation failed; giving up" : "evaluation failed; retrying",
      );
      this.record(id, state, reason, null, null, 1);
    }
  }

  private record(
    id: string,
    state: RequestState,
    reason: string | null,
    tx: string | null,
    value: bigint | null,
    failed: number,
  ) {
    this.options.db
      .prepare(
        "UPDATE evaluation_requests SET state = ?, reason = ?, tx = ?, value = ?, attempts = attempts + ? WHERE id = ?",
      )
      .run(state, reason, tx, value === null ? null : value.toString(), failed, id);
  }

  /**
   * Serves one request: `closed` when it is no longer open, `skipped` when this node will not serve it (fee, deadline,
   * a dataset that can never be evaluated, a model that does not take its rows), `evaluated` once the result is mined.
   * @throws NotReadyError while the enclave may not serve the version; other errors when an attempt failed.
   */
  async serve(id: bigint): Promise<{ state: RequestState; reason?: string; tx?: string; value?: bigint }> {
    const { contracts, provider } = this.options;
    const { evaluations } = contracts;
    const request = await this.read("evaluations.requestOf", () => evaluations.requestOf(id));
    if (Number(request.status) !== EvaluationStatus.Open)
      return { state: "closed", reason: `request is ${EvaluationStatus[Number(request.status)]?.toLowerCase()}` };
    const head = await this.read("eth_getBlock", () => provider.getBlock("latest"));
    if (head === null) throw new NotFoundError("the latest block is unavailable");
    const margin = BigInt(this.options.deadlineMarginSeconds ?? 10);
    if (BigInt(head.timestamp) + margin > request.deadline)
      return {
        state: "skipped",
        reason: `its deadline ${request.deadline} is too close (chain time ${head.timestamp})`,
      };
    if (request.fee < (this.options.minFee ?? 0n))
      return { state: "skipped", reason: `its fee ${request.fee} is below this node's minimum ${this.options.minFee}` };
    await this.checkReady(request.modelId, request.version, BigInt(head.timestamp));
    let result: Awaited<ReturnType<typeof evaluateRows>>;
    try {
      result = await this.evaluate(request.modelId, request.version, request.datasetId);
    } catch (error) {
      if (error instanceof IntegrityError || error instanceof EvaluationRowsError)
        return { state: "skipped", reason: `dataset ${request.datasetId} cannot be evaluated: ${error.shortMessage}` };
      if (error instanceof InferenceError || error instanceof InputError)
        return {
          state: "skipped",
          reason: `model ${request.modelId}@${request.version} does not take dataset ${request.datasetId}'s rows: ${error.shortMessage}`,
        };
      throw error;
    }
    return this.submit(id, request, result);
  }

  /** Why this node's enclave may not serve `modelId`@`version` now, as a NotReadyError. */
  private async checkReady(modelId: bigint, version: bigint, now: bigint): Promise<void> {
    const { teeVerifier, registry, staking } = this.options.contracts;
    const signer = this.options.enclave.address;
    const enclave = await this.read("teeVerifier.enclaveOf", () => teeVerifier.enclaveOf(signer));
    const refuse = (why: string) => {
      throw new NotReadyError(`enclave ${signer} ${why}`);
    };
    if (enclave.operator === "0x0000000000000000000000000000000000000000") refuse("is not registered");
    if (enclave.revoked) refuse("was revoked");
    if (now >= enclave.expiresAt) refuse(`expired at ${enclave.expiresAt}: the daemon renews it`);
    const revokedAt = await this.read("teeVerifier.measurementRevokedAt", () =>
      teeVerifier.measurementRevokedAt(enclave.measurement),
    );
    if (revokedAt !== 0n) refuse(`has the revoked measurement ${enclave.measurement}`);
    if (!(await this.read("registry.isBound", () => registry.isBound(modelId, version, Mode.Tee, enclave.measurement))))
      refuse(`has measurement ${enclave.measurement}, which model ${modelId}@${version} does not bind`);
    if (!(await this.read("staking.isEligible", () => staking.isEligible(enclave.operator, Mode.Tee, 0n))))
      refuse(`is registered to ${enclave.operator}, which is not eligible for TEE mode (stake, registration)`);
  }

  /** The version's score on the dataset (computed once per version and dataset). */
  private evaluate(modelId: bigint, version: bigint, datasetId: bigint) {
    const key = `${modelId}@${version}/${datasetId}`;
    let entry = this.cache.get(key);
    if (entry === undefined) {
      entry = this.compute(modelId, version, datasetId);
      entry.catch(() => this.cache.delete(key));
      this.cache.set(key, entry);
    }
    return entry;
  }

  private async compute(modelId: bigint, version: bigint, datasetId: bigint) {
    const { evaluations } = this.options.contracts;
    const dataset = await this.read("evaluations.datasetOf", () => evaluations.datasetOf(datasetId));
    const bytes = await fetchVerified(
      this.options.content,
      { path: `dataset ${datasetId} rows`, cid: cidString(dataset.rowsCid), sha256: dataset.rowsSha256 },
      { signal: AbortSignal.timeout(this.options.contentTimeoutMs ?? 30_000) },
    );
    const rows = checkRows(bytes, {
      rowsSha256: dataset.rowsSha256,
      rowCount: dataset.rowCount,
      baselineValue: dataset.baselineValue,
      metric: toMetric(dataset.metric),
    });
    const model = await this.options.models.load(modelId, version);
    const started = Date.now();
    const result = await evaluateRows(rows, model);
    this.options.log.info(
      {
        modelId: String(modelId),
        version: String(version),
        datasetId: String(datasetId),
        rows: result.rowCount,
        value: String(result.value),
        baseline: String(result.baselineValue),
        ms: Date.now() - started,
      },
      "evaluated a version on a dataset",
    );
    return result;
  }

  private async submit(
    id: bigint,
    request: Awaited<ReturnType<EvaluationRegistry["requestOf"]>>,
    result: Awaited<ReturnType<typeof evaluateRows>>,
  ): Promise<{ state: RequestState; tx: string; value: bigint }> {
    const { evaluations } = this.options.contracts;
    const dataset = await this.read("evaluations.datasetOf", () => evaluations.datasetOf(request.datasetId));
    const message: EvaluationResultMessage = {
      requestId: id,
      modelId: request.modelId,
      version: request.version,
      datasetId: request.datasetId,
      rowsSha256: dataset.rowsSha256,
      metric: result.metric,
      rowCount: BigInt(result.rowCount),
      value: result.value,
      baselineValue: result.baselineValue,
    };
    const domain = evaluationDomain(this.options.chainId, await evaluations.getAddress());
    const signature = await this.options.enclave.signEvaluation(domain, message);
    const args = [id, result.value, result.baselineValue, BigInt(result.rowCount), signature] as const;
    const context = { contract: "evaluationRegistry", call: "submitEvaluation" };
    try {
      // A refusal (served first by another node, the deadline passed) shows here, before any gas is spent.
      await evaluations.submitEvaluation.staticCall(...args);
      const tx = await evaluations.submitEvaluation(...args);
      const receipt = await withTimeout(`submitEvaluation ${tx.hash}`, this.options.receiptTimeoutMs ?? 120_000, () =>
        tx.wait(),
      );
      if (receipt === null || receipt.status !== 1) throw new BaseError(`submitEvaluation ${tx.hash} reverted`);
      return { state: "evaluated", tx: tx.hash, value: result.value };
    } catch (error) {
      throw asRevertError(error, context);
    }
  }

  private read<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(what, fn, { timeoutMs: this.options.rpcTimeoutMs ?? 10_000 });
  }
}
