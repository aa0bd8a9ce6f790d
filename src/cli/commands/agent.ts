import { existsSync, readFileSync } from "node:fs";
import type { Command } from "commander";
import { getAddress, isAddress } from "ethers";
import { requireReceiptSettlement, type Contracts } from "../../core/contracts";
import { InputError, NotFoundError, firstLine } from "../../core/errors";
import { withTimeout } from "../../core/retry";
import { readPassword } from "../../node/keystore";
import {
  Agent,
  AgentMemoryStore,
  chainVerifier,
  directTransport,
  parseModelName,
  privateTransport,
  type AgentOptions,
  type AgentTurn,
  type ChatTransport,
  type MemorySecret,
  type Persona,
  type ReceiptVerifier,
} from "../../sdk/agent";
import { creditCredentials, runAgents, type RunEntry, type RunResult } from "../../sdk/agent-run";
import { withChain } from "../context";
import type { Globals, GlobalOptions } from "../options";
import { print } from "../output";

/** Where agents' memories live unless `--dir` says. */
export const DEFAULT_AGENTS_DIR = process.env.VIN_AGENTS_DIR ?? ".vin/agents";

interface StoreOptions {
  dir: string;
  keyFile?: string;
}

interface CreateOptions extends StoreOptions {
  model: string;
  system: string;
  temperature?: string;
  topP?: string;
  maxTokens?: string;
  seed?: string;
  stop?: string[];
  context?: string;
}

/** How turns travel: the private path (chain-listed gateways and relays) or straight to a chat API. */
interface RouteOptions {
  gateway?: string;
  relay?: string;
  direct?: string;
  timeout: string;
  credit?: string;
}

interface RunOptions extends RouteOptions {
  turns: string;
}

/**
 * `vin agent`: personas with a system prompt and an encrypted, content-addressed memory (sdk/agent-memory), chatting
 * through the private path (a relay, then an attested gateway, both from the chain), each answer's receipt checked
 * before the turn is kept.
 */
