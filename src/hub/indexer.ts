import { type Interface, type Log, type LogDescription, type Provider } from "ethers";
import { JobEscrow__factory, ModelRegistry__factory, TeeVerifier__factory } from "../../typechain-types";
import type { ContentStore } from "../storage/content-store";
import { BaseError, NotFoundError, StateError, TimeoutError, TransportError } from "../core/errors";
import { ChainMovedError, LogFollower } from "../core/follower";
import { cidString } from "../core/cid";
import { type Logger, silentLogger } from "../core/log";
import { isMode, Mode, modeMask, toMode } from "../core/modes";
import { withRetry } from "../core/retry";
import { type ModelCard, verifyModelCard } from "./card";
import { modelIdNumber } from "./ids";
import { type EvaluationIndex, followEvaluations } from "./evaluations";
import { decodeNetworkEvent, NetworkIndex, networkInterfaces, networkTopics } from "./network";
import type { HubStore, VersionInput } from "./store";
import { TeeIndex } from "./tee";
import { countsAsUsage, settledPayment } from "./usage";

/** Options of {@link HubIndexer}. */
export interface HubIndexerOptions {
  provider: Provider;
  /** ModelRegistry address. */
  registry: string;
  /** JobEscrow address. */
  escrow: string;
  /** TeeVerifier address: its enclave registrations and revocations are indexed for the TEE measurements of versions. */
  teeVerifier?: string;
  /**
   * NodeStaking address: with it, the network's events (NodeStaking's, and JobEscrow's and ModelRegistry's that the
   * concentration figures use) are indexed into a {@link NetworkIndex}, from the start block, behind their own cursor.
   */
  staking?: string;
  /**
   * EvaluationRegistry address: with it, datasets and verified evaluations are indexed into an
   * {@link EvaluationIndex} (`followEvaluations`), behind their own cursor.
   */
  evaluationRegistry?: string;
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
  /** Time limit of every RPC call. Default 10 s. */
  rpcTimeoutMs?: number;
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

interface DecodedEvent {
  block: number;
  index: number;
  event: LogDescription;
}

type CardResult = { status: "valid"; card: ModelCard } | { status: "invalid" | "pending"; error: string };

/** What a range needs from outside the database, fetched before its transaction. */
interface PreparedRange {
  from: number;
  events: DecodedEvent[];
  cards: Map<string, CardResult>;
  timestamps: Map<number, number>;
  /** The usage floor to record before the range, read from the escrow (see `floorBefore`). */
  startFloor: bigint | undefined;
  /** Timestamp of the range's last block, when TeeVerifier is followed (what enclave expiry is judged against). */
  chainTime: { block: number; timestamp: number } | undefined;
}

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

const REGISTRY_EVENTS = [
  "ModelCreated",
  "VersionPublished",
  "VersionDeprecated",
  "PriceUpdated",
  "OwnershipTransferred",
];
const ESCROW_EVENTS = ["JobRequested", "JobSettled", "ParametersUpdated"];
const TEE_EVENTS = ["EnclaveRegistered", "EnclaveRevoked", "MeasurementRevoked"];

/** The indexer's own tables; rows carry their block so that a rewind deletes what a dropped block wrote. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS hub_indexer_jobs (job_id TEXT PRIMARY KEY, model_id INTEGER NOT NULL, version INTEGER NOT NULL, mode INTEGER NOT NULL,
  model_fee TEXT NOT NULL, fee_per_node TEXT NOT NULL, protocol_fee TEXT NOT NULL, redundancy INTEGER NOT NULL, usage_fee_floor TEXT, block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hub_indexer_floor (block INTEGER NOT NULL, log_index INTEGER NOT NULL, usage_fee_floor TEXT NOT NULL, PRIMARY KEY (block, log_index));
CREATE TABLE IF NOT EXISTS hub_indexer_cards (model_id INTEGER NOT NULL, version INTEGER NOT NULL, card_cid TEXT NOT NULL, card_hash TEXT NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL, error TEXT, block INTEGER NOT NULL, PRIMARY KEY (model_id, version));
`;
const INDEXER_TABLES = ["hub_indexer_jobs", "hub_indexer_floor", "hub_indexer_cards"];

/**
 * Follows ModelRegistry and JobEscrow into a {@link HubStore} with core's {@link LogFollower} (bounded
 * `eth_getLogs` ranges `confirmations` deep, reorganisations found by stored block hashes), its cursor in the
 * store's database: each range is applied in the transaction that advances the cursor, and a reorganisation
 * rewinds the store (`HubStore.rewindTo`) and the indexer's tables to the common ancestor.
 *
 * Each version's card is fetched by CID and checked against the on-chain card hash (`verifyModelCard`); a
 * card that does not match or does not parse is recorded as `invalid` and the version stays unsearchable.
 * A card the content store cannot provide yet is retried on later polls. Verified usage counts `JobSettled`
 * per version and mode, joined with the job's `JobRequested`, and only jobs whose protocol fee reached the escrow's
 * `usageFeeFloor` in force at the request (followed through `ParametersUpdated`); their payments are summed as paid
 * volume, and jobs below the floor are recorded apart.
 *
 * With `teeVerifier`, the same follower (one cursor, one reorganisation check) also reads TeeVerifier's
 * `EnclaveRegistered`, `EnclaveRevoked` and `MeasurementRevoked` and the time of each range's last block into a
 * {@link TeeIndex}, which tells each TEE version's measurements, which are revoked, and how many unexpired enclaves
 * are registered for each.
 *
 * With `staking`, a second follower, with its own cursor and reorganisation check, reads the events economics'
 * `NetworkReducer` folds (NodeStaking's, and JobEscrow's and ModelRegistry's it needs) into a {@link NetworkIndex}:
 * the concentration figures of `GET /api/network` and the Network page. Its own cursor lets a store indexed before it
 * existed read them from the start block.
 * @example
 * const indexer = new HubIndexer({ provider, registry, escrow, startBlock, store, content });
 * await indexer.syncOnce();
 */
export class HubIndexer {
  private readonly registry: Interface = ModelRegistry__factory.createInterface();
  private readonly escrow: Interface = JobEscrow__factory.createInterface();
  private readonly tee: Interface = TeeVerifier__factory.createInterface();
  /** The interface and the followed events of each followed address (lowercase). */
  private readonly contracts: Map<string, { iface: Interface; events: readonly string[] }>;
  /** TEE measurements, registrations and revocations, in the store's database. */
  readonly teeIndex: TeeIndex;
  /** The network's events and concentration figures, when `staking` is given. */
  readonly network: NetworkIndex | undefined;
  private readonly follower: LogFollower;
  /** Follows the network's events into {@link network}, behind its own cursor. */
  private readonly networkFollower: LogFollower | undefined;
  /** Datasets and verified evaluations, when `evaluationRegistry` is given. */
  readonly evaluations: EvaluationIndex | undefined;
  /** Follows EvaluationRegistry into {@link evaluations}, behind its own cursor. */
  private readonly evaluationFollower: LogFollower | undefined;
  private readonly rpcTimeoutMs: number;
  private readonly controller = new AbortController();
  private loop: Promise<unknown> | undefined;
  /** What `prepare` fetched for the range `apply` writes next. */
  private prepared: PreparedRange | undefined;
  /** Events applied since this indexer was made, and the last rewind: what {@link syncOnce} reports. */
  private applied = 0;
  private rewoundTo: number | undefined;
  /** The usage floor in force at the last applied event; `null` until read from the store or the chain. */
  private floor: bigint | undefined | null = null;

