/**
 * Agents (issue #14 §5): a persona (name, system prompt, model version, sampling) with a memory (the conversation so
 * far) that chats through a {@link ChatTransport} — the private path in production (sdk/agent-transport
 * `privateTransport`) — and keeps a turn only once its receipt checks.
 *
 * A turn ({@link Agent.say}, or {@link Agent.stream} for its tokens as they come):
 *
 * 1. the request is the persona's system prompt, the newest turns of memory that fit the model's context
 *    ({@link memoryWindow}), and the new message, streamed (`stream: true`, usage included);
 * 2. it goes to the transport's first route with a payment credential, if the agent has a credential source;
 * 3. the receipt (the stream's last chunk) is checked ({@link chainVerifier}: both hashes recomputed from what was
 *    sent and received, the model version, the token counts, the enclave registered to the route's operator and, on
 *    the private path, the very enclave the chain lists for that gateway, its price);
 * 4. the turn and its receipt are appended to memory (and to the agent's store, when it has one).
 *
 * Failover: when an attempt fails in a way another gateway may not (connection refused, 429, 5xx, an error event,
 * the stream cut before its receipt, a timeout), the same turn is sent once more, on the next route whose gateway
 * differs (else whose relay differs). Tokens already streamed from the failed attempt are dropped (a `failover` event
 * says so); only the answer that was served and checked is kept, counted and stored.
 *
 * Credentials: one sent to a gateway that may have served it counts as spent and is never sent again — a timeout or a
 * cut stream cannot tell "not served" from "served, answer lost", and sending the same credential twice would also
 * link the two requests. It is reused only when the request certainly did not spend it: the connection was refused
 * (nothing was sent), or the gateway's own answer refused the request (an error status other than 402, or an error
 * event: the chat API refunds every request it does not complete). Reused on the retry when the retry goes to the same
 * operator; otherwise handed back through `onUnspent` (a wallet puts it back). A credential refused with 402 is
 * dropped.
 *
 * Memory truncation rule ({@link memoryWindow}): a message's size is estimated as ceil(UTF-8 bytes / 3) + 4 tokens;
 * the system prompt and the new message are always sent; then whole turns, newest first, while the estimate stays
 * within `contextTokens − maxTokens` (room for a full answer). Older turns stay in memory, they are only not sent.
 * If the node still finds the prompt longer than its context (400), the oldest turn sent is dropped and the turn
 * resent (the node refunds a refused request), until only the new message is left.
 */
import type { Contracts } from "../core/contracts";
import { BaseError, InputError, NotFoundError, VerificationError } from "../core/errors";
import { withTimeout, type RetryOptions } from "../core/retry";
import type { ReceiptFile } from "../core/receipts";
import type { ReceiptSettlement } from "../../typechain-types/contracts/chat/ReceiptSettlement";
import type { AgentTurn, Persona } from "./agent-memory";
import {
  AttemptError,
  parseModelName,
  streamCompletion,
  type ChatRoute,
  type ChatTransport,
  type StreamCompletionOptions,
} from "./agent-transport";
import { readChatResponse, verifyChatReceipt, type ChatCompletionChunkLike } from "./chat";

export * from "./agent-memory";
export * from "./agent-transport";

/** Most tokens of one answer when the persona does not say. */
export const DEFAULT_MAX_TOKENS = 128;
/** The context assumed when the persona does not give one. */
export const DEFAULT_CONTEXT_TOKENS = 2048;

/** A chat message as sent. */
export interface AgentMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** Checks the receipt of a streamed answer to `request` over `route` and returns it. @throws VerificationError */
export type ReceiptVerifier = (params: {
  request: object;
  chunks: readonly ChatCompletionChunkLike[];
  route: ChatRoute;
}) => Promise<ReceiptFile>;

/** Gives the credential for a request over `route` (undefined: send none). */
export type CredentialSource = (route: ChatRoute) => Promise<string | undefined>;

