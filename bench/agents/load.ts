/**
 * The agents of the benchmark and their turns. An agent is a persona (system prompt), a home node and a relay; a
 * turn is one streamed chat completion through the OpenAI client, direct to
 * the node's chat API or private (sdk/chat `privateChatFetch`: relay → gateway, chunked OHTTP, encrypted to the key
 * the chain lists). Each turn pays with a credential naming the payment id it chose for that turn at that operator.
 *
 * A node at its limit answers 429: the agent waits (exponential backoff from 25 ms, jittered, at most 1 s: the
 * node's retry-after) and asks again, so 1,000 agents stay concurrent while the nodes serve as many as their limits
 * allow; their waiting counts in the turn's latency. A node that fails (connection refused or reset, a stream cut
 * before its receipt, a 5xx or a refused payment) is left for the next node: failover.
 */
import OpenAI from "openai";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { keccak256, toUtf8Bytes } from "ethers";
import { PAYMENT_HEADER } from "../../src/node/chat-api";
import { privateChatFetch } from "../../src/sdk/chat";
import type { Operator } from "./network";

export type PathKind = "direct" | "private";

const PERSONAS = [
  "You are Ishmael, a sailor who tells of the sea.",
  "You are Queequeg, a harpooneer of few words.",
  "You are Starbuck, the careful first mate.",
  "You are Stubb, the cheerful second mate.",
  "You are Ahab, the captain who hunts the whale.",
];
const PROMPTS = ["Call me Ishmael.", "What of the whale?", "Tell me of the ship.", "Where do we sail?"];

/** One agent's turn as measured. */
export interface Turn {
  agent: number;
  ok: boolean;
  /** From the start of the turn to the first chunk with text (or, without text, the end). */
  ttftMs: number;
  totalMs: number;
  completionTokens: number;
  attempts: number;
  /** Nodes left for another after a failure. */
  failovers: number;
  /** The node that answered, if any. */
  node?: number;
  request: Record<string, unknown>;
  chunks?: ChatCompletionChunk[];
  /** The receipt file the answer carried (its JSON). */
  receipt?: unknown;
  error?: string;
}

export interface LoadOptions {
  operators: readonly Operator[];
  path: PathKind;
  model: string;
  agents: number;
  maxTokens: number;
  /** The turn's time limit, waiting included. */
  turnTimeoutMs: number;
  /** A label that makes this run's payment ids its own. */
  run: string;
  /** Called whenever a turn ends (the failover run kills a node from here). */
  onTurnEnd?: (done: number) => void;
  /** Attempts in flight per node, kept up to date here (the failover run kills a busy node). */
  inFlight?: number[];
}

