import { bundleClassifier, circuitParagraph } from "./build";
import { inputRangeFor, percent, type BundledClassifier } from "./bundle";
import { loadPenguins, split } from "./datasets";
import { trainClassifier } from "./train";

export type { BundledModel } from "./bundle";

/** Trains the penguin-species classifier (deterministic) and exports it as ONNX with its model card. */
export function buildPenguinClassifier(): BundledClassifier {
  const data = loadPenguins();
  const { train, test } = split(data, 0.2, 7);
  const layers = trainClassifier(train, { hidden: 8, epochs: 60, learningRate: 0.02, seed: 42 });
  const inputRange = inputRangeFor(train.x);
  const model = {
    name: "penguin-species-mlp",
    graphName: "penguins",
    layers,
    features: data.features,
    classes: data.classes,
    inputRange,
    trainRows: train.x.length,
    test,
    example: data.x[0]!,
  };
  return bundleClassifier(
    model,
    ({ accuracy, recall, circuit }) => `---
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
shipped in vega-datasets; held-out accuracy ${percent(accuracy)} on ${test.x.length} rows (recall ${data.classes.map((c, i) => `${c} ${percent(recall[i]!)}`).join(", ")}).

Input: \`[beak length, beak depth, flipper length, body mass]\` in those units; standardisation is folded into the
first layer, so raw measurements go in.

Output: class index, then the three logits as int32 in units of 1e-4.

${circuitParagraph(inputRange, circuit)}
`,
  );
}
