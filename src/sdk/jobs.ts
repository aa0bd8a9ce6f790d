import { toBeHex, zeroPadValue, type Provider } from "ethers";
import type { JobId } from "../core/ids";
import { toJob, type Job } from "../core/job";
import type { IJobEscrow, JobEscrow } from "../../typechain-types/contracts/escrow/JobEscrow";
import { InputError } from "../core/errors";
import { getLogsChunked } from "./logs";
import { withRetry } from "../core/retry";
import { headBlockNumber } from "../core/provider";
import { asRevertError } from "../core/revert";

export { toJobId, toModelId, type JobId, type ModelId } from "../core/ids";
export { decodeInput, encodeInput } from "../core/job";

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
  const toBlock = await headBlockNumber(provider);
  const count = await withRetry("escrow.jobCount", () => escrow.jobCount({ blockTag: toBlock })).catch((e: unknown) => {
    throw asRevertError(e, { contract: "escrow", call: "jobCount" });
  });
  if (jobId < 1n || jobId > count) throw new InputError(`job ${jobId} does not exist: job ids run from 1 to ${count}`);
  const topic = escrow.interface.getEvent("JobRequested").topicHash;
  const logs = await getLogsChunked(provider, {
    address: await escrow.getAddress(),
    topics: [topic, zeroPadValue(toBeHex(jobId), 32)],
    fromBlock: params.fromBlock,
    toBlock,
    maxRange: params.maxRange,
  });
  const log = logs[0];
  if (log === undefined)
    throw new InputError(`no JobRequested event for job ${jobId} since block ${params.fromBlock}: check "startBlock"`);
  const parsed = escrow.interface.parseLog(log)!;
  return {
    job: toJob(parsed.args.job as IJobEscrow.JobStructOutput),
    input: parsed.args.input as string,
    inputUri: parsed.args.inputUri as string,
    blockNumber: log.blockNumber,
    transactionHash: log.transactionHash,
  };
}
