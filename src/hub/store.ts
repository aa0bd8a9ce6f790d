import Database from "better-sqlite3";
import type { Logger } from "pino";
import type { ModelCard } from "./card";
import { summarize, toSearchDocument } from "./document";
import { StoreInvalidInputError, StoreUnknownModelError, StoreUnknownVersionError } from "./errors";
import { type CursorStore, SqliteCursorStore } from "../core/follower";
import { isMode, type Mode, modesOf } from "../core/modes";
import { FTS_COLUMNS, REINDEX_BELOW_VERSION, SCHEMA_SQL, SCHEMA_VERSION, SEARCH_TABLES } from "./schema";

/** `ModelCreated`, as the indexer passes it. */
export interface ModelInput {
  /** Model ids are numbers in the hub (SQLite and JSON), made by `modelIdNumber` (ids.ts). */
  modelId: number;
  owner: string;
  price: bigint;
  block: number;
}

/** A file of a version. `cid` is the CID's string form (see `cid.ts`), `sha256` 0x-prefixed hex. */
export interface FileInput {
  path: string;
  cid: string;
  sha256: string;
}

/** `VersionPublished`, plus the parsed card if the indexer already fetched it. */
export interface VersionInput {
  modelId: number;
  version: number;
  publisher: string;
  cardHash: string;
  cardCid: string;
  files: readonly FileInput[];
  /** Bitmask of supported modes (`1 << mode`). */
  modes: number;
  /** Block timestamp, in seconds. */
  publishedAt: number;
  block: number;
  card?: ModelCard;
}

/** Settled jobs to add to a (version, mode), from `JobSettled` events of `block`. */
export interface UsageInput {
  modelId: number;
  version: number;
  mode: Mode;
  jobs: number;
  block: number;
}

/** Settled jobs counted as verified usage, with what they paid in all (wei: model fee, paid node fees, protocol fee). */
export interface PaidUsageInput extends UsageInput {
  paid: bigint;
}

/** Usage of one mode. */
export interface ModeUsage {
  mode: Mode;
  /** Settled jobs counted as verified usage (their protocol fee reached the escrow's usage floor). */
  jobs: number;
  /** What those jobs paid in all, in token wei (a decimal string: sums exceed 2^53). */
  paid: string;
  /** Settled jobs below the usage floor: shown, never counted. */
  belowFloor: number;
}

/** Usage of a version or a model over all modes. */
export interface UsageTotals {
  /** Settled jobs counted as verified usage. */
  verifiedJobs: number;
  /** What they paid in all, in token wei (decimal string). */
  paidVolume: string;
  /** Settled jobs below the usage floor, not counted. */
  belowFloorJobs: number;
}

/** A stored version with its files and usage. */
export interface VersionDetails extends UsageTotals {
  version: number;
  publisher: string;
  cardHash: string;
  cardCid: string;
  modes: Mode[];
  deprecated: boolean;
  publishedAt: number;
  publishedBlock: number;
  card: ModelCard | null;
  files: FileInput[];
  usage: ModeUsage[];
}

/** A stored model with all its versions, newest first, and its usage summed over them. */
export interface ModelDetails extends UsageTotals {
  modelId: number;
  owner: string;
  price: string;
  createdBlock: number;
  /** The version search returns for this model, if any. */
  searchVersion: number | null;
  versions: VersionDetails[];
}

/** Options of {@link HubStore.open}. */
export interface OpenHubStoreOptions {
  logger?: Logger;
}

interface VersionRow {
  id: number;
  model_id: number;
  version: number;
  publisher: string;
  card_hash: string;
  card_cid: string;
  modes: number;
  deprecated: number;
  published_at: number;
  published_block: number;
  usage_total: number;
  paid_total: string;
  below_floor: number;
}

/** A row of the `usage` table. */
export interface UsageRow {
  mode: Mode;
  jobs: number;
  paid: string;
  below_floor: number;
}

