/**
 * Writes `bench/search/judgments.json`: the relevance suite's queries with graded judgments computed from the
 * generated cards' hidden attributes. Run: `npx ts-node bench/search/generate.ts`.
 */
import { writeFileSync } from "node:fs";
import { corpusDigest, generateCorpus } from "./corpus";
import type { Judgments } from "./metrics";
import { judge, QUERY_SPECS } from "./queries";
import { type RelevanceSuite, SUITE_PATH } from "./suite";

const SEED = 20_261_124;
const COUNT = 360;

function main(): void {
  const cards = generateCorpus(COUNT, SEED);
  const queries = QUERY_SPECS.map((spec) => {
    const judgments: Judgments = {};
    for (const card of cards) {
      const grade = judge(spec, card.attributes);
      if (grade > 0) judgments[String(card.id)] = grade;
    }
    return { q: spec.q, judgments };
  });
  const suite: RelevanceSuite = { corpus: { seed: SEED, count: COUNT, sha256: corpusDigest(cards) }, queries };
  writeFileSync(SUITE_PATH, `${JSON.stringify(suite, null, 1)}\n`);
  console.log(`wrote ${queries.length} queries over ${cards.length} cards to ${SUITE_PATH}`);
}

main();
