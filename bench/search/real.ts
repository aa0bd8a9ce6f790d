/**
 * The real-card relevance set: Hugging Face model cards copied from public repositories (`real-cards/`, with
 * `sources.json`) and hand-graded queries (`real-cards/queries.json`). Scores the hub's engine, plain SQLite FTS5
 * `bm25()` over the raw card text, and a name-substring search on the same cards.
 */
import Database from "better-sqlite3";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cardHashOf, type ModelCard, parseModelCard } from "../../src/hub/card";
import { BaseError } from "../../src/core/errors";
import { modelIdNumber } from "../../src/hub/ids";
import { SearchEngine } from "../../src/hub/search";
import { HubStore } from "../../src/hub/store";
import { tokenize } from "../../src/hub/text";
import { type Judgments, mean, ndcgAt, reciprocalRank } from "./metrics";

/** Folder of the real cards. */
export const REAL_CARDS_DIR = join(__dirname, "real-cards");
const K = 10;
const MRR_MIN_GRADE = 2;

/** Where a card came from; `model` is its Hugging Face repository id, used as its name. */
export interface CardSource {
  file: string;
  model: string;
  repo: string;
  path: string;
  commit: string;
}

/** One hand-graded query; judgments are keyed by card number (`"001"`). */
export interface RealQuery {
  q: string;
  kind: string;
  judgments: Judgments;
}

/** Scores of one system. */
export interface RealScores {
  ndcg10: number;
  mrr: number;
  recall10: number;
  perQuery: { q: string; kind: string; ndcg10: number; rr: number; recall10: number }[];
}

/** The result of {@link evaluateRealCards}. */
export interface RealEvaluation {
  cards: number;
  indexed: number;
  refused: { file: string; reason: string }[];
  warnings: number;
  queries: number;
  engine: RealScores;
  bm25: RealScores;
  nameSubstring: RealScores;
}

/** Reads `sources.json` and `queries.json`. */
export function loadRealCards(): { sources: CardSource[]; queries: RealQuery[] } {
  const { cards } = JSON.parse(readFileSync(join(REAL_CARDS_DIR, "sources.json"), "utf8")) as { cards: CardSource[] };
  const { queries } = JSON.parse(readFileSync(join(REAL_CARDS_DIR, "queries.json"), "utf8")) as {
    queries: RealQuery[];
  };
  return { sources: cards, queries };
}

const keyOf = (file: string) => file.replace(/\.md$/, "");

/**
 * Indexes every real card the hub accepts (leniently, as the indexer reads cards already on chain; named by its
 * repository id) and scores the three
 * systems on every query. Cards the hub refuses stay in the baselines' indexes, so a refusal costs the engine.
 * @example const { engine, bm25 } = evaluateRealCards();
 */
export function evaluateRealCards(): RealEvaluation {
  const { sources, queries } = loadRealCards();
  const texts = new Map(sources.map((s) => [keyOf(s.file), readFileSync(join(REAL_CARDS_DIR, s.file), "utf8")]));
  const store = HubStore.open(":memory:");
  const bm25 = new Database(":memory:");
  try {
    const { refused, warnings, keyOfModel } = indexEngine(store, sources, texts);
    indexPlain(bm25, sources, texts);
    const engine = new SearchEngine(store);
    const plain = bm25.prepare("SELECT key FROM raw WHERE raw MATCH ? ORDER BY bm25(raw) LIMIT ?");
    return {
      cards: sources.length,
      indexed: sources.length - refused.length,
      refused,
      warnings,
      queries: queries.length,
      engine: score(queries, (q) =>
        engine.search(q, {}, "relevance", { pageSize: K }).hits.map((h) => keyOfModel.get(h.modelId) ?? ""),
      ),
      bm25: score(queries, (q) => {
        const words = tokenize(q);
        return words.length === 0
          ? []
          : (plain.all(words.map((w) => `"${w}"`).join(" OR "), K) as { key: string }[]).map((r) => r.key);
      }),
      nameSubstring: score(queries, (q) => nameSubstring(sources, q)),
    };
  } finally {
    store.close();
    bm25.close();
  }
}

function indexEngine(store: HubStore, sources: readonly CardSource[], texts: Map<string, string>) {
  const refused: { file: string; reason: string }[] = [];
  const keyOfModel = new Map<number, string>();
  let warnings = 0;
  store.batch(() => {
    sources.forEach((s, i) => {
      const text = texts.get(keyOf(s.file)) ?? "";
      let card: ModelCard;
      try {
        card = parseModelCard(text, { name: s.model, lenient: true });
      } catch (error) {
        refused.push({ file: s.file, reason: error instanceof BaseError ? error.shortMessage : String(error) });
        return;
      }
      warnings += card.warnings.length;
      const modelId = modelIdNumber(i + 1);
      keyOfModel.set(modelId, keyOf(s.file));
      const owner = `0x${(i + 1).toString(16).padStart(40, "0")}`;
      const hash = cardHashOf(text);
      store.upsertModel({ modelId, owner, price: 1n, block: i + 1 });
      store.upsertVersion({
        modelId,
        version: 1,
        publisher: owner,
        cardHash: hash,
        cardCid: `bafkrei${hash.slice(2, 54)}`,
        files: [],
        modes: 1,
        publishedAt: 1_700_000_000,
        block: i + 1,
        card,
      });
    });
  });
  return { refused, warnings, keyOfModel };
}

/** Plain BM25: one FTS5 column with the repository id and the raw card text, default tokenizer, no stemming. */
function indexPlain(db: Database.Database, sources: readonly CardSource[], texts: Map<string, string>): void {
  db.exec("CREATE VIRTUAL TABLE raw USING fts5(key UNINDEXED, text)");
  const insert = db.prepare("INSERT INTO raw (key, text) VALUES (?, ?)");
  for (const s of sources) insert.run(keyOf(s.file), `${s.model}\n${texts.get(keyOf(s.file)) ?? ""}`);
}

/** Case-insensitive substring of the whole query in the repository id; spaces, `-` and `_` alike. */
function nameSubstring(sources: readonly CardSource[], q: string): string[] {
  const norm = (s: string) =>
    s
      .toLowerCase()
      .replace(/[\s_-]+/g, "-")
      .trim();
  const needle = norm(q);
  if (needle === "") return [];
  return sources
    .filter((s) => norm(s.model).includes(needle))
    .slice(0, K)
    .map((s) => keyOf(s.file));
}

function score(queries: readonly RealQuery[], run: (q: string) => string[]): RealScores {
  const perQuery = queries.map(({ q, kind, judgments }) => {
    const ranked = run(q).slice(0, K);
    const relevant = Object.keys(judgments).filter((k) => (judgments[k] ?? 0) > 0);
    const found = ranked.filter((k) => (judgments[k] ?? 0) > 0).length;
    // Metrics take numeric ids; card numbers are numeric strings.
    const ids = ranked.map(Number);
    return {
      q,
      kind,
      ndcg10: ndcgAt(ids, numeric(judgments), K),
      rr: reciprocalRank(ids, numeric(judgments), MRR_MIN_GRADE),
      recall10: relevant.length === 0 ? 0 : found / Math.min(relevant.length, K),
    };
  });
  return {
    ndcg10: mean(perQuery.map((p) => p.ndcg10)),
    mrr: mean(perQuery.map((p) => p.rr)),
    recall10: mean(perQuery.map((p) => p.recall10)),
    perQuery,
  };
}

function numeric(judgments: Judgments): Judgments {
  return Object.fromEntries(Object.entries(judgments).map(([k, v]) => [String(Number(k)), v]));
}
