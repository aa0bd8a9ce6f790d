import { getBytes, toBeHex, zeroPadValue, type Provider } from "ethers";
import { toJob, type Job } from "../protocol/job";
import type { IJobEscrow, JobEscrow } from "../../typechain-types/contracts/escrow/JobEscrow";
import { InputError } from "./errors";
import { getLogsChunked } from "./logs";
import { withRetry } from "./retry";
import { asContractError } from "./revert";

/** A job id (`JobId` on-chain). Branded so it cannot be confused with a model id. */
export type JobId = bigint & { readonly __brand: "JobId" };
/** A model id (`ModelId` on-chain). */
export type ModelId = bigint & { readonly __brand: "ModelId" };

export const toJobId = (value: bigint | number | string): JobId => BigInt(value) as JobId;
export const toModelId = (value: bigint | number | string): ModelId => BigInt(value) as ModelId;

/** A job's terms and input, as `JobRequested` carried them, with where the event was. */
export interface JobRequest {
  job: Job;
  input: string;
  inputUri: string;
  blockNumber: number;
  transactionHash: string;
}

export interface GetJobParams {
  escrow: JobEscrow;
  provider: Provider;
  jobId: JobId;
  /** First block to scan (the deployment's start block). */
  fromBlock: number;
  maxRange?: number;
}

/**
 * Finds a job's `JobRequested` event by its indexed id and decodes its terms.
 * @example const { job, input } = await getJobRequest({ escrow, provider, jobId: toJobId(3), fromBlock: 0 });
 */
export async function getJobRequest(params: GetJobParams): Promise<JobRequest> {
  const { escrow, provider, jobId } = params;
  const count = await withRetry("escrow.jobCount", () => escrow.jobCount()).catch((e: unknown) => {
    throw asContractError(e, { contract: "escrow", call: "jobCount" });
  });
  if (jobId < 1n || jobId > count) throw new InputError(`job ${jobId} does not exist: job ids run from 1 to ${count}`);
  const topic = escrow.interface.getEvent("JobRequested").topicHash;
  const toBlock = await withRetry("eth_blockNumber", () => provider.getBlockNumber());
  const logs = await getLogsChunked(provider, {
    address: await escrow.getAddress(),
    topics: [topic, zeroPadValue(toBeHex(jobId), 32)],
    fromBlock: params.fromBlock,
    toBlock,
    maxRange: params.maxRange,
  });
  const log = logs[0];
  if (log === undefined) throw new InputError(`no JobRequested event for job ${jobId} since block ${params.fromBlock}: check "startBlock"`);
  const parsed = escrow.interface.parseLog(log)!;
  return {
    job: toJob(parsed.args.job as IJobEscrow.JobStructOutput),
    input: parsed.args.input as string,
    inputUri: parsed.args.inputUri as string,
    blockNumber: log.blockNumber,
    transactionHash: log.transactionHash,
  };
}

/** Decodes an inline input written by {@link encodeInput}: a JSON array of finite numbers. */
export function decodeInput(input: string): number[] {
  const text = new TextDecoder().decode(getBytes(input));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new InputError(`the input is not JSON: ${text.slice(0, 80)}`, { cause });
  }
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === "number" && Number.isFinite(v))) {
    throw new InputError(`the input must be a non-empty JSON array of numbers, got ${text.slice(0, 80)}`);
  }
  return value as number[];
}

/** Encodes features as the inline input of a job (UTF-8 JSON). */
export function encodeInput(features: number[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(features));
}
