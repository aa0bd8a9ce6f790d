import { checkQuantizedInput, type QuantizedModel } from "./quantize";

/** The result of evaluating a quantized model. */
export interface ReferenceResult {
  /** Activations after every layer (last entry = output), as integers at scale 2^s. */
  activations: bigint[][];
  /** Pre-activation sums `W·a + B` of every layer (scale 2^(2s)). */
  preActivations: bigint[][];
  output: bigint[];
  /** Index of the first maximum of `output`. */
  argmax: number;
}

/**
 * Evaluates a quantized model on a quantized input with bigint arithmetic, exactly as the circuit does:
 * per layer `q = floor((W·a + B) / 2^s)` (a floor, also for negative sums), then `max(q, 0)` for ReLU layers;
 * the argmax is the first index holding the maximum.
 *
 * @throws ZkmlShapeMismatchError or ZkmlInputRangeError when the input is not one the circuit accepts.
 * @example
 * const { output, argmax } = evaluateQuantized(model, quantizeInput(model, [5.1, 3.5, 1.4, 0.2]));
 */
export function evaluateQuantized(model: QuantizedModel, input: readonly bigint[]): ReferenceResult {
  checkQuantizedInput(model, input);
  const shift = BigInt(model.scaleBits);
  let a: bigint[] = [...input];
  const activations: bigint[][] = [];
  const preActivations: bigint[][] = [];
  for (const layer of model.layers) {
    const z = layer.weights.map((row, j) => row.reduce((acc, w, i) => acc + w * a[i], layer.bias[j]));
    preActivations.push(z);
    // BigInt `>>` is an arithmetic shift: floor division by 2^s, matching the circuit's remainder in [0, 2^s).
    a = z.map((v) => v >> shift).map((q) => (layer.relu && q < 0n ? 0n : q));
    activations.push(a);
  }
  let argmax = 0;
  a.forEach((v, i) => {
    if (v > a[argmax]) argmax = i;
  });
  return { activations, preActivations, output: a, argmax };
}
