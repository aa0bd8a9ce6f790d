/**
 * The client's side of a TEE node's chat API (src/node/chat-api.ts): {@link verifyChatReceipt} recomputes the
 * request and response hashes from what the client sent and received, whole or streamed, and checks the receipt
 * against the chain (sdk/receipts `checkReceipt`).
 *
 * What the hashes cover is core/chat's (one definition for the node that signs and the client that checks).
 *
 * {@link privateChatFetch} is a `fetch` for the OpenAI client that takes the private path: each request encrypted to
 * the gateway's enclave key and sent through a relay (chunked OHTTP, so a streamed answer arrives as it is generated).
 */
import {
  canonicalJson,
  chatRequestHash,
  chatResponseHash,
  CHAT_RESPONSE_TAG,
  type ChatResponseSummary,
} from "../core/chat";
import type { Contracts } from "../core/contracts";
import { InputError, VerificationError } from "../core/errors";
import { parseReceiptFile, type ReceiptFile } from "../core/receipts";
import type { RetryOptions } from "../core/retry";
import { ohttpFetch, relayResourceUrl, type KeyConfig } from "../ohttp";
import type { ReceiptSettlement } from "../../typechain-types/contracts/chat/ReceiptSettlement";
import { checkReceipt, type CheckedReceipt } from "./receipts";

export { canonicalJson, chatRequestHash, chatResponseHash, CHAT_RESPONSE_TAG, type ChatResponseSummary };

/** The parts of a `chat.completion` the receipt covers (an OpenAI client's `ChatCompletion` fits). */
export interface ChatCompletionLike {
  id: string;
  model: string;
  choices: { message: { content: string | null }; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
}

/** The parts of a `chat.completion.chunk` the receipt covers (an OpenAI client's `ChatCompletionChunk` fits). */
export interface ChatCompletionChunkLike {
  id: string;
  model: string;
  choices: { delta?: { content?: string | null }; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
}

/** A response as received: the whole completion, or every chunk of a stream in order. */
export type ChatResponseLike = ChatCompletionLike | { chunks: readonly ChatCompletionChunkLike[] };

/** The summary, usage and receipt of a received response. @throws InputError when it carries no receipt. */
export function readChatResponse(response: ChatResponseLike): {
  summary: ChatResponseSummary;
  usage?: { prompt_tokens: number; completion_tokens: number };
  receipt: ReceiptFile;
} {
  if ("chunks" in response) {
    const { chunks } = response;
    if (chunks.length === 0) throw new InputError("the stream has no chunks");
    const carrier = chunks.find((chunk) => receiptOf(chunk) !== undefined);
    if (carrier === undefined) throw new InputError("the stream carries no receipt chunk: it was cut short");
    const content = chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? "").join("");
    const finishReason = chunks.map((chunk) => chunk.choices[0]?.finish_reason).find((r) => typeof r === "string");
    const usage = chunks.map((chunk) => chunk.usage).find((u) => u !== undefined && u !== null);
    return {
      summary: { id: chunks[0]!.id, model: chunks[0]!.model, content, finishReason: finishReason ?? "" },
      ...(usage === undefined || usage === null ? {} : { usage }),
      receipt: parseReceiptFile(receiptOf(carrier)),
    };
  }
  const receipt = receiptOf(response);
  if (receipt === undefined) throw new InputError("the completion carries no receipt");
  const [choice] = response.choices;
  return {
    summary: {
      id: response.id,
      model: response.model,
      content: choice?.message.content ?? "",
      finishReason: choice?.finish_reason ?? "",
    },
    ...(response.usage === undefined || response.usage === null ? {} : { usage: response.usage }),
    receipt: parseReceiptFile(receipt),
  };
}

function receiptOf(value: object): unknown {
  return (value as { receipt?: unknown }).receipt;
}

export interface VerifyChatReceiptParams {
  contracts: Pick<Contracts, "teeVerifier" | "registry" | "escrow">;
  settlement: ReceiptSettlement;
  /** The request body as sent. */
  request: object;
  response: ChatResponseLike;
  /** The operator the client meant to pay. */
  operator?: string;
  retry?: RetryOptions;
}

export interface VerifyChatReceiptReturnType extends CheckedReceipt {
  receipt: ReceiptFile;
}

/**
 * Checks the receipt of a chat completion: it covers this request and this response (hashes recomputed here), the
 * model version the request named (`"<modelId>@<version>"`), the token counts the response reported, and it passes
 * `checkReceipt` against the chain (the enclave's registration, the version's binding, the operator's price).
 * @throws VerificationError saying which check failed; InputError when the response carries no receipt.
 * @example
 * const completion = await openai.chat.completions.create(body);
 * const { receipt } = await verifyChatReceipt({ contracts, settlement, request: body, response: completion });
 */
export async function verifyChatReceipt(params: VerifyChatReceiptParams): Promise<VerifyChatReceiptReturnType> {
  const { summary, usage, receipt } = readChatResponse(params.response);
  const fail = (reason: string) => new VerificationError(`the chat receipt does not check: ${reason}`);
  const model = (params.request as { model?: unknown }).model;
  const named = `${receipt.receipt.modelId}@${receipt.receipt.version}`;
  if (model !== named) throw fail(`it is for model ${named}, the request named ${String(model)}`);
  if (
    usage !== undefined &&
    (BigInt(usage.prompt_tokens) !== receipt.receipt.promptTokens ||
      BigInt(usage.completion_tokens) !== receipt.receipt.completionTokens)
  )
    throw fail(
      `it counts ${receipt.receipt.promptTokens} + ${receipt.receipt.completionTokens} tokens, the response reported ${usage.prompt_tokens} + ${usage.completion_tokens}`,
    );
  const checked = await checkReceipt(params.contracts, params.settlement, receipt, {
    requestHash: chatRequestHash(params.request),
    responseHash: chatResponseHash(summary),
    ...(params.operator === undefined ? {} : { operator: params.operator }),
    ...(params.retry === undefined ? {} : { retry: params.retry }),
  });
  return { ...checked, receipt };
}

/* THE PRIVATE PATH */

export interface PrivateChatFetchOptions {
  /** The relay's base URL (one not run by the gateway's operator: sdk/privateInference `independentRelays`). */
  relay: string | URL;
  /** The gateway's URL as the chain lists it. */
  gateway: string | URL;
  /** The gateway's key configuration, from the chain (sdk/privateInference `gatewayKeyConfig`), never the relay. */
  keyConfig: KeyConfig;
  /** Time until each response's head, in ms. Default 60 s. */
  timeoutMs?: number;
}

/**
 * A `fetch` that sends each request through `relay` to `gateway` over chunked Oblivious HTTP: give it to the OpenAI
 * client with a base URL on the gateway. The relay sees sizes and timing, never the content; the gateway never sees
 * the client's address. A refusal by the relay or a tampered answer throws (ohttp `ohttpFetch`'s errors).
 * @example
 * const openai = new OpenAI({ baseURL: `${gateway}v1`, apiKey: "unused", fetch: privateChatFetch({ relay, gateway, keyConfig }) });
 */
export function privateChatFetch(options: PrivateChatFetchOptions) {
  const target = relayResourceUrl(options.relay, options.gateway);
  return (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
    ohttpFetch(target, options.keyConfig, new Request(input, init), {
      chunked: true,
      timeoutMs: options.timeoutMs ?? 60_000,
      ...(init?.signal === undefined || init.signal === null ? {} : { signal: init.signal }),
    });
}