interface ModelRow {
  model_id: number;
  owner: string;
  price: string;
  created_block: number;
  search_version_id: number | null;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const HASH = /^0x[0-9a-fA-F]{64}$/;
const UINT96_MAX = (1n << 96n) - 1n;

/**
 * The hub's SQLite store: models, versions, files, verified usage, the chain follower's cursor and the full-text
 * index. Every write method is atomic; wrap several in {@link HubStore.batch} to make them atomic together (the
 * indexer writes a block range and its cursor in one batch).
 */
export class HubStore {
  /** The connection; read-only use by sibling modules (`search.ts`). */
  readonly db: Database.Database;
  private readonly logger: Logger | undefined;
  private writes = 0;
  private readonly stmt: ReturnType<typeof prepareStatements>;
  /** One wrapper for all batches: creating a better-sqlite3 transaction function per call is costly. */
  private readonly transaction: (fn: () => unknown) => unknown;
  /** Models whose search document must be refreshed before the current batch commits. */
  private readonly dirty = new Set<number>();

  private constructor(db: Database.Database, logger: Logger | undefined) {
    this.db = db;
    this.logger = logger;
    this.stmt = prepareStatements(db);
    this.transaction = db.transaction((fn: () => unknown) => {
      const result = fn();
      this.flushSearchDocuments();
      return result;
    });
  }

  /**
   * Opens (creating if needed) a store at `path`; `":memory:"` gives a private in-memory store.
   * @example const store = HubStore.open("hub.sqlite");
   */
  static open(path: string, options: OpenHubStoreOptions = {}): HubStore {
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("cache_size = -65536"); // 64 MiB: search joins many version rows per query
    db.pragma("temp_store = MEMORY");
    db.pragma("mmap_size = 268435456"); // read the index through the page cache without copying
    const version = db.pragma("user_version", { simple: true }) as number;
    const reindex = version > 0 && version < REINDEX_BELOW_VERSION;
    const rebuildSearch = !reindex && version > 0 && version < SCHEMA_VERSION;
    if (reindex) {
      dropAllTables(db);
      options.logger?.warn(
        { from: version, to: SCHEMA_VERSION },
        "hub store written by an older schema: dropped, the indexer re-indexes the chain",
      );
    }
    if (rebuildSearch) for (const table of SEARCH_TABLES) db.exec(`DROP TABLE IF EXISTS ${table}`);
    db.pragma("foreign_keys = ON");
    db.exec(SCHEMA_SQL);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    const store = new HubStore(db, options.logger);
    if (rebuildSearch) store.rebuildSearchIndex();
    store.moveLegacyCursors();
    return store;
  }

  /** Closes the connection. */
  close(): void {
    this.db.close();
  }

  /**
   * Runs `fn` in one transaction: if it throws, nothing it wrote is kept. A batch inside a batch joins the
   * outer one (no savepoint), so a write that throws inside a batch must end the whole batch.
   * @example store.batch(() => { store.upsertVersion(v); cursor.setCursor(block); });
   */
  batch<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    try {
      return this.transaction(fn) as T;
    } finally {
      this.dirty.clear();
    }
  }

  /**
   * A value that changes whenever the searchable text may have changed, in this or another connection.
   * Search uses it to know when to reload its vocabulary.
   */
  changeStamp(): string {
    return `${this.writes}:${String(this.db.pragma("data_version", { simple: true }))}`;
  }

  /** Records `ModelCreated` (idempotent: replaying it overwrites owner and price). */
  upsertModel(input: ModelInput): void {
    const owner = checkAddress("owner", input.owner);
    const price = checkPrice(input.price);
    this.batch(() => {
      this.stmt.upsertModel.run(input.modelId, owner, price, input.block);
      this.stmt.insertHistory.run(input.modelId, input.block, owner, price);
    });
  }

  /** Records `OwnershipTransferred`. */
  setOwner(modelId: number, owner: string, block: number): void {
    const checked = checkAddress("owner", owner);
    this.batch(() => {
      const model = this.requireModel(modelId);
      this.stmt.setModel.run(checked, model.price, modelId);
      this.stmt.insertHistory.run(modelId, block, checked, model.price);
    });
  }

  /** Records `PriceUpdated`. */
  setPrice(modelId: number, price: bigint, block: number): void {
    const checked = checkPrice(price);
    this.batch(() => {
      const model = this.requireModel(modelId);
      this.stmt.setModel.run(model.owner, checked, modelId);
      this.stmt.insertHistory.run(modelId, block, model.owner, checked);
    });
  }

