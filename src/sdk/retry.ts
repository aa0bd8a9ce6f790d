import { RpcError, TimeoutError } from "./errors";
import { isTransportError } from "./revert";

/** Resolves after `ms`, or rejects with a TimeoutError as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new TimeoutError("aborted", { cause: signal.reason }));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new TimeoutError("aborted", { cause: signal?.reason }));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Runs `fn` with a deadline: rejects with an RpcError naming `what` if it does not settle within `timeoutMs`. */
export async function withTimeout<T>(what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RpcError(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface RetryOptions {
  /** Per-attempt timeout. Default 10 s. */
  timeoutMs?: number;
  /** Attempts in total. Default 5. */
  attempts?: number;
  /** First backoff; doubled per attempt up to `maxBackoffMs`. Default 250 ms. */
  backoffMs?: number;
  maxBackoffMs?: number;
  signal?: AbortSignal;
  /** Whether an error is worth retrying. Default: transport errors only (a revert is final). */
  retryable?: (error: unknown) => boolean;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs an RPC action with a timeout per attempt and exponential backoff between attempts.
 * @example const block = await withRetry("eth_blockNumber", () => provider.getBlockNumber(), { attempts: 3 });
 */
export async function withRetry<T>(what: string, fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  const retryable = options.retryable ?? isTransportError;
  let delay = options.backoffMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await withTimeout(what, options.timeoutMs ?? 10_000, fn);
    } catch (error) {
      if (attempt >= attempts || !retryable(error) || options.signal?.aborted) {
        if (isTransportError(error) && !(error instanceof RpcError)) {
          throw new RpcError(`${what} failed after ${attempt} attempt(s): the RPC endpoint is unreachable`, { cause: error });
        }
        throw error;
      }
      options.onRetry?.(error, attempt, delay);
      await sleep(delay, options.signal);
      delay = Math.min(delay * 2, options.maxBackoffMs ?? 5_000);
    }
  }
}