export interface AgentOptions {
  persona: Persona;
  transport: ChatTransport;
  verify: ReceiptVerifier;
  /** Payment credentials (`vin-payment`), one per request. Without it, requests carry none. */
  credentials?: CredentialSource;
  /** Receives a credential that was taken but certainly not spent and is not reused (see the module's header). */
  onUnspent?: (credential: string, route: ChatRoute) => void;
  /** The conversation so far (e.g. an `AgentMemoryStore`'s `read()`). */
  turns?: readonly AgentTurn[];
  /** Where each checked turn is appended (e.g. an `AgentMemoryStore`). */
  store?: { append(turn: AgentTurn): unknown };
  /** Time limits of each attempt (head, silence between chunks, whole answer) and of taking a credential. */
  timeouts?: Pick<StreamCompletionOptions, "headTimeoutMs" | "idleTimeoutMs" | "totalTimeoutMs"> & {
    /** Default 30 s. */
    credentialTimeoutMs?: number;
  };
}

/** What {@link Agent.stream} yields. */
export type AgentEvent =
  | { type: "token"; text: string }
  /** The attempt failed after `tokens` were yielded: they are void; the turn is sent again over `to`. */
  | { type: "failover"; error: BaseError; from: ChatRoute; to: ChatRoute; discarded: string }
  | { type: "turn"; turn: AgentTurn };

/** Counters over an agent's life (in this process). */
export interface AgentStats {
  turns: number;
  receiptsVerified: number;
  failovers: number;
  promptTokens: number;
  completionTokens: number;
  /** Time to first token of each turn, in ms. */
  ttftMs: number[];
  totalMs: number[];
  /** Credentials sent, and how many of them may have been spent without a kept answer. */
  credentialsSent: number;
  credentialsLost: number;
}

/**
 * An agent: persona, memory and transport.
 * @example
 * const agent = new Agent({ persona, transport: privateTransport({ contracts }), verify: chainVerifier({ contracts, settlement }) });
 * const turn = await agent.say("Call me Ishmael.");
 * console.log(turn.assistant, turn.receipt.receipt.paymentId);
 */
export class Agent {
  readonly persona: Persona;
  private readonly memory: AgentTurn[];
  readonly stats: AgentStats = {
    turns: 0,
    receiptsVerified: 0,
    failovers: 0,
    promptTokens: 0,
    completionTokens: 0,
    ttftMs: [],
    totalMs: [],
    credentialsSent: 0,
    credentialsLost: 0,
  };

  constructor(private readonly options: AgentOptions) {
    parseModelName(options.persona.model);
    this.persona = options.persona;
    this.memory = [...(options.turns ?? [])];
  }

  /** The conversation so far, oldest first. */
  get turns(): readonly AgentTurn[] {
    return this.memory;
  }

  /**
   * One turn: sends `text`, waits for the whole answer, checks its receipt, remembers it.
   * @throws InputError for an empty message or a request the node refuses; VerificationError when the receipt does
   * not check (the turn is not kept); AttemptError when both attempts failed.
   */
  async say(text: string, signal?: AbortSignal): Promise<AgentTurn> {
    for await (const event of this.stream(text, signal)) if (event.type === "turn") return event.turn;
    throw new InputError("the turn ended without an answer");
  }

