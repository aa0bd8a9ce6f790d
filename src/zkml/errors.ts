/**
 * ZKML errors: each refines the core kind callers branch on (bad input, unsupported model, failed verification,
 * failed tool), so `instanceof InputError` holds for a bad ONNX file as for a bad flag. `context` carries the tensor,
 * node or value involved.
 */
import { InputError, StateError, UnsupportedError, VerificationError, type BaseErrorOptions } from "../core/errors";

/** The ONNX file could not be read or decoded. */
export class ZkmlOnnxParseError extends InputError {
  override name = "ZkmlOnnxParseError";
}

/** The graph uses an operator the compiler does not support. */
export class ZkmlUnsupportedOpError extends UnsupportedError {
  override name = "ZkmlUnsupportedOpError";
  constructor(
    readonly opType: string,
    readonly nodeName: string,
    options: BaseErrorOptions = {},
  ) {
    super(`unsupported ONNX op "${opType}" at node "${nodeName}"`, options);
  }
}

/** The graph is well-formed ONNX but not a shape the compiler accepts (wrong attribute, not an MLP chain, ...). */
export class ZkmlUnsupportedGraphError extends UnsupportedError {
  override name = "ZkmlUnsupportedGraphError";
}

/** A tensor's shape does not match what its consumer needs. */
export class ZkmlShapeMismatchError extends InputError {
  override name = "ZkmlShapeMismatchError";
  constructor(
    readonly tensor: string,
    readonly expected: readonly number[],
    readonly actual: readonly number[],
    options: BaseErrorOptions = {},
  ) {
    super(
      `shape mismatch for tensor "${tensor}": expected [${expected.join(",")}], got [${actual.join(",")}]`,
      options,
    );
  }
}

/** An input value is outside the model's declared input range. */
export class ZkmlInputRangeError extends InputError {
  override name = "ZkmlInputRangeError";
  constructor(
    readonly index: number,
    readonly value: number | bigint,
    readonly min: number | bigint,
    readonly max: number | bigint,
    options: BaseErrorOptions = {},
  ) {
    super(
      `input[${index}] = ${String(value)} is outside the model's input range [${String(min)}, ${String(max)}]`,
      options,
    );
  }
}

/** Intermediate values would not fit the safe bit width of the circuit's range checks. */
export class ZkmlOverflowError extends UnsupportedError {
  override name = "ZkmlOverflowError";
}

/** An external tool (circom compiler, snarkjs) failed: nothing is known about what it was given. */
export class ZkmlToolError extends StateError {
  override name = "ZkmlToolError";
}

/** A witness does not satisfy the circuit's constraints. */
export class ZkmlConstraintError extends VerificationError {
  override name = "ZkmlConstraintError";
}

/**
 * A published ZK version's files do not rebuild the setup its verifier holds: `what` names the artefact (the ONNX
 * file, the circuit source, the R1CS, the powers of tau, the proving key, the verifying-key hash), `expected` what
 * the manifest or the chain records and `actual` what was found.
 */
export class ZkmlSetupMismatchError extends VerificationError {
  override name = "ZkmlSetupMismatchError";
  constructor(
    readonly what: string,
    readonly expected: string,
    readonly actual: string,
    message: string,
    options: BaseErrorOptions = {},
  ) {
    super(message, { ...options, context: { what, expected, actual, ...options.context } });
  }
}
