/**
 * A llama-architecture decoder in plain typed-array math: the reference forward pass that node-llama-cpp's logits
 * are checked against, and the backward pass the trainer uses. The conventions are llama.cpp's, so weights go into a
 * GGUF unchanged: matrices are `[out, in]` row-major, RoPE rotates adjacent pairs `(2i, 2i+1)` of each head by
 * `pos * base^(-2i / headDim)` (llama.cpp's "normal" RoPE, so no Q/K row permutation is needed on export), RMSNorm
 * multiplies by the weight after normalising, attention is scaled by `1/sqrt(headDim)`, and the feed-forward block
 * is SwiGLU: `down(silu(gate(x)) * up(x))`.
 */
import { InputError } from "../../core/errors";
import { seededRandom } from "../../core/random";

/** Hyperparameters of a llama model (every head is a key/value head: no grouped-query attention). */
export interface LlamaConfig {
  vocab: number;
  /** Width of the residual stream (`llama.embedding_length`). */
  dim: number;
  layers: number;
  heads: number;
  /** Hidden width of the feed-forward block (`llama.feed_forward_length`). */
  ffn: number;
  /** Longest sequence (`llama.context_length`). */
  context: number;
  ropeBase: number;
  normEps: number;
}

/** Weights of one block. */
export interface LlamaBlock {
  attnNorm: Float64Array;
  wq: Float64Array;
  wk: Float64Array;
  wv: Float64Array;
  wo: Float64Array;
  ffnNorm: Float64Array;
  gate: Float64Array;
  up: Float64Array;
  down: Float64Array;
}

/** Every weight of a model, row-major `[out, in]`. */
export interface LlamaWeights {
  config: LlamaConfig;
  /** `[vocab, dim]`. */
  embed: Float64Array;
  blocks: LlamaBlock[];
  outNorm: Float64Array;
  /** `[vocab, dim]`. */
  output: Float64Array;
}

/** The names of a block's tensors, in the order they are stored. */
export const BLOCK_TENSORS = ["attnNorm", "wq", "wk", "wv", "wo", "ffnNorm", "gate", "up", "down"] as const;

/** Shape `[rows, cols]` of a block tensor (a norm is `[1, dim]`). */
export function blockShape(config: LlamaConfig, name: keyof LlamaBlock): [number, number] {
  const { dim, ffn } = config;
  if (name === "attnNorm" || name === "ffnNorm") return [1, dim];
  if (name === "gate" || name === "up") return [ffn, dim];
  if (name === "down") return [dim, ffn];
  return [dim, dim];
}

/** Every tensor of `weights` with a stable name, embedding first (the order the trainer and the exporter use). */
export function tensorsOf(weights: LlamaWeights): { name: string; data: Float64Array; shape: [number, number] }[] {
  const { config } = weights;
  return [
    { name: "embed", data: weights.embed, shape: [config.vocab, config.dim] },
    ...weights.blocks.flatMap((block, l) =>
      BLOCK_TENSORS.map((name) => ({ name: `${l}.${name}`, data: block[name], shape: blockShape(config, name) })),
    ),
    { name: "outNorm", data: weights.outNorm, shape: [1, config.dim] },
    { name: "output", data: weights.output, shape: [config.vocab, config.dim] },
  ];
}

/** Checks that the hyperparameters describe a model this code runs. */
export function checkConfig(config: LlamaConfig): void {
  const { vocab, dim, layers, heads, ffn, context } = config;
  for (const [key, value] of Object.entries({ vocab, dim, layers, heads, ffn, context }))
    if (!Number.isInteger(value) || value <= 0) throw new InputError(`llama config: ${key} must be a positive integer`);
  if (dim % heads !== 0 || (dim / heads) % 2 !== 0)
    throw new InputError(`llama config: dim ${dim} must split into ${heads} heads of even width`);
}

/**
 * Random weights: matrices normal with standard deviation 0.02 (the residual projections scaled down by
 * `sqrt(2 * layers)`), norms one. Deterministic for a seed.
 */
