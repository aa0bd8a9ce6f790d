/**
 * The TEE node's OpenAI-compatible chat API (issue #14 §2–3): `GET /v1/models` and `POST /v1/chat/completions`,
 * whole (`chat.completion`) or streamed (server-sent `chat.completion.chunk` events ending with `data: [DONE]`), as
 * a Fetch API handler ({@link createChatApi}) served directly for development ({@link startChatApi}, 127.0.0.1) or
 * inside the OHTTP gateway.
 *
 * Every completed response carries a receipt its enclave signs (core/receipts `InferenceReceipt`), in the JSON's
 * top-level `receipt` field, or, streamed, in a last chunk (`choices: []`, `receipt`) before `[DONE]`. The field is
 * a receipt file (core/receipts `encodeReceiptFile`: `receipt`, `signature`, `chainId`, `teeVerifier`). What is
 * hashed, so that a client recomputes both hashes from what it sent and received (sdk/chat `verifyChatReceipt`):
 *
 * - `requestHash` = keccak256 of the UTF-8 canonical JSON (core/chat) of the parsed request body (object keys sorted by
 *   UTF-16 code units, no whitespace, numbers and strings as `JSON.stringify` writes them, undefined members left out);
 * - `responseHash` = keccak256 of the UTF-8 canonical JSON of
 *   `{ "content", "finish_reason", "id", "model", "object": "vin.chat.response.v1" }`: the completion's id, the model
 *   id as answered, the whole assistant text (streamed: every `delta.content` joined), and its finish reason.
 *
 * Token counts are the runtime's; the price is the operator's price per token at `issuedAt` (config, or the
 * settlement contract's `priceOf`) times the prompt and completion tokens; the payment id is the credential the
 * request spent, or, with none given, a fresh random 32 bytes (see {@link PaymentRedeemer}).
 *
 * Sampling follows OpenAI's defaults: temperature 1 and top_p 1 unless given, a random seed unless given (with
 * `seed` and temperature 0 an answer is reproducible, streamed or not).
 *
 * Limits: request body size, max tokens per request, and a number of generations at once. A request that finds every
 * generation slot busy waits for one, first in first out, in a bounded queue (`maxQueued` requests, each at most
 * `queueTimeoutMs`): a client retrying a 429 through the private path pays a whole encrypted round trip per try, a
 * queued one none. It is answered 429 (`retry-after`) only when the queue is full or its wait times out. Payment is
 * taken once a slot is, so a queued request that times out or whose client disconnects (it leaves the queue) is never
 * charged. A client that disconnects aborts its generation; an aborted or failed generation gets no receipt and its
 * payment is refunded.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { hexlify, randomBytes, type TypedDataDomain } from "ethers";
import { chatRequestHash, chatResponseHash, PAYMENT_HEADER } from "../core/chat";
import { InputError } from "../core/errors";
import { silentLogger, type Logger } from "../core/log";
import { encodeReceiptFile, type Receipt, type SignedReceipt } from "../core/receipts";
import { withRetry, type RetryOptions } from "../core/retry";
import {
  GenerationAbortedError,
  GenerationInputError,
  type ChatMessage,
  type Generation,
  type GenerationChunk,
  type TextGenerator,
} from "../inference/text/runtime";

/** Where a batch's published data is served: `GET /v1/receipts/batches/<dataHash, 0x lowercase hex>`. */
export const BATCH_DATA_PATH = "/v1/receipts/batches/";

/** The request header that carries a payment credential (see {@link PaymentRedeemer}). */
export { PAYMENT_HEADER };

/** A published text model version the node serves. Its API id is `"<modelId>@<version>"`. */
export interface ServedTextModel {
  modelId: bigint;
  version: bigint;
  /** The loaded model (only its context size and streaming are used). */
  generator: Pick<TextGenerator, "info" | "stream">;
}

/** The enclave's receipt key: it signs an `InferenceReceipt` under `domain` (the key never leaves the enclave). */
export interface ReceiptSigner {
  address: string;
  signReceipt(domain: TypedDataDomain, receipt: Receipt): Promise<string>;
}

