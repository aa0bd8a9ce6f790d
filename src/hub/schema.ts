/**
 * The hub's SQLite schema. Every table is written only through `HubStore`; `search.ts` reads them.
 * Block numbers on rows let `HubStore.rewindTo` undo a reorganised chain segment.
 */

/** Version of the schema below, kept in `PRAGMA user_version`. */
export const SCHEMA_VERSION = 5;

/**
 * Stores written by a schema older than this are dropped whole and re-indexed from the chain: before version 3
 * usage was counted without the usage floor and paid volume was not recorded, so it cannot be upgraded in place.
 */
export const REINDEX_BELOW_VERSION = 3;

/**
 * Columns of the full-text table, in order. `weight` and `b` are the BM25F field weight and length normalisation
 * (see `ranking.ts`); FTS5's own `bm25()` only picks candidates, with the same weights.
 */
export const FTS_COLUMNS = [
  { name: "name", weight: 6, b: 0.5 }, // the name, its compound parts (`MobileBERT` → mobile bert)
  { name: "tags", weight: 3, b: 0.5 },
  { name: "task", weight: 2, b: 0 },
  { name: "facets", weight: 2, b: 0 }, // language codes and names, task synonyms and acronyms
  { name: "lineage", weight: 1.5, b: 0.5 }, // library, datasets and base models
  { name: "body", weight: 1, b: 0.75 },
] as const;

/** DDL, idempotent. */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS models (
  model_id          INTEGER PRIMARY KEY,
  owner             TEXT    NOT NULL,
  price             TEXT    NOT NULL,             -- uint96 as a decimal string
  created_block     INTEGER NOT NULL,
  search_version_id INTEGER                      -- versions.id currently in search_fts, if any
);

