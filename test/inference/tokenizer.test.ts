import { expect } from "chai";
import { BpeTokenizer, byteToUnicode, END_OF_TEXT, pretokenize, trainBpe } from "../../src/inference/text/bpe";
import { ggufToLlama } from "../../src/inference/text/export";
import { mobyDickCorpus, mobyDickLlama } from "../../src/models/moby-dick-llama";

describe("byte-level BPE", () => {
  describe("byteToUnicode", () => {
    it("maps the 256 bytes to 256 distinct printable characters, space to Ġ and newline to Ċ", () => {
      const table = byteToUnicode();
      expect(new Set(table).size).to.equal(256);
      expect(table[0x20]).to.equal("Ġ");
      expect(table[0x0a]).to.equal("Ċ");
      expect(table[0x41]).to.equal("A");
    });
  });

  describe("pretokenize", () => {
    it("splits like GPT-2: contractions, a leading space kept with the word, runs of punctuation and space", () => {
      expect(pretokenize("I'll sail, Ahab's   ship!!\n\n42 whales")).to.deep.equal([
        "I",
        "'ll",
        " sail",
        ",",
        " Ahab",
        "'s",
        "  ",
        " ship",
        "!!",
        "\n",
        "\n",
        "42",
        " whales",
      ]);
    });
  });

  describe("trainBpe", () => {
    const text = "the whale, the white whale, the whale that the whalemen hunt";

    it("learns the most frequent pair first (ties: the pair seen first) and is deterministic", () => {
      const vocab = trainBpe(text, 10);
      expect(vocab).to.deep.equal(trainBpe(text, 10));
      expect(vocab.tokens).to.have.length(256 + vocab.merges.length + 1);
      expect(vocab.tokens.at(-1)).to.equal(END_OF_TEXT);
      expect(vocab.special).to.deep.equal([vocab.tokens.length - 1]);
      // "t h" and "h a" both occur 5 times; "t h" is seen first.
      expect(vocab.merges.slice(0, 2)).to.deep.equal(["t h", "Ġ w"]);
    });

    it("stops early when no pair occurs twice", () => {
      expect(trainBpe("ab", 5).merges).to.deep.equal([]);
    });

    it("refuses a negative merge count", () => {
      expect(() => trainBpe(text, -1)).to.throw(/non-negative integer/);
    });
  });

  describe("BpeTokenizer", () => {
    const vocabulary = ggufToLlama(mobyDickLlama().gguf).vocabulary;
    const tokenizer = new BpeTokenizer(vocabulary);
    const heldOut = mobyDickCorpus().heldOut;

    it("round-trips the held-out chapters of Moby-Dick exactly", () => {
      const ids = tokenizer.encode(heldOut);
      expect(tokenizer.decode(ids)).to.equal(heldOut);
      // Merges compress: fewer tokens than bytes.
      expect(ids.length).to.be.below(Buffer.byteLength(heldOut) / 1.8);
    });

    it("round-trips text it never saw: other scripts, emoji, control bytes", () => {
      for (const text of ["Ὁ κῆτος — 鲸鱼 🐋", "\u0000\t\r\n  ", "ÅÄÖ åäö", "a".repeat(300)])
        expect(tokenizer.decode(tokenizer.encode(text))).to.equal(text);
    });

    it("decodes the end-of-text token to nothing and refuses ids outside the vocabulary", () => {
      const eot = vocabulary.special[0]!;
      expect(tokenizer.decode([...tokenizer.encode("Call me"), eot])).to.equal("Call me");
      expect(() => tokenizer.decode([tokenizer.size])).to.throw(/outside the vocabulary of 512/);
    });

    it("encodes common words of the book as one token", () => {
      expect(tokenizer.encode(" the")).to.have.length(1);
      expect(tokenizer.encode(" whale")).to.have.length.at.most(2);
    });
  });
});
