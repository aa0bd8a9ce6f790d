/** Prints the relevance suite's scores. Run: `npx ts-node bench/search/evaluate.ts [--verbose]`. */
import { evaluateSuite, loadSuite } from "./suite";

const { ours, baseline, nameAllWords, nameAnyWord } = evaluateSuite(loadSuite());
const fmt = (x: number) => x.toFixed(3);
console.table({
  hub: { "nDCG@10": fmt(ours.ndcg10), MRR: fmt(ours.mrr) },
  "name substring": { "nDCG@10": fmt(baseline.ndcg10), MRR: fmt(baseline.mrr) },
  "name all words": { "nDCG@10": fmt(nameAllWords.ndcg10), MRR: fmt(nameAllWords.mrr) },
  "name any word": { "nDCG@10": fmt(nameAnyWord.ndcg10), MRR: fmt(nameAnyWord.mrr) },
});
if (process.argv.includes("--verbose")) {
  console.table(
    ours.perQuery.map((p, i) => ({ q: p.q, ours: fmt(p.ndcg10), anyWord: fmt(nameAnyWord.perQuery[i]?.ndcg10 ?? 0) })),
  );
}
