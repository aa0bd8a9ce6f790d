/**
 * The one retry policy of the off-chain code: every network call (JSON-RPC, IPFS, HTTP) runs through
 * {@link withRetry}, which bounds each attempt with a timeout, backs off exponentially between attempts, stops at
 * once when the caller's `AbortSignal` fires, and retries only what is worth retrying (by default: transport
 * failures and per-attempt timeouts, never a revert or bad input).
 */
import { TimeoutError, TransportError } from "./errors";
import { isRetryable, isTransportError } from "./transport";

export { isRetryable, isTransportError };

/** Options of {@link withRetry}. */
export interface RetryOptions {
  /** Attempts in all, the first included. Default 5. */
  attempts?: number;
  /** Time limit of each attempt, in ms. Default 10 s. */
  timeoutMs?: number;
  /** Delay before the second attempt, doubled after each failure up to `maxBackoffMs`. Default 250 ms. */
  backoffMs?: number;
  /** Longest delay between attempts. Default 5 s. */
  maxBackoffMs?: number;
  /** Cancels the attempts and the waits between them. */
  signal?: AbortSignal;
  /** Whether an error is worth another attempt. Default {@link isRetryable}. */
  retryable?: (error: unknown) => boolean;
  /** Called before each retry, e.g. to log it. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `fn` until it succeeds, at most `attempts` times, each attempt bounded by `timeoutMs` and given a signal
 * that aborts on that timeout or when `options.signal` aborts. Throws the last error; a transport failure that
 * outlasts every attempt becomes a {@link TransportError} naming `what`.
 * @example const block = await withRetry("eth_blockNumber", () => provider.getBlockNumber(), { attempts: 3 });
 * @example const bytes = await withRetry(`ipfs cat ${cid}`, (signal) => store.cat(cid, { signal }), { timeoutMs: 20_000 });
 */
export async function withRetry<T>(
  what: string,
  fn: (signal: AbortSignal) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 5;
  const retryable = options.retryable ?? isRetryable;
  let delay = options.backoffMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) throw new TimeoutError(`${what} was aborted`, { cause: options.signal.reason });
    try {
      return await withTimeout(what, options.timeoutMs ?? 10_000, fn, options.signal);
    } catch (error) {
      if (attempt >= attempts || options.signal?.aborted || !retryable(error)) {
        if (isTransportError(error) && !(error instanceof TransportError)) {
          throw new TransportError(`${what} failed after ${attempt} attempt(s): the endpoint is unreachable`, {
            cause: error,
          });
        }
        throw error;
      }
      options.onRetry?.(error, attempt, delay);
      await sleep(delay, options.signal);
      delay = Math.min(delay * 2, options.maxBackoffMs ?? 5_000);
    }
  }
}

/**
 * Runs `fn` with a signal that aborts after `timeoutMs` (or when `outer` aborts); rejects with a
 * {@link TimeoutError} naming `what` when the time runs out.
 * @example await withTimeout("hub /api/search", 5_000, (signal) => fetch(url, { signal }));
 */
export async function withTimeout<T>(
  what: string,
  timeoutMs: number,
  fn: (signal: AbortSignal) => Promise<T>,
  outer?: AbortSignal,
): Promise<T> {
  const controller = new AbortController();
  const abort = () => controller.abort(outer?.reason);
  outer?.addEventListener("abort", abort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new TimeoutError(`${what} timed out after ${timeoutMs} ms`, { context: { timeoutMs } });
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([fn(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", abort);
  }
}

/** Resolves after `ms`, or rejects with a {@link TimeoutError} as soon as `signal` aborts. */
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
