import {
  type ContentOptions,
  type ContentStore,
  DEFAULT_MAX_CONTENT_BYTES,
  checkSize,
  verifyContent,
} from "./content-store";
import { StorageNotFoundError, StorageRequestError } from "./errors";
import { withRetry } from "../core/retry";
import { CHUNK_SIZE, canonicalCid } from "./unixfs";
import { TransportError } from "../core/errors";

/** Options of {@link KuboContentStore}. */
export interface KuboContentStoreOptions {
  /** Base URL of the Kubo RPC API. Default `http://127.0.0.1:5001`. */
  url?: string;
  /** Time limit of one request, in ms. Default 60 s. */
  timeoutMs?: number;
  /** Attempts per request. Default 3. */
  attempts?: number;
  /** Largest content accepted by `add` and read by `cat`. Default 1 GiB. */
  maxBytes?: number;
  /** The `fetch` to use (tests). */
  fetch?: typeof fetch;
}

/** A failed HTTP answer; 4xx (but 408/429) and "not found" answers are not retried. */
class KuboHttpError extends TransportError {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 300)}`);
  }
  get retryable(): boolean {
    return (this.status >= 500 || this.status === 408 || this.status === 429) && !isNotFound(this.body);
  }
}

function isNotFound(body: string): boolean {
  return /not found|could not find|no link named/i.test(body);
}

/**
 * A content store backed by a Kubo (go-ipfs) node through its RPC API, over plain `fetch`. Every request
 * has a time limit and is retried with backoff on network errors, timeouts and 5xx answers; adding is
 * idempotent, so a retried `add` is safe. `add` pins and uses the import parameters the hub verifies with
 * (CIDv1, raw leaves, 256 KiB chunks); `cat` checks the content against its CID.
 * @example
 * const store = new KuboContentStore({ url: "http://127.0.0.1:5001" });
 * const cid = await store.add(bytes);
 */
export class KuboContentStore implements ContentStore {
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly maxBytes: number;
  private readonly fetch: typeof fetch;

  constructor(options: KuboContentStoreOptions = {}) {
    this.url = (options.url ?? "http://127.0.0.1:5001").replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.attempts = options.attempts ?? 3;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_CONTENT_BYTES;
    this.fetch = options.fetch ?? fetch;
  }

  async add(bytes: Uint8Array, options: ContentOptions = {}): Promise<string> {
    checkSize(bytes.length, this.maxBytes);
    const query = `cid-version=1&raw-leaves=true&chunker=size-${CHUNK_SIZE}&pin=true&quieter=true`;
    const body = await this.call("add", query, options, () => {
      const form = new FormData();
      form.append("file", new Blob([bytes]), "file");
      return form;
    });
    const lines = new TextDecoder().decode(body).trim().split("\n");
    let hash: unknown;
    try {
      hash = (JSON.parse(lines[lines.length - 1] ?? "") as { Hash?: unknown }).Hash;
    } catch (cause) {
      throw new TransportError("Kubo answered `add` with something that is not JSON.", { cause });
    }
    if (typeof hash !== "string") throw new TransportError("Kubo answered `add` without a `Hash`.");
    return canonicalCid(hash);
  }

  async cat(cid: string, options: ContentOptions = {}): Promise<Uint8Array> {
    const canonical = await canonicalCid(cid);
    let bytes: Uint8Array;
    try {
      bytes = await this.call("cat", `arg=${encodeURIComponent(canonical)}&length=${this.maxBytes + 1}`, options);
    } catch (error) {
      if (
        error instanceof StorageRequestError &&
        error.cause instanceof KuboHttpError &&
        isNotFound(error.cause.body)
      ) {
        throw new StorageNotFoundError(cid, error);
      }
      throw error;
    }
    checkSize(bytes.length, this.maxBytes);
    await verifyContent(cid, bytes);
    return bytes;
  }

  async has(cid: string, options: ContentOptions = {}): Promise<boolean> {
    const canonical = await canonicalCid(cid);
    try {
      // `offline` keeps Kubo from searching the network for a block it does not have.
      await this.call("block/stat", `arg=${encodeURIComponent(canonical)}&offline=true`, options);
      return true;
    } catch (error) {
      if (error instanceof StorageRequestError && error.cause instanceof KuboHttpError && isNotFound(error.cause.body))
        return false;
      throw error;
    }
  }

  async close(): Promise<void> {}

  /** POSTs to `/api/v0/<command>` (Kubo's RPC accepts only POST) and returns the body. */
  private async call(
    command: string,
    query: string,
    options: ContentOptions,
    body?: () => FormData,
  ): Promise<Uint8Array> {
    const url = `${this.url}/api/v0/${command}?${query}`;
    try {
      return await withRetry(
        `kubo ${command}`,
        async (signal) => {
          const res = await this.fetch(url, { method: "POST", body: body?.(), signal });
          const data = new Uint8Array(await res.arrayBuffer());
          if (!res.ok) throw new KuboHttpError(res.status, new TextDecoder().decode(data));
          return data;
        },
        {
          attempts: this.attempts,
          timeoutMs: this.timeoutMs,
          backoffMs: 200,
          signal: options.signal,
          // Network failures, timeouts and 5xx answers are tried again; a definite answer (4xx, not found) is final.
          retryable: (error) => !(error instanceof KuboHttpError) || error.retryable,
        },
      );
    } catch (cause) {
      throw new StorageRequestError(command, url, {
        cause,
        details: cause instanceof Error ? cause.message : String(cause),
      });
    }
  }
}
