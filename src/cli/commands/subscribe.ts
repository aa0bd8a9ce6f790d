import { readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { isAddress, isHexString, parseUnits, ZeroAddress, type Wallet } from "ethers";
import { requireSubscriptionManager, type Contracts } from "../../core/contracts";
import { ConfigError, InputError } from "../../core/errors";
import { toModelId } from "../../core/ids";
import { isModeName, MODE_BY_NAME, MODE_NAMES, type Mode } from "../../core/modes";
import { withRetry } from "../../core/retry";
import { asRevertError } from "../../core/revert";
import {
  AnswerKind,
  feedWindowSourceArgs,
  listSubscriptions,
  toSubscriptionId,
  volatilitySourceArgs,
} from "../../core/subscription";
import { loadKeystore, readPassword } from "../../node/keystore";
import { createLogger } from "../../core/log";
import { signerRoundStarter, SubscriptionKeeper } from "../../node/subscription-keeper";
import { createSubscription } from "../../sdk/subscription";
import { parseZkManifest, quantizedModelFor, ZK_FILES } from "../../zkml/package";
import { withChain } from "../context";
import { parseAmount, type Globals } from "../options";
import { print, tokens } from "../output";

const STATUS = ["none", "active", "cancelled"];

/**
 * `vin subscribe`: funds a subscription of recurring verified inference (see `createSubscription`) whose rounds run
 * on their own and publish to an `AggregatorV3Interface` feed; `vin subscription ...` manages it and keeps rounds
 * starting (`keep`).
 */
export function register(program: Command, global: Globals): void {
  program
    .command("subscribe")
    .description(
      "subscribe to a model on a schedule: every round's verified answer is published to a price-feed-like feed",
    )
    .requiredOption("--model <id[@version]>", "model id, optionally with a version (default: latest)")
    .option("--mode <mode>", "vanilla, tee, zk or dual", "tee")
    .option("--feed <address>", "the AggregatorV3Interface price feed every round reads its input from")
    .option(
      "--input <source>",
      "with --feed: volatility (the volatility model's features from the last 67 answers) or window:<n> (the last n answers)",
      "volatility",
    )
    .option("--max-age <seconds>", "with --feed: the oldest feed answer a round accepts", "86400")
    .option("--posted", "no input source: post each round's input (commitment and URI) with `vin subscription post`")
    .option("--period <seconds>", "seconds between rounds", "3600")
    .option("--rounds <n>", "the number of rounds")
    .option("--until <time>", "instead of --rounds: the rounds due before this time (ISO date or unix seconds)")
    .option("--start <seconds>", "round 0 is due this many seconds from now", "0")
    .option("--fee <tokens>", "fee per node per round", "0.5")
    .option("--collateral <tokens>", "collateral each node locks per round", "10")
    .option("--redundancy <k>", "nodes per round: odd, 1 to 7 (1 for zk)", "1")
    .option("--keeper-reward <tokens>", "paid per round to whoever starts it", "0.01")
    .option("--max-job-cost <tokens>", "the most one round's job may cost (default: twice the current quote)")
    .option("--round-duration <seconds>", "seconds nodes get per round", "600")
    .option("--answer <kind>", "value (a regressor's, 4 decimals) or label (a classifier's class)", "value")
    .option("--model-dir <dir>", "zk and dual: the pulled model version (vin pull), for its circuit's scale")
    .option("--description <text>", "the feed's description")
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      const g = global();
      const mode = parseMode(opts.mode as string);
      const { modelId, version } = parseModel(opts.model as string);
      await withChain(g, async (config, provider, contracts) => {
        const input = parseInput(opts, config.contracts as unknown as Record<string, unknown>);
        const signer = (await loadKeystore(config.keystore, readPassword(g.passwordFile))).connect(provider);
        const info = await createSubscription({
          contracts,
          signer,
          modelId: toModelId(modelId),
          ...(version === undefined ? {} : { version }),
          mode,
          redundancy: integer("--redundancy", opts.redundancy as string),
          feePerNode: parseAmount(opts.fee as string),
          collateral: parseAmount(opts.collateral as string),
          keeperReward: parseTokens("--keeper-reward", opts.keeperReward as string),
          ...(opts.maxJobCost === undefined ? {} : { maxJobCost: parseAmount(opts.maxJobCost as string) }),
          ...(opts.start === "0"
            ? {}
            : { startTime: await nowPlus(provider, integer("--start", opts.start as string)) }),
          period: integer("--period", opts.period as string),
          ...schedule(opts),
          roundDuration: integer("--round-duration", opts.roundDuration as string),
          answerKind: parseAnswer(opts.answer as string),
          ...(mode === MODE_BY_NAME.zk || mode === MODE_BY_NAME.dual
            ? { zk: circuitOf(opts.modelDir as string | undefined) }
            : {}),
          input,
          description: (opts.description as string | undefined) ?? `model ${modelId} (${MODE_NAMES[mode]})`,
        });
        print(
          !!g.json,
          info,
          () =>
            `subscription ${info.id}: ${info.rounds} rounds of model ${info.modelId}@${info.version} in ${MODE_NAMES[info.mode]} mode, one every ${info.period} s from ${new Date(Number(info.startTime) * 1000).toISOString()}, funded with ${tokens(info.funded)}\nfeed ${info.feed} (read it with \`vin feed ${info.feed}\`)`,
        );
      });
    });

  const manage = program
    .command("subscription")
    .description("manage subscriptions: list, top-up, cancel, withdraw, post, start, keep, claim-rewards");
  manage
    .command("list")
    .description("list the subscriptions (--mine: the ones this account pays for)")
    .option("--mine", "only this account's")
    .action(async (opts: { mine?: boolean }) => {
      const g = global();
      await withChain(g, async (config, provider, contracts) => {
        const manager = requireSubscriptionManager(contracts);
        const head = await withRetry("eth_blockNumber", () => provider.getBlockNumber());
        let all = await listSubscriptions({
          manager,
          provider,
          fromBlock: config.contracts.startBlock,
          toBlock: head,
          maxRange: config.maxBlockRange,
        });
        if (opts.mine === true) {
          const me = (await loadKeystore(config.keystore, readPassword(g.passwordFile))).address;
          all = all.filter((s) => s.subscriber === me);
        }
        const rows = await Promise.all(
          all.map(async (s) => ({
            ...s,
            state: await withRetry("subscriptionOf", () => manager.subscriptionOf(s.id)),
          })),
        );
        print(
          !!g.json,
          rows.map(({ state, ...s }) => ({
            ...s,
            status: STATUS[Number(state.status)],
            nextRound: state.nextRound,
            latestRound: state.latestRound,
            balance: state.balance,
          })),
          () =>
            rows.length === 0
              ? "no subscriptions"
              : rows
                  .map(
                    ({ state, ...s }) =>
                      `${s.id}  ${STATUS[Number(state.status)]}  model ${s.modelId}@${s.version} ${MODE_NAMES[s.mode]}  every ${s.period} s  round ${state.nextRound}/${s.rounds}  latest answered ${state.latestRound}  balance ${tokens(state.balance)}  feed ${s.feed}  ${s.description}`,
                  )
                  .join("\n"),
        );
      });
    });
  manage
    .command("top-up <id> <amount>")
    .description("add tokens to a subscription's balance")
    .action(async (id: string, amount: string) => {
      const wei = parseAmount(amount);
      await withSigner(global, async (manager, contracts, signer) => {
        const address = await manager.getAddress();
        await send("approve", () => contracts.token.connect(signer).approve(address, wei), "token");
        const hash = await send("topUp", () => manager.topUp(toSubscriptionId(id), wei));
        return { id, amount: wei, tx: hash, text: `subscription ${id} topped up with ${tokens(wei)} (${hash})` };
      });
    });
  manage
    .command("cancel <id>")
    .description("stop a subscription: the balance (its unstarted rounds) is paid back now")
    .action(async (id: string) => {
      await withSigner(global, async (manager) => {
        const subscriptionId = toSubscriptionId(id);
        const refunded = (await manager.subscriptionOf(subscriptionId)).balance;
        const hash = await send("cancel", () => manager.cancel(subscriptionId));
        return {
          id,
          refunded,
          tx: hash,
          text: `subscription ${id} cancelled: ${tokens(refunded)} paid back (${hash}); refunds of rounds still open come back for \`vin subscription withdraw ${id}\``,
        };
      });
    });
  manage
    .command("withdraw <id>")
    .description("take the balance of a cancelled or ended subscription")
    .option("--to <address>", "recipient (default: this account)")
    .action(async (id: string, opts: { to?: string }) => {
      await withSigner(global, async (manager, _contracts, signer) => {
        const to = opts.to ?? (await signer.getAddress());
        if (!isAddress(to)) throw new InputError(`--to "${to}" is not an address`);
        const subscriptionId = toSubscriptionId(id);
        const amount = (await manager.subscriptionOf(subscriptionId)).balance;
        const hash = await send("withdraw", () => manager.withdraw(subscriptionId, to));
        return { id, amount, to, tx: hash, text: `${tokens(amount)} of subscription ${id} sent to ${to} (${hash})` };
      });
    });
  manage
    .command("post <id> <round>")
    .description("post a round's input (a subscription without a source): its commitment and where nodes fetch it")
    .requiredOption("--commitment <hex>", "keccak256 of the input (vanilla, tee) or the circuit's commitment (zk)")
    .requiredOption("--uri <uri>", "where the input is (ipfs://<cid>)")
    .action(async (id: string, round: string, opts: { commitment: string; uri: string }) => {
      if (!isHexString(opts.commitment, 32))
        throw new InputError(`--commitment "${opts.commitment}" is not 32 bytes of hex`);
      await withSigner(global, async (manager) => {
        const hash = await send("postInput", () =>
          manager.postInput(toSubscriptionId(id), integer("<round>", round), opts.commitment, opts.uri),
        );
        return { id, round, tx: hash, text: `input of round ${round} of subscription ${id} posted (${hash})` };
      });
    });
  manage
    .command("start <id>")
    .description("start the round of a subscription due now (anyone may; the keeper reward is yours)")
    .action(async (id: string) => {
      await withSigner(global, async (manager) => {
        const subscriptionId = toSubscriptionId(id);
        const [round] = await manager.currentRound(subscriptionId);
        const hash = await signerRoundStarter(manager)(subscriptionId, round);
        return { id, round, tx: hash, text: `round ${round} of subscription ${id} started (${hash})` };
      });
    });
  manage
    .command("claim-rewards")
    .description("withdraw this account's keeper rewards")
    .action(async () => {
      await withSigner(global, async (manager, _contracts, signer) => {
        const me = await signer.getAddress();
        const amount = await manager.keeperRewardsOf(me);
        const hash = await send("claimKeeperRewards", () => manager.claimKeeperRewards(me));
        return { amount, tx: hash, text: `${tokens(amount)} of keeper rewards withdrawn (${hash})` };
      });
    });
  manage
    .command("keep")
    .description("run a keeper: start every due round of the subscriptions in --modes until Ctrl-C")
    .option("--modes <list>", "modes whose rounds to start", "vanilla,tee,zk,dual")
    .option("--interval <seconds>", "how often to look", "2")
    .option("--min-reward <tokens>", "leave rounds paying a smaller keeper reward", "0")
    .action(async (opts: { modes: string; interval: string; minReward: string }) => {
      const g = global();
      const modes = new Set(opts.modes.split(",").map((m) => parseMode(m.trim())));
      await withChain(g, async (config, provider, contracts) => {
        const signer = (await loadKeystore(config.keystore, readPassword(g.passwordFile))).connect(provider);
        const manager = requireSubscriptionManager(contracts);
        const keeper = new SubscriptionKeeper({
          manager,
          provider,
          start: signerRoundStarter(manager.connect(signer)),
          modes,
          minKeeperReward: parseTokens("--min-reward", opts.minReward),
          startBlock: config.contracts.startBlock,
          maxBlockRange: config.maxBlockRange,
          rpcTimeoutMs: config.rpcTimeoutMs,
          log: createLogger(),
        });
        const stop = new AbortController();
        process.once("SIGINT", () => stop.abort());
        process.once("SIGTERM", () => stop.abort());
        while (!stop.signal.aborted) {
          await keeper.check();
          await new Promise((resolve) => setTimeout(resolve, integer("--interval", opts.interval) * 1000));
        }
      });
    });
}

