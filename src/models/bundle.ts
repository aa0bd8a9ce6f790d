import { BaseError } from "../core/errors";
import type { DenseLayer } from "../zkml/mlp";

/** A trained, exported classifier with its card and held-out accuracy (the shape the hub and devnet publish). */
export interface BundledModel {
  name: string;
  onnx: Uint8Array;
  card: string;
  layers: DenseLayer[];
  classes: string[];
  /** Float accuracy on the held-out rows. */
  accuracy: number;
  example: number[];
}

/** Held-out rows as the model takes them: features `x`, and `y` the class index or the target value. */
export interface HeldOutRows {
  x: number[][];
  y: number[];
}

/** What every bundled model carries besides its weights. */
export interface BundledModelInfo {
  name: string;
  kind: "classifier" | "regressor";
  onnx: Uint8Array;
  card: string;
  layers: DenseLayer[];
  /** Names (with units) of the inputs, in order. */
  features: string[];
  example: number[];
  /**
   * The `inputRange` to quantize with: the circuit accepts real inputs in `[-inputRange, inputRange]`, so callers
   * clamp to it ({@link clampToRange}). Chosen from the training rows by {@link inputRangeFor}.
   */
  inputRange: number;
  trainRows: number;
  /** The held-out rows every figure is measured on. */
  test: HeldOutRows;
}

/** A classifier: the output is one logit per class, the answer is the argmax. */
export interface BundledClassifier extends BundledModel, BundledModelInfo {
  kind: "classifier";
  /** Float recall of each class on the held-out rows (NaN for a class absent from them). */
  recall: number[];
}

/** Float regression metrics on the held-out rows, beside a naive forecast's. */
export interface RegressionMetrics {
  mae: number;
  rmse: number;
  /** What the naive forecast is. */
  baseline: string;
  baselineMae: number;
  baselineRmse: number;
}

/** A regressor: the output is one value, the target in its own unit. */
export interface BundledRegressor extends BundledModelInfo {
  kind: "regressor";
  /** What the output measures, with its unit. */
  target: string;
  metrics: RegressionMetrics;
  /** The naive forecast of every held-out row. */
  baseline: number[];
}

export type AnyBundledModel = BundledClassifier | BundledRegressor;

/** Raised when a bundled model is asked for by a name that does not exist. */
export class UnknownBundledModelError extends BaseError {
  override readonly name = "UnknownBundledModelError";

  constructor(
    readonly model: string,
    readonly known: readonly string[],
  ) {
    super(`no bundled model is called "${model}": choose one of ${known.join(", ")}`);
  }
}

/**
 * The input range to quantize with: the smallest power of two at least `margin` times the largest magnitude of any
 * training input, so rows a little beyond the training data still fit.
 *
 * @example
 * inputRangeFor([[39.1, 6300]]) // 8192
 */
export function inputRangeFor(rows: readonly (readonly number[])[], margin = 1.25): number {
  const max = Math.max(0, ...rows.map((r) => Math.max(...r.map(Math.abs))));
  return max === 0 ? 1 : 2 ** Math.ceil(Math.log2(max * margin));
}

/** Clamps every input to `[-range, range]`, the inputs the circuit accepts. */
export function clampToRange(input: readonly number[], range: number): number[] {
  return input.map((v) => Math.min(range, Math.max(-range, v)));
}

/** Float recall of each class: the share of its held-out rows predicted as it. */
export function recallPerClass(predicted: readonly number[], labels: readonly number[], classes: number): number[] {
  return Array.from({ length: classes }, (_, c) => {
    const rows = labels.map((y, i) => (y === c ? i : -1)).filter((i) => i >= 0);
    return rows.filter((i) => predicted[i] === c).length / rows.length;
  });
}

/** A percentage with one decimal: 0.9731 → "97.3%". */
export function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}
