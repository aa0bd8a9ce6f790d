import type Database from "better-sqlite3";
import { HubParamError } from "./errors";
import { isMode, MODES, type Mode, modesOf } from "../core/modes";
import { languageCode } from "./lexicon";
import { documentShare, type ExpandedTerm, expandTerms, parseQuery, toMatchExpression } from "./query";
import { bm25f, type DocumentFields, type FieldStats, loadFieldStats, type RankedTerm } from "./ranking";
import { FTS_COLUMNS } from "./schema";
import { type FileInput, type HubStore, type ModeUsage, modeUsage, type UsageRow } from "./store";
import { Vocabulary } from "./vocabulary";

/** Filters of a search; all optional, combined with AND. */
export interface SearchFilters {
  task?: string;
  license?: string;
  library?: string;
  /** Only cards in this language: an ISO 639-1 code or an English name (`fi`, `Finnish`), from `language` or a pair in the name. */
  language?: string;
  /** Only versions supporting this verification mode. */
  mode?: Mode;
  /** Only versions with at least this many verified jobs (in `mode`, if given; else in all modes). */
  minUsage?: number;
}

/**
 * Order of hits. `relevance` is BM25 (browsing without a query falls back to `usage`); `usage` is the
 * version's verified jobs over all modes, then recency; `recency` the publication time.
 */
export type SearchSort = "relevance" | "usage" | "recency";

/** Which page of hits, 1-based. */
export interface PageRequest {
  page?: number;
  pageSize?: number;
}

/** One hit: a model's searchable version with its provenance. */
export interface SearchHit {
  modelId: number;
  version: number;
  name: string;
  task: string;
  /** The card's first license. */
  license: string;
  /** Every license the card lists (`license` first). */
  licenses: string[];
  library: string | null;
  summary: string;
  owner: string;
  publisher: string;
  price: string;
  cardHash: string;
  cardCid: string;
  files: FileInput[];
  modes: Mode[];
  /** Settled jobs on this version counted as verified usage (protocol fee at or above the usage floor), over all modes. */
  verifiedJobs: number;
  /** What those jobs paid in all, in token wei (decimal string). */
  paidVolume: string;
  /** Settled jobs below the usage floor, not counted. */
  belowFloorJobs: number;
  usage: ModeUsage[];
  publishedAt: number;
  publishedBlock: number;
  /** BM25F score, negated so that lower is better as SQLite's `bm25()`; `null` unless sorted by relevance with a query. */
  score: number | null;
}

/** A page of hits and how the query was understood. */
export interface SearchResult {
  hits: SearchHit[];
  page: number;
  pageSize: number;
  hasMore: boolean;
  /** Terms searched for, each with what it matched (itself, a prefix, or close spellings). */
  terms: { token: string; matched: string[] }[];
  /** Whether hits matching only some of the terms were added after those matching all. */
  relaxed: boolean;
}

/** Options of {@link SearchEngine}. */
export interface SearchEngineOptions {
  /** Minimum age of the cached vocabulary before a change in the store reloads it. Default 10 s. */
  vocabularyMaxAgeMs?: number;
  /**
   * Documents FTS5 hands to BM25F per query, at least the page's depth. Default {@link DEFAULT_CANDIDATES};
   * `Infinity` scores every match (exact BM25F, for measuring how close the default comes).
   */
  candidates?: number;
}

/** Hits per page unless `pageSize` says otherwise. */
export const DEFAULT_PAGE_SIZE = 10;
/** Largest `pageSize`. */
export const MAX_PAGE_SIZE = 50;
/** Deepest hit reachable by paging; deeper pages cost more than they are worth. */
export const MAX_OFFSET = 1000;
const MAX_FILTER_LENGTH = 100;
/** Terms found in more than this share of documents are left out of relaxed (OR) queries... */
const MAX_RELAXED_SHARE = 0.1;
/** ...once the index is big enough for such a term's scan to cost more than a few milliseconds. */
const MIN_PRUNED_DOCUMENTS = 2_000;
/** Most known terms a typed prefix is replaced by in the MATCH expression (see `exactPrefixes`). */
const MAX_PREFIX_TERMS = 8;
/** Documents FTS5 hands to BM25F per query (by its own weighted `bm25()`), at least the page's depth. */
export const DEFAULT_CANDIDATES = 200;
/** SQLite's LIMIT is a 64-bit integer; an `Infinity` depth becomes this. */
const MAX_SQL_LIMIT = Number.MAX_SAFE_INTEGER;
/** Characters of scored documents kept between queries, least recently used dropped first (about 64 MiB). */
const DOCUMENT_CACHE_CHARS = 32 * 1024 * 1024;

