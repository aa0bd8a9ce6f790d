import { BaseError } from "../errors";
/**
 * The one error hierarchy of the off-chain code (SDK, operator node, CLI). Every error has a short message that
 * says what failed and what to do, optional details, and the underlying `cause`, so a log line reads as a chain:
 * "escrow.claimSlot(job 7) reverted with JobEscrowSlotsFilled(jobId=7, redundancy=1) <- execution reverted".
 */
export class VinError extends BaseError {
  override readonly name: string = "VinError";
  /** Extra context (addresses, ids, raw values) for logs; never needed to understand the message. */
  readonly details: Record<string, unknown>;

  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options);
    this.details = options.details ?? {};
  }
}

/** The configuration file is missing, unreadable or invalid. */
export class ConfigError extends VinError {
  override readonly name = "ConfigError";
}

/** The operator key cannot be loaded: missing keystore, missing or wrong password. */
export class KeyError extends VinError {
  override readonly name = "KeyError";
}

/** The JSON-RPC endpoint is unreachable, timed out or answered with a transport error. */
export class RpcError extends VinError {
  override readonly name = "RpcError";
}

/** A contract call reverted; `errorName` and `args` are the decoded custom error, when known. */
export class ContractError extends VinError {
  override readonly name = "ContractError";
  constructor(
    message: string,
    readonly errorName: string | undefined,
    readonly args: Record<string, unknown>,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options);
  }
}

/** Bad user input (an argument, a JSON input, an unknown model). */
export class InputError extends VinError {
  override readonly name = "InputError";
}

/** A model cannot be fetched, checked or run. */
export class ModelError extends VinError {
  override readonly name = "ModelError";
}

/** The node's local database is unusable or inconsistent. */
export class StoreError extends VinError {
  override readonly name = "StoreError";
}

/** Another instance uses the same data directory or the same key. */
export class InstanceConflictError extends VinError {
  override readonly name = "InstanceConflictError";
}

/** A wait ran out of time or was aborted. */
export class TimeoutError extends VinError {
  override readonly name = "TimeoutError";
}

/** An off-chain re-verification of a result failed. */
export class VerificationError extends VinError {
  override readonly name = "VerificationError";
}

/** Wraps anything thrown into a VinError (kept as is when it already is one). */
export function toVinError(error: unknown, message = "unexpected error"): VinError {
  if (error instanceof VinError) return error;
  const text = error instanceof Error ? error.message.split("\n")[0] : String(error);
  return new VinError(`${message}: ${text}`, { cause: error });
}