  /** Records `VersionPublished` (idempotent). The model must exist. */
  upsertVersion(input: VersionInput): void {
    checkVersionInput(input);
    this.batch(() => {
      this.requireModel(input.modelId);
      const card = input.card ?? null;
      const { id } = this.stmt.upsertVersion.get(versionParams(input, card)) as { id: number };
      if (card !== null) this.stmt.upsertCard.run(id, JSON.stringify(card));
      this.stmt.deleteFiles.run(id);
      input.files.forEach((f, i) => this.stmt.insertFile.run(id, i, f.path, f.cid, f.sha256.toLowerCase()));
      this.dirty.add(input.modelId);
    });
  }

  /**
   * Records many versions in one transaction: either all are stored or, if one is invalid, none.
   * @example store.upsertVersions(events.map(toVersionInput));
   */
  upsertVersions(inputs: readonly VersionInput[]): void {
    this.batch(() => inputs.forEach((input) => this.upsertVersion(input)));
  }

  /** Attaches a card fetched after its version was recorded. Verify it against `cardHash` first. */
  setCard(modelId: number, version: number, card: ModelCard): void {
    this.batch(() => {
      const { id } = this.requireVersion(modelId, version);
      this.stmt.setCard.run({ ...cardParams(card), model_id: modelId, version });
      this.stmt.upsertCard.run(id, JSON.stringify(card));
      this.dirty.add(modelId);
    });
  }

  /** Records `VersionDeprecated`. */
  markDeprecated(modelId: number, version: number, block: number): void {
    this.batch(() => {
      this.requireVersion(modelId, version);
      this.stmt.deprecate.run(block, modelId, version);
      this.dirty.add(modelId);
    });
  }

  /**
   * Adds settled jobs (from `JobSettled`) whose protocol fee reached the usage floor to a version's verified usage
   * in `mode`, with what they paid in all.
   * @example store.addVerifiedUsage({ modelId: 1, version: 1, mode: Mode.Zk, jobs: 1, paid: 3_150_000_000_000_000_000n, block });
   */
  addVerifiedUsage(input: PaidUsageInput): void {
    checkUsage(input);
    if (input.paid < 0n) throw new StoreInvalidInputError("paid", "must not be negative");
    this.recordUsage(input, { jobs: input.jobs, paid: input.paid, belowFloor: 0 });
  }

  /**
   * Records settled jobs whose protocol fee was below the usage floor: shown beside the usage, never counted in it
   * (with no fee a requester who owns the model and runs the node could inflate usage for gas alone).
   */
  addBelowFloorUsage(input: UsageInput): void {
    checkUsage(input);
    this.recordUsage(input, { jobs: 0, paid: 0n, belowFloor: input.jobs });
  }

  /**
   * The cursor of chain follower `name` in this database (core's follower tables), its writes joining {@link batch}
   * so that a range, its cursor and the search documents it changed commit together.
   * @example new LogFollower(provider, store.cursor("chain"), log, options)
   */
  cursor(name: string): CursorStore {
    return new HubCursorStore(this, name);
  }

  /**
   * Undoes everything recorded from blocks after `block` (a chain reorganisation): versions, deprecations,
   * usage, owners and prices. Cards attached to surviving versions are kept.
   */
  rewindTo(block: number): void {
    this.batch(() => {
      const touched = new Set<number>();
      this.rewindUsage(block);
      for (const r of this.stmt.deprecatedAfter.all(block) as { model_id: number }[]) touched.add(r.model_id);
      this.stmt.undeprecateAfter.run(block);
      for (const r of this.stmt.versionsAfter.all(block) as { id: number; model_id: number }[]) {
        this.removeVersion(r.id);
        touched.add(r.model_id);
      }
      for (const id of this.rewindModels(block)) touched.add(id);
      for (const id of touched) this.dirty.add(id);
      this.logger?.info({ block, models: touched.size }, "hub store rewound");
    });
  }

