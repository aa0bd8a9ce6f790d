/**
 * Prints the real-card relevance scores and writes `bench/results/search-relevance-real.json`.
 * Run: `npm run hub:eval:real [-- --verbose]`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { evaluateRealCards } from "./real";

const result = evaluateRealCards();
const fmt = (x: number) => x.toFixed(3);
const row = (s: { ndcg10: number; mrr: number; recall10: number }) => ({
  "nDCG@10": fmt(s.ndcg10),
  MRR: fmt(s.mrr),
  "recall@10": fmt(s.recall10),
});
console.log(
  `${result.cards} real cards (${result.indexed} indexed by the hub, ${result.warnings} warnings), ${result.queries} queries`,
);
for (const r of result.refused) console.log(`refused ${r.file}: ${r.reason}`);
console.table({
  hub: row(result.engine),
  "plain FTS5 bm25()": row(result.bm25),
  "name substring": row(result.nameSubstring),
});
if (process.argv.includes("--verbose")) {
  console.table(
    result.engine.perQuery.map((p, i) => ({
      q: p.q,
      kind: p.kind,
      hub: fmt(p.ndcg10),
      bm25: fmt(result.bm25.perQuery[i]?.ndcg10 ?? 0),
      name: fmt(result.nameSubstring.perQuery[i]?.ndcg10 ?? 0),
    })),
  );
}
const dir = join(__dirname, "..", "results");
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, "search-relevance-real.json"), `${JSON.stringify(result, null, 1)}\n`);
