import { expect } from "chai";
import { HubParamError } from "../../src/hub/errors";
import { Mode } from "../../src/core/modes";
import { SearchEngine, type SearchHit } from "../../src/hub/search";
import type { HubStore } from "../../src/hub/store";
import { Vocabulary } from "../../src/hub/vocabulary";
import { address, freshHub, JOB_PAYMENT, publish } from "./fixtures";

const names = (hits: readonly SearchHit[]) => hits.map((h) => h.name);

/** A small hub: the name rarely says what the model does, the card does. */
function seededHub(): { store: HubStore; engine: SearchEngine } {
  const hub = freshHub();
  const { store } = hub;
  publish(store, {
    model: 1,
    fields: {
      name: "acme/pd-scorecard",
      task: "tabular-classification",
      license: "apache-2.0",
      library: "xgboost",
      tags: ["credit-risk", "lending"],
    },
    body: "Estimates the probability of default of retail loans.",
    modes: 0b101,
    usage: { 0: 40, 2: 12 },
    publishedAt: 1000,
  });
  publish(store, {
    model: 2,
    fields: {
      name: "acme/txn-guard",
      task: "tabular-classification",
      license: "mit",
      library: "lightgbm",
      tags: ["fraud-detection", "payments"],
    },
    body: "Flags fraudulent card transactions in real time.",
    modes: 0b011,
    usage: { 0: 5, 1: 90 },
    publishedAt: 3000,
  });
  publish(store, {
    model: 3,
    fields: {
      name: "acme/finbert-tone",
      task: "text-classification",
      license: "apache-2.0",
      library: "transformers",
      tags: ["sentiment", "finance"],
    },
    body: "Scores the sentiment of financial news headlines.",
    modes: 0b001,
    usage: { 0: 7 },
    publishedAt: 2000,
  });
  publish(store, {
    model: 4,
    fields: {
      name: "acme/reviewbert",
      task: "text-classification",
      license: "mit",
      library: "transformers",
      tags: ["opinion-mining"],
    },
    body: "Classifies the sentiment of product reviews.",
    modes: 0b001,
    publishedAt: 4000,
  });
  publish(store, {
    model: 5,
    fields: {
      name: "acme/whisper-small-de",
      task: "automatic-speech-recognition",
      license: "mit",
      library: "transformers",
      tags: ["asr", "speech-to-text"],
    },
    body: "Transcribes German speech.",
    modes: 0b100,
    usage: { 2: 3 },
    publishedAt: 5000,
  });
  publish(store, {
    model: 6,
    fields: { name: "acme/sentiment-classifier", task: "text-classification", license: "mit", tags: ["sentiment"] },
    body: "Another sentiment model.",
    modes: 0b001,
    usage: { 0: 1 },
    publishedAt: 6000,
  });
  return hub;
}

