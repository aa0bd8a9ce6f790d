import { expect } from "chai";
import { HubParamError } from "../../src/hub/errors";
import type { SearchEngine, SearchHit } from "../../src/hub/search";
import type { HubStore } from "../../src/hub/store";
import { stem } from "../../src/hub/text";
import { freshHub, publish } from "./fixtures";

const names = (hits: readonly SearchHit[]) => hits.map((h) => h.name);
const filler = "This card describes how the model was trained and evaluated, with its limitations and biases.";

/** Cards whose words differ from the words users search with: codes against names, acronyms against expansions. */
function vocabularyHub(): { store: HubStore; engine: SearchEngine } {
  const hub = freshHub();
  const card = (model: number, fields: Record<string, unknown>, body = filler) =>
    publish(hub.store, { model, fields, body });
  card(1, { name: "Helsinki-NLP/opus-mt-fi-en", task: "translation", license: "apache-2.0" });
  card(2, { name: "acme/xlsr-speech", task: "automatic-speech-recognition", license: "mit", language: "fi" });
  card(3, { name: "acme/tagger", task: "token-classification", license: "mit", tags: ["conll2003"] });
  card(4, { name: "acme/reader", task: "question-answering", license: "mit", datasets: ["squad_v2"] });
  card(5, { name: "google/MobileBERT-uncased", task: "fill-mask", license: "apache-2.0" });
  card(6, { name: "mrm8488/CodeBERTaPy", task: "fill-mask", license: "mit" });
  card(7, { name: "acme/fake-news-detector", task: "text-classification", license: "mit" });
  card(
    8,
    { name: "acme/new-york-tagger", task: "text-classification", license: "mit" },
    "A new model for new users, newly trained in New York. New, new, new.",
  );
  card(9, { name: "acme/summarizer", task: "summarization", license: "mit" }, `${filler} It summarizes long reports.`);
  card(
    10,
    { name: "acme/generic-classifier", task: "text-classification", license: "mit" },
    "Mentions summarization, summarization and summarization in its long body. ".repeat(3) + filler.repeat(5),
  );
  return hub;
}

describe("search vocabulary and ranking", () => {
  let hub: { store: HubStore; engine: SearchEngine };
  before(() => {
    hub = vocabularyHub();
  });
  after(() => hub.store.close());

  it("finds a language pair written as ISO codes in the name by the language names", () => {
    expect(names(hub.engine.search("finnish english").hits)[0]).to.equal("Helsinki-NLP/opus-mt-fi-en");
  });

  it("finds a card whose `language` is a code by the language name, and the reverse", () => {
    expect(names(hub.engine.search("finnish speech").hits)[0]).to.equal("acme/xlsr-speech");
    expect(names(hub.engine.search("fi asr").hits)[0]).to.equal("acme/xlsr-speech");
  });

  it("finds a task by its acronym and an acronym by its expansion", () => {
    expect(names(hub.engine.search("NER").hits)).to.deep.equal(["acme/tagger"]);
    expect(names(hub.engine.search("QA").hits)).to.deep.equal(["acme/reader"]);
    expect(names(hub.engine.search("MT").hits)).to.deep.equal(["Helsinki-NLP/opus-mt-fi-en"]);
    expect(names(hub.engine.search("speech recognition").hits)[0]).to.equal("acme/xlsr-speech");
    expect(names(hub.engine.search("named entity recognition").hits)[0]).to.equal("acme/tagger");
  });

  it("splits compound and camel-case names", () => {
    expect(names(hub.engine.search("mobile bert").hits)[0]).to.equal("google/MobileBERT-uncased");
    expect(names(hub.engine.search("mobilebert").hits)[0]).to.equal("google/MobileBERT-uncased");
    expect(names(hub.engine.search("codeberta").hits)[0]).to.equal("mrm8488/CodeBERTaPy");
    expect(names(hub.engine.search("code berta py").hits)[0]).to.equal("mrm8488/CodeBERTaPy");
  });

  it("does not merge `news` with `new`, typed or finished", () => {
    expect(stem("news")).to.equal("news");
    expect(names(hub.engine.search("news ").hits)).to.deep.equal(["acme/fake-news-detector"]);
    expect(names(hub.engine.search("news").hits)).to.deep.equal(["acme/fake-news-detector"]);
  });

  it("ranks a match in the name or task above repeated mentions in a long body (BM25F)", () => {
    const hits = names(hub.engine.search("summarization").hits);
    expect(hits[0]).to.equal("acme/summarizer");
    expect(hits).to.include("acme/generic-classifier");
  });

  it("filters by language, given as a code or a name, from `language` or a pair in the name", () => {
    expect(names(hub.engine.search("", { language: "Finnish" }).hits)).to.have.members([
      "Helsinki-NLP/opus-mt-fi-en",
      "acme/xlsr-speech",
    ]);
    expect(names(hub.engine.search("speech", { language: "fi" }).hits)).to.deep.equal(["acme/xlsr-speech"]);
    expect(hub.engine.search("", { language: "de" }).hits).to.deep.equal([]);
  });

  it("throws HubParamError naming `language` for an unknown language", () => {
    expect(() => hub.engine.search("", { language: "klingon" }))
      .to.throw(HubParamError)
      .with.property("param", "language");
  });

  it("keeps typo tolerance", () => {
    expect(names(hub.engine.search("finnsih ").hits)).to.include("acme/xlsr-speech");
  });

  it("reports BM25F scores with lower meaning better", () => {
    const hits = hub.engine.search("summarization").hits;
    expect(hits[0]?.score).to.be.below(hits[1]?.score ?? 0);
  });
});