export function initLlama(config: LlamaConfig, seed: number): LlamaWeights {
  checkConfig(config);
  const random = seededRandom(seed);
  const normal = (n: number, std: number) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++)
      out[i] = std * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    return out;
  };
  const ones = (n: number) => new Float64Array(n).fill(1);
  const { vocab, dim, ffn, layers } = config;
  const residual = 0.02 / Math.sqrt(2 * layers);
  return {
    config,
    embed: normal(vocab * dim, 0.02),
    blocks: Array.from({ length: layers }, () => ({
      attnNorm: ones(dim),
      wq: normal(dim * dim, 0.02),
      wk: normal(dim * dim, 0.02),
      wv: normal(dim * dim, 0.02),
      wo: normal(dim * dim, residual),
      ffnNorm: ones(dim),
      gate: normal(ffn * dim, 0.02),
      up: normal(ffn * dim, 0.02),
      down: normal(dim * ffn, residual),
    })),
    outNorm: ones(dim),
    output: normal(vocab * dim, 0.02),
  };
}

/* KERNELS */

/** `y[t, o] = sum_i x[t, i] * w[o, i]` for `rows` rows. */
function linear(x: Float64Array, w: Float64Array, rows: number, inDim: number, outDim: number): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let t = 0; t < rows; t++) {
    const xo = t * inDim;
    for (let o = 0; o < outDim; o++) {
      const wo = o * inDim;
      let sum = 0;
      for (let i = 0; i < inDim; i++) sum += x[xo + i]! * w[wo + i]!;
      y[t * outDim + o] = sum;
    }
  }
  return y;
}

/** Backward of {@link linear}: adds to `dw`, returns `dx`. */
function linearBack(
  dy: Float64Array,
  x: Float64Array,
  w: Float64Array,
  dw: Float64Array,
  rows: number,
  inDim: number,
  outDim: number,
): Float64Array {
  const dx = new Float64Array(rows * inDim);
  for (let t = 0; t < rows; t++) {
    const xo = t * inDim;
    for (let o = 0; o < outDim; o++) {
      const g = dy[t * outDim + o]!;
      if (g === 0) continue;
      const wo = o * inDim;
      for (let i = 0; i < inDim; i++) {
        dx[xo + i] += g * w[wo + i]!;
        dw[wo + i] += g * x[xo + i]!;
      }
    }
  }
  return dx;
}

/** RMSNorm of every row; returns the output and each row's `1/rms`. */
function rmsNorm(x: Float64Array, w: Float64Array, rows: number, dim: number, eps: number) {
  const y = new Float64Array(rows * dim);
  const inv = new Float64Array(rows);
  for (let t = 0; t < rows; t++) {
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += x[t * dim + i]! ** 2;
    const r = 1 / Math.sqrt(sum / dim + eps);
    inv[t] = r;
    for (let i = 0; i < dim; i++) y[t * dim + i] = x[t * dim + i]! * r * w[i]!;
  }
  return { y, inv };
}

function rmsNormBack(
  dy: Float64Array,
  x: Float64Array,
  w: Float64Array,
  inv: Float64Array,
  dw: Float64Array,
  rows: number,
  dim: number,
): Float64Array {
  const dx = new Float64Array(rows * dim);
  for (let t = 0; t < rows; t++) {
    const r = inv[t]!;
    let dot = 0;
    for (let i = 0; i < dim; i++) {
      const k = t * dim + i;
      dw[i] += dy[k]! * x[k]! * r;
      dot += w[i]! * dy[k]! * x[k]!;
    }
    const c = (r * r * r * dot) / dim;
    for (let i = 0; i < dim; i++) {
      const k = t * dim + i;
      dx[k] = r * w[i]! * dy[k]! - c * x[k]!;
    }
  }
  return dx;
}

const ropeTables = new Map<string, { cos: Float64Array; sin: Float64Array }>();

