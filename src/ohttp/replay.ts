/**
 * Replay protection of the gateway (RFC 9458 §6.5): a bounded record of the encapsulated keys (`enc`) of the
 * requests it has decapsulated. `enc` is fresh for every request a client makes, so a second request with the same
 * `enc` is a copy.
 *
 * @dev What it protects: a byte-for-byte copy of an encapsulated request — replayed by the relay or by anyone who
 * captured it — that arrives within the record's lifetime after the original was decapsulated is refused, so the
 * handler runs at most once per request in that time. Only requests that decapsulated are recorded, so nobody can
 * fill the record with an `enc` they did not seal a valid request with.
 * @dev Lifetime: entries live 2 × `windowMs`. With the gateway's Date check (a request whose inner Date is more
 * than `windowMs` from the gateway's clock is refused, RFC 9458 §6.5.1), a request with a Date cannot be replayed
 * at all: while it is recorded the record refuses it, afterwards its Date does.
 * @dev Warning: what it does not protect. A request without a Date header (unless the gateway requires one) can be
 * replayed once its entry has expired. The record is in memory, per process: a restart forgets it, and several
 * gateway processes behind one key do not share it. It does not stop a relay from delaying a request within the
 * window, from dropping it, or from replaying a request that failed before decapsulation (harmless: it was never
 * served). When the record is full of unexpired entries it refuses new requests ("full") rather than forget an
 * entry that still protects one: size `maxEntries` for the peak rate × 2 × `windowMs`.
 */

/** Options of {@link ReplayCache}. */
export interface ReplayCacheOptions {
  /** Accepted distance between a request's Date and the gateway's clock, in ms. Default 60 s. */
  windowMs?: number;
  /** Most entries held. Default 200,000 (≈ 1,600 requests/s sustained over 2 × 60 s). */
  maxEntries?: number;
  /** Clock, in ms. Default `Date.now`. */
  now?: () => number;
}

/** What {@link ReplayCache.remember} found. */
export type ReplayVerdict = "fresh" | "replayed" | "full";

export class ReplayCache {
  readonly windowMs: number;
  readonly maxEntries: number;
  private readonly now: () => number;
  /** enc (base64) → expiry; insertion order is expiry order, since every entry lives as long. */
  private readonly entries = new Map<string, number>();

  constructor(options: ReplayCacheOptions = {}) {
    this.windowMs = options.windowMs ?? 60_000;
    this.maxEntries = options.maxEntries ?? 200_000;
    this.now = options.now ?? Date.now;
  }

  /** Records `enc` unless it is already recorded ("replayed") or the record is full of live entries ("full"). */
  remember(enc: Uint8Array): ReplayVerdict {
    const now = this.now();
    this.prune(now);
    const key = Buffer.from(enc.buffer, enc.byteOffset, enc.length).toString("base64");
    if (this.entries.has(key)) return "replayed";
    if (this.entries.size >= this.maxEntries) return "full";
    this.entries.set(key, now + 2 * this.windowMs);
    return "fresh";
  }

  /** Whether a request dated `date` (ms) is inside the window around the gateway's clock. */
  inWindow(date: number): boolean {
    return Math.abs(this.now() - date) <= this.windowMs;
  }

  /** Entries held. */
  get size(): number {
    return this.entries.size;
  }

  private prune(now: number): void {
    for (const [key, expiry] of this.entries) {
      if (expiry > now) return;
      this.entries.delete(key);
    }
  }
}