  /**
   * A model with its versions, files and usage, or `undefined`.
   * @example store.getModel(1)?.versions[0]?.files
   */
  getModel(modelId: number): ModelDetails | undefined {
    const model = this.stmt.getModel.get(modelId) as ModelRow | undefined;
    if (model === undefined) return undefined;
    const rows = this.stmt.versionsOfModel.all(modelId) as VersionRow[];
    const searchRow = rows.find((r) => r.id === model.search_version_id);
    return {
      modelId,
      owner: model.owner,
      price: model.price,
      createdBlock: model.created_block,
      searchVersion: searchRow?.version ?? null,
      verifiedJobs: rows.reduce((sum, r) => sum + r.usage_total, 0),
      paidVolume: rows.reduce((sum, r) => sum + BigInt(r.paid_total), 0n).toString(),
      belowFloorJobs: rows.reduce((sum, r) => sum + r.below_floor, 0),
      versions: rows.map((r) => this.versionDetails(r)),
    };
  }

  /** Rebuilds the full-text index from the stored cards (after a schema upgrade changed its columns). */
  rebuildSearchIndex(): void {
    this.batch(() => {
      this.db
        .exec(`INSERT INTO search_fts(search_fts) VALUES('delete-all'); DELETE FROM search_docs; DELETE FROM search_rows; DELETE FROM search_licenses;
        UPDATE models SET search_version_id = NULL; UPDATE versions SET searchable = 0`);
      for (const r of this.db.prepare("SELECT model_id FROM models").all() as { model_id: number }[])
        this.dirty.add(r.model_id);
    });
    this.logger?.info({ models: this.stats().models }, "hub search index rebuilt");
  }

  /** Merges the full-text index's segments; worth calling after a bulk load. */
  optimize(): void {
    this.db.exec("INSERT INTO search_fts(search_fts) VALUES('optimize'); PRAGMA optimize;");
  }

  /** Counts rows, for logs and tests. */
  stats(): { models: number; versions: number; searchable: number } {
    return this.stmt.stats.get() as { models: number; versions: number; searchable: number };
  }

  /**
   * Moves the cursors of a store written before the hub followed the chain with core's follower (the `cursor` table
   * and the indexer's checkpoints of block hashes) into the follower's tables, so the indexer resumes where it stopped.
   */
  private moveLegacyCursors(): void {
    if (!hasTable(this.db, "cursor")) return;
    const checkpoints = hasTable(this.db, "hub_indexer_checkpoints")
      ? (this.db.prepare("SELECT name, block AS number, hash FROM hub_indexer_checkpoints").all() as {
          name: string;
          number: number;
          hash: string;
        }[])
      : [];
    this.batch(() => {
      for (const row of this.db.prepare("SELECT name, block, block_hash FROM cursor").all() as {
        name: string;
        block: number;
        block_hash: string;
      }[]) {
        const cursor = this.cursor(row.name);
        const blocks = checkpoints
          .filter((c) => c.name === row.name && c.number < row.block)
          .map(({ number, hash }) => ({ number, hash }));
        cursor.recordBlocks([...blocks, { number: row.block, hash: row.block_hash }], 0);
        cursor.setCursor(row.block);
      }
      this.db.exec("DROP TABLE cursor; DROP TABLE IF EXISTS hub_indexer_checkpoints");
    });
    this.logger?.info("hub store: indexer cursor moved to the chain follower's tables");
  }

  private versionDetails(r: VersionRow): VersionDetails {
    return {
      version: r.version,
      publisher: r.publisher,
      cardHash: r.card_hash,
      cardCid: r.card_cid,
      modes: modesOf(r.modes),
      deprecated: r.deprecated === 1,
      publishedAt: r.published_at,
      publishedBlock: r.published_block,
      card: this.cardOf(r.id),
      files: this.stmt.filesOf.all(r.id) as FileInput[],
      usage: (this.stmt.usageOf.all(r.id) as UsageRow[]).map(modeUsage),
      verifiedJobs: r.usage_total,
      paidVolume: r.paid_total,
      belowFloorJobs: r.below_floor,
    };
  }

  private cardOf(versionId: number): ModelCard | null {
    const row = this.stmt.cardOf.get(versionId) as { card_json: string } | undefined;
    return row === undefined ? null : (JSON.parse(row.card_json) as ModelCard);
  }

