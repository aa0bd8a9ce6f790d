import type { Logger } from "pino";
import { type Interface, type LogDescription, ZeroHash, getBytes } from "ethers";
import { JobEscrow__factory, ModelRegistry__factory } from "../../typechain-types";
import type { ContentStore } from "../storage/content-store";
import { BaseError, InputError, NotFoundError, StateError, TimeoutError, TransportError } from "../core/errors";
import { type RetryOptions, sleep, withRetry } from "../core/retry";
import { type ModelCard, verifyModelCard } from "./card";
import { cidToString } from "../core/cid";
import { IndexerRpcError } from "./errors";
import { type Mode, type ModelId, toMode, toModelId } from "./ids";
import type { HubStore, VersionInput } from "./store";
import { countsAsUsage, settledPayment } from "./usage";

/** What the indexer needs of a JSON-RPC provider: `send` (ethers' `JsonRpcProvider` and Hardhat's provider have it). */
export interface RpcSender {
  send(method: string, params: unknown[]): Promise<unknown>;
}

/** Options of {@link HubIndexer}. */
export interface HubIndexerOptions {
  provider: RpcSender;
  /** ModelRegistry address. */
  registry: string;
  /** JobEscrow address. */
  escrow: string;
  /** First block to index (the deployment's `startBlock`). */
  startBlock: number;
  store: HubStore;
  /** Where cards are fetched by CID. */
  content: ContentStore;
  /** Blocks behind the head that are indexed only once this deep. Default 2. */
  confirmations?: number;
  /** Largest `eth_getLogs` range. Default 1000 blocks. */
  maxBlockRange?: number;
  /** Pause between polls of {@link HubIndexer.start}. Default 2 s. */
  pollIntervalMs?: number;
  /** Time limit and retries of every RPC call. Default 10 s, 5 attempts. */
  rpc?: Pick<RetryOptions, "timeoutMs" | "attempts" | "backoffMs">;
  /** Time limit of fetching one card. Default 20 s. */
  cardTimeoutMs?: number;
  /** Fetch attempts (one per poll) before a card that cannot be fetched is given up. Default 10. */
  cardAttempts?: number;
  /** Name of the cursor in the store. Default `chain`. */
  name?: string;
  logger?: Logger;
}

/** Whether a version's card was fetched and matched its on-chain hash. */
export type CardStatus = "valid" | "invalid" | "pending" | "unavailable";

/** Outcome of one {@link HubIndexer.syncOnce}. */
export interface SyncReport {
  /** First and last block indexed (`to < from` if nothing new). */
  from: number;
  to: number;
  /** Events applied. */
  events: number;
  /** Block the store was rewound to, if a reorganisation was found. */
  rewoundTo?: number;
}

interface RawLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  logIndex: string;
  removed?: boolean;
}

interface RawBlock {
  hash: string;
  number: string;
  timestamp: string;
}

interface DecodedEvent {
  block: number;
  index: number;
  event: LogDescription;
}

type CardResult = { status: "valid"; card: ModelCard } | { status: "invalid" | "pending"; error: string };