export function register(program: Command, global: Globals): void {
  const agent = program
    .command("agent")
    .description("agents: personas with an encrypted memory, chatting through the private path with checked receipts");
  const store = (command: Command) =>
    command
      .option("--dir <dir>", "where agents' memories are kept", DEFAULT_AGENTS_DIR)
      .option(
        "--key-file <file>",
        "a 32-byte key file (mode 0600) instead of the password (--password-file, $VIN_PASSWORD)",
      );
  const routes = (command: Command) =>
    command
      .option("--gateway <operator>", "only this operator's gateway (default: any that may serve the model)")
      .option("--relay <address>", "only the relay listed by this account (default: any independent relay)")
      .option("--direct <url>", "skip the private path: a chat API's base URL (http://host:port/v1), for development")
      .option("--timeout <seconds>", "time limit of each answer", "120")
      .option(
        "--credit <wallet>",
        "pay each request with one credit token from this wallet (filled by `vin credit deposit`); needs --gateway: credit is one operator's",
      );

  store(
    agent
      .command("create <name>")
      .description("create an agent: its persona and an empty memory")
      .requiredOption("--model <id@version>", "the text model version, e.g. 1@1")
      .requiredOption("--system <text|@file>", "the system prompt, or @ and a file holding it")
      .option("--temperature <t>", "sampling temperature, 0 to 2 (default: the node's, 1)")
      .option("--top-p <p>", "nucleus sampling, 0 to 1")
      .option("--max-tokens <n>", "most tokens of one answer", "128")
      .option("--seed <n>", "sampling seed (with temperature 0, answers are reproducible)")
      .option("--stop <text...>", "stop sequences (at most 4)")
      .option("--context <tokens>", "the model's context window, the memory sent is cut to fit", "2048"),
  ).action(async (name: string, opts: CreateOptions) => {
    const g = global();
    const persona = personaOf(name, opts);
    const created = await AgentMemoryStore.create(opts.dir, persona, secretOf(g, opts));
    print(
      !!g.json,
      { name, dir: created.dir, persona },
      () => `agent ${name} created in ${created.dir} (model ${persona.model})`,
    );
  });

  routes(
    store(
      agent
        .command("say <name> <message>")
        .description("one turn: streams the answer to stdout, checks its receipt, keeps it in memory"),
    ),
  ).action(async (name: string, message: string, opts: StoreOptions & RouteOptions) => {
    const g = global();
    checkRouteOptions(opts);
    const memory = await AgentMemoryStore.open(opts.dir, name, secretOf(g, opts));
    await withChain(g, async (config, _provider, contracts) => {
      const transport = await transportOf(contracts, opts, config.rpcTimeoutMs, memory.persona.model);
      const turn = await sayTurn({
        memory,
        message,
        transport,
        verify: verifierOf(contracts),
        timeouts: timeoutsOf(opts),
        ...creditOf(opts),
        out: (text) => void (g.json ? undefined : process.stdout.write(text)),
        err: (text) => void process.stderr.write(text),
      });
      if (!g.json) process.stdout.write("\n");
      print(!!g.json, turnSummary(turn), () => describeReceipt(turn));
    });
  });

  routes(
    agent
      .command("run <personas.json>")
      .description(
        "several agents at once, each a few turns (memories kept for the run only): a summary line per agent (turns, receipts, tokens, ttft)",
      )
      .option("--turns <n>", "turns per agent", "3"),
  ).action(async (file: string, opts: RunOptions) => {
    const g = global();
    checkRouteOptions(opts);
    const turns = positiveInteger(opts.turns, "--turns", 1000);
    const entries = loadPersonas(file);
    await withChain(g, async (config, _provider, contracts) => {
      const transport = await transportOf(contracts, opts, config.rpcTimeoutMs, entries[0]!.persona.model);
      const results = await runAgents({
        entries,
        turns,
        transport,
        verify: verifierOf(contracts),
        timeouts: timeoutsOf(opts),
        ...creditOf(opts),
      });
      print(!!g.json, results, () => results.map(describeRun).join("\n"));
      const failed = results.filter((r) => r.error !== undefined);
      if (failed.length > 0)
        throw new InputError(`${failed.length} of ${results.length} agents did not finish their turns (see above)`);
    });
  });

  store(agent.command("show <name>").description("an agent's persona, conversation and receipts")).action(
    async (name: string, opts: StoreOptions) => {
      const g = global();
      const memory = await AgentMemoryStore.open(opts.dir, name, secretOf(g, opts));
      const turns = memory.read();
      print(!!g.json, { persona: memory.persona, head: memory.head, turns }, () =>
        [
          `agent ${name}: model ${memory.persona.model}, ${turns.length} turn(s), memory head ${memory.head ?? "(none)"}`,
          `system: ${memory.persona.system}`,
          ...turns.flatMap((turn, i) => [
            `[${i + 1}] you: ${turn.user}`,
            `[${i + 1}] ${name}: ${turn.assistant}`,
            `    ${describeReceipt(turn)}`,
          ]),
        ].join("\n"),
      );
    },
  );
}

/* ONE TURN */

export interface SayTurnParams {
  /** The agent's open memory: the turn is appended to it once its receipt checks. */
  memory: AgentMemoryStore;
  message: string;
  transport: ChatTransport;
  verify: ReceiptVerifier;
  timeouts?: ConstructorParameters<typeof Agent>[0]["timeouts"];
  /** Payment: one credential per request ({@link creditOf}); none without it. */
  credentials?: AgentOptions["credentials"];
  onUnspent?: AgentOptions["onUnspent"];
  /** Receives the answer's tokens as they arrive. */
  out: (text: string) => void;
  /** Receives a line when the turn fails over. */
  err: (text: string) => void;
}

