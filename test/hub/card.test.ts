import { expect } from "chai";
import { cardHashOf, DEFAULT_MAX_CARD_BYTES, parseModelCard, verifyModelCard } from "../../src/hub/card";
import {
  CardFieldError,
  CardFrontMatterMissingError,
  CardHashMismatchError,
  CardTooLargeError,
  CardYamlError,
} from "../../src/hub/errors";
import { BaseError, InputError } from "../../src/core/errors";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadRealCards, REAL_CARDS_DIR } from "../../bench/search/real";
import { cardText } from "./fixtures";

function parseError(text: string): unknown {
  try {
    parseModelCard(text);
  } catch (error) {
    return error;
  }
  throw new Error("expected parseModelCard to throw");
}

describe("parseModelCard", () => {
  it("returns every field of a complete card, normalised", () => {
    const text = cardText(
      {
        name: "acme/finbert-tone",
        task: "Text Classification",
        license: "Apache-2.0",
        library: "Transformers",
        tags: ["finance", "sentiment"],
        datasets: "financial_phrasebank",
        base_model: ["ProsusAI/finbert"],
        language: "en",
      },
      "# FinBERT tone\n\nScores financial news.\n",
    );
    const card = parseModelCard(text);
    expect(card).to.deep.equal({
      name: "acme/finbert-tone",
      task: "text-classification",
      license: "apache-2.0",
      licenses: ["apache-2.0"],
      library: "transformers",
      tags: ["finance", "sentiment"],
      datasets: ["financial_phrasebank"],
      baseModels: ["ProsusAI/finbert"],
      languages: ["en"],
      extra: {},
      body: "# FinBERT tone\n\nScores financial news.\n",
      warnings: [],
    });
  });

  it("leaves optional fields empty when absent or null", () => {
    const card = parseModelCard("---\nname: m\ntask: translation\nlicense: mit\nlibrary:\n---\n");
    expect(card.library).to.equal(undefined);
    expect(card.tags).to.deep.equal([]);
    expect(card.baseModels).to.deep.equal([]);
  });

  for (const field of ["name", "task", "license"]) {
    it(`throws CardFieldError naming \`${field}\` when it is missing`, () => {
      const fields: Record<string, unknown> = { name: "m", task: "translation", license: "mit" };
      delete fields[field];
      const error = parseError(
        `---\n${Object.entries(fields)
          .map(([k, v]) => `${k}: ${String(v)}`)
          .join("\n")}\n---\n`,
      );
      expect(error).to.be.instanceOf(CardFieldError).and.to.be.instanceOf(InputError);
      expect((error as CardFieldError).field).to.equal(field);
      expect((error as CardFieldError).message).to.contain(`\`${field}\``);
    });
  }

  it("throws CardFieldError naming `tags` when tags is a mapping", () => {
    const error = parseError(cardText({ tags: { finance: true } }));
    expect(error).to.be.instanceOf(CardFieldError);
    expect((error as CardFieldError).field).to.equal("tags");
  });

  it("throws CardFieldError naming the element when a tag is not a string", () => {
    const error = parseError(cardText({ tags: ["ok", { nested: true }] }));
    expect((error as CardFieldError).field).to.equal("tags[1]");
  });

  it("throws CardFieldError naming `name` when it is a number", () => {
    const error = parseError(cardText({ name: 42 }));
    expect((error as CardFieldError).field).to.equal("name");
    expect((error as CardFieldError).problem).to.contain("a number");
  });

  it("throws CardFieldError naming `task` when it is not an identifier", () => {
    expect((parseError(cardText({ task: "text/classification!" })) as CardFieldError).field).to.equal("task");
  });

  it("throws CardYamlError with the line of the error in the card", () => {
    const error = parseError("---\nname: m\ntask: translation\nlicense: [mit\n---\nbody");
    expect(error).to.be.instanceOf(CardYamlError);
    expect((error as CardYamlError).line).to.be.within(4, 5);
    expect((error as CardYamlError).message).to.match(/line \d+, column \d+/);
    expect((error as CardYamlError).cause).to.be.instanceOf(Error);
  });

  it("throws CardYamlError on a duplicated key", () => {
    expect(parseError("---\nname: a\nname: b\ntask: t\nlicense: mit\n---\n")).to.be.instanceOf(CardYamlError);
  });

  it("throws CardFieldError when the front matter is not a mapping", () => {
    expect((parseError("---\n- a\n- b\n---\n") as CardFieldError).field).to.equal("(front matter)");
  });

  it("reads a card with no front matter leniently as empty metadata, as huggingface_hub does, and says so", () => {
    const card = parseModelCard("# Twitter sentiment\n\nClassifies tweets.\n", {
      lenient: true,
      name: "cardiffnlp/twitter-roberta-base-sentiment",
    });
    expect(card).to.deep.include({
      name: "cardiffnlp/twitter-roberta-base-sentiment",
      task: "other",
      license: "unknown",
      body: "# Twitter sentiment\n\nClassifies tweets.\n",
    });
    expect(card.warnings[0]).to.equal("the card has no front matter; read as empty metadata");
    expect(() => parseModelCard("---\nname: m\n", { lenient: true })).to.throw(CardFrontMatterMissingError);
  });

  it("throws CardFrontMatterMissingError without front matter", () => {
    expect(parseError("# Just markdown\n")).to.be.instanceOf(CardFrontMatterMissingError);
    expect(parseError("---\nname: m\n")).to.be.instanceOf(CardFrontMatterMissingError);
  });

  it("throws CardTooLargeError above the size limit, counting UTF-8 bytes", () => {
    const error = parseError(cardText({}, "é".repeat(DEFAULT_MAX_CARD_BYTES / 2)));
    expect(error).to.be.instanceOf(CardTooLargeError);
    expect((error as CardTooLargeError).max).to.equal(DEFAULT_MAX_CARD_BYTES);
    expect(() => parseModelCard(cardText({}), { maxBytes: 10 })).to.throw(CardTooLargeError);
  });

  it("refuses an alias bomb instead of expanding it", () => {
    const bomb =
      "---\nname: m\ntask: t\nlicense: mit\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n---\n";
    expect(parseError(bomb)).to.be.instanceOf(BaseError);
  });
});

