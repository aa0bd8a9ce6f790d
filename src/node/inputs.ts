import { hexlify } from "ethers";
import type { Job } from "../core/job";
import type { ContentStore } from "../core/content";
import { BaseError, NotFoundError } from "../core/errors";
import { withRetry } from "../core/retry";
import { canonicalCid } from "../storage";

/** The job's input cannot be used, whatever happens later: an unsupported URI, or content that is not the input. */
export class InputRefusedError extends BaseError {
  override readonly name = "InputRefusedError";
}

/** The input cannot be fetched now (not in any store yet, a store timed out): worth trying again later. */
export class InputUnavailableError extends BaseError {
  override readonly name = "InputUnavailableError";
}

export interface InputFetcherOptions {
  /** Time limit of one fetch attempt. */
  timeoutMs: number;
  /** Attempts per fetch (failures other than "not found"). Default 3. */
  attempts?: number;
  /** Largest input accepted. */
  maxBytes: number;
}

/**
 * Fetches inputs that a job gives only by URI, from the node's content stores, within a size limit. The processor
 * then checks the content against the job (`Computer.refusal`: its keccak256, or for ZK its Poseidon commitment)
 * before anything is claimed: content the job does not commit to is not its input, whatever its URI says.
 * Supported: `ipfs://<cid>`.
 * @example const input = await new InputFetcher(content, { timeoutMs: 30_000, maxBytes: 1 << 20 }).fetch(job, "ipfs://bafkrei...");
 */
export class InputFetcher {
  constructor(
    private readonly content: Pick<ContentStore, "cat">,
    private readonly options: InputFetcherOptions,
  ) {}

  /**
   * The content at `uri` as a hex string, within the size limit. Whether it is the job's input (its hash or
   * commitment) is the caller's check: see `Computer.refusal`.
   * @throws InputRefusedError (never usable) or InputUnavailableError (try again later).
   */
  async fetch(job: Job, uri: string, signal?: AbortSignal): Promise<string> {
    const cid = await this.parse(uri);
    let bytes: Uint8Array;
    try {
      bytes = await withRetry(`fetch ${uri}`, () => this.content.cat(cid, { signal }), {
        timeoutMs: this.options.timeoutMs,
        attempts: this.options.attempts ?? 3,
        signal,
        retryable: (error) => !(error instanceof NotFoundError),
      });
    } catch (cause) {
      throw new InputUnavailableError(
        `job ${job.id}: cannot fetch its input ${uri} now: ${(cause as Error)?.message ?? String(cause)}`,
        { cause },
      );
    }
    if (bytes.length > this.options.maxBytes)
      throw new InputRefusedError(
        `job ${job.id}: the input at ${uri} has ${bytes.length} bytes, more than this node accepts (${this.options.maxBytes})`,
      );
    return hexlify(bytes);
  }

  /** The URI's CID in its canonical string form (base32 for a CIDv1). */
  private async parse(uri: string): Promise<string> {
    const match = /^ipfs:\/\/([^/?#]+)\/?$/.exec(uri.trim());
    if (match === null)
      throw new InputRefusedError(`input URI "${uri}" is not supported: this node fetches ipfs://<cid> only`);
    try {
      return await canonicalCid(match[1]!);
    } catch (cause) {
      throw new InputRefusedError(`input URI "${uri}" does not name a valid CID`, { cause });
    }
  }
}
