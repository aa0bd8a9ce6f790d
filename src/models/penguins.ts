import { writeMlpOnnx } from "../zkml/onnx-writer";
import type { DenseLayer } from "../zkml/mlp";
import { loadPenguins, split } from "./datasets";
import { accuracy, trainClassifier } from "./train";

/** A trained, exported model with its card and held-out accuracy. */
export interface BundledModel {
  name: string;
  onnx: Uint8Array;
  card: string;
  layers: DenseLayer[];
  classes: string[];
  accuracy: number;
  example: number[];
}

/** Trains the penguin-species classifier (deterministic) and exports it as ONNX with its model card. */
export function buildPenguinClassifier(): BundledModel {
  const data = loadPenguins();
  const { train, test } = split(data, 0.2, 7);
  const layers = trainClassifier(train, { hidden: 8, epochs: 60, learningRate: 0.02, seed: 42 });
  const testAccuracy = accuracy(layers, test);
  const card = `---
name: penguin-species-mlp
task: tabular-classification
license: cc0-1.0
library: onnx
tags: [penguins, species, tabular, mlp, biology]
datasets: [vega-datasets/penguins]
---
# Penguin species classifier

A 4-8-3 ReLU network that tells Adelie, Chinstrap and Gentoo penguins apart from beak length and depth
(mm), flipper length (mm) and body mass (g). Trained on ${train.x.length} rows of the Palmer penguins data
shipped in vega-datasets; held-out accuracy ${(testAccuracy * 100).toFixed(1)}% on ${test.x.length} rows.

Output: class index, then the three logits as int32 in units of 1e-4.
`;
  return { name: "penguin-species-mlp", onnx: writeMlpOnnx(layers, { name: "penguins" }), card, layers, classes: data.classes, accuracy: testAccuracy, example: data.x[0]! };
}