  private requireModel(modelId: number): ModelRow {
    const row = this.stmt.getModel.get(modelId) as ModelRow | undefined;
    if (row === undefined) throw new StoreUnknownModelError(modelId);
    return row;
  }

  private requireVersion(modelId: number, version: number): { id: number } {
    const row = this.stmt.versionId.get(modelId, version) as { id: number } | undefined;
    if (row === undefined) throw new StoreUnknownVersionError(modelId, version);
    return row;
  }

  private recordUsage(input: UsageInput, delta: UsageDelta): void {
    this.batch(() => {
      const row = this.requireVersion(input.modelId, input.version);
      this.applyUsage(row.id, input.mode, delta);
      this.stmt.insertUsageLog.run(
        input.block,
        row.id,
        input.mode,
        delta.jobs,
        delta.paid.toString(),
        delta.belowFloor,
      );
    });
  }

  /** Adds `delta` (negative on a rewind) to the (version, mode) row and the version's totals; amounts with BigInt. */
  private applyUsage(versionId: number, mode: number, delta: UsageDelta): void {
    const current = this.stmt.usageRow.get(versionId, mode) as UsageRow | undefined;
    const paid = (BigInt(current?.paid ?? "0") + delta.paid).toString();
    this.stmt.setUsage.run(
      versionId,
      mode,
      (current?.jobs ?? 0) + delta.jobs,
      paid,
      (current?.below_floor ?? 0) + delta.belowFloor,
    );
    const totals = this.stmt.usageTotals.get(versionId) as { paid_total: string };
    this.stmt.addUsageTotals.run(
      delta.jobs,
      (BigInt(totals.paid_total) + delta.paid).toString(),
      delta.belowFloor,
      versionId,
    );
    if (delta.jobs !== 0) this.stmt.addSearchRowUsage.run(delta.jobs, versionId);
  }

  private rewindUsage(block: number): void {
    const rows = this.stmt.usageLogAfter.all(block) as {
      version_id: number;
      mode: number;
      jobs: number;
      paid: string;
      below_floor: number;
    }[];
    for (const r of rows)
      this.applyUsage(r.version_id, r.mode, { jobs: -r.jobs, paid: -BigInt(r.paid), belowFloor: -r.below_floor });
    this.stmt.deleteUsageLogAfter.run(block);
  }

  /** Restores owner and price as of `block`; deletes models created after it. Returns the models touched. */
  private rewindModels(block: number): number[] {
    const touched = (this.stmt.historyAfter.all(block) as { model_id: number }[]).map((r) => r.model_id);
    this.stmt.deleteHistoryAfter.run(block);
    for (const id of touched) {
      const last = this.stmt.lastHistory.get(id) as { owner: string; price: string } | undefined;
      if (last === undefined) this.stmt.deleteModel.run(id);
      else this.stmt.setModel.run(last.owner, last.price, id);
    }
    return touched;
  }

  private removeVersion(versionId: number): void {
    this.removeSearchRow(versionId);
    this.stmt.deleteLicenses.run(versionId);
    this.stmt.deleteFiles.run(versionId);
    this.stmt.deleteUsage.run(versionId);
    this.stmt.deleteUsageLogOf.run(versionId);
    this.stmt.deleteCard.run(versionId);
    this.stmt.clearSearchVersion.run(versionId);
    this.stmt.deleteVersion.run(versionId);
  }

  /**
   * Refreshes the search documents of the models written in this batch, last: SQLite makes FTS5 flush its
   * pending terms whenever another statement opens a statement journal, so interleaving FTS writes with
   * the other writes would create one index segment per document and slow indexing several-fold.
   */
  private flushSearchDocuments(): void {
    for (const id of this.dirty) this.refreshSearchDocument(id);
    this.dirty.clear();
  }

  /** Deletes a row from the full-text index with the text it was indexed with (a contentless table needs it). */
  private removeSearchRow(versionId: number): void {
    const fields = this.stmt.docOf.get(versionId) as string[] | undefined;
    if (fields === undefined) return;
    this.stmt.deleteFts.run(versionId, ...fields);
    this.stmt.deleteDoc.run(versionId);
    this.stmt.deleteSearchRow.run(versionId);
  }