/** What a receipt names besides the answer: who signs it, for whom, where it settles, and its price. */
export interface ChatReceiptOptions {
  signer: ReceiptSigner;
  /** The operator the enclave is registered to. */
  operator: string;
  /** The ReceiptSettlement contract's address. */
  settlement: string;
  /** The TeeVerifier's EIP-712 domain (core/tee `teeDomain`). */
  domain: TypedDataDomain;
  /** The operator's price per token of `modelId` at `issuedAt`: {@link fixedPrice} or {@link settlementPrice}. */
  price(modelId: bigint, issuedAt: bigint): Promise<bigint>;
  /** Seconds since the epoch (`issuedAt`). Default the system clock. */
  now?: () => Promise<bigint>;
  /**
   * Stores a signed receipt before its answer is sent (node/receipt-settler `record`); a receipt it refuses is not
   * given out, and its request is answered 500 with the payment refunded.
   */
  record?: (signed: SignedReceipt) => void | Promise<void>;
}

/**
 * Spends a payment credential. Privacy Pass tokens and prepaid balances plug in here; the redeemer must refuse a
 * credential (and so a payment id) it has already accepted, forever, and give back a refunded one.
 */
export interface PaymentRedeemer {
  /** @throws InputError when the credential is malformed, unknown or spent (answered 402). */
  redeem(credential: string): Promise<{ paymentId: string; refund(): void }>;
}

export interface ChatApiOptions {
  models: readonly ServedTextModel[];
  receipts: ChatReceiptOptions;
  /** Credentials taken from the `vin-payment` header. Without it, a request carrying one is refused. */
  payments?: PaymentRedeemer;
  /** Requests must carry a credential (402 without one). Default false. */
  paymentRequired?: boolean;
  /**
   * Why the enclave may not serve a model version now (its registration no longer satisfies the version's TEE
   * binding, say), or undefined; a refused request is answered 503 before any payment is taken.
   */
  refusal?: (modelId: bigint, version: bigint) => Promise<string | undefined>;
  /** Largest request body, in bytes. Default 64 KiB. */
  maxBodyBytes?: number;
  /** Most tokens one request may generate (also capped by the model's context). Default 256. */
  maxTokens?: number;
  /** Generations at once; more wait in the queue. Default 4. */
  maxConcurrent?: number;
  /** Requests that may wait for a generation slot (FIFO); beyond it 429 at once. 0 queues none. Default 64. */
  maxQueued?: number;
  /** Longest a request waits in the queue, in ms, before it is answered 429 (nothing paid). Default 10,000. */
  queueTimeoutMs?: number;
  /** The published data of a settlement batch by its data hash (served at {@link BATCH_DATA_PATH}), or undefined. */
  batchData?: (dataHash: string) => string | undefined;
  log?: Logger;
  /** Called once per completion request that started generating, when it ends (for metrics and tests). */
  onFinished?: (outcome: ChatOutcome) => void;
}

/** How a generation ended. */
export interface ChatOutcome {
  id: string;
  status: "completed" | "aborted" | "failed";
  completionTokens: number;
}

/** The handler: a Fetch API request in, a response out. `signal` aborts when the client goes away. */
export interface ChatApi {
  handle(request: Request, signal?: AbortSignal): Promise<Response>;
  /** Generations running now. */
  readonly inFlight: number;
  /** Requests waiting for a generation slot now. */
  readonly queued: number;
}

/** A price per token fixed by configuration. */
export function fixedPrice(perToken: bigint): ChatReceiptOptions["price"] {
  return () => Promise.resolve(perToken);
}

/** The operator's published price on ReceiptSettlement (`priceOf(operator, modelId, issuedAt)`). */
export function settlementPrice(
  settlement: { priceOf(operator: string, modelId: bigint, issuedAt: bigint): Promise<bigint> },
  operator: string,
  retry: RetryOptions = {},
): ChatReceiptOptions["price"] {
  return (modelId, issuedAt) =>
    withRetry("receiptSettlement.priceOf", () => settlement.priceOf(operator, modelId, issuedAt), retry);
}