  /** {@link say}, yielding the answer's tokens as they arrive, a `failover` event if one happens, then the turn. */
  async *stream(text: string, signal?: AbortSignal): AsyncGenerator<AgentEvent, AgentTurn, undefined> {
    if (text.trim() === "") throw new InputError("the message is empty");
    const routes = await this.options.transport.routes(this.persona.model, signal);
    if (routes.length === 0) throw new NotFoundError(`no route serves model ${this.persona.model}`);
    let route = routes[0]!;
    let dropped = 0;
    let credential = await this.credentialFor(route, signal);
    const started = performance.now();
    for (let attempt = 1; ;) {
      const request = this.request(memoryWindow(this.persona, this.memory, text, dropped));
      const chunks: ChatCompletionChunkLike[] = [];
      let streamed = "";
      let ttft: number | undefined;
      if (credential !== undefined) this.stats.credentialsSent += 1;
      try {
        for await (const chunk of streamCompletion(route, request, this.attemptOptions(credential, signal))) {
          chunks.push(chunk);
          const token = chunk.choices[0]?.delta?.content ?? "";
          if (token === "") continue;
          ttft ??= performance.now() - started;
          streamed += token;
          yield { type: "token", text: token };
        }
      } catch (error) {
        if (!(error instanceof AttemptError) || signal?.aborted === true) throw error;
        const unspent = error.spent !== "maybe" && credential !== undefined;
        if (credential !== undefined && !unspent) this.stats.credentialsLost += 1;
        if (tooLong(error) && this.windowTurns(text, dropped) > 0) {
          dropped += 1; // the node refunded the refused request: the credential is resent
          if (credential !== undefined) this.stats.credentialsSent -= 1;
          continue;
        }
        const next = error.failover && attempt < 2 ? nextRoute(routes, route) : undefined;
        if (next === undefined) {
          if (unspent) this.options.onUnspent?.(credential!, route);
          throw error;
        }
        if (unspent && sameOperator(next, route)) this.stats.credentialsSent -= 1;
        else {
          if (unspent) this.options.onUnspent?.(credential!, route);
          credential = await this.credentialFor(next, signal);
        }
        this.stats.failovers += 1;
        yield { type: "failover", error, from: route, to: next, discarded: streamed };
        route = next;
        attempt += 1;
        continue;
      }
      const receipt = await this.check(request, chunks, route, credential);
      const { summary, usage } = readChatResponse({ chunks });
      const turn: AgentTurn = {
        user: text,
        assistant: summary.content,
        finishReason: summary.finishReason,
        receipt,
        operator: receipt.receipt.operator,
        gateway: route.url,
        ...(route.relay === undefined ? {} : { relay: route.relay }),
        promptTokens: Number(usage?.prompt_tokens ?? receipt.receipt.promptTokens),
        completionTokens: Number(usage?.completion_tokens ?? receipt.receipt.completionTokens),
        ttftMs: Math.round(ttft ?? performance.now() - started),
        totalMs: Math.round(performance.now() - started),
        attempts: attempt,
        at: new Date().toISOString(),
      };
      this.remember(turn);
      yield { type: "turn", turn };
      return turn;
    }
  }

  /** A credential from the source, under `timeouts.credentialTimeoutMs` (the source may buy one over the network). */
  private credentialFor(route: ChatRoute, signal: AbortSignal | undefined): Promise<string | undefined> {
    const source = this.options.credentials;
    if (source === undefined) return Promise.resolve(undefined);
    const ms = this.options.timeouts?.credentialTimeoutMs ?? 30_000;
    return withTimeout(`a payment credential for ${route.operator}`, ms, () => source(route), signal);
  }

  private async check(
    request: object,
    chunks: ChatCompletionChunkLike[],
    route: ChatRoute,
    credential: string | undefined,
  ): Promise<ReceiptFile> {
    try {
      return await this.options.verify({ request, chunks, route });
    } catch (error) {
      if (credential !== undefined) this.stats.credentialsLost += 1;
      throw error;
    }
  }

  private remember(turn: AgentTurn): void {
    this.options.store?.append(turn);
    this.memory.push(turn);
    const s = this.stats;
    s.turns += 1;
    s.receiptsVerified += 1;
    s.promptTokens += turn.promptTokens;
    s.completionTokens += turn.completionTokens;
    s.ttftMs.push(turn.ttftMs);
    s.totalMs.push(turn.totalMs);
  }

  private windowTurns(text: string, dropped: number): number {
    return (memoryWindow(this.persona, this.memory, text, dropped).length - 2) / 2;
  }

  private attemptOptions(credential: string | undefined, signal: AbortSignal | undefined): StreamCompletionOptions {
    return {
      ...this.options.timeouts,
      ...(credential === undefined ? {} : { credential }),
      ...(signal === undefined ? {} : { signal }),
    };
  }

