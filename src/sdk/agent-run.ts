/**
 * Several agents at once (what `vin agent run` and `npm start`'s agents do): every agent its turns in sequence, all
 * agents concurrently, each turn kept only once its receipt checks (sdk/agent); and paying them from a credit wallet
 * (sdk/credit), one token per request, an unspent one put back.
 */
import { BaseError, InputError, firstLine } from "../core/errors";
import { Agent, type AgentOptions, type AgentStats, type AgentTurn, type Persona } from "./agent";
import { takeCredit } from "./credit";
import { returnPass, type PassEntry } from "./passes";

/** One agent of a run: a persona and the messages it sends, in turn (cycled). */
export interface RunEntry {
  persona: Persona;
  messages: string[];
}

export interface RunAgentsParams extends Pick<AgentOptions, "transport" | "verify" | "timeouts"> {
  entries: readonly RunEntry[];
  turns: number;
  /** Payment: one credential per request ({@link creditCredentials}), shared by the agents; none without it. */
  credentials?: AgentOptions["credentials"];
  onUnspent?: AgentOptions["onUnspent"];
  /** Called after each kept turn. */
  onTurn?: (name: string, turn: AgentTurn) => void;
}

/** What one agent of a run did. */
export interface RunResult {
  name: string;
  turns: number;
  receiptsVerified: number;
  failovers: number;
  promptTokens: number;
  completionTokens: number;
  /** Median time to first token, ms. */
  ttftP50Ms: number | null;
  totalP50Ms: number | null;
  error?: string;
}

/**
 * Runs every agent at once, each `turns` turns in sequence; an agent that fails stops, the others go on.
 * @example const results = await runAgents({ entries, turns: 3, transport, verify });
 */
export async function runAgents(params: RunAgentsParams): Promise<RunResult[]> {
  return Promise.all(
    params.entries.map(async ({ persona, messages }) => {
      const agent = new Agent({
        persona,
        transport: params.transport,
        verify: params.verify,
        ...(params.timeouts === undefined ? {} : { timeouts: params.timeouts }),
        ...(params.credentials === undefined ? {} : { credentials: params.credentials }),
        ...(params.onUnspent === undefined ? {} : { onUnspent: params.onUnspent }),
      });
      let error: string | undefined;
      try {
        for (let i = 0; i < params.turns; i += 1) {
          const turn = await agent.say(messages[i % messages.length]!);
          params.onTurn?.(persona.name, turn);
        }
      } catch (e) {
        if (!(e instanceof BaseError)) throw e;
        error = firstLine(e);
      }
      return resultOf(persona.name, agent.stats, error);
    }),
  );
}

/**
 * Payment from a credit wallet (`vin credit deposit` fills it): one token taken per request, put back when the
 * agent knows it was not spent; an empty wallet refuses the request with what to run. Credit is one operator's (its
 * pool, its issuer key): route the agents to that operator only, or another refuses the token and it is lost.
 * @example const pay = creditCredentials("~/.vin/credit.json"); new Agent({ ...options, ...pay });
 */
export function creditCredentials(wallet: string): Required<Pick<AgentOptions, "credentials" | "onUnspent">> {
  const taken = new Map<string, PassEntry>();
  return {
    credentials: () => {
      const entry = takeCredit(wallet);
      if (entry === undefined)
        return Promise.reject(
          new InputError(`the credit wallet ${wallet} holds no token: buy more with \`vin credit deposit\``),
        );
      taken.set(entry.token, entry);
      return Promise.resolve(entry.token);
    },
    onUnspent: (credential) => {
      const entry = taken.get(credential);
      if (entry !== undefined) returnPass(entry, wallet);
    },
  };
}

function resultOf(name: string, stats: AgentStats, error: string | undefined): RunResult {
  return {
    name,
    turns: stats.turns,
    receiptsVerified: stats.receiptsVerified,
    failovers: stats.failovers,
    promptTokens: stats.promptTokens,
    completionTokens: stats.completionTokens,
    ttftP50Ms: median(stats.ttftMs),
    totalP50Ms: median(stats.totalMs),
    ...(error === undefined ? {} : { error }),
  };
}

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}
