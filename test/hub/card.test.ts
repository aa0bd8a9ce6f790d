import { expect } from "chai";
import {
  cardHashOf,
  DEFAULT_MAX_CARD_BYTES,
  parseModelCard,
  verifyModelCard,
} from "../../src/hub/card";
import {
  CardFieldError,
  CardFrontMatterMissingError,
  CardHashMismatchError,
  CardTooLargeError,
  CardYamlError,
  HubError,
} from "../../src/hub/errors";
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
      { name: "acme/finbert-tone", task: "Text Classification", license: "Apache-2.0", library: "Transformers", tags: ["finance", "sentiment"], datasets: "financial_phrasebank", base_model: ["ProsusAI/finbert"], language: "en" },
      "# FinBERT tone\n\nScores financial news.\n",
    );
    const card = parseModelCard(text);
    expect(card).to.deep.equal({
      name: "acme/finbert-tone",
      task: "text-classification",
      license: "apache-2.0",
      library: "transformers",
      tags: ["finance", "sentiment"],
      datasets: ["financial_phrasebank"],
      baseModels: ["ProsusAI/finbert"],
      extra: { language: "en" },
      body: "# FinBERT tone\n\nScores financial news.\n",
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
      const error = parseError(`---\n${Object.entries(fields).map(([k, v]) => `${k}: ${String(v)}`).join("\n")}\n---\n`);
      expect(error).to.be.instanceOf(CardFieldError).and.to.be.instanceOf(HubError);
      expect((error as CardFieldError).field).to.equal(field);
      expect((error as CardFieldError).message).to.contain(`\`${field}\``);
    });
  }

  it("throws CardFieldError naming `tags` when tags is not a list", () => {
    const error = parseError(cardText({ tags: "finance" }));
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
    const bomb = "---\nname: m\ntask: t\nlicense: mit\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n---\n";
    expect(parseError(bomb)).to.be.instanceOf(HubError);
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
