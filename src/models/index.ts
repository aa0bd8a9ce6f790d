/**
 * Bundled models: small MLPs trained deterministically from data shipped in npm packages (nothing is downloaded),
 * exported as ONNX with a model card, and measured both as float networks and as the ZK circuit computes them.
 */
import { UnknownBundledModelError, type AnyBundledModel } from "./bundle";
import { buildPenguinClassifier } from "./penguins";
import { buildSpamClassifier } from "./spam";
import { buildVolatilityRegressor } from "./volatility";
import { buildWeatherClassifier } from "./weather";

export * from "./bundle";
export {
  MAX_ACCURACY_LOSS,
  evaluateCircuit,
  circuitOutputs,
  quantizeForCircuit,
  runOnnx,
  ModelEvaluationError,
  type CircuitEvaluation,
  type CircuitSubject,
} from "./evaluate";
export { buildPenguinClassifier } from "./penguins";
export { buildWeatherClassifier } from "./weather";
export { buildSpamClassifier, spamFeatures, tokenize } from "./spam";
export { buildVolatilityRegressor, volatilitySamples } from "./volatility";
export { argmax, forward } from "./train";

const BUILDERS = {
  "penguin-species-mlp": buildPenguinClassifier,
  "seattle-weather-mlp": buildWeatherClassifier,
  "spam-assassin-mlp": buildSpamClassifier,
  "sp500-volatility-mlp": buildVolatilityRegressor,
} as const satisfies Record<string, () => AnyBundledModel>;

export type BundledModelName = keyof typeof BUILDERS;

/** Names of the bundled models, in the order {@link bundledModels} returns them. */
export const BUNDLED_MODEL_NAMES = Object.keys(BUILDERS) as BundledModelName[];

/**
 * Trains every bundled model (deterministic: the same bytes on every machine; a few seconds in all).
 *
 * @example
 * for (const m of bundledModels()) console.log(m.name, m.kind, m.features.length);
 */
export function bundledModels(): AnyBundledModel[] {
  return BUNDLED_MODEL_NAMES.map((name) => BUILDERS[name]());
}

/**
 * Trains one bundled model by name.
 *
 * @throws UnknownBundledModelError naming the models that exist.
 * @example
 * const spam = bundledModel("spam-assassin-mlp");
 */
export function bundledModel(name: string): AnyBundledModel {
  if (!(name in BUILDERS)) throw new UnknownBundledModelError(name, BUNDLED_MODEL_NAMES);
  return BUILDERS[name as BundledModelName]();
}
