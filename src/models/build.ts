import type { DenseLayer } from "../zkml/mlp";
import { writeMlpOnnx } from "../zkml/onnx-writer";
import {
  percent,
  recallPerClass,
  type BundledClassifier,
  type BundledRegressor,
  type HeldOutRows,
  type RegressionMetrics,
} from "./bundle";
import { evaluateCircuit, type CircuitEvaluation } from "./evaluate";
import { argmax, forward, meanAbsoluteError, rootMeanSquaredError } from "./train";

/** What a trainer hands over to be bundled: the weights and the data facts the card and the figures need. */
export interface TrainedModel {
  name: string;
  /** Name of the ONNX graph. */
  graphName: string;
  layers: DenseLayer[];
  features: string[];
  inputRange: number;
  trainRows: number;
  test: HeldOutRows;
  example: number[];
}

/** Figures a classifier's card is written from. */
export interface ClassifierFacts {
  accuracy: number;
  recall: number[];
  circuit: CircuitEvaluation;
}

/** Figures a regressor's card is written from. */
export interface RegressorFacts {
  metrics: RegressionMetrics;
  circuit: CircuitEvaluation;
}

/** Exports a trained classifier as ONNX, measures it (float and circuit) and writes its card from the figures. */
export function bundleClassifier(
  model: TrainedModel & { classes: string[] },
  card: (facts: ClassifierFacts) => string,
): BundledClassifier {
  const onnx = writeMlpOnnx(model.layers, { name: model.graphName });
  const predicted = model.test.x.map((x) => argmax(forward(model.layers, x)));
  const accuracy = predicted.filter((p, i) => p === model.test.y[i]).length / predicted.length;
  const recall = recallPerClass(predicted, model.test.y, model.classes.length);
  const circuit = evaluateCircuit({
    kind: "classifier",
    onnx,
    layers: model.layers,
    inputRange: model.inputRange,
    test: model.test,
  });
  const { graphName: _graphName, ...rest } = model;
  return { ...rest, kind: "classifier", onnx, accuracy, recall, card: card({ accuracy, recall, circuit }) };
}

/** Exports a trained regressor as ONNX, measures it against `baseline` (float and circuit) and writes its card. */
export function bundleRegressor(
  model: TrainedModel & { target: string; baseline: number[]; baselineName: string },
  card: (facts: RegressorFacts) => string,
): BundledRegressor {
  const onnx = writeMlpOnnx(model.layers, { name: model.graphName });
  const predicted = model.test.x.map((x) => forward(model.layers, x)[0]!);
  const y = model.test.y;
  const metrics: RegressionMetrics = {
    mae: meanAbsoluteError(predicted, y),
    rmse: rootMeanSquaredError(predicted, y),
    baseline: model.baselineName,
    baselineMae: meanAbsoluteError(model.baseline, y),
    baselineRmse: rootMeanSquaredError(model.baseline, y),
  };
  const circuit = evaluateCircuit({
    kind: "regressor",
    onnx,
    layers: model.layers,
    inputRange: model.inputRange,
    test: model.test,
  });
  const { graphName: _graphName, baselineName: _baselineName, ...rest } = model;
  return { ...rest, kind: "regressor", onnx, metrics, card: card({ metrics, circuit }) };
}

/** The card paragraph on the ZK circuit: input range, scale, and the circuit's figure beside the float one. */
export function circuitParagraph(inputRange: number, circuit: CircuitEvaluation, unit = ""): string {
  const figure = (v: number) => (circuit.metric === "accuracy" ? percent(v) : `${v.toFixed(3)}${unit}`);
  const name = circuit.metric === "accuracy" ? "accuracy" : "MAE";
  return `In ZK mode the network is quantized to fixed point at scale 2^${circuit.scaleBits}; the circuit accepts inputs in
[-${inputRange}, ${inputRange}] (clamp larger values first) and has range checks up to ${circuit.rangeBits} bits. On the same
held-out rows the circuit's ${name} is ${figure(circuit.circuit)} (float ${figure(circuit.float)}), computed bit-exactly by the reference
evaluator.`;
}
