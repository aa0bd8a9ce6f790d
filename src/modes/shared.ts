/** What several modes do the same way: the plain input, its hash check, the ONNX classification, binding checks. */
import { hexlify, isAddress, keccak256, ZeroAddress, ZeroHash } from "ethers";
import { InputError, UnsupportedError } from "../core/errors";
import { MODES, type Mode, type ModeInfo } from "../core/modes";
import { decodeInput, encodeInput, type Job } from "../core/job";
import { encodeClassification } from "../inference/onnx";
import type { BindingSpec, ModeNode, PreparedInput, RequestInput } from "./types";

/** `ModelRegistry.MAX_BINDINGS`: the most values one mode binding lists. */
export const MAX_BINDINGS = 16;

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

/** The input sent inline as JSON; the escrow commits to its keccak256. */
export function plainInput(request: RequestInput): PreparedInput {
  return { input: encodeInput(request.features), inputCommitment: ZeroHash };
}

/** Why an input does not match a job committing to `keccak256(input)`, or undefined. */
export function hashRefusal(job: Job, input: string): string | undefined {
  const hash = keccak256(input);
  return hash === job.inputHash
    ? undefined
    : `it hashes to ${hash}, but the job commits to ${job.inputHash}; refusing to compute on it`;
}

/**
 * Runs the version's ONNX classifier on the job's inline JSON input.
 * @throws InputError when the input does not hash to the job's input hash.
 */
export async function classify(job: Job, input: string, node: ModeNode): Promise<string> {
  if (keccak256(input) !== job.inputHash)
    throw new InputError(`job ${job.id}: the inline input does not hash to the job's inputHash`);
  return classifyInput(node.models, job.modelId, job.version, input);
}

/**
 * Runs version `version` of model `modelId`'s ONNX classifier on an inline JSON input, whatever asked for it (a job,
 * a private request).
 * @throws InputError when the input is not a JSON array of numbers.
 */
export async function classifyInput(
  models: ModeNode["models"],
  modelId: bigint,
  version: bigint,
  input: string,
): Promise<string> {
  const features = decodeInput(input);
  const model = await models.load(modelId, version);
  return hexlify(encodeClassification(await model.run(features)));
}

/**
 * Checks that a binding names no verifier contract (the mode's verifier is the deployment's).
 * @throws InputError naming the mode and the verifier.
 */
export function noVerifier(name: string, spec: BindingSpec): void {
  if (spec.verifier !== undefined && spec.verifier !== ZeroAddress)
    throw new InputError(`mode ${name} takes no verifier address, got ${spec.verifier}`);
}

/**
 * Checks a verifier contract's address.
 * @throws InputError naming the mode and the value.
 */
export function verifierAddress(name: string, spec: BindingSpec): string {
  const verifier = spec.verifier;
  if (verifier === undefined) throw new InputError(`mode ${name} needs a verifier contract address`);
  if (!isAddress(verifier) || !verifier.startsWith("0x") || verifier === ZeroAddress)
    throw new InputError(`${name} verifier ${verifier} is not a contract address`);
  return verifier;
}

/**
 * Checks a binding's values: `min` to `max` of them, each a non-zero 32-byte hex value.
 * @throws InputError naming the mode and the count, or the bad value (`noun` names one value).
 */
export function bindingValues(name: string, spec: BindingSpec, noun: string, min: number, max: number): string[] {
  const values = [...(spec.bindings ?? [])];
  if (values.length < min || values.length > max) {
    const wanted = min === max ? `${min} ${noun}${min === 1 ? "" : "s"}` : `${min} to ${max} ${noun}s`;
    throw new InputError(`mode ${name} needs ${wanted}, got ${values.length}`);
  }
  for (const value of values)
    if (!BYTES32.test(value) || BigInt(value) === 0n)
      throw new InputError(`${noun} ${value} is not a non-zero 32-byte hex value`);
  return values;
}

/** A mode's number, name, label and trust line from the core list. */
export function infoOf(mode: Mode): ModeInfo {
  const info = MODES.find((m) => m.mode === mode);
  if (info === undefined) throw new UnsupportedError(`mode ${mode} is not in the core list of modes`);
  return info;
}