describe("parseModelCard on real Hugging Face card shapes", () => {
  const hf = "language:\n- fi\n- en\ntags:\n- translation\nlicense: apache-2.0";

  it("reads a card with blank lines before the opening `---`, with a warning", () => {
    const card = parseModelCard(`\n\n---\n${hf}\n---\n# opus-mt-fi-en\n`, { name: "Helsinki-NLP/opus-mt-fi-en" });
    expect(card.task).to.equal("translation");
    expect(card.body).to.equal("# opus-mt-fi-en\n");
    expect(card.warnings.join()).to.contain("blank line");
  });

  it("reads a list of licenses: the first is shown, all are kept for the license filter", () => {
    const card = parseModelCard("---\nname: m\npipeline_tag: fill-mask\nlicense:\n- MIT\n- apache-2.0\n- mit\n---\n");
    expect(card.license).to.equal("mit");
    expect(card.licenses).to.deep.equal(["mit", "apache-2.0"]);
    expect(card.warnings).to.deep.equal([]);
  });

  it("throws CardFieldError naming the element when a listed license is not an identifier", () => {
    expect(() => parseModelCard("---\nname: m\npipeline_tag: fill-mask\nlicense:\n- mit\n- my license!\n---\n"))
      .to.throw(CardFieldError)
      .with.property("field", "license[1]");
  });

  it("reads a quoted string that continues at column 0 as PyYAML does", () => {
    const text =
      '---\nname: m\npipeline_tag: text-classification\nlicense: mit\nwidget:\n- text: "I loved\nthis film"\n---\nBody.\n';
    const card = parseModelCard(text);
    expect(card.extra.widget).to.deep.equal([{ text: "I loved this film" }]);
    expect(card.warnings.join()).to.contain("column 0 (line 7)");
  });

  it("still throws CardYamlError naming the line when the repair does not help", () => {
    const error = parseError('---\nname: m\nlicense: mit\nwidget:\n- text: "never closed\nnext: [\n---\n');
    expect(error).to.be.instanceOf(CardYamlError);
    expect((error as CardYamlError).line).to.be.within(5, 7);
  });

  it("reads front matter opened with `--`, never leaving the YAML in the body", () => {
    const card = parseModelCard(`--\n${hf}\n---\nThe body.\n`, { name: "x/y" });
    expect(card.languages).to.deep.equal(["fi", "en"]);
    expect(card.body).to.equal("The body.\n");
    expect(card.warnings.join()).to.contain("opens with `--`");
  });

  it("reads front matter without an opening `---` line, never leaving the YAML in the body", () => {
    const card = parseModelCard(`${hf}\n---\nThe body.\n`, { name: "x/y" });
    expect(card.license).to.equal("apache-2.0");
    expect(card.body).to.equal("The body.\n");
    expect(card.warnings.join()).to.contain("no opening `---`");
  });

  it("throws CardYamlError when front matter opened with `--` is not YAML", () => {
    expect(parseError("--\nname: [x\n---\nbody\n")).to.be.instanceOf(CardYamlError);
  });

  it("takes the task from pipeline_tag, model-index or a tag, the library from library_name, the name from an option", () => {
    expect(
      parseModelCard("---\npipeline_tag: summarization\nlicense: mit\nlibrary_name: Transformers\n---\n", {
        name: "a/b",
      }),
    ).to.deep.include({ name: "a/b", task: "summarization", library: "transformers" });
    const indexed = parseModelCard(
      "---\nlicense: mit\nmodel-index:\n- name: qa-v2\n  results:\n  - task:\n      type: question-answering\n---\n",
    );
    expect(indexed).to.deep.include({ name: "qa-v2", task: "question-answering" });
    expect(indexed.warnings).to.have.length(2);
    expect(parseModelCard("---\nlicense: mit\ntags:\n- NER\n---\n", { name: "a/b" }).task).to.equal(
      "token-classification",
    );
  });

  it("reads a card without license or task as `unknown` / `other` when lenient (as the indexer does), with warnings", () => {
    const card = parseModelCard("---\nname: m\ntags: [pytorch]\n---\n", { lenient: true });
    expect(card).to.deep.include({ task: "other", license: "unknown" });
    expect(card.warnings).to.have.length(2);
    expect(verifyModelCard("---\nname: m\n---\n", cardHashOf("---\nname: m\n---\n")).license).to.equal("unknown");
  });

  it("says what to add when no task can be found", () => {
    const error = parseError("---\nname: m\nlicense: mit\ntags: [pytorch]\n---\n");
    expect((error as CardFieldError).field).to.equal("task");
    expect((error as CardFieldError).message).to.contain("pipeline_tag");
  });

  it("reads a single tag, numbers and `name: description` dataset entries, with warnings", () => {
    const card = parseModelCard(
      "---\nname: m\ntask: t\nlicense: mit\ntags: autotrain\ndatasets:\n- common_voice\n- CSS10 finnish: Single Speaker Speech Dataset\n- 2021\n---\n",
    );
    expect(card.tags).to.deep.equal(["autotrain"]);
    expect(card.datasets).to.deep.equal(["common_voice", "CSS10 finnish: Single Speaker Speech Dataset", "2021"]);
    expect(card.warnings).to.have.length(2);
  });

  it("reads `language` as a list of lower-case codes", () => {
    expect(parseModelCard(cardText({ language: "FI" })).languages).to.deep.equal(["fi"]);
    expect(parseModelCard(cardText({ language: ["de", "fr"] })).languages).to.deep.equal(["de", "fr"]);
  });

  it("parses every card of the real-card set (bench/search/real-cards)", () => {
    const { sources } = loadRealCards();
    for (const s of sources) {
      const text = readFileSync(join(REAL_CARDS_DIR, s.file), "utf8");
      try {
        parseModelCard(text, { name: s.model, lenient: true });
      } catch (error) {
        expect.fail(`${s.file}: ${String(error)}`);
      }
    }
  });
});

describe("verifyModelCard", () => {
  it("parses a card whose hash matches", () => {
    const text = cardText({ name: "m" });
    expect(verifyModelCard(text, cardHashOf(text).toUpperCase().replace("0X", "0x")).name).to.equal("m");
  });

  it("throws CardHashMismatchError with both hashes when it does not", () => {
    const text = cardText({});
    expect(() => verifyModelCard(text, `0x${"00".repeat(32)}`))
      .to.throw(CardHashMismatchError)
      .with.property("actual", cardHashOf(text));
  });
});
