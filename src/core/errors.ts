/**
 * The one error hierarchy of the off-chain code. Every error the SDK, the operator node, the hub, storage, ZKML,
 * the CLI and the devnet raise is a {@link BaseError}: a short message that says what failed and what to do, an
 * optional longer `details` text, structured `context` for logs, and the underlying `cause`. A log line reads as a
 * chain: "escrow.claimSlot(job 7) reverted with JobEscrowSlotsFilled(jobId=7, redundancy=1) <- execution reverted".
 *
 * The kinds below are chosen by what callers branch on — retry it or not, blame the input or the network, which
 * exit code to return — not by where the error comes from. An area refines a kind by subclassing it
 * (`class StorageNotFoundError extends NotFoundError`), so `instanceof NotFoundError` holds wherever it is thrown.
 */

/** Options of every error. */
export interface BaseErrorOptions {
  /** The error that caused this one. */
  cause?: unknown;
  /** A longer explanation, printed after the short message. */
  details?: string;
  /** Structured values for logs (ids, addresses, sizes); never needed to understand the message. */
  context?: Record<string, unknown>;
}

/**
 * The root of every error: `shortMessage` (one line), `details`, `context` and `cause`.
 * @example
 * try { await run(); } catch (error) {
 *   if (error instanceof BaseError) log.error({ chain: error.chain(), ...error.context }, error.shortMessage);
 * }
 */
export class BaseError extends Error {
  override name = "BaseError";
  /** What failed, in one line, without `details`. */
  readonly shortMessage: string;
  readonly details: string | undefined;
  readonly context: Record<string, unknown>;

  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super(
      options.details === undefined ? shortMessage : `${shortMessage}\n\nDetails: ${options.details}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.shortMessage = shortMessage;
    this.details = options.details;
    this.context = options.context ?? {};
  }

  /**
   * Walks the cause chain from this error outwards and returns the first error `predicate` accepts, or, without a
   * predicate, the innermost cause.
   * @example const revert = error.walk((e) => e instanceof RevertError);
   */
  walk(predicate?: (error: unknown) => boolean): unknown {
    return walk(this, predicate);
  }

  /** The first line of this error's message and of each of its causes, outermost first. */
  chain(): string[] {
    return chainOf(this);
  }
}

/** {@link BaseError.walk} for any thrown value. */
export function walk(error: unknown, predicate?: (error: unknown) => boolean): unknown {
  let current: unknown = error;
  for (let depth = 0; depth < 16; depth++) {
    if (predicate?.(current)) return current;
    const next = current instanceof Error ? current.cause : undefined;
    if (next === undefined || next === null) return predicate === undefined ? current : undefined;
    current = next;
  }
  return predicate === undefined ? current : undefined;
}

/** The first line of the message of `error` and of each of its causes, outermost first. */
export function chainOf(error: unknown): string[] {
  const out: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 16; depth++) {
    out.push(firstLine(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return out;
}

/** The first line of what `error` says (its short message if it has one). */
export function firstLine(error: unknown): string {
  if (error instanceof BaseError) return error.shortMessage.split("\n")[0]!;
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]!;
}

/* KINDS */

/** Bad input from a person or a program: a flag, a JSON value, a config value, an HTTP request, a model card. */
export class InputError extends BaseError {
  override name = "InputError";
}

/** The configuration (file, environment, flags) is missing, unreadable or inconsistent. */
export class ConfigError extends InputError {
  override name = "ConfigError";
}

/** A key or credential cannot be loaded: missing keystore, wrong password. */
export class KeyError extends BaseError {
  override name = "KeyError";
}

/** What was asked for does not exist: a model, a version, a job, a content identifier. */
export class NotFoundError extends BaseError {
  override name = "NotFoundError";
}

/** Data does not match the hash or CID that names it: a tampered or corrupted file, a mismatching card. */
export class IntegrityError extends BaseError {
  override name = "IntegrityError";
}

/** A remote endpoint (JSON-RPC, IPFS, HTTP) is unreachable or answered with a transport failure. Retryable. */
export class TransportError extends BaseError {
  override name = "TransportError";
}

/** A wait ran out of time or was aborted. Retryable when it was a per-attempt limit. */
export class TimeoutError extends BaseError {
  override name = "TimeoutError";
}

/** A contract call reverted; `errorName` and `args` are the decoded custom error, when known. Final. */
export class RevertError extends BaseError {
  override name = "RevertError";
  constructor(
    shortMessage: string,
    readonly errorName: string | undefined,
    readonly args: Record<string, unknown>,
    options: BaseErrorOptions = {},
  ) {
    super(shortMessage, options);
  }
}

/** An off-chain re-verification of a result, a proof or an attestation failed. */
export class VerificationError extends BaseError {
  override name = "VerificationError";
}

/** A local database or work directory is unusable or inconsistent. */
export class StateError extends BaseError {
  override name = "StateError";
}

/** Another instance holds the same data directory or key. */
export class ConflictError extends BaseError {
  override name = "ConflictError";
}

/** The request is valid but asks for something this build does not support (an ONNX operator, a mode). */
export class UnsupportedError extends BaseError {
  override name = "UnsupportedError";
}

/**
 * The process exit code of each kind, so scripts can tell bad input from an outage. The CLI and every command run
 * in-process (the hub's included) use this one table.
 */
export const EXIT_CODES = [
  [InputError, 2],
  [UnsupportedError, 2],
  [KeyError, 3],
  [TransportError, 4],
  [TimeoutError, 4],
  [RevertError, 5],
  [ConflictError, 6],
  [VerificationError, 7],
  [IntegrityError, 7],
  [NotFoundError, 8],
  [StateError, 8],
] as const;

/** The exit code for `error` (1 for anything unexpected). */
export function exitCodeOf(error: unknown): number {
  for (const [kind, code] of EXIT_CODES) if (error instanceof kind) return code;
  return 1;
}

/**
 * `error` as a {@link BaseError}: itself if it is one, otherwise wrapped with `message` and the original as cause.
 * @example throw toBaseError(error, "cannot read the deployment record");
 */
export function toBaseError(error: unknown, message = "unexpected error"): BaseError {
  if (error instanceof BaseError) return error;
  return new BaseError(`${message}: ${firstLine(error)}`, { cause: error });
}