  /** Puts the model's searchable version (highest, not deprecated, with a card) in the full-text index. */
  private refreshSearchDocument(modelId: number): void {
    const model = this.stmt.getModel.get(modelId) as ModelRow | undefined;
    if (model === undefined) return;
    const next = this.stmt.searchCandidate.get(modelId) as { id: number; card_json: string } | undefined;
    if (model.search_version_id !== null) {
      this.removeSearchRow(model.search_version_id);
      this.stmt.deleteLicenses.run(model.search_version_id);
      this.stmt.setSearchable.run(0, model.search_version_id);
    }
    if (next !== undefined) {
      const card = JSON.parse(next.card_json) as ModelCard;
      const fields = toSearchDocument(card);
      this.stmt.insertFts.run(next.id, ...fields);
      this.stmt.insertDoc.run(next.id, ...fields, ...fields.map(tokenCount));
      this.stmt.insertSearchRow.run(next.id);
      // Cards stored before `licenses` existed have only `license`.
      (card.licenses ?? [card.license]).forEach((license, i) => this.stmt.insertLicense.run(license, next.id, i));
      this.stmt.setSearchable.run(1, next.id);
    }
    this.stmt.setSearchVersion.run(next?.id ?? null, modelId);
    this.writes++;
  }
}

/** Core's SQLite cursor store in the hub's database, its transactions the store's batches (which refresh search documents as they commit). */
class HubCursorStore extends SqliteCursorStore {
  constructor(
    private readonly store: HubStore,
    name: string,
  ) {
    super(store.db, name);
  }

  override atomically<T>(fn: () => T): T {
    return this.store.batch(fn);
  }
}