interface HitRow {
  id: number;
  model_id: number;
  version: number;
  name: string;
  task: string;
  license: string;
  library: string | null;
  summary: string | null;
  owner: string;
  publisher: string;
  price: string;
  card_hash: string;
  card_cid: string;
  modes: number;
  usage_total: number;
  paid_total: string;
  below_floor: number;
  published_at: number;
  published_block: number;
  score: number | null;
}

/**
 * Filters as SQL over `v` (a `versions` or `search_rows` row): joins, conditions, and a condition on the full-text
 * index that a text query adds to its MATCH expression (browsing checks it with `browseWhere` instead).
 */
interface Plan {
  joins: string[];
  where: string[];
  browseWhere: string[];
  match: string | undefined;
  params: Record<string, string | number>;
}

const WEIGHTS = FTS_COLUMNS.map((c) => c.weight).join(", ");
const DOC_COLUMNS = [...FTS_COLUMNS.map((c) => c.name), ...FTS_COLUMNS.map((c) => `len_${c.name}`)].join(", ");
const NO_FIELDS: DocumentFields = { texts: [], lengths: [] };
const HIT_COLUMNS = `v.id, v.model_id, v.version, v.name, v.task, v.license, v.library, v.summary, m.owner,
  v.publisher, m.price, v.card_hash, v.card_cid, v.modes, v.usage_total, v.paid_total, v.below_floor, v.published_at, v.published_block`;

/**
 * Full-text search over the hub store: BM25 ranking with column weights, the last word matched as a
 * prefix, misspelt words expanded to close known terms, filters, three sort orders, and provenance on
 * every hit. Queries are never parsed as FTS5 or SQL syntax.
 */
export class SearchEngine {
  private vocabulary: Vocabulary | undefined;
  private fieldStats: FieldStats = { documents: 0, averageLengths: [] };
  private readonly documents = new Map<number, DocumentFields>();
  private documentChars = 0;
  private vocabularyStamp = "";
  private vocabularyLoadedAt = 0;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly maxAgeMs: number;
  private readonly candidateDepth: number;

  constructor(
    private readonly store: HubStore,
    options: SearchEngineOptions = {},
  ) {
    this.maxAgeMs = options.vocabularyMaxAgeMs ?? 10_000;
    this.candidateDepth = options.candidates ?? DEFAULT_CANDIDATES;
  }

  /**
   * Searches models.
   * @throws {HubParamError} if a filter, the sort or the page is invalid (never because of the query text).
   * @example
   * const { hits } = engine.search("credit risk", { mode: Modes.zk, minUsage: 10 }, "usage", { page: 1 });
   * hits[0]?.cardCid
   */
  search(
    query: string,
    filters: SearchFilters = {},
    sort: SearchSort = "relevance",
    page: PageRequest = {},
  ): SearchResult {
    const plan = planFilters(filters);
    const { pageNumber, pageSize, offset } = checkPage(page);
    checkSort(sort);
    const parsed = parseQuery(query);
    const vocabulary = this.currentVocabulary();
    const terms = expandTerms(parsed, vocabulary);
    const base = { page: pageNumber, pageSize, terms: describeTerms(terms) };
    // Words were given but none is known or close to a known term: nothing can match.
    if (parsed.length > 0 && terms.length === 0) return { ...base, hits: [], hasMore: false, relaxed: false };
    const { rows, relaxed } =
      terms.length === 0
        ? { rows: this.browse(plan, sort, offset + pageSize + 1), relaxed: false }
        : this.match(terms, plan, sort, offset + pageSize + 1, vocabulary);
    const hits = rows.slice(offset, offset + pageSize).map((r) => this.toHit(r));
    return { ...base, hits, hasMore: rows.length > offset + pageSize, relaxed };
  }

