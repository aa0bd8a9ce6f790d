/**
 * Verified evaluations for dApps, publishers and auditors: register a dataset (its rows file stored by content), ask
 * for an evaluation of a model version and wait for it, and read what the EvaluationRegistry recorded of a version,
 * each with its baseline and whether its enclave is still trusted.
 */
import type { Provider, Signer } from "ethers";
import { cidFromString, cidString } from "../core/cid";
import type { ContentStore } from "../core/content";
import { requireEvaluationRegistry, type Contracts } from "../core/contracts";
import { BaseError, InputError, NotFoundError, TimeoutError } from "../core/errors";
import {
  EvaluationStatus,
  isBetter,
  METRIC_NAMES,
  toDatasetId,
  toEvaluationId,
  toMetric,
  type DatasetId,
  type EvaluationId,
  type Metric,
} from "../core/evaluation";
import { sha256Hex } from "../core/hash";
import type { ModelId } from "../core/ids";
import { getLogsChunked } from "../core/logs";
import { Mode } from "../core/modes";
import { headBlockNumber } from "../core/provider";
import { sleep, withRetry } from "../core/retry";
import { asRevertError } from "../core/revert";
import { encodeRows, rowsMetric, scoreBaseline, type EvaluationRows } from "../models/evaluation";

/** A dataset as the registry records it. */
export interface DatasetInfo {
  datasetId: DatasetId;
  registrant: string;
  registeredAt: bigint;
  rowsCid: string;
  rowsSha256: string;
  rowCount: number;
  metric: Metric;
  baselineValue: bigint;
  name: string;
  split: string;
  baseline: string;
}

/** A recorded evaluation of a version on a dataset, with what it is trusted by. */
export interface VersionEvaluation {
  requestId: EvaluationId;
  modelId: bigint;
  version: number;
  dataset: DatasetInfo;
  value: bigint;
  /** Whether the version scores better than the dataset's trivial baseline. */
  beatsBaseline: boolean;
  evaluatedAt: bigint;
  enclave: string;
  operator: string;
  measurement: string;
  /** Whether the enclave and its measurement are still unrevoked (`verifiedEvaluation`), as of `block`. */
  valid: boolean;
  /** The block everything was read at. */
  block: number | "latest";
}

/** Options of every read: the block to read at (default latest). */
export interface ReadOptions {
  blockTag?: number;
}

/**
 * A registered dataset.
 * @throws RevertError (EvaluationRegistryUnknownDataset) for an id that does not exist.
 */
export async function getDataset(
  contracts: Pick<Contracts, "evaluationRegistry">,
  datasetId: DatasetId,
  options: ReadOptions = {},
): Promise<DatasetInfo> {
  const registry = requireEvaluationRegistry(contracts);
  const d = await call("datasetOf", () => registry.datasetOf(datasetId, { blockTag: options.blockTag }));
  return {
    datasetId,
    registrant: d.registrant,
    registeredAt: d.registeredAt,
    rowsCid: cidString(d.rowsCid),
    rowsSha256: d.rowsSha256,
    rowCount: Number(d.rowCount),
    metric: toMetric(d.metric),
    baselineValue: d.baselineValue,
    name: d.name,
    split: d.split,
    baseline: d.baseline,
  };
}

/** Every registered dataset, in id order. */
export async function listDatasets(
  contracts: Pick<Contracts, "evaluationRegistry">,
  options: ReadOptions = {},
): Promise<DatasetInfo[]> {
  const registry = requireEvaluationRegistry(contracts);
  const count = await call("datasetCount", () => registry.datasetCount({ blockTag: options.blockTag }));
  const out: DatasetInfo[] = [];
  for (let id = 1n; id <= count; id++) out.push(await getDataset(contracts, toDatasetId(id), options));
  return out;
}

export interface RegisterDatasetParams {
  contracts: Pick<Contracts, "evaluationRegistry">;
  signer: Signer;
  rows: EvaluationRows;
  /** Where nodes fetch the rows: the file is added here, and its CID registered. */
  content: Pick<ContentStore, "add">;
}

/**
 * Stores a rows file and registers it as a dataset, with the baseline scored from the file's own predictions.
 * @example const { datasetId } = await registerDataset({ contracts, signer, rows: bundledEvaluationRows(model), content });
 */
export async function registerDataset(params: RegisterDatasetParams): Promise<{
  datasetId: DatasetId;
  rowsCid: string;
  rowsSha256: string;
  baselineValue: bigint;
  transactionHash: string;
}> {
  const registry = requireEvaluationRegistry(params.contracts).connect(params.signer);
  const bytes = encodeRows(params.rows);
  const rowsCid = await params.content.add(bytes);
  const rowsSha256 = sha256Hex(bytes);
  const baselineValue = scoreBaseline(params.rows).value;
  const input = {
    rowsCid: cidFromString(rowsCid),
    rowsSha256,
    rowCount: params.rows.x.length,
    metric: rowsMetric(params.rows),
    baselineValue,
    name: params.rows.name,
    split: params.rows.split,
    baseline: params.rows.baseline.description,
  };
  const receipt = await send("registerDataset", async () => (await registry.registerDataset(input)).wait());
  const event = receipt.logs.map((l) => registry.interface.parseLog(l)).find((e) => e?.name === "DatasetRegistered");
  if (event === undefined || event === null)
    throw new BaseError(`registerDataset ${receipt.hash} emitted no DatasetRegistered event`);
  return {
    datasetId: toDatasetId(event.args.datasetId as bigint),
    rowsCid,
    rowsSha256,
    baselineValue,
    transactionHash: receipt.hash,
  };
}