describe("SearchEngine.search", () => {
  let hub: { store: HubStore; engine: SearchEngine };
  before(() => {
    hub = seededHub();
  });
  after(() => hub.store.close());

  describe("full text", () => {
    it("finds models by words of their card that their name lacks", () => {
      expect(names(hub.engine.search("probability of default").hits)).to.deep.equal(["acme/pd-scorecard"]);
      expect(names(hub.engine.search("fraudulent transactions").hits)).to.deep.equal(["acme/txn-guard"]);
    });

    it("ranks a match in the name above matches in tags and body", () => {
      expect(names(hub.engine.search("sentiment").hits)[0]).to.equal("acme/sentiment-classifier");
      expect(names(hub.engine.search("sentiment").hits)).to.have.members([
        "acme/sentiment-classifier",
        "acme/finbert-tone",
        "acme/reviewbert",
      ]);
    });

    it("returns models matching all words first, then those matching some", () => {
      const result = hub.engine.search("sentiment finance");
      expect(names(result.hits)[0]).to.equal("acme/finbert-tone");
      expect(result.relaxed).to.equal(true);
      expect(result.hits.length).to.be.greaterThan(1);
    });

    it("matches plurals and singulars alike", () => {
      expect(names(hub.engine.search("payment").hits)).to.deep.equal(["acme/txn-guard"]);
      expect(names(hub.engine.search("headline").hits)).to.deep.equal(["acme/finbert-tone"]);
    });

    it("matches the last word as a prefix while it is being typed", () => {
      expect(names(hub.engine.search("transcri").hits)).to.deep.equal(["acme/whisper-small-de"]);
      expect(hub.engine.search("transcri").terms).to.deep.equal([{ token: "transcri", matched: ["transcri*"] }]);
    });

    it("matches a typed prefix through the known terms it covers", () => {
      const { store, engine } = freshHub();
      publish(store, { model: 1, fields: { name: "org/alpha", tags: ["transylvania"] } });
      publish(store, { model: 2, fields: { name: "org/beta", tags: ["transylvanian"] } });
      publish(store, { model: 3, fields: { name: "org/gamma", tags: ["transport"] } });
      const vocabulary = Vocabulary.load(store.db);
      expect(vocabulary.termsWithPrefix("transy", 8)).to.deep.equal(["transylvania", "transylvanian"]);
      expect(vocabulary.termsWithPrefix("transy", 1)).to.equal(undefined);
      expect(vocabulary.termsWithPrefix("transz", 8)).to.deep.equal([]);
      expect(names(engine.search("transy").hits)).to.have.members(["org/alpha", "org/beta"]);
      expect(names(engine.search("trans").hits)).to.have.members(["org/alpha", "org/beta", "org/gamma"]);
      store.close();
    });

    it("scores at least a page of candidates whatever the candidate depth, and every match with an infinite one", () => {
      for (const candidates of [1, Infinity]) {
        const engine = new SearchEngine(hub.store, { candidates });
        expect(names(engine.search("sentiment").hits), String(candidates)).to.deep.equal(
          names(hub.engine.search("sentiment").hits),
        );
      }
    });

    it("does not match a finished word as a prefix", () => {
      expect(hub.engine.search("transcri ").hits).to.deep.equal([]);
    });

    it("expands a misspelt word to close known terms", () => {
      const result = hub.engine.search("sentimnet analysis ");
      expect(names(result.hits)).to.include("acme/sentiment-classifier");
      expect(result.terms[0]).to.deep.equal({ token: "sentimnet", matched: ["sentiment"] });
    });

    it("finds nothing for a word with no close known term", () => {
      expect(hub.engine.search("xylophone").hits).to.deep.equal([]);
    });

    it("browses by verified usage when the query has no words", () => {
      expect(names(hub.engine.search("").hits)[0]).to.equal("acme/txn-guard");
      expect(hub.engine.search("the models").hits).to.have.length(6);
    });
  });

  describe("filters", () => {
    it("filters by task, license and library, case-insensitively", () => {
      expect(names(hub.engine.search("", { task: "Text Classification", license: "MIT" }).hits)).to.have.members([
        "acme/reviewbert",
        "acme/sentiment-classifier",
      ]);
      expect(names(hub.engine.search("", { library: "XGBoost" }).hits)).to.deep.equal(["acme/pd-scorecard"]);
    });

    it("filters by any of the licenses a card lists, and by those of its searchable version only", () => {
      const { store, engine } = freshHub();
      publish(store, { model: 1, block: 10, fields: { name: "org/dual-licensed", license: ["mit", "CC-BY-4.0"] } });
      publish(store, { model: 2, block: 11, fields: { name: "org/other", license: "cc-by-4.0" } });
      expect(names(engine.search("", { license: "cc-by-4.0" }).hits)).to.have.members([
        "org/dual-licensed",
        "org/other",
      ]);
      expect(names(engine.search("", { license: "MIT" }).hits)).to.deep.equal(["org/dual-licensed"]);
      expect(engine.search("dual", { license: "cc-by-4.0" }).hits.map((h) => [h.license, h.licenses])).to.deep.equal([
        ["mit", ["mit", "cc-by-4.0"]],
      ]);
      publish(store, { model: 1, version: 2, block: 20, fields: { name: "org/dual-licensed", license: "apache-2.0" } });
      expect(names(engine.search("", { license: "cc-by-4.0" }).hits)).to.deep.equal(["org/other"]);
      store.rewindTo(15);
      expect(names(engine.search("", { license: "cc-by-4.0" }).hits)).to.have.members([
        "org/dual-licensed",
        "org/other",
      ]);
      store.close();
    });

    it("filters by available verification mode", () => {
      expect(names(hub.engine.search("", { mode: Mode.Zk }).hits)).to.have.members([
        "acme/pd-scorecard",
        "acme/whisper-small-de",
      ]);
      expect(names(hub.engine.search("", { mode: Mode.Tee }).hits)).to.deep.equal(["acme/txn-guard"]);
    });

    it("filters by minimum verified usage, in the given mode if any", () => {
      expect(names(hub.engine.search("", { minUsage: 50 }).hits)).to.have.members([
        "acme/pd-scorecard",
        "acme/txn-guard",
      ]);
      expect(names(hub.engine.search("", { mode: Mode.Zk, minUsage: 10 }).hits)).to.deep.equal(["acme/pd-scorecard"]);
      expect(names(hub.engine.search("", { mode: Mode.Vanilla, minUsage: 10 }).hits)).to.deep.equal([
        "acme/pd-scorecard",
      ]);
    });

    it("combines filters with a text query", () => {
      expect(
        names(hub.engine.search("classification", { license: "apache-2.0", mode: Mode.Vanilla }).hits),
      ).to.have.members(["acme/pd-scorecard", "acme/finbert-tone"]);
    });

    for (const [filters, param] of [
      [{ mode: 32 as Mode }, "mode"],
      [{ minUsage: -1 }, "minUsage"],
      [{ minUsage: 1.5 }, "minUsage"],
      [{ task: "" }, "task"],
      [{ license: "x".repeat(101) }, "license"],
    ] as const) {
      it(`throws HubParamError naming \`${param}\` for ${JSON.stringify(filters)}`, () => {
        expect(() => hub.engine.search("", filters))
          .to.throw(HubParamError)
          .with.property("param", param);
      });
    }
  });

  describe("sort and pages", () => {
    it("sorts by verified usage", () => {
      expect(names(hub.engine.search("classification", {}, "usage").hits).slice(0, 2)).to.deep.equal([
        "acme/txn-guard",
        "acme/pd-scorecard",
      ]);
    });

    it("sorts by recency", () => {
      expect(names(hub.engine.search("", {}, "recency").hits).slice(0, 2)).to.deep.equal([
        "acme/sentiment-classifier",
        "acme/whisper-small-de",
      ]);
    });

    it("pages without overlap and says whether more remain", () => {
      const first = hub.engine.search("", {}, "recency", { page: 1, pageSize: 4 });
      const second = hub.engine.search("", {}, "recency", { page: 2, pageSize: 4 });
      expect(first.hasMore).to.equal(true);
      expect(second.hasMore).to.equal(false);
      expect([...names(first.hits), ...names(second.hits)])
        .to.have.length(6)
        .and.to.satisfy((xs: string[]) => new Set(xs).size === 6);
    });

    it("throws HubParamError for a bad sort, page or page size", () => {
      expect(() => hub.engine.search("", {}, "best" as "usage"))
        .to.throw(HubParamError)
        .with.property("param", "sort");
      expect(() => hub.engine.search("", {}, "usage", { page: 0 }))
        .to.throw(HubParamError)
        .with.property("param", "page");
      expect(() => hub.engine.search("", {}, "usage", { page: 10_000 }))
        .to.throw(HubParamError)
        .with.property("param", "page");
      expect(() => hub.engine.search("", {}, "usage", { pageSize: 51 }))
        .to.throw(HubParamError)
        .with.property("param", "pageSize");
    });
  });

  describe("provenance", () => {
    it("gives every hit its owner, version, CIDs, modes and verified jobs", () => {
      const hit = hub.engine.search("pd scorecard").hits[0];
      expect(hit).to.deep.include({
        modelId: 1,
        version: 1,
        owner: address(1),
        publisher: address(1),
        cardCid: "bafkrei-card-1-1",
        modes: [Mode.Vanilla, Mode.Zk],
        verifiedJobs: 52,
        paidVolume: (52n * JOB_PAYMENT).toString(),
        belowFloorJobs: 0,
        usage: [
          { mode: 0, jobs: 40, paid: (40n * JOB_PAYMENT).toString(), belowFloor: 0 },
          { mode: 2, jobs: 12, paid: (12n * JOB_PAYMENT).toString(), belowFloor: 0 },
        ],
        summary: "Estimates the probability of default of retail loans.",
      });
      expect(hit?.files.map((f) => f.cid)).to.deep.equal(["bafybei-weights-1-1"]);
      expect(hit?.cardHash).to.match(/^0x[0-9a-f]{64}$/);
    });
  });

  describe("hostile queries", () => {
    const hostile = [
      '"',
      '"sentiment',
      "sentiment*",
      "*",
      "-sentiment",
      "NOT sentiment",
      "sentiment AND",
      "OR OR OR",
      "NEAR(sentiment finance, 2)",
      "name:sentiment",
      "{name tags}: sentiment",
      "^sentiment",
      "sentiment)",
      "((((",
      "'; DROP TABLE versions; --",
      "' OR 1=1 --",
      "1; DELETE FROM models",
      "%_%",
      "\u0000\u202e\ud800",
      "sentiment".repeat(100),
      "é".repeat(300),
    ];
    for (const q of hostile) {
      it(`treats ${JSON.stringify(q.slice(0, 40))} as plain words`, () => {
        expect(() => hub.engine.search(q)).not.to.throw();
      });
    }

    it("finds the words inside FTS5 syntax", () => {
      expect(names(hub.engine.search("name:whisper").hits)).to.deep.equal(["acme/whisper-small-de"]);
      expect(names(hub.engine.search('"fraud*" -detection').hits)).to.deep.equal(["acme/txn-guard"]);
      expect(names(hub.engine.search("NEAR(fraud)").hits)).to.deep.equal(["acme/txn-guard"]);
    });

    it("leaves every table in place after SQL injection attempts", () => {
      hub.engine.search("'; DROP TABLE versions; --");
      hub.engine.search('x"); DROP TABLE models; --');
      expect(hub.store.stats()).to.deep.equal({ models: 6, versions: 6, searchable: 6 });
    });
  });
});
