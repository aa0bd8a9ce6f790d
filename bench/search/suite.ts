import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SearchEngine } from "../../src/hub/search";
import { HubStore } from "../../src/hub/store";
import { nameAllWordsSearch, nameAnyWordSearch, nameSubstringSearch } from "./baseline";
import { corpusDigest, generateCorpus, type SyntheticCard } from "./corpus";
import { indexCorpus } from "./indexing";
import { type Judgments, mean, ndcgAt, reciprocalRank } from "./metrics";

/** The committed relevance suite (`judgments.json`). */
export interface RelevanceSuite {
  corpus: { seed: number; count: number; sha256: string };
  queries: { q: string; judgments: Judgments }[];
}

/** Scores of one system on the suite. */
export interface SuiteScores {
  ndcg10: number;
  mrr: number;
  perQuery: { q: string; ndcg10: number; rr: number }[];
}

/** Path of the committed judgments. */
export const SUITE_PATH = join(__dirname, "judgments.json");
/** MRR counts the first hit of grade 2 or more. */
const MRR_MIN_GRADE = 2;

/** Reads the committed suite. */
export function loadSuite(path = SUITE_PATH): RelevanceSuite {
  return JSON.parse(readFileSync(path, "utf8")) as RelevanceSuite;
}

/**
 * Regenerates the corpus the suite was judged on; throws if the generator no longer produces it.
 * @example const cards = corpusOf(loadSuite());
 */
export function corpusOf(suite: RelevanceSuite): SyntheticCard[] {
  const cards = generateCorpus(suite.corpus.count, suite.corpus.seed);
  const digest = corpusDigest(cards);
  if (digest !== suite.corpus.sha256)
    throw new Error(
      `corpus digest ${digest} differs from the judged ${suite.corpus.sha256}; regenerate judgments.json (bench/search/generate.ts)`,
    );
  return cards;
}

/**
 * Scores our search, the name-substring baseline (the target's reference) and two
 * more lenient name-only variants, for context.
 * @example const { ours, baseline } = evaluateSuite(loadSuite());
 */
export function evaluateSuite(suite: RelevanceSuite): {
  ours: SuiteScores;
  baseline: SuiteScores;
  nameAllWords: SuiteScores;
  nameAnyWord: SuiteScores;
} {
  const cards = corpusOf(suite);
  const store = HubStore.open(":memory:");
  try {
    const modelIds = indexCorpus(store, cards);
    const cardOfModel = new Map(modelIds.map((m, i) => [m as number, cards[i]?.id ?? 0]));
    const engine = new SearchEngine(store);
    const ours = score(suite, (q) => engine.search(q).hits.map((h) => cardOfModel.get(h.modelId) ?? 0));
    const baseline = score(suite, (q) => nameSubstringSearch(cards, q, 10));
    const nameAllWords = score(suite, (q) => nameAllWordsSearch(cards, q, 10));
    const nameAnyWord = score(suite, (q) => nameAnyWordSearch(cards, q, 10));
    return { ours, baseline, nameAllWords, nameAnyWord };
  } finally {
    store.close();
  }
}

function score(suite: RelevanceSuite, run: (q: string) => number[]): SuiteScores {
  const perQuery = suite.queries.map(({ q, judgments }) => {
    const ranked = run(q);
    return { q, ndcg10: ndcgAt(ranked, judgments, 10), rr: reciprocalRank(ranked, judgments, MRR_MIN_GRADE) };
  });
  return { ndcg10: mean(perQuery.map((p) => p.ndcg10)), mrr: mean(perQuery.map((p) => p.rr)), perQuery };
}
