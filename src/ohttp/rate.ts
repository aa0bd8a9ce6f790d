/**
 * A global token bucket: the relay's rate limit. It counts requests, not clients — it keeps no address, no
 * fingerprint and no per-client state, so limiting cannot single anyone out (RFC 9458 §6.2.1 warns that
 * differential treatment shrinks the anonymity set).
 */
import { ConfigError } from "../core/errors";

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** Most tokens held: the largest burst. */
  burst: number;
  /** Clock, in ms. Default `performance.now`. */
  now?: () => number;
}

/**
 * @example const bucket = new TokenBucket({ ratePerSecond: 2_000, burst: 4_000 }); if (!bucket.take()) return tooMany(res);
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly now: () => number;

  constructor(readonly options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0) || !(options.burst >= 1))
      throw new ConfigError(
        `a token bucket needs a positive rate and a burst of at least 1, got ${options.ratePerSecond}/s and ${options.burst}`,
      );
    this.now = options.now ?? (() => performance.now());
    this.tokens = options.burst;
    this.last = this.now();
  }

  /** Takes a token; false when none is left. */
  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.options.burst, this.tokens + ((now - this.last) * this.options.ratePerSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