/**
 * The chat API as a Fetch API handler.
 * @example const api = createChatApi({ models: [{ modelId: 1n, version: 1n, generator }], receipts });
 */
export function createChatApi(options: ChatApiOptions): ChatApi {
  return new ChatService(options);
}

export interface StartChatApiOptions extends ChatApiOptions {
  /** An API built already (shared with the gateway, so both count one concurrency limit); else one is built. */
  api?: ChatApi;
  /** Plain HTTP endpoints served beside the API, by exact path (the credit issuer's). */
  routes?: Record<string, RequestListener>;
  /** Default 127.0.0.1: the direct API is for development; users go through the OHTTP gateway. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
}

export interface RunningChatApi {
  /** Base URL of the OpenAI API, ending in `/v1`. */
  url: string;
  port: number;
  api: ChatApi;
  close(): Promise<void>;
}

/**
 * Serves the chat API over plain HTTP.
 * @example
 * const running = await startChatApi({ models, receipts });
 * const openai = new OpenAI({ baseURL: running.url, apiKey: "unused" });
 */
export async function startChatApi(options: StartChatApiOptions): Promise<RunningChatApi> {
  const api = options.api ?? createChatApi(options);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const routes = new Map(Object.entries(options.routes ?? {}));
  const server: Server = createServer((req, res) => {
    const route = routes.get(new URL(req.url ?? "/", "http://chat.invalid").pathname);
    if (route !== undefined) return route(req, res);
    void serveNode(api, maxBodyBytes, req, res).catch(() => res.destroy());
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/v1`,
    port,
    api,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/* ERRORS */

/** An OpenAI-style error answer. */
class ApiError extends InputError {
  override readonly name = "ChatApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  get type(): string {
    if (this.status === 429) return "rate_limit_exceeded";
    return this.status >= 500 ? "server_error" : "invalid_request_error";
  }

  response(headers: Record<string, string> = {}): Response {
    const error = { message: this.message, type: this.type, param: this.param, code: this.code };
    return Response.json({ error }, { status: this.status, headers: { ...this.headers, ...headers } });
  }
}

/* REQUEST */

const DEFAULT_MAX_BODY = 64 * 1024;
const DEFAULT_MAX_TOKENS = 256;
const DEFAULT_MAX_QUEUED = 64;
const DEFAULT_QUEUE_TIMEOUT_MS = 10_000;
const PARAMETERS = new Set([
  "model",
  "messages",
  "max_tokens",
  "max_completion_tokens",
  "temperature",
  "top_p",
  "seed",
  "stop",
  "n",
  "stream",
  "stream_options",
  "user",
  "frequency_penalty",
  "presence_penalty",
  "logprobs",
  "response_format",
]);

/** A checked completion request. */
interface ChatRequest {
  model: ServedTextModel;
  modelName: string;
  messages: ChatMessage[];
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  stop: string[];
  stream: boolean;
  includeUsage: boolean;
  requestHash: string;
}

function fail(message: string, param: string | null = null, code: string | null = "invalid_value"): never {
  throw new ApiError(400, message, param, code);
}

function numberParam(body: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max)
    fail(`${name} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`, name);
  return value;
}

function integerParam(body: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const value = numberParam(body, name, min, max);
  if (value !== undefined && !Number.isInteger(value)) fail(`${name} must be an integer, got ${value}`, name);
  return value;
}

function messagesOf(value: unknown): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0)
    fail("messages must be a non-empty array of { role, content }", "messages");
  return value.map((entry: unknown, i) => {
    const param = `messages[${i}]`;
    if (typeof entry !== "object" || entry === null) fail(`${param} must be an object { role, content }`, param);
    const { role, content } = entry as { role?: unknown; content?: unknown };
    const mapped = role === "developer" ? "system" : role;
    if (mapped !== "system" && mapped !== "user" && mapped !== "assistant")
      fail(
        `${param}.role ${JSON.stringify(role)} is not supported: use system, developer, user or assistant (no tools)`,
        `${param}.role`,
        "unsupported_value",
      );
    return { role: mapped, content: textOf(content, `${param}.content`) };
  });
}

function textOf(content: unknown, param: string): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content))
    return content
      .map((part: unknown, i) => {
        const { type, text } = (part ?? {}) as { type?: unknown; text?: unknown };
        if (type !== "text" || typeof text !== "string")
          fail(`${param}[${i}] must be a text part { type: "text", text }: this model takes text only`, param);
        return text;
      })
      .join("");
  return fail(`${param} must be a string or an array of text parts`, param);
}

function stopOf(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const stops = typeof value === "string" ? [value] : value;
  if (!Array.isArray(stops) || stops.length > 4 || stops.some((s) => typeof s !== "string" || s.length === 0))
    fail("stop must be a non-empty string or an array of at most 4 of them", "stop");
  return stops as string[];
}

/** Parameters accepted only at the value that asks for nothing (OpenAI's defaults). */
function refuseUnsupported(body: Record<string, unknown>): void {
  for (const key of Object.keys(body))
    if (!PARAMETERS.has(key) && body[key] !== undefined && body[key] !== null)
      fail(`${key} is not supported by this node: remove it`, key, "unsupported_parameter");
  for (const key of ["frequency_penalty", "presence_penalty"])
    if (body[key] !== undefined && body[key] !== null && body[key] !== 0)
      fail(`${key} is not supported by this node: leave it at 0`, key, "unsupported_parameter");
  if (body.logprobs === true) fail("logprobs are not supported by this node", "logprobs", "unsupported_parameter");
  const format = body.response_format as { type?: unknown } | undefined | null;
  if (format !== undefined && format !== null && format.type !== "text")
    fail('response_format must be { "type": "text" }: structured output is not supported', "response_format");
  if (body.n !== undefined && body.n !== null && body.n !== 1)
    fail("n must be 1: this node generates one choice per request", "n", "unsupported_value");
}

/* SERVICE */

class ChatService implements ChatApi {
  private active = 0;
  /** Requests waiting for a slot, oldest first: each is handed the slot a finished generation frees. */
  private readonly waiting: Array<() => void> = [];
  private readonly log: Logger;
  private readonly maxBodyBytes: number;
  private readonly maxTokens: number;
  private readonly maxConcurrent: number;
  private readonly maxQueued: number;
  private readonly queueTimeoutMs: number;
  private readonly models: Map<string, ServedTextModel>;

  constructor(private readonly options: ChatApiOptions) {
    this.log = options.log ?? silentLogger;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
    this.maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS;
    this.maxConcurrent = options.maxConcurrent ?? 4;
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.queueTimeoutMs = options.queueTimeoutMs ?? DEFAULT_QUEUE_TIMEOUT_MS;
    this.models = new Map(options.models.map((m) => [`${m.modelId}@${m.version}`, m]));
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async handle(request: Request, signal?: AbortSignal): Promise<Response> {
    try {
      const path = new URL(request.url).pathname.replace(/\/+$/, "");
      if (path === "/v1/models") return this.listModels(request);
      if (path === "/v1/chat/completions") return await this.complete(request, signal);
      if (path.startsWith(BATCH_DATA_PATH)) return this.batchData(request, path.slice(BATCH_DATA_PATH.length));
      throw new ApiError(404, `no resource ${path}: this node serves GET /v1/models and POST /v1/chat/completions`);
    } catch (error) {
      if (error instanceof ApiError) return error.response();
      this.log.warn({ err: (error as Error).name }, "chat request failed");
      return new ApiError(500, "the node failed to answer; nothing was charged").response();
    }
  }

  /** A settlement batch's published data, by its data hash (what `commitBatch` emitted). */
  private batchData(request: Request, dataHash: string): Response {
    if (request.method !== "GET")
      throw new ApiError(405, `${BATCH_DATA_PATH}<dataHash> takes GET`, null, "method_not_allowed", { allow: "GET" });
    const data = /^0x[0-9a-f]{64}$/.test(dataHash) ? this.options.batchData?.(dataHash) : undefined;
    if (data === undefined) throw new ApiError(404, `no batch data ${dataHash} here`, null, "batch_not_found");
    return new Response(data, { headers: { "content-type": "application/json" } });
  }

  private listModels(request: Request): Response {
    if (request.method !== "GET")
      throw new ApiError(405, "/v1/models takes GET", null, "method_not_allowed", { allow: "GET" });
    const data = [...this.models.keys()].map((id) => ({
      id,
      object: "model",
      created: 0,
      owned_by: this.options.receipts.operator,
    }));
    return Response.json({ object: "list", data });
  }

  private async complete(request: Request, signal?: AbortSignal): Promise<Response> {
    if (request.method !== "POST")
      throw new ApiError(405, "/v1/chat/completions takes POST", null, "method_not_allowed", { allow: "POST" });
    const parsed = this.parse(await this.bodyOf(request));
    // A chain that cannot be read is a refusal (503, retry later), as the gateway answers for /v1/infer.
    const refusal = await this.options
      .refusal?.(parsed.model.modelId, parsed.model.version)
      .catch(
        (error: unknown) => `its chain state cannot be read: ${error instanceof Error ? error.message : String(error)}`,
      );
    if (refusal !== undefined)
      throw new ApiError(
        503,
        `this node cannot serve ${parsed.modelName} now: ${refusal}; nothing was charged`,
        "model",
        "model_unavailable",
        { "retry-after": "60" },
      );
    // The slot is taken before the payment is awaited, so requests paying at once cannot overrun the limit, and
    // nothing is paid while waiting for it.
    await this.takeSlot(signal);
    let payment: { paymentId: string; refund(): void };
    try {
      if (signal?.aborted === true) throw new ApiError(499, "the client closed the connection; nothing was charged");
      payment = await this.pay(request.headers.get(PAYMENT_HEADER));
    } catch (error) {
      this.releaseSlot();
      throw error;
    }
    const run = new Run(this, parsed, payment, signal);
    try {
      await run.start();
    } catch (error) {
      run.finish("failed");
      if (error instanceof GenerationInputError) throw new ApiError(400, error.message, "messages");
      throw error;
    }
    return parsed.stream ? run.streamed() : run.whole();
  }

  /**
   * Takes a generation slot: at once when one is free, else after waiting in the queue (FIFO) for one.
   * @throws ApiError 429 when the queue is full or the wait times out; 499 when `signal` aborts while waiting (the
   * request leaves the queue).
   */
  private takeSlot(signal?: AbortSignal): Promise<void> {
    if (this.active < this.maxConcurrent && this.waiting.length === 0) {
      this.active += 1;
      return Promise.resolve();
    }
    const busy = (why: string) =>
      new ApiError(429, `${why}: retry in a moment; nothing was charged`, null, "too_many_requests", {
        "retry-after": "1",
      });
    if (this.waiting.length >= this.maxQueued)
      return Promise.reject(
        busy(
          this.maxQueued === 0
            ? `this node is serving ${this.active} completions, its limit`
            : `this node is serving ${this.active} completions, its limit, and ${this.waiting.length} requests wait`,
        ),
      );
    if (signal?.aborted === true)
      return Promise.reject(new ApiError(499, "the client closed the connection; nothing was charged"));
    return new Promise<void>((resolve, reject) => {
      const leave = (error: ApiError) => {
        const at = this.waiting.indexOf(granted);
        if (at >= 0) this.waiting.splice(at, 1);
        done();
        reject(error);
      };
      const timedOut = () => leave(busy(`no generation slot freed within ${this.queueTimeoutMs} ms`));
      const aborted = () => leave(new ApiError(499, "the client closed the connection; nothing was charged"));
      const timer = setTimeout(timedOut, this.queueTimeoutMs);
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", aborted);
      };
      // Handed a slot by releaseSlot, which keeps it counted in `active` for this request.
      const granted = () => {
        done();
        resolve();
      };
      signal?.addEventListener("abort", aborted, { once: true });
      this.waiting.push(granted);
    });
  }

  /** Frees a generation slot, or hands it to the oldest waiting request. */
  private releaseSlot(): void {
    const next = this.waiting.shift();
    if (next === undefined) this.active -= 1;
    else next();
  }

  private async bodyOf(request: Request): Promise<Record<string, unknown>> {
    const declared = Number(request.headers.get("content-length") ?? 0);
    const tooLarge = () =>
      new ApiError(413, `the request body exceeds ${this.maxBodyBytes} bytes: send a shorter conversation`);
    if (declared > this.maxBodyBytes) throw tooLarge();
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.length > this.maxBodyBytes) throw tooLarge();
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      fail("the request body is not JSON: send a JSON object", null, "invalid_json");
    }
    if (typeof body !== "object" || body === null || Array.isArray(body))
      fail("the request body must be a JSON object", null, "invalid_json");
    return body as Record<string, unknown>;
  }

  private parse(body: Record<string, unknown>): ChatRequest {
    refuseUnsupported(body);
    if (typeof body.model !== "string") fail("model is required: one of GET /v1/models's ids", "model");
    const model = this.models.get(body.model);
    if (model === undefined)
      throw new ApiError(
        404,
        `the model ${body.model} is not served here: use one of ${[...this.models.keys()].join(", ")} (GET /v1/models)`,
        "model",
        "model_not_found",
      );
    const messages = messagesOf(body.messages);
    const limit = Math.min(this.maxTokens, model.generator.info.contextSize - 1);
    const maxTokens =
      integerParam(body, "max_completion_tokens", 1, limit) ?? integerParam(body, "max_tokens", 1, limit) ?? limit;
    if (body.stream !== undefined && body.stream !== null && typeof body.stream !== "boolean")
      fail("stream must be true or false", "stream");
    const stream = body.stream === true;
    const options = body.stream_options as { include_usage?: unknown } | undefined | null;
    if (options !== undefined && options !== null && !stream)
      fail("stream_options is only allowed with stream: true", "stream_options");
    return {
      model,
      modelName: body.model,
      messages,
      maxTokens,
      temperature: numberParam(body, "temperature", 0, 2) ?? 1,
      // The runtime takes (0, 1]; OpenAI's 0 keeps only the most likely token, as the smallest positive value does.
      topP: Math.max(numberParam(body, "top_p", 0, 1) ?? 1, Number.MIN_VALUE),
      seed: integerParam(body, "seed", 0, 0xffffffff) ?? randomBytes(4).reduce((s, b) => s * 256 + b, 0),
      stop: stopOf(body.stop),
      stream,
      includeUsage: options?.include_usage === true,
      requestHash: chatRequestHash(body),
    };
  }

  private async pay(credential: string | null): Promise<{ paymentId: string; refund(): void }> {
    if (credential === null && this.options.paymentRequired === true)
      throw new ApiError(
        402,
        `this node takes one credit token per request in the ${PAYMENT_HEADER} header: buy some with \`vin credit deposit\``,
        null,
        "payment_required",
      );
    if (credential === null) return { paymentId: hexlify(randomBytes(32)), refund: () => undefined };
    if (this.options.payments === undefined)
      fail(`this node takes no payment credential yet: send the request without the ${PAYMENT_HEADER} header`);
    try {
      return await this.options.payments.redeem(credential);
    } catch (error) {
      if (error instanceof InputError)
        throw new ApiError(402, `the payment was not accepted: ${error.message}`, null, "payment_refused");
      throw error;
    }
  }

  /** Signs the receipt of a finished generation. */
  async receipt(run: ChatRequest, generation: Generation, responseHash: string, paymentId: string) {
    const { signer, operator, settlement, domain } = this.options.receipts;
    const issuedAt = await (this.options.receipts.now ?? systemClock)();
    const perToken = await this.options.receipts.price(run.model.modelId, issuedAt);
    const promptTokens = BigInt(generation.usage.promptTokens);
    const completionTokens = BigInt(generation.usage.completionTokens);
    const receipt: Receipt = {
      settlement,
      operator,
      enclave: signer.address,
      modelId: run.model.modelId,
      version: run.model.version,
      requestHash: run.requestHash,
      responseHash,
      promptTokens,
      completionTokens,
      price: perToken * (promptTokens + completionTokens),
      paymentId,
      issuedAt,
    };
    const signed: SignedReceipt = { receipt, signature: await signer.signReceipt(domain, receipt) };
    await this.options.receipts.record?.(signed);
    const file = { ...signed, chainId: BigInt(domain.chainId!), teeVerifier: String(domain.verifyingContract) };
    return JSON.parse(encodeReceiptFile(file)) as Record<string, unknown>;
  }

  finished(outcome: ChatOutcome): void {
    this.releaseSlot();
    this.log.info({ id: outcome.id, status: outcome.status, tokens: outcome.completionTokens }, "chat completion");
    this.options.onFinished?.(outcome);
  }
}

