/**
 * How close the engine's top 10 (BM25F over the FTS5 candidates) comes to the exact BM25F top 10 over every match,
 * on the synthetic benchmark corpus: mean overlap of the two top-10 sets, and the engine's summed top-10 score as a
 * share of the exact one (near-copies of a card tie, so a low overlap with a share near 1 means other, equally good
 * cards).
 * Run: `npx ts-node bench/search/fidelity.ts [--versions 100000] [--candidates 200]`.
 */
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SearchEngine } from "../../src/hub/search";
import { HubStore } from "../../src/hub/store";
import { generateCorpus } from "./corpus";
import { prepareCorpus, writeCorpus } from "./indexing";
import { QUERY_SPECS } from "./queries";

function argument(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function main(): void {
  const versions = argument("--versions", 100_000);
  const path = join(tmpdir(), `hub-fidelity-${process.pid}.sqlite`);
  const store = HubStore.open(path);
  try {
    writeCorpus(store, prepareCorpus(generateCorpus(versions, 7)));
    store.optimize();
    const candidates = argument("--candidates", Number.NaN);
    const engine = new SearchEngine(store, Number.isNaN(candidates) ? {} : { candidates });
    const exact = new SearchEngine(store, { candidates: Infinity });
    let overlap = 0;
    let share = 0;
    let queries = 0;
    for (const { q } of QUERY_SPECS) {
      const best = exact.search(q).hits;
      if (best.length === 0) continue;
      const ours = engine.search(q).hits;
      const exactIds = new Set(best.map((h) => h.modelId));
      const total = (hits: typeof best) => hits.reduce((sum, h) => sum - (h.score ?? 0), 0);
      overlap += ours.filter((h) => exactIds.has(h.modelId)).length / best.length;
      share += total(best) === 0 ? 1 : total(ours) / total(best);
      queries++;
    }
    console.log(
      `${versions} versions, ${queries} queries: top-10 overlap with exact BM25F ${(overlap / queries).toFixed(3)}, summed score ${(share / queries).toFixed(4)} of exact`,
    );
  } finally {
    store.close();
    for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
  }
}

main();