  constructor(private readonly options: HubIndexerOptions) {
    this.rpcTimeoutMs = options.rpcTimeoutMs ?? 10_000;
    options.store.db.exec(SCHEMA);
    this.teeIndex = new TeeIndex(options.store.db);
    this.contracts = new Map([
      [options.registry.toLowerCase(), { iface: this.registry, events: REGISTRY_EVENTS }],
      [options.escrow.toLowerCase(), { iface: this.escrow, events: ESCROW_EVENTS }],
      ...(options.teeVerifier === undefined
        ? []
        : [[options.teeVerifier.toLowerCase(), { iface: this.tee, events: TEE_EVENTS }] as const]),
    ]);
    const topics = [...this.contracts.values()].flatMap(({ iface, events }) =>
      events.map((e) => iface.getEvent(e)!.topicHash),
    );
    this.follower = new LogFollower(
      options.provider,
      options.store.cursor(options.name ?? "chain"),
      options.logger ?? silentLogger,
      {
        address: [
          options.registry,
          options.escrow,
          ...(options.teeVerifier === undefined ? [] : [options.teeVerifier]),
        ],
        topics,
        startBlock: options.startBlock,
        confirmations: options.confirmations ?? 2,
        maxBlockRange: Math.max(1, options.maxBlockRange ?? 1000),
        pollIntervalMs: options.pollIntervalMs ?? 2_000,
        rpcTimeoutMs: this.rpcTimeoutMs,
        prepare: (logs, range) => this.prepare(logs, range),
        apply: (_logs, range) => this.apply(range),
        rewind: (ancestor) => this.rewind(ancestor),
        onCaughtUp: () => this.retryCards(),
      },
    );
    if (options.staking !== undefined) {
      this.network = new NetworkIndex(options.store, options.startBlock);
      this.networkFollower = this.followNetwork(options.staking, this.network);
    }
    if (options.evaluationRegistry !== undefined) {
      const followed = followEvaluations({
        provider: options.provider,
        store: options.store,
        address: options.evaluationRegistry,
        startBlock: options.startBlock,
        confirmations: options.confirmations ?? 2,
        maxBlockRange: Math.max(1, options.maxBlockRange ?? 1000),
        pollIntervalMs: options.pollIntervalMs ?? 2_000,
        rpcTimeoutMs: this.rpcTimeoutMs,
        logger: options.logger,
      });
      this.evaluations = followed.index;
      this.evaluationFollower = followed.follower;
    }
    if (
      options.teeVerifier !== undefined &&
      this.follower.cursor >= options.startBlock &&
      this.teeIndex.chainTime() === null
    ) {
      // A store indexed before TeeVerifier was followed: its enclave events below the cursor were never read.
      options.logger?.warn(
        { cursor: this.follower.cursor },
        "hub store indexed without TeeVerifier: enclave counts miss earlier registrations; delete the --db file to re-index",
      );
    }
  }