  /** Reloads the vocabulary now (after a bulk load, or in tests). */
  refreshVocabulary(): void {
    this.vocabulary = Vocabulary.load(this.store.db);
    this.fieldStats = loadFieldStats(this.store.db, this.vocabulary.documents);
    this.documents.clear();
    this.documentChars = 0;
    this.vocabularyStamp = this.store.changeStamp();
    this.vocabularyLoadedAt = Date.now();
  }

  private currentVocabulary(): Vocabulary {
    const stale =
      this.vocabularyStamp !== this.store.changeStamp() && Date.now() - this.vocabularyLoadedAt >= this.maxAgeMs;
    if (this.vocabulary === undefined || stale) this.refreshVocabulary();
    return this.vocabulary as Vocabulary;
  }

  /**
   * Hits matching all terms first; if they do not fill the page, then hits matching any term that is not
   * very common (a word in most cards would flood the page and cost a scan of most of the index). FTS5 picks
   * candidates; BM25F (`ranking.ts`) orders them.
   */
  private match(
    terms: ExpandedTerm[],
    plan: Plan,
    sort: SearchSort,
    limit: number,
    vocabulary: Vocabulary,
  ): { rows: HitRow[]; relaxed: boolean } {
    if (sort !== "relevance") return this.matchSorted(terms, plan, sort, limit, vocabulary);
    const depth = Math.min(Math.max(limit, this.candidateDepth), MAX_SQL_LIMIT);
    const expression = toMatchExpression(exactPrefixes(terms, vocabulary), "AND");
    const all = new Set(this.candidates(expression, plan, depth));
    const ranked = this.rank([...all], terms, vocabulary);
    const small = vocabulary.documents * MAX_RELAXED_SHARE < MIN_PRUNED_DOCUMENTS;
    const relaxable = small ? terms : terms.filter((t) => documentShare(t, vocabulary) <= MAX_RELAXED_SHARE);
    let relaxed: number[] = [];
    if (ranked.length < limit && terms.length > 1 && relaxable.length > 0) {
      const any = this.candidates(toMatchExpression(exactPrefixes(relaxable, vocabulary), "OR"), plan, depth).filter(
        (id) => !all.has(id),
      );
      relaxed = this.rank(any, terms, vocabulary);
    }
    const order = [...ranked, ...relaxed].slice(0, limit);
    return { rows: this.hitRows(order, this.lastScores), relaxed: relaxed.length > 0 && ranked.length < order.length };
  }

  private lastScores = new Map<number, number>();

  /** Sorted by usage or recency, BM25F would only break ties: not worth computing for every match. */
  private matchSorted(
    terms: ExpandedTerm[],
    plan: Plan,
    sort: SearchSort,
    limit: number,
    vocabulary: Vocabulary,
  ): { rows: HitRow[]; relaxed: boolean } {
    const all = this.matching(
      toMatchExpression(exactPrefixes(terms, vocabulary), "AND"),
      plan,
      sortClause(sort),
      limit,
    );
    const small = vocabulary.documents * MAX_RELAXED_SHARE < MIN_PRUNED_DOCUMENTS;
    const relaxable = small ? terms : terms.filter((t) => documentShare(t, vocabulary) <= MAX_RELAXED_SHARE);
    if (all.length >= limit || terms.length === 1 || relaxable.length === 0)
      return { rows: this.hitRows(all), relaxed: false };
    const seen = new Set(all);
    const any = this.matching(
      toMatchExpression(exactPrefixes(relaxable, vocabulary), "OR"),
      plan,
      sortClause(sort),
      limit + all.length,
    ).filter((id) => !seen.has(id));
    return { rows: this.hitRows([...all, ...any].slice(0, limit)), relaxed: any.length > 0 };
  }

