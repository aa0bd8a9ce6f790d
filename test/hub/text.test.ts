import { expect } from "chai";
import { createHash } from "node:crypto";
import { cidToString } from "../../src/core/cid";
import { InputError } from "../../src/core/errors";
import { modelIdNumber } from "../../src/hub/ids";
import { parseQuery, toMatchExpression } from "../../src/hub/query";
import { compoundWords, normalizeForIndex, stem, summarizeMarkdown, tokenize } from "../../src/hub/text";

describe("text normalisation", () => {
  it("splits on every character that is not a letter or digit and folds case and accents", () => {
    expect(tokenize('Café-BERT: NEAR* "x" _y_')).to.deep.equal(["cafe", "bert", "near", "x", "y"]);
  });

  it("stems plurals without merging unrelated words", () => {
    expect(["signals", "studies", "boxes", "class", "analysis", "bias", "xgboost"].map(stem)).to.deep.equal([
      "signal",
      "study",
      "box",
      "class",
      "analysis",
      "bias",
      "xgboost",
    ]);
    expect(["news", "series", "reviews", "physics"].map(stem)).to.deep.equal(["news", "series", "review", "physics"]);
  });

  it("normalises index text and query words the same way", () => {
    expect(normalizeForIndex("Trading Signals")).to.equal("trading signal");
    expect(parseQuery("trading signals ").map((t) => t.token)).to.deep.equal(["trading", "signal"]);
  });
});

describe("summarizeMarkdown", () => {
  it("takes the prose after a heading in the same paragraph", () => {
    expect(summarizeMarkdown("# GPT-J 6B\nGPT-J 6B is a transformer model.\n")).to.equal(
      "GPT-J 6B is a transformer model.",
    );
  });

  it("never takes code from a fenced block with blank lines in it", () => {
    expect(summarizeMarkdown("```python\nimport torch\n\nmodel = load()\n```\n\nReads Finnish speech.\n")).to.equal(
      "Reads Finnish speech.",
    );
  });

  it("keeps underscores in identifiers and removes <br> whole", () => {
    expect(summarizeMarkdown("Load it with `from_pretrained`,<br>then call __it__ or _this_.")).to.equal(
      "Load it with from_pretrained, then call it or this.",
    );
  });
});

describe("compoundWords", () => {
  it("splits camel case and keeps the compound and adjacent pairs", () => {
    expect(compoundWords("CodeBERTaPy")).to.deep.equal(["codebertapy", "code", "berta", "py", "codeberta", "bertapy"]);
    expect(compoundWords("opus-mt-fi-en")).to.deep.equal([]);
  });
});

describe("parseQuery", () => {
  it("drops stopwords and marks only the last word being typed as a prefix", () => {
    expect(parseQuery("model for credit sco")).to.deep.equal([
      { token: "credit", prefix: false },
      { token: "sco", prefix: true },
    ]);
  });

  it("gives no terms for a query of stopwords or punctuation", () => {
    expect(parseQuery("the model")).to.deep.equal([]);
    expect(parseQuery('*"():^-')).to.deep.equal([]);
  });
});

describe("toMatchExpression", () => {
  it("quotes every term so nothing in it is FTS5 syntax", () => {
    const terms = [
      { token: "near", alternatives: [{ text: "near", prefix: false }] },
      {
        token: "riks",
        alternatives: [
          { text: "risk", prefix: false },
          { text: "rik", prefix: false },
        ],
      },
      { token: "sc", alternatives: [{ text: "sc", prefix: true }] },
    ];
    expect(toMatchExpression(terms, "AND")).to.equal('"near" AND ("risk" OR "rik") AND "sc"*');
  });
});

describe("modelIdNumber", () => {
  it("makes the hub's number of a model id from the chain's bigint, a number or a decimal string", () => {
    expect([modelIdNumber(7n), modelIdNumber(7), modelIdNumber("7"), modelIdNumber(2n ** 53n - 1n)]).to.deep.equal([
      7,
      7,
      7,
      Number.MAX_SAFE_INTEGER,
    ]);
  });

  it("throws InputError for what is not a model id, or one above 2^53 - 1", () => {
    for (const bad of [0n, -1, 1.5, "x", 2n ** 53n]) expect(() => modelIdNumber(bad), String(bad)).to.throw(InputError);
  });
});

describe("cidToString", () => {
  it("encodes a binary CIDv1 in base32 with the b multibase prefix", () => {
    const digest = createHash("sha256").update("hello world").digest();
    const cid = Uint8Array.from([0x01, 0x55, 0x12, 0x20, ...digest]);
    expect(cidToString(cid)).to.equal("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e");
  });
});