type Manager = ReturnType<typeof requireSubscriptionManager>;

/** Runs a write with the config's key against the manager, printing what it returns. */
async function withSigner(
  global: Globals,
  fn: (manager: Manager, contracts: Contracts, signer: Wallet) => Promise<Record<string, unknown> & { text: string }>,
): Promise<void> {
  const g = global();
  await withChain(g, async (config, provider, contracts) => {
    const signer = (await loadKeystore(config.keystore, readPassword(g.passwordFile))).connect(provider);
    const { text, ...value } = await fn(requireSubscriptionManager(contracts).connect(signer), contracts, signer);
    print(!!g.json, value, () => text);
  });
}

/** Sends a transaction and waits for it; a revert becomes a RevertError naming the contract's error. */
async function send(
  what: string,
  fn: () => Promise<{ wait(): Promise<{ hash: string } | null> }>,
  contract = "subscriptionManager",
): Promise<string> {
  try {
    const receipt = await (await fn()).wait();
    return receipt?.hash ?? "";
  } catch (error) {
    throw asRevertError(error, { contract, call: what });
  }
}

function parseMode(name: string): Mode {
  if (!isModeName(name)) throw new InputError(`--mode "${name}" is not a mode: use vanilla, tee, zk or dual`);
  return MODE_BY_NAME[name];
}

