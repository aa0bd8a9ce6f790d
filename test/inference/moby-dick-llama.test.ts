import hre from "hardhat";
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { sha256Hex } from "../../src/core/hash";
import { parseModelCard } from "../../src/hub/card";
import { publishModel } from "../../src/hub/publish";
import { BpeTokenizer } from "../../src/inference/text/bpe";
import { ggufToLlama } from "../../src/inference/text/export";
import { evaluateLoss } from "../../src/inference/text/train";
import { MOBY_DICK_CONFIG, mobyDickCorpus, mobyDickLlama, textModelFiles } from "../../src/models/moby-dick-llama";
import { canonicalCid, EmbeddedContentStore } from "../../src/storage";
import { MODEL_PRICE, systemFixture } from "../fixtures/system";

describe("the bundled Moby-Dick llama", () => {
  const model = mobyDickLlama();

  it("is a small F32 llama GGUF whose SHA-256 is the one recorded when it was trained", () => {
    expect(sha256Hex(model.gguf)).to.equal(model.facts.ggufSha256);
    expect(model.gguf.length).to.be.below(2 * 1024 * 1024);
    const { weights } = ggufToLlama(model.gguf);
    expect(weights.config).to.deep.equal({ ...MOBY_DICK_CONFIG, vocab: 512, normEps: Math.fround(1e-5) });
  });

  it("holds out chapters it was not trained on", () => {
    const corpus = mobyDickCorpus();
    expect(corpus.heldOutChapters).to.have.length(13);
    for (const paragraph of corpus.heldOut
      .split("\n\n")
      .filter((p) => p.length > 200)
      .slice(0, 50))
      expect(corpus.train.includes(paragraph)).to.equal(false);
  });

  it("has the held-out perplexity its card states, recomputed here from the GGUF's weights", () => {
    const { weights, vocabulary } = ggufToLlama(model.gguf);
    const heldOut = new BpeTokenizer(vocabulary).encode(mobyDickCorpus().heldOut);
    expect(heldOut.length).to.equal(model.facts.heldOutTokens);
    const loss = evaluateLoss(weights, heldOut, weights.config.context);
    expect(loss).to.be.closeTo(model.facts.heldOutLoss, 1e-9);
    expect(model.card).to.contain(`perplexity ${Math.exp(loss).toFixed(1)}`);
    // It learnt something: far better than a unigram model of the same tokens.
    expect(Math.exp(loss)).to.be.below(model.facts.unigramPerplexity / 2);
  });

  it("has a card the hub reads as a text-generation model", () => {
    const card = parseModelCard(model.card);
    expect(card.task).to.equal("text-generation");
    expect(card.license).to.equal("mit");
    expect(card.name).to.equal("moby-dick-llama");
    expect(model.card).to.match(/Moby-Dick-flavoured babble/);
  });

  describe("publishing", () => {
    let tmp: string;
    let content: EmbeddedContentStore;
    before(async () => {
      tmp = mkdtempSync(path.join(tmpdir(), "vin-textgen-"));
      content = await EmbeddedContentStore.open(path.join(tmp, "ipfs"));
    });
    after(async () => {
      await content.close();
      rmSync(tmp, { recursive: true, force: true });
    });

    it("is published like any model: model.gguf and README.md by CID and SHA-256, in versions", async () => {
      const fx = await loadFixture(systemFixture);
      const registry = fx.system.registry.connect(fx.owner);
      const files = textModelFiles(model);
      const first = await publishModel({
        registry,
        store: content,
        files,
        modes: [{ mode: "vanilla" }],
        price: MODEL_PRICE,
      });
      expect(first.card.task).to.equal("text-generation");
      const registered = await fx.system.registry.filesOf(first.modelId, 1);
      expect(registered.map((f) => f.path).sort()).to.deep.equal(["README.md", "model.gguf"]);
      for (const f of registered) {
        const bytes = files.find((x) => x.path === f.path)!.bytes;
        expect(f.sha256).to.equal(sha256Hex(bytes));
        const stored = await content.cat(await canonicalCid(Buffer.from(f.cid.slice(2), "hex")));
        expect(Buffer.from(stored).equals(Buffer.from(bytes))).to.equal(true);
      }
      const second = await publishModel({
        registry,
        store: content,
        files,
        modes: [{ mode: "vanilla" }],
        modelId: first.modelId,
      });
      expect([second.modelId, second.version]).to.deep.equal([first.modelId, 2]);
      expect(await hre.ethers.provider.getBlockNumber()).to.be.greaterThan(0);
    });
  });
});