  /**
   * Row ids matching `expression` and the filters, best first by FTS5's `bm25()`: weighted term counts per field,
   * without length normalisation (`columnsize = 0`), so a name match on a long card is not sunk by its length.
   */
  private candidates(expression: string, plan: Plan, limit: number): number[] {
    return this.matching(expression, plan, `bm25(search_fts, ${WEIGHTS})`, limit);
  }

  /**
   * Row ids matching `expression` and the filters, in `order`. Filters read `search_rows` (aliased `v`, with the
   * columns of `versions` they need), narrow enough to join to every match.
   */
  private matching(expression: string, plan: Plan, order: string, limit: number): number[] {
    const where = plan.where.map((w) => `AND ${w}`).join(" ");
    const sql =
      plan.where.length === 0 && plan.joins.length === 0 && order.startsWith("bm25")
        ? `SELECT rowid FROM search_fts WHERE search_fts MATCH @match ORDER BY ${order} LIMIT @limit`
        : `SELECT f.rowid FROM search_fts f JOIN search_rows v ON v.id = f.rowid ${plan.joins.join(" ")}
         WHERE search_fts MATCH @match ${where} ORDER BY ${order} LIMIT @limit`;
    const match = plan.match === undefined ? expression : `(${expression}) AND ${plan.match}`;
    const { language: _language, ...params } = plan.params;
    return this.statement(sql, "pluck").all({ ...params, match, limit }) as number[];
  }

  /** Orders row ids by BM25F, best first, remembering their scores for the hits. */
  private rank(ids: readonly number[], terms: readonly ExpandedTerm[], vocabulary: Vocabulary): number[] {
    const ranked: RankedTerm[] = terms.map((t) => ({
      alternatives: t.alternatives,
      documentFrequency: t.alternatives.reduce((sum, a) => sum + vocabulary.documentFrequency(a.text, a.prefix), 0),
    }));
    const fields = this.fieldsOf(ids);
    const scores = ids.map((id) => ({ id, score: bm25f(fields.get(id) ?? NO_FIELDS, ranked, this.fieldStats) }));
    scores.sort((a, b) => b.score - a.score || a.id - b.id);
    for (const s of scores) this.lastScores.set(s.id, s.score);
    return scores.map((s) => s.id);
  }

  /** The ranking fields of each row, as the store computed them when it indexed the row (cached). */
  private fieldsOf(ids: readonly number[]): Map<number, DocumentFields> {
    const out = new Map<number, DocumentFields>();
    const missing = ids.filter((id) => {
      const cached = this.documents.get(id);
      if (cached !== undefined) {
        out.set(id, cached);
        this.documents.delete(id); // re-inserted last: most recently used
        this.documents.set(id, cached);
      }
      return cached === undefined;
    });
    if (missing.length > 0) {
      const rows = this.statement(
        `SELECT rowid, ${DOC_COLUMNS} FROM search_docs WHERE rowid IN (SELECT value FROM json_each(@ids))`,
        "raw",
      ).all({ ids: JSON.stringify(missing) }) as [number, ...(string | number)[]][];
      for (const [id, ...values] of rows) {
        const fields: DocumentFields = {
          texts: values.slice(0, FTS_COLUMNS.length) as string[],
          lengths: values.slice(FTS_COLUMNS.length) as number[],
        };
        this.remember(id, fields);
        out.set(id, fields);
      }
    }
    return out;
  }

  /** Caches a document, dropping the least recently used beyond {@link DOCUMENT_CACHE_CHARS}. */
  private remember(id: number, fields: DocumentFields): void {
    this.documents.set(id, fields);
    this.documentChars += charsOf(fields);
    for (const [oldest, old] of this.documents) {
      if (this.documentChars <= DOCUMENT_CACHE_CHARS) break;
      this.documents.delete(oldest);
      this.documentChars -= charsOf(old);
    }
  }

