/**
 * How an agent reaches a chat API (issue #14 §5): a {@link ChatTransport} offers routes (a gateway, the relay in front
 * of it, and the `fetch` that goes that way), and {@link streamCompletion} sends one streamed completion over a route,
 * every step under a time limit, and says, when it fails, whether the payment credential it carried may have been
 * spent ({@link AttemptError}).
 *
 * - {@link privateTransport}: the private path. Gateways and relays from `PrivacyRegistry`, each gateway's enclave
 *   checked (registered to its operator, unrevoked, unexpired, its measurement bound by the model version) and its
 *   HPKE key configuration read from the chain; requests through a relay not run by the gateway's operator, over
 *   chunked OHTTP (sdk/chat `privateChatFetch`). What the chain says is cached for `cacheMs`.
 * - {@link directTransport}: chat APIs reached directly, for development and for measuring what the private path adds.
 */
import { getAddress } from "ethers";
import type { Contracts } from "../core/contracts";
import { BaseError, InputError, NotFoundError, TimeoutError, walk } from "../core/errors";
import { isTransportError, withTimeout, type RetryOptions } from "../core/retry";
import { privateServingRefusal, readEnclave } from "../modes";
import { privateChatFetch, type ChatCompletionChunkLike } from "./chat";
import { gatewayKeyConfig, independentRelays, listGateways, listRelays } from "./privateInference";
import { PAYMENT_HEADER } from "../core/chat";

export { PAYMENT_HEADER };

/** A `fetch` (the global one, or one that goes through a relay). */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** One way to a chat API. */
export interface ChatRoute {
  /** The operator whose enclave serves there: the receipt must name it. */
  operator: string;
  /** The enclave the chain lists for the gateway, when known: the receipt must be signed by it. */
  enclave?: string;
  /** The OpenAI base URL (ending in `/v1`). */
  url: string;
  /** The relay's URL, on the private path. */
  relay?: string;
  fetch: FetchLike;
}

/** Where an agent's turns can go. */
export interface ChatTransport {
  /**
   * The routes that may serve `model` (`"<modelId>@<version>"`), in the order to try them. A transport spreading
   * load returns them in a different order each call.
   * @throws NotFoundError when none may.
   */
  routes(model: string, signal?: AbortSignal): Promise<ChatRoute[]>;
}

/** Whether the credential a failed attempt carried may have been spent. */
export type Spent =
  /** The request never reached the gateway (the connection was refused). */
  | "unsent"
  /** The gateway's own answer said it did not serve (an error status or error event): the chat API refunds those. */
  | "refunded"
  /** Anything else: a timeout, a cut stream, a reset, a relay's error. It may have been served and redeemed. */
  | "maybe";

/** A failed attempt: why, whether another gateway may be tried, and whether its credential may have been spent. */
export class AttemptError extends BaseError {
  override readonly name = "AttemptError";
  constructor(
    message: string,
    readonly spent: Spent,
    readonly failover: boolean,
    options: { cause?: unknown; status?: number } = {},
  ) {
    super(message, {
      ...(options.cause === undefined ? {} : { cause: options.cause }),
      context: { spent, failover, ...(options.status === undefined ? {} : { status: options.status }) },
    });
  }
}