function parseModel(spec: string): { modelId: bigint; version?: number } {
  const match = /^(\d+)(?:@(\d+))?$/.exec(spec);
  if (match === null) throw new InputError(`--model "${spec}" must be <id> or <id>@<version>, e.g. 4 or 4@1`);
  return { modelId: BigInt(match[1]!), version: match[2] === undefined ? undefined : Number(match[2]) };
}

function integer(flag: string, value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new InputError(`${flag} "${value}" is not a whole number`);
  return Number(value);
}

/** A token amount that may be zero. */
function parseTokens(flag: string, amount: string): bigint {
  try {
    const wei = parseUnits(amount, 18);
    if (wei < 0n) throw new Error("negative");
    return wei;
  } catch (cause) {
    throw new InputError(`${flag} "${amount}" is not a token amount (e.g. 0.01)`, { cause });
  }
}

function parseAnswer(kind: string): AnswerKind {
  if (kind === "value") return AnswerKind.Value;
  if (kind === "label") return AnswerKind.Label;
  throw new InputError(`--answer "${kind}" must be value or label`);
}

/** `--rounds n` or `--until <time>`, exactly one. */
function schedule(opts: Record<string, unknown>): { rounds: number } | { endTime: bigint } {
  const rounds = opts.rounds as string | undefined;
  const until = opts.until as string | undefined;
  if ((rounds === undefined) === (until === undefined)) throw new InputError("give --rounds <n> or --until <time>");
  if (rounds !== undefined) return { rounds: integer("--rounds", rounds) };
  const seconds = /^\d+$/.test(until!) ? Number(until) : Date.parse(until!) / 1000;
  if (!Number.isFinite(seconds)) throw new InputError(`--until "${until}" is neither an ISO date nor unix seconds`);
  return { endTime: BigInt(Math.floor(seconds)) };
}

