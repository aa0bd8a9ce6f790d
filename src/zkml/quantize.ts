import { InputError } from "../core/errors";
import { ZkmlInputRangeError, ZkmlOverflowError, ZkmlShapeMismatchError } from "./errors";
import type { Mlp } from "./mlp";

/** Largest range-check width the compiler will emit: far below the 254-bit field, so no decomposition aliases. */
export const MAX_RANGE_BITS = 200;

/** An integer interval `[lo, hi]`. */
export interface Interval {
  lo: bigint;
  hi: bigint;
}

/** A quantized dense layer: `q = floor((W·a + B) / 2^s)`, then `max(q, 0)` when `relu`. */
export interface QuantizedLayer {
  name: string;
  /** `round(W · 2^s)`, as `[out][in]`. */
  weights: bigint[][];
  /** `round(b · 2^(2s))`: the bias lives at the scale of the products. */
  bias: bigint[];
  relu: boolean;
  /** Width k of the quotient range check: every honest quotient q satisfies `-2^(k-1) ≤ q < 2^(k-1)`. */
  quotientBits: number;
  /** Bounds of the pre-activation sums `W·a + B` over all inputs the circuit accepts. */
  preActivation: Interval;
}

/** A fixed-point model: every value is an integer standing for `value / 2^scaleBits`. */
export interface QuantizedModel {
  /** s: weights are scaled by 2^s, biases by 2^(2s), activations by 2^s. */
  scaleBits: number;
  inputSize: number;
  outputSize: number;
  /** The declared real input range: every input must lie in `[-inputRange, inputRange]`. */
  inputRange: number;
  /** The circuit accepts quantized inputs in `[-2^inputBits, 2^inputBits)`, which contains the declared range. */
  inputBits: number;
  layers: QuantizedLayer[];
}

/** Options for {@link quantizeMlp}. */
export interface QuantizeOptions {
  /** Real inputs must lie in `[-inputRange, inputRange]`. */
  inputRange: number;
  /** Force s; by default the largest s ≤ `maxScaleBits` whose range checks fit `maxBits`. */
  scaleBits?: number;
  /** Upper bound for the automatic choice of s (default 12). */
  maxScaleBits?: number;
  /** Largest range-check width accepted for the automatic choice of s (default 64). */
  maxBits?: number;
}

/** Number of bits needed to write the non-negative integer `v` (0 for 0). */
export function bitLength(v: bigint): number {
  return v <= 0n ? 0 : v.toString(2).length;
}

/** Smallest k such that `-2^(k-1) ≤ lo` and `hi < 2^(k-1)`. */
export function signedBits(iv: Interval): number {
  const mag = iv.hi >= -iv.lo - 1n ? iv.hi : -iv.lo - 1n;
  return bitLength(mag) + 1;
}

function toFixed(v: number, scaleBits: number): bigint {
  if (!Number.isFinite(v)) throw new InputError(`cannot quantize non-finite value ${v}`);
  return BigInt(Math.round(v * 2 ** scaleBits));
}

function quantizeWith(mlp: Mlp, inputRange: number, s: number): QuantizedModel {
  const inputBits = Math.max(1, bitLength(toFixed(inputRange, s)));
  let bounds: Interval[] = Array.from({ length: mlp.inputSize }, () => ({
    lo: -(1n << BigInt(inputBits)),
    hi: (1n << BigInt(inputBits)) - 1n,
  }));
  const layers = mlp.layers.map((layer): QuantizedLayer => {
    const weights = layer.weights.map((row) => row.map((w) => toFixed(w, s)));
    const bias = layer.bias.map((b) => toFixed(b, 2 * s));
    const pre = weights.map((row, j) =>
      row.reduce<Interval>(
        (acc, w, i) => {
          const a = w * bounds[i].lo;
          const b = w * bounds[i].hi;
          return { lo: acc.lo + (a < b ? a : b), hi: acc.hi + (a < b ? b : a) };
        },
        { lo: bias[j], hi: bias[j] },
      ),
    );
    const shift = BigInt(s);
    const quotients = pre.map((iv) => ({ lo: iv.lo >> shift, hi: iv.hi >> shift }));
    const preActivation = pre.reduce(
      (acc, iv) => ({ lo: iv.lo < acc.lo ? iv.lo : acc.lo, hi: iv.hi > acc.hi ? iv.hi : acc.hi }),
      { lo: 0n, hi: 0n },
    );
    const quotientBits = Math.max(2, ...quotients.map(signedBits));
    bounds = quotients.map((q) => (layer.relu ? { lo: q.lo > 0n ? q.lo : 0n, hi: q.hi > 0n ? q.hi : 0n } : q));
    return { name: layer.name, weights, bias, relu: layer.relu, quotientBits, preActivation };
  });
  return {
    scaleBits: s,
    inputSize: mlp.inputSize,
    outputSize: layers[layers.length - 1].weights.length,
    inputRange,
    inputBits,
    layers,
  };
}

