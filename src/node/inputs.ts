import { getAddress, hexlify } from "ethers";
import type { Job } from "../core/job";
import type { ContentStore } from "../core/content";
import { BaseError, InputError, IntegrityError, NotFoundError } from "../core/errors";
import { withRetry } from "../core/retry";
import { isSealed, parseSealedInput, SealedInputMalformedError, SealedInputNotRecipientError } from "../core/sealed";
import { canonicalCid, StorageTooLargeError } from "../storage";
import type { NodeKey } from "./node-key";

/** The job's input cannot be used, whatever happens later: an unsupported URI, or content that is not the input. */
export class InputRefusedError extends BaseError {
  override readonly name: string = "InputRefusedError";
}

/** The input cannot be fetched now (not in any store yet, a store timed out): worth trying again later. */
export class InputUnavailableError extends BaseError {
  override readonly name = "InputUnavailableError";
}

/** The job's input is sealed to other nodes: the job is not this node's to take (not an error). */
export class InputNotForThisNodeError extends InputRefusedError {
  override readonly name = "InputNotForThisNodeError";
}

/** What opening sealed inputs takes: the node's address and key, and the terms every envelope is bound to. */
export interface SealedInputOptions {
  chainId: bigint;
  escrow: string;
  /** The node's (operator's) address: its entry in an envelope. */
  node: string;
  /** The node's key; without one, every sealed input is refused. */
  key?: Pick<NodeKey, "open">;
}

export interface InputFetcherOptions {
  /** Time limit of one fetch attempt. */
  timeoutMs: number;
  /** Attempts per fetch (failures other than "not found"). Default 3. */
  attempts?: number;
  /** Largest input accepted. */
  maxBytes: number;
  /** How to open sealed inputs (src/core/sealed.ts); without it every sealed input is refused. */
  sealed?: SealedInputOptions;
}

/**
 * Fetches inputs that a job gives only by URI, from the node's content stores, within a size limit, and opens sealed
 * inputs (inline or fetched) with the node's key. The processor then checks the plaintext against the job
 * (`Computer.refusal`: its keccak256, or for ZK its Poseidon commitment) before anything is claimed: content the job
 * does not commit to is not its input, whatever its URI says. Supported: `ipfs://<cid>`.
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
      // The limit goes to the store too, so that a store that honours it refuses a larger input before fetching it.
      bytes = await withRetry(
        `fetch ${uri}`,
        () => this.content.cat(cid, { signal, maxBytes: this.options.maxBytes }),
        {
          timeoutMs: this.options.timeoutMs,
          attempts: this.options.attempts ?? 3,
          signal,
          retryable: (error) => !(error instanceof NotFoundError || error instanceof StorageTooLargeError),
        },
      );
    } catch (cause) {
      // Too large is final, as the check below: not worth trying again later.
      if (cause instanceof StorageTooLargeError)
        throw new InputRefusedError(
          `job ${job.id}: the input at ${uri} is larger than this node accepts (${this.options.maxBytes} bytes): ${cause.shortMessage}`,
          { cause },
        );
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

  /**
   * Why the input bytes are not this node's to open (sealed to other nodes only), or undefined: a parse, no
   * decryption, so that a node skips the jobs sealed to others before anything else.
   */
  sealedElsewhere(input: string): string | undefined {
    if (!isSealed(input)) return undefined;
    let recipients: string[];
    try {
      recipients = parseSealedInput(input).recipients.map((r) => r.node);
    } catch (error) {
      if (error instanceof SealedInputMalformedError) return undefined; // refused with its reason by `open`
      throw error;
    }
    if (this.options.sealed?.key === undefined) return "the input is sealed and this node has no key to open it";
    return recipients.includes(getAddress(this.options.sealed.node))
      ? undefined
      : `the input is sealed to ${recipients.length} other node(s), not to this one`;
  }

  /**
   * The input of `job` in clear: `input` as it is when it is not sealed, else opened with the node's key under the
   * job's terms (chain, escrow, requester, model version, mode) and commitment (`inputHash`). The plaintext is
   * returned, never logged or stored.
   * @throws InputNotForThisNodeError (sealed to other nodes), InputRefusedError (no key, malformed, or does not open).
   */
  async open(job: Job, input: string): Promise<string> {
    if (!isSealed(input)) return input;
    const sealed = this.options.sealed;
    if (sealed?.key === undefined)
      throw new InputRefusedError(`job ${job.id}: the input is sealed and this node has no key to open it`);
    try {
      const plaintext = await sealed.key.open({
        envelope: input,
        node: sealed.node,
        context: {
          chainId: sealed.chainId,
          escrow: sealed.escrow,
          requester: job.requester,
          modelId: job.modelId,
          version: job.version,
          mode: job.mode,
          commitment: job.inputHash,
        },
      });
      return hexlify(plaintext);
    } catch (cause) {
      const message = `job ${job.id}: ${(cause as Error)?.message ?? String(cause)}`;
      if (cause instanceof SealedInputNotRecipientError) throw new InputNotForThisNodeError(message, { cause });
      // Malformed, or not opening under this job's terms: never usable. Anything else (an enclave that did not
      // answer) is thrown as it is, and the step retried.
      if (cause instanceof InputError || cause instanceof IntegrityError)
        throw new InputRefusedError(message, { cause });
      throw cause;
    }
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