/** One OpenAI client per node and relay (the clients keep no per-agent state). */
function clientsOf(operators: readonly Operator[], path: PathKind): OpenAI[][] {
  return operators.map((op) =>
    path === "direct"
      ? [new OpenAI({ baseURL: op.node.chatUrl, apiKey: "unused", maxRetries: 0 })]
      : op.relays.map(
          (relay) =>
            new OpenAI({
              baseURL: `${op.gatewayUrl}v1`,
              apiKey: "unused",
              maxRetries: 0,
              fetch: privateChatFetch({ relay, gateway: op.gatewayUrl, keyConfig: op.keyConfig, timeoutMs: 120_000 }),
            }),
        ),
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `agents` agents at once, one turn each; resolves with every turn. */
export async function runAgents(options: LoadOptions): Promise<Turn[]> {
  const clients = clientsOf(options.operators, options.path);
  let done = 0;
  return Promise.all(
    Array.from({ length: options.agents }, async (_, agent) => {
      const turn = await runTurn(options, clients, agent);
      done += 1;
      options.onTurnEnd?.(done);
      return turn;
    }),
  );
}

async function runTurn(options: LoadOptions, clients: OpenAI[][], agent: number): Promise<Turn> {
  const n = options.operators.length;
  const request = {
    model: options.model,
    messages: [
      { role: "system" as const, content: PERSONAS[agent % PERSONAS.length]! },
      { role: "user" as const, content: PROMPTS[agent % PROMPTS.length]! },
    ],
    max_tokens: options.maxTokens,
    temperature: 0.8,
    seed: agent,
    stream: true as const,
    stream_options: { include_usage: true },
  };
  const start = performance.now();
  const deadline = start + options.turnTimeoutMs;
  let node = agent % n;
  let attempts = 0;
  let failovers = 0;
  let waits = 0;
  let error = "";
  while (performance.now() < deadline && failovers < 2 * n) {
    attempts += 1;
    const operator = options.operators[node]!;
    const pool = clients[node]!;
    const client = pool[agent % pool.length]!;
    const credential = keccak256(toUtf8Bytes(`${options.run}/${agent}/${operator.signer.address}`));
    if (options.inFlight !== undefined) options.inFlight[node] = (options.inFlight[node] ?? 0) + 1;
    const attemptNode = node;
    try {
      const stream = await client.chat.completions.create(request, {
        headers: { [PAYMENT_HEADER]: credential },
        signal: AbortSignal.timeout(Math.max(1, Math.floor(deadline - performance.now()))),
      });
      const chunks: ChatCompletionChunk[] = [];
      let first: number | undefined;
      for await (const chunk of stream) {
        chunks.push(chunk);
        if (first === undefined && (chunk.choices[0]?.delta?.content ?? "").length > 0) first = performance.now();
      }
      const end = performance.now();
      const carrier = chunks.find((c) => (c as { receipt?: unknown }).receipt !== undefined);
      if (carrier === undefined) throw new Error("the stream ended without a receipt");
      const usage = chunks.find((c) => c.usage !== undefined && c.usage !== null)?.usage;
      return {
        agent,
        ok: true,
        ttftMs: (first ?? end) - start,
        totalMs: end - start,
        completionTokens: usage?.completion_tokens ?? 0,
        attempts,
        failovers,
        node,
        request,
        chunks,
        receipt: (carrier as { receipt?: unknown }).receipt,
      };
    } catch (caught) {
      if (caught instanceof OpenAI.RateLimitError) {
        waits += 1;
        await sleep(Math.min(1_000, 25 * 2 ** Math.min(waits, 6)) * (0.5 + Math.random()));
        continue;
      }
      error = caught instanceof Error ? `${caught.name}: ${caught.message.split("\n")[0]}` : String(caught);
      failovers += 1;
      node = (node + 1) % n;
    } finally {
      if (options.inFlight !== undefined) options.inFlight[attemptNode] = options.inFlight[attemptNode]! - 1;
    }
  }
  const end = performance.now();
  return {
    agent,
    ok: false,
    ttftMs: end - start,
    totalMs: end - start,
    completionTokens: 0,
    attempts,
    failovers,
    request,
    error: error || "the turn timed out waiting for a node",
  };
}

/** The p-th percentile (nearest rank) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The figures of a set of turns. */
export interface LoadFigures {
  agents: number;
  ok: number;
  successRate: number;
  errorRate: number;
  ttftP50Ms: number;
  ttftP99Ms: number;
  totalP50Ms: number;
  totalP99Ms: number;
  /** Completion tokens of the successful turns over the run's wall time. */
  tokensPerSecond: number;
  wallMs: number;
  failovers: number;
  attempts: number;
}

export function figuresOf(turns: readonly Turn[], wallMs: number): LoadFigures {
  const ok = turns.filter((t) => t.ok);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    agents: turns.length,
    ok: ok.length,
    successRate: ok.length / turns.length,
    errorRate: 1 - ok.length / turns.length,
    ttftP50Ms: round(
      percentile(
        ok.map((t) => t.ttftMs),
        50,
      ),
    ),
    ttftP99Ms: round(
      percentile(
        ok.map((t) => t.ttftMs),
        99,
      ),
    ),
    totalP50Ms: round(
      percentile(
        ok.map((t) => t.totalMs),
        50,
      ),
    ),
    totalP99Ms: round(
      percentile(
        ok.map((t) => t.totalMs),
        99,
      ),
    ),
    tokensPerSecond: round(ok.reduce((s, t) => s + t.completionTokens, 0) / (wallMs / 1000)),
    wallMs: Math.round(wallMs),
    failovers: turns.reduce((s, t) => s + t.failovers, 0),
    attempts: turns.reduce((s, t) => s + t.attempts, 0),
  };
}