export interface StreamCompletionOptions {
  /** The `vin-payment` credential to send. */
  credential?: string;
  /** Time until the response head, in ms. Default 30 s. */
  headTimeoutMs?: number;
  /** Longest silence between two chunks, in ms. Default 30 s. */
  idleTimeoutMs?: number;
  /** Time limit of the whole answer, in ms. Default 120 s. */
  totalTimeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Sends `body` (a chat completion request with `stream: true`) over `route` and yields the answer's chunks as they
 * arrive (the receipt's chunk last); returns when `[DONE]` arrives.
 * @throws AttemptError: `spent` says whether the credential may have been spent, `failover` whether another gateway
 * may be tried (connection refused, 429, 5xx, an error event, a stream cut before `[DONE]`, a timeout); a 4xx other
 * than 429 is not failed over (the request itself is refused) and its status is in `context.status`.
 * @example for await (const chunk of streamCompletion(route, { ...body, stream: true })) process.stdout.write(chunk.choices[0]?.delta?.content ?? "");
 */
export async function* streamCompletion(
  route: ChatRoute,
  body: object,
  options: StreamCompletionOptions = {},
): AsyncGenerator<ChatCompletionChunkLike, void, undefined> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const totalMs = options.totalTimeoutMs ?? 120_000;
  const total = setTimeout(
    () => controller.abort(new TimeoutError(`the answer from ${route.url} took over ${totalMs} ms`)),
    totalMs,
  );
  try {
    const response = await head(route, body, options, controller.signal);
    yield* chunksOf(route, response, options.idleTimeoutMs ?? 30_000, controller);
  } finally {
    clearTimeout(total);
    options.signal?.removeEventListener("abort", onAbort);
    controller.abort();
  }
}

async function head(route: ChatRoute, body: object, options: StreamCompletionOptions, signal: AbortSignal) {
  const headers: Record<string, string> = { "content-type": "application/json", accept: "text/event-stream" };
  if (options.credential !== undefined) headers[PAYMENT_HEADER] = options.credential;
  let response: Response;
  try {
    response = await withTimeout(
      `POST ${route.url}/chat/completions`,
      options.headTimeoutMs ?? 30_000,
      (inner) =>
        route.fetch(`${route.url}/chat/completions`, {
          method: "POST",
          headers,
          body: JSON.stringify(body),
          // The head's time limit, and, for the whole body, the stream's own (total time, caller's signal, early end).
          signal: AbortSignal.any([inner, signal]),
        }),
      signal,
    );
  } catch (error) {
    const refused = walk(error, (e) => (e as { code?: unknown } | null)?.code === "ECONNREFUSED") !== undefined;
    const network = refused || isTransportError(error) || error instanceof TimeoutError;
    throw new AttemptError(
      `${route.url}${route.relay === undefined ? "" : ` (relay ${route.relay})`} did not answer: ${messageOf(error)}`,
      refused ? "unsent" : "maybe",
      network || error instanceof BaseError,
      { cause: error },
    );
  }
  if (!response.ok) throw await refusal(route, response);
  return response;
}

/** The error of an answer with an error status: the chat API's own (OpenAI-style) or a proxy's. */
async function refusal(route: ChatRoute, response: Response): Promise<AttemptError> {
  const text = await response.text().catch(() => "");
  let error: { message?: unknown } | undefined;
  try {
    error = (JSON.parse(text) as { error?: { message?: unknown } }).error;
  } catch {
    error = undefined;
  }
  const own = typeof error?.message === "string";
  const said = own ? String(error!.message) : text.slice(0, 200) || `status ${response.status}`;
  const { status } = response;
  const message = `${route.url} answered ${status}: ${said}`;
  // The chat API refunds every request it does not complete; a 402 refused the credential itself (spent or foreign).
  const spent: Spent = status === 402 || !own ? "maybe" : "refunded";
  return new AttemptError(message, spent, status === 429 || status >= 500, { status });
}

async function* chunksOf(
  route: ChatRoute,
  response: Response,
  idleTimeoutMs: number,
  controller: AbortController,
): AsyncGenerator<ChatCompletionChunkLike, void, undefined> {
  if (response.body === null) throw new AttemptError(`${route.url} answered without a body`, "maybe", true);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const cut = (why: string, cause?: unknown) =>
    new AttemptError(`the stream from ${route.url} was cut before its receipt: ${why}`, "maybe", true, { cause });
  for (;;) {
    let next: Awaited<ReturnType<typeof reader.read>>;
    try {
      next = await withTimeout(
        `the next chunk from ${route.url}`,
        idleTimeoutMs,
        () => reader.read(),
        controller.signal,
      );
    } catch (error) {
      void reader.cancel().catch(() => undefined);
      throw cut(messageOf(error), error);
    }
    if (next.done === true) throw cut("the connection closed");
    buffer += next.value;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (data === "") continue;
      if (data === "[DONE]") return void reader.cancel().catch(() => undefined);
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch (cause) {
        throw cut("an event is not JSON", cause);
      }
      const error = (parsed as { error?: { message?: unknown } }).error;
      if (error !== undefined)
        throw new AttemptError(`${route.url} failed mid-answer: ${String(error.message)}`, "refunded", true);
      yield parsed as ChatCompletionChunkLike;
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof BaseError ? error.shortMessage : error instanceof Error ? error.message : String(error);
}

/* TRANSPORTS */

/** A chat API reached directly: its OpenAI base URL and the operator whose receipts it gives. */
export interface DirectEndpoint {
  url: string;
  operator: string;
  enclave?: string;
  /** Default the global fetch. */
  fetch?: FetchLike;
}

/**
 * Routes straight to chat APIs (no relay), rotated so that successive turns spread over them.
 * @example const transport = directTransport([{ url: running.url, operator }]);
 */
export function directTransport(endpoints: readonly DirectEndpoint[]): ChatTransport {
  if (endpoints.length === 0) throw new InputError("a direct transport needs at least one chat API");
  let next = 0;
  const routes = endpoints.map((endpoint) => ({
    operator: getAddress(endpoint.operator),
    ...(endpoint.enclave === undefined ? {} : { enclave: getAddress(endpoint.enclave) }),
    url: endpoint.url.replace(/\/+$/, ""),
    fetch: endpoint.fetch ?? ((input, init) => fetch(input, init)),
  }));
  return {
    routes: () => {
      const start = next++ % routes.length;
      return Promise.resolve([...routes.slice(start), ...routes.slice(0, start)]);
    },
  };
}

export interface PrivateTransportOptions {
  contracts: Pick<Contracts, "privacyRegistry" | "teeVerifier" | "registry" | "escrow">;
  /** Only this operator's gateway. */
  gateway?: string;
  /** Only the relay listed by this account. */
  relay?: string;
  /** How long what the chain says (gateways, relays, enclaves, keys) is reused, in ms. Default 30 s. */
  cacheMs?: number;
  /** Time limit of each chain read. Default 10 s. */
  rpcTimeoutMs?: number;
  /** Time until each response's head through the relay, in ms. Default 30 s. */
  timeoutMs?: number;
}

/**
 * Routes over the private path, read from the chain: every gateway whose enclave may serve the model, each behind
 * relays independent of its operator. The order is random per call (load spreads over gateways), gateways first:
 * the first route of each gateway comes before the second route of any, so a failover goes to another gateway when
 * there is one, else to another relay.
 * @example const agent = new Agent({ persona, transport: privateTransport({ contracts }), verify });
 */
export function privateTransport(options: PrivateTransportOptions): ChatTransport {
  const retry: RetryOptions = { timeoutMs: options.rpcTimeoutMs ?? 10_000 };
  const cacheMs = options.cacheMs ?? 30_000;
  const cache = new Map<string, { at: number; routes: Promise<ChatRoute[]> }>();
  const load = async (model: string): Promise<ChatRoute[]> => {
    const { modelId, version } = parseModelName(model);
    const { contracts } = options;
    let gateways = await listGateways(contracts, retry);
    if (options.gateway !== undefined)
      gateways = gateways.filter((g) => g.operator.toLowerCase() === options.gateway!.toLowerCase());
    const relays = await listRelays(contracts, retry);
    const refusals: string[] = [];
    const perGateway: ChatRoute[][] = [];
    for (const gateway of gateways) {
      const reading = await readEnclave(contracts, gateway.enclave, retry);
      const refusal = await privateServingRefusal(
        contracts,
        gateway.enclave,
        reading,
        gateway.operator,
        { modelId, version },
        retry,
      );
      if (refusal !== undefined) {
        refusals.push(`${gateway.operator}: ${refusal}`);
        continue;
      }
      let usable = independentRelays(relays, gateway);
      if (options.relay !== undefined)
        usable = usable.filter((r) => r.address.toLowerCase() === options.relay!.toLowerCase());
      if (usable.length === 0) {
        refusals.push(`${gateway.operator}: no relay independent of it is listed`);
        continue;
      }
      const keyConfig = await gatewayKeyConfig(contracts, gateway.enclave, retry);
      const base = gateway.url.endsWith("/") ? gateway.url : `${gateway.url}/`;
      perGateway.push(
        usable.map((relay) => ({
          operator: gateway.operator,
          enclave: gateway.enclave,
          url: `${base}v1`,
          relay: relay.url,
          fetch: privateChatFetch({
            relay: relay.url,
            gateway: base,
            keyConfig,
            timeoutMs: options.timeoutMs ?? 30_000,
          }),
        })),
      );
    }
    if (perGateway.length === 0)
      throw new NotFoundError(
        `no listed gateway may serve model ${model} over the private path${refusals.length === 0 ? "" : ` (${refusals.join("; ")})`}`,
      );
    return perGateway.flat();
  };
  return {
    routes: async (model) => {
      const hit = cache.get(model);
      if (hit === undefined || Date.now() - hit.at > cacheMs) cache.set(model, { at: Date.now(), routes: load(model) });
      const entry = cache.get(model)!;
      let routes: ChatRoute[];
      try {
        routes = await entry.routes;
      } catch (error) {
        if (cache.get(model) === entry) cache.delete(model);
        throw error;
      }
      return spread(routes);
    },
  };
}

/** Random order, gateways first: one route per gateway (shuffled), then the rest (shuffled). */
function spread(routes: readonly ChatRoute[]): ChatRoute[] {
  const shuffled = shuffle(routes);
  const seen = new Set<string>();
  const first: ChatRoute[] = [];
  const rest: ChatRoute[] = [];
  for (const route of shuffled) {
    if (seen.has(route.url)) rest.push(route);
    else {
      seen.add(route.url);
      first.push(route);
    }
  }
  return [...first, ...rest];
}

function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** `"<modelId>@<version>"` as numbers. @throws InputError */
export function parseModelName(model: string): { modelId: bigint; version: bigint } {
  const match = /^(\d{1,19})@(\d{1,10})$/.exec(model);
  if (match === null) throw new InputError(`model "${model}" must be <modelId>@<version>, e.g. 1@1`);
  return { modelId: BigInt(match[1]!), version: BigInt(match[2]!) };
}