export interface RequestEvaluationParams {
  contracts: Pick<Contracts, "evaluationRegistry" | "registry" | "token">;
  signer: Signer;
  modelId: ModelId;
  /** Default: the latest version. */
  version?: number;
  datasetId: DatasetId;
  /** Paid to the enclave's operator that serves it (token wei). */
  fee: bigint;
  /** Seconds from now to the deadline. Default 600. */
  durationSeconds?: number;
}

/**
 * Asks for an evaluation: checks the version serves TEE mode and the dataset exists (an InputError otherwise), approves
 * the fee if needed and sends `requestEvaluation`.
 * @example const { requestId } = await requestEvaluation({ contracts, signer, modelId: toModelId(1), datasetId: toDatasetId(1), fee: 10n ** 18n });
 */
export async function requestEvaluation(params: RequestEvaluationParams): Promise<{
  requestId: EvaluationId;
  version: number;
  deadline: bigint;
  transactionHash: string;
  blockNumber: number;
}> {
  const { contracts, signer, modelId, datasetId, fee } = params;
  const registry = requireEvaluationRegistry(contracts).connect(signer);
  const version =
    params.version ?? Number(await withRetry("registry.versionCount", () => contracts.registry.versionCount(modelId)));
  if (version === 0) throw new InputError(`model ${modelId} has no version: check --model`);
  const info = await call("registry.versionOf", () => contracts.registry.versionOf(modelId, version));
  if ((Number(info.modes) & (1 << Mode.Tee)) === 0)
    throw new InputError(`model ${modelId}@${version} does not serve TEE mode: evaluations are made by enclaves`);
  const count = await call("datasetCount", () => registry.datasetCount());
  if (datasetId > count) throw new InputError(`dataset ${datasetId} does not exist (datasets 1..${count})`);
  const owner = await signer.getAddress();
  const address = await registry.getAddress();
  if (fee > 0n) {
    const token = contracts.token.connect(signer);
    const balance = await call("token.balanceOf", () => token.balanceOf(owner));
    if (balance < fee) throw new InputError(`${owner} holds ${balance} token wei, the fee is ${fee}: fund it first`);
    const allowance = await call("token.allowance", () => token.allowance(owner, address));
    if (allowance < fee) await send("token.approve", async () => (await token.approve(address, fee)).wait());
  }
  const provider = signer.provider;
  if (provider === null) throw new InputError("the signer is not connected to a provider");
  const head = await withRetry("eth_getBlock", () => provider.getBlock("latest"));
  if (head === null) throw new NotFoundError("the latest block is unavailable");
  const deadline = BigInt(head.timestamp) + BigInt(params.durationSeconds ?? 600);
  const receipt = await send("requestEvaluation", async () =>
    (await registry.requestEvaluation(modelId, version, datasetId, fee, deadline)).wait(),
  );
  const event = receipt.logs.map((l) => registry.interface.parseLog(l)).find((e) => e?.name === "EvaluationRequested");
  if (event === undefined || event === null)
    throw new BaseError(`requestEvaluation ${receipt.hash} emitted no EvaluationRequested event`);
  return {
    requestId: toEvaluationId(event.args.requestId as bigint),
    version,
    deadline,
    transactionHash: receipt.hash,
    blockNumber: receipt.blockNumber,
  };
}

/** How a request ended. */
export type EvaluationOutcome =
  | { status: "evaluated"; requestId: EvaluationId; value: bigint; enclave: string; evaluatedAt: bigint }
  | { status: "refunded"; requestId: EvaluationId };

/**
 * Polls a request until it is evaluated, or until its deadline has passed unserved (then it refunds it, if it still
 * can, and reports `refunded`).
 * @throws TimeoutError after `timeoutMs`.
 */
