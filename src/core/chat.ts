/**
 * What a chat receipt's hashes cover (issue #14 §3), shared by the TEE node's chat API (node/chat-api), which signs
 * them, and the client (sdk/chat `verifyChatReceipt`), which recomputes them from what it sent and received:
 *
 * - `requestHash` = keccak256 of the UTF-8 {@link canonicalJson} of the request body (the parameters object given
 *   to an OpenAI client's `chat.completions.create`);
 * - `responseHash` = keccak256 of the UTF-8 canonical JSON of
 *   `{ "content", "finish_reason", "id", "model", "object": "vin.chat.response.v1" }`: the completion's id, the model
 *   id as answered, the whole assistant text (streamed: every `delta.content` joined), and its finish reason.
 */
import { keccak256, toUtf8Bytes } from "ethers";

/** The request header of the chat API that carries one payment credential (a credit token). */
export const PAYMENT_HEADER = "vin-payment";

/** Tags the response-hash document. */
export const CHAT_RESPONSE_TAG = "vin.chat.response.v1";

/**
 * JSON with object keys sorted (by UTF-16 code units) and no whitespace, numbers and strings as `JSON.stringify`
 * writes them, undefined members left out (undefined array items as null): the text a request or response hash is
 * taken of.
 * @example canonicalJson({ b: [1, "x"], a: { c: true } }) // '{"a":{"c":true},"b":[1,"x"]}'
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The request hash of a chat completion request body. */
export function chatRequestHash(body: object): string {
  return keccak256(toUtf8Bytes(canonicalJson(body)));
}

/** What a response hash covers. */
export interface ChatResponseSummary {
  id: string;
  model: string;
  content: string;
  finishReason: string;
}

/** The response hash of a completion. */
export function chatResponseHash(response: ChatResponseSummary): string {
  const document = {
    object: CHAT_RESPONSE_TAG,
    id: response.id,
    model: response.model,
    content: response.content,
    finish_reason: response.finishReason,
  };
  return keccak256(toUtf8Bytes(canonicalJson(document)));
}
