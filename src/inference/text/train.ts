/**
 * Next-token training of a {@link LlamaWeights} model on one token stream: AdamW on random windows, a linear warm-up
 * then cosine decay, gradient clipping. Single-threaded and seeded, so the same inputs give the same bytes.
 */
import { InputError } from "../../core/errors";
import { seededRandom } from "../../core/random";
import {
  crossEntropy,
  initLlama,
  llamaBackward,
  llamaForward,
  tensorsOf,
  zerosLike,
  type LlamaConfig,
  type LlamaWeights,
} from "./llama";

export interface TrainOptions {
  steps: number;
  /** Sequences per step. */
  batch: number;
  /** Tokens per sequence (at most the context). */
  window: number;
  learningRate: number;
  warmupSteps: number;
  /** Decoupled weight decay of the matrices (not of the norms). */
  weightDecay: number;
  /** Largest global gradient norm. */
  clip: number;
  seed: number;
  /** Called after every step with the step's mean training loss (nats per token). */
  onStep?: (step: number, loss: number) => void;
}

/** What training produced, besides the weights. */
export interface TrainResult {
  weights: LlamaWeights;
  /** Mean training loss of each step. */
  losses: number[];
  tokensSeen: number;
}

/**
 * Trains a model of shape `config` from scratch on `tokens`.
 *
 * @example
 * const { weights, losses } = trainLlama(config, ids, { steps: 100, batch: 8, window: 64, ... });
 */
export function trainLlama(config: LlamaConfig, tokens: readonly number[], options: TrainOptions): TrainResult {
  if (options.window > config.context || tokens.length <= options.window + 1)
    throw new InputError(`training needs more than ${options.window + 1} tokens and a window within the context`);
  const weights = initLlama(config, options.seed);
  const random = seededRandom(options.seed + 1);
  const params = tensorsOf(weights);
  const moments = params.map((p) => ({ m: new Float64Array(p.data.length), v: new Float64Array(p.data.length) }));
  const losses: number[] = [];
  for (let step = 0; step < options.steps; step++) {
    const grads = zerosLike(weights);
    let loss = 0;
    for (let b = 0; b < options.batch; b++) {
      const start = Math.floor(random() * (tokens.length - options.window - 1));
      const input = tokens.slice(start, start + options.window);
      const targets = tokens.slice(start + 1, start + options.window + 1);
      const { logits, cache } = llamaForward(weights, input);
      const ce = crossEntropy(logits, targets, config.vocab, options.batch * options.window);
      llamaBackward(weights, cache, ce.dLogits, grads);
      loss += ce.loss / options.batch;
    }
    adamStep(params, tensorsOf(grads), moments, step, options);
    losses.push(loss);
    options.onStep?.(step, loss);
  }
  return { weights, losses, tokensSeen: options.steps * options.batch * options.window };
}

/** The learning rate at `step`: linear warm-up, then cosine decay to a tenth. */
export function learningRateAt(step: number, options: Pick<TrainOptions, "steps" | "learningRate" | "warmupSteps">) {
  if (step < options.warmupSteps) return (options.learningRate * (step + 1)) / options.warmupSteps;
  const progress = (step - options.warmupSteps) / Math.max(1, options.steps - options.warmupSteps);
  return options.learningRate * (0.1 + 0.45 * (1 + Math.cos(Math.PI * progress)));
}

function adamStep(
  params: { name: string; data: Float64Array }[],
  grads: { data: Float64Array }[],
  moments: { m: Float64Array; v: Float64Array }[],
  step: number,
  options: TrainOptions,
): void {
  let norm = 0;
  for (const g of grads) for (let i = 0; i < g.data.length; i++) norm += g.data[i]! ** 2;
  norm = Math.sqrt(norm);
  const scale = norm > options.clip ? options.clip / norm : 1;
  const lr = learningRateAt(step, options);
  const [beta1, beta2, eps] = [0.9, 0.95, 1e-8];
  const c1 = 1 - beta1 ** (step + 1);
  const c2 = 1 - beta2 ** (step + 1);
  params.forEach((p, k) => {
    const g = grads[k]!.data;
    const { m, v } = moments[k]!;
    const decay = p.name.endsWith("Norm") ? 0 : options.weightDecay;
    for (let i = 0; i < p.data.length; i++) {
      const gi = g[i]! * scale;
      m[i] = beta1 * m[i]! + (1 - beta1) * gi;
      v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
      p.data[i] = p.data[i]! * (1 - lr * decay) - (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps);
    }
  });
}

/**
 * Mean cross-entropy (nats per token) of `tokens` under `weights`, over consecutive windows of `window` tokens
 * (each window predicts its tokens from the ones before it in the same window).
 */
export function evaluateLoss(weights: LlamaWeights, tokens: readonly number[], window: number): number {
  let total = 0;
  let count = 0;
  for (let start = 0; start + 1 < tokens.length; start += window) {
    const input = tokens.slice(start, Math.min(start + window, tokens.length - 1));
    const targets = tokens.slice(start + 1, start + 1 + input.length);
    const { loss } = crossEntropy(llamaForward(weights, input).logits, targets, weights.config.vocab);
    total += loss * input.length;
    count += input.length;
  }
  return total / count;
}
