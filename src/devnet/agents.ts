/**
 * Agents on a devnet (issue #14): a client buys prepaid chat credit from a TEE operator (a deposit into its credit
 * pool on ReceiptSettlement, Privacy Pass tokens from its credit issuer), runs a few agents in-process with sdk/agent
 * (what `vin agent run --credit` does) that chat through the private path (an independent relay, then the operator's
 * gateway) and check every receipt, then watches the operator's node settle them: the batch committed, the chain's
 * clock moved past the challenge window (a local chain: `evm_increaseTime`), the batch finalized and the operator
 * paid.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { formatUnits, type JsonRpcProvider, type Signer } from "ethers";
import { requirePrivacyRegistry, requireReceiptSettlement, type Contracts } from "../core/contracts";
import { BaseError, TimeoutError } from "../core/errors";
import { withTimeout } from "../core/retry";
import { encodeReceiptFile, parseBatchData } from "../core/receipts";
import { RECEIPT_BATCH_DIR } from "../node/chat-service";
import { chainVerifier, privateTransport } from "../sdk/agent";
import { creditCredentials, runAgents as runAgentsWith, type RunResult } from "../sdk/agent-run";
import { creditKey, depositCredit, issueCredit } from "../sdk/credit";
import type { DevnetOperator } from "./operators";

/** How long a node reuses its reading of the chain's clock (node/chat-service), and a second more. */
const NODE_CLOCK_REFRESH_MS = 11_000;

/** One agent of the run: `vin agent run`'s personas file entry. */
export interface DevnetPersona {
  name: string;
  system: string;
  messages: string[];
}

export interface DevnetAgentsOptions {
  provider: JsonRpcProvider;
  contracts: Contracts;
  /** The text model served (version 1 is chatted with). */
  modelId: bigint;
  /** The operator whose node serves the chat, publishes its price and settles the receipts. */
  operator: DevnetOperator;
  /** The client: its vin config and password file (as the user would pass them) and its signer. */
  client: { config: string; passwordFile: string; signer: Signer };
  personas: DevnetPersona[];
  /** Turns per agent. */
  turns: number;
  /** Most tokens of one answer. */
  maxTokens: number;
  /** The model's context window, which the agents' memory is cut to fit. */
  contextTokens: number;
  /** Where the personas file, the credit wallet, the agents' memories and the run's log go. */
  workDir: string;
  /** The block the search for the operator's settlement events starts from. */
  fromBlock: number;
  /** The longest each stage (price, agents, commit, finalize) may take. Default 180 s. */
  timeoutMs?: number;
  log: (line: string) => void;
}

export interface DevnetAgentsResult {
  agents: RunResult[];
  turns: number;
  receiptsVerified: number;
  /** The credit bought: the deposit, tokens issued and each token's value (token wei). */
  credit: { deposit: bigint; tokens: number; tokenValue: bigint; txHash: string };
  batch: {
    id: bigint;
    count: number;
    total: bigint;
    commitTx: string;
    finalizeTx: string;
    commitGas: bigint;
    finalizeGas: bigint;
  };
  /** What the operator withdrew of its earnings after the batch was finalized. */
  withdrawn: bigint;
  /** The price per token its receipts carry (token wei). */
  perToken: bigint;
  /**
   * The personas file (for `vin agent run`), the credit wallet, and one of the batch's receipts as a receipt file with the
   * batch's published data beside it (for `vin receipt verify <receipt> --batch <id> --data <batchData>`).
   */
  files: { personas: string; wallet: string; receipt: string; batchData: string };
}

/** Raised when a stage of the agents' run fails; the message names the stage and where to look. */
export class DevnetAgentsError extends BaseError {
  override readonly name = "DevnetAgentsError";
}

/**
 * Buys credit, runs the agents through the private path and waits until their receipts are settled and paid.
 * @example const result = await runDevnetAgents({ provider, contracts, modelId, operator, client, personas, turns: 3, ... });
 */
