/**
 * The private inference protocol: what a client sends to an operator's gateway inside an Oblivious HTTP request
 * (`POST /v1/infer`), what the gateway answers, and the receipt the gateway's enclave signs over the answer. The
 * receipt is EIP-712 under the TeeVerifier's domain with its own primary type, so it can never pass for the
 * `InferenceResult` of an on-chain job; a client checks it against the enclave's on-chain registration.
 *
 * Nothing here names the client: the request carries the model, the input, a fresh random request id and, where
 * the gateway asks for payment, one Privacy Pass token. The relay's address is all the gateway sees of the sender.
 */
import { getBytes, keccak256, verifyTypedData, type TypedDataDomain, type TypedDataField } from "ethers";
import { InputError, IntegrityError } from "./errors";
import { hexField, objectOf, uintField } from "./fields";

/** The path of the private inference endpoint inside the gateway. */
export const PRIVATE_INFER_PATH = "/v1/infer";

/** Largest input a private request may carry, in bytes (the gateway's body limit is higher). */
export const MAX_PRIVATE_INPUT_BYTES = 64 * 1024;

/** The EIP-712 type of a private inference receipt. */
export const PRIVATE_RESULT_TYPES: Record<string, TypedDataField[]> = {
  PrivateInferenceResult: [
    { name: "requestId", type: "bytes32" },
    { name: "modelId", type: "uint64" },
    { name: "version", type: "uint32" },
    { name: "inputHash", type: "bytes32" },
    { name: "outputHash", type: "bytes32" },
    { name: "operator", type: "address" },
  ],
};

/** What an enclave signs for a private inference. */
export interface PrivateResultMessage {
  requestId: string;
  modelId: bigint;
  version: bigint;
  inputHash: string;
  outputHash: string;
  /** The operator whose gateway served it (the enclave's registered operator). */
  operator: string;
}

/** A private inference request (the JSON body of `POST /v1/infer`). */
export interface PrivateRequest {
  modelId: bigint;
  version: bigint;
  /** The input bytes, 0x hex (for the tabular models: `encodeInput(features)`). */
  input: string;
  /** 32 random bytes, 0x hex: binds the receipt to this request. */
  requestId: string;
  /** One Privacy Pass token (RFC 9577 encoding, base64url), when the gateway charges. */
  pass?: string;
}

/** A private inference answer: the output and the enclave's receipt. */
export interface PrivateResponse extends Omit<PrivateResultMessage, "modelId" | "version"> {
  modelId: bigint;
  version: bigint;
  output: string;
  /** The enclave's signing address. */
  enclave: string;
  /** The enclave's EIP-712 signature of {@link PrivateResultMessage}. */
  signature: string;
}

/** The JSON text of a private request. */
export function encodePrivateRequest(request: PrivateRequest): string {
  return JSON.stringify({ ...request, modelId: request.modelId.toString(), version: Number(request.version) });
}

/**
 * Parses and checks a private request.
 * @throws InputError naming the field that is missing or malformed and what it must be.
 */
export function parsePrivateRequest(body: unknown): PrivateRequest {
  const record = objectOf(body, "a private inference request");
  const modelId = uintField(record, "modelId", 64);
  const version = uintField(record, "version", 32);
  const input = hexField(record, "input");
  if (getBytes(input).length === 0 || getBytes(input).length > MAX_PRIVATE_INPUT_BYTES)
    throw new InputError(`"input" must hold 1 to ${MAX_PRIVATE_INPUT_BYTES} bytes, got ${getBytes(input).length}`);
  const requestId = hexField(record, "requestId", 32);
  const pass = record.pass;
  if (pass !== undefined && (typeof pass !== "string" || !/^[A-Za-z0-9_-]{1,2048}$/.test(pass)))
    throw new InputError(`"pass" must be one Privacy Pass token in base64url`);
  return { modelId, version, input, requestId, ...(pass === undefined ? {} : { pass: pass as string }) };
}

/** The JSON text of a private response. */
export function encodePrivateResponse(response: PrivateResponse): string {
  return JSON.stringify({ ...response, modelId: response.modelId.toString(), version: Number(response.version) });
}

/**
 * Parses a private response and checks that it answers `request`: same request id, model, version and input hash,
 * and an output that hashes to the signed output hash. Whether the signature is the enclave's, and whether that
 * enclave may serve the model, is {@link privateResultSigner}'s and the caller's check against the chain.
 * @throws IntegrityError naming what does not match.
 */
export function parsePrivateResponse(body: unknown, request: PrivateRequest): PrivateResponse {
  let response: PrivateResponse;
  try {
    const record = objectOf(body, "a private inference response");
    response = {
      requestId: hexField(record, "requestId", 32),
      modelId: uintField(record, "modelId", 64),
      version: uintField(record, "version", 32),
      inputHash: hexField(record, "inputHash", 32),
      output: hexField(record, "output"),
      outputHash: hexField(record, "outputHash", 32),
      operator: hexField(record, "operator", 20),
      enclave: hexField(record, "enclave", 20),
      signature: hexField(record, "signature", 65),
    };
  } catch (cause) {
    throw new IntegrityError(`the gateway's answer is malformed: ${(cause as Error).message}`, { cause });
  }
  const mismatch = (what: string) =>
    new IntegrityError(`the gateway's answer does not match the request: ${what} differs`);
  if (response.requestId.toLowerCase() !== request.requestId.toLowerCase()) throw mismatch("the request id");
  if (response.modelId !== request.modelId || response.version !== request.version) throw mismatch("the model");
  if (response.inputHash !== keccak256(request.input)) throw mismatch("the input hash");
  if (response.outputHash !== keccak256(response.output)) throw mismatch("the output's hash");
  return response;
}

/** The address that signed `response`'s receipt under `domain` (the TeeVerifier's EIP-712 domain). */
export function privateResultSigner(domain: TypedDataDomain, response: PrivateResponse): string {
  const message: PrivateResultMessage = {
    requestId: response.requestId,
    modelId: response.modelId,
    version: response.version,
    inputHash: response.inputHash,
    outputHash: response.outputHash,
    operator: response.operator,
  };
  return verifyTypedData(domain, PRIVATE_RESULT_TYPES, message, response.signature);
}