  /** The completion request of a window. */
  private request(messages: AgentMessage[]): object {
    const s = this.persona.sampling ?? {};
    return {
      model: this.persona.model,
      messages,
      max_tokens: s.maxTokens ?? DEFAULT_MAX_TOKENS,
      ...(s.temperature === undefined ? {} : { temperature: s.temperature }),
      ...(s.topP === undefined ? {} : { top_p: s.topP }),
      ...(s.seed === undefined ? {} : { seed: s.seed }),
      ...(s.stop === undefined || s.stop.length === 0 ? {} : { stop: s.stop }),
      stream: true,
      stream_options: { include_usage: true },
    };
  }
}

/** Estimated tokens of one message: ceil(UTF-8 bytes / 3) + 4 (the template's role markers). */
export function estimateTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, "utf8") / 3) + 4;
}

/**
 * The messages of a turn: the system prompt, the newest whole turns of `turns` whose estimated size
 * ({@link estimateTokens}) fits `contextTokens − maxTokens` with the system prompt and `text`, less the `dropOldest`
 * oldest of those, then `text`.
 * @example memoryWindow(persona, agent.turns, "And then?") // [{ role: "system", ... }, ..., { role: "user", content: "And then?" }]
 */
export function memoryWindow(
  persona: Persona,
  turns: readonly AgentTurn[],
  text: string,
  dropOldest = 0,
): AgentMessage[] {
  const budget =
    (persona.contextTokens ?? DEFAULT_CONTEXT_TOKENS) - (persona.sampling?.maxTokens ?? DEFAULT_MAX_TOKENS);
  let used = estimateTokens(persona.system) + estimateTokens(text);
  let kept = 0;
  for (let i = turns.length - 1; i >= 0; i -= 1) {
    const cost = estimateTokens(turns[i]!.user) + estimateTokens(turns[i]!.assistant);
    if (used + cost > budget) break;
    used += cost;
    kept += 1;
  }
  const window = turns.slice(turns.length - Math.max(0, kept - dropOldest));
  return [
    { role: "system", content: persona.system },
    ...window.flatMap((turn): AgentMessage[] => [
      { role: "user", content: turn.user },
      { role: "assistant", content: turn.assistant },
    ]),
    { role: "user", content: text },
  ];
}

/** The route to fail over to: the first with another gateway, else the first with another relay. */
function nextRoute(routes: readonly ChatRoute[], failed: ChatRoute): ChatRoute | undefined {
  return (
    routes.find((r) => r.url !== failed.url) ??
    routes.find((r) => r.relay !== undefined && r.relay !== failed.relay && r.url === failed.url)
  );
}

function sameOperator(a: ChatRoute, b: ChatRoute): boolean {
  return a.operator.toLowerCase() === b.operator.toLowerCase();
}

function tooLong(error: AttemptError): boolean {
  return error.context.status === 400 && /context holds/.test(error.shortMessage);
}

export interface ChainVerifierOptions {
  contracts: Pick<Contracts, "teeVerifier" | "registry" | "escrow">;
  settlement: ReceiptSettlement;
  retry?: RetryOptions;
}

/**
 * The receipt check of sdk/chat `verifyChatReceipt` against the chain, with the route's operator as the one the
 * client meant to pay and, when the route names one, its enclave as the signer.
 * @example const verify = chainVerifier({ contracts, settlement: requireReceiptSettlement(contracts) });
 */
export function chainVerifier(options: ChainVerifierOptions): ReceiptVerifier {
  return async ({ request, chunks, route }) => {
    const checked = await verifyChatReceipt({
      contracts: options.contracts,
      settlement: options.settlement,
      request,
      response: { chunks },
      operator: route.operator,
      ...(options.retry === undefined ? {} : { retry: options.retry }),
    });
    if (route.enclave !== undefined && checked.enclave.toLowerCase() !== route.enclave.toLowerCase())
      throw new VerificationError(
        `the chat receipt does not check: it is signed by enclave ${checked.enclave}, not by ${route.enclave}, the one the chain lists for gateway ${route.url}`,
      );
    return checked.receipt;
  };
}
