import { writeMlpOnnx } from "../../src/zkml/onnx-writer";
import type { DenseLayer } from "../../src/zkml/mlp";
import { buildZkModel, type ZkModel } from "../../src/zkml/pipeline";
import { seededRandom } from "../../src/core/random";

/** Deterministic PRNG (mulberry32), shared: see src/core/random.ts. */
export const rng = seededRandom;

/** A random MLP with the given layer sizes (ReLU on every hidden layer), weights in [-1, 1]. */
export function randomMlp(sizes: number[], seed: number): DenseLayer[] {
  const r = rng(seed);
  return sizes.slice(1).map((out, l) => ({
    name: `layer${l}`,
    weights: Array.from({ length: out }, () => Array.from({ length: sizes[l] }, () => r() * 2 - 1)),
    bias: Array.from({ length: out }, () => r() - 0.5),
    relu: l < sizes.length - 2,
  }));
}

/** Shape, input range and scale of the test classifiers (about 1,400 constraints). */
export const TEST_SIZES = [4, 6, 3];
export const TEST_INPUT_RANGE = 4;
export const TEST_SCALE_BITS = 8;
export const TEST_POWER = 12;
/** One ceremony size for every test circuit and bundled model, so a cold run generates one ptau (2^12, ~2.5 min). */
export const ZK_POWER = TEST_POWER;

let cached: Promise<{ a: ZkModel; b: ZkModel; layersA: DenseLayer[] }> | undefined;

/**
 * Two compiled and set-up classifiers of the same shape but different weights (model B is exported in the
 * MatMul+Add style). Built once per process; the ceremony and keys are cached under `.cache/zk/`.
 */
export function zkModels(): Promise<{ a: ZkModel; b: ZkModel; layersA: DenseLayer[] }> {
  cached ??= (async () => {
    const layersA = randomMlp(TEST_SIZES, 1);
    // Level 1 keeps every named signal in the witness, for the tests that edit witnesses by name.
    const common = {
      inputRange: TEST_INPUT_RANGE,
      scaleBits: TEST_SCALE_BITS,
      minPower: TEST_POWER,
      optimization: 1 as const,
    };
    const a = await buildZkModel({ ...common, onnx: writeMlpOnnx(layersA, { name: "test-a" }) });
    const b = await buildZkModel({
      ...common,
      onnx: writeMlpOnnx(randomMlp(TEST_SIZES, 2), { name: "test-b", style: "matmul-add" }),
    });
    return { a, b, layersA };
  })();
  return cached;
}
