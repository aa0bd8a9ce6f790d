import { expect } from "chai";
import { parseModelCard } from "../../src/hub/card";
import {
  BUNDLED_MODEL_NAMES,
  bundledModel,
  bundledModels,
  circuitOutputs,
  evaluateCircuit,
  MAX_ACCURACY_LOSS,
  forward,
  quantizeForCircuit,
  runOnnx,
  UnknownBundledModelError,
  type AnyBundledModel,
  type BundledClassifier,
} from "../../src/models";
import { buildVocabulary, tokenize } from "../../src/models/spam";
import { loadSp500Daily, loadSpamAssassin, splitIndices } from "../../src/models/datasets";
import { volatilitySamples } from "../../src/models/volatility";
import { lowerToMlp } from "../../src/zkml/mlp";
import { parseOnnx } from "../../src/zkml/onnx";
import { quantizeInput, quantizeMlp } from "../../src/zkml/quantize";
import { ZkmlInputRangeError } from "../../src/zkml/errors";
import type { DenseLayer } from "../../src/zkml/mlp";

/** Held-out float accuracy each classifier must reach (well under what it measures, above chance). */
const MIN_ACCURACY: Record<string, number> = {
  "penguin-species-mlp": 0.95,
  "seattle-weather-mlp": 0.9,
  "spam-assassin-mlp": 0.95,
};

/** Rows (index, output) on which onnxruntime and the TypeScript forward differ by more than float32 noise. */
async function onnxMismatches(onnx: Uint8Array, layers: DenseLayer[], rows: number[][]): Promise<[number, number][]> {
  const outputs = await runOnnx(onnx, rows);
  const bad: [number, number][] = [];
  outputs.forEach((out, i) => {
    const expected = forward(layers, rows[i]!);
    expect(out).to.have.length(expected.length);
    out.forEach((v, j) => {
      if (Math.abs(v - expected[j]!) > 1e-3 * Math.max(1, Math.abs(expected[j]!))) bad.push([i, j]);
    });
  });
  return bad;
}