  /** The hit rows of `ids`, in that order, with their BM25F `scores` if ranked by relevance. */
  private hitRows(ids: readonly number[], scores?: Map<number, number>): HitRow[] {
    if (ids.length === 0) return [];
    const sql = `SELECT ${HIT_COLUMNS}, NULL AS score FROM versions v JOIN models m ON m.model_id = v.model_id
      WHERE v.id IN (SELECT value FROM json_each(@ids))`;
    const rows = new Map((this.statement(sql).all({ ids: JSON.stringify(ids) }) as HitRow[]).map((r) => [r.id, r]));
    const out: HitRow[] = [];
    for (const id of ids) {
      const row = rows.get(id);
      if (row !== undefined) out.push({ ...row, score: scores === undefined ? null : -(scores.get(id) ?? 0) });
    }
    scores?.clear();
    return out;
  }

  private browse(plan: Plan, sort: SearchSort, limit: number): HitRow[] {
    const order = sortClause(sort === "relevance" ? "usage" : sort);
    const sql = `SELECT ${HIT_COLUMNS}, NULL AS score
      FROM versions v JOIN models m ON m.model_id = v.model_id ${plan.joins.join(" ")}
      WHERE v.searchable = 1 ${[...plan.where, ...plan.browseWhere].map((w) => `AND ${w}`).join(" ")}
      ORDER BY ${order} LIMIT @limit`;
    return this.statement(sql).all({ ...plan.params, limit }) as HitRow[];
  }

  private toHit(r: HitRow): SearchHit {
    return {
      modelId: r.model_id,
      version: r.version,
      name: r.name,
      task: r.task,
      license: r.license,
      licenses: (
        this.statement("SELECT license FROM search_licenses WHERE version_id = ? ORDER BY idx").all(r.id) as {
          license: string;
        }[]
      ).map((l) => l.license),
      library: r.library,
      summary: r.summary ?? "",
      owner: r.owner,
      publisher: r.publisher,
      price: r.price,
      cardHash: r.card_hash,
      cardCid: r.card_cid,
      files: this.statement("SELECT path, cid, sha256 FROM files WHERE version_id = ? ORDER BY idx").all(
        r.id,
      ) as FileInput[],
      modes: modesOf(r.modes),
      verifiedJobs: r.usage_total,
      paidVolume: r.paid_total,
      belowFloorJobs: r.below_floor,
      usage: (
        this.statement(
          "SELECT mode, jobs, paid, below_floor FROM usage WHERE version_id = ? AND (jobs > 0 OR below_floor > 0) ORDER BY mode",
        ).all(r.id) as UsageRow[]
      ).map(modeUsage),
      publishedAt: r.published_at,
      publishedBlock: r.published_block,
      score: r.score,
    };
  }

  /**
   * Statements are cached by their text, which depends only on which filters are set, never on values; `shape`
   * returns rows as arrays (`raw`) or first values (`pluck`) instead of objects.
   */
  private statement(sql: string, shape?: "raw" | "pluck"): Database.Statement {
    const key = shape === undefined ? sql : `${shape}:${sql}`;
    let stmt = this.statements.get(key);
    if (stmt === undefined) {
      stmt = this.store.db.prepare(sql);
      if (shape === "raw") stmt.raw(true);
      if (shape === "pluck") stmt.pluck(true);
      this.statements.set(key, stmt);
    }
    return stmt;
  }
}

function charsOf(fields: DocumentFields): number {
  return fields.texts.reduce((sum, t) => sum + t.length, 0);
}

/**
 * The terms with each prefix longer than FTS5's prefix indexes (2 and 3 letters) replaced by the few known terms it
 * covers: FTS5 answers a longer prefix by merging every term of its range, about twice the cost of the same terms
 * given exactly. Terms indexed after the vocabulary was loaded are found again once it reloads.
 */
function exactPrefixes(terms: readonly ExpandedTerm[], vocabulary: Vocabulary): ExpandedTerm[] {
  return terms.map((t) => ({
    token: t.token,
    alternatives: t.alternatives.flatMap((a) => {
      const exact = a.prefix && a.text.length > 3 ? vocabulary.termsWithPrefix(a.text, MAX_PREFIX_TERMS) : undefined;
      return exact === undefined || exact.length === 0 ? [a] : exact.map((text) => ({ text, prefix: false }));
    }),
  }));
}