function hasTable(db: Database.Database, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

function prepareStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  const ftsCols = FTS_COLUMNS.map((c) => c.name).join(", ");
  return {
    upsertModel: p(`INSERT INTO models (model_id, owner, price, created_block) VALUES (?, ?, ?, ?)
      ON CONFLICT (model_id) DO UPDATE SET owner = excluded.owner, price = excluded.price`),
    setModel: p("UPDATE models SET owner = ?, price = ? WHERE model_id = ?"),
    getModel: p("SELECT * FROM models WHERE model_id = ?"),
    deleteModel: p("DELETE FROM models WHERE model_id = ?"),
    insertHistory: p("INSERT INTO model_history (model_id, block, owner, price) VALUES (?, ?, ?, ?)"),
    historyAfter: p("SELECT DISTINCT model_id FROM model_history WHERE block > ?"),
    deleteHistoryAfter: p("DELETE FROM model_history WHERE block > ?"),
    lastHistory: p("SELECT owner, price FROM model_history WHERE model_id = ? ORDER BY seq DESC LIMIT 1"),
    upsertVersion: p(`INSERT INTO versions (model_id, version, publisher, card_hash, card_cid, modes, published_at,
        published_block, name, task, license, library, summary)
      VALUES (@model_id, @version, @publisher, @card_hash, @card_cid, @modes, @published_at, @published_block,
        @name, @task, @license, @library, @summary)
      ON CONFLICT (model_id, version) DO UPDATE SET publisher = excluded.publisher, card_hash = excluded.card_hash,
        card_cid = excluded.card_cid, modes = excluded.modes, published_at = excluded.published_at,
        published_block = excluded.published_block, name = coalesce(excluded.name, name),
        task = coalesce(excluded.task, task), license = coalesce(excluded.license, license),
        library = CASE WHEN excluded.name IS NULL THEN library ELSE excluded.library END,
        summary = coalesce(excluded.summary, summary)
      RETURNING id`),
    upsertCard: p(
      "INSERT INTO cards (version_id, card_json) VALUES (?, ?) ON CONFLICT (version_id) DO UPDATE SET card_json = excluded.card_json",
    ),
    cardOf: p("SELECT card_json FROM cards WHERE version_id = ?"),
    deleteCard: p("DELETE FROM cards WHERE version_id = ?"),
    setCard: p(`UPDATE versions SET name = @name, task = @task, license = @license, library = @library,
      summary = @summary WHERE model_id = @model_id AND version = @version`),
    versionId: p("SELECT id FROM versions WHERE model_id = ? AND version = ?"),
    versionsOfModel: p("SELECT * FROM versions WHERE model_id = ? ORDER BY version DESC"),
    versionsAfter: p("SELECT id, model_id FROM versions WHERE published_block > ?"),
    deleteVersion: p("DELETE FROM versions WHERE id = ?"),
    deprecate: p(
      "UPDATE versions SET deprecated = 1, deprecated_block = ? WHERE model_id = ? AND version = ? AND deprecated = 0",
    ),
    deprecatedAfter: p("SELECT DISTINCT model_id FROM versions WHERE deprecated_block > ?"),
    undeprecateAfter: p("UPDATE versions SET deprecated = 0, deprecated_block = NULL WHERE deprecated_block > ?"),
    insertFile: p("INSERT INTO files (version_id, idx, path, cid, sha256) VALUES (?, ?, ?, ?, ?)"),
    deleteFiles: p("DELETE FROM files WHERE version_id = ?"),
    filesOf: p("SELECT path, cid, sha256 FROM files WHERE version_id = ? ORDER BY idx"),
    usageRow: p("SELECT mode, jobs, paid, below_floor FROM usage WHERE version_id = ? AND mode = ?"),
    setUsage: p(`INSERT INTO usage (version_id, mode, jobs, paid, below_floor) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (version_id, mode) DO UPDATE SET jobs = excluded.jobs, paid = excluded.paid, below_floor = excluded.below_floor`),
    usageTotals: p("SELECT paid_total FROM versions WHERE id = ?"),
    addUsageTotals: p(
      "UPDATE versions SET usage_total = usage_total + ?, paid_total = ?, below_floor = below_floor + ? WHERE id = ?",
    ),
    usageOf: p(
      `SELECT mode, jobs, paid, below_floor FROM usage WHERE version_id = ? AND (jobs > 0 OR below_floor > 0) ORDER BY mode`,
    ),
    deleteUsage: p("DELETE FROM usage WHERE version_id = ?"),
    insertUsageLog: p(
      "INSERT INTO usage_log (block, version_id, mode, jobs, paid, below_floor) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    usageLogAfter: p(
      "SELECT version_id, mode, jobs, paid, below_floor FROM usage_log WHERE block > ? ORDER BY seq DESC",
    ),
    deleteUsageLogAfter: p("DELETE FROM usage_log WHERE block > ?"),
    deleteUsageLogOf: p("DELETE FROM usage_log WHERE version_id = ?"),
    searchCandidate: p(`SELECT v.id, c.card_json FROM versions v JOIN cards c ON c.version_id = v.id
      WHERE v.model_id = ? AND v.deprecated = 0 ORDER BY v.version DESC LIMIT 1`),
    setSearchVersion: p("UPDATE models SET search_version_id = ? WHERE model_id = ?"),
    clearSearchVersion: p("UPDATE models SET search_version_id = NULL WHERE search_version_id = ?"),
    setSearchable: p("UPDATE versions SET searchable = ? WHERE id = ?"),
    insertFts: p(`INSERT INTO search_fts (rowid, ${ftsCols}) VALUES (?${", ?".repeat(FTS_COLUMNS.length)})`),
    deleteFts: p(
      `INSERT INTO search_fts (search_fts, rowid, ${ftsCols}) VALUES ('delete', ?${", ?".repeat(FTS_COLUMNS.length)})`,
    ),
    insertDoc: p(`INSERT INTO search_docs (rowid, ${ftsCols}, ${FTS_COLUMNS.map((c) => `len_${c.name}`).join(", ")})
      VALUES (?${", ?".repeat(2 * FTS_COLUMNS.length)})`),
    docOf: p(`SELECT ${ftsCols} FROM search_docs WHERE rowid = ?`).raw(),
    deleteDoc: p("DELETE FROM search_docs WHERE rowid = ?"),
    insertSearchRow: p(`INSERT INTO search_rows (id, model_id, task, library, modes, usage_total, published_at)
      SELECT id, model_id, task, library, modes, usage_total, published_at FROM versions WHERE id = ?`),
    deleteSearchRow: p("DELETE FROM search_rows WHERE id = ?"),
    addSearchRowUsage: p("UPDATE search_rows SET usage_total = usage_total + ? WHERE id = ?"),
    insertLicense: p("INSERT OR IGNORE INTO search_licenses (license, version_id, idx) VALUES (?, ?, ?)"),
    deleteLicenses: p("DELETE FROM search_licenses WHERE version_id = ?"),
    stats: p(`SELECT (SELECT count(*) FROM models) AS models, (SELECT count(*) FROM versions) AS versions,
      (SELECT count(*) FROM versions WHERE searchable = 1) AS searchable`),
  };
}