describe("bundled models", () => {
  let models: AnyBundledModel[];
  before(() => {
    models = bundledModels();
  });
  const byName = (name: string) => models.find((m) => m.name === name)!;

  it("are the four models trained from npm datasets, two kinds", () => {
    expect(models.map((m) => m.name)).to.deep.equal([...BUNDLED_MODEL_NAMES]);
    expect(models.map((m) => m.kind)).to.deep.equal(["classifier", "classifier", "classifier", "regressor"]);
  });

  it("retrain to the same ONNX bytes", () => {
    for (const name of ["penguin-species-mlp", "seattle-weather-mlp", "sp500-volatility-mlp"]) {
      expect(Buffer.from(bundledModel(name).onnx).equals(Buffer.from(byName(name).onnx)), name).to.be.true;
    }
  });

  it("rejects an unknown model name with the names that exist", () => {
    expect(() => bundledModel("iris-mlp")).to.throw(UnknownBundledModelError, "penguin-species-mlp");
  });

  for (const name of BUNDLED_MODEL_NAMES) {
    describe(name, () => {
      it("has a model card with the hub's front matter, naming the model and its held-out figures", () => {
        const model = byName(name);
        const card = parseModelCard(model.card);
        expect(card.name).to.equal(name);
        expect(card.library).to.equal("onnx");
        expect(card.task).to.equal(
          model.kind === "classifier"
            ? name.startsWith("spam")
              ? "text-classification"
              : "tabular-classification"
            : "tabular-regression",
        );
        expect(card.license).to.match(/^[a-z0-9.-]+$/);
        expect(card.datasets).to.have.length(1);
        expect(card.tags.length).to.be.greaterThan(2);
        expect(card.body)
          .to.contain(`${model.trainRows}`)
          .and.contain(`${model.test.x.length}`)
          .and.contain(`[-${model.inputRange}, ${model.inputRange}]`);
      });

      it("runs in onnxruntime-node as the TypeScript float forward does on every held-out row", async () => {
        const model = byName(name);
        expect(model.test.x.length).to.be.greaterThan(50);
        expect(await onnxMismatches(model.onnx, model.layers, model.test.x)).to.deep.equal([]);
      });

      it("lowers from its ONNX bytes to the trained layers", () => {
        const model = byName(name);
        const mlp = lowerToMlp(parseOnnx(model.onnx));
        expect(mlp.inputSize).to.equal(model.features.length).and.equal(model.example.length);
        expect(mlp.layers.map((l) => [l.weights.length, l.relu])).to.deep.equal(
          model.layers.map((l) => [l.weights.length, l.relu]),
        );
        mlp.layers.forEach((l, k) =>
          l.weights
            .flat()
            .forEach((w, i) =>
              expect(w).to.be.closeTo(model.layers[k]!.weights.flat()[i]!, 1e-6 * Math.max(1, Math.abs(w))),
            ),
        );
      });

      it("has an input range that holds every held-out row and the example", () => {
        const model = byName(name);
        const q = quantizeForCircuit(model);
        expect(q.inputRange).to.equal(model.inputRange);
        for (const x of [...model.test.x, model.example]) expect(() => quantizeInput(q, x)).not.to.throw();
        expect(evaluateCircuit(model, q).clampedRows).to.equal(0);
      });

      it("computes in the circuit's fixed point what the reference evaluator computes, close to the float model", () => {
        const model = byName(name);
        const e = evaluateCircuit(model);
        expect(e.rows).to.equal(model.test.x.length);
        expect(e.scaleBits).to.be.within(8, 12);
        expect(e.inputSize).to.equal(model.features.length);
        if (model.kind === "classifier") {
          expect(e.metric).to.equal("accuracy");
          expect(e.float).to.equal(model.accuracy);
          expect(e.float).to.be.at.least(MIN_ACCURACY[name]!);
          expect(e.loss, `circuit accuracy ${e.circuit} vs float ${e.float}`).to.be.at.most(MAX_ACCURACY_LOSS);
        } else {
          expect(e.metric).to.equal("mae");
          expect(e.float).to.be.closeTo(model.metrics.mae, 1e-12);
          expect(Math.abs(e.loss)).to.be.below(0.01 * e.float);
        }
      });
    });
  }

  describe("the checks can fail", () => {
    it("a changed bias makes onnxruntime and the TypeScript forward disagree", async () => {
      const model = byName("seattle-weather-mlp");
      const layers = structuredClone(model.layers);
      layers[layers.length - 1]!.bias[0]! += 0.01;
      expect((await onnxMismatches(model.onnx, layers, model.test.x)).length).to.be.greaterThan(0);
    });

    it("a coarse scale (2^4) costs the penguin classifier far more than the accuracy bound", () => {
      const model = byName("penguin-species-mlp");
      const coarse = quantizeMlp(lowerToMlp(parseOnnx(model.onnx)), { inputRange: model.inputRange, scaleBits: 4 });
      expect(evaluateCircuit(model, coarse).loss).to.be.greaterThan(MAX_ACCURACY_LOSS);
    });

    it("an input beyond the range is rejected by the circuit, and circuitOutputs clamps it and says so", () => {
      const model = byName("sp500-volatility-mlp");
      const q = quantizeForCircuit(model);
      const wild = [-2 * model.inputRange, 3, 2, 1];
      expect(() => quantizeInput(q, wild)).to.throw(ZkmlInputRangeError);
      const out = circuitOutputs(q, wild);
      expect(out.clamped).to.be.true;
      expect(out.output).to.deep.equal(circuitOutputs(q, [-model.inputRange, 3, 2, 1]).output);
    });

    it("shuffled labels bring a classifier's accuracy down to chance", () => {
      const model = byName("spam-assassin-mlp") as BundledClassifier;
      const y = model.test.y.map((_, i) => model.test.y[(i * 7919) % model.test.y.length]!);
      expect(evaluateCircuit({ ...model, test: { x: model.test.x, y } }).circuit).to.be.below(0.75);
    });
  });

  describe("spam-assassin-mlp", () => {
    it("takes its vocabulary from the training split only", () => {
      const model = byName("spam-assassin-mlp");
      const emails = loadSpamAssassin();
      const { train, test } = splitIndices(emails.length, 0.2, 11);
      const vocabulary = (idx: number[]) =>
        buildVocabulary(
          idx.map((i) => tokenize(emails[i]!)),
          idx.map((i) => emails[i]!.spam),
          { size: model.features.length },
        ).map((t) => t.token);
      expect(vocabulary(train)).to.deep.equal(model.features);
      expect(vocabulary(test)).not.to.deep.equal(model.features);
      expect(model.test.x.length).to.equal(test.length);
    });

    it("reads a spam-like message as spam and a mailing-list reply as ham", () => {
      const model = byName("spam-assassin-mlp") as BundledClassifier;
      const q = quantizeForCircuit(model);
      const features = (subject: string, body: string) =>
        model.features.map((t) => (tokenize({ subject, body }).has(t) ? 1 : 0));
      const spam = features(
        "Guaranteed income!!!",
        "<html><body><font color=red>Click here</font> to receive FREE money. Remove me from this list</body></html>",
      );
      const ham = features(
        "Re: rpm build fails",
        "Joe wrote:\n> it fails on redhat\nTry the freshrpms package; it seems fixed.\n_______________________________________________\nhttps://listman.redhat.com/mailman/listinfo/users",
      );
      expect(model.classes[circuitOutputs(q, spam).argmax]).to.equal("spam");
      expect(model.classes[circuitOutputs(q, ham).argmax]).to.equal("ham");
    });
  });

  describe("sp500-volatility-mlp", () => {
    it("beats the naive forecast (last 5 days' volatility) on the held-out years, in MAE and RMSE", () => {
      const model = byName("sp500-volatility-mlp");
      if (model.kind !== "regressor") expect.fail(`${model.name} is not a regressor`);
      expect(model.metrics.mae).to.be.below(model.metrics.baselineMae);
      expect(model.metrics.rmse).to.be.below(model.metrics.baselineRmse);
      expect(model.baseline).to.have.length(model.test.x.length);
    });

    it("builds features from past closes only: changing a future close changes no earlier row's features", () => {
      const { dates, close } = loadSp500Daily();
      const before = volatilitySamples(dates, close, 5);
      const shocked = [...close];
      const day = 3000;
      shocked[day] = shocked[day]! * 1.1;
      const after = volatilitySamples(dates, shocked, 5);
      const firstSeeing = before.dates.indexOf(dates[day]!);
      expect(firstSeeing).to.be.greaterThan(0);
      const same = (a: number[], b: number[]) => a.length === b.length && a.every((v, j) => v === b[j]);
      expect(before.x.slice(0, firstSeeing).every((row, i) => same(row, after.x[i]!))).to.be.true;
      expect(same(after.x[firstSeeing]!, before.x[firstSeeing]!)).to.be.false;
      expect(after.y[firstSeeing - 1]).not.to.equal(before.y[firstSeeing - 1]);
    });
  });
});