export async function waitForEvaluation(params: {
  contracts: Pick<Contracts, "evaluationRegistry">;
  requestId: EvaluationId;
  /** Refunds an expired request with this signer (else it only reports it). */
  refunder?: Signer;
  timeoutMs?: number;
  pollIntervalMs?: number;
  signal?: AbortSignal;
}): Promise<EvaluationOutcome> {
  const registry = requireEvaluationRegistry(params.contracts);
  const end = Date.now() + (params.timeoutMs ?? 600_000);
  for (;;) {
    const request = await call("requestOf", () => registry.requestOf(params.requestId));
    const status = Number(request.status);
    if (status === EvaluationStatus.Evaluated) {
      const r = await call("resultOf", () => registry.resultOf(params.requestId));
      return {
        status: "evaluated",
        requestId: params.requestId,
        value: r.value,
        enclave: r.enclave,
        evaluatedAt: r.evaluatedAt,
      };
    }
    if (status === EvaluationStatus.Refunded) return { status: "refunded", requestId: params.requestId };
    const provider = registry.runner?.provider;
    const head = provider === undefined || provider === null ? null : await provider.getBlock("latest");
    if (head !== null && BigInt(head.timestamp) > request.deadline) {
      if (params.refunder !== undefined)
        await send("refund", async () => (await registry.connect(params.refunder!).refund(params.requestId)).wait());
      return { status: "refunded", requestId: params.requestId };
    }
    if (Date.now() > end)
      throw new TimeoutError(
        `evaluation request ${params.requestId} was not served within ${params.timeoutMs ?? 600_000} ms`,
      );
    await sleep(params.pollIntervalMs ?? 1_000, params.signal);
  }
}

/**
 * The latest recorded evaluation of `modelId`@`version` on every dataset it was evaluated on (from
 * `EvaluationRecorded` events, then `verifiedEvaluation` for each dataset), read at `blockTag`.
 * @example for (const e of await versionEvaluations({ contracts, provider, modelId, version: 1, fromBlock })) console.log(e.dataset.name, e.value);
 */
export async function versionEvaluations(params: {
  contracts: Pick<Contracts, "evaluationRegistry">;
  provider: Provider;
  modelId: bigint;
  version: number;
  fromBlock: number;
  blockTag?: number;
  maxRange?: number;
}): Promise<VersionEvaluation[]> {
  const registry = requireEvaluationRegistry(params.contracts);
  const toBlock = params.blockTag ?? (await headBlockNumber(params.provider));
  const topic = registry.interface.getEvent("EvaluationRecorded").topicHash;
  const logs = await getLogsChunked(params.provider, {
    address: await registry.getAddress(),
    topics: [topic, null, `0x${params.modelId.toString(16).padStart(64, "0")}`],
    fromBlock: params.fromBlock,
    toBlock,
    maxRange: params.maxRange,
  });
  const datasets = new Set<bigint>();
  for (const log of logs) {
    const event = registry.interface.parseLog(log);
    if (event !== null && Number(event.args.version) === params.version) datasets.add(event.args.datasetId as bigint);
  }
  const out: VersionEvaluation[] = [];
  for (const id of [...datasets].sort((a, b) => (a < b ? -1 : 1))) {
    const e = await evaluationOf(params.contracts, params.modelId, params.version, toDatasetId(id), {
      blockTag: params.blockTag,
    });
    if (e !== undefined) out.push(e);
  }
  return out;
}

/** The latest evaluation of `modelId`@`version` on `datasetId` (`verifiedEvaluation`), or undefined if none. */
export async function evaluationOf(
  contracts: Pick<Contracts, "evaluationRegistry">,
  modelId: bigint,
  version: number,
  datasetId: DatasetId,
  options: ReadOptions = {},
): Promise<VersionEvaluation | undefined> {
  const registry = requireEvaluationRegistry(contracts);
  const v = await call("verifiedEvaluation", () =>
    registry.verifiedEvaluation(modelId, version, datasetId, { blockTag: options.blockTag }),
  );
  if (v.id === 0n) return undefined;
  const dataset = await getDataset(contracts, datasetId, options);
  const metric = toMetric(v.metric);
  return {
    requestId: toEvaluationId(v.id),
    modelId,
    version,
    dataset,
    value: v.value,
    beatsBaseline: isBetter(metric, v.value, v.baselineValue),
    evaluatedAt: v.evaluatedAt,
    enclave: v.enclave,
    operator: v.operator,
    measurement: v.measurement,
    valid: v.valid,
    block: options.blockTag ?? "latest",
  };
}

/** A `<id>` or `<id>@<version>` argument. */
export function parseModelSpec(spec: string): { modelId: bigint; version?: number } {
  const match = /^(\d+)(?:@(\d+))?$/.exec(spec.trim());
  if (match === null || BigInt(match[1]!) === 0n)
    throw new InputError(`"${spec}" must be <model id> or <model id>@<version>, e.g. 4 or 4@1`);
  return { modelId: BigInt(match[1]!), version: match[2] === undefined ? undefined : Number(match[2]) };
}

/** The metric's name of a dataset (`accuracy`, `mae`, `rmse`). */
export const metricName = (metric: Metric): string => METRIC_NAMES[metric];

function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  return withRetry(`evaluationRegistry.${what}`, fn).catch((error: unknown) => {
    throw asRevertError(error, { contract: "evaluationRegistry", call: what });
  });
}

async function send<T>(what: string, fn: () => Promise<T | null>): Promise<T> {
  try {
    const receipt = await fn();
    if (receipt === null) throw new NotFoundError(`${what}: no receipt`);
    return receipt;
  } catch (error) {
    throw asRevertError(error, { contract: what.startsWith("token") ? "token" : "evaluationRegistry", call: what });
  }
}