  /** The last indexed block (one before the start block at first). */
  get cursor(): number {
    return this.follower.cursor;
  }

  /**
   * The follower of the network's events. Its cursor is its own: in a store indexed before the hub kept these
   * events it starts at the start block, so they are read from there whatever the other tables hold.
   */
  private followNetwork(staking: string, network: NetworkIndex): LogFollower {
    const { options } = this;
    const interfaces = networkInterfaces({ staking, escrow: options.escrow, registry: options.registry });
    if (network.indexedTo < options.startBlock && this.follower.cursor >= options.startBlock)
      options.logger?.info(
        { from: options.startBlock, cursor: this.follower.cursor },
        "hub store indexed without the network's events: indexing them from the start block",
      );
    return new LogFollower(options.provider, network.cursor, options.logger ?? silentLogger, {
      address: [...interfaces.keys()],
      topics: networkTopics(interfaces),
      startBlock: options.startBlock,
      confirmations: options.confirmations ?? 2,
      maxBlockRange: Math.max(1, options.maxBlockRange ?? 1000),
      pollIntervalMs: options.pollIntervalMs ?? 2_000,
      rpcTimeoutMs: this.rpcTimeoutMs,
      apply: (logs) => {
        for (const log of logs) {
          const event = decodeNetworkEvent(interfaces, log);
          if (event !== undefined) network.record(event);
        }
      },
      rewind: (ancestor) => network.rewindTo(ancestor),
    });
  }

  /**
   * Indexes everything new up to `head - confirmations` (handling a reorganisation first), then retries
   * cards that could not be fetched before.
   */
  async syncOnce(): Promise<SyncReport> {
    const [start, applied] = [this.follower.cursor, this.applied];
    this.rewoundTo = undefined;
    while (!(await this.follower.step()));
    if (this.networkFollower !== undefined) while (!(await this.networkFollower.step()));
    if (this.evaluationFollower !== undefined) while (!(await this.evaluationFollower.step()));
    await this.retryCards();
    const rewoundTo = this.rewoundTo;
    return {
      from: (rewoundTo ?? start) + 1,
      to: this.follower.cursor,
      events: this.applied - applied,
      ...(rewoundTo === undefined ? {} : { rewoundTo }),
    };
  }

  /** Polls until {@link stop}; errors are logged and the next poll backs off. */
  start(): void {
    this.loop ??= Promise.all([
      this.follower.run(this.controller.signal),
      this.networkFollower?.run(this.controller.signal),
      this.evaluationFollower?.run(this.controller.signal),
    ]);
  }

