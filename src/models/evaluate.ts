import * as ort from "onnxruntime-node";
import { BaseError } from "../core/errors";
import { lowerToMlp } from "../zkml/mlp";
import { parseOnnx } from "../zkml/onnx";
import { maxRangeBits, quantizeInput, quantizeMlp, type QuantizedModel } from "../zkml/quantize";
import { evaluateQuantized } from "../zkml/reference";
import { clampToRange, type AnyBundledModel } from "./bundle";
import { argmax, forward, meanAbsoluteError, rootMeanSquaredError } from "./train";

/** Raised when onnxruntime cannot load or run a bundled model. */
/** Largest accuracy a classifier may lose in the circuit: half a percentage point (the bound). */
export const MAX_ACCURACY_LOSS = 0.005;

export class ModelEvaluationError extends BaseError {
  override readonly name = "ModelEvaluationError";
}

/** What {@link evaluateCircuit} needs of a model (a bundled model, or one being built). */
export type CircuitSubject = Pick<AnyBundledModel, "kind" | "onnx" | "layers" | "inputRange" | "test">;

/** Float and circuit figures of one model on its held-out rows. */
export interface CircuitEvaluation {
  /** Accuracy (share of rows) for classifiers, mean absolute error (target unit) for regressors. */
  metric: "accuracy" | "mae";
  float: number;
  circuit: number;
  /** How much the circuit loses: float − circuit accuracy, or circuit − float MAE (negative when it gains). */
  loss: number;
  /** Regressors: root mean squared error of the float model and of the circuit. */
  floatRmse?: number;
  circuitRmse?: number;
  /** Classifiers: share of held-out rows on which the circuit and the float model pick the same class. */
  agreement?: number;
  /** Largest |circuit output − float output| over the held-out rows and outputs (logits or target unit). */
  maxDeviation: number;
  /** Held-out rows with an input outside `[-inputRange, inputRange]`, clamped before quantization. */
  clampedRows: number;
  rows: number;
  scaleBits: number;
  inputSize: number;
  /** Width of the widest range check in the circuit. */
  rangeBits: number;
}

/**
 * Quantizes a model exactly as the ZK pipeline does: its ONNX bytes are parsed and lowered again (not the
 * in-memory layers), then fixed-pointed with the model's `inputRange`.
 *
 * @example
 * const q = quantizeForCircuit(bundledModel("seattle-weather-mlp")); // q.scaleBits
 */
export function quantizeForCircuit(model: Pick<AnyBundledModel, "onnx" | "inputRange">): QuantizedModel {
  return quantizeMlp(lowerToMlp(parseOnnx(model.onnx)), { inputRange: model.inputRange });
}

/**
 * The circuit's answer for one real input, computed bit-exactly by the reference evaluator: the input is clamped
 * to the model's range and quantized, the outputs are returned as reals (`out / 2^s`).
 *
 * @example
 * const { output, argmax } = circuitOutputs(q, [39.1, 18.7, 181, 3750]);
 */
export function circuitOutputs(
  q: QuantizedModel,
  input: readonly number[],
): { output: number[]; argmax: number; clamped: boolean } {
  const clamped = clampToRange(input, q.inputRange);
  const result = evaluateQuantized(q, quantizeInput(q, clamped));
  const scale = 2 ** q.scaleBits;
  return {
    output: result.output.map((v) => Number(v) / scale),
    argmax: result.argmax,
    clamped: clamped.some((v, i) => v !== input[i]),
  };
}

/**
 * Measures a model on its held-out rows twice, as the float network and as the circuit computes it, and reports
 * the metric of each and the difference.
 *
 * @example
 * const e = evaluateCircuit(model); // e.float, e.circuit, e.loss
 */
export function evaluateCircuit(
  model: CircuitSubject,
  q: QuantizedModel = quantizeForCircuit(model),
): CircuitEvaluation {
  const floats = model.test.x.map((x) => forward(model.layers, x));
  const circuits = model.test.x.map((x) => circuitOutputs(q, x));
  const maxDeviation = Math.max(...floats.flatMap((f, i) => f.map((v, j) => Math.abs(v - circuits[i]!.output[j]!))));
  const shape = {
    maxDeviation,
    clampedRows: circuits.filter((c) => c.clamped).length,
    rows: model.test.x.length,
    scaleBits: q.scaleBits,
    inputSize: q.inputSize,
    rangeBits: maxRangeBits(q),
  };
  const y = model.test.y;
  if (model.kind === "classifier") {
    const floatClass = floats.map((f) => argmax(f));
    const share = (predicted: number[]) => predicted.filter((p, i) => p === y[i]).length / y.length;
    const float = share(floatClass);
    const circuit = share(circuits.map((c) => c.argmax));
    const agreement = circuits.filter((c, i) => c.argmax === floatClass[i]).length / y.length;
    return { metric: "accuracy", float, circuit, loss: float - circuit, agreement, ...shape };
  }
  const floatValue = floats.map((f) => f[0]!);
  const circuitValue = circuits.map((c) => c.output[0]!);
  const float = meanAbsoluteError(floatValue, y);
  const circuit = meanAbsoluteError(circuitValue, y);
  return {
    metric: "mae",
    float,
    circuit,
    loss: circuit - float,
    floatRmse: rootMeanSquaredError(floatValue, y),
    circuitRmse: rootMeanSquaredError(circuitValue, y),
    ...shape,
  };
}

/**
 * Runs the float ONNX model with onnxruntime-node on a batch of rows (one session, one call).
 *
 * @throws ModelEvaluationError when onnxruntime cannot load or run the model.
 * @example
 * const outputs = await runOnnx(model.onnx, model.test.x);
 */
export async function runOnnx(onnx: Uint8Array, rows: readonly (readonly number[])[]): Promise<number[][]> {
  const width = rows[0]?.length ?? 0;
  try {
    const session = await ort.InferenceSession.create(onnx);
    const input = new ort.Tensor("float32", Float32Array.from(rows.flat()), [rows.length, width]);
    const result = await session.run({ [session.inputNames[0]!]: input });
    const output = result[session.outputNames[0]!];
    if (output === undefined) throw new ModelEvaluationError("onnxruntime returned no output");
    const data = Array.from(output.data as Float32Array);
    const k = data.length / rows.length;
    await session.release();
    return rows.map((_, i) => data.slice(i * k, (i + 1) * k));
  } catch (cause) {
    if (cause instanceof ModelEvaluationError) throw cause;
    throw new ModelEvaluationError(`onnxruntime could not run the model on ${rows.length} rows of ${width} inputs`, {
      cause,
    });
  }
}
