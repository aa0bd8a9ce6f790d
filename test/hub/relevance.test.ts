import { expect } from "chai";
import { corpusOf, evaluateSuite, loadSuite, type RelevanceSuite, type SuiteScores } from "../../bench/search/suite";
import { mean, ndcgAt, reciprocalRank } from "../../bench/search/metrics";

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
