import type { DenseLayer } from "../zkml/mlp";
import { seededRandom } from "../util/random";
import type { Dataset } from "./datasets";

export interface TrainOptions {
  hidden: number;
  epochs: number;
  learningRate: number;
  seed: number;
}

/**
 * Trains a one-hidden-layer ReLU classifier with softmax cross-entropy by plain SGD, deterministically.
 * Feature standardisation is folded into the first layer, so the returned layers take raw features.
 */
export function trainClassifier(data: Dataset, options: TrainOptions): DenseLayer[] {
  const random = seededRandom(options.seed);
  const n = data.features.length;
  const k = data.classes.length;
  const mean = data.features.map((_, j) => avg(data.x.map((r) => r[j]!)));
  const std = data.features.map((_, j) => Math.sqrt(avg(data.x.map((r) => (r[j]! - mean[j]!) ** 2))) || 1);
  const xs = data.x.map((r) => r.map((v, j) => (v - mean[j]!) / std[j]!));
  const init = (rows: number, cols: number) => Array.from({ length: rows }, () => Array.from({ length: cols }, () => (random() * 2 - 1) * Math.sqrt(2 / cols)));
  const w1 = init(options.hidden, n);
  const b1 = new Array<number>(options.hidden).fill(0);
  const w2 = init(k, options.hidden);
  const b2 = new Array<number>(k).fill(0);
  const order = xs.map((_, i) => i);
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const idx of order) {
      const x = xs[idx]!;
      const z1 = w1.map((row, h) => dot(row, x) + b1[h]!);
      const a1 = z1.map((v) => Math.max(0, v));
      const p = softmax(w2.map((row, c) => dot(row, a1) + b2[c]!));
      const d2 = p.map((v, c) => v - (c === data.y[idx] ? 1 : 0));
      const d1 = a1.map((_, h) => (z1[h]! > 0 ? d2.reduce((s, g, c) => s + g * w2[c]![h]!, 0) : 0));
      const lr = options.learningRate;
      d2.forEach((g, c) => {
        b2[c]! -= lr * g;
        w2[c]!.forEach((_, h) => (w2[c]![h]! -= lr * g * a1[h]!));
      });
      d1.forEach((g, h) => {
        b1[h]! -= lr * g;
        w1[h]!.forEach((_, j) => (w1[h]![j]! -= lr * g * x[j]!));
      });
    }
  }
  // Fold (x - mean) / std into the first layer: w' = w / std, b' = b - sum(w * mean / std).
  const w1Raw = w1.map((row) => row.map((w, j) => w / std[j]!));
  const b1Raw = b1.map((b, h) => b - w1[h]!.reduce((s, w, j) => s + (w * mean[j]!) / std[j]!, 0));
  return [
    { name: "hidden", weights: w1Raw, bias: b1Raw, relu: true },
    { name: "logits", weights: w2, bias: b2, relu: false },
  ];
}

/** Runs the float MLP (the reference the ONNX runtime must match). */
export function forward(layers: DenseLayer[], input: number[]): number[] {
  return layers.reduce((x, layer) => layer.weights.map((row, o) => {
    const v = dot(row, x) + layer.bias[o]!;
    return layer.relu ? Math.max(0, v) : v;
  }), input);
}

export function argmax(values: number[]): number {
  return values.reduce((best, v, i) => (v > values[best]! ? i : best), 0);
}

/** Share of rows whose predicted class matches the label. */
export function accuracy(layers: DenseLayer[], data: Dataset): number {
  return data.x.filter((x, i) => argmax(forward(layers, x)) === data.y[i]).length / data.x.length;
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
