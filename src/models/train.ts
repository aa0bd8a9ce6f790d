import type { DenseLayer } from "../zkml/mlp";
import { seededRandom } from "../core/random";
import type { Dataset, RegressionDataset } from "./datasets";

/** Options of {@link trainClassifier} and {@link trainRegressor}. */
export interface TrainOptions {
  /** Width of the hidden ReLU layer, or of each hidden layer in order (`[16, 8]`: two hidden layers). */
  hidden: number | number[];
  epochs: number;
  learningRate: number;
  seed: number;
  /** Standardise the features (folded back into the first layer afterwards); default true. */
  standardize?: boolean;
}

/** Per-layer weights `[out][in]` and biases while training. */
interface Network {
  weights: number[][][];
  biases: number[][];
}

/**
 * Trains a ReLU classifier with softmax cross-entropy by plain SGD, deterministically (one seed drives the
 * initialisation and the per-epoch shuffles). Feature standardisation is folded into the first layer, so the
 * returned layers take raw features.
 *
 * @example
 * const layers = trainClassifier(train, { hidden: 8, epochs: 60, learningRate: 0.02, seed: 42 });
 */
export function trainClassifier(data: Dataset, options: TrainOptions): DenseLayer[] {
  const scaler = fitScaler(data.x, options.standardize ?? true);
  const net = sgd(scaler.apply(data.x), data.classes.length, options, (out, idx) => {
    const p = softmax(out);
    return p.map((v, c) => v - (c === data.y[idx] ? 1 : 0));
  });
  return toLayers(net, scaler, { mean: 0, std: 1 }, "logits");
}

/**
 * Trains a ReLU regressor (one output) with mean squared error by plain SGD, deterministically. Features and the
 * target are standardised while training; both transforms are folded into the first and last layers, so the
 * returned layers map raw features to the target in its own unit.
 *
 * @example
 * const layers = trainRegressor(train, { hidden: [16], epochs: 40, learningRate: 0.005, seed: 1 });
 */
export function trainRegressor(data: RegressionDataset, options: TrainOptions): DenseLayer[] {
  const scaler = fitScaler(data.x, options.standardize ?? true);
  const target = { mean: avg(data.y), std: Math.sqrt(avg(data.y.map((v) => (v - avg(data.y)) ** 2))) || 1 };
  const ys = data.y.map((v) => (v - target.mean) / target.std);
  // d(½(out − y)²)/d out: the ½ keeps the step size comparable with cross-entropy's `p − onehot`.
  const net = sgd(scaler.apply(data.x), 1, options, (out, idx) => [out[0]! - ys[idx]!]);
  return toLayers(net, scaler, target, "output");
}

/** Runs the float MLP (the reference the ONNX runtime must match). */
export function forward(layers: DenseLayer[], input: number[]): number[] {
  return layers.reduce(
    (x, layer) =>
      layer.weights.map((row, o) => {
        const v = dot(row, x) + layer.bias[o]!;
        return layer.relu ? Math.max(0, v) : v;
      }),
    input,
  );
}

/** Index of the first maximum. */
export function argmax(values: readonly number[]): number {
  return values.reduce((best, v, i) => (v > values[best]! ? i : best), 0);
}

/** Mean absolute error of predictions against targets. */
export function meanAbsoluteError(predicted: readonly number[], actual: readonly number[]): number {
  return avg(predicted.map((p, i) => Math.abs(p - actual[i]!)));
}

/** Root mean squared error of predictions against targets. */
export function rootMeanSquaredError(predicted: readonly number[], actual: readonly number[]): number {
  return Math.sqrt(avg(predicted.map((p, i) => (p - actual[i]!) ** 2)));
}

/**
 * The SGD loop shared by both tasks: `lossGradient(output, row)` returns d loss / d output of the last (linear)
 * layer; hidden layers are ReLU.
 */
