import { getBytes, hexlify, toBeHex, toUtf8Bytes, toUtf8String } from "ethers";
import { inputCommitment } from "./claim";
import { InputError } from "../core/errors";
import { SNARK_FIELD } from "./field";
import { randomSalt } from "./prover";
import { quantizeInput, type QuantizedModel } from "./quantize";

/** The input of a ZK job as the node receives it: the real features and the salt of the requester's commitment. */
export interface ZkJobInput {
  x: number[];
  salt: bigint;
}

/** A ZK job's input bytes do not decode, or do not match the job's commitment. */
export class ZkJobInputError extends InputError {
  override readonly name = "ZkJobInputError";
}

/**
 * Encodes a ZK job's input for the escrow's `input` field: UTF-8 JSON `{"x":[...],"salt":"0x..."}`.
 * Warning: inline input is public (it is in the `JobRequested` event), salt included; the commitment hides the
 * input only when the input travels privately to the node: seal it (`requestInference({ encryptTo })`,
 * `vin request --encrypt`; src/core/sealed.ts), and only the chosen nodes can read input and salt.
 */
export function encodeZkJobInput(input: ZkJobInput): string {
  return hexlify(toUtf8Bytes(JSON.stringify({ x: input.x, salt: toBeHex(input.salt, 32) })));
}

/**
 * Decodes a ZK job's input bytes.
 *
 * @throws ZkJobInputError naming what is wrong.
 */
export function decodeZkJobInput(bytes: string | Uint8Array): ZkJobInput {
  let parsed: unknown;
  try {
    parsed = JSON.parse(toUtf8String(getBytes(bytes)));
  } catch (cause) {
    throw new ZkJobInputError("a ZK job's input is not UTF-8 JSON", { cause });
  }
  if (parsed === null || typeof parsed !== "object")
    throw new ZkJobInputError('a ZK job\'s input must be a JSON object {"x": [...], "salt": "0x..."}');
  const { x, salt } = parsed as { x?: unknown; salt?: unknown };
  if (!Array.isArray(x) || !x.every((v) => typeof v === "number" && Number.isFinite(v)))
    throw new ZkJobInputError('"x" must be an array of finite numbers');
  if (typeof salt !== "string" || !/^0x[0-9a-fA-F]{1,64}$/.test(salt))
    throw new ZkJobInputError('"salt" must be a 0x-prefixed hex number');
  const value = BigInt(salt);
  if (value >= SNARK_FIELD) throw new ZkJobInputError('"salt" must be below the SNARK field order');
  return { x: x as number[], salt: value };
}

/** What a requester puts in a ZK job: the commitment (`inputCommitment`) and the input bytes for the node. */
export interface ZkJobRequest {
  inputCommitment: string;
  input: string;
  salt: bigint;
  quantized: bigint[];
}

/**
 * Builds a ZK job's commitment and input for `model` (the quantized model the version's circuit was compiled from).
 *
 * @throws ZkmlInputRangeError naming the feature outside the circuit's range, ZkmlShapeMismatchError for a wrong length.
 * @example
 * const { inputCommitment, input } = zkJobRequest(model, [39.1, 18.7, 181, 3750]);
 */
export function zkJobRequest(model: QuantizedModel, x: number[], salt: bigint = randomSalt()): ZkJobRequest {
  const quantized = quantizeInput(model, x);
  return {
    inputCommitment: toBeHex(inputCommitment(model, quantized, salt), 32),
    input: encodeZkJobInput({ x, salt }),
    salt,
    quantized,
  };
}

/**
 * Checks a ZK job's input against its `inputHash` and returns the quantized input to prove.
 *
 * @throws ZkJobInputError when the bytes do not decode or do not open the commitment.
 */
export function openZkJobInput(
  model: QuantizedModel,
  bytes: string | Uint8Array,
  inputHash: string,
): { input: ZkJobInput; quantized: bigint[] } {
  const input = decodeZkJobInput(bytes);
  const quantized = quantizeInput(model, input.x);
  const commitment = toBeHex(inputCommitment(model, quantized, input.salt), 32);
  if (commitment.toLowerCase() !== inputHash.toLowerCase()) {
    throw new ZkJobInputError(`the input and salt commit to ${commitment}, not to the job's inputHash ${inputHash}`);
  }
  return { input, quantized };
}