  /** Stops polling and waits for the current poll to end. */
  async stop(): Promise<void> {
    this.controller.abort();
    await this.loop;
  }

  /** The card status of a version, or `undefined` if the indexer has not seen it. */
  cardStatus(modelId: number, version: number): { status: CardStatus; error: string | null } | undefined {
    return this.options.store.db
      .prepare("SELECT status, error FROM hub_indexer_cards WHERE model_id = ? AND version = ?")
      .get(modelId, version) as { status: CardStatus; error: string | null } | undefined;
  }

  /* THE FOLLOWER'S CALLBACKS */

  /** Decodes a range's logs and fetches its cards, block timestamps and, if needed, the usage floor before it. */
  private async prepare(logs: readonly Log[], { from, to }: { from: number; to: number }): Promise<void> {
    this.floor = null; // re-read from the store: a range rolled back after it was cached
    const events = logs.map((l) => this.decode(l)).filter((e): e is DecodedEvent => e !== undefined);
    events.sort((a, b) => a.block - b.block || a.index - b.index);
    const startFloor = await this.floorBefore(from, events);
    const cards = new Map<string, CardResult>();
    const timestamps = new Map<number, number>();
    for (const { event, block } of events) {
      if (event.name !== "VersionPublished" && event.name !== "MeasurementRevoked") continue;
      if (event.name === "VersionPublished")
        cards.set(versionKey(event), await this.fetchCard(String(event.args.cardCid), String(event.args.cardHash)));
      if (!timestamps.has(block)) timestamps.set(block, await this.blockTimestamp(block));
    }
    const chainTime =
      this.options.teeVerifier === undefined
        ? undefined
        : { block: to, timestamp: timestamps.get(to) ?? (await this.blockTimestamp(to)) };
    this.prepared = { from, events, cards, timestamps, startFloor, chainTime };
  }

  /** Writes a prepared range; runs in the transaction that advances the cursor. */
  private apply(range: { from: number; to: number }): void {
    const prepared = this.prepared;
    this.prepared = undefined;
    if (prepared?.from !== range.from) throw new StateError(`blocks ${range.from}..${range.to} were not prepared`);
    if (prepared.startFloor !== undefined) this.recordFloor(range.from - 1, -1, prepared.startFloor);
    for (const e of prepared.events) this.applyEvent(e, prepared);
    if (prepared.chainTime !== undefined)
      this.teeIndex.recordChainTime(prepared.chainTime.block, prepared.chainTime.timestamp);
    this.applied += prepared.events.length;
    if (prepared.events.length > 0)
      this.options.logger?.info({ ...range, events: prepared.events.length }, "hub indexed blocks");
  }

  /** Undoes what blocks above `ancestor` wrote; runs in the transaction that rewinds the cursor. */
  private rewind(ancestor: number): void {
    const { store } = this.options;
    store.rewindTo(ancestor);
    for (const table of INDEXER_TABLES) store.db.prepare(`DELETE FROM ${table} WHERE block > ?`).run(ancestor);
    this.teeIndex.rewindTo(ancestor);
    this.floor = null;
    this.rewoundTo = ancestor;
  }

  /* EVENTS */

  /** A followed log of a followed contract, decoded; any other log (another contract's event of the same topic) is dropped. */
  private decode(log: Log): DecodedEvent | undefined {
    const contract = this.contracts.get(log.address.toLowerCase());
    const event = contract?.iface.parseLog({ topics: [...log.topics], data: log.data });
    return event === null || event === undefined || !contract!.events.includes(event.name)
      ? undefined
      : { block: log.blockNumber, index: log.index, event };
  }