/** Orders matching the partial indexes on `versions`, so browsing stops after one page. */
function sortClause(sort: SearchSort): string {
  if (sort === "recency") return "v.published_at DESC, v.model_id DESC";
  return "v.usage_total DESC, v.published_at DESC";
}

/** Validates filters and turns them into WHERE clauses with bound parameters. */
function planFilters(filters: SearchFilters): Plan {
  const joins: string[] = [];
  const where: string[] = [];
  const browseWhere: string[] = [];
  let match: string | undefined;
  const params: Record<string, string | number> = {};
  const text = (name: "task" | "license" | "library", normalise: (s: string) => string) => {
    const value = filters[name];
    if (value === undefined) return;
    if (value.length === 0 || value.length > MAX_FILTER_LENGTH)
      throw new HubParamError(name, `must be 1 to ${MAX_FILTER_LENGTH} characters`);
    // A card may list several licenses; the filter matches any of them.
    if (name === "license") joins.push("JOIN search_licenses l ON l.version_id = v.id AND l.license = @license");
    else where.push(`v.${name} = @${name}`);
    params[name] = normalise(value);
  };
  text("task", (s) =>
    s
      .trim()
      .toLowerCase()
      .replace(/[\s_]+/g, "-"),
  );
  text("license", (s) =>
    s
      .trim()
      .toLowerCase()
      .replace(/[\s_]+/g, "-"),
  );
  text("library", (s) => s.trim().toLowerCase());
  if (filters.language !== undefined) {
    const code = filters.language.length <= MAX_FILTER_LENGTH ? languageCode(filters.language) : undefined;
    if (code === undefined)
      throw new HubParamError("language", "must be an ISO 639-1 code or a language name, e.g. fi or Finnish");
    // The facets column holds every language code of the card; a code is one token, so a column match is exact.
    match = `{facets} : "${code}"`;
    browseWhere.push("v.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH @language)");
    params.language = match;
  }
  let usageExpr = "v.usage_total";
  if (filters.mode !== undefined) {
    if (!isMode(filters.mode))
      throw new HubParamError("mode", `must be a mode number: ${MODES.map((m) => `${m.mode} (${m.name})`).join(", ")}`);
    where.push("(v.modes >> @mode) & 1 = 1");
    params.mode = filters.mode;
    usageExpr = "coalesce(u.jobs, 0)";
  }
  if (filters.minUsage !== undefined) {
    if (!Number.isSafeInteger(filters.minUsage) || filters.minUsage < 0)
      throw new HubParamError("minUsage", "must be a non-negative integer");
    if (filters.mode !== undefined) joins.push("LEFT JOIN usage u ON u.version_id = v.id AND u.mode = @mode");
    where.push(`${usageExpr} >= @min_usage`);
    params.min_usage = filters.minUsage;
  }
  return { joins, where, browseWhere, match, params };
}

function checkPage(page: PageRequest): { pageNumber: number; pageSize: number; offset: number } {
  const pageSize = page.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE)
    throw new HubParamError("pageSize", `must be an integer in [1, ${MAX_PAGE_SIZE}]`);
  const pageNumber = page.page ?? 1;
  const maxPage = Math.floor(MAX_OFFSET / pageSize) + 1;
  if (!Number.isInteger(pageNumber) || pageNumber < 1 || pageNumber > maxPage)
    throw new HubParamError("page", `must be an integer in [1, ${maxPage}]`);
  return { pageNumber, pageSize, offset: (pageNumber - 1) * pageSize };
}

function checkSort(sort: string): asserts sort is SearchSort {
  if (sort !== "relevance" && sort !== "usage" && sort !== "recency")
    throw new HubParamError("sort", "must be relevance, usage or recency");
}

function describeTerms(terms: readonly ExpandedTerm[]): SearchResult["terms"] {
  return terms.map((t) => ({ token: t.token, matched: t.alternatives.map((a) => (a.prefix ? `${a.text}*` : a.text)) }));
}