interface JobRow {
  model_id: number;
  version: number;
  mode: number;
  model_fee: string;
  fee_per_node: string;
  protocol_fee: string;
  redundancy: number;
  usage_fee_floor: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS hub_indexer_checkpoints (name TEXT NOT NULL, block INTEGER NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (name, block));
CREATE TABLE IF NOT EXISTS hub_indexer_jobs (job_id TEXT PRIMARY KEY, model_id INTEGER NOT NULL, version INTEGER NOT NULL, mode INTEGER NOT NULL,
  model_fee TEXT NOT NULL, fee_per_node TEXT NOT NULL, protocol_fee TEXT NOT NULL, redundancy INTEGER NOT NULL, usage_fee_floor TEXT, block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hub_indexer_floor (block INTEGER NOT NULL, log_index INTEGER NOT NULL, usage_fee_floor TEXT NOT NULL, PRIMARY KEY (block, log_index));
CREATE TABLE IF NOT EXISTS hub_indexer_cards (model_id INTEGER NOT NULL, version INTEGER NOT NULL, card_cid TEXT NOT NULL, card_hash TEXT NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL, error TEXT, block INTEGER NOT NULL, PRIMARY KEY (model_id, version));
`;
const KEEP_CHECKPOINTS = 512;

/**
 * Follows ModelRegistry and JobEscrow into a {@link HubStore}: polls `eth_getLogs` over bounded ranges up to
 * `confirmations` blocks behind the head, every RPC call with a time limit and retries. Each range and the
 * cursor (block and hash) are written in one batch, with a checkpoint of the range's last block hash. Before
 * each poll the cursor's hash is compared with the chain; on a reorganisation the newest checkpoint still on
 * the chain is the common ancestor, and the store is rewound to it.
 *
 * Each version's card is fetched by CID and checked against the on-chain card hash (`verifyModelCard`); a
 * card that does not match or does not parse is recorded as `invalid` and the version stays unsearchable.
 * A card the content store cannot provide yet is retried on later polls. Verified usage counts `JobSettled`
 * per version and mode, joined with the job's `JobRequested`, and only jobs whose protocol fee reached the escrow's
 * `usageFeeFloor` in force at the request (followed through `ParametersUpdated`); their payments are summed as paid
 * volume, and jobs below the floor are recorded apart.
 *
 * The indexer keeps its own tables (checkpoints, jobs, card status) in the store's database.
 * @example
 * const indexer = new HubIndexer({ provider, registry, escrow, startBlock, store, content });
 * await indexer.syncOnce();
 */
export class HubIndexer {
  private readonly registry: Interface = ModelRegistry__factory.createInterface();
  private readonly escrow: Interface = JobEscrow__factory.createInterface();
  private readonly addresses: string[];
  private readonly name: string;
  private readonly confirmations: number;
  private readonly range: number;
  private readonly rpcOptions: RetryOptions;
  private readonly controller = new AbortController();
  private loop: Promise<void> | undefined;
  /** The usage floor in force at the last applied event; `null` until read from the store or the chain. */
  private floor: bigint | undefined | null = null;

  constructor(private readonly options: HubIndexerOptions) {
    this.addresses = [options.registry, options.escrow].map((a) => a.toLowerCase());
    this.name = options.name ?? "chain";
    this.confirmations = options.confirmations ?? 2;
    this.range = Math.max(1, options.maxBlockRange ?? 1000);
    this.rpcOptions = { timeoutMs: 10_000, attempts: 5, backoffMs: 250, ...options.rpc };
    options.store.db.exec(SCHEMA);
  }

  /**
   * Indexes everything new up to `head - confirmations` (handling a reorganisation first), then retries
   * cards that could not be fetched before.
   */
  async syncOnce(): Promise<SyncReport> {
    const rewoundTo = await this.checkReorg();
    const head = await this.blockNumber();
    const target = head - this.confirmations;
    const cursor = this.options.store.getCursor(this.name);
    const from = cursor === undefined ? this.options.startBlock : cursor.block + 1;
    let events = 0;
    for (let start = from; start <= target; start += this.range) {
      events += await this.indexRange(start, Math.min(start + this.range - 1, target));
    }
    await this.retryCards();
    return { from, to: Math.max(target, from - 1), events, ...(rewoundTo === undefined ? {} : { rewoundTo }) };
  }

  /** Polls until {@link stop}; errors are logged and the next poll backs off. */
  start(): void {
    if (this.loop !== undefined) return;
    const signal = this.controller.signal;
    this.loop = (async () => {
      let delay = this.options.pollIntervalMs ?? 2_000;
      while (!signal.aborted) {
        try {
          await this.syncOnce();
          delay = this.options.pollIntervalMs ?? 2_000;
        } catch (error) {
          this.options.logger?.error({ err: error }, "hub indexer poll failed");
          delay = Math.min(delay * 2, 60_000);
        }
        await sleep(delay, signal).catch(() => undefined);
      }
    })();
  }

  /** Stops polling and waits for the current poll to end. */
  async stop(): Promise<void> {
    this.controller.abort();
    await this.loop;
  }

  /** The card status of a version, or `undefined` if the indexer has not seen it. */
  cardStatus(modelId: number, version: number): { status: CardStatus; error: string | null } | undefined {
    return this.options.store.db.prepare("SELECT status, error FROM hub_indexer_cards WHERE model_id = ? AND version = ?").get(modelId, version) as
      | { status: CardStatus; error: string | null }
      | undefined;
  }

  /* REORGANISATIONS */

  /** Rewinds to the newest checkpoint still on the chain if the cursor's block was replaced. */
  private async checkReorg(): Promise<number | undefined> {
    const cursor = this.options.store.getCursor(this.name);
    if (cursor === undefined || cursor.block < 0) return undefined;
    if ((await this.blockHashIfAny(cursor.block)) === cursor.blockHash) return undefined;
    const db = this.options.store.db;
    const checkpoints = db.prepare("SELECT block, hash FROM hub_indexer_checkpoints WHERE name = ? AND block < ? ORDER BY block DESC").all(this.name, cursor.block) as {
      block: number;
      hash: string;
    }[];
    let ancestor: { block: number; hash: string } | undefined;
    for (const c of checkpoints) {
      if ((await this.blockHashIfAny(c.block)) === c.hash) {
        ancestor = c;
        break;
      }
    }
    ancestor ??= await this.genesisCursor();
    this.options.logger?.warn({ from: cursor.block, to: ancestor.block }, "chain reorganisation: rewinding the hub index");
    this.options.store.batch(() => {
      this.options.store.rewindTo(ancestor.block);
      db.prepare("DELETE FROM hub_indexer_checkpoints WHERE name = ? AND block > ?").run(this.name, ancestor.block);
      db.prepare("DELETE FROM hub_indexer_jobs WHERE block > ?").run(ancestor.block);
      db.prepare("DELETE FROM hub_indexer_floor WHERE block > ?").run(ancestor.block);
      this.floor = null;
      db.prepare("DELETE FROM hub_indexer_cards WHERE block > ?").run(ancestor.block);
      this.options.store.setCursor(this.name, { block: ancestor.block, blockHash: ancestor.hash });
    });
    return ancestor.block;
  }

  /** The cursor before the first indexed block. */
  private async genesisCursor(): Promise<{ block: number; hash: string }> {
    const block = this.options.startBlock - 1;
    return { block, hash: block < 0 ? ZeroHash : await this.blockHash(block) };
  }

  /* INDEXING */

  /** Fetches, decodes and applies one range, with its cursor and checkpoint, in one batch. */
  private async indexRange(from: number, to: number): Promise<number> {
    const endHash = await this.blockHash(to);
    const logs = (await this.rpc<RawLog[]>("eth_getLogs", [{ address: this.addresses, fromBlock: hex(from), toBlock: hex(to) }])).filter((l) => l.removed !== true);
    if ((await this.blockHash(to)) !== endHash) throw new StateError(`Block ${to} changed while indexing blocks ${from}-${to}; retrying on the next poll.`);
    const events = logs.map((l) => this.decode(l)).filter((e): e is DecodedEvent => e !== undefined);
    events.sort((a, b) => a.block - b.block || a.index - b.index);
    const startFloor = await this.floorBefore(from, events);
    const cards = new Map<string, CardResult>();
    const timestamps = new Map<number, number>();
    for (const { event, block } of events) {
      if (event.name !== "VersionPublished") continue;
      cards.set(versionKey(event), await this.fetchCard(String(event.args.cardCid), String(event.args.cardHash)));
      if (!timestamps.has(block)) timestamps.set(block, await this.blockTimestamp(block));
    }
    const { store } = this.options;
    try {
      store.batch(() => {
        if (startFloor !== undefined) this.recordFloor(from - 1, -1, startFloor);
        for (const e of events) this.apply(e, cards, timestamps);
        const db = store.db;
        db.prepare("INSERT OR REPLACE INTO hub_indexer_checkpoints (name, block, hash) VALUES (?, ?, ?)").run(this.name, to, endHash);
        db.prepare(
          "DELETE FROM hub_indexer_checkpoints WHERE name = ? AND block < (SELECT min(block) FROM (SELECT block FROM hub_indexer_checkpoints WHERE name = ? ORDER BY block DESC LIMIT ?))",
        ).run(this.name, this.name, KEEP_CHECKPOINTS);
        store.setCursor(this.name, { block: to, blockHash: endHash });
      });
    } catch (error) {
      this.floor = null; // the batch was rolled back: forget a floor it applied
      throw error;
    }
    if (events.length > 0) this.options.logger?.info({ from, to, events: events.length }, "hub indexed blocks");
    return events.length;
  }

  private decode(log: RawLog): DecodedEvent | undefined {
    const iface = log.address.toLowerCase() === this.addresses[0] ? this.registry : this.escrow;
    const event = iface.parseLog({ topics: log.topics, data: log.data });
    return event === null ? undefined : { block: Number(log.blockNumber), index: Number(log.logIndex), event };
  }

  private apply(e: DecodedEvent, cards: Map<string, CardResult>, timestamps: Map<number, number>): void {
    const { store } = this.options;
    const args = e.event.args;
    switch (e.event.name) {
      case "ModelCreated":
        return store.upsertModel({ modelId: modelIdOf(args.modelId), owner: String(args.owner), price: BigInt(args.price), block: e.block });
      case "VersionPublished":
        return this.applyVersion(e, cards.get(versionKey(e.event))!, timestamps.get(e.block)!);
      case "VersionDeprecated":
        return store.markDeprecated(modelIdOf(args.modelId), Number(args.version), e.block);
      case "PriceUpdated":
        return store.setPrice(modelIdOf(args.modelId), BigInt(args.newPrice), e.block);
      case "OwnershipTransferred":
        if (store.getModel(modelIdOf(args.modelId)) !== undefined) store.setOwner(modelIdOf(args.modelId), String(args.newOwner), e.block);
        return;
      case "JobRequested":
        return this.applyRequested(e);
      case "JobSettled":
        return this.applySettled(String(args.jobId), Number(args.agreeing), e.block);
      case "ParametersUpdated":
        return this.recordFloor(e.block, e.index, BigInt((args.parameters as { usageFeeFloor: bigint }).usageFeeFloor));
    }
  }

  /** Keeps the job's version, mode, fee terms and the usage floor in force now, for its `JobSettled`. */
  private applyRequested(e: DecodedEvent): void {
    const args = e.event.args;
    const job = args.job as { version: bigint; mode: bigint; modelFee: bigint; feePerNode: bigint; protocolFee: bigint; redundancy: bigint };
    const floor = this.currentFloor();
    if (floor === undefined) this.options.logger?.warn({ jobId: String(args.jobId) }, "usage floor unknown when the job was requested; it will not count as usage");
    this.options.store.db
      .prepare(
        `INSERT OR REPLACE INTO hub_indexer_jobs (job_id, model_id, version, mode, model_fee, fee_per_node, protocol_fee, redundancy, usage_fee_floor, block)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(String(args.jobId), Number(args.modelId), Number(job.version), Number(job.mode), String(job.modelFee), String(job.feePerNode), String(job.protocolFee),
        Number(job.redundancy), floor === undefined ? null : floor.toString(), e.block);
  }