function systemClock(): Promise<bigint> {
  return Promise.resolve(BigInt(Math.floor(Date.now() / 1000)));
}

const FINISH = { eos: "stop", stop: "stop", length: "length" } as const;

/** One generation: started before the response is built (so bad prompts are a 400), then answered whole or streamed. */
class Run {
  readonly id = `chatcmpl-${hexlify(randomBytes(12)).slice(2)}`;
  readonly created = Math.floor(Date.now() / 1000);
  private readonly abort = new AbortController();
  private tokens!: AsyncGenerator<GenerationChunk, Generation, undefined>;
  private first!: IteratorResult<GenerationChunk, Generation>;
  private done = false;

  constructor(
    private readonly service: ChatService,
    private readonly request: ChatRequest,
    private readonly payment: { paymentId: string; refund(): void },
    signal?: AbortSignal,
  ) {
    if (signal?.aborted === true) this.abort.abort(signal.reason);
    signal?.addEventListener("abort", () => this.abort.abort(signal.reason), { once: true });
  }

  async start(): Promise<void> {
    const r = this.request;
    this.tokens = r.model.generator.stream({
      prompt: { messages: r.messages },
      maxTokens: r.maxTokens,
      temperature: r.temperature,
      topP: r.topP,
      topK: 0,
      seed: r.seed,
      stop: r.stop,
      signal: this.abort.signal,
    });
    this.first = await this.tokens.next();
  }

