import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import type { Token } from "node-llama-cpp";
import { InputError, StateError, TimeoutError } from "../../src/core/errors";
import { BpeTokenizer } from "../../src/inference/text/bpe";
import { ggufToLlama } from "../../src/inference/text/export";
import { GgufFormatError } from "../../src/inference/text/gguf";
import { argmaxRow, llamaForward, type LlamaWeights } from "../../src/inference/text/llama";
import { loadLlamaBinding, loadTextGenerator, ModelLoadError } from "../../src/inference/text/llama-cpp";
import {
  GenerationAbortedError,
  GenerationInputError,
  GeneratorStateError,
  type GenerationChunk,
  type TextGenerator,
} from "../../src/inference/text/runtime";
import { mobyDickCorpus, mobyDickLlama } from "../../src/models/moby-dick-llama";
import { expectRejection } from "../fixtures/assert";

/** Greedy continuation by the reference forward pass. */
function referenceGreedy(weights: LlamaWeights, prompt: number[], count: number): number[] {
  const tokens = [...prompt];
  for (let i = 0; i < count; i++)
    tokens.push(argmaxRow(llamaForward(weights, tokens).logits, tokens.length - 1, weights.config.vocab));
  return tokens.slice(prompt.length);
}

/** Log-softmax of row `row`. */
function logSoftmax(logits: Float64Array, row: number, vocab: number): Float64Array {
  const x = logits.subarray(row * vocab, (row + 1) * vocab);
  const max = Math.max(...x);
  const lse = Math.log(x.reduce((s, v) => s + Math.exp(v - max), 0)) + max;
  return x.map((v) => v - lse);
}