/** Widest range check (in bits) the circuit of `model` will contain, including the remainder and argmax checks. */
export function maxRangeBits(model: QuantizedModel): number {
  const preBits = model.layers.map((l) => signedBits(l.preActivation));
  return Math.max(
    model.inputBits + 1,
    model.scaleBits,
    ...preBits,
    ...model.layers.map((l) => l.quotientBits + model.scaleBits),
  );
}

/**
 * Quantizes a float MLP to fixed point with a per-model scale 2^s and computes, by interval arithmetic over
 * every input the circuit accepts, the width of each layer's range checks.
 *
 * @throws ZkmlOverflowError when the range checks would not fit {@link MAX_RANGE_BITS} (or `maxBits` for an
 * automatic s).
 * @example
 * const q = quantizeMlp(mlp, { inputRange: 8 }); // q.scaleBits is the chosen s
 */
export function quantizeMlp(mlp: Mlp, options: QuantizeOptions): QuantizedModel {
  const { inputRange, maxScaleBits = 12, maxBits = 64 } = options;
  if (!(inputRange > 0)) throw new InputError(`inputRange must be positive, got ${inputRange}`);
  if (options.scaleBits !== undefined) {
    const model = quantizeWith(mlp, inputRange, options.scaleBits);
    const bits = maxRangeBits(model);
    if (bits > MAX_RANGE_BITS)
      throw new ZkmlOverflowError(
        `scale 2^${options.scaleBits} needs ${bits}-bit range checks (max ${MAX_RANGE_BITS})`,
      );
    return model;
  }
  for (let s = maxScaleBits; s >= 1; s--) {
    const model = quantizeWith(mlp, inputRange, s);
    if (maxRangeBits(model) <= Math.min(maxBits, MAX_RANGE_BITS)) return model;
  }
  throw new ZkmlOverflowError(`no scale 2^s (1 ≤ s ≤ ${maxScaleBits}) keeps range checks within ${maxBits} bits`);
}

/**
 * Quantizes a real input vector: `round(x · 2^s)`.
 *
 * @throws ZkmlShapeMismatchError (tensor "input") when the length is wrong.
 * @throws ZkmlInputRangeError naming the index and value of the first input outside the model's range.
 */
export function quantizeInput(model: QuantizedModel, input: readonly number[]): bigint[] {
  if (input.length !== model.inputSize) throw new ZkmlShapeMismatchError("input", [model.inputSize], [input.length]);
  return input.map((x, i) => {
    if (!Number.isFinite(x) || Math.abs(x) > model.inputRange)
      throw new ZkmlInputRangeError(i, x, -model.inputRange, model.inputRange);
    return toFixed(x, model.scaleBits);
  });
}

/**
 * Checks an already quantized input against what the circuit accepts (`[-2^inputBits, 2^inputBits)`).
 *
 * @throws ZkmlShapeMismatchError or ZkmlInputRangeError.
 */
export function checkQuantizedInput(model: QuantizedModel, input: readonly bigint[]): void {
  if (input.length !== model.inputSize) throw new ZkmlShapeMismatchError("input", [model.inputSize], [input.length]);
  const lim = 1n << BigInt(model.inputBits);
  input.forEach((x, i) => {
    if (x < -lim || x >= lim) throw new ZkmlInputRangeError(i, x, -lim, lim - 1n);
  });
}