  finish(status: ChatOutcome["status"], completionTokens = 0): void {
    if (this.done) return;
    this.done = true;
    if (status !== "completed") this.payment.refund();
    this.service.finished({ id: this.id, status, completionTokens });
  }

  /** Every chunk, then the generation. */
  private async *chunks(): AsyncGenerator<GenerationChunk, Generation, undefined> {
    let next = this.first;
    while (next.done !== true) {
      yield next.value;
      next = await this.tokens.next();
    }
    return next.value;
  }

  async whole(): Promise<Response> {
    let generation: Generation;
    try {
      const iterator = this.chunks();
      let next = await iterator.next();
      while (next.done !== true) next = await iterator.next();
      generation = next.value;
    } catch (error) {
      this.finish(error instanceof GenerationAbortedError ? "aborted" : "failed");
      throw error;
    }
    try {
      const body = await this.answer(generation);
      this.finish("completed", generation.usage.completionTokens);
      return Response.json(body);
    } catch (error) {
      this.finish("failed");
      throw error;
    }
  }

  private async answer(generation: Generation): Promise<Record<string, unknown>> {
    const finishReason = FINISH[generation.finishReason];
    const responseHash = chatResponseHash({
      id: this.id,
      model: this.request.modelName,
      content: generation.text,
      finishReason,
    });
    return {
      id: this.id,
      object: "chat.completion",
      created: this.created,
      model: this.request.modelName,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: generation.text, refusal: null },
          logprobs: null,
          finish_reason: finishReason,
        },
      ],
      usage: usageOf(generation),
      receipt: await this.service.receipt(this.request, generation, responseHash, this.payment.paymentId),
    };
  }

  streamed(): Response {
    const encoder = new TextEncoder();
    const events = this.events();
    const body = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const next = await events.next();
        if (next.done === true) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      },
      cancel: (reason) => {
        this.abort.abort(reason);
      },
    });
    return new Response(body, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" },
    });
  }

  private chunk(fields: Record<string, unknown>): string {
    const base = { id: this.id, object: "chat.completion.chunk", created: this.created, model: this.request.modelName };
    return `data: ${JSON.stringify({ ...base, ...fields })}\n\n`;
  }

  /** The server-sent events of the stream; a failure after the head becomes an `error` event. */
  private async *events(): AsyncGenerator<string, void, undefined> {
    let generation: Generation;
    let content = "";
    try {
      yield this.chunk({ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] });
      const iterator = this.chunks();
      let next = await iterator.next();
      for (; next.done !== true; next = await iterator.next()) {
        if (next.value.text.length === 0) continue;
        content += next.value.text;
        yield this.chunk({ choices: [{ index: 0, delta: { content: next.value.text }, finish_reason: null }] });
      }
      generation = next.value;
    } catch (error) {
      const aborted = error instanceof GenerationAbortedError;
      this.finish(aborted ? "aborted" : "failed");
      if (!aborted) yield errorEvent("the generation failed; nothing was charged");
      return;
    }
    try {
      const finishReason = FINISH[generation.finishReason];
      yield this.chunk({ choices: [{ index: 0, delta: {}, finish_reason: finishReason }] });
      if (this.request.includeUsage) yield this.chunk({ choices: [], usage: usageOf(generation) });
      const responseHash = chatResponseHash({ id: this.id, model: this.request.modelName, content, finishReason });
      const receipt = await this.service.receipt(this.request, generation, responseHash, this.payment.paymentId);
      this.finish("completed", generation.usage.completionTokens);
      yield this.chunk({ choices: [], receipt });
      yield "data: [DONE]\n\n";
    } catch {
      this.finish("failed");
      yield errorEvent("the receipt could not be signed; nothing was charged");
    }
  }
}

