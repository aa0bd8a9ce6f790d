import { bundleRegressor, circuitParagraph } from "./build";
import { inputRangeFor, type BundledRegressor } from "./bundle";
import { loadSp500Daily } from "./datasets";
import { trainRegressor } from "./train";

/** Trading days ahead whose volatility the regressor forecasts. */
export const VOLATILITY_HORIZON = 5;

/** The lagged features of the volatility regressor, in the order the model takes them. */
export const VOLATILITY_FEATURES = [
  "Return today (%)",
  "Realised volatility, last 5 days (%)",
  "Realised volatility, last 22 days (%)",
  "Realised volatility, last 66 days (%)",
] as const;

/** Longest look-back window of {@link VOLATILITY_FEATURES}, in trading days. */
const LOOKBACK = 66;

/** Samples of the volatility task, one per trading day with a full look-back and a full horizon. */
export interface VolatilitySamples {
  /** Date of the last close each row's features see. */
  dates: string[];
  x: number[][];
  /** Realised volatility of the next `horizon` daily returns (%). */
  y: number[];
  /** The naive forecast: volatility stays at its level of the last `horizon` days. */
  naive: number[];
}

/** Daily log returns in percent: `100 · ln(close[t] / close[t−1])`, one shorter than `close`. */
export function logReturns(close: readonly number[]): number[] {
  return close.slice(1).map((c, i) => 100 * Math.log(c / close[i]!));
}

/** Realised volatility (%) of a window of daily returns (%): the root mean square, no mean removed. */
export function realisedVolatility(returns: readonly number[]): number {
  return Math.sqrt(returns.reduce((s, r) => s + r * r, 0) / returns.length);
}

/**
 * Builds one sample per trading day t: the features see the returns up to and including day t, the target is
 * the realised volatility of the returns of days t+1 … t+horizon.
 *
 * @example
 * const { x, y } = volatilitySamples(dates, close, 5);
 */
export function volatilitySamples(
  dates: readonly string[],
  close: readonly number[],
  horizon: number,
): VolatilitySamples {
  const r = logReturns(close);
  const out: VolatilitySamples = { dates: [], x: [], y: [], naive: [] };
  // r[i] is the return from close i to close i + 1, known on the date of close i + 1.
  for (let i = LOOKBACK - 1; i + horizon < r.length; i++) {
    const past = (days: number) => realisedVolatility(r.slice(i + 1 - days, i + 1));
    out.dates.push(dates[i + 1]!);
    out.x.push([r[i]!, past(5), past(22), past(LOOKBACK)]);
    out.y.push(realisedVolatility(r.slice(i + 1, i + 1 + horizon)));
    out.naive.push(past(horizon));
  }
  return out;
}

/**
 * Trains the S&P 500 volatility regressor (deterministic): today's return and the realised volatility of the last 5,
 * 22 and 66 trading days → the realised volatility of the next 5 trading days, all in percent per day. The split
 * is chronological: the first 80% of the days train, the last 20% (2016–2020) test, with the ${VOLATILITY_HORIZON} days between
 * dropped so no training target overlaps a test target.
 *
 * @example
 * const model = buildVolatilityRegressor();
 * forward(model.layers, [-1.2, 1.1, 0.9, 0.8])[0] // next week's volatility, % per day
 */
export function buildVolatilityRegressor(): BundledRegressor {
  const { dates, close } = loadSp500Daily();
  const h = VOLATILITY_HORIZON;
  const samples = volatilitySamples(dates, close, h);
  const cut = Math.round(samples.x.length * 0.8);
  const train = { x: samples.x.slice(0, cut - h), y: samples.y.slice(0, cut - h) };
  const test = { x: samples.x.slice(cut), y: samples.y.slice(cut) };
  const layers = trainRegressor(
    { name: "sp500-volatility", features: [...VOLATILITY_FEATURES], target: "volatility", ...train },
    { hidden: 8, epochs: 20, learningRate: 0.002, seed: 3 },
  );
  const inputRange = inputRangeFor(train.x);
  const span = (from: number, to: number) => `${samples.dates[from]} to ${samples.dates[to]}`;
  const model = {
    name: "sp500-volatility-mlp",
    graphName: "sp500_volatility",
    layers,
    features: [...VOLATILITY_FEATURES],
    target: `Realised volatility of the next ${h} daily returns (%)`,
    inputRange,
    trainRows: train.x.length,
    test,
    example: test.x[test.x.length - 1]!,
    baseline: samples.naive.slice(cut),
    baselineName: `the realised volatility of the last ${h} days`,
  };
  return bundleRegressor(
    model,
    ({ metrics, circuit }) => `---
name: sp500-volatility-mlp
task: tabular-regression
license: bsd-3-clause
library: onnx
tags: [finance, volatility, sp500, time-series, regression, mlp]
datasets: [vega-datasets/sp500-2000]
---
# S&P 500 volatility forecaster

A 4-8-1 ReLU network that forecasts the realised volatility of the S&P 500 over the next ${h} trading days (root mean
square of the daily log returns, in percent per day) from today's log return and the realised volatility of the
last 5, 22 and 66 trading days. Trained on ${train.x.length} days (${span(0, cut - h - 1)}) of the daily closes shipped in
vega-datasets (\`sp500-2000.csv\`, from Yahoo Finance); tested on the ${test.x.length} days that follow
(${span(cut, samples.x.length - 1)}, including the March 2020 crash).

| held-out | MAE (% per day) | RMSE (% per day) |
| --- | --- | --- |
| this model | ${metrics.mae.toFixed(3)} | ${metrics.rmse.toFixed(3)} |
| naive: ${metrics.baseline} | ${metrics.baselineMae.toFixed(3)} | ${metrics.baselineRmse.toFixed(3)} |

Input: \`[return today, volatility 5 days, volatility 22 days, volatility 66 days]\`, all in percent; a return is
\`100 · ln(close / previous close)\`. Output: the forecast volatility in percent per day (multiply by √252 for an
annualised figure). Data: vega-datasets is BSD-3-Clause licensed; the price series itself carries no license of its
own. Not investment advice: volatility forecasts are noisy, and the model has only seen 2000–2016.

${circuitParagraph(inputRange, circuit, " % per day")}
The circuit's output is the forecast times 2^${circuit.scaleBits}, as an integer.
`,
  );
}
