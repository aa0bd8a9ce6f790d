// Transitional: the one retry is src/core/retry.ts. Removed once the last importers move.
export { sleep, withRetry, withTimeout, type RetryOptions } from "../core/retry";