-- Owner and price after every change, so a rewind can restore the state at an earlier block.
CREATE TABLE IF NOT EXISTS model_history (
  seq      INTEGER PRIMARY KEY,
  model_id INTEGER NOT NULL,
  block    INTEGER NOT NULL,
  owner    TEXT    NOT NULL,
  price    TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS model_history_by_block ON model_history(block);
CREATE INDEX IF NOT EXISTS model_history_by_model ON model_history(model_id, seq);

CREATE TABLE IF NOT EXISTS versions (
  id               INTEGER PRIMARY KEY,           -- rowid of the version's search_fts row
  model_id         INTEGER NOT NULL REFERENCES models(model_id),
  version          INTEGER NOT NULL,
  publisher        TEXT    NOT NULL,
  card_hash        TEXT    NOT NULL,
  card_cid         TEXT    NOT NULL,
  modes            INTEGER NOT NULL,              -- bitmask, 1 << mode
  deprecated       INTEGER NOT NULL DEFAULT 0,
  deprecated_block INTEGER,
  published_at     INTEGER NOT NULL,              -- block timestamp, seconds
  published_block  INTEGER NOT NULL,
  name             TEXT,                          -- card fields, NULL until the card is known (see cards)
  task             TEXT,
  license          TEXT,
  library          TEXT,
  summary          TEXT,
  usage_total      INTEGER NOT NULL DEFAULT 0,    -- sum of usage.jobs over modes: settled jobs counted as verified usage
  paid_total       TEXT    NOT NULL DEFAULT '0',  -- sum of usage.paid: tokens (wei, decimal) those jobs paid
  below_floor      INTEGER NOT NULL DEFAULT 0,    -- sum of usage.below_floor: settled jobs not counted
  searchable       INTEGER NOT NULL DEFAULT 0,    -- 1 for the version of its model that is in search_fts
  UNIQUE (model_id, version)
);
-- Browsing without a text query walks these in order and stops after one page.
CREATE INDEX IF NOT EXISTS versions_searchable_by_usage ON versions(usage_total DESC, published_at DESC) WHERE searchable = 1;
CREATE INDEX IF NOT EXISTS versions_searchable_by_recency ON versions(published_at DESC, model_id DESC) WHERE searchable = 1;

-- Parsed cards, apart from versions so that version rows stay small and many fit a page: search joins
-- every matching version row, and a wide row would make that join read far more pages.
CREATE TABLE IF NOT EXISTS cards (
  version_id INTEGER PRIMARY KEY REFERENCES versions(id),
  card_json  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS versions_by_block ON versions(published_block);
CREATE INDEX IF NOT EXISTS versions_by_deprecated_block ON versions(deprecated_block) WHERE deprecated_block IS NOT NULL;

CREATE TABLE IF NOT EXISTS files (
  version_id INTEGER NOT NULL REFERENCES versions(id),
  idx        INTEGER NOT NULL,
  path       TEXT    NOT NULL,
  cid        TEXT    NOT NULL,
  sha256     TEXT    NOT NULL,
  PRIMARY KEY (version_id, idx)
) WITHOUT ROWID;

-- Verified usage per (version, mode): settled jobs whose protocol fee reached the escrow's usage floor, what they
-- paid in all (model fee, paid node fees, protocol fee; wei as a decimal string: sums exceed 2^63, added with
-- BigInt), and settled jobs below the floor, which are shown but not counted.
CREATE TABLE IF NOT EXISTS usage (
  version_id  INTEGER NOT NULL REFERENCES versions(id),
  mode        INTEGER NOT NULL,
  jobs        INTEGER NOT NULL,
  paid        TEXT    NOT NULL DEFAULT '0',
  below_floor INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (version_id, mode)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS usage_log (
  seq         INTEGER PRIMARY KEY,
  block       INTEGER NOT NULL,
  version_id  INTEGER NOT NULL,
  mode        INTEGER NOT NULL,
  jobs        INTEGER NOT NULL,
  paid        TEXT    NOT NULL,
  below_floor INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_log_by_block ON usage_log(block);

-- One row per model, rowid = versions.id of its searchable version (highest, not deprecated, card known).
-- Text is pre-normalised by text.ts, so unicode61 only splits on spaces. FTS5 only picks candidates (BM25F in
-- ranking.ts orders them), by its bm25(). No row sizes
-- (columnsize = 0): bm25() then weighs how often each field holds a term but not how long the row is (a whole-row
-- length would sink a name match on a long card), and skips a size lookup per row, most of its cost on common words.
-- Contentless: a row is deleted with the 'delete' command and the text it was indexed with, kept in search_docs.
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
  ${FTS_COLUMNS.map((c) => c.name).join(", ")},
  tokenize = 'unicode61 remove_diacritics 0',
  prefix = '2 3',                                 -- prefix indexes: the last query word is matched as a prefix
  detail = full,
  columnsize = 0,
  content = ''
);
CREATE VIRTUAL TABLE IF NOT EXISTS search_vocab USING fts5vocab(search_fts, row);

-- What filters and sorts read of each search_fts row, copied from its versions row (usage_total kept in step). Narrow,
-- so that joining the thousands of rows a common word matches stays cheap: joining them to the wide versions rows
-- cost about 3 µs a row.
CREATE TABLE IF NOT EXISTS search_rows (
  id           INTEGER PRIMARY KEY,               -- versions.id, the search_fts rowid
  model_id     INTEGER NOT NULL,
  task         TEXT,
  library      TEXT,
  modes        INTEGER NOT NULL,
  usage_total  INTEGER NOT NULL,
  published_at INTEGER NOT NULL
);

-- Every license of each search_fts row's card, in card order (a card may list several; the filter matches any).
CREATE TABLE IF NOT EXISTS search_licenses (
  license    TEXT    NOT NULL,
  version_id INTEGER NOT NULL,                    -- search_fts rowid
  idx        INTEGER NOT NULL,
  PRIMARY KEY (license, version_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS search_licenses_by_version ON search_licenses(version_id, idx);

-- The text of each search_fts row as it was indexed (normalised tokens joined by spaces, one column per field), written
-- with the row: BM25F scores it without re-reading the card, and deleting the row from search_fts needs it. With
-- each field's token count, for BM25F's average field lengths.
CREATE TABLE IF NOT EXISTS search_docs (
  rowid   INTEGER PRIMARY KEY,
  ${FTS_COLUMNS.map((c) => `${c.name} TEXT NOT NULL`).join(",\n  ")},
  ${FTS_COLUMNS.map((c) => `len_${c.name} INTEGER NOT NULL`).join(",\n  ")}
);
`;

/**
 * Tables an upgrade from an older schema (at or above {@link REINDEX_BELOW_VERSION}) drops; those still in
 * {@link SCHEMA_SQL} are recreated and their rows rebuilt from the stored cards.
 */
export const SEARCH_TABLES = [
  "search_vocab",
  "search_fts",
  "search_lengths",
  "search_licenses",
  "search_docs",
  "search_rows",
] as const;
