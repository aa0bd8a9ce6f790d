/**
 * The hub's errors: each refines the core kind callers branch on (bad input, not found, integrity, revert), so a
 * hub command run in-process exits with the same per-kind code as every other command.
 */
import { InputError, IntegrityError, NotFoundError, RevertError, type BaseErrorOptions } from "../core/errors";

/* CARD */

/** The card is larger than the configured limit. */
export class CardTooLargeError extends InputError {
  override name = "CardTooLargeError";
  constructor(
    readonly size: number,
    readonly max: number,
  ) {
    super(`Model card is ${size} bytes, more than the limit of ${max} bytes.`);
  }
}

/** The card has no YAML front matter delimited by `---` lines. */
export class CardFrontMatterMissingError extends InputError {
  override name = "CardFrontMatterMissingError";
  constructor() {
    super("Model card has no YAML front matter (expected a first line `---` and a closing `---`).");
  }
}

/** The front matter is not valid YAML. `line` and `column` are 1-based and relative to the whole card. */
export class CardYamlError extends InputError {
  override name = "CardYamlError";
  constructor(
    readonly line: number,
    readonly column: number,
    cause: unknown,
  ) {
    super(`Model card front matter is not valid YAML at line ${line}, column ${column}.`, {
      details: cause instanceof Error ? cause.message : String(cause),
      cause,
    });
  }
}

/** A front-matter field is missing or has the wrong shape. */
export class CardFieldError extends InputError {
  override name = "CardFieldError";
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`Model card field \`${field}\` ${problem}.`);
  }
}

/** The card's SHA-256 does not match the hash published on chain. */
export class CardHashMismatchError extends IntegrityError {
  override name = "CardHashMismatchError";
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`Model card hash ${actual} does not match the published card hash ${expected}.`);
  }
}

/* STORE */

/** A write refers to a model the store does not know. */
export class StoreUnknownModelError extends NotFoundError {
  override name = "StoreUnknownModelError";
  constructor(readonly modelId: number) {
    super(`Model ${modelId} is not in the hub store.`);
  }
}

/** A write refers to a version the store does not know. */
export class StoreUnknownVersionError extends NotFoundError {
  override name = "StoreUnknownVersionError";
  constructor(
    readonly modelId: number,
    readonly version: number,
  ) {
    super(`Version ${version} of model ${modelId} is not in the hub store.`);
  }
}

/** A write carries a value the store refuses (negative count, bad mode, ...). */
export class StoreInvalidInputError extends InputError {
  override name = "StoreInvalidInputError";
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`Invalid \`${field}\`: ${problem}.`);
  }
}

/* SEARCH / HTTP */

/** A search or HTTP parameter is invalid. `param` names it. */
export class HubParamError extends InputError {
  override name = "HubParamError";
  constructor(
    readonly param: string,
    readonly problem: string,
  ) {
    super(`Invalid parameter \`${param}\`: ${problem}.`);
  }
}

/* PUBLISH / PULL */

/** What was asked to be published is not publishable (missing card, file too large, bad path, bad mode). */
export class PublishInputError extends InputError {
  override name = "PublishInputError";
  constructor(problem: string, options: BaseErrorOptions = {}) {
    super(`Cannot publish: ${problem}.`, options);
  }
}

/** The content store gave back other bytes than were stored, so nothing was registered. */
export class PublishStorageError extends IntegrityError {
  override name = "PublishStorageError";
  constructor(
    readonly path: string,
    readonly cid: string,
    options: BaseErrorOptions = {},
  ) {
    super(`Storing ${path} failed or did not read back identical (CID ${cid}); nothing was registered.`, options);
  }
}

/**
 * A registry transaction (or its simulation) reverted. `errorName` and `errorArgs` are the decoded custom
 * error of `IModelRegistry`, when the revert data carries one.
 */
export class RegistryTransactionError extends RevertError {
  override name = "RegistryTransactionError";
  constructor(
    readonly call: string,
    errorName: string | undefined,
    readonly errorArgs: readonly unknown[],
    options: BaseErrorOptions & { txHash?: string } = {},
  ) {
    const reason =
      errorName === undefined ? "without a decodable error" : `with ${errorName}(${errorArgs.map(String).join(", ")})`;
    const { txHash, ...rest } = options;
    super(
      `ModelRegistry.${call} reverted ${reason}${txHash === undefined ? "" : ` in ${txHash}`}.`,
      errorName,
      { ...errorArgs },
      rest,
    );
  }
}

/** A pulled file does not match the SHA-256 (or the card the card hash) published on chain. */
export class PullIntegrityError extends IntegrityError {
  override name = "PullIntegrityError";
  constructor(
    readonly path: string,
    readonly cid: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`File ${path} (CID ${cid}) has SHA-256 ${actual}, not the published ${expected}; nothing was written.`);
  }
}

/** A pull cannot proceed (unknown model or version, unsafe path, output directory not empty). */
export class PullInputError extends InputError {
  override name = "PullInputError";
  constructor(problem: string, options: BaseErrorOptions = {}) {
    super(`Cannot pull: ${problem}.`, options);
  }
}
