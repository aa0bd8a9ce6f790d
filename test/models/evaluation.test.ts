import { expect } from "chai";
import { IntegrityError, InputError } from "../../src/core/errors";
import { Metric } from "../../src/core/evaluation";
import { sha256Hex } from "../../src/core/hash";
import { OnnxModel } from "../../src/inference/onnx";
import { bundledModels, type AnyBundledModel } from "../../src/models";
import {
  bundledEvaluationRows,
  checkRows,
  encodeRows,
  evaluateRows,
  EvaluationRowsError,
  parseRows,
  score,
  scoreBaseline,
  type EvaluationRows,
} from "../../src/models/evaluation";
import { expectRejection } from "../fixtures/assert";

describe("evaluation rows and metrics", () => {
  let models: AnyBundledModel[];
  before(() => {
    models = bundledModels();
  });
  const byName = (name: string) => models.find((m) => m.name === name)!;

  describe("score", () => {
    it("accuracy is floor(10^6 x correct / n)", () => {
      expect(score(Metric.Accuracy, [0, 1, 1], [0, 1, 0]).value).to.equal(666_666n);
      expect(score(Metric.Accuracy, [2, 2], [2, 2]).value).to.equal(1_000_000n);
      expect(score(Metric.Accuracy, [1], [0]).value).to.equal(0n);
    });

    it("MAE and RMSE are rounded to 10^-6 of the target's unit", () => {
      expect(score(Metric.MeanAbsoluteError, [1.5, 2], [1, 4]).value).to.equal(1_250_000n);
      expect(score(Metric.RootMeanSquaredError, [0, 0], [3, 4]).value).to.equal(
        BigInt(Math.round(Math.sqrt(12.5) * 1e6)),
      );
      expect(score(Metric.MeanAbsoluteError, [0.0000014], [0]).value).to.equal(1n);
    });

    it("refuses predictions that do not match the rows one to one", () => {
      expect(() => score(Metric.Accuracy, [1], [1, 0])).to.throw(InputError, /1 predictions for 2 rows/);
      expect(() => score(Metric.MeanAbsoluteError, [], [])).to.throw(InputError);
    });
  });

  describe("the rows file", () => {
    it("round-trips every bundled model's held-out rows, byte for byte on re-encoding", () => {
      for (const model of models) {
        const rows = bundledEvaluationRows(model);
        const bytes = encodeRows(rows);
        const parsed = parseRows(bytes);
        expect(parsed.x).to.deep.equal(model.test.x);
        expect(parsed.y).to.deep.equal(model.test.y);
        expect(sha256Hex(encodeRows(parsed))).to.equal(sha256Hex(bytes));
      }
    });

    it("is refused, naming the field, when it is malformed", () => {
      const good = bundledEvaluationRows(byName("penguin-species-mlp"));
      const bad = (change: (r: EvaluationRows) => unknown, field: RegExp) => {
        const copy = structuredClone(good) as EvaluationRows;
        change(copy);
        expect(() => parseRows(encodeRows(copy)), String(field)).to.throw(EvaluationRowsError, field);
      };
      bad((r) => ((r as { format: string }).format = "csv"), /"format"/);
      bad((r) => (r.task = "ranking" as never), /"task"/);
      bad((r) => (r.metric = "f1"), /"metric" must be one of/);
      bad((r) => (r.metric = "mae"), /"metric" mae does not score a classification task/);
      bad((r) => r.x[3]!.push(1), /"x\[3\]" must be 4 finite numbers/);
      bad((r) => (r.y[5] = 3), /"y\[5\]" must be a class index/);
      bad((r) => r.y.pop(), /"x" and y must be lists of the same length/);
      bad((r) => r.baseline.predictions.pop(), /"baseline"/);
      bad((r) => (r.baseline.predictions[0] = 0.5), /"baseline.predictions\[0\]"/);
      expect(() => parseRows(new TextEncoder().encode("not json"))).to.throw(EvaluationRowsError, /not UTF-8 JSON/);
    });

    it("checkRows refuses other bytes, another row count or another baseline than the dataset records", () => {
      const rows = bundledEvaluationRows(byName("seattle-weather-mlp"));
      const bytes = encodeRows(rows);
      const recorded = {
        rowsSha256: sha256Hex(bytes),
        rowCount: 292n,
        baselineValue: scoreBaseline(rows).value,
        metric: Metric.Accuracy,
      };
      expect(checkRows(bytes, recorded).x).to.have.length(292);
      expect(() => checkRows(bytes, { ...recorded, rowsSha256: sha256Hex("other") })).to.throw(
        IntegrityError,
        /hash to/,
      );
      expect(() => checkRows(bytes, { ...recorded, rowCount: 291n })).to.throw(IntegrityError, /holds 292 rows/);
      expect(() => checkRows(bytes, { ...recorded, baselineValue: 990_000n })).to.throw(
        IntegrityError,
        /the baseline scores 945205 on these rows, the dataset declares 990000/,
      );
      expect(() => checkRows(bytes, { ...recorded, metric: Metric.MeanAbsoluteError })).to.throw(IntegrityError);
    });
  });

  describe("bundled models on their held-out rows", () => {
    it("the weather classifier's baseline is the precipitation rule, at 94.5% (it never says snow), and the model scores below it", async () => {
      const model = byName("seattle-weather-mlp");
      const rows = bundledEvaluationRows(model);
      expect(rows.baseline.description).to.equal("rain when precipitation > 0, else dry");
      expect(scoreBaseline(rows).value).to.equal(945_205n);
      const result = await evaluateRows(rows, await OnnxModel.load(model.onnx));
      expect(result.value).to.equal(941_780n);
      expect(result.value < result.baselineValue).to.equal(true);
      // The card says so in as many words.
      expect(model.card).to.match(
        /\*\*This model is below that trivial baseline\*\*: 94\.2% against the rule's 94\.5%/,
      );
    });

    it("the volatility regressor's baseline is the naive forecast, and its served MAE is the float MAE within 10^-4", async () => {
      const model = byName("sp500-volatility-mlp");
      if (model.kind !== "regressor") throw new Error("not a regressor");
      const rows = bundledEvaluationRows(model);
      expect(scoreBaseline(rows).value).to.equal(BigInt(Math.round(model.metrics.baselineMae * 1e6)));
      const result = await evaluateRows(rows, await OnnxModel.load(model.onnx));
      expect(Number(result.value) / 1e6).to.be.closeTo(model.metrics.mae, 1e-4);
      expect(result.value < result.baselineValue, "the model beats the naive forecast").to.equal(true);
    });

    it("the other classifiers score their measured accuracy against the majority class", async () => {
      for (const name of ["penguin-species-mlp", "spam-assassin-mlp"]) {
        const model = byName(name);
        if (model.kind !== "classifier") throw new Error("not a classifier");
        const rows = bundledEvaluationRows(model);
        expect(rows.baseline.description).to.match(/most common class/);
        const result = await evaluateRows(rows, await OnnxModel.load(model.onnx));
        expect(Number(result.value) / 1e6).to.be.closeTo(model.accuracy, 1e-6);
        expect(result.value > result.baselineValue, name).to.equal(true);
      }
    });

    it("a model whose outputs do not fit the task is refused, and a wrong model scores worse than the baseline", async () => {
      const weather = byName("seattle-weather-mlp");
      const rows = bundledEvaluationRows(weather);
      await expectRejection(
        evaluateRows(rows, { run: () => Promise.resolve([0.3]) }),
        InputError,
        /row 0: the model gave 1 outputs/,
      );
      const alwaysSnow = await evaluateRows(rows, { run: () => Promise.resolve([0, 0, 1]) });
      expect(alwaysSnow.value).to.equal(BigInt(Math.floor((4 / 292) * 1e6)));
    });
  });
});