export async function runDevnetAgents(options: DevnetAgentsOptions): Promise<DevnetAgentsResult> {
  const { provider, contracts, operator, log } = options;
  const timeoutMs = options.timeoutMs ?? 180_000;
  const settlement = requireReceiptSettlement(contracts);
  mkdirSync(options.workDir, { recursive: true });
  const files = {
    personas: path.join(options.workDir, "personas.json"),
    wallet: path.join(options.workDir, "credit.json"),
    receipt: path.join(options.workDir, "receipt.json"),
  };

  // A wallet left by an earlier devnet holds tokens of an issuer key that is gone: start with an empty one.
  rmSync(files.wallet, { force: true });
  const { perToken, movedAt } = await priceInForce(options, timeoutMs);
  const gateway = (await requirePrivacyRegistry(contracts).gateway(operator.address)).url;
  const key = await creditKey(gateway);
  const requests = options.personas.length * options.turns;
  // One token per request, and as many again for failovers and memory resends.
  const deposit = key.tokenValue * BigInt(2 * requests);
  const { txHash } = await depositCredit({
    signer: options.client.signer,
    settlement,
    token: contracts.token,
    operator: operator.address,
    amount: deposit,
  });
  const { tokens } = await issueCredit({ signer: options.client.signer, url: gateway, txHash, wallet: files.wallet });
  log(
    `  the client deposited ${formatUnits(deposit, 18)} tokens into operator ${operator.name}'s credit pool (${txHash}) and got ${tokens} credit tokens from its issuer, each worth ${formatUnits(key.tokenValue, 18)} tokens (${path.relative(process.cwd(), files.wallet)})`,
  );

  writeFileSync(
    files.personas,
    `${JSON.stringify(
      options.personas.map((p) => ({
        ...p,
        model: `${options.modelId}@1`,
        sampling: { temperature: 0.8, maxTokens: options.maxTokens },
        contextTokens: options.contextTokens,
      })),
      null,
      2,
    )}\n`,
  );
  // The node reads the chain's clock every 10 s (its receipts' issuedAt): let it see the move before chatting.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, movedAt + NODE_CLOCK_REFRESH_MS - Date.now())));
  const agents = await withTimeout(`the agents' turns`, timeoutMs, () => runAgents(options, files.wallet));
  const receiptsVerified = agents.reduce((sum, a) => sum + a.receiptsVerified, 0);
  const failed = agents.filter((a) => a.error !== undefined);
  if (failed.length > 0)
    throw new DevnetAgentsError(`agents ${failed.map((a) => `${a.name} (${a.error})`).join(", ")} failed`);

  const committed = await until(`operator ${operator.name} committing the agents' receipts`, timeoutMs, async () => {
    // The node batches by count or by age on the chain's clock: a block moves that clock on.
    await provider.send("evm_mine", []);
    const events = await settlement.queryFilter(
      settlement.filters.BatchCommitted(undefined, operator.address),
      options.fromBlock,
    );
    return events.at(-1);
  });
  const batchId = committed.args.batchId;
  // The node publishes each batch's data (every signed receipt, in order) under its hash; one receipt as a file.
  const batchData = path.join(operator.dataDir, RECEIPT_BATCH_DIR, `${committed.args.dataHash.slice(2)}.json`);
  const data = parseBatchData(JSON.parse(readFileSync(batchData, "utf8")));
  writeFileSync(
    files.receipt,
    `${encodeReceiptFile({ ...data.receipts[0]!, chainId: data.chainId, teeVerifier: data.teeVerifier })}\n`,
  );
  const { challengeWindow } = await settlement.parameters();
  log(
    `  operator ${operator.name}'s node committed batch ${batchId} (${committed.args.count} receipts, ${formatUnits(committed.args.total, 18)} tokens) in ${committed.transactionHash}; the chain's clock moves ${Number(challengeWindow) / 3600} h on, past its challenge window`,
  );
  await provider.send("evm_increaseTime", [Number(challengeWindow) + 1]);
  await provider.send("evm_mine", []);
  const finalized = await until(`batch ${batchId} being finalized`, timeoutMs, async () => {
    await new Promise((resolve) => setTimeout(resolve, 500));
    return (await settlement.queryFilter(settlement.filters.BatchFinalized(batchId), committed.blockNumber)).at(0);
  });
  const withdrawal = await until(`operator ${operator.name} withdrawing its earnings`, timeoutMs, async () => {
    await new Promise((resolve) => setTimeout(resolve, 500));
    return (await settlement.queryFilter(settlement.filters.Withdrawn(operator.address), finalized.blockNumber)).at(0);
  });
  const gasOf = async (hash: string) => (await provider.getTransactionReceipt(hash))!.gasUsed;
  return {
    agents,
    turns: agents.reduce((sum, a) => sum + a.turns, 0),
    receiptsVerified,
    credit: { deposit, tokens, tokenValue: key.tokenValue, txHash },
    batch: {
      id: batchId,
      count: Number(committed.args.count),
      total: committed.args.total,
      commitTx: committed.transactionHash,
      finalizeTx: finalized.transactionHash,
      commitGas: await gasOf(committed.transactionHash),
      finalizeGas: await gasOf(finalized.transactionHash),
    },
    withdrawn: withdrawal.args.amount,
    perToken,
    files: { ...files, batchData },
  };
}