interface UsageDelta {
  jobs: number;
  paid: bigint;
  belowFloor: number;
}

/** A usage row as the API shows it. */
export function modeUsage(r: UsageRow): ModeUsage {
  return { mode: r.mode, jobs: r.jobs, paid: r.paid, belowFloor: r.below_floor };
}

function checkUsage(input: UsageInput): void {
  if (!Number.isSafeInteger(input.jobs) || input.jobs <= 0)
    throw new StoreInvalidInputError("jobs", "must be a positive integer");
  if (!isMode(input.mode)) throw new StoreInvalidInputError("mode", "must be a known mode");
}

/** Drops every table (an index of an older schema, rebuilt from the chain); the indexer's own tables included. */
function dropAllTables(db: Database.Database): void {
  db.pragma("foreign_keys = OFF");
  for (const table of SEARCH_TABLES) db.exec(`DROP TABLE IF EXISTS ${table}`);
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    .all() as { name: string }[];
  for (const { name } of tables) db.exec(`DROP TABLE IF EXISTS "${name.replace(/"/g, '""')}"`);
}

function tokenCount(text: string): number {
  return text === "" ? 0 : text.split(" ").length;
}

function versionParams(input: VersionInput, card: ModelCard | null): Record<string, string | number | null> {
  return {
    model_id: input.modelId,
    version: input.version,
    publisher: input.publisher.toLowerCase(),
    card_hash: input.cardHash.toLowerCase(),
    card_cid: input.cardCid,
    modes: input.modes,
    published_at: input.publishedAt,
    published_block: input.block,
    ...(card === null ? nullCardParams() : cardParams(card)),
  };
}

function cardParams(card: ModelCard): Record<string, string | null> {
  return {
    name: card.name,
    task: card.task,
    license: card.license,
    library: card.library ?? null,
    summary: summarize(card.body),
  };
}

function nullCardParams(): Record<string, null> {
  return { name: null, task: null, license: null, library: null, summary: null };
}

function checkVersionInput(input: VersionInput): void {
  if (!Number.isSafeInteger(input.version) || input.version < 1)
    throw new StoreInvalidInputError("version", "must be a positive integer");
  checkAddress("publisher", input.publisher);
  if (!HASH.test(input.cardHash))
    throw new StoreInvalidInputError("cardHash", "must be a 0x-prefixed 32-byte hex string");
  if (input.cardCid === "") throw new StoreInvalidInputError("cardCid", "must not be empty");
  if (!Number.isInteger(input.modes) || input.modes <= 0 || input.modes > 0xffffffff)
    throw new StoreInvalidInputError("modes", "must be a non-empty uint32 bitmask");
  input.files.forEach((f, i) => {
    if (f.path === "" || f.cid === "")
      throw new StoreInvalidInputError(`files[${i}]`, "path and cid must not be empty");
    if (!HASH.test(f.sha256))
      throw new StoreInvalidInputError(`files[${i}].sha256`, "must be a 0x-prefixed 32-byte hex string");
  });
}

function checkAddress(field: string, value: string): string {
  if (!ADDRESS.test(value)) throw new StoreInvalidInputError(field, "must be a 0x-prefixed 20-byte hex address");
  return value.toLowerCase();
}

function checkPrice(price: bigint): string {
  if (price < 0n || price > UINT96_MAX) throw new StoreInvalidInputError("price", "must fit a uint96");
  return price.toString();
}