  private applyVersion(e: DecodedEvent, card: CardResult, publishedAt: number): void {
    const args = e.event.args;
    const files = (args.files as { path: string; cid: string; sha256: string }[]).map((f) => ({ path: f.path, cid: cidString(f.cid), sha256: f.sha256 }));
    const modes = (args.modes as { mode: bigint }[]).reduce((mask, m) => (mask | (1 << Number(m.mode))) >>> 0, 0);
    const input: VersionInput = {
      modelId: modelIdOf(args.modelId),
      version: Number(args.version),
      publisher: String(args.publisher),
      cardHash: String(args.cardHash),
      cardCid: cidString(String(args.cardCid)),
      files,
      modes,
      publishedAt,
      block: e.block,
      ...(card.status === "valid" ? { card: card.card } : {}),
    };
    this.options.store.upsertVersion(input);
    this.options.store.db
      .prepare(
        `INSERT OR REPLACE INTO hub_indexer_cards (model_id, version, card_cid, card_hash, status, attempts, error, block)
         VALUES (?, ?, ?, ?, ?, 1, ?, ?)`,
      )
      .run(input.modelId, input.version, input.cardCid, input.cardHash.toLowerCase(), card.status, card.status === "valid" ? null : card.error, e.block);
    this.logCard(input.modelId, input.version, card);
  }