/**
 * Waits for the operator's node to publish its chat price, then moves the chain's clock to when it is in force
 * (ReceiptSettlement's `PRICE_NOTICE` after it was set: an hour a local chain need not wait). Returns the price and
 * when the clock was moved (wall time, ms).
 */
async function priceInForce(
  options: DevnetAgentsOptions,
  timeoutMs: number,
): Promise<{ perToken: bigint; movedAt: number }> {
  const settlement = requireReceiptSettlement(options.contracts);
  const card = await until(`operator ${options.operator.name} publishing its chat price`, timeoutMs, async () => {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const price = await settlement.priceCard(options.operator.address, options.modelId);
    return price.current > 0n ? price : undefined;
  });
  const now = BigInt((await options.provider.getBlock("latest"))!.timestamp);
  if (card.since > now) {
    await options.provider.send("evm_increaseTime", [Number(card.since - now)]);
    await options.provider.send("evm_mine", []);
  }
  options.log(
    `  operator ${options.operator.name} charges ${formatUnits(card.current, 18)} tokens per token (published on ReceiptSettlement; the chain's clock moved ${Number(card.since > now ? card.since - now : 0n)} s on to when it is in force)`,
  );
  return { perToken: card.current, movedAt: Date.now() };
}

/**
 * The agents over the private path, all at once, each its turns in sequence (what `vin agent run` does), every
 * receipt checked against the chain; one credit token from the wallet per request, an unspent one put back.
 */
async function runAgents(options: DevnetAgentsOptions, wallet: string): Promise<RunResult[]> {
  const { contracts } = options;
  return runAgentsWith({
    entries: options.personas.map(({ name, system, messages }) => ({
      persona: {
        name,
        system,
        model: `${options.modelId}@1`,
        sampling: { temperature: 0.8, maxTokens: options.maxTokens },
        contextTokens: options.contextTokens,
      },
      messages,
    })),
    turns: options.turns,
    transport: privateTransport({ contracts, gateway: options.operator.address }),
    verify: chainVerifier({ contracts, settlement: requireReceiptSettlement(contracts) }),
    ...creditCredentials(wallet),
    onTurn: (name, turn) => options.log(`    ${name} <- "${turn.user}": ${JSON.stringify(turn.assistant.trim())}`),
  });
}

/** Polls `check` until it returns a value, for at most `timeoutMs`. */
async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new TimeoutError(`waited ${timeoutMs / 1000} s for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}