function sgd(
  xs: number[][],
  outputs: number,
  options: TrainOptions,
  lossGradient: (out: number[], idx: number) => number[],
): Network {
  const random = seededRandom(options.seed);
  const sizes = [xs[0]!.length, ...(typeof options.hidden === "number" ? [options.hidden] : options.hidden), outputs];
  const init = (rows: number, cols: number) =>
    Array.from({ length: rows }, () => Array.from({ length: cols }, () => (random() * 2 - 1) * Math.sqrt(2 / cols)));
  const net: Network = { weights: [], biases: [] };
  for (let l = 1; l < sizes.length; l++) {
    net.weights.push(init(sizes[l]!, sizes[l - 1]!));
    net.biases.push(new Array<number>(sizes[l]!).fill(0));
  }
  const lr = options.learningRate;
  const order = xs.map((_, i) => i);
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const idx of order) step(net, xs[idx]!, (out) => lossGradient(out, idx), lr);
  }
  return net;
}

/** One SGD step on one row: forward, backpropagate through the ReLUs, update every layer. */
function step(net: Network, x: number[], lossGradient: (out: number[]) => number[], lr: number): void {
  const last = net.weights.length - 1;
  const inputs: number[][] = [];
  const pre: number[][] = [];
  let a = x;
  net.weights.forEach((w, l) => {
    inputs.push(a);
    const z = w.map((row, o) => dot(row, a) + net.biases[l]![o]!);
    pre.push(z);
    a = l === last ? z : z.map((v) => Math.max(0, v));
  });
  const deltas: number[][] = new Array<number[]>(net.weights.length);
  deltas[last] = lossGradient(a);
  for (let l = last; l > 0; l--) {
    const w = net.weights[l]!;
    const d = deltas[l]!;
    deltas[l - 1] = pre[l - 1]!.map((z, h) => (z > 0 ? d.reduce((s, g, c) => s + g * w[c]![h]!, 0) : 0));
  }
  for (let l = last; l >= 0; l--) {
    const w = net.weights[l]!;
    const b = net.biases[l]!;
    const input = inputs[l]!;
    deltas[l]!.forEach((g, o) => {
      b[o]! -= lr * g;
      const row = w[o]!;
      row.forEach((_, i) => (row[i]! -= lr * g * input[i]!));
    });
  }
}

/** Per-feature `(x − mean) / std`, or the identity. */
interface Scaler {
  mean: number[];
  std: number[];
  apply(x: number[][]): number[][];
}

function fitScaler(x: number[][], standardize: boolean): Scaler {
  const n = x[0]!.length;
  const mean = Array.from({ length: n }, (_, j) => (standardize ? avg(x.map((r) => r[j]!)) : 0));
  const std = Array.from({ length: n }, (_, j) =>
    standardize ? Math.sqrt(avg(x.map((r) => (r[j]! - mean[j]!) ** 2))) || 1 : 1,
  );
  return { mean, std, apply: (rows) => rows.map((r) => r.map((v, j) => (v - mean[j]!) / std[j]!)) };
}

/**
 * Folds the feature scaler into the first layer (`w' = w / std`, `b' = b − Σ w·mean / std`) and the target's
 * `y = mean + std · out` into the last (`w' = std · w`, `b' = std · b + mean`).
 */
function toLayers(
  net: Network,
  scaler: Scaler,
  target: { mean: number; std: number },
  outputName: string,
): DenseLayer[] {
  const last = net.weights.length - 1;
  return net.weights.map((w, l) => {
    let weights = w;
    let bias = net.biases[l]!;
    if (l === 0) {
      weights = w.map((row) => row.map((v, j) => v / scaler.std[j]!));
      bias = bias.map((b, o) => b - w[o]!.reduce((s, v, j) => s + (v * scaler.mean[j]!) / scaler.std[j]!, 0));
    }
    if (l === last && (target.mean !== 0 || target.std !== 1)) {
      weights = weights.map((row) => row.map((v) => v * target.std));
      bias = bias.map((b) => b * target.std + target.mean);
    }
    const name = l === last ? outputName : last === 1 ? "hidden" : `hidden${l + 1}`;
    return { name, weights, bias, relu: l !== last };
  });
}

function dot(a: number[], b: number[]): number {
  return a.reduce((s, v, i) => s + v * b[i]!, 0);
}

function avg(values: number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}

function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