function ropeTable(config: LlamaConfig, rows: number) {
  const half = config.dim / config.heads / 2;
  const key = `${half}/${config.ropeBase}/${rows}`;
  let table = ropeTables.get(key);
  if (table === undefined) {
    const cos = new Float64Array(rows * half);
    const sin = new Float64Array(rows * half);
    for (let p = 0; p < rows; p++)
      for (let i = 0; i < half; i++) {
        const angle = p * config.ropeBase ** ((-2 * i) / (2 * half));
        cos[p * half + i] = Math.cos(angle);
        sin[p * half + i] = Math.sin(angle);
      }
    table = { cos, sin };
    ropeTables.set(key, table);
  }
  return table;
}

/** Rotates adjacent pairs of every head in place, by `+angle` (forward) or `-angle` (backward). */
function rope(x: Float64Array, config: LlamaConfig, rows: number, start: number, sign: 1 | -1): void {
  const { dim, heads } = config;
  const half = dim / heads / 2;
  const { cos, sin } = ropeTable(config, start + rows);
  for (let t = 0; t < rows; t++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < half; i++) {
        const k = t * dim + h * 2 * half + 2 * i;
        const c = cos[(start + t) * half + i]!;
        const s = sign * sin[(start + t) * half + i]!;
        const x0 = x[k]!;
        const x1 = x[k + 1]!;
        x[k] = x0 * c - x1 * s;
        x[k + 1] = x0 * s + x1 * c;
      }
}

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/* FORWARD */

interface BlockCache {
  x: Float64Array;
  a: Float64Array;
  aInv: Float64Array;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  p: Float64Array;
  o: Float64Array;
  x2: Float64Array;
  b: Float64Array;
  bInv: Float64Array;
  g: Float64Array;
  u: Float64Array;
  m: Float64Array;
}

/** What the backward pass needs of a forward pass. */
export interface ForwardCache {
  tokens: number[];
  blocks: BlockCache[];
  final: Float64Array;
  finalInv: Float64Array;
  z: Float64Array;
}

/** Causal self-attention of all rows at once; `p` holds the probabilities `[heads, rows, rows]`. */
function attention(q: Float64Array, k: Float64Array, v: Float64Array, config: LlamaConfig, rows: number) {
  const { dim, heads } = config;
  const hd = dim / heads;
  const scale = 1 / Math.sqrt(hd);
  const p = new Float64Array(heads * rows * rows);
  const o = new Float64Array(rows * dim);
  for (let h = 0; h < heads; h++)
    for (let t = 0; t < rows; t++) {
      const row = (h * rows + t) * rows;
      let max = -Infinity;
      for (let s = 0; s <= t; s++) {
        let dot = 0;
        for (let i = 0; i < hd; i++) dot += q[t * dim + h * hd + i]! * k[s * dim + h * hd + i]!;
        p[row + s] = dot * scale;
        if (p[row + s]! > max) max = p[row + s]!;
      }
      let total = 0;
      for (let s = 0; s <= t; s++) {
        p[row + s] = Math.exp(p[row + s]! - max);
        total += p[row + s]!;
      }
      for (let s = 0; s <= t; s++) {
        const weight = (p[row + s] = p[row + s]! / total);
        for (let i = 0; i < hd; i++) o[t * dim + h * hd + i] += weight * v[s * dim + h * hd + i]!;
      }
    }
  return { p, o };
}

/**
 * Logits `[tokens.length, vocab]` of every position of `tokens` (the prediction of the token after each one),
 * with the activations the backward pass needs.
 *
 * @example
 * const { logits } = llamaForward(weights, [10, 11, 12]);
 * const next = argmaxRow(logits, 2, weights.config.vocab);
 */
