/**
 * Trains the bundled text model and writes src/models/moby-dick-llama.gguf and its figures (moby-dick-llama.figures.json).
 * Deterministic: the same Node version gives the same bytes. The trained weights are cached under .cache/textgen
 * (keyed by the corpus, tokenizer, shape and training options), so re-exporting does not retrain; `--fresh` ignores
 * the cache.
 *
 *   npm run train:textgen [-- --fresh] [--out <dir>]   (default: src/models)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { sha256Hex } from "../src/core/hash";
import { BpeTokenizer, type BpeVocabulary } from "../src/inference/text/bpe";
import {
  argmaxRow,
  initLlama,
  llamaForward,
  tensorsOf,
  type LlamaConfig,
  type LlamaWeights,
} from "../src/inference/text/llama";
import { evaluateLoss, trainLlama } from "../src/inference/text/train";
import {
  MOBY_DICK_CONFIG,
  MOBY_DICK_FILES,
  MOBY_DICK_LLAMA,
  MOBY_DICK_TRAINING,
  mobyDickCorpus,
  mobyDickVocabulary,
  type MobyDickFacts,
} from "../src/models/moby-dick-llama";
import { llamaToGguf } from "../src/inference/text/export";

const CACHE = path.join(__dirname, "..", ".cache", "textgen");
const SAMPLE_PROMPT = "Call me Ishmael. Some years ago";

interface Trained {
  weights: LlamaWeights;
  losses: number[];
  tokensSeen: number;
  trainSeconds: number;
}

function main(): void {
  const fresh = process.argv.includes("--fresh");
  const outIndex = process.argv.indexOf("--out");
  const out = outIndex < 0 ? undefined : process.argv[outIndex + 1];
  const files =
    out === undefined
      ? MOBY_DICK_FILES
      : {
          gguf: path.join(out, path.basename(MOBY_DICK_FILES.gguf)),
          facts: path.join(out, path.basename(MOBY_DICK_FILES.facts)),
        };
  const corpus = mobyDickCorpus();
  let started = Date.now();
  const vocabulary = mobyDickVocabulary(corpus);
  const tokenizer = new BpeTokenizer(vocabulary);
  const train = tokenizer.encode(corpus.train);
  const heldOut = tokenizer.encode(corpus.heldOut);
  console.log(
    `tokenizer: ${vocabulary.tokens.length} tokens in ${Date.now() - started} ms; ${train.length} training tokens, ${heldOut.length} held-out (chapters ${corpus.heldOutChapters.join(", ")})`,
  );
  const config: LlamaConfig = { ...MOBY_DICK_CONFIG, vocab: vocabulary.tokens.length };
  const key = sha256Hex(
    JSON.stringify({ config, training: MOBY_DICK_TRAINING, vocabulary, train: sha256Hex(corpus.train) }),
  );
  const cacheFile = path.join(CACHE, `${key.slice(2, 18)}.bin`);
  started = Date.now();
  const cached = !fresh && existsSync(cacheFile);
  const trained = cached ? readCache(cacheFile, config) : trainAndCache(config, train, cacheFile);
  console.log(`weights ${cached ? `read from ${cacheFile}` : "trained"} in ${Date.now() - started} ms`);
  const facts = measure(trained, vocabulary, train, heldOut);
  const gguf = llamaToGguf(trained.weights, vocabulary, { name: MOBY_DICK_LLAMA });
  facts.ggufSha256 = sha256Hex(gguf);
  mkdirSync(path.dirname(files.gguf), { recursive: true });
  writeFileSync(files.gguf, gguf);
  writeFileSync(files.facts, `${JSON.stringify(facts, null, 2)}\n`);
  console.log(JSON.stringify(facts, null, 2));
  console.log(`wrote ${files.gguf} (${gguf.length} bytes, sha256 ${facts.ggufSha256})`);
}

function trainAndCache(config: LlamaConfig, tokens: number[], file: string): Trained {
  const started = Date.now();
  const result = trainLlama(config, tokens, {
    ...MOBY_DICK_TRAINING,
    onStep: (step, loss) => {
      if (step % 20 === 0 || step === MOBY_DICK_TRAINING.steps - 1)
        console.log(`step ${step} loss ${loss.toFixed(4)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    },
  });
  const trainSeconds = (Date.now() - started) / 1000;
  const tensors = tensorsOf(result.weights);
  const header = Buffer.from(JSON.stringify({ losses: result.losses, tokensSeen: result.tokensSeen, trainSeconds }));
  const body = Buffer.concat(tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, Buffer.concat([length, header, body]));
  return { ...result, trainSeconds };
}

function readCache(file: string, config: LlamaConfig): Trained {
  const bytes = readFileSync(file);
  const headerLength = bytes.readUInt32LE(0);
  const header = JSON.parse(bytes.subarray(4, 4 + headerLength).toString("utf8")) as Omit<Trained, "weights">;
  const weights = initLlama(config, 0);
  let offset = 4 + headerLength;
  for (const t of tensorsOf(weights)) {
    const view = new Float64Array(
      bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + t.data.byteLength),
    );
    t.data.set(view);
    offset += t.data.byteLength;
  }
  return { ...header, weights };
}

/** Rounds every weight to float32, as stored in the GGUF, so the figures are those of the published file. */
function asFloat32(weights: LlamaWeights): LlamaWeights {
  const copy = initLlama(weights.config, 0);
  const source = tensorsOf(weights);
  tensorsOf(copy).forEach((t, i) => t.data.set(Float32Array.from(source[i]!.data)));
  return copy;
}

function measure(trained: Trained, vocabulary: BpeVocabulary, train: number[], heldOut: number[]): MobyDickFacts {
  const weights = asFloat32(trained.weights);
  const { config } = weights;
  const window = config.context;
  const heldOutLoss = evaluateLoss(weights, heldOut, window);
  const trainLoss = evaluateLoss(weights, train, window);
  const counts = new Float64Array(config.vocab).fill(1);
  for (const t of train) counts[t]! += 1;
  const total = counts.reduce((a, b) => a + b, 0);
  const unigram = heldOut.reduce((sum, t) => sum - Math.log(counts[t]! / total), 0) / heldOut.length;
  const tokenizer = new BpeTokenizer(vocabulary);
  const heldOutChars = [...tokenizer.decode(heldOut)].length;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    config,
    parameters: tensorsOf(weights).reduce((n, t) => n + t.data.length, 0),
    trainTokens: train.length,
    heldOutTokens: heldOut.length,
    tokensSeen: trained.tokensSeen,
    trainSeconds: Math.round(trained.trainSeconds),
    firstLoss: mean(trained.losses.slice(0, 20)),
    finalLoss: mean(trained.losses.slice(-20)),
    trainLoss,
    heldOutLoss,
    heldOutPerplexity: Math.exp(heldOutLoss),
    heldOutBitsPerChar: (heldOutLoss * heldOut.length) / Math.LN2 / heldOutChars,
    unigramPerplexity: Math.exp(unigram),
    ggufSha256: "",
    sample: { prompt: SAMPLE_PROMPT, continuation: greedy(weights, tokenizer, SAMPLE_PROMPT, 40) },
  };
}

function greedy(weights: LlamaWeights, tokenizer: BpeTokenizer, prompt: string, count: number): string {
  const tokens = tokenizer.encode(prompt);
  const start = tokens.length;
  for (let i = 0; i < count && tokens.length < weights.config.context; i++) {
    const { logits } = llamaForward(weights, tokens);
    tokens.push(argmaxRow(logits, tokens.length - 1, weights.config.vocab));
  }
  return tokenizer.decode(tokens.slice(start));
}

main();