  private applyEvent(e: DecodedEvent, prepared: PreparedRange): void {
    const { store } = this.options;
    const args = e.event.args;
    switch (e.event.name) {
      case "ModelCreated":
        return store.upsertModel({
          modelId: modelIdNumber(args.modelId as bigint),
          owner: String(args.owner),
          price: BigInt(args.price),
          block: e.block,
        });
      case "VersionPublished":
        return this.applyVersion(e, prepared.cards.get(versionKey(e.event))!, prepared.timestamps.get(e.block)!);
      case "VersionDeprecated":
        return store.markDeprecated(modelIdNumber(args.modelId as bigint), Number(args.version), e.block);
      case "PriceUpdated":
        return store.setPrice(modelIdNumber(args.modelId as bigint), BigInt(args.newPrice), e.block);
      case "OwnershipTransferred": {
        const modelId = modelIdNumber(args.modelId as bigint);
        if (store.getModel(modelId) !== undefined) store.setOwner(modelId, String(args.newOwner), e.block);
        return;
      }
      case "JobRequested":
        return this.applyRequested(e);
      case "JobSettled":
        return this.applySettled(String(args.jobId), Number(args.agreeing), e.block);
      case "ParametersUpdated":
        return this.recordFloor(e.block, e.index, BigInt((args.parameters as { usageFeeFloor: bigint }).usageFeeFloor));
      case "EnclaveRegistered":
        return this.teeIndex.recordRegistered({
          block: e.block,
          index: e.index,
          signer: String(args.signer),
          measurement: String(args.measurement),
          expiresAt: Number(args.expiresAt),
        });
      case "EnclaveRevoked":
        return this.teeIndex.recordRevoked({ block: e.block, index: e.index, signer: String(args.signer) });
      case "MeasurementRevoked":
        return this.teeIndex.recordMeasurementRevoked(
          String(args.measurement),
          prepared.timestamps.get(e.block)!,
          e.block,
        );
    }
  }

