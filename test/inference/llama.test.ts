import { expect } from "chai";
import { InputError } from "../../src/core/errors";
import {
  crossEntropy,
  initLlama,
  llamaBackward,
  llamaForward,
  tensorsOf,
  zerosLike,
  type LlamaConfig,
} from "../../src/inference/text/llama";
import { evaluateLoss, learningRateAt, trainLlama } from "../../src/inference/text/train";

const CONFIG: LlamaConfig = {
  vocab: 11,
  dim: 8,
  layers: 2,
  heads: 2,
  ffn: 12,
  context: 16,
  ropeBase: 10000,
  normEps: 1e-5,
};

describe("reference llama", () => {
  describe("llamaForward", () => {
    it("is causal: a position's logits do not depend on later tokens", () => {
      const weights = initLlama(CONFIG, 1);
      const a = llamaForward(weights, [1, 2, 3, 4]).logits;
      const b = llamaForward(weights, [1, 2, 9, 9]).logits;
      expect([...a.subarray(0, 2 * CONFIG.vocab)]).to.deep.equal([...b.subarray(0, 2 * CONFIG.vocab)]);
      expect([...a.subarray(2 * CONFIG.vocab)]).to.not.deep.equal([...b.subarray(2 * CONFIG.vocab)]);
    });

    it("refuses an empty sequence, one longer than the context, and tokens outside the vocabulary", () => {
      const weights = initLlama(CONFIG, 1);
      expect(() => llamaForward(weights, [])).to.throw(InputError, /0 tokens/);
      expect(() => llamaForward(weights, new Array<number>(17).fill(0))).to.throw(
        InputError,
        /17 tokens, expected 1 to 16/,
      );
      expect(() => llamaForward(weights, [11])).to.throw(InputError, /token 11 is outside/);
    });

    it("refuses heads of odd width (RoPE rotates pairs)", () => {
      expect(() => initLlama({ ...CONFIG, dim: 6, heads: 2 }, 1)).to.throw(InputError, /heads of even width/);
    });
  });

  describe("llamaBackward", () => {
    it("gives the gradient finite differences measure, for every tensor", () => {
      const weights = initLlama(CONFIG, 3);
      // Larger weights than at initialisation, so every path carries a measurable gradient.
      for (const t of tensorsOf(weights))
        for (let i = 0; i < t.data.length; i++)
          t.data[i] = t.data[i]! * 20 + (t.name.endsWith("Norm") ? 0.1 * Math.sin(i) : 0);
      const tokens = [1, 5, 3, 7, 2, 9, 4];
      const targets = [5, 3, 7, 2, 9, 4, 0];
      const loss = () => crossEntropy(llamaForward(weights, tokens).logits, targets, CONFIG.vocab).loss;
      const { logits, cache } = llamaForward(weights, tokens);
      const grads = zerosLike(weights);
      llamaBackward(weights, cache, crossEntropy(logits, targets, CONFIG.vocab).dLogits, grads);
      const analytic = tensorsOf(grads);
      tensorsOf(weights).forEach((t, k) => {
        for (const i of [0, 3, t.data.length - 1]) {
          const old = t.data[i]!;
          t.data[i] = old + 1e-5;
          const up = loss();
          t.data[i] = old - 1e-5;
          const down = loss();
          t.data[i] = old;
          const numeric = (up - down) / 2e-5;
          expect(analytic[k]!.data[i], `${t.name}[${i}]`).to.be.closeTo(numeric, 1e-6 + 1e-4 * Math.abs(numeric));
        }
      });
    });
  });

  describe("trainLlama", () => {
    const stream = Array.from({ length: 400 }, (_, i) => [1, 2, 3, 4, 5, 6, 7, 8, 9, 10][(i * 3) % 10]! % 11);
    const options = {
      steps: 30,
      batch: 2,
      window: 12,
      learningRate: 0.02,
      warmupSteps: 3,
      weightDecay: 0.01,
      clip: 1,
      seed: 5,
    };

    it("learns a periodic sequence and is deterministic for a seed", () => {
      const a = trainLlama(CONFIG, stream, options);
      const b = trainLlama(CONFIG, stream, options);
      expect(a.losses).to.deep.equal(b.losses);
      tensorsOf(a.weights).forEach((t, i) => expect([...t.data]).to.deep.equal([...tensorsOf(b.weights)[i]!.data]));
      expect(a.losses.at(-1)).to.be.below(a.losses[0]! / 3);
      expect(evaluateLoss(a.weights, stream.slice(0, 100), 12)).to.be.below(Math.log(CONFIG.vocab) / 3);
    });

    it("warms the learning rate up linearly, then decays it by a cosine to a tenth", () => {
      const schedule = { steps: 110, learningRate: 1, warmupSteps: 10 };
      expect(learningRateAt(0, schedule)).to.equal(0.1);
      expect(learningRateAt(9, schedule)).to.equal(1);
      expect(learningRateAt(10, schedule)).to.equal(1);
      expect(learningRateAt(60, schedule)).to.be.closeTo(0.55, 1e-12);
      expect(learningRateAt(110, schedule)).to.be.closeTo(0.1, 1e-12);
    });

    it("refuses a window beyond the context or a stream too short for it", () => {
      expect(() => trainLlama(CONFIG, stream, { ...options, window: 17 })).to.throw(InputError);
      expect(() => trainLlama(CONFIG, stream.slice(0, 12), options)).to.throw(InputError);
    });
  });
});
