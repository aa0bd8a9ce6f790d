import { BaseError } from "../errors";
/**
 * The ZKML error hierarchy: every error thrown by `src/zkml` extends {@link ZkmlError}, carries a short
 * message, optional structured details, and the underlying `cause` when there is one.
 */

/** Options shared by every ZKML error. */
export interface ZkmlErrorOptions {
  cause?: unknown;
  details?: Record<string, unknown>;
}

/** Base class of all ZKML errors. */
export class ZkmlError extends BaseError {
  override readonly name: string = "ZkmlError";
  readonly details: Record<string, unknown>;

  constructor(message: string, options: ZkmlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.details = options.details ?? {};
  }
}

/** The ONNX file could not be read or decoded. */
export class ZkmlOnnxParseError extends ZkmlError {
  override readonly name = "ZkmlOnnxParseError";
}

/** The graph uses an operator the compiler does not support. */
export class ZkmlUnsupportedOpError extends ZkmlError {
  override readonly name = "ZkmlUnsupportedOpError";
  constructor(
    readonly opType: string,
    readonly nodeName: string,
    options: ZkmlErrorOptions = {},
  ) {
    super(`unsupported ONNX op "${opType}" at node "${nodeName}"`, options);
  }
}

/** The graph is well-formed ONNX but not a shape the compiler accepts (wrong attribute, not an MLP chain, ...). */
export class ZkmlUnsupportedGraphError extends ZkmlError {
  override readonly name = "ZkmlUnsupportedGraphError";
}

/** A tensor's shape does not match what its consumer needs. */
export class ZkmlShapeMismatchError extends ZkmlError {
  override readonly name = "ZkmlShapeMismatchError";
  constructor(
    readonly tensor: string,
    readonly expected: readonly number[],
    readonly actual: readonly number[],
    options: ZkmlErrorOptions = {},
  ) {
    super(`shape mismatch for tensor "${tensor}": expected [${expected.join(",")}], got [${actual.join(",")}]`, options);
  }
}

/** An input value is outside the model's declared input range. */
export class ZkmlInputRangeError extends ZkmlError {
  override readonly name = "ZkmlInputRangeError";
  constructor(
    readonly index: number,
    readonly value: number | bigint,
    readonly min: number | bigint,
    readonly max: number | bigint,
    options: ZkmlErrorOptions = {},
  ) {
    super(`input[${index}] = ${String(value)} is outside the model's input range [${String(min)}, ${String(max)}]`, options);
  }
}

/** Intermediate values would not fit the safe bit width of the circuit's range checks. */
export class ZkmlOverflowError extends ZkmlError {
  override readonly name = "ZkmlOverflowError";
}

/** An external tool (circom compiler, snarkjs) failed. */
export class ZkmlToolError extends ZkmlError {
  override readonly name = "ZkmlToolError";
}

/** A witness does not satisfy the circuit's constraints. */
export class ZkmlConstraintError extends ZkmlError {
  override readonly name = "ZkmlConstraintError";
}

/**
 * A published ZK version's files do not rebuild the setup its verifier holds: `what` names the artefact (the ONNX
 * file, the circuit source, the R1CS, the powers of tau, the proving key, the verifying-key hash), `expected` what
 * the manifest or the chain records and `actual` what was found.
 */
export class ZkmlSetupMismatchError extends ZkmlError {
  override readonly name = "ZkmlSetupMismatchError";
  constructor(
    readonly what: string,
    readonly expected: string,
    readonly actual: string,
    message: string,
    options: ZkmlErrorOptions = {},
  ) {
    super(message, { ...options, details: { what, expected, actual, ...options.details } });
  }
}
