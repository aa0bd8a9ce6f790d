import { expect } from "chai";
import { corpusOf, evaluateSuite, loadSuite, type RelevanceSuite, type SuiteScores } from "../../bench/search/suite";
import { mean, ndcgAt, reciprocalRank } from "../../bench/search/metrics";
import { evaluateRealCards, type RealEvaluation } from "../../bench/search/real";

describe("relevance metrics", () => {
  it("gives nDCG 1 to the ideal ranking and less to a worse one", () => {
    const judgments = { "1": 3, "2": 2, "3": 1 };
    expect(ndcgAt([1, 2, 3], judgments, 10)).to.equal(1);
    expect(ndcgAt([3, 2, 1], judgments, 10)).to.be.below(1);
    expect(ndcgAt([9, 8], judgments, 10)).to.equal(0);
  });

  it("computes nDCG@k with gains 2^grade - 1 and a log2 discount", () => {
    // DCG = 1/log2(2) + 7/log2(3); ideal = 7 + 1/log2(3)
    const expected = (1 + 7 / Math.log2(3)) / (7 + 1 / Math.log2(3));
    expect(ndcgAt([2, 1], { "1": 3, "2": 1 }, 10)).to.be.closeTo(expected, 1e-12);
  });

  it("computes the reciprocal rank of the first hit of the minimum grade", () => {
    expect(reciprocalRank([5, 6, 7], { "7": 2, "5": 1 }, 2)).to.be.closeTo(1 / 3, 1e-12);
    expect(reciprocalRank([5], { "5": 1 }, 2)).to.equal(0);
    expect(mean([])).to.equal(0);
  });
});

describe("relevance suite (bench/search/judgments.json)", () => {
  let suite: RelevanceSuite;
  let ours: SuiteScores;
  let baseline: SuiteScores;

  before(() => {
    suite = loadSuite();
    ({ ours, baseline } = evaluateSuite(suite));
  });

  it("judges at least 50 queries over at least 300 cards with grades 0 to 3", () => {
    expect(suite.corpus.count).to.be.at.least(300);
    expect(corpusOf(suite)).to.have.length(suite.corpus.count);
    expect(suite.queries).to.have.length.at.least(50);
    for (const q of suite.queries) {
      expect(Object.keys(q.judgments), q.q).to.not.be.empty;
      for (const grade of Object.values(q.judgments)) expect(grade).to.be.oneOf([1, 2, 3]);
    }
  });

  it("reaches nDCG@10 of at least 0.8", () => {
    expect(ours.ndcg10).to.be.at.least(0.8);
  });

  it("reaches at least twice the nDCG@10 and MRR of the name-substring baseline", () => {
    expect(ours.ndcg10).to.be.at.least(2 * baseline.ndcg10);
    expect(ours.mrr).to.be.at.least(2 * baseline.mrr);
    expect(ours.mrr).to.be.at.least(0.8);
  });
});

describe("real-card relevance set (bench/search/real-cards)", () => {
  let result: RealEvaluation;

  before(() => {
    result = evaluateRealCards();
  });

  it("indexes every real card", () => {
    expect(result.refused).to.deep.equal([]);
    expect(result.indexed).to.equal(result.cards);
  });

  it("beats plain FTS5 bm25() over the raw text by at least 0.08 nDCG@10 and reaches 0.85", () => {
    expect(result.engine.ndcg10).to.be.at.least(result.bm25.ndcg10 + 0.08);
    expect(result.engine.ndcg10).to.be.at.least(0.85);
  });

  it("beats plain BM25 on MRR and recall@10, and the name-substring search on every measure", () => {
    expect(result.engine.mrr).to.be.above(result.bm25.mrr);
    expect(result.engine.recall10).to.be.above(result.bm25.recall10);
    for (const m of ["ndcg10", "mrr", "recall10"] as const)
      expect(result.engine[m]).to.be.above(result.nameSubstring[m]);
  });
});
