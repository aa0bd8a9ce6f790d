/**
 * The agents of the benchmark and their turns, driven with the SDK's agent runtime (sdk/agent `Agent`): each agent is
 * a persona (a system prompt, the bundled model, a few tokens per answer) whose turn is streamed over a transport —
 * direct to the nodes' chat APIs (sdk/agent `directTransport`) or private (sdk/agent `privateTransport`: relay →
 * gateway over chunked OHTTP, gateways, relays and keys read from the chain) — and kept only once its receipt checks
 * against the chain (sdk/agent `chainVerifier`). The runtime fails a turn over to another gateway once; each attempt
 * pays with a fresh credential (a payment id the client chose) at the route's operator.
 *
 * A node at its limit queues the request until a generation slot frees (node/chat-api `maxQueued`), and answers 429
 * only when its queue is full or the wait times out: when the runtime's two attempts both meet a busy (or failed)
 * node, the agent waits (exponential backoff from 25 ms, jittered, at most 1 s: the node's retry-after) and says the
 * same thing again, so 1,000 agents stay concurrent while the nodes serve as many as their limits allow; the waiting
 * counts in the turn's latency, measured from the agent's first try.
 */
import { keccak256, toUtf8Bytes } from "ethers";
import type { ReceiptFile } from "../../src/core/receipts";
import { VerificationError } from "../../src/core/errors";
import {
  Agent,
  AttemptError,
  chainVerifier,
  directTransport,
  privateTransport,
  type ChatRoute,
  type ChatTransport,
} from "../../src/sdk/agent";
import type { Network } from "./network";

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
  /** From the agent's first try to the first token of the answer it kept (or, without text, the end). */
  ttftMs: number;
  /** From the agent's first try to the checked receipt. */
  totalMs: number;
  completionTokens: number;
  /** Turns the agent started (more than one after busy or failed nodes). */
  tries: number;
  /** Attempts failed over to another gateway (by the runtime or by a new try). */
  failovers: number;
  /** Operators an attempt of this turn failed at. */
  failedAt: string[];
  /** The receipt of the kept answer, checked against the chain. */
  receipt?: ReceiptFile;
  /** The turn failed because a receipt did not check. */
  unverified?: boolean;
  error?: string;
}

export interface LoadOptions {
  network: Network;
  /** The first `nodes` operators serve. */
  nodes: number;
  path: PathKind;
  agents: number;
  maxTokens: number;
  /** The turn's time limit, waiting included. */
  turnTimeoutMs: number;
  /** A label that makes this run's payment ids its own. */
  run: string;
  /** Called whenever a turn ends (the failover run kills a node from here). */
  onTurnEnd?: (done: number) => void;
}

const transports = new Map<string, ChatTransport>();

/**
 * The transport over the first `nodes` operators of the network, one per node count and path for the whole bench
 * (as an agent keeps one), its reading of the chain made before the run starts: the listing does not change during
 * the bench, and a client's one-off chain reads are not the path's latency.
 */
async function transportOf(options: LoadOptions): Promise<ChatTransport> {
  const key = `${options.nodes}/${options.path}`;
  let transport = transports.get(key);
  if (transport === undefined) {
    transport = newTransport(options);
    transports.set(key, transport);
  }
  await transport.routes(options.network.model);
  return transport;
}

function newTransport(options: LoadOptions): ChatTransport {
  const operators = options.network.operators.slice(0, options.nodes);
  if (options.path === "direct")
    return directTransport(
      operators.map((op) => ({ url: op.node.chatUrl, operator: op.signer.address, enclave: op.enclave.address })),
    );
  const contracts = options.network.fx.system;
  const each = operators.map((op) =>
    privateTransport({ contracts, gateway: op.signer.address, timeoutMs: 60_000, cacheMs: 3_600_000 }),
  );
  return {
    routes: async (model, signal) =>
      gatewaysFirst((await Promise.all(each.map((t) => t.routes(model, signal)))).flat()),
  };
}

