import { JobStatus } from "../core/job";
import type { JobEscrow } from "../../typechain-types/contracts/escrow/JobEscrow";
import { TimeoutError, BaseError } from "../core/errors";
import type { JobId } from "../core/ids";
import { sleep, withRetry } from "../core/retry";

export interface WaitForResultParams {
  escrow: JobEscrow;
  jobId: JobId;
  /** Give up after this long. Default 10 minutes. */
  timeoutMs?: number;
  /** Time between polls. Default 1 s. */
  pollIntervalMs?: number;
  signal?: AbortSignal;
}

export type WaitForResultReturnType =
  { status: "settled"; jobId: JobId; output: string; outputHash: string } | { status: "refunded"; jobId: JobId };

/** Raised when a job was refunded instead of settled and the caller asked for a result. */
export class JobRefundedError extends BaseError {
  override readonly name = "JobRefundedError";
}

/**
 * Polls a job until it settles or is refunded. RPC errors are retried until the timeout.
 * @example const result = await waitForResult({ escrow, jobId, timeoutMs: 60_000 }); if (result.status === "settled") console.log(result.output);
 */
export async function waitForResult(params: WaitForResultParams): Promise<WaitForResultReturnType> {
  const deadline = Date.now() + (params.timeoutMs ?? 600_000);
  const poll = params.pollIntervalMs ?? 1_000;
  for (;;) {
    const state = await withRetry("escrow.stateOf", () => params.escrow.stateOf(params.jobId), {
      signal: params.signal,
      attempts: 3,
    }).catch(() => undefined);
    if (state !== undefined && Number(state.status) === JobStatus.Settled) {
      const [outputHash, output] = await withRetry("escrow.resultOf", () => params.escrow.resultOf(params.jobId), {
        signal: params.signal,
      });
      return { status: "settled", jobId: params.jobId, output, outputHash };
    }
    if (state !== undefined && Number(state.status) === JobStatus.Refunded)
      return { status: "refunded", jobId: params.jobId };
    if (Date.now() + poll > deadline)
      throw new TimeoutError(
        `job ${params.jobId} has not settled within ${params.timeoutMs ?? 600_000} ms: check it later with \`vin job ${params.jobId}\``,
      );
    await sleep(poll, params.signal);
  }
}