function usageOf(generation: Generation) {
  const { promptTokens, completionTokens, cachedTokens } = generation.usage;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
  };
}

function errorEvent(message: string): string {
  return `data: ${JSON.stringify({ error: { message, type: "server_error", param: null, code: null } })}\n\n`;
}

/* NODE HTTP */

/** Serves one node:http exchange with `api`: a body over `maxBodyBytes` is cut off and answered 413 at once. */
async function serveNode(api: ChatApi, maxBodyBytes: number, req: IncomingMessage, res: ServerResponse) {
  const closed = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) closed.abort(new InputError("the client closed the connection"));
  });
  const chunks: Buffer[] = [];
  let size = 0;
  if (req.method !== "GET" && req.method !== "HEAD") {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBodyBytes) {
        const error = new ApiError(413, `the request body exceeds ${maxBodyBytes} bytes: send a shorter conversation`);
        return send(res, error.response({ connection: "close" }), closed.signal);
      }
      chunks.push(chunk);
    }
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers))
    if (typeof value === "string") headers.set(name, value);
    else if (Array.isArray(value)) headers.set(name, value.join(", "));
  const request = new Request(new URL(req.url ?? "/", "http://chat.invalid"), {
    method: req.method,
    headers,
    ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
  });
  await send(res, await api.handle(request, closed.signal), closed.signal);
}

/** Writes `response` to `res`, streaming its body; cancels the body when the client goes away. */
async function send(res: ServerResponse, response: Response, closed: AbortSignal): Promise<void> {
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (response.body === null) return void res.end();
  const reader = response.body.getReader();
  const cancel = () => void reader.cancel(closed.reason).catch(() => undefined);
  closed.addEventListener("abort", cancel, { once: true });
  try {
    for (let next = await reader.read(); next.done !== true; next = await reader.read()) {
      if (closed.aborted) return;
      if (!res.write(next.value))
        await new Promise((resolve) => {
          res.once("drain", resolve);
          res.once("close", resolve);
        });
    }
    res.end();
  } catch {
    res.destroy();
  } finally {
    closed.removeEventListener("abort", cancel);
  }
}
