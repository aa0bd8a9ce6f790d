/**
 * Verified evaluations, as `IEvaluationRegistry` defines them: the typed ids of datasets and requests, the metrics and
 * their fixed-point scale, and what an enclave signs for a result (EIP-712 `EvaluationResult`). Every process that
 * signs, submits, checks or shows an evaluation (the node, the SDK, the CLI, the hub, the devnet) takes them from here.
 */
import type { TypedDataDomain, TypedDataField } from "ethers";
import { InputError } from "./errors";
import { positiveUint64 } from "./ids";

declare const datasetIdBrand: unique symbol;
declare const evaluationIdBrand: unique symbol;

/** A dataset in the EvaluationRegistry (`DatasetId`, 1-based `uint64`). */
export type DatasetId = bigint & { readonly [datasetIdBrand]: true };
/** An evaluation request in the EvaluationRegistry (`EvaluationId`, 1-based `uint64`). */
export type EvaluationId = bigint & { readonly [evaluationIdBrand]: true };

/**
 * A {@link DatasetId} from a number, bigint or decimal string.
 * @throws InputError when it is not a positive 64-bit integer.
 * @example toDatasetId("2")
 */
export const toDatasetId = (value: bigint | number | string): DatasetId =>
  positiveUint64("dataset id", value) as DatasetId;

/**
 * An {@link EvaluationId} from a number, bigint or decimal string.
 * @throws InputError when it is not a positive 64-bit integer.
 * @example toEvaluationId(5n)
 */
export const toEvaluationId = (value: bigint | number | string): EvaluationId =>
  positiveUint64("evaluation request id", value) as EvaluationId;

/** `IEvaluationRegistry.Metric`. */
export enum Metric {
  Accuracy = 0,
  MeanAbsoluteError = 1,
  RootMeanSquaredError = 2,
}

/** The metrics, by value, as people and the rows file name them. */
export const METRIC_NAMES: Readonly<Record<Metric, string>> = {
  [Metric.Accuracy]: "accuracy",
  [Metric.MeanAbsoluteError]: "mae",
  [Metric.RootMeanSquaredError]: "rmse",
};

/** `IEvaluationRegistry.Status`. */
export enum EvaluationStatus {
  None = 0,
  Open = 1,
  Evaluated = 2,
  Refunded = 3,
}

/** Fixed-point units per unit of a metric value (`IEvaluationRegistry.METRIC_SCALE`). */
export const METRIC_SCALE = 1_000_000;

/**
 * A metric by its name (`accuracy`, `mae`, `rmse`).
 * @throws InputError naming the metrics that exist.
 */
export function parseMetric(name: string): Metric {
  const found = (Object.entries(METRIC_NAMES) as [string, string][]).find(([, n]) => n === name);
  if (found === undefined)
    throw new InputError(`metric "${name}" is not one of ${Object.values(METRIC_NAMES).join(", ")}`);
  return Number(found[0]) as Metric;
}

/** A metric from a chain value. @throws InputError for a value no metric has. */
export function toMetric(value: bigint | number): Metric {
  const n = Number(value);
  if (!(n in METRIC_NAMES)) throw new InputError(`metric ${n} is unknown`);
  return n as Metric;
}

/** Whether `value` scores better than `other` under `metric` (`IEvaluationRegistry.isBetter`). */
export function isBetter(metric: Metric, value: bigint | number, other: bigint | number): boolean {
  return metric === Metric.Accuracy ? BigInt(value) > BigInt(other) : BigInt(value) < BigInt(other);
}

/**
 * A metric value (fixed point) as people read it: accuracy as a percentage, errors in the target's unit.
 * @example formatMetric(Metric.Accuracy, 959_000n) // "95.90%"
 */
export function formatMetric(metric: Metric, value: bigint | number): string {
  const real = Number(value) / METRIC_SCALE;
  return metric === Metric.Accuracy ? `${(real * 100).toFixed(2)}%` : real.toFixed(4);
}

/** The EIP-712 type an enclave signs for a result (`EvaluationRegistry.EVALUATION_RESULT_TYPEHASH`). */
export const EVALUATION_RESULT_TYPES: Record<string, TypedDataField[]> = {
  EvaluationResult: [
    { name: "requestId", type: "uint64" },
    { name: "modelId", type: "uint64" },
    { name: "version", type: "uint32" },
    { name: "datasetId", type: "uint64" },
    { name: "rowsSha256", type: "bytes32" },
    { name: "metric", type: "uint8" },
    { name: "rowCount", type: "uint32" },
    { name: "value", type: "int64" },
    { name: "baselineValue", type: "int64" },
  ],
};

/** What an enclave signs for a result (`IEvaluationRegistry.EvaluationResult`). */
export interface EvaluationResultMessage {
  requestId: bigint;
  modelId: bigint;
  version: bigint;
  datasetId: bigint;
  rowsSha256: string;
  metric: Metric;
  rowCount: bigint;
  value: bigint;
  baselineValue: bigint;
}

/** The EIP-712 domain of an EvaluationRegistry deployment. */
export function evaluationDomain(chainId: bigint, registry: string): TypedDataDomain {
  return { name: "InferenceEvaluationRegistry", version: "1", chainId, verifyingContract: registry };
}

/** Something that signs EIP-712 data with an enclave's key. */
export interface TypedDataSigner {
  signTypedData(
    domain: TypedDataDomain,
    types: Record<string, TypedDataField[]>,
    value: Record<string, unknown>,
  ): Promise<string>;
}

/** Signs a result with an enclave key; the 65-byte signature is what `submitEvaluation` takes. */
export function signEvaluationResult(
  enclave: TypedDataSigner,
  domain: TypedDataDomain,
  message: EvaluationResultMessage,
): Promise<string> {
  return enclave.signTypedData(domain, EVALUATION_RESULT_TYPES, { ...message });
}