  /** Logs a rejected card, and each leniency of an accepted one (`card.warnings`). */
  private logCard(modelId: number, version: number, card: CardResult): void {
    const logger = this.options.logger;
    if (card.status === "invalid") logger?.warn({ modelId, version, error: card.error }, "model card rejected");
    if (card.status !== "valid") return;
    for (const warning of card.card.warnings) logger?.warn({ modelId, version, warning }, "model card read leniently");
  }

  private applySettled(jobId: string, agreeing: number, block: number): void {
    const job = this.options.store.db.prepare("SELECT * FROM hub_indexer_jobs WHERE job_id = ?").get(jobId) as JobRow | undefined;
    const mode = job === undefined ? undefined : toMode(job.mode);
    if (job === undefined || mode === undefined) {
      this.options.logger?.warn({ jobId }, "JobSettled for a job requested before the indexed range; not counted");
      return;
    }
    if (this.options.store.db.prepare("SELECT 1 FROM versions WHERE model_id = ? AND version = ?").get(job.model_id, job.version) === undefined) {
      // Only possible if registry and escrow belong to different deployments; counting it would stall the indexer.
      this.options.logger?.warn({ jobId, modelId: job.model_id, version: job.version }, "JobSettled for an unknown version; not counted");
      return;
    }
    const terms = { modelFee: BigInt(job.model_fee), feePerNode: BigInt(job.fee_per_node), protocolFee: BigInt(job.protocol_fee), redundancy: job.redundancy };
    const payment = settledPayment(terms, agreeing);
    const usage = { modelId: modelIdOf(job.model_id), version: job.version, mode: mode as Mode, jobs: 1, block };
    if (countsAsUsage(payment.protocolFee, job.usage_fee_floor === null ? undefined : BigInt(job.usage_fee_floor))) {
      this.options.store.addVerifiedUsage({ ...usage, paid: payment.paid });
    } else {
      this.options.store.addBelowFloorUsage(usage);
      this.options.logger?.debug({ jobId, protocolFee: payment.protocolFee.toString(), floor: job.usage_fee_floor }, "settled job below the usage floor; not counted");
    }
  }

