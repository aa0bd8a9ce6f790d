import { BaseError } from "../errors";
/** Options of {@link withRetry}. */
export interface RetryOptions {
  /** Attempts in all, the first included. Default 3. */
  attempts?: number;
  /** Time limit of each attempt, in ms. Default 30 s. */
  timeoutMs?: number;
  /** Delay before the second attempt, doubled after each failure. Default 200 ms. */
  backoffMs?: number;
  /** Cancels the attempts and the waits between them. */
  signal?: AbortSignal;
  /** Whether an error is worth another attempt. Default: every error. */
  retryable?: (error: unknown) => boolean;
  /** Called before each retry. */
  onRetry?: (error: unknown, attempt: number) => void;
}

/** An attempt did not finish within its time limit. */
export class TimeoutError extends BaseError {
  override name = "TimeoutError";
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
  }
}

/**
 * Runs `fn` until it succeeds, at most `attempts` times, each attempt bounded by `timeoutMs` and given an
 * `AbortSignal` that fires on timeout or when `options.signal` aborts. Throws the last error.
 * @example const block = await withRetry(() => provider.getBlockNumber(), { timeoutMs: 10_000 });
 */
export async function withRetry<T>(fn: (signal: AbortSignal) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 3;
  let delay = options.backoffMs ?? 200;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await withTimeout(fn, options.timeoutMs ?? 30_000, options.signal);
    } catch (error) {
      if (attempt >= attempts || options.signal?.aborted || !(options.retryable?.(error) ?? true)) throw error;
      options.onRetry?.(error, attempt);
      await sleep(delay, options.signal);
      delay *= 2;
    }
  }
}

/** Runs `fn` with a signal that aborts after `timeoutMs`; rejects with {@link TimeoutError} then. */
export async function withTimeout<T>(fn: (signal: AbortSignal) => Promise<T>, timeoutMs: number, outer?: AbortSignal): Promise<T> {
  const controller = new AbortController();
  const abort = () => controller.abort(outer?.reason);
  outer?.addEventListener("abort", abort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new TimeoutError(timeoutMs);
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

/** Waits `ms`, or rejects when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