async function drain(stream: AsyncGenerator<GenerationChunk, unknown>): Promise<GenerationChunk[]> {
  const chunks: GenerationChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe("TextGenerator on node-llama-cpp (the bundled Moby-Dick llama)", () => {
  const model = mobyDickLlama();
  const { weights, vocabulary } = ggufToLlama(model.gguf);
  const tokenizer = new BpeTokenizer(vocabulary);
  const heldOut = mobyDickCorpus().heldOut;
  const heldOutTokens = tokenizer.encode(heldOut);
  /** Held-out passages of `length` tokens, taken at spread-out places. */
  const passages = (count: number, length: number) =>
    Array.from({ length: count }, (_, i) => {
      const start = Math.floor(((i + 0.5) * heldOutTokens.length) / count);
      return heldOutTokens.slice(start, start + length);
    });
  let generator: TextGenerator;

  before(async () => {
    generator = await loadTextGenerator({ bytes: model.gguf });
  });
  after(async () => {
    await generator?.close();
  });

  it("describes the model it loaded", () => {
    expect(generator.info).to.deep.equal({
      name: "moby-dick-llama",
      architecture: "llama",
      contextSize: 128,
      trainContextSize: 128,
      vocabSize: 512,
      hasChatTemplate: false,
    });
  });

  describe("agreement with the reference forward pass", () => {
    it("tokenizes held-out text to the reference tokenizer's ids, and decodes them back", () => {
      for (let start = 0; start < heldOut.length; start += Math.floor(heldOut.length / 6)) {
        const text = heldOut.slice(start, start + 3000);
        const ids = generator.tokenize(text);
        expect(ids).to.deep.equal(tokenizer.encode(text));
        expect(generator.detokenize(ids)).to.equal(text);
      }
    });

    it("gives the reference's next-token distribution at every position of held-out passages", async () => {
      const llama = await loadLlamaBinding();
      const dir = await mkdtemp(path.join(tmpdir(), "gguf-test-"));
      const file = path.join(dir, "model.gguf");
      await writeFile(file, model.gguf);
      const llamaModel = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
      const context = await llamaModel.createContext({ contextSize: 128, threads: 1 });
      let worst = 0;
      let agree = 0;
      let positions = 0;
      try {
        // 127 tokens: with all 128 cells filled, node-llama-cpp would shift the context before the last step.
        for (const passage of passages(3, 127)) {
          const sequence = context.getSequence();
          const next = { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } };
          const results = await sequence.controlledEvaluate(passage.map((t) => [t as Token, { generateNext: next }]));
          const { logits } = llamaForward(weights, passage);
          passage.forEach((_, p) => {
            const expected = logSoftmax(logits, p, weights.config.vocab);
            const probabilities = results[p]!.next.probabilities!;
            const [top] = probabilities.keys();
            if (top === argmaxRow(logits, p, weights.config.vocab)) agree++;
            positions++;
            // Every token the reference gives at least 1e-4: same log-probability within 0.01 nats.
            expected.forEach((logp, token) => {
              if (logp < Math.log(1e-4)) return;
              worst = Math.max(worst, Math.abs(Math.log(probabilities.get(token as Token) ?? 0) - logp));
            });
          });
          await sequence.dispose();
        }
      } finally {
        await context.dispose();
        await llamaModel.dispose();
        await rm(dir, { recursive: true, force: true });
      }
      expect(worst, "largest log-probability difference").to.be.below(0.01);
      // Near-ties may flip between two float orders; nearly every position has the same most likely token.
      expect(agree / positions).to.be.at.least(0.99);
    });

    it("generates the reference's greedy tokens from held-out prompts", async () => {
      for (const prompt of passages(3, 40)) {
        const { tokens } = await generator.generate({ prompt, maxTokens: 24 });
        expect(tokens).to.deep.equal(referenceGreedy(weights, prompt, 24));
      }
    });
  });

  describe("generate and stream", () => {
    const prompt = "Call me Ishmael. Some years ago";

    it("streams the tokens and text of the non-streamed generation, and returns that generation", async () => {
      const whole = await generator.generate({ prompt, maxTokens: 30 });
      const stream = generator.stream({ prompt, maxTokens: 30 });
      const chunks: GenerationChunk[] = [];
      let next = await stream.next();
      for (; next.done !== true; next = await stream.next()) chunks.push(next.value);
      expect(chunks.flatMap((c) => c.tokens)).to.deep.equal(whole.tokens);
      expect(chunks.map((c) => c.text).join("")).to.equal(whole.text);
      expect(next.value).to.deep.equal(whole);
      expect(whole.text).to.equal(tokenizer.decode(whole.tokens));
    });

    it("counts prompt and completion tokens and stops at maxTokens with finishReason length", async () => {
      const result = await generator.generate({ prompt, maxTokens: 7 });
      expect(result.usage).to.deep.equal({
        promptTokens: tokenizer.encode(prompt).length,
        cachedTokens: 0,
        completionTokens: 7,
      });
      expect(result.tokens).to.have.length(7);
      expect(result.finishReason).to.equal("length");
    });

    it("is deterministic at temperature 0, and reproducible for a seed when sampling", async () => {
      const greedy = await generator.generate({ prompt, maxTokens: 20 });
      expect((await generator.generate({ prompt, maxTokens: 20, temperature: 0, seed: 99 })).tokens).to.deep.equal(
        greedy.tokens,
      );
      const sample = (seed: number) => generator.generate({ prompt, maxTokens: 20, temperature: 1, seed });
      const [a, b] = [await sample(1), await sample(1)];
      expect(a.tokens).to.deep.equal(b.tokens);
      const others = await Promise.all([2, 3, 4].map(sample));
      expect(others.some((o) => o.tokens.join() !== a.tokens.join())).to.equal(true);
      expect([a, ...others].some((o) => o.tokens.join() !== greedy.tokens.join())).to.equal(true);
    });

    it("ends at a stop sequence, which neither the text nor the stream contains", async () => {
      const free = await generator.generate({ prompt, maxTokens: 40 });
      const stop = free.text.slice(12, 16);
      const cut = free.text.indexOf(stop);
      const stopped = await generator.generate({ prompt, maxTokens: 40, stop: [stop] });
      expect(stopped.finishReason).to.equal("stop");
      expect(stopped.text).to.equal(free.text.slice(0, cut));
      expect(stopped.tokens).to.deep.equal(free.tokens.slice(0, stopped.tokens.length));
      expect(stopped.usage.completionTokens).to.equal(stopped.tokens.length);
      const streamed = await drain(generator.stream({ prompt, maxTokens: 40, stop: [stop] }));
      expect(streamed.map((c) => c.text).join("")).to.equal(stopped.text);
    });

    it("renders chat messages in order with a plain template (the model has none) and generates from them", async () => {
      const messages = [
        { role: "system" as const, content: "You are a sailor." },
        { role: "user" as const, content: "Where is the whale?" },
      ];
      const { tokens, stop } = generator.formatChat(messages);
      const text = generator.detokenize(tokens);
      expect(text.indexOf("You are a sailor.")).to.be.below(text.indexOf("Where is the whale?"));
      expect(stop.length).to.be.greaterThan(0);
      const reply = await generator.generate({ prompt: { messages }, maxTokens: 20 });
      expect(reply.usage.promptTokens).to.equal(tokens.length);
      for (const s of stop) expect(reply.text).to.not.contain(s);
    });
  });

  describe("sessions", () => {
    it("reuse the KV cache across turns and continue exactly as a fresh evaluation of the whole prompt", async () => {
      const [first, second] = passages(2, 30);
      const session = await generator.createSession();
      try {
        const turn1 = await session.generate({ prompt: first!, maxTokens: 10 });
        expect(turn1.usage.cachedTokens).to.equal(0);
        const prompt2 = [...first!, ...turn1.tokens, ...second!];
        // The cache holds the prompt and every generated token but the last (never evaluated).
        expect(session.tokens).to.deep.equal([...first!, ...turn1.tokens.slice(0, -1)]);
        const turn2 = await session.generate({ prompt: prompt2, maxTokens: 16 });
        expect(turn2.usage.cachedTokens).to.equal(first!.length + turn1.tokens.length - 1);
        expect(turn2.usage.promptTokens).to.equal(prompt2.length);
        const fresh = await generator.generate({ prompt: prompt2, maxTokens: 16 });
        expect(fresh.usage.cachedTokens).to.equal(0);
        expect(turn2.tokens).to.deep.equal(fresh.tokens);
        expect(turn2.tokens).to.deep.equal(referenceGreedy(weights, prompt2, 16));
        // A prompt that diverges early keeps only the shared prefix.
        const turn3 = await session.generate({ prompt: [...first!.slice(0, 5), ...second!], maxTokens: 4 });
        expect(turn3.usage.cachedTokens).to.equal(5);
        await session.reset();
        expect(session.tokens).to.deep.equal([]);
      } finally {
        await session.close();
      }
    });

    it("hold a context of their own size, within the model's training context", async () => {
      const small = await generator.createSession({ contextSize: 16 });
      expect(small.contextSize).to.equal(16);
      await expectRejection(
        small.generate({ prompt: heldOutTokens.slice(0, 16) }),
        GenerationInputError,
        /context holds 16/,
      );
      const result = await small.generate({ prompt: heldOutTokens.slice(0, 10), maxTokens: 16 });
      expect(result.tokens).to.have.length(6);
      expect(result.finishReason).to.equal("length");
      await small.close();
      await expectRejection(generator.createSession({ contextSize: 129 }), GenerationInputError, /from 2 to 128/);
    });

    it("run one generation at a time, and refuse use after close", async () => {
      const session = await generator.createSession();
      const running = session.stream({ prompt: "The whale", maxTokens: 5 });
      await running.next();
      await expectRejection(
        session.generate({ prompt: "The sea", maxTokens: 5 }),
        GeneratorStateError,
        /already generating/,
      );
      await drain(running);
      expect((await session.generate({ prompt: "The sea", maxTokens: 5 })).tokens).to.have.length(5);
      await session.close();
      await session.close();
      const error = await expectRejection(session.generate({ prompt: "x" }), GeneratorStateError, /session is closed/);
      expect(error).to.be.instanceOf(StateError);
    });
  });

  describe("abort", () => {
    it("ends generation with GenerationAbortedError holding the partial result; the session stays usable", async () => {
      const session = await generator.createSession();
      const controller = new AbortController();
      const seen: number[] = [];
      let caught: unknown;
      try {
        for await (const chunk of session.stream({
          prompt: "Call me Ishmael.",
          maxTokens: 100,
          signal: controller.signal,
        })) {
          seen.push(...chunk.tokens);
          if (seen.length === 3) controller.abort(new Error("client went away"));
        }
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(GenerationAbortedError);
      expect(caught).to.be.instanceOf(TimeoutError);
      const partial = (caught as GenerationAbortedError).partial;
      expect(partial.tokens).to.deep.equal(seen);
      expect(partial.usage.completionTokens).to.equal(3);
      expect((caught as GenerationAbortedError).walk()).to.have.property("message", "client went away");
      const after = await session.generate({ prompt: "Call me Ishmael.", maxTokens: 3 });
      expect(after.tokens).to.deep.equal(seen);
      expect(after.usage.cachedTokens).to.be.greaterThan(0);
      await session.close();
    });

    it("generates nothing when the signal is already aborted", async () => {
      const error = await expectRejection(
        generator.generate({ prompt: "Call me", signal: AbortSignal.abort() }),
        GenerationAbortedError,
        /aborted after 0 tokens/,
      );
      expect((error as GenerationAbortedError).partial.tokens).to.deep.equal([]);
    });
  });

  describe("bad input", () => {
    it("refuses bytes that are not a GGUF file, and a truncated one, before llama.cpp sees them", async () => {
      await expectRejection(
        loadTextGenerator({ bytes: Buffer.from("not a model") }),
        GgufFormatError,
        /not a GGUF file/,
      );
      await expectRejection(
        loadTextGenerator({ bytes: model.gguf.subarray(0, model.gguf.length - 100) }),
        GgufFormatError,
        /truncated: tensor output.weight/,
      );
      await expectRejection(loadTextGenerator({ bytes: model.gguf.subarray(0, 1000) }), GgufFormatError, /truncated/);
    });

    it("refuses a path that is missing, not GGUF, or a truncated GGUF", async () => {
      const dir = await mkdtemp(path.join(tmpdir(), "gguf-bad-"));
      try {
        await expectRejection(loadTextGenerator({ path: path.join(dir, "none.gguf") }), ModelLoadError, /cannot open/);
        await writeFile(path.join(dir, "text.gguf"), "hello");
        await expectRejection(
          loadTextGenerator({ path: path.join(dir, "text.gguf") }),
          ModelLoadError,
          /not a GGUF file/,
        );
        await writeFile(path.join(dir, "cut.gguf"), model.gguf.subarray(0, model.gguf.length - 100));
        await expectRejection(loadTextGenerator({ path: path.join(dir, "cut.gguf") }), ModelLoadError, /cannot load/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it("refuses an empty prompt, tokens outside the vocabulary and a prompt that fills the context", async () => {
      await expectRejection(generator.generate({ prompt: "" }), GenerationInputError, /prompt is empty/);
      await expectRejection(generator.generate({ prompt: [] }), GenerationInputError, /prompt is empty/);
      await expectRejection(generator.generate({ prompt: [1, 512] }), GenerationInputError, /token 512 is outside/);
      await expectRejection(
        generator.generate({ prompt: { messages: [] } }),
        GenerationInputError,
        /at least one message/,
      );
      const long = heldOutTokens.slice(0, 128);
      await expectRejection(
        generator.generate({ prompt: long }),
        GenerationInputError,
        /has 128 tokens; the context holds 128/,
      );
    });

    it("refuses maxTokens, temperature, seed, topP and stop out of range, as InputErrors", async () => {
      const cases: [object, RegExp][] = [
        [{ maxTokens: 0 }, /maxTokens must be an integer from 1 to 128, got 0/],
        [{ maxTokens: 129 }, /maxTokens must be an integer from 1 to 128, got 129/],
        [{ maxTokens: 2.5 }, /maxTokens/],
        [{ temperature: -1 }, /temperature must be from 0 to 2/],
        [{ temperature: Number.NaN }, /temperature/],
        [{ seed: -1 }, /seed must be an integer/],
        [{ topP: 0 }, /topP must be in/],
        [{ stop: ["a", "b", "c", "d", "e"] }, /at most 4 non-empty strings/],
        [{ stop: [""] }, /non-empty/],
      ];
      for (const [options, message] of cases) {
        const error = await expectRejection(
          generator.generate({ prompt: "Call me", ...options }),
          GenerationInputError,
          message,
        );
        expect(error).to.be.instanceOf(InputError);
      }
    });

    it("refuses use of a closed generator", async () => {
      const other = await loadTextGenerator({ bytes: model.gguf });
      await other.close();
      await other.close();
      expect(() => other.tokenize("x")).to.throw(GeneratorStateError, /is closed/);
      await expectRejection(other.generate({ prompt: "x" }), GeneratorStateError, /is closed/);
    });
  });
});