  /* USAGE FLOOR */

  /** The usage floor in force after the events applied so far, or `undefined` if it was never learnt. */
  private currentFloor(): bigint | undefined {
    if (this.floor === null) {
      const row = this.options.store.db.prepare("SELECT usage_fee_floor FROM hub_indexer_floor ORDER BY block DESC, log_index DESC LIMIT 1").get() as
        | { usage_fee_floor: string }
        | undefined;
      this.floor = row === undefined ? undefined : BigInt(row.usage_fee_floor);
    }
    return this.floor;
  }

  private recordFloor(block: number, index: number, floor: bigint): void {
    this.options.store.db.prepare("INSERT OR REPLACE INTO hub_indexer_floor (block, log_index, usage_fee_floor) VALUES (?, ?, ?)").run(block, index, floor.toString());
    this.floor = floor;
  }

  /**
   * The floor to record as of block `from - 1`, read from the escrow, when none is known and a job is requested in
   * this range before any `ParametersUpdated` (the escrow's constructor emits one, so this happens only when the
   * indexer starts after the escrow's deployment).
   */
  private async floorBefore(from: number, events: readonly DecodedEvent[]): Promise<bigint | undefined> {
    if (this.currentFloor() !== undefined) return undefined;
    const first = events.find((e) => e.event.name === "JobRequested" || e.event.name === "ParametersUpdated");
    if (first === undefined || first.event.name === "ParametersUpdated") return undefined;
    const data = this.escrow.encodeFunctionData("parameters");
    const result = await this.rpc<string>("eth_call", [{ to: this.addresses[1], data }, hex(Math.max(0, from - 1))]);
    if (result === "0x") return undefined;
    return BigInt((this.escrow.decodeFunctionResult("parameters", result)[0] as { usageFeeFloor: bigint }).usageFeeFloor);
  }

  /* CARDS */