/** Random order, one route per gateway first (as privateTransport orders the routes of every listed gateway). */
function gatewaysFirst(routes: readonly ChatRoute[]): ChatRoute[] {
  const shuffled = routes.map((route) => ({ route, key: Math.random() }));
  shuffled.sort((a, b) => a.key - b.key);
  const seen = new Set<string>();
  const first: ChatRoute[] = [];
  const rest: ChatRoute[] = [];
  for (const { route } of shuffled) {
    if (seen.has(route.url)) rest.push(route);
    else {
      seen.add(route.url);
      first.push(route);
    }
  }
  return [...first, ...rest];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `agents` agents at once, one turn each; resolves with every turn. */
export async function runAgents(options: LoadOptions): Promise<Turn[]> {
  const transport = await transportOf(options);
  const verify = chainVerifier({ contracts: options.network.fx.system, settlement: options.network.settlement });
  let done = 0;
  return Promise.all(
    Array.from({ length: options.agents }, async (_, i) => {
      let paid = 0;
      const agent = new Agent({
        persona: {
          name: `agent-${i}`,
          system: PERSONAS[i % PERSONAS.length]!,
          model: options.network.model,
          sampling: { maxTokens: options.maxTokens, temperature: 0.8, seed: i },
          contextTokens: 128,
        },
        transport,
        verify,
        credentials: (route) =>
          Promise.resolve(keccak256(toUtf8Bytes(`${options.run}/${i}/${(paid += 1)}/${route.operator}`))),
        timeouts: { headTimeoutMs: 60_000, idleTimeoutMs: 30_000, totalTimeoutMs: 120_000 },
      });
      const turn = await runTurn(agent, i, PROMPTS[i % PROMPTS.length]!, options.turnTimeoutMs);
      done += 1;
      options.onTurnEnd?.(done);
      return turn;
    }),
  );
}

async function runTurn(agent: Agent, index: number, text: string, timeoutMs: number): Promise<Turn> {
  const start = performance.now();
  const deadline = start + timeoutMs;
  let tries = 0;
  let failovers = 0;
  let waits = 0;
  const failedAt: string[] = [];
  let error = "the turn timed out waiting for a node";
  let unverified = false;
  while (performance.now() < deadline) {
    tries += 1;
    let first: number | undefined;
    try {
      const signal = AbortSignal.timeout(Math.max(1, Math.floor(deadline - performance.now())));
      for await (const event of agent.stream(text, signal)) {
        if (event.type === "token") first ??= performance.now();
        else if (event.type === "failover") {
          first = undefined;
          failovers += 1;
          failedAt.push(event.from.operator);
        } else {
          const end = performance.now();
          return {
            agent: index,
            ok: true,
            ttftMs: (first ?? end) - start,
            totalMs: end - start,
            completionTokens: event.turn.completionTokens,
            tries,
            failovers,
            failedAt,
            receipt: event.turn.receipt,
          };
        }
      }
      error = "the turn ended without an answer";
      break;
    } catch (caught) {
      if (caught instanceof AttemptError && caught.failover) {
        // Both attempts met a busy or failed node: wait, then try again (the routes come in a new order).
        if (caught.context.status !== 429) failovers += 1;
        waits += 1;
        await sleep(Math.min(1_000, 25 * 2 ** Math.min(waits, 6)) * (0.5 + Math.random()));
        continue;
      }
      unverified = caught instanceof VerificationError;
      error = caught instanceof Error ? `${caught.name}: ${caught.message.split("\n")[0]}` : String(caught);
      break;
    }
  }
  const end = performance.now();
  return {
    agent: index,
    ok: false,
    ttftMs: end - start,
    totalMs: end - start,
    completionTokens: 0,
    tries,
    failovers,
    failedAt,
    unverified,
    error,
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
  tries: number;
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
    tries: turns.reduce((s, t) => s + t.tries, 0),
  };
}