/**
 * `vin agent say`'s turn: the agent of `memory` says `message`, its tokens streamed to `out`, the turn kept.
 * @example const turn = await sayTurn({ memory, message: "Hello", transport, verify, out: (t) => process.stdout.write(t), err: console.error });
 */
export async function sayTurn(params: SayTurnParams): Promise<AgentTurn> {
  const { memory } = params;
  const agent = new Agent({
    persona: memory.persona,
    transport: params.transport,
    verify: params.verify,
    turns: memory.read(),
    store: memory,
    ...(params.timeouts === undefined ? {} : { timeouts: params.timeouts }),
    ...(params.credentials === undefined ? {} : { credentials: params.credentials }),
    ...(params.onUnspent === undefined ? {} : { onUnspent: params.onUnspent }),
  });
  let turn: AgentTurn | undefined;
  for await (const event of agent.stream(params.message)) {
    if (event.type === "token") params.out(event.text);
    if (event.type === "failover")
      params.err(
        `\n[${event.from.url} failed (${firstLine(event.error)}); the answer so far is dropped and the turn resent to ${event.to.url}]\n`,
      );
    if (event.type === "turn") turn = event.turn;
  }
  return turn!;
}

/* RUNNING SEVERAL AGENTS */

export { runAgents, type RunEntry, type RunResult };

function describeRun(r: RunResult): string {
  const ms = (v: number | null) => (v === null ? "-" : `${v} ms`);
  return (
    `${r.name}: ${r.turns} turn(s), ${r.receiptsVerified} receipt(s) verified, ${r.promptTokens} + ${r.completionTokens} tokens, ` +
    `ttft p50 ${ms(r.ttftP50Ms)}, total p50 ${ms(r.totalP50Ms)}${r.failovers > 0 ? `, ${r.failovers} failover(s)` : ""}` +
    (r.error === undefined ? "" : `; FAILED: ${r.error}`)
  );
}

/**
 * Reads `vin agent run`'s file: a JSON array of `{ name, system, model, messages, sampling?, contextTokens? }`.
 * @throws InputError naming the entry and field that is wrong.
 */
export function loadPersonas(file: string): RunEntry[] {
  if (!existsSync(file)) throw new InputError(`personas file ${file} not found`);
  let body: unknown;
  try {
    body = JSON.parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new InputError(`personas file ${file} is not JSON`, { cause });
  }
  return parsePersonas(body);
}

/** The entries of a personas document (see {@link loadPersonas}). @throws InputError */
export function parsePersonas(body: unknown): RunEntry[] {
  if (!Array.isArray(body) || body.length === 0 || body.length > 1000)
    throw new InputError("the personas file must be a JSON array of 1 to 1000 { name, system, model, messages }");
  const names = new Set<string>();
  return body.map((entry: unknown, i) => {
    const where = `personas[${i}]`;
    if (typeof entry !== "object" || entry === null) throw new InputError(`${where} must be an object`);
    const e = entry as Record<string, unknown>;
    for (const field of ["name", "system", "model"])
      if (typeof e[field] !== "string" || e[field] === "")
        throw new InputError(`${where}.${field} must be a non-empty string`);
    if (
      !Array.isArray(e.messages) ||
      e.messages.length === 0 ||
      e.messages.some((m) => typeof m !== "string" || m === "")
    )
      throw new InputError(`${where}.messages must be a non-empty array of messages`);
    if (names.has(e.name as string)) throw new InputError(`${where}.name "${String(e.name)}" is used twice`);
    names.add(e.name as string);
    parseModelName(e.model as string);
    const sampling = e.sampling === undefined ? undefined : samplingOf(e.sampling, `${where}.sampling`);
    const context = e.contextTokens;
    if (context !== undefined && (!Number.isInteger(context) || (context as number) < 2))
      throw new InputError(`${where}.contextTokens must be an integer of at least 2`);
    return {
      persona: {
        name: e.name as string,
        system: e.system as string,
        model: e.model as string,
        ...(sampling === undefined ? {} : { sampling }),
        ...(context === undefined ? {} : { contextTokens: context as number }),
      },
      messages: e.messages as string[],
    };
  });
}