export function llamaForward(
  weights: LlamaWeights,
  tokens: readonly number[],
): { logits: Float64Array; cache: ForwardCache } {
  const { config } = weights;
  const { dim, ffn, vocab, normEps } = config;
  const rows = tokens.length;
  if (rows === 0 || rows > config.context)
    throw new InputError(`llama forward: ${rows} tokens, expected 1 to ${config.context}`);
  let x: Float64Array = new Float64Array(rows * dim);
  tokens.forEach((token, t) => {
    if (!Number.isInteger(token) || token < 0 || token >= vocab)
      throw new InputError(`llama forward: token ${token} is outside the vocabulary of ${vocab}`);
    x.set(weights.embed.subarray(token * dim, (token + 1) * dim), t * dim);
  });
  const blocks: BlockCache[] = [];
  for (const w of weights.blocks) {
    const { y: a, inv: aInv } = rmsNorm(x, w.attnNorm, rows, dim, normEps);
    const q = linear(a, w.wq, rows, dim, dim);
    const k = linear(a, w.wk, rows, dim, dim);
    const v = linear(a, w.wv, rows, dim, dim);
    rope(q, config, rows, 0, 1);
    rope(k, config, rows, 0, 1);
    const { p, o } = attention(q, k, v, config, rows);
    const x2 = add(x, linear(o, w.wo, rows, dim, dim));
    const { y: b, inv: bInv } = rmsNorm(x2, w.ffnNorm, rows, dim, normEps);
    const g = linear(b, w.gate, rows, dim, ffn);
    const u = linear(b, w.up, rows, dim, ffn);
    const m = new Float64Array(rows * ffn);
    for (let i = 0; i < m.length; i++) m[i] = g[i]! * sigmoid(g[i]!) * u[i]!;
    blocks.push({ x, a, aInv, q, k, v, p, o, x2, b, bInv, g, u, m });
    x = add(x2, linear(m, w.down, rows, ffn, dim));
  }
  const { y: z, inv: finalInv } = rmsNorm(x, weights.outNorm, rows, dim, normEps);
  const logits = linear(z, weights.output, rows, dim, vocab);
  return { logits, cache: { tokens: [...tokens], blocks, final: x, finalInv, z } };
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

/* LOSS AND BACKWARD */

/**
 * Mean cross-entropy (nats) of predicting `targets[t]` at each position, and its gradient with respect to the
 * logits, scaled by `1 / normaliser` (the number of positions of the whole batch).
 */
export function crossEntropy(
  logits: Float64Array,
  targets: readonly number[],
  vocab: number,
  normaliser = targets.length,
): { loss: number; dLogits: Float64Array } {
  const dLogits = new Float64Array(logits.length);
  let loss = 0;
  for (let t = 0; t < targets.length; t++) {
    const row = t * vocab;
    let max = -Infinity;
    for (let i = 0; i < vocab; i++) if (logits[row + i]! > max) max = logits[row + i]!;
    let total = 0;
    for (let i = 0; i < vocab; i++) total += dLogits[row + i] = Math.exp(logits[row + i]! - max);
    loss += Math.log(total) + max - logits[row + targets[t]!]!;
    for (let i = 0; i < vocab; i++) dLogits[row + i] = dLogits[row + i]! / total / normaliser;
    dLogits[row + targets[t]!] -= 1 / normaliser;
  }
  return { loss: loss / targets.length, dLogits };
}

/** Zeroed gradients shaped like `weights`. */
export function zerosLike(weights: LlamaWeights): LlamaWeights {
  const z = (a: Float64Array) => new Float64Array(a.length);
  return {
    config: weights.config,
    embed: z(weights.embed),
    blocks: weights.blocks.map((b) => ({
      attnNorm: z(b.attnNorm),
      wq: z(b.wq),
      wk: z(b.wk),
      wv: z(b.wv),
      wo: z(b.wo),
      ffnNorm: z(b.ffnNorm),
      gate: z(b.gate),
      up: z(b.up),
      down: z(b.down),
    })),
    outNorm: z(weights.outNorm),
    output: z(weights.output),
  };
}

/** Adds the gradient of the loss whose logit gradient is `dLogits` to `grads`. */
export function llamaBackward(weights: LlamaWeights, cache: ForwardCache, dLogits: Float64Array, grads: LlamaWeights) {
  const { config } = weights;
  const { dim, ffn, vocab, heads } = config;
  const rows = cache.tokens.length;
  const dz = linearBack(dLogits, cache.z, weights.output, grads.output, rows, dim, vocab);
  let dx = rmsNormBack(dz, cache.final, weights.outNorm, cache.finalInv, grads.outNorm, rows, dim);
  for (let l = weights.blocks.length - 1; l >= 0; l--) {
    const w = weights.blocks[l]!;
    const gw = grads.blocks[l]!;
    const c = cache.blocks[l]!;
    const dm = linearBack(dx, c.m, w.down, gw.down, rows, ffn, dim);
    const dg = new Float64Array(rows * ffn);
    const du = new Float64Array(rows * ffn);
    for (let i = 0; i < dm.length; i++) {
      const s = sigmoid(c.g[i]!);
      du[i] = dm[i]! * c.g[i]! * s;
      dg[i] = dm[i]! * c.u[i]! * s * (1 + c.g[i]! * (1 - s));
    }
    const db = add(
      linearBack(dg, c.b, w.gate, gw.gate, rows, dim, ffn),
      linearBack(du, c.b, w.up, gw.up, rows, dim, ffn),
    );
    const dx2 = add(dx, rmsNormBack(db, c.x2, w.ffnNorm, c.bInv, gw.ffnNorm, rows, dim));
    const dO = linearBack(dx2, c.o, w.wo, gw.wo, rows, dim, dim);
    const { dq, dk, dv } = attentionBack(dO, c, config, rows, heads);
    rope(dq, config, rows, 0, -1);
    rope(dk, config, rows, 0, -1);
    const da = add(
      add(linearBack(dq, c.a, w.wq, gw.wq, rows, dim, dim), linearBack(dk, c.a, w.wk, gw.wk, rows, dim, dim)),
      linearBack(dv, c.a, w.wv, gw.wv, rows, dim, dim),
    );
    dx = add(dx2, rmsNormBack(da, c.x, w.attnNorm, c.aInv, gw.attnNorm, rows, dim));
  }
  cache.tokens.forEach((token, t) => {
    for (let i = 0; i < dim; i++) grads.embed[token * dim + i] += dx[t * dim + i]!;
  });
}

function attentionBack(dO: Float64Array, c: BlockCache, config: LlamaConfig, rows: number, heads: number) {
  const { dim } = config;
  const hd = dim / heads;
  const scale = 1 / Math.sqrt(hd);
  const dq = new Float64Array(rows * dim);
  const dk = new Float64Array(rows * dim);
  const dv = new Float64Array(rows * dim);
  const dp = new Float64Array(rows);
  for (let h = 0; h < heads; h++)
    for (let t = 0; t < rows; t++) {
      const row = (h * rows + t) * rows;
      let weighted = 0;
      for (let s = 0; s <= t; s++) {
        let dot = 0;
        const p = c.p[row + s]!;
        for (let i = 0; i < hd; i++) {
          const g = dO[t * dim + h * hd + i]!;
          dot += g * c.v[s * dim + h * hd + i]!;
          dv[s * dim + h * hd + i] += p * g;
        }
        dp[s] = dot;
        weighted += p * dot;
      }
      for (let s = 0; s <= t; s++) {
        const ds = c.p[row + s]! * (dp[s]! - weighted) * scale;
        if (ds === 0) continue;
        for (let i = 0; i < hd; i++) {
          dq[t * dim + h * hd + i] += ds * c.k[s * dim + h * hd + i]!;
          dk[s * dim + h * hd + i] += ds * c.q[t * dim + h * hd + i]!;
        }
      }
    }
  return { dq, dk, dv };
}

/** Index of the largest value of row `row` of a `[rows, width]` matrix. */
export function argmaxRow(matrix: Float64Array, row: number, width: number): number {
  let best = 0;
  for (let i = 1; i < width; i++) if (matrix[row * width + i]! > matrix[row * width + best]!) best = i;
  return best;
}