  /** Keeps the job's version, mode, fee terms and the usage floor in force now, for its `JobSettled`. */
  private applyRequested(e: DecodedEvent): void {
    const args = e.event.args;
    const job = args.job as {
      version: bigint;
      mode: bigint;
      modelFee: bigint;
      feePerNode: bigint;
      protocolFee: bigint;
      redundancy: bigint;
    };
    const floor = this.currentFloor();
    if (floor === undefined)
      this.options.logger?.warn(
        { jobId: String(args.jobId) },
        "usage floor unknown when the job was requested; it will not count as usage",
      );
    this.options.store.db
      .prepare(
        `INSERT OR REPLACE INTO hub_indexer_jobs (job_id, model_id, version, mode, model_fee, fee_per_node, protocol_fee, redundancy, usage_fee_floor, block)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        String(args.jobId),
        Number(args.modelId),
        Number(job.version),
        Number(job.mode),
        String(job.modelFee),
        String(job.feePerNode),
        String(job.protocolFee),
        Number(job.redundancy),
        floor === undefined ? null : floor.toString(),
        e.block,
      );
  }

  private applyVersion(e: DecodedEvent, card: CardResult, publishedAt: number): void {
    const args = e.event.args;
    const files = (args.files as { path: string; cid: string; sha256: string }[]).map((f) => ({
      path: f.path,
      cid: cidString(f.cid),
      sha256: f.sha256,
    }));
    const input: VersionInput = {
      modelId: modelIdNumber(args.modelId as bigint),
      version: Number(args.version),
      publisher: String(args.publisher),
      cardHash: String(args.cardHash),
      cardCid: cidString(String(args.cardCid)),
      files,
      modes: modeMask((args.modes as { mode: bigint }[]).map((m) => toMode(m.mode))),
      publishedAt,
      block: e.block,
      ...(card.status === "valid" ? { card: card.card } : {}),
    };
    this.options.store.upsertVersion(input);
    const tee = (args.modes as { mode: bigint; bindings: string[] }[]).find((m) => Number(m.mode) === Mode.Tee);
    if (tee !== undefined) this.teeIndex.recordBinding(input.modelId, input.version, [...tee.bindings], e.block);
    this.options.store.db
      .prepare(
        `INSERT OR REPLACE INTO hub_indexer_cards (model_id, version, card_cid, card_hash, status, attempts, error, block)
         VALUES (?, ?, ?, ?, ?, 1, ?, ?)`,
      )
      .run(
        input.modelId,
        input.version,
        input.cardCid,
        input.cardHash.toLowerCase(),
        card.status,
        card.status === "valid" ? null : card.error,
        e.block,
      );
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
    const job = this.options.store.db.prepare("SELECT * FROM hub_indexer_jobs WHERE job_id = ?").get(jobId) as
      JobRow | undefined;
    if (job === undefined || !isMode(job.mode)) {
      this.options.logger?.warn({ jobId }, "JobSettled for a job requested before the indexed range; not counted");
      return;
    }
    if (
      this.options.store.db
        .prepare("SELECT 1 FROM versions WHERE model_id = ? AND version = ?")
        .get(job.model_id, job.version) === undefined
    ) {
      // Only possible if registry and escrow belong to different deployments; counting it would stall the indexer.
      this.options.logger?.warn(
        { jobId, modelId: job.model_id, version: job.version },
        "JobSettled for an unknown version; not counted",
      );
      return;
    }
    const terms = {
      modelFee: BigInt(job.model_fee),
      feePerNode: BigInt(job.fee_per_node),
      protocolFee: BigInt(job.protocol_fee),
      redundancy: job.redundancy,
    };
    const payment = settledPayment(terms, agreeing);
    const usage = { modelId: job.model_id, version: job.version, mode: job.mode, jobs: 1, block };
    if (countsAsUsage(payment.protocolFee, job.usage_fee_floor === null ? undefined : BigInt(job.usage_fee_floor))) {
      this.options.store.addVerifiedUsage({ ...usage, paid: payment.paid });
    } else {
      this.options.store.addBelowFloorUsage(usage);
      this.options.logger?.debug(
        { jobId, protocolFee: payment.protocolFee.toString(), floor: job.usage_fee_floor },
        "settled job below the usage floor; not counted",
      );
    }
  }

  /* USAGE FLOOR */

  /** The usage floor in force after the events applied so far, or `undefined` if it was never learnt. */
  private currentFloor(): bigint | undefined {
    if (this.floor === null) {
      const row = this.options.store.db
        .prepare("SELECT usage_fee_floor FROM hub_indexer_floor ORDER BY block DESC, log_index DESC LIMIT 1")
        .get() as { usage_fee_floor: string } | undefined;
      this.floor = row === undefined ? undefined : BigInt(row.usage_fee_floor);
    }
    return this.floor;
  }

  private recordFloor(block: number, index: number, floor: bigint): void {
    this.options.store.db
      .prepare("INSERT OR REPLACE INTO hub_indexer_floor (block, log_index, usage_fee_floor) VALUES (?, ?, ?)")
      .run(block, index, floor.toString());
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
    const call = {
      to: this.options.escrow,
      data: this.escrow.encodeFunctionData("parameters"),
      blockTag: Math.max(0, from - 1),
    };
    const result = await withRetry("eth_call JobEscrow.parameters", () => this.options.provider.call(call), this.retry);
    if (result === "0x") return undefined;
    return BigInt(
      (this.escrow.decodeFunctionResult("parameters", result)[0] as { usageFeeFloor: bigint }).usageFeeFloor,
    );
  }

  /* CARDS */

  /** Fetches and verifies a card; `pending` if the content store cannot provide it now. */
  private async fetchCard(cid: string, cardHash: string): Promise<CardResult> {
    let bytes: Uint8Array;
    try {
      const canonical = cidString(cid);
      bytes = await withRetry(`card ${canonical}`, (signal) => this.options.content.cat(canonical, { signal }), {
        attempts: 1,
        timeoutMs: this.options.cardTimeoutMs ?? 20_000,
      });
    } catch (error) {
      const transient =
        error instanceof NotFoundError ||
        error instanceof TransportError ||
        error instanceof TimeoutError ||
        !(error instanceof BaseError);
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
    const rows = db
      .prepare(
        "SELECT model_id, version, card_cid, card_hash, attempts FROM hub_indexer_cards WHERE status = 'pending'",
      )
      .all() as {
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
        if (result.status === "valid") this.options.store.setCard(row.model_id, row.version, result.card);
        db.prepare(
          "UPDATE hub_indexer_cards SET status = ?, attempts = attempts + 1, error = ? WHERE model_id = ? AND version = ?",
        ).run(status, result.status === "valid" ? null : result.error, row.model_id, row.version);
      });
    }
  }

  /* RPC */

  private async blockTimestamp(n: number): Promise<number> {
    const block = await withRetry(`eth_getBlockByNumber ${n}`, () => this.options.provider.getBlock(n), this.retry);
    if (block === null) throw new ChainMovedError(`block ${n} disappeared while the hub indexed it; reading it again`);
    return block.timestamp;
  }

  private get retry() {
    return { timeoutMs: this.rpcTimeoutMs, attempts: 2 };
  }
}

function versionKey(event: LogDescription): string {
  return `${String(event.args.modelId)}@${String(event.args.version)}`;
}

function message(error: unknown): string {
  return error instanceof BaseError ? error.shortMessage : error instanceof Error ? error.message : String(error);
}