function samplingOf(value: unknown, where: string): Persona["sampling"] {
  if (typeof value !== "object" || value === null) throw new InputError(`${where} must be an object`);
  const s = value as Record<string, unknown>;
  const num = (name: string, min: number, max: number, integer = false) => {
    const v = s[name];
    if (v === undefined) return undefined;
    if (typeof v !== "number" || v < min || v > max || (integer && !Number.isInteger(v)))
      throw new InputError(`${where}.${name} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}`);
    return v;
  };
  const stop = s.stop;
  if (
    stop !== undefined &&
    (!Array.isArray(stop) || stop.length > 4 || stop.some((x) => typeof x !== "string" || x === ""))
  )
    throw new InputError(`${where}.stop must be at most 4 non-empty strings`);
  const out = {
    temperature: num("temperature", 0, 2),
    topP: num("topP", 0, 1),
    maxTokens: num("maxTokens", 1, 4096, true),
    seed: num("seed", 0, 0xffffffff, true),
    stop: stop as string[] | undefined,
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

/* FLAGS */

function personaOf(name: string, opts: CreateOptions): Persona {
  parseModelName(opts.model);
  const system = opts.system.startsWith("@") ? readSystemFile(opts.system.slice(1)) : opts.system;
  if (system.trim() === "") throw new InputError("--system is empty: give the persona's system prompt");
  const number = (value: string | undefined, flag: string, min: number, max: number, integer = false) => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
      throw new InputError(
        `${flag} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}, got "${value}"`,
      );
    return n;
  };
  const sampling = Object.fromEntries(
    Object.entries({
      temperature: number(opts.temperature, "--temperature", 0, 2),
      topP: number(opts.topP, "--top-p", 0, 1),
      maxTokens: number(opts.maxTokens, "--max-tokens", 1, 4096, true),
      seed: number(opts.seed, "--seed", 0, 0xffffffff, true),
      stop: opts.stop,
    }).filter(([, v]) => v !== undefined),
  );
  if ((opts.stop?.length ?? 0) > 4) throw new InputError("--stop takes at most 4 stop sequences");
  const contextTokens = number(opts.context, "--context", 2, 1 << 20, true);
  return { name, system, model: opts.model, sampling, ...(contextTokens === undefined ? {} : { contextTokens }) };
}

function readSystemFile(file: string): string {
  if (!existsSync(file)) throw new InputError(`--system @${file}: no such file`);
  return readFileSync(file, "utf8").replace(/\r?\n$/, "");
}

/** The memory's key: `--key-file`, else the CLI's password (`--password-file`, `$VIN_PASSWORD`). */
function secretOf(global: GlobalOptions, opts: StoreOptions): MemorySecret {
  return opts.keyFile === undefined ? { password: readPassword(global.passwordFile) } : { keyFile: opts.keyFile };
}

/**
 * `--credit <wallet>` as the agents' payment: one credit token taken from the wallet per request, put back when the
 * agent knows it was not spent. Credit is one operator's (its pool, its issuer key), so the route is pinned to it
 * (`--gateway`): a token sent to another operator would be refused and lost.
 */
export function creditOf(
  opts: Pick<RouteOptions, "credit">,
): Pick<AgentOptions, "credentials" | "onUnspent"> | Record<string, never> {
  return opts.credit === undefined ? {} : creditCredentials(opts.credit);
}

function checkRouteOptions(opts: RouteOptions): void {
  if (opts.credit !== undefined) {
    if (!existsSync(opts.credit))
      throw new InputError(
        `--credit ${opts.credit}: no such wallet (\`vin credit deposit --wallet ${opts.credit}\` makes one)`,
      );
    if (opts.gateway === undefined && opts.direct === undefined)
      throw new InputError(
        "--credit needs --gateway <operator>: credit tokens are the operator's you deposited with, and any other refuses them",
      );
  }
  for (const flag of ["gateway", "relay"] as const) {
    const value = opts[flag];
    if (value !== undefined && !isAddress(value))
      throw new InputError(`--${flag} "${value}" is not an address (see \`vin relay list\`)`);
  }
  if (opts.direct !== undefined && (opts.gateway !== undefined || opts.relay !== undefined))
    throw new InputError("--direct skips the private path: leave out --gateway and --relay");
  if (opts.direct !== undefined && !/^https?:\/\//.test(opts.direct))
    throw new InputError(`--direct "${opts.direct}" must be an http(s) URL such as http://127.0.0.1:8080/v1`);
  positiveInteger(opts.timeout, "--timeout", 3600);
}

function positiveInteger(value: string, flag: string, max: number): number {
  if (!/^\d{1,7}$/.test(value) || Number(value) < 1 || Number(value) > max)
    throw new InputError(`${flag} must be a whole number from 1 to ${max}, got "${value}"`);
  return Number(value);
}

function timeoutsOf(opts: RouteOptions) {
  const ms = Number(opts.timeout) * 1000;
  return { headTimeoutMs: Math.min(ms, 30_000), idleTimeoutMs: Math.min(ms, 30_000), totalTimeoutMs: ms };
}

function verifierOf(contracts: Contracts): ReceiptVerifier {
  return chainVerifier({ contracts, settlement: requireReceiptSettlement(contracts) });
}

/**
 * The private path, or with `--direct` the chat API at that URL, whose operator is the one its `/v1/models` names
 * as owner of the model (the receipt check then holds the enclave to that operator).
 */
async function transportOf(
  contracts: Contracts,
  opts: RouteOptions,
  rpcTimeoutMs: number,
  model: string,
): Promise<ChatTransport> {
  if (opts.direct === undefined)
    return privateTransport({
      contracts,
      ...(opts.gateway === undefined ? {} : { gateway: opts.gateway }),
      ...(opts.relay === undefined ? {} : { relay: opts.relay }),
      rpcTimeoutMs,
    });
  const url = opts.direct.replace(/\/+$/, "");
  const listed = await withTimeout(`GET ${url}/models`, 10_000, async (signal) => {
    const response = await fetch(`${url}/models`, { signal });
    if (!response.ok) throw new InputError(`${url}/models answered ${response.status}: is --direct a chat API?`);
    return (await response.json()) as { data?: { id?: unknown; owned_by?: unknown }[] };
  });
  const entry = listed.data?.find((m) => m.id === model);
  if (entry === undefined || typeof entry.owned_by !== "string" || !isAddress(entry.owned_by))
    throw new NotFoundError(`the chat API at ${url} does not serve model ${model}`);
  return directTransport([{ url, operator: getAddress(entry.owned_by) }]);
}

function turnSummary(turn: AgentTurn) {
  const r = turn.receipt.receipt;
  return {
    answer: turn.assistant,
    finishReason: turn.finishReason,
    operator: r.operator,
    enclave: r.enclave,
    gateway: turn.gateway,
    relay: turn.relay,
    promptTokens: turn.promptTokens,
    completionTokens: turn.completionTokens,
    price: r.price,
    paymentId: r.paymentId,
    ttftMs: turn.ttftMs,
    totalMs: turn.totalMs,
    attempts: turn.attempts,
  };
}

function describeReceipt(turn: AgentTurn): string {
  const r = turn.receipt.receipt;
  return (
    `receipt verified: enclave ${r.enclave} of operator ${r.operator}, model ${r.modelId}@${r.version}, ` +
    `${r.promptTokens} + ${r.completionTokens} tokens, price ${r.price}, payment ${r.paymentId}; ` +
    `via ${turn.relay === undefined ? "" : `relay ${turn.relay} to `}${turn.gateway}; ttft ${turn.ttftMs} ms, total ${turn.totalMs} ms` +
    (turn.attempts > 1 ? ` (after a failover)` : "")
  );
}