  /** Fetches and verifies a card; `pending` if the content store cannot provide it now. */
  private async fetchCard(cid: string, cardHash: string): Promise<CardResult> {
    let bytes: Uint8Array;
    try {
      const canonical = cidString(cid);
      bytes = await withRetry(`card ${canonical}`, (signal) => this.options.content.cat(canonical, { signal }), { attempts: 1, timeoutMs: this.options.cardTimeoutMs ?? 20_000 });
    } catch (error) {
      const transient = error instanceof NotFoundError || error instanceof TransportError || error instanceof TimeoutError || !(error instanceof BaseError);
      return { status: transient ? "pending" : "invalid", error: message(error) };
    }
    try {
      const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      return { status: "valid", card: verifyModelCard(text, cardHash) };
    } catch (error) {
      return { status: "invalid", error: message(error) };
    }
  }

  /** Retries cards still `pending`, once per poll, up to `cardAttempts`. */
  private async retryCards(): Promise<void> {
    const db = this.options.store.db;
    const max = this.options.cardAttempts ?? 10;
    const rows = db.prepare("SELECT model_id, version, card_cid, card_hash, attempts FROM hub_indexer_cards WHERE status = 'pending'").all() as {
      model_id: number;
      version: number;
      card_cid: string;
      card_hash: string;
      attempts: number;
    }[];
    for (const row of rows) {
      const result = await this.fetchCard(row.card_cid, row.card_hash);
      const status: CardStatus = result.status === "pending" && row.attempts + 1 >= max ? "unavailable" : result.status;
      this.logCard(row.model_id, row.version, result);
      this.options.store.batch(() => {
        if (result.status === "valid") this.options.store.setCard(modelIdOf(row.model_id), row.version, result.card);
        db.prepare("UPDATE hub_indexer_cards SET status = ?, attempts = attempts + 1, error = ? WHERE model_id = ? AND version = ?").run(
          status,
          result.status === "valid" ? null : result.error,
          row.model_id,
          row.version,
        );
      });
    }
  }

  /* RPC */

  private async rpc<T>(method: string, params: unknown[]): Promise<T> {
    try {
      return (await withRetry(method, () => this.options.provider.send(method, params), {
        ...this.rpcOptions,
        // Any failed call is tried again, an error answer included: the indexer's node may still be catching up.
        retryable: () => true,
        signal: this.controller.signal,
        onRetry: (error, attempt) => this.options.logger?.warn({ err: error, method, attempt }, "RPC call failed; retrying"),
      })) as T;
    } catch (cause) {
      throw new IndexerRpcError(method, { cause, details: message(cause) });
    }
  }

  private async blockNumber(): Promise<number> {
    return Number(await this.rpc<string>("eth_blockNumber", []));
  }

  /** The hash of block `n`, or `undefined` if the chain is shorter (after a reorganisation). */
  private async blockHashIfAny(n: number): Promise<string | undefined> {
    return (await this.rpc<RawBlock | null>("eth_getBlockByNumber", [hex(n), false]))?.hash.toLowerCase();
  }

  private async block(n: number): Promise<RawBlock> {
    const block = await this.rpc<RawBlock | null>("eth_getBlockByNumber", [hex(n), false]);
    if (block === null) throw new IndexerRpcError(`eth_getBlockByNumber(${n})`, { details: "the node does not have this block" });
    return block;
  }

  private async blockHash(n: number): Promise<string> {
    return (await this.block(n)).hash.toLowerCase();
  }

  private async blockTimestamp(n: number): Promise<number> {
    return Number((await this.block(n)).timestamp);
  }
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function versionKey(event: LogDescription): string {
  return `${String(event.args.modelId)}@${String(event.args.version)}`;
}

function modelIdOf(value: unknown): ModelId {
  const id = toModelId(Number(value));
  if (id === undefined) throw new InputError(`Event carries an invalid model id ${String(value)}.`);
  return id;
}

/** The `b…` string of a binary CID as the event carries it (0x hex). */
function cidString(hexCid: string): string {
  return hexCid.startsWith("0x") ? cidToString(getBytes(hexCid)) : hexCid;
}

function message(error: unknown): string {
  return error instanceof BaseError ? error.shortMessage : error instanceof Error ? error.message : String(error);
}