/** The input: a source over `--feed` (the deployment's volatility or window source), or posted per round. */
function parseInput(
  opts: Record<string, unknown>,
  addresses: Record<string, unknown>,
): { source: string; args: string } | "posted" {
  const feed = opts.feed as string | undefined;
  if (opts.posted === true) {
    if (feed !== undefined) throw new InputError("--posted and --feed exclude each other: inputs come from one place");
    return "posted";
  }
  if (feed === undefined) throw new InputError("give --feed <price feed> for inputs read on-chain, or --posted");
  if (!isAddress(feed)) throw new InputError(`--feed "${feed}" is not an address`);
  const maxAge = integer("--max-age", opts.maxAge as string);
  const kind = opts.input as string;
  const window = /^window:(\d+)$/.exec(kind);
  const source = (name: string): string => {
    const address = addresses[name];
    if (typeof address !== "string" || address === ZeroAddress)
      throw new ConfigError(`the config names no "${name}" contract: add the deployment record's ${name}, or redeploy`);
    return address;
  };
  if (kind === "volatility")
    return { source: source("realizedVolatilitySource"), args: volatilitySourceArgs(feed, maxAge) };
  if (window !== null)
    return { source: source("feedWindowSource"), args: feedWindowSourceArgs(feed, Number(window[1]), maxAge) };
  throw new InputError(`--input "${kind}" must be volatility or window:<n>`);
}

/** The scale and input width of a pulled ZK version's circuit (checked against its manifest). */
function circuitOf(dir: string | undefined): { scaleBits: number; inputBits: number } {
  if (dir === undefined)
    throw new InputError(
      "--mode zk and dual need --model-dir <dir>: pull the version first with `vin pull <model> --out <dir>`",
    );
  const read = (file: string): Uint8Array => {
    try {
      return readFileSync(path.join(dir, ...file.split("/")));
    } catch (cause) {
      throw new InputError(`--model-dir ${dir} has no ${file}: is it a pulled ZK model version?`, { cause });
    }
  };
  const model = quantizedModelFor(read("model.onnx"), parseZkManifest(read(ZK_FILES.manifest)));
  return { scaleBits: model.scaleBits, inputBits: model.inputBits };
}

async function nowPlus(provider: { getBlock(tag: string): Promise<{ timestamp: number } | null> }, seconds: number) {
  const block = await withRetry("eth_getBlock", () => provider.getBlock("latest"));
  return BigInt(block!.timestamp + seconds);
}
